//! Findings: what a release manager must act on, exactly as the contract in
//! `design.md` defines them. Pure: fleet, matrix and `now` in, findings out.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::{Cell, FetchedReading, Matrix};
use crate::model::{CellKey, Fleet, version};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Missing,
    Ahead,
    BuildMismatch,
    Conflict,
    Unhealthy,
    Unreachable,
    Stale,
    /// A running commit that is not in the mainline (`[changes]`).
    NotMergedBack,
}

impl FindingKind {
    #[cfg(test)]
    pub(crate) const ALL: [FindingKind; 8] = [
        FindingKind::Missing,
        FindingKind::Ahead,
        FindingKind::BuildMismatch,
        FindingKind::Conflict,
        FindingKind::Unhealthy,
        FindingKind::Unreachable,
        FindingKind::Stale,
        FindingKind::NotMergedBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Missing => "missing",
            FindingKind::Ahead => "ahead",
            FindingKind::BuildMismatch => "build_mismatch",
            FindingKind::Conflict => "conflict",
            FindingKind::Unhealthy => "unhealthy",
            FindingKind::Unreachable => "unreachable",
            FindingKind::Stale => "stale",
            FindingKind::NotMergedBack => "not_merged_back",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::Unreachable | FindingKind::Stale | FindingKind::NotMergedBack => Severity::Medium,
            _ => Severity::High,
        }
    }

    /// A one-column mark for the matrix, so findings read without colour.
    pub fn glyph(self) -> char {
        match self {
            FindingKind::Missing => '∅',
            FindingKind::Ahead => '↑',
            FindingKind::BuildMismatch => '≠',
            FindingKind::Conflict => '⇄',
            FindingKind::Unhealthy => '✗',
            FindingKind::Unreachable => '⚠',
            FindingKind::Stale => '◷',
            FindingKind::NotMergedBack => '⎇',
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Highest first, so sorting puts what matters most on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub cell: CellKey,
    pub message: String,
}

/// Evaluate every finding, sorted by severity, then environment (latest
/// first: prod problems on top), then service, then kind.
pub fn evaluate(fleet: &Fleet, matrix: &Matrix, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    let reached = reached_environments(fleet, matrix);
    for service in 0..fleet.services.len() {
        of_service(fleet, matrix, service, &reached, now, &mut out);
    }
    sort(&mut out);
    out
}

/// Until when a judgement holds as time passes, the cells unchanged: from
/// the time it was made while `now < until`; `None`, whatever the time.
pub(crate) type Until = Option<Timestamp>;

/// The earlier of two bounds.
pub(crate) fn earlier(a: Until, b: Until) -> Until {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Judged again at every time: it says an age.
pub(crate) const EVERY_TIME: Until = Some(Timestamp::MIN);

/// One service's findings (unsorted), appended to `out`. They read the
/// service's own cells, which environments the release reached, and
/// `now`; the answer says until when they hold as time passes.
pub(crate) fn of_service(
    fleet: &Fleet,
    matrix: &Matrix,
    service: usize,
    reached: &[bool],
    now: Timestamp,
    out: &mut Vec<Finding>,
) -> Until {
    let mut until = None;
    for env in 0..fleet.environments.len() {
        let key = CellKey { service, env };
        let cell = matrix.get(key);
        missing(fleet, matrix, key, reached, out);
        if env > 0 {
            ahead(fleet, matrix, key, out);
        }
        build_mismatch(fleet, matrix, key, out);
        conflict(fleet, cell, key, out);
        unhealthy(fleet, cell, key, out);
        until = earlier(until, unreachable(fleet, cell, key, now, out));
        until = earlier(until, stale(fleet, cell, key, now, out));
    }
    until
}

pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| b.cell.env.cmp(&a.cell.env))
            .then_with(|| a.cell.service.cmp(&b.cell.service))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Environments the release has reached: at least one planned service runs
/// its target there.
pub(crate) fn reached_environments(fleet: &Fleet, matrix: &Matrix) -> Vec<bool> {
    let Some(plan) = &fleet.release else {
        return vec![false; fleet.environments.len()];
    };
    (0..fleet.environments.len())
        .map(|env| {
            plan.targets
                .iter()
                .any(|(service, target)| super::runs_target(matrix, CellKey { service: *service, env }, target))
        })
        .collect()
}

fn names(fleet: &Fleet, key: CellKey) -> (&str, &str) {
    (fleet.services[key.service].name.as_ref(), fleet.environments[key.env].name.as_ref())
}

fn push(out: &mut Vec<Finding>, kind: FindingKind, cell: CellKey, message: String) {
    out.push(Finding { kind, severity: kind.severity(), cell, message });
}

fn missing(fleet: &Fleet, matrix: &Matrix, key: CellKey, reached: &[bool], out: &mut Vec<Finding>) {
    let Some(target) = fleet.release.as_ref().and_then(|r| r.target(key.service)) else {
        return;
    };
    let (service, env) = names(fleet, key);
    let cell = matrix.get(key);
    // A source that positively reports no deployment counts wherever it is.
    if let Some(obs) = cell.shown()
        && obs.last_ok.as_ref().is_some_and(|s| s.reading.version.is_none())
    {
        push(
            out,
            FindingKind::Missing,
            key,
            format!("{service} is not deployed in {env} ({} reports no deployment; target {target})", obs.source),
        );
        return;
    }
    if !reached[key.env] {
        return;
    }
    let Some(running) = cell.version() else {
        return;
    };
    let at_or_past = matches!(version::compare(running, target), Some(Ordering::Equal | Ordering::Greater));
    if !at_or_past {
        push(out, FindingKind::Missing, key, format!("{service} is not at {target} in {env} (runs {running})"));
    }
}

fn ahead(fleet: &Fleet, matrix: &Matrix, key: CellKey, out: &mut Vec<Finding>) {
    let before = CellKey { service: key.service, env: key.env - 1 };
    let (Some(here), Some(there)) = (matrix.get(key).version(), matrix.get(before).version()) else {
        return;
    };
    if version::compare(here, there) == Some(Ordering::Greater) {
        let (service, env) = names(fleet, key);
        let prev_env = &fleet.environments[before.env].name;
        push(
            out,
            FindingKind::Ahead,
            key,
            format!("{service} runs {here} in {env}, newer than {there} in {prev_env}: it never passed {prev_env}"),
        );
    }
}

/// The first artifact id both readings report that differs: build (what
/// people recognise), then commit, then digest.
fn artifact_differs(a: &FetchedReading, b: &FetchedReading) -> Option<(&'static str, String, String)> {
    let (ra, rb) = (&a.reading, &b.reading);
    if let (Some(x), Some(y)) = (&ra.build, &rb.build)
        && x != y
    {
        return Some(("build", x.clone(), y.clone()));
    }
    if let (Some(x), Some(y)) = (&ra.commit, &rb.commit)
        && !commits_match(x, y)
    {
        return Some(("commit", x.clone(), y.clone()));
    }
    if let (Some(x), Some(y)) = (&ra.digest, &rb.digest)
        && x != y
    {
        return Some(("digest", x.clone(), y.clone()));
    }
    None
}

/// Short and full SHAs of one commit match: one is a prefix of the other.
pub(crate) fn commits_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().as_bytes(), b.trim().as_bytes());
    let common = a.len().min(b.len());
    common > 0 && a[..common].eq_ignore_ascii_case(&b[..common])
}

fn build_mismatch(fleet: &Fleet, matrix: &Matrix, key: CellKey, out: &mut Vec<Finding>) {
    let Some(here) = matrix.get(key).reading() else {
        return;
    };
    let Some(v) = here.reading.version.as_deref() else {
        return;
    };
    // Reported once, on the later environment, against the nearest earlier
    // environment running the same version string.
    for earlier in (0..key.env).rev() {
        let other = CellKey { service: key.service, env: earlier };
        let Some(there) = matrix.get(other).reading() else {
            continue;
        };
        if !there.reading.version.as_deref().is_some_and(|x| version::same(x, v)) {
            continue;
        }
        if let Some((what, a, b)) = artifact_differs(there, here) {
            let (service, env) = names(fleet, key);
            let prev_env = &fleet.environments[earlier].name;
            push(
                out,
                FindingKind::BuildMismatch,
                key,
                format!("{service} {v} in {env} is not the artifact in {prev_env}: {what} {b} vs {a}"),
            );
        }
        return;
    }
}

/// One finding per cell whose sources disagree, grouping the sources by the
/// version they report: "a (running) and c (controller) say 1.3.2, b
/// (recorded) says 1.4.0". Sources agreeing on the version but not on the
/// commit are a conflict too.
fn conflict(fleet: &Fleet, cell: &Cell, key: CellKey, out: &mut Vec<Finding>) {
    // Sources whose latest read succeeded and reported a version.
    let current: Vec<_> = cell
        .deployments()
        .filter(|o| o.error.is_none())
        .filter_map(|o| o.last_ok.as_ref().and_then(|s| s.reading.version.as_deref().map(|v| (o, s, v))))
        .collect();
    let mut groups: Vec<(&str, Vec<&super::Observation>)> = Vec::new();
    for (obs, _, v) in &current {
        match groups.iter_mut().find(|(g, _)| version::same(g, v)) {
            Some((_, members)) => members.push(obs),
            None => groups.push((v, vec![obs])),
        }
    }
    let (service, env) = names(fleet, key);
    if groups.len() > 1 {
        let says: Vec<String> = groups
            .iter()
            .map(|(v, members)| {
                let who: Vec<String> = members.iter().map(|o| format!("{} ({})", o.source, o.evidence)).collect();
                let verb = if members.len() == 1 { "says" } else { "say" };
                format!("{} {verb} {v}", who.join(" and "))
            })
            .collect();
        push(out, FindingKind::Conflict, key, format!("{service} in {env}: {}", says.join(", ")));
        return;
    }
    for (i, (a, sa, _)) in current.iter().enumerate() {
        for (b, sb, _) in &current[i + 1..] {
            if let (Some(x), Some(y)) = (&sa.reading.commit, &sb.reading.commit)
                && !commits_match(x, y)
            {
                push(
                    out,
                    FindingKind::Conflict,
                    key,
                    format!("{service} in {env}: {} says commit {x}, {} says commit {y}", a.source, b.source),
                );
                return;
            }
        }
    }
}

fn unhealthy(fleet: &Fleet, cell: &Cell, key: CellKey, out: &mut Vec<Finding>) {
    if let Some(obs) = cell.shown()
        && obs.last_ok.as_ref().and_then(|s| s.reading.health) == Some(crate::model::Health::Down)
    {
        let (service, env) = names(fleet, key);
        push(out, FindingKind::Unhealthy, key, format!("{service} in {env} reports health down ({})", obs.source));
    }
}

fn unreachable(fleet: &Fleet, cell: &Cell, key: CellKey, now: Timestamp, out: &mut Vec<Finding>) -> Until {
    if !cell.all_failing() {
        return None;
    }
    let (service, env) = names(fleet, key);
    let errors: Vec<String> = cell
        .observations
        .iter()
        .filter_map(|o| o.error.as_ref().map(|f| format!("{}: {}", o.source, f.error)))
        .collect();
    let mut until = None;
    let last = match cell.reading() {
        Some(seen) => format!(
            "; last known {} from {} ago",
            seen.reading.version.as_deref().unwrap_or("no deployment"),
            crate::model::time::short_age({
                until = Some(crate::model::time::short_age_changes(seen.fetched_at, now));
                age(now, seen.fetched_at)
            })
        ),
        None => match cell.observations.iter().filter_map(|o| o.history.last()).max_by_key(|h| h.first_seen()) {
            Some(h) => format!(
                "; last seen {} (journal, first seen {} ago)",
                h.version(),
                crate::model::time::short_age({
                    until = Some(crate::model::time::short_age_changes(h.first_seen(), now));
                    age(now, h.first_seen())
                })
            ),
            None => "; never read".to_string(),
        },
    };
    push(out, FindingKind::Unreachable, key, format!("{service} in {env} unreachable ({}){last}", errors.join("; ")));
    // It says how long ago, until that reads differently.
    until
}

fn stale(fleet: &Fleet, cell: &Cell, key: CellKey, now: Timestamp, out: &mut Vec<Finding>) -> Until {
    let limit = fleet.environments[key.env].stale_after?;
    let obs = cell.shown()?;
    let seen = obs.last_ok.as_ref()?;
    let v = seen.reading.version.as_deref()?;
    let (since, how) = match seen.reading.deployed_at {
        Some(at) => (at, "deployed"),
        None => {
            // Fall back to when flightdeck first saw this version (the
            // history holds the journal's entries from earlier runs).
            // A rebuild of the same version is not a new deployment: take
            // the earliest of the latest run of entries with this version.
            match obs.history.iter().rev().take_while(|h| version::same(h.version(), v)).last() {
                Some(h) => (h.first_seen(), "first seen"),
                None => return None,
            }
        }
    };
    let elapsed = age(now, since);
    if elapsed <= limit {
        // Stale from the first whole second past the limit.
        let limit = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX);
        let due = since.as_second().saturating_add(limit).saturating_add(1);
        return Some(Timestamp::from_second(due).unwrap_or(Timestamp::MAX));
    }
    let (service, env) = names(fleet, key);
    push(
        out,
        FindingKind::Stale,
        key,
        format!(
            "{service} {v} in {env} {how} {} ago (stale after {})",
            crate::model::time::short_age(elapsed),
            crate::model::time::short_age(limit)
        ),
    );
    // It says how long ago, until that reads differently.
    Some(crate::model::time::short_age_changes(since, now))
}

fn age(now: Timestamp, then: Timestamp) -> std::time::Duration {
    std::time::Duration::from_secs(now.as_second().saturating_sub(then.as_second()).max(0) as u64)
}

/// The worst finding per cell, for marking the matrix.
pub(crate) fn worst_per_cell(findings: &[Finding]) -> std::collections::HashMap<CellKey, &Finding> {
    let mut map: std::collections::HashMap<CellKey, &Finding> = std::collections::HashMap::new();
    for f in findings {
        map.entry(f.cell)
            .and_modify(|cur| {
                if (f.severity, f.kind) < (cur.severity, cur.kind) {
                    *cur = f;
                }
            })
            .or_insert(f);
    }
    map
}

/// The environment index and service index a finding is about, by name.
pub(crate) fn names_of(fleet: &Fleet, f: &Finding) -> (String, String) {
    let (s, e) = names(fleet, f.cell);
    (s.to_string(), e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::model::FetchError;
    use crate::model::{Environment, Evidence, Health, Reading, ReleasePlan, Service};

    const ENVS: [&str; 4] = ["dev", "qa", "uat", "prod"];

    fn now() -> Timestamp {
        "2026-11-24T18:42:00Z".parse().unwrap()
    }

    fn fleet(services: &[&str], targets: &[(&str, &str)]) -> Fleet {
        let services: Vec<Service> =
            services.iter().map(|s| Service { name: (*s).into(), ..Service::default() }).collect();
        let mut targets: Vec<_> = targets
            .iter()
            .map(|(s, v)| (services.iter().position(|x| *x.name == **s).unwrap(), v.to_string()))
            .collect();
        targets.sort_by_key(|(s, _)| *s);
        Fleet {
            environments: ENVS
                .iter()
                .map(|e| Environment {
                    name: (*e).into(),
                    stale_after: (*e == "prod").then(|| Duration::from_secs(30 * 86_400)),
                })
                .collect(),
            services,
            release: Some(ReleasePlan { name: "r".into(), targets, ..ReleasePlan::default() }),
            rollback: Default::default(),
        }
    }

    struct World {
        fleet: Fleet,
        matrix: Matrix,
    }

    impl World {
        fn new(services: &[&str], targets: &[(&str, &str)]) -> World {
            let fleet = fleet(services, targets);
            let matrix = Matrix::new(&fleet);
            World { fleet, matrix }
        }

        fn key(&self, service: &str, env: &str) -> CellKey {
            CellKey { service: self.fleet.service_idx(service).unwrap(), env: self.fleet.env_idx(env).unwrap() }
        }

        fn read(
            &mut self,
            source: &str,
            evidence: Evidence,
            service: &str,
            env: &str,
            result: Result<Reading, FetchError>,
        ) {
            let key = self.key(service, env);
            let source: Arc<str> = Arc::from(source);
            self.matrix.get_mut(key).unwrap().record(&source, evidence, now(), result);
        }

        fn run(&mut self, service: &str, env: &str, version: &str) {
            self.read("endpoints", Evidence::Running, service, env, Ok(Reading::version(version)));
        }

        fn run_full(&mut self, service: &str, env: &str, r: Reading) {
            self.read("endpoints", Evidence::Running, service, env, Ok(r));
        }

        fn findings(&self) -> Vec<(FindingKind, String, String)> {
            evaluate(&self.fleet, &self.matrix, now())
                .iter()
                .map(|f| {
                    let (s, e) = names_of(&self.fleet, f);
                    (f.kind, s, e)
                })
                .collect()
        }

        fn messages(&self) -> Vec<String> {
            evaluate(&self.fleet, &self.matrix, now()).into_iter().map(|f| f.message).collect()
        }
    }

    fn f(kind: FindingKind, s: &str, e: &str) -> (FindingKind, String, String) {
        (kind, s.to_string(), e.to_string())
    }

    fn all_at(w: &mut World, service: &str, version: &str) {
        for env in ENVS {
            w.run(service, env, version);
        }
    }

    #[test]
    fn all_at_target_means_no_findings() {
        let mut w = World::new(&["a", "b"], &[("a", "1.4.0"), ("b", "v2.0")]);
        all_at(&mut w, "a", "1.4.0");
        all_at(&mut w, "b", "2.0.0");
        assert!(w.findings().is_empty(), "{:?}", w.messages());
    }

    #[test]
    fn missing_only_in_reached_environments() {
        let mut w = World::new(&["a", "b"], &[("a", "1.4.0"), ("b", "2.0.0")]);
        all_at(&mut w, "a", "1.4.0");
        w.run("b", "dev", "2.0.0");
        w.run("b", "qa", "2.0.0");
        w.run("b", "uat", "1.9.0");
        w.run("b", "prod", "1.9.0");
        // uat and prod are reached (a runs its target there): b is missing in both.
        assert_eq!(w.findings(), vec![f(FindingKind::Missing, "b", "prod"), f(FindingKind::Missing, "b", "uat")]);
        assert_eq!(w.messages()[0], "b is not at 2.0.0 in prod (runs 1.9.0)");

        // An environment nobody reached yet is not missing anything.
        let mut w = World::new(&["a"], &[("a", "1.4.0")]);
        w.run("a", "dev", "1.4.0");
        w.run("a", "qa", "1.3.0");
        assert!(w.findings().is_empty(), "{:?}", w.messages());
    }

    #[test]
    fn newer_than_target_is_not_missing_but_unparseable_is() {
        let mut w = World::new(&["a", "b"], &[("a", "1.4.0"), ("b", "2.0.0")]);
        all_at(&mut w, "a", "1.4.1");
        all_at(&mut w, "b", "2.0.0");
        assert!(w.findings().is_empty(), "{:?}", w.messages());
        w.run("a", "prod", "main-4f2a9c1");
        assert!(w.findings().contains(&f(FindingKind::Missing, "a", "prod")));
    }

    #[test]
    fn positively_not_deployed_is_missing_anywhere() {
        let mut w = World::new(&["a"], &[("a", "1.4.0")]);
        w.read("records", Evidence::Recorded, "a", "qa", Ok(Reading::default()));
        assert_eq!(w.findings(), vec![f(FindingKind::Missing, "a", "qa")]);
        assert!(w.messages()[0].contains("records reports no deployment"));
    }

    #[test]
    fn ahead_compares_with_the_previous_environment_only() {
        let mut w = World::new(&["acct"], &[]);
        w.run("acct", "dev", "2.3.0");
        w.run("acct", "qa", "2.3.0");
        w.run("acct", "uat", "2.3.0");
        w.run("acct", "prod", "2.3.1");
        assert_eq!(w.findings(), vec![f(FindingKind::Ahead, "acct", "prod")]);
        assert_eq!(w.messages()[0], "acct runs 2.3.1 in prod, newer than 2.3.0 in uat: it never passed uat");
        // Incomparable versions are never ordered by guess.
        w.run("acct", "prod", "hotfix-build");
        assert!(w.findings().is_empty(), "{:?}", w.messages());
    }

    #[test]
    fn build_mismatch_on_the_later_environment() {
        let mut w = World::new(&["cart"], &[]);
        let r = |build: &str| Reading { build: Some(build.into()), ..Reading::version("3.2.0") };
        w.run_full("cart", "uat", r("1187"));
        w.run_full("cart", "prod", r("1192"));
        assert_eq!(w.findings(), vec![f(FindingKind::BuildMismatch, "cart", "prod")]);
        assert_eq!(w.messages()[0], "cart 3.2.0 in prod is not the artifact in uat: build 1192 vs 1187");
    }

    #[test]
    fn short_and_full_sha_are_the_same_artifact() {
        let mut w = World::new(&["svc"], &[]);
        let full = "4f2a9c1e0b7d3a5f6c8e9d0a1b2c3d4e5f6a7b8c";
        w.run_full("svc", "uat", Reading { commit: Some("4f2a9c1".into()), ..Reading::version("1.0") });
        w.run_full("svc", "prod", Reading { commit: Some(full.into()), ..Reading::version("1.0") });
        assert!(w.findings().is_empty(), "{:?}", w.messages());
        w.run_full("svc", "prod", Reading { commit: Some("9999999".into()), ..Reading::version("1.0") });
        assert_eq!(w.findings(), vec![f(FindingKind::BuildMismatch, "svc", "prod")]);
        // One side without an id: nothing to compare, no finding.
        w.run_full("svc", "prod", Reading::version("1.0"));
        assert!(w.findings().is_empty());
    }

    #[test]
    fn conflict_between_sources_names_both() {
        let mut w = World::new(&["pricing"], &[]);
        w.run("pricing", "prod", "1.7.2");
        w.read("records", Evidence::Recorded, "pricing", "prod", Ok(Reading::version("1.8.0")));
        assert_eq!(w.findings(), vec![f(FindingKind::Conflict, "pricing", "prod")]);
        assert_eq!(w.messages()[0], "pricing in prod: endpoints (running) says 1.7.2, records (recorded) says 1.8.0");
        // The record agreeing again clears it; `v1.8` and `1.8.0` agree.
        w.run("pricing", "prod", "v1.8");
        assert!(w.findings().is_empty(), "{:?}", w.messages());
        // A failed source is not a disagreement.
        w.read("records", Evidence::Recorded, "pricing", "prod", Err(FetchError::Other("down".into())));
        w.run("pricing", "prod", "1.9.0");
        assert!(!w.findings().iter().any(|x| x.0 == FindingKind::Conflict));
    }

    #[test]
    fn three_sources_disagreeing_are_one_conflict_naming_each() {
        let mut w = World::new(&["pay"], &[]);
        w.run("pay", "prod", "1.3.2");
        w.read("argocd", Evidence::Controller, "pay", "prod", Ok(Reading::version("v1.3.2")));
        w.read("github", Evidence::Recorded, "pay", "prod", Ok(Reading::version("1.4.0")));
        assert_eq!(w.findings(), vec![f(FindingKind::Conflict, "pay", "prod")]);
        assert_eq!(
            w.messages()[0],
            "pay in prod: endpoints (running) and argocd (controller) say 1.3.2, github (recorded) says 1.4.0"
        );
        // Same version, different commits.
        let mut w = World::new(&["pay"], &[]);
        w.run_full("pay", "prod", Reading { commit: Some("aaaaaaa".into()), ..Reading::version("1.0") });
        w.read(
            "github",
            Evidence::Recorded,
            "pay",
            "prod",
            Ok(Reading { commit: Some("bbbbbbb".into()), ..Reading::version("1.0") }),
        );
        assert_eq!(w.messages(), vec!["pay in prod: endpoints says commit aaaaaaa, github says commit bbbbbbb"]);
    }

    #[test]
    fn unhealthy_and_unreachable() {
        let mut w = World::new(&["ship", "notify"], &[]);
        w.run_full("ship", "prod", Reading { health: Some(Health::Down), ..Reading::version("4.3.0") });
        w.run("notify", "prod", "1.12.0");
        w.read("endpoints", Evidence::Running, "notify", "prod", Err(FetchError::Timeout(Duration::from_secs(3))));
        let found = w.findings();
        assert_eq!(
            found,
            vec![f(FindingKind::Unhealthy, "ship", "prod"), f(FindingKind::Unreachable, "notify", "prod")]
        );
        let messages = w.messages();
        assert!(
            messages[1].contains("timed out after 3s") && messages[1].contains("last known 1.12.0"),
            "{messages:?}"
        );
        // Degraded is not down.
        w.run_full("ship", "prod", Reading { health: Some(Health::Degraded), ..Reading::version("4.3.0") });
        assert!(!w.findings().iter().any(|x| x.0 == FindingKind::Unhealthy));
    }

    #[test]
    fn unreachable_needs_every_source_failing() {
        let mut w = World::new(&["a"], &[]);
        w.read("endpoints", Evidence::Running, "a", "prod", Err(FetchError::Other("x".into())));
        w.read("records", Evidence::Recorded, "a", "prod", Ok(Reading::version("1.0")));
        assert!(w.findings().is_empty(), "{:?}", w.messages());
        w.read("records", Evidence::Recorded, "a", "prod", Err(FetchError::Other("y".into())));
        assert_eq!(w.findings(), vec![f(FindingKind::Unreachable, "a", "prod")]);
    }

    #[test]
    fn stale_from_deployed_at_or_first_seen() {
        let mut w = World::new(&["reports"], &[]);
        let old = now() - jiff::SignedDuration::from_hours(24 * 212);
        w.run_full("reports", "prod", Reading { deployed_at: Some(old), ..Reading::version("0.4.0") });
        assert_eq!(w.findings(), vec![f(FindingKind::Stale, "reports", "prod")]);
        assert_eq!(w.messages()[0], "reports 0.4.0 in prod deployed 212d ago (stale after 30d)");
        // Exactly at the limit is not stale yet; environments without stale_after never are.
        let limit = now() - jiff::SignedDuration::from_hours(24 * 30);
        w.run_full("reports", "prod", Reading { deployed_at: Some(limit), ..Reading::version("0.4.0") });
        assert!(w.findings().is_empty());
        w.run_full("reports", "qa", Reading { deployed_at: Some(old), ..Reading::version("0.4.0") });
        assert!(w.findings().is_empty());

        // No deployed_at: the journal's first sighting counts.
        let mut w = World::new(&["reports"], &[]);
        let key = w.key("reports", "prod");
        let source: Arc<str> = Arc::from("endpoints");
        let cell = w.matrix.get_mut(key).unwrap();
        cell.remember(
            &source,
            Evidence::Running,
            VersionSeenFixture::at("0.4.0", now() - jiff::SignedDuration::from_hours(24 * 60)),
        );
        w.run("reports", "prod", "0.4.0");
        assert_eq!(w.findings(), vec![f(FindingKind::Stale, "reports", "prod")]);
        assert!(w.messages()[0].contains("first seen 60d ago"), "{:?}", w.messages());
    }

    #[test]
    fn a_rebuild_does_not_reset_first_seen() {
        let mut w = World::new(&["svc"], &[]);
        let key = w.key("svc", "prod");
        let source: Arc<str> = Arc::from("endpoints");
        let cell = w.matrix.get_mut(key).unwrap();
        cell.remember(
            &source,
            Evidence::Running,
            VersionSeenFixture::at("2.1.0", now() - jiff::SignedDuration::from_hours(24 * 60)),
        );
        // Now the service reports a build for the same version.
        w.run_full("svc", "prod", Reading { build: Some("77".into()), ..Reading::version("2.1.0") });
        assert_eq!(w.findings(), vec![f(FindingKind::Stale, "svc", "prod")]);
        assert!(w.messages()[0].contains("first seen 60d ago"), "{:?}", w.messages());
    }

    #[test]
    fn build_mismatch_compares_versions_leniently() {
        let mut w = World::new(&["cart"], &[]);
        w.run_full("cart", "uat", Reading { build: Some("1".into()), ..Reading::version("v3.2.0") });
        w.run_full("cart", "prod", Reading { build: Some("2".into()), ..Reading::version("3.2.0") });
        assert_eq!(w.findings(), vec![f(FindingKind::BuildMismatch, "cart", "prod")]);
    }

    #[test]
    fn unreachable_names_the_journal_value_when_never_read_this_run() {
        let mut w = World::new(&["svc"], &[]);
        let key = w.key("svc", "prod");
        let source: Arc<str> = Arc::from("endpoints");
        w.matrix.get_mut(key).unwrap().remember(
            &source,
            Evidence::Running,
            VersionSeenFixture::at("1.2.0", now() - jiff::SignedDuration::from_hours(48)),
        );
        w.read("endpoints", Evidence::Running, "svc", "prod", Err(FetchError::Other("down".into())));
        assert_eq!(w.findings(), vec![f(FindingKind::Unreachable, "svc", "prod")]);
        assert!(w.messages()[0].ends_with("last seen 1.2.0 (journal, first seen 2d ago)"), "{:?}", w.messages());
    }

    struct VersionSeenFixture;
    impl VersionSeenFixture {
        fn at(v: &str, t: Timestamp) -> crate::analysis::VersionRun {
            crate::analysis::VersionRun::new(v, None, t)
        }
    }

    #[test]
    fn sorted_by_severity_then_latest_environment() {
        let mut w = World::new(&["a", "b"], &[("a", "1.0.0")]);
        w.read("endpoints", Evidence::Running, "b", "prod", Err(FetchError::Other("x".into())));
        w.run("a", "dev", "1.0.0");
        w.run("a", "qa", "0.9.0");
        w.run_full("b", "qa", Reading { health: Some(Health::Down), ..Reading::version("1") });
        let kinds: Vec<_> = w.findings().into_iter().map(|x| (x.0, x.2)).collect();
        assert_eq!(
            kinds,
            vec![(FindingKind::Unhealthy, "qa".to_string()), (FindingKind::Unreachable, "prod".to_string())]
        );
    }

    // Properties ------------------------------------------------------------

    fn version() -> impl Strategy<Value = String> {
        (0u8..3, 0u8..3).prop_map(|(a, b)| format!("1.{a}.{b}"))
    }

    /// One reading: service, environment, second source?, version, build, succeeded?
    type Read = (usize, usize, bool, String, Option<u8>, bool);

    /// A random world: per cell, up to two sources' readings.
    fn world_spec() -> impl Strategy<Value = Vec<Read>> {
        proptest::collection::vec(
            (0usize..3, 0usize..4, any::<bool>(), version(), proptest::option::of(0u8..3), any::<bool>()),
            0..24,
        )
    }

    fn build(spec: &[Read], service_order: &[usize]) -> Vec<(FindingKind, String, String, String)> {
        let names = ["a", "b", "c"];
        let ordered: Vec<&str> = service_order.iter().map(|&i| names[i]).collect();
        let mut w = World::new(&ordered, &[("a", "1.1.0"), ("c", "1.2.0")]);
        for (s, e, second_source, v, build, ok) in spec {
            let source = if *second_source { "records" } else { "endpoints" };
            let evidence = if *second_source { Evidence::Recorded } else { Evidence::Running };
            let result = if *ok {
                Ok(Reading { build: build.map(|b| b.to_string()), ..Reading::version(v.clone()) })
            } else {
                Err(FetchError::Other("down".into()))
            };
            w.read(source, evidence, names[*s], ENVS[*e], result);
        }
        let mut out: Vec<_> = evaluate(&w.fleet, &w.matrix, now())
            .iter()
            .map(|x| {
                let (s, e) = names_of(&w.fleet, x);
                (x.kind, s, e, x.message.clone())
            })
            .collect();
        out.sort();
        out
    }

    proptest! {
        #[test]
        fn findings_do_not_depend_on_service_order(spec in world_spec()) {
            prop_assert_eq!(build(&spec, &[0, 1, 2]), build(&spec, &[2, 0, 1]));
        }

        #[test]
        fn findings_do_not_depend_on_source_order(spec in world_spec()) {
            // Same readings, with the two sources' updates interleaved differently.
            let mut endpoints_first = spec.clone();
            endpoints_first.sort_by_key(|x| x.2);
            let mut records_first = spec.clone();
            records_first.sort_by_key(|x| !x.2);
            // Keep each source's own sequence: a stable sort by source does.
            prop_assert_eq!(build(&endpoints_first, &[0, 1, 2]), build(&records_first, &[0, 1, 2]));
        }

        #[test]
        fn one_artifact_at_target_everywhere_means_no_findings(
            targets in proptest::collection::vec(version(), 1..4),
            build in 0u32..1000,
        ) {
            let names: Vec<String> = (0..targets.len()).map(|i| format!("s{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let plan: Vec<(&str, &str)> = refs.iter().zip(&targets).map(|(s, v)| (*s, v.as_str())).collect();
            let mut w = World::new(&refs, &plan);
            for (s, v) in plan {
                for env in ENVS {
                    w.run_full(s, env, Reading { build: Some(build.to_string()), health: Some(Health::Up), ..Reading::version(v) });
                }
            }
            prop_assert!(w.findings().is_empty(), "{:?}", w.messages());
        }
    }
}
