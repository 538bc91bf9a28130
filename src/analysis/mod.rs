//! Analysis: pure functions over plain data, shared by the cockpit and the
//! headless commands. No I/O, no clock: `now` is always passed in.

pub mod findings;
pub mod rollback;
pub mod verdict;

use std::sync::Arc;

use jiff::Timestamp;

use crate::model::FetchError;
use crate::model::{CellKey, EnvIdx, Evidence, Fleet, Reading, Role, ServiceIdx, version};

/// Most versions kept per cell and source in memory.
pub const HISTORY_LEN: usize = 16;

/// Everything known about one cell, from every source that reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub observations: Vec<Observation>,
}

/// What one source has told us about one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub source: std::sync::Arc<str>,
    pub evidence: Evidence,
    /// Metrics observations are shown, never taken as deployment evidence.
    pub role: Role,
    /// The last successful reading, kept through later failures.
    pub last_ok: Option<FetchedReading>,
    /// Set while the source's latest attempt failed.
    pub error: Option<Failure>,
    /// `None`: known only from the journal, not tried in this run.
    pub last_attempt: Option<Timestamp>,
    /// Distinct versions this source reported, oldest first.
    pub history: Vec<VersionRun>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchedReading {
    pub reading: Reading,
    pub fetched_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: FetchError,
    /// First failure of the current run of failures.
    pub since: Timestamp,
}

/// A version and its build as a history names them: one copy, shared by
/// every entry of every cell that names the same pair ([`Names`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Named {
    version: Box<str>,
    build: Option<Box<str>>,
}

/// One run of a version in a cell. 32 bytes: a fleet keeps up to 16 per
/// cell and source (96,000 at 6,000 cells).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRun {
    named: Arc<Named>,
    /// When flightdeck first saw it, in nanoseconds since the epoch.
    first_seen_ns: i64,
    /// When the source says it was deployed (this run only), in nanoseconds
    /// since the epoch; `i64::MIN`: not said (or out of range).
    deployed_ns: i64,
    /// Reported down at least once while current (in this run): not a
    /// known-good version to roll back to.
    pub seen_down: bool,
}

impl VersionRun {
    /// A run with its own copy of the names (see [`Names::run`] to share them).
    pub fn new(version: &str, build: Option<&str>, first_seen: Timestamp) -> VersionRun {
        VersionRun::of(Arc::new(Named { version: version.into(), build: build.map(Into::into) }), first_seen)
    }

    fn of(named: Arc<Named>, first_seen: Timestamp) -> VersionRun {
        VersionRun { named, first_seen_ns: nanos(first_seen), deployed_ns: i64::MIN, seen_down: false }
    }

    /// When flightdeck first saw it (or the journal says it did).
    pub fn first_seen(&self) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(self.first_seen_ns)).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub fn version(&self) -> &str {
        &self.named.version
    }

    pub fn build(&self) -> Option<&str> {
        self.named.build.as_deref()
    }

    /// When the source says it was deployed (this run only).
    pub fn deployed_at(&self) -> Option<Timestamp> {
        (self.deployed_ns != i64::MIN).then(|| Timestamp::from_nanosecond(i128::from(self.deployed_ns)).ok()).flatten()
    }

    pub fn set_deployed_at(&mut self, at: Option<Timestamp>) {
        self.deployed_ns =
            at.and_then(|t| i64::try_from(t.as_nanosecond()).ok()).filter(|&ns| ns != i64::MIN).unwrap_or(i64::MIN);
    }

    /// Whether it names this version and build.
    pub fn names(&self, version: &str, build: Option<&str>) -> bool {
        self.version() == version && self.build() == build
    }

    /// The shared names, for a test to see that they are shared.
    #[cfg(test)]
    pub(crate) fn named(&self) -> &Arc<Named> {
        &self.named
    }
}

/// Nanoseconds since the epoch, held to what 64 bits hold (1677 to 2262):
/// a clock outside that is wrong, and is read at the nearest end.
fn nanos(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(if t < Timestamp::UNIX_EPOCH { i64::MIN + 1 } else { i64::MAX })
}

/// Versions and builds, each pair kept once however many histories name
/// it: a fleet's cells run a few dozen versions between them, and a long
/// journal names each of them thousands of times. A clone (of an engine,
/// in tests) shares the pairs: neither prunes what both hold.
#[derive(Debug, Clone, Default)]
pub struct Names {
    table: hashbrown::HashTable<Arc<Named>>,
    hasher: hashbrown::DefaultHashBuilder,
    /// How many there were after the last pruning.
    kept: usize,
}

impl Names {
    /// The shared copy of this version and build.
    pub fn get(&mut self, version: &str, build: Option<&str>) -> Arc<Named> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one((version, build));
        if let Some(named) = self.table.find(hash, |n| &*n.version == version && n.build.as_deref() == build) {
            return named.clone();
        }
        // Names no history holds any more go when the set has doubled.
        if self.table.len() >= 2 * self.kept.max(1024) {
            self.table.retain(|n| Arc::strong_count(n) > 1);
            self.kept = self.table.len();
        }
        let named = Arc::new(Named { version: version.into(), build: build.map(Into::into) });
        let hasher = &self.hasher;
        self.table.insert_unique(hash, named.clone(), |n| hasher.hash_one((&*n.version, n.build.as_deref())));
        named
    }

    /// A run of this version and build, its names shared.
    pub fn run(&mut self, version: &str, build: Option<&str>, first_seen: Timestamp) -> VersionRun {
        VersionRun::of(self.get(version, build), first_seen)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// A source reported a different version (or build) for a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub source: std::sync::Arc<str>,
    pub old: Option<VersionRun>,
    pub new: VersionRun,
}

impl Cell {
    fn observation_mut(&mut self, source: &std::sync::Arc<str>, evidence: Evidence) -> &mut Observation {
        let idx = match self.observations.iter().position(|o| o.source == *source) {
            Some(i) => i,
            None => {
                // Most cells have one or two sources: room for exactly
                // what is there (a doubling Vec kept 6 MB spare at 6,000 cells).
                self.observations.reserve_exact(1);
                self.observations.push(Observation {
                    source: source.clone(),
                    evidence,
                    role: Role::Deployment,
                    last_ok: None,
                    error: None,
                    last_attempt: None,
                    history: Vec::new(),
                });
                // Strongest evidence first, then by name, for stable display.
                self.observations.sort_by(|a, b| a.evidence.cmp(&b.evidence).then_with(|| a.source.cmp(&b.source)));
                self.observations.iter().position(|o| o.source == *source).unwrap_or(0)
            }
        };
        &mut self.observations[idx]
    }

    /// Record one fetch result from a deployment source; returns the change
    /// if the source now reports a different version or build than before.
    pub fn record(
        &mut self,
        source: &std::sync::Arc<str>,
        evidence: Evidence,
        attempted_at: Timestamp,
        result: Result<Reading, FetchError>,
    ) -> Option<Change> {
        self.record_as(source, evidence, Role::Deployment, attempted_at, result)
    }

    /// Record one fetch result from a source of either role.
    pub fn record_as(
        &mut self,
        source: &std::sync::Arc<str>,
        evidence: Evidence,
        role: Role,
        attempted_at: Timestamp,
        result: Result<Reading, FetchError>,
    ) -> Option<Change> {
        self.record_judged(source, evidence, role, attempted_at, result, &mut Names::default()).0
    }

    /// [`Cell::record_as`], and whether what the cell is judged on may have
    /// changed: false only when the source said again what it said last
    /// (the same reading, or the same error) and no other source of its
    /// role competes with it (the freshest of two can change hands).
    pub(crate) fn record_judged(
        &mut self,
        source: &std::sync::Arc<str>,
        evidence: Evidence,
        role: Role,
        attempted_at: Timestamp,
        result: Result<Reading, FetchError>,
        names: &mut Names,
    ) -> (Option<Change>, bool) {
        let existed = self.observations.iter().any(|o| o.source == *source);
        let alone = self.observations.iter().filter(|o| o.role == role).count() <= 1;
        let obs = self.observation_mut(source, evidence);
        let again = alone
            && existed
            && obs.evidence == evidence
            && obs.role == role
            && obs.last_attempt.is_some()
            && match &result {
                Ok(reading) => obs.error.is_none() && obs.last_ok.as_ref().is_some_and(|l| l.reading == *reading),
                Err(error) => obs.error.as_ref().is_some_and(|f| f.error == *error),
            };
        obs.evidence = evidence;
        obs.role = role;
        obs.last_attempt = Some(attempted_at);
        match result {
            Ok(reading) => {
                obs.error = None;
                let mut change = None;
                if let Some(v) = &reading.version {
                    let last = obs.history.last();
                    if last.is_none_or(|last| !last.names(v, reading.build.as_deref())) {
                        let mut new = names.run(v, reading.build.as_deref(), attempted_at);
                        new.set_deployed_at(reading.deployed_at);
                        change = Some(Change { source: source.clone(), old: last.cloned(), new: new.clone() });
                        push_history(&mut obs.history, new);
                    }
                    if reading.health == Some(crate::model::Health::Down)
                        && let Some(last) = obs.history.last_mut()
                    {
                        last.seen_down = true;
                    }
                }
                obs.last_ok = Some(FetchedReading { reading, fetched_at: attempted_at });
                // The same reading can still add to the history (after a
                // journal entry came in between).
                let judged = !again || change.is_some();
                (change, judged)
            }
            Err(error) => {
                let since = obs.error.as_ref().map_or(attempted_at, |f| f.since);
                obs.error = Some(Failure { error, since });
                (None, !again)
            }
        }
    }

    /// Restore a version seen in an earlier run (from the journal).
    pub fn remember(&mut self, source: &std::sync::Arc<str>, evidence: Evidence, seen: VersionRun) {
        let obs = self.observation_mut(source, evidence);
        if obs.history.last().is_none_or(|last| !last.names(seen.version(), seen.build())) {
            push_history(&mut obs.history, seen);
        }
    }

    /// The observation the cell shows: strongest evidence with a value,
    /// the freshest among equals. Only deployment sources: a metrics
    /// reading has no version and must never read as "not deployed".
    pub fn shown(&self) -> Option<&Observation> {
        self.deployments().filter(|o| o.last_ok.is_some()).min_by(|a, b| {
            a.evidence.cmp(&b.evidence).then_with(|| {
                let fa = a.last_ok.as_ref().map(|s| s.fetched_at);
                let fb = b.last_ok.as_ref().map(|s| s.fetched_at);
                fb.cmp(&fa)
            })
        })
    }

    /// The reading the cell shows, if any source ever succeeded.
    pub fn reading(&self) -> Option<&FetchedReading> {
        self.shown().and_then(|o| o.last_ok.as_ref())
    }

    pub fn version(&self) -> Option<&str> {
        self.reading().and_then(|s| s.reading.version.as_deref())
    }

    /// Every source that reads this cell failed on its last attempt.
    pub(crate) fn all_failing(&self) -> bool {
        let mut tried = self.deployments().filter(|o| o.last_attempt.is_some()).peekable();
        tried.peek().is_some() && tried.all(|o| o.error.is_some())
    }

    /// Observations of deployment sources (metrics sources left out).
    pub fn deployments(&self) -> impl Iterator<Item = &Observation> {
        self.observations.iter().filter(|o| o.role == Role::Deployment)
    }

    /// Observations of metrics sources.
    pub fn metrics(&self) -> impl Iterator<Item = &Observation> {
        self.observations.iter().filter(|o| o.role == Role::Metrics)
    }

    /// No source has tried this cell in this run yet.
    pub(crate) fn untried(&self) -> bool {
        self.observations.iter().all(|o| o.last_attempt.is_none())
    }

    /// Some, but not all, sources failed on their last attempt.
    #[cfg(test)]
    pub(crate) fn some_failing(&self) -> bool {
        self.observations.iter().any(|o| o.error.is_some())
    }

    /// The version this cell ran before the current one, per the shown source.
    #[cfg(test)]
    pub(crate) fn previous_version(&self) -> Option<&VersionRun> {
        let obs = self.shown()?;
        let current = obs.last_ok.as_ref()?.reading.version.as_deref()?;
        obs.history.iter().rev().find(|h| *h.version() != *current)
    }
}

fn push_history(history: &mut Vec<VersionRun>, seen: VersionRun) {
    if history.len() == HISTORY_LEN {
        history.remove(0);
    }
    history.push(seen);
}

/// The cells of a fleet, dense in `service × environment` order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    envs: usize,
    cells: Vec<Cell>,
}

impl Matrix {
    pub fn new(fleet: &Fleet) -> Matrix {
        Matrix { envs: fleet.environments.len(), cells: vec![Cell::default(); fleet.cell_count()] }
    }

    pub fn get(&self, key: CellKey) -> &Cell {
        &self.cells[key.service * self.envs + key.env]
    }

    pub fn get_mut(&mut self, key: CellKey) -> Option<&mut Cell> {
        if key.env >= self.envs {
            return None;
        }
        self.cells.get_mut(key.service * self.envs + key.env)
    }

    pub fn iter(&self) -> impl Iterator<Item = (CellKey, &Cell)> {
        let envs = self.envs.max(1);
        self.cells.iter().enumerate().map(move |(i, c)| (CellKey { service: i / envs, env: i % envs }, c))
    }
}

/// Release progress in one environment: planned services at their target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProgress {
    pub env: EnvIdx,
    pub at_target: usize,
    pub planned: usize,
}

/// For each environment, how many planned services run their target there.
pub fn progress(fleet: &Fleet, matrix: &Matrix) -> Vec<EnvProgress> {
    progress_by(fleet, |service, env, target| runs_target(matrix, CellKey { service, env }, target))
}

/// Planned services at their target per environment, as `at_target` says
/// for each planned service, environment and target.
pub(crate) fn progress_by(fleet: &Fleet, at_target: impl Fn(ServiceIdx, EnvIdx, &str) -> bool) -> Vec<EnvProgress> {
    let Some(plan) = &fleet.release else {
        return Vec::new();
    };
    (0..fleet.environments.len())
        .map(|env| EnvProgress {
            env,
            at_target: plan.targets.iter().filter(|(service, target)| at_target(*service, env, target)).count(),
            planned: plan.targets.len(),
        })
        .collect()
}

/// Whether a cell runs `target` (the same version, however written).
pub(crate) fn runs_target(matrix: &Matrix, key: CellKey, target: &str) -> bool {
    matrix.get(key).version().is_some_and(|v| version::same(v, target))
}

/// When the fleet was last swept: the oldest last attempt over all polled
/// cells (every cell has been tried since then). `None` until every polled
/// cell has been tried once.
pub(crate) fn last_sweep(matrix: &Matrix, polled_cells: usize) -> Option<Timestamp> {
    let mut tried = 0usize;
    let mut oldest: Option<Timestamp> = None;
    for (_, cell) in matrix.iter() {
        for at in cell.observations.iter().filter_map(|o| o.last_attempt) {
            tried += 1;
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
        }
    }
    if tried < polled_cells { None } else { oldest }
}

/// Sources whose latest attempt failed for at least one cell, with counts.
pub(crate) fn failing_sources(matrix: &Matrix) -> Vec<(std::sync::Arc<str>, usize)> {
    let mut out: Vec<(std::sync::Arc<str>, usize)> = Vec::new();
    for (_, cell) in matrix.iter() {
        for obs in cell.observations.iter().filter(|o| o.error.is_some()) {
            match out.iter_mut().find(|(name, _)| *name == obs.source) {
                Some((_, n)) => *n += 1,
                None => out.push((obs.source.clone(), 1)),
            }
        }
    }
    out.sort();
    out
}

/// Services matching a filter (case-insensitive substring), in fleet order.
pub(crate) fn filter_services(fleet: &Fleet, filter: &str) -> Vec<ServiceIdx> {
    let needle = filter.trim().to_lowercase();
    fleet
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| needle.is_empty() || s.name.to_lowercase().contains(&needle))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn strongest_evidence_wins_and_failures_keep_last_value() {
        let mut cell = Cell::default();
        let rec: Arc<str> = Arc::from("records");
        let run: Arc<str> = Arc::from("endpoints");
        cell.record(&rec, Evidence::Recorded, ts(0), Ok(Reading::version("1.4.0")));
        cell.record(&run, Evidence::Running, ts(1), Ok(Reading::version("1.3.2")));
        assert_eq!(cell.version(), Some("1.3.2"));
        cell.record(&run, Evidence::Running, ts(2), Err(FetchError::Timeout(std::time::Duration::from_secs(3))));
        // The running source failed, but its last value stays shown.
        assert_eq!(cell.version(), Some("1.3.2"));
        assert!(cell.some_failing());
        assert!(!cell.all_failing());
        cell.record(&rec, Evidence::Recorded, ts(3), Err(FetchError::Other("x".into())));
        assert!(cell.all_failing());
        cell.record(&run, Evidence::Running, ts(4), Err(FetchError::Other("y".into())));
        assert_eq!(cell.observations[0].error.as_ref().unwrap().since, ts(2));
    }

    #[test]
    fn a_version_is_kept_once_however_many_histories_name_it() {
        let mut names = Names::default();
        let src: Arc<str> = Arc::from("gh");
        let mut cells = vec![Cell::default(), Cell::default()];
        for cell in &mut cells {
            let mut r = Reading::version("1.4.0");
            r.build = Some("77".into());
            cell.record_judged(&src, Evidence::Running, Role::Deployment, ts(0), Ok(r), &mut names);
        }
        let [a, b] = [&cells[0], &cells[1]].map(|c| c.observations[0].history[0].clone());
        assert!(Arc::ptr_eq(a.named(), b.named()), "one `1.4.0 #77` for both cells");
        assert_eq!((a.version(), a.build()), ("1.4.0", Some("77")));
        assert_eq!(names.len(), 1);
        // Another build of the same version is another pair.
        let other = names.run("1.4.0", Some("78"), ts(1));
        assert!(!Arc::ptr_eq(a.named(), other.named()));
        assert_eq!((other.version(), other.build(), names.len()), ("1.4.0", Some("78"), 2));
    }

    #[test]
    fn a_run_keeps_its_times_to_the_nanosecond_in_32_bytes() {
        let mut run = VersionRun::new("1.4.0", None, ts(0));
        assert_eq!(run.deployed_at(), None);
        let at: Timestamp = "2026-11-24T18:03:07.123456789Z".parse().unwrap();
        run.set_deployed_at(Some(at));
        assert_eq!(run.deployed_at(), Some(at));
        // Beyond what 64-bit nanoseconds hold (year 2262): not said, never wrong.
        run.set_deployed_at(Some("9000-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(run.deployed_at(), None);
        run.set_deployed_at(None);
        assert_eq!(run.deployed_at(), None);
        assert_eq!(run.first_seen(), ts(0));
        // 16 per cell and source: what the memory goal rests on.
        assert!(std::mem::size_of::<VersionRun>() <= 32, "{} bytes", std::mem::size_of::<VersionRun>());
    }

    #[test]
    fn names_no_history_holds_are_let_go() {
        let mut names = Names::default();
        let held: Vec<Arc<Named>> = (0..10).map(|i| names.get(&format!("held-{i}"), None)).collect();
        for i in 0..5000 {
            names.get(&format!("gone-{i}"), Some("1"));
        }
        // Pruned as it grew: what is held stays, the rest went.
        assert!(names.len() < 3000, "{} kept", names.len());
        for h in &held {
            assert!(Arc::ptr_eq(h, &names.get(&h.version, None)), "{h:?} is still the shared copy");
        }
    }

    #[test]
    fn history_tracks_distinct_versions_and_previous() {
        let mut cell = Cell::default();
        let src: Arc<str> = Arc::from("s");
        cell.record(&src, Evidence::Running, ts(0), Ok(Reading::version("1.0")));
        cell.record(&src, Evidence::Running, ts(1), Ok(Reading::version("1.0")));
        cell.record(&src, Evidence::Running, ts(2), Ok(Reading::version("1.1")));
        let obs = &cell.observations[0];
        assert_eq!(obs.history.len(), 2);
        assert_eq!(cell.previous_version().unwrap().version(), "1.0");
        for i in 0..40 {
            cell.record(&src, Evidence::Running, ts(3 + i), Ok(Reading::version(format!("2.{i}"))));
        }
        assert_eq!(cell.observations[0].history.len(), HISTORY_LEN);
    }
}
