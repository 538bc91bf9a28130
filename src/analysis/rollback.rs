//! Rollback: can we get back, and should we? Pure, like the rest of
//! analysis: the matrix (with each source's history), the plan, the
//! policy and `now` come in; readiness per service and the state of every
//! live trigger come out. The cockpit, `check` and `report` all use it.
//!
//! Readiness, per service and environment (those the release reached, and
//! always the last one, prod, first); a service's readiness is its
//! readiness in the first of them, where a rollback matters:
//! - NOT READY: no known-good version to go back to, no rollback method
//!   configured, or an irreversible migration in this release;
//! - AT RISK: Argo CD auto-sync on (a manual rollback is reverted unless it
//!   is paused first), a known-good artifact that cannot be pinned (no build,
//!   commit or digest), or the "rollback rehearsed" checklist item not done;
//! - READY otherwise.
//!
//! Triggers, per service and environment where the release deployed it:
//! `health` (down fires, degraded warns) and each configured metric rule
//! against its baseline. A value
//! at or past the threshold fires; at or past half-way from the baseline to
//! the threshold warns; NaN and "no data" are shown as such and never fire.
//! A metric trigger carries the error of the last query of the metrics
//! source feeding it (beside the last good value, if one is kept): such a
//! trigger is not clear, and the verdict holds on it.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{Cell, Matrix};
use crate::model::rollback::{Artifact, Migration, TriggerRule, trim_float};
use crate::model::{CellKey, EnvIdx, Fleet, Health, MetricBaseline, MetricValue, ServiceIdx, version};

/// The id of the checklist item that says the rollback was rehearsed.
pub(crate) const REHEARSED_ITEM: &str = "rollback-tested";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readiness {
    Ready,
    AtRisk,
    NotReady,
}

impl Readiness {
    pub fn label(self) -> &'static str {
        match self {
            Readiness::Ready => "READY",
            Readiness::AtRisk => "AT RISK",
            Readiness::NotReady => "NOT READY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// NaN, no data, no baseline: shown as such, never firing.
    NoData,
    Ok,
    Warn,
    Firing,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::NoData => "NO DATA",
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Firing => "FIRING",
        }
    }

    /// A glyph per level, so every front end reads without colour.
    pub fn glyph(self) -> &'static str {
        match self {
            Level::Firing => "▲",
            Level::Warn => "△",
            Level::Ok => "·",
            Level::NoData => "?",
        }
    }
}

/// Where a known-good version comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum KnownGoodFrom {
    /// A source's own history (deployment records, Argo CD, ReplicaSets).
    Source(String),
    /// flightdeck's journal: it ran long enough without going down.
    Journal,
    /// The release has not replaced it here yet: what runs now is what a
    /// rollback would return to.
    Running,
}

impl KnownGoodFrom {
    pub(crate) fn describe(&self) -> String {
        match self {
            KnownGoodFrom::Source(name) => name.clone(),
            KnownGoodFrom::Journal => "journal".into(),
            KnownGoodFrom::Running => "running now".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownGood {
    #[serde(flatten)]
    pub artifact: Artifact,
    pub from: KnownGoodFrom,
}

/// How to roll back, with the versions filled in. Never executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "text")]
pub enum Method {
    Command(String),
    Runbook(String),
}

impl Method {
    pub fn text(&self) -> &str {
        match self {
            Method::Command(t) | Method::Runbook(t) => t,
        }
    }
}

/// One service in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvRollback {
    #[serde(skip)]
    pub env: EnvIdx,
    pub environment: Arc<str>,
    pub current: Option<String>,
    pub known_good: Option<KnownGood>,
    pub method: Option<Method>,
    /// Argo CD auto-sync is on for this cell.
    pub auto_sync: bool,
    pub readiness: Readiness,
    pub reasons: Vec<Cow<'static, str>>,
    /// Where a rollback here goes, as the rollback banner says it.
    #[serde(skip)]
    pub target: RollbackTarget,
    /// The release's version (its target or newer) runs here; for a service
    /// outside the plan, the release has reached this environment.
    #[serde(skip)]
    pub deployed: bool,
    /// The cockpit shows this environment for the service: the release
    /// runs here, or a trigger warns or fires here; where neither holds
    /// anywhere, the latest environment (as it runs now).
    #[serde(skip)]
    pub shown: bool,
    /// Readiness leaving out whether the rollback was rehearsed (what the
    /// checklist's own rehearsal item asks about).
    #[serde(skip)]
    pub unrehearsed: Readiness,
}

/// Where a rollback goes, said so that it can be acted on: a command with
/// every placeholder filled, or plainly why there is none. Never a command
/// with `<unknown>` in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The method, filled with the known-good version (or needing none).
    Ready(Method),
    /// No version qualifies as known-good: the method filled with the
    /// version that ran here before, and why it is not proven good
    /// ("4.2.0, ran 1m: not proven good").
    Unproven { method: Method, caveat: String },
    /// No command can be given: why.
    None(Cow<'static, str>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRollback {
    #[serde(skip)]
    pub service: ServiceIdx,
    #[serde(rename = "service")]
    pub name: Arc<str>,
    /// Readiness in the latest environment shown (prod first).
    pub readiness: Readiness,
    /// Why it is not READY there.
    pub reasons: Vec<Cow<'static, str>>,
    pub migration: Option<Migration>,
    pub environments: Vec<EnvRollback>,
    /// Readiness where it matters on screen: the first environment shown.
    #[serde(skip)]
    pub headline: Readiness,
    /// One of its triggers fires.
    #[serde(skip)]
    pub firing: bool,
}

/// One trigger of one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerState {
    #[serde(skip)]
    pub cell: CellKey,
    pub service: Arc<str>,
    pub environment: Arc<str>,
    /// `health`, or the trigger's name (`error_rate`, …).
    pub name: Arc<str>,
    /// "down fires", "×10 baseline (min 0.01)", "≥ 0.9".
    pub rule: Arc<str>,
    #[serde(serialize_with = "value_or_null")]
    pub live: Option<MetricValue>,
    #[serde(serialize_with = "value_or_null")]
    pub baseline: Option<MetricValue>,
    pub baseline_at: Option<Timestamp>,
    pub threshold: Option<f64>,
    pub state: Level,
    /// What the level rests on, or why there is none ("NaN", "no baseline: …").
    pub note: Cow<'static, str>,
    /// The error of the last query of the metrics source feeding this
    /// trigger here (also when its last good value is kept); `None` for
    /// `health` and while the query answers. A trigger with an error is
    /// not clear: nobody can say whether it fires now.
    pub error: Option<String>,
}

impl TriggerState {
    /// "error_rate 0.12 (baseline 0.004, fires ≥ 0.04)", for the banner.
    pub fn measurement(&self) -> String {
        if &*self.name == "health" {
            return format!("health {}", self.note);
        }
        let live = self.live.map_or_else(|| "—".into(), value_text);
        let mut out = format!("{} {live}", self.name);
        let mut parts = Vec::new();
        if let Some(b) = self.baseline {
            parts.push(format!("baseline {}", value_text(b)));
        }
        if let Some(t) = self.threshold {
            parts.push(format!("fires ≥ {}", trim_float(t)));
        }
        if !parts.is_empty() {
            out.push_str(&format!(" ({})", parts.join(", ")));
        }
        out
    }
}

fn value_or_null<S: serde::Serializer>(v: &Option<MetricValue>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(MetricValue::Number(n)) if n.is_finite() => s.serialize_f64(*n),
        Some(other) => s.serialize_str(&other.to_string()),
        None => s.serialize_none(),
    }
}

/// A metric value as the pane shows it: numbers trimmed, NaN as NaN.
pub(crate) fn value_text(v: MetricValue) -> String {
    match v {
        MetricValue::Number(n) => trim_float(n),
        other => other.to_string(),
    }
}

/// Readiness and triggers for the release.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct RollbackView {
    /// When baselines are measured ("at 11-24 18:00 UTC", "1h ago").
    pub baseline: String,
    /// Shared with the engine's judgement of each service: an evaluation
    /// after one cell changed copies pointers, not rows.
    pub services: Vec<Arc<ServiceRollback>>,
    pub triggers: Vec<Arc<TriggerState>>,
    /// The environments shown, latest first.
    #[serde(skip)]
    pub envs: Vec<EnvIdx>,
    /// Per service index: its position in `services` and its triggers'
    /// range in `triggers` (they are grouped by service), for rendering
    /// without searching.
    #[serde(skip)]
    index: Vec<Option<(usize, std::ops::Range<usize>)>>,
    /// Per environment: the release has reached it (a planned service runs
    /// its target there); every one when the plan names no service.
    #[serde(skip)]
    reached: Vec<bool>,
    /// Positions in `services` in the order the cockpit lists them: firing
    /// first, then NOT READY, AT RISK, READY (by `headline`); the release's
    /// order within each.
    #[serde(skip)]
    order: Vec<usize>,
    /// Positions in `triggers` of those firing: every frame asks, few are.
    #[serde(skip)]
    firing: Vec<usize>,
}

impl RollbackView {
    pub fn firing(&self) -> impl Iterator<Item = &TriggerState> {
        self.firing.iter().filter_map(|&i| self.triggers.get(i)).map(|t| &**t).filter(|t| t.state == Level::Firing)
    }

    pub fn service(&self, service: ServiceIdx) -> Option<&ServiceRollback> {
        let (pos, _) = self.index.get(service)?.as_ref()?;
        self.services.get(*pos).map(|s| &**s)
    }

    pub(crate) fn triggers_of(&self, service: ServiceIdx) -> impl Iterator<Item = &TriggerState> {
        let range = self.index.get(service).and_then(|i| i.as_ref()).map_or(0..0, |(_, r)| r.clone());
        self.triggers.get(range).unwrap_or_default().iter().map(|t| &**t)
    }

    /// Keep only the triggers and environments `keep` accepts (`check --env`).
    pub(crate) fn retain_envs(&mut self, keep: impl Fn(EnvIdx) -> bool) {
        self.triggers.retain(|t| keep(t.cell.env));
        self.envs.retain(|&e| keep(e));
        for s in &mut self.services {
            let s = Arc::make_mut(s);
            s.environments.retain(|e| keep(e.env));
            // A service's readiness is that of its first environment left.
            (s.readiness, s.reasons) =
                s.environments.first().map_or((Readiness::Ready, Vec::new()), |e| (e.readiness, e.reasons.clone()));
        }
        self.settle();
    }

    /// Whether the release has reached `env`.
    pub fn reached(&self, env: EnvIdx) -> bool {
        self.reached.get(env).copied().unwrap_or(true)
    }

    /// The services in the order the cockpit lists them.
    pub fn ordered(&self) -> impl Iterator<Item = &ServiceRollback> {
        self.order.iter().filter_map(|&i| self.services.get(i).map(|s| &**s))
    }

    /// Index the view and derive what the cockpit shows from it (the
    /// environments shown per service, its headline readiness, the order).
    /// Run again after trigger states change (the engine's latch).
    pub(crate) fn settle(&mut self) {
        self.reindex();
        for pos in 0..self.services.len() {
            let service = self.services[pos].service;
            let range = self.index.get(service).and_then(|i| i.as_ref()).map_or(0..0, |(_, r)| r.clone());
            let triggers = self.triggers.get(range).unwrap_or_default();
            let shows = Shows::of(&self.services[pos], triggers.iter().map(|t| &**t));
            // Rows are shared: one is copied only when what it shows changes.
            if !shows.is(&self.services[pos]) {
                shows.mark(Arc::make_mut(&mut self.services[pos]));
            }
        }
        self.arrange();
    }

    /// Index the view and order its rows (each row marked already).
    fn arrange(&mut self) {
        self.reindex();
        let mut order: Vec<usize> = (0..self.services.len()).collect();
        order.sort_by_key(|&i| (!self.services[i].firing, std::cmp::Reverse(self.services[i].headline)));
        self.order = order;
    }

    fn reindex(&mut self) {
        let n = self.services.iter().map(|s| s.service + 1).max().unwrap_or(0);
        let mut index: Vec<Option<(usize, std::ops::Range<usize>)>> = vec![None; n];
        for (pos, s) in self.services.iter().enumerate() {
            index[s.service] = Some((pos, 0..0));
        }
        let mut start = 0;
        while start < self.triggers.len() {
            let service = self.triggers[start].cell.service;
            let end = start + self.triggers[start..].iter().take_while(|t| t.cell.service == service).count();
            if let Some(Some((_, range))) = index.get_mut(service) {
                *range = start..end;
            }
            start = end;
        }
        self.index = index;
        self.firing = (0..self.triggers.len()).filter(|&i| self.triggers[i].state == Level::Firing).collect();
    }
}

/// What the cockpit shows of a service, from its row and its triggers.
struct Shows {
    firing: bool,
    headline: Readiness,
    /// Per environment of the row.
    shown: Vec<bool>,
}

impl Shows {
    fn of<'a>(s: &ServiceRollback, triggers: impl Iterator<Item = &'a TriggerState> + Clone) -> Shows {
        let firing = triggers.clone().any(|t| t.state == Level::Firing);
        let alarm = |env: EnvIdx| triggers.clone().any(|t| t.cell.env == env && t.state >= Level::Warn);
        let mut shown: Vec<bool> = s.environments.iter().map(|e| e.deployed || alarm(e.env)).collect();
        if !shown.contains(&true)
            && let Some(first) = shown.first_mut()
        {
            *first = true;
        }
        let headline =
            s.environments.iter().zip(&shown).find(|(_, shown)| **shown).map_or(s.readiness, |(e, _)| e.readiness);
        Shows { firing, headline, shown }
    }

    fn is(&self, s: &ServiceRollback) -> bool {
        s.firing == self.firing
            && s.headline == self.headline
            && s.environments.iter().zip(&self.shown).all(|(e, shown)| e.shown == *shown)
    }

    fn mark(self, s: &mut ServiceRollback) {
        s.firing = self.firing;
        s.headline = self.headline;
        for (e, shown) in s.environments.iter_mut().zip(self.shown) {
            e.shown = shown;
        }
    }
}

/// What the checklist's "rollback rehearsed" item says, if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rehearsal {
    /// The release has no such item: nothing to ask.
    NotAsked,
    Done,
    NotDone,
}

/// The services rollback is about: the planned ones, or every service when
/// the plan names none.
pub(crate) fn services_in_scope(fleet: &Fleet) -> Vec<ServiceIdx> {
    match &fleet.release {
        Some(plan) if !plan.targets.is_empty() => plan.targets.iter().map(|(s, _)| *s).collect(),
        _ => (0..fleet.services.len()).collect(),
    }
}

/// Per environment, whether the release has reached it; every one when the
/// plan names no service.
pub(crate) fn reached(fleet: &Fleet, matrix: &Matrix) -> Vec<bool> {
    let planned = fleet.release.as_ref().is_some_and(|p| !p.targets.is_empty());
    if planned { super::findings::reached_environments(fleet, matrix) } else { vec![true; fleet.environments.len()] }
}

/// The environments shown, given which the release reached: those, and
/// always the last one; latest first.
pub(crate) fn envs_reached(fleet: &Fleet, reached: &[bool]) -> Vec<EnvIdx> {
    let n = fleet.environments.len();
    (0..n).rev().filter(|&e| e + 1 == n || reached.get(e).copied().unwrap_or(false)).collect()
}

pub fn evaluate(fleet: &Fleet, matrix: &Matrix, now: Timestamp, rehearsal: Rehearsal) -> RollbackView {
    let reached = reached(fleet, matrix);
    let envs = envs_reached(fleet, &reached);
    let mut services = Vec::new();
    let mut triggers = Vec::new();
    for service in services_in_scope(fleet) {
        let (row, own, _) = of_service(fleet, matrix, service, &envs, &reached, now, rehearsal);
        services.push(row);
        triggers.extend(own);
    }
    assemble(fleet, services, triggers, envs, reached)
}

/// The view from its parts: each service's row and its triggers (grouped
/// by service, in the order of the rows), for `envs` (latest first).
pub(crate) fn assemble(
    fleet: &Fleet,
    services: Vec<Arc<ServiceRollback>>,
    triggers: Vec<Arc<TriggerState>>,
    envs: Vec<EnvIdx>,
    reached: Vec<bool>,
) -> RollbackView {
    let mut view = RollbackView {
        baseline: fleet.rollback.baseline.describe(),
        services,
        triggers,
        envs,
        index: Vec::new(),
        reached,
        order: Vec::new(),
        firing: Vec::new(),
    };
    // Each row was marked by `of_service`.
    view.arrange();
    view
}

/// One service's rollback row over `envs` (latest first), and its
/// triggers there (latest environment first). What it reads: the
/// service's own cells, which environments the release reached, `now`.
pub(crate) fn of_service(
    fleet: &Fleet,
    matrix: &Matrix,
    service: ServiceIdx,
    envs: &[EnvIdx],
    reached: &[bool],
    now: Timestamp,
    rehearsal: Rehearsal,
) -> (Arc<ServiceRollback>, Vec<Arc<TriggerState>>, super::findings::Until) {
    let target = fleet.release.as_ref().and_then(|p| p.target(service));
    // What a rollback goes back to reads the clock only while the shown
    // source's newest entry is not what runs (how long it ran is open).
    let until = envs
        .iter()
        .any(|&env| {
            let cell = matrix.get(CellKey { service, env });
            let shown = cell.shown();
            let current = shown.and_then(|o| o.last_ok.as_ref()).and_then(|s| s.reading.version.as_deref());
            current.is_some_and(|c| shown.and_then(|o| o.history.last()).is_some_and(|h| *h.version() != *c))
        })
        .then_some(super::findings::EVERY_TIME)
        .flatten();
    let per_env: Vec<EnvRollback> = envs
        .iter()
        .map(|&env| {
            let mut e = assess(fleet, matrix, service, env, now, rehearsal);
            e.deployed = match target {
                Some(target) => matrix
                    .get(CellKey { service, env })
                    .version()
                    .is_some_and(|v| version::compare(v, target) != Some(std::cmp::Ordering::Less)),
                None => reached.get(env).copied().unwrap_or(true),
            };
            e
        })
        .collect();
    // The call is about the latest environment (prod, or where the
    // release got furthest): a rollback there is the one that matters.
    let (readiness, reasons) =
        per_env.first().map_or((Readiness::Ready, Vec::new()), |e| (e.readiness, e.reasons.clone()));
    let mut row = ServiceRollback {
        service,
        name: fleet.services[service].name.clone(),
        readiness,
        reasons,
        migration: fleet.release.as_ref().and_then(|p| p.migration(service)),
        environments: per_env,
        headline: readiness,
        firing: false,
    };
    let mut triggers = Vec::new();
    for &env in envs {
        cell_triggers(fleet, matrix, CellKey { service, env }, &mut triggers);
    }
    Shows::of(&row, triggers.iter()).mark(&mut row);
    (Arc::new(row), triggers.into_iter().map(Arc::new).collect(), until)
}

const NO_METHOD: &str = "no rollback method: set `rollback` (a command or runbook link) in its [[services]] entry";
const IRREVERSIBLE: &str = "irreversible migration in this release";
const NOT_REHEARSED: &str = "rollback not rehearsed (checklist item rollback-tested not done)";
const AUTO_SYNC: &str = "Argo CD auto-sync is on: pause it first, or a manual rollback is reverted";

/// Readiness of one service in one environment.
pub(crate) fn assess(
    fleet: &Fleet,
    matrix: &Matrix,
    service: ServiceIdx,
    env: EnvIdx,
    now: Timestamp,
    rehearsal: Rehearsal,
) -> EnvRollback {
    let cell = matrix.get(CellKey { service, env });
    let svc = &fleet.services[service];
    let environment = fleet.environments[env].name.clone();
    let current = cell.version().map(str::to_string);
    let known_good = known_good(fleet, cell, service, now);
    let auto_sync =
        cell.deployments().filter_map(|o| o.last_ok.as_ref()).any(|s| s.reading.attribute("auto_sync") == Some("true"));
    let method_with = |previous: Option<&Artifact>| {
        svc.rollback.as_deref().map(|template| {
            let text = fill(template, &svc.name, &environment, current.as_deref(), previous);
            if text.starts_with("https://") || text.starts_with("http://") {
                Method::Runbook(text)
            } else {
                Method::Command(text)
            }
        })
    };
    let method = method_with(known_good.as_ref().map(|k| &k.artifact));
    // Said twice at most (the target's reason and the readiness's), made once.
    let mut why_none = None;
    let mut no_known_good = || why_none.get_or_insert_with(|| no_known_good_reason(fleet, cell)).clone();
    let target = match (&method, &known_good) {
        (None, _) => RollbackTarget::None(NO_METHOD.into()),
        (Some(m), Some(k)) => match unfilled(svc.rollback.as_deref(), current.as_deref(), Some(&k.artifact)) {
            None => RollbackTarget::Ready(m.clone()),
            Some(gap) => RollbackTarget::None(
                format!(
                    "back to {} (from {}), but the rollback method needs {{{gap}}}, which is not known for it",
                    k.artifact.version,
                    k.from.describe()
                )
                .into(),
            ),
        },
        (Some(m), None) => {
            let previous =
                previous_run(cell.shown().map(|o| o.history.as_slice()).unwrap_or_default(), current.as_deref(), now);
            let why = no_known_good();
            match previous {
                Some(p) => {
                    let artifact =
                        Artifact { version: p.version.clone(), build: p.build.clone(), ..Artifact::default() };
                    let caveat = p.caveat();
                    match (
                        unfilled(svc.rollback.as_deref(), current.as_deref(), Some(&artifact)),
                        method_with(Some(&artifact)),
                    ) {
                        (None, Some(method)) => RollbackTarget::Unproven { method, caveat },
                        (Some(gap), _) => RollbackTarget::None(
                            format!("{why}; the one before ({caveat}) has no {{{gap}}} for the rollback method").into(),
                        ),
                        (None, None) => RollbackTarget::None(NO_METHOD.into()),
                    }
                }
                // A method that names no version (`rollout undo`) still works.
                None => match unfilled(svc.rollback.as_deref(), current.as_deref(), None) {
                    None => RollbackTarget::Unproven { method: m.clone(), caveat: why.into_owned() },
                    Some(_) => RollbackTarget::None(why),
                },
            }
        }
    };

    let mut readiness = Readiness::Ready;
    let mut reasons: Vec<Cow<'static, str>> = Vec::new();
    let mut flag = |level: Readiness, reason: Cow<'static, str>| {
        readiness = readiness.max(level);
        reasons.push(reason);
    };
    match &known_good {
        None => flag(Readiness::NotReady, no_known_good()),
        Some(k) if !k.artifact.identifiable() => flag(
            Readiness::AtRisk,
            format!("{} cannot be pinned: no build, commit or digest known", k.artifact.version).into(),
        ),
        Some(_) => {}
    }
    if method.is_none() {
        flag(Readiness::NotReady, NO_METHOD.into());
    }
    if fleet.release.as_ref().and_then(|p| p.migration(service)) == Some(Migration::Irreversible) {
        flag(Readiness::NotReady, IRREVERSIBLE.into());
    }
    if auto_sync {
        flag(Readiness::AtRisk, AUTO_SYNC.into());
    }
    let unrehearsed = readiness;
    if rehearsal == Rehearsal::NotDone {
        readiness = readiness.max(Readiness::AtRisk);
        reasons.push(NOT_REHEARSED.into());
    }
    EnvRollback {
        env,
        environment,
        current,
        known_good,
        method,
        auto_sync,
        readiness,
        reasons,
        target,
        deployed: false,
        shown: false,
        unrehearsed,
    }
}

fn no_known_good_reason(fleet: &Fleet, cell: &Cell) -> Cow<'static, str> {
    if cell.version().is_none() {
        return "no known-good version: nothing read here yet".into();
    }
    format!(
        "no known-good version: no source history, and no earlier version in the journal ran {} without going down",
        crate::model::time::short_age(fleet.rollback.known_good_after)
    )
    .into()
}

/// The version a rollback would return to.
fn known_good(fleet: &Fleet, cell: &Cell, service: ServiceIdx, now: Timestamp) -> Option<KnownGood> {
    let shown = cell.shown()?;
    let seen = shown.last_ok.as_ref()?;
    let current = seen.reading.version.as_deref()?;
    // Not deployed here yet: what runs now is what we would go back to,
    // as long as it is not down.
    let target = fleet.release.as_ref().and_then(|p| p.target(service));
    if let Some(target) = target
        && version::compare(current, target) == Some(std::cmp::Ordering::Less)
        && seen.reading.health != Some(Health::Down)
    {
        let r = &seen.reading;
        return Some(KnownGood {
            artifact: Artifact {
                version: current.to_string(),
                build: r.build.clone(),
                commit: r.commit.clone(),
                digest: r.digest.clone(),
                deployed_at: r.deployed_at,
                reference: None,
            },
            from: KnownGoodFrom::Running,
        });
    }
    // A source's own history; observations are kept strongest evidence first.
    let from_source = cell.deployments().find_map(|o| {
        let previous = o.last_ok.as_ref()?.reading.previous.as_ref()?;
        (previous.version != current)
            .then(|| KnownGood { artifact: (**previous).clone(), from: KnownGoodFrom::Source(o.source.to_string()) })
    });
    if from_source.is_some() {
        return from_source;
    }
    journal_known_good(&shown.history, current, fleet.rollback.known_good_after, now)
}

/// The newest earlier version that stayed current at least `after` and was
/// never seen down meanwhile. `history` is oldest first.
pub(crate) fn journal_known_good(
    history: &[super::VersionRun],
    current: &str,
    after: Duration,
    now: Timestamp,
) -> Option<KnownGood> {
    let after = jiff::SignedDuration::try_from(after).unwrap_or(jiff::SignedDuration::MAX);
    let mut until = now;
    for (i, seen) in history.iter().enumerate().rev() {
        // It ran from its deployment (when a source said), else from when
        // flightdeck first saw it.
        let from = seen.deployed_at().filter(|d| *d < seen.first_seen()).unwrap_or(seen.first_seen());
        let ran = until.duration_since(from);
        let is_current = i + 1 == history.len() && *seen.version() == *current;
        if !is_current && *seen.version() != *current && !seen.seen_down && ran >= after {
            return Some(KnownGood {
                artifact: Artifact {
                    version: seen.version().to_string(),
                    build: seen.build().map(str::to_string),
                    deployed_at: Some(from),
                    ..Artifact::default()
                },
                from: KnownGoodFrom::Journal,
            });
        }
        until = seen.first_seen();
    }
    None
}

/// Fill a rollback template: `{service}`, `{env}`, `{current}`,
/// `{previous}`, `{previous_ref}`. Unknown values read `<unknown>`.
pub(crate) fn fill(
    template: &str,
    service: &str,
    env: &str,
    current: Option<&str>,
    previous: Option<&Artifact>,
) -> String {
    const UNKNOWN: &str = "<unknown>";
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let value = match &after[..close] {
                "service" => service,
                "env" => env,
                "current" => current.unwrap_or(UNKNOWN),
                "previous_ref" => previous.and_then(|p| p.reference.as_deref()).unwrap_or(UNKNOWN),
                "previous" => previous.map_or(UNKNOWN, |p| p.version.as_str()),
                _ => return None,
            };
            Some((value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The first placeholder `template` uses that has no value, if any: the
/// method would read `<unknown>` there.
fn unfilled(template: Option<&str>, current: Option<&str>, previous: Option<&Artifact>) -> Option<&'static str> {
    let template = template?;
    let missing = |name: &str| match name {
        "current" => current.is_none(),
        "previous" => previous.is_none(),
        "previous_ref" => previous.and_then(|p| p.reference.as_ref()).is_none(),
        _ => false,
    };
    let uses = |name: &str| {
        template
            .match_indices('{')
            .any(|(at, _)| template[at + 1..].strip_prefix(name).is_some_and(|after| after.starts_with('}')))
    };
    PLACEHOLDERS.iter().copied().find(|p| missing(p) && uses(p))
}

/// The version that ran in a cell before the current one, and for how long:
/// a rollback target only with its caveat, when none is known-good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreviousRun {
    pub version: String,
    pub build: Option<String>,
    pub ran: Duration,
    pub seen_down: bool,
}

impl PreviousRun {
    /// "4.2.0, ran 1m: not proven good".
    pub(crate) fn caveat(&self) -> String {
        let ran = crate::model::time::short_age(self.ran);
        if self.seen_down {
            format!("{}, ran {ran}, seen down: not good", self.version)
        } else {
            format!("{}, ran {ran}: not proven good", self.version)
        }
    }
}

/// The newest version in `history` (oldest first) other than `current`.
pub(crate) fn previous_run(
    history: &[super::VersionRun],
    current: Option<&str>,
    now: Timestamp,
) -> Option<PreviousRun> {
    let current = current?;
    let mut until = now;
    for seen in history.iter().rev() {
        if *seen.version() != *current {
            let from = seen.deployed_at().filter(|d| *d < seen.first_seen()).unwrap_or(seen.first_seen());
            let ran = Duration::try_from(until.duration_since(from)).unwrap_or_default();
            return Some(PreviousRun {
                version: seen.version().to_string(),
                build: seen.build().map(str::to_string),
                ran,
                seen_down: seen.seen_down,
            });
        }
        until = seen.first_seen();
    }
    None
}

/// The placeholders a rollback template may use.
pub(crate) const PLACEHOLDERS: &[&str] = &["service", "env", "current", "previous", "previous_ref"];

/// Check a rollback template's placeholders.
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("empty rollback method: give a command template or a runbook link".into());
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("unclosed '{{' in `{template}`"));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} in `{template}` (use {})",
                PLACEHOLDERS.iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Health and metric triggers of one cell.
fn cell_triggers(fleet: &Fleet, matrix: &Matrix, key: CellKey, out: &mut Vec<TriggerState>) {
    let cell = matrix.get(key);
    // A rollback undoes what the release deployed: a cell still on its old
    // version has nothing to roll back (its problems are findings).
    // Versions that do not compare (SHAs, odd tags) keep their triggers.
    if let Some(target) = fleet.release.as_ref().and_then(|p| p.target(key.service))
        && cell.version().is_none_or(|v| version::compare(v, target) == Some(std::cmp::Ordering::Less))
    {
        return;
    }
    let service = &fleet.services[key.service].name;
    let environment = &fleet.environments[key.env].name;
    let state =
        |name: &Arc<str>, rule: &Arc<str>, outcome: Outcome, live, baseline: Option<&MetricBaseline>| TriggerState {
            cell: key,
            service: service.clone(),
            environment: environment.clone(),
            name: name.clone(),
            rule: rule.clone(),
            live,
            baseline: baseline.and_then(|b| b.value),
            baseline_at: baseline.map(|b| b.at),
            threshold: outcome.threshold,
            state: outcome.level,
            note: outcome.note,
            error: None,
        };
    if cell.deployments().next().is_some() {
        // The worst health any deployment source reports, not only the
        // shown one's; and a service that stopped answering is no "up".
        let worst = cell.deployments().filter_map(|o| o.last_ok.as_ref()?.reading.health).max_by_key(|h| match h {
            Health::Down => 3,
            Health::Degraded => 2,
            Health::Up => 1,
            Health::Unknown => 0,
        });
        let mut outcome = match cell.reading() {
            None => Outcome::no_data("not read"),
            Some(_) => health_outcome(worst),
        };
        if cell.all_failing() && outcome.level < Level::Warn {
            let since = cell.deployments().filter_map(|o| o.error.as_ref().map(|f| f.since)).min();
            let since = since.map(|t| format!(" since {}", t.strftime("%H:%M:%S UTC"))).unwrap_or_default();
            outcome = Outcome { level: Level::Warn, threshold: None, note: format!("not answering{since}").into() };
        }
        static HEALTH: LazyLock<(Arc<str>, Arc<str>)> =
            LazyLock::new(|| ("health".into(), "down fires, degraded warns".into()));
        out.push(state(&HEALTH.0, &HEALTH.1, outcome, None, None));
    }
    for spec in &fleet.rollback.triggers {
        if spec.environments.as_ref().is_some_and(|envs| !envs.contains(&key.env)) {
            continue;
        }
        // The freshest reading of this metric by any metrics source.
        let found = cell
            .metrics()
            .filter_map(|o| {
                let seen = o.last_ok.as_ref()?;
                let metric = seen.reading.metrics.iter().find(|m| m.name == spec.metric)?;
                Some((seen.fetched_at, o, metric))
            })
            .max_by_key(|(at, _, _)| *at);
        let rule = spec.described();
        match found {
            // Not read here, but a metrics source that never answered is
            // failing: it may well be the one serving this metric (a query
            // that returns two series fails the whole reading). Its error
            // is the trigger's; "nobody read it yet" would be a lie.
            None => match never_read_failing(cell, &spec.metric) {
                Some((obs, f)) => {
                    let since = f.since.strftime("%H:%M:%S UTC");
                    let outcome = Outcome::no_data(format!("{} failing since {since}: no value yet", obs.source));
                    let mut t = state(&spec.name, rule, outcome, None, None);
                    t.error = Some(f.error.to_string());
                    out.push(t);
                }
                None if fleet.rollback.default_triggers => {}
                None => out.push(state(
                    &spec.name,
                    rule,
                    Outcome::no_data(format!("no metrics source has read {} here yet", spec.metric)),
                    None,
                    None,
                )),
            },
            Some((at, obs, metric)) => {
                let mut outcome = evaluate_rule(spec.rule, metric.value, metric.baseline.as_ref());
                if obs.error.is_some() {
                    // A flapping Prometheus must not clear a firing trigger:
                    // keep the last value, say it is old, and carry the error.
                    let from = at.strftime("%H:%M:%S UTC");
                    let sep = if outcome.note.is_empty() { "" } else { "; " };
                    outcome.note =
                        format!("{}{sep}last value from {from}, {} failing", outcome.note, obs.source).into();
                }
                let mut t = state(&spec.name, rule, outcome, Some(metric.value), metric.baseline.as_ref());
                t.error = obs.error.as_ref().map(|f| f.error.to_string());
                out.push(t);
            }
        }
    }
}

/// A metrics source of the cell that has never read it and failed on its
/// last attempt, with its failure: one whose error names `metric` first.
fn never_read_failing<'a>(cell: &'a Cell, metric: &str) -> Option<(&'a super::Observation, &'a super::Failure)> {
    let mut failing = cell.metrics().filter(|o| o.last_ok.is_none()).filter_map(|o| Some((o, o.error.as_ref()?)));
    let first = failing.next()?;
    let names = |(_, f): &(&super::Observation, &super::Failure)| f.error.to_string().contains(metric);
    if names(&first) { Some(first) } else { failing.find(names).or(Some(first)) }
}

/// A trigger's level, the threshold it was held against, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub level: Level,
    pub threshold: Option<f64>,
    pub note: Cow<'static, str>,
}

impl Outcome {
    fn no_data(note: impl Into<Cow<'static, str>>) -> Outcome {
        Outcome { level: Level::NoData, threshold: None, note: note.into() }
    }
}

fn health_outcome(health: Option<Health>) -> Outcome {
    let (level, note) = match health {
        Some(Health::Down) => (Level::Firing, "down"),
        Some(Health::Degraded) => (Level::Warn, "degraded"),
        Some(Health::Up) => (Level::Ok, "up"),
        Some(Health::Unknown) | None => (Level::NoData, "not reported"),
    };
    Outcome { level, threshold: None, note: Cow::Borrowed(note) }
}

/// Hold a live value against a rule and its baseline. Pure.
///
/// Fires at or past the threshold; warns at or past half-way from the
/// baseline (0 for a fixed threshold) to the threshold. NaN and no data
/// (live or baseline) never fire; a baseline of 0 cannot be multiplied, so
/// a factor rule then needs `min` to have a threshold at all.
pub(crate) fn evaluate_rule(rule: TriggerRule, live: MetricValue, baseline: Option<&MetricBaseline>) -> Outcome {
    let live_value = live;
    let live = match live {
        MetricValue::Number(v) => v,
        MetricValue::PosInf => f64::INFINITY,
        MetricValue::NegInf => f64::NEG_INFINITY,
        MetricValue::NaN => return Outcome::no_data("NaN"),
        MetricValue::NoData => return Outcome::no_data("no data"),
    };
    let (threshold, from) = match rule {
        TriggerRule::Above(t) => (t, 0.0_f64.min(t)),
        TriggerRule::Factor { factor, min } => {
            let Some(baseline) = baseline else {
                if let Some(m) = min {
                    let mut outcome = evaluate_rule(TriggerRule::Above(m), live_value, None);
                    outcome.note = format!("no baseline: held against min; {}", outcome.note).into();
                    return outcome;
                }
                return Outcome::no_data("no baseline");
            };
            let base = match (baseline.value, &baseline.error) {
                (Some(MetricValue::Number(b)), None) if b.is_finite() => b,
                // Without a usable baseline, `min` is still a threshold.
                (_, error) if min.is_some() => {
                    let why = match (baseline.value, error) {
                        (_, Some(e)) => format!("no baseline ({e})"),
                        (Some(v), None) => format!("baseline is {v}"),
                        (None, None) => "no baseline".to_string(),
                    };
                    let mut outcome = evaluate_rule(TriggerRule::Above(min.unwrap_or_default()), live_value, None);
                    outcome.note = format!("{why}: held against min; {}", outcome.note).into();
                    return outcome;
                }
                (_, Some(e)) => return Outcome::no_data(format!("no baseline: {e}")),
                (Some(other), None) => return Outcome::no_data(format!("baseline is {other}")),
                (None, None) => return Outcome::no_data("no baseline"),
            };
            let scaled = (base > 0.0).then_some(base * factor);
            let threshold = match (scaled, min) {
                (Some(s), Some(m)) => s.max(m),
                (Some(s), None) => s,
                (None, Some(m)) => m,
                (None, None) => {
                    return Outcome::no_data(format!(
                        "baseline is {}: a multiple of it means nothing; set `min`",
                        trim_float(base)
                    ));
                }
            };
            (threshold, base.max(0.0).min(threshold))
        }
    };
    let warn_at = from + (threshold - from) / 2.0;
    // "At the threshold" must not depend on how 0.01 × 10 rounds.
    let reaches = |v: f64, t: f64| v >= t || (t - v).abs() <= 1e-12 * t.abs();
    let level = if reaches(live, threshold) {
        Level::Firing
    } else if reaches(live, warn_at) && threshold > from {
        Level::Warn
    } else {
        Level::Ok
    };
    let note = match level {
        Level::Firing => "at or past the threshold".to_string(),
        Level::Warn => format!("past half-way to {}", trim_float(threshold)),
        _ if threshold > from => format!("warns at {}", trim_float(warn_at)),
        _ => String::new(),
    };
    Outcome { level, threshold: Some(threshold), note: note.into() }
}

#[cfg(test)]
mod tests;
