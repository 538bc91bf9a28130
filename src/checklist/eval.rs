//! Evaluate a checklist: manual ticks and sign-offs folded from the
//! release journal, live conditions evaluated against the matrix and the
//! findings, due times from the window. Pure: everything comes in.

use jiff::Timestamp;
use serde::Serialize;

use super::condition::Condition;
use super::template::Template;
use crate::analysis::Matrix;
use crate::analysis::findings::Finding;
use crate::analysis::verdict::{Blocker, BlockerReason};
use crate::journal::release::{Decision, ReleaseAction, ReleaseEvent};
use crate::model::{CellKey, Fleet, Health, version};

/// Who did something, when, with what note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    pub by: String,
    pub at: Timestamp,
    pub note: Option<String>,
}

/// A note left on an item (or on the release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteEntry {
    pub item: Option<String>,
    pub by: String,
    pub at: Timestamp,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionEntry {
    pub decision: Decision,
    pub by: String,
    pub at: Timestamp,
    pub reason: String,
}

/// What people did, folded from the journal in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manual {
    pub ticks: Vec<(String, Mark)>,
    pub signoffs: Vec<(String, Mark)>,
    pub notes: Vec<NoteEntry>,
    pub decisions: Vec<DecisionEntry>,
}

impl Manual {
    pub fn fold(events: &[ReleaseEvent]) -> Manual {
        let mut m = Manual::default();
        for e in events {
            let mark = |note: &Option<String>| Mark { by: e.by.clone(), at: e.at, note: note.clone() };
            match &e.action {
                ReleaseAction::Tick { item, note } => {
                    m.ticks.retain(|(i, _)| i != item);
                    m.ticks.push((item.clone(), mark(note)));
                }
                ReleaseAction::Untick { item, .. } => m.ticks.retain(|(i, _)| i != item),
                ReleaseAction::SignOff { role, note } => {
                    m.signoffs.retain(|(r, _)| r != role);
                    m.signoffs.push((role.clone(), mark(note)));
                }
                ReleaseAction::RevokeSignOff { role, .. } => m.signoffs.retain(|(r, _)| r != role),
                ReleaseAction::Note { item, text } => {
                    m.notes.push(NoteEntry { item: item.clone(), by: e.by.clone(), at: e.at, text: text.clone() })
                }
                ReleaseAction::Decision { decision, reason } => m.decisions.push(DecisionEntry {
                    decision: *decision,
                    by: e.by.clone(),
                    at: e.at,
                    reason: reason.clone(),
                }),
            }
            // Notes that come with a tick or a sign-off are notes too.
            match &e.action {
                ReleaseAction::Tick { item, note: Some(text) } | ReleaseAction::Untick { item, note: Some(text) } => {
                    m.notes.push(NoteEntry { item: Some(item.clone()), by: e.by.clone(), at: e.at, text: text.clone() })
                }
                _ => {}
            }
        }
        m
    }

    pub fn tick(&self, item: &str) -> Option<&Mark> {
        self.ticks.iter().find(|(i, _)| i == item).map(|(_, m)| m)
    }

    pub fn signoff(&self, role: &str) -> Option<&Mark> {
        self.signoffs.iter().find(|(r, _)| r == role).map(|(_, m)| m)
    }

    pub fn decision(&self) -> Option<&DecisionEntry> {
        self.decisions.last()
    }
}

/// The value of a live condition, with the evidence for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "value", content = "evidence", rename_all = "snake_case")]
pub enum Truth {
    True(String),
    False(String),
    /// Cannot be evaluated (no window, no targets, not available yet).
    Unknown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ticked by a person, or by the cockpit when its condition holds.
    Done,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemState {
    pub phase: usize,
    pub id: String,
    pub status: Status,
    /// The live condition's value, for items bound to one.
    pub condition: Option<Truth>,
    /// The person who ticked it (items without a condition, or whose
    /// condition cannot be evaluated).
    pub ticked: Option<Mark>,
    pub due: Option<Timestamp>,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignoffState {
    pub phase: usize,
    pub role: String,
    pub signed: Option<Mark>,
    pub due: Option<Timestamp>,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistState {
    pub items: Vec<ItemState>,
    pub signoffs: Vec<SignoffState>,
    pub manual: Manual,
}

impl ChecklistState {
    pub fn item(&self, id: &str) -> Option<&ItemState> {
        self.items.iter().find(|i| i.id == id)
    }

    /// (done, total) over a phase's items and sign-offs.
    pub(crate) fn phase_progress(&self, phase: usize) -> (usize, usize) {
        let items = self.items.iter().filter(|i| i.phase == phase);
        let signoffs = self.signoffs.iter().filter(|s| s.phase == phase);
        let done = items.clone().filter(|i| i.status == Status::Done).count()
            + signoffs.clone().filter(|s| s.signed.is_some()).count();
        (done, items.count() + signoffs.count())
    }

    pub fn overall_progress(&self) -> (usize, usize) {
        let done = self.items.iter().filter(|i| i.status == Status::Done).count()
            + self.signoffs.iter().filter(|s| s.signed.is_some()).count();
        (done, self.items.len() + self.signoffs.len())
    }

    /// The next thing due that is not done, with when.
    pub(crate) fn next_due<'a>(&'a self, template: &'a Template, now: Timestamp) -> Option<(Timestamp, String)> {
        let items = self.items.iter().filter(|i| i.status == Status::Pending).filter_map(|i| {
            let title = template.item(&i.id).map_or(i.id.as_str(), |(_, it)| it.title.as_str());
            i.due.filter(|d| *d >= now).map(|d| (d, title.to_string()))
        });
        let signoffs = self
            .signoffs
            .iter()
            .filter(|s| s.signed.is_none())
            .filter_map(|s| s.due.filter(|d| *d >= now).map(|d| (d, format!("sign-off: {}", s.role))));
        items.chain(signoffs).min_by_key(|(d, _)| *d)
    }
}

/// Everything a condition may look at.
pub struct Facts<'a> {
    pub fleet: &'a Fleet,
    pub matrix: &'a Matrix,
    pub findings: &'a [Finding],
    pub now: Timestamp,
    /// Rollback readiness and triggers, when analysed.
    pub rollback: Option<&'a crate::analysis::rollback::RollbackView>,
}

impl Facts<'_> {
    /// Whether a planned service runs its target in `env` (false without
    /// a plan that names services). The rollback view knows it already.
    fn reached(&self, env: usize) -> bool {
        let planned = self.fleet.release.as_ref().is_some_and(|p| !p.targets.is_empty());
        planned
            && match self.rollback {
                Some(view) => view.reached(env),
                None => crate::analysis::findings::reached_environments(self.fleet, self.matrix)[env],
            }
    }
}

pub fn evaluate(template: &Template, events: &[ReleaseEvent], facts: &Facts<'_>) -> ChecklistState {
    let manual = Manual::fold(events);
    let window = facts.fleet.release.as_ref().and_then(|r| r.window);
    let start = window.map(|w| w.start);
    let due_of = |phase: usize| start.and_then(|s| s.checked_add(template.phases[phase].due).ok());
    // Work due before the window is late at its due time. Work due at or
    // after T-0 (the deployment, verification, …) happens during the
    // window: it is late only once both its due time and the window's end
    // have passed, so a deployment not done at 18:01 is not "overdue".
    let late_after = |phase: usize| {
        let due = due_of(phase)?;
        match window {
            Some(w) if template.phases[phase].due >= jiff::SignedDuration::ZERO => Some(due.max(w.end)),
            _ => Some(due),
        }
    };
    let items = template
        .items()
        .map(|(phase, item)| {
            let condition = item.condition.as_ref().map(|c| truth(c, &manual, facts));
            let ticked = manual.tick(&item.id).cloned();
            // The cockpit decides where it can; a person where it cannot.
            let done = match &condition {
                Some(Truth::True(_)) => true,
                Some(Truth::False(_)) => false,
                Some(Truth::Unknown(_)) | None => ticked.is_some(),
            };
            let due = due_of(phase);
            ItemState {
                phase,
                id: item.id.clone(),
                status: if done { Status::Done } else { Status::Pending },
                condition,
                ticked,
                due,
                overdue: !done && late_after(phase).is_some_and(|d| facts.now > d),
            }
        })
        .collect();
    let signoffs = template
        .signoffs()
        .map(|(phase, role)| {
            let signed = manual.signoff(role).cloned();
            let due = due_of(phase);
            SignoffState {
                phase,
                role: role.to_string(),
                overdue: signed.is_none() && due.is_some_and(|d| facts.now > d),
                signed,
                due,
            }
        })
        .collect();
    ChecklistState { items, signoffs, manual }
}

/// No trigger firing in `env`, with at least one trigger that has data.
fn triggers_clear(facts: &Facts<'_>, env: usize) -> Truth {
    use crate::analysis::rollback::Level;
    let name = &facts.fleet.environments[env].name;
    let Some(view) = facts.rollback else {
        return Truth::Unknown("rollback triggers not evaluated".into());
    };
    let here: Vec<_> = view.triggers.iter().filter(|t| t.cell.env == env).collect();
    let firing: Vec<String> =
        here.iter().filter(|t| t.state == Level::Firing).map(|t| format!("{} {}", t.service, t.name)).collect();
    if !firing.is_empty() {
        return Truth::False(format!("firing in {name}: {}", shorten(&firing)));
    }
    // A trigger whose query fails is not clear, even on a kept last value.
    let failing: Vec<String> =
        here.iter().filter_map(|t| Some(format!("{} {}: {}", t.service, t.name, t.error.as_ref()?))).collect();
    if !failing.is_empty() {
        return Truth::Unknown(format!("query failing in {name} for {}: check by hand", shorten(&failing)));
    }
    let with_data = here.iter().filter(|t| t.state != Level::NoData).count();
    let without: Vec<String> =
        here.iter().filter(|t| t.state == Level::NoData).map(|t| format!("{} {}", t.service, t.name)).collect();
    if here.is_empty() {
        // Triggers watch what the release deployed: before it, none; after
        // it, not even a health reading feeds one.
        let deployed = facts.reached(env);
        return Truth::Unknown(if deployed {
            format!("nothing in {name} feeds a rollback trigger (no metrics, no health reported): check by hand")
        } else {
            format!("the release is not deployed in {name} yet: no trigger to watch")
        });
    }
    if with_data == 0 || !without.is_empty() {
        return Truth::Unknown(format!("no data in {name} for {}: check by hand", shorten(&without)));
    }
    let warn = here.iter().filter(|t| t.state == Level::Warn).count();
    let warn = if warn > 0 { format!(", {} warning", count(warn, "trigger")) } else { String::new() };
    Truth::True(format!("{} clear in {name}{warn}", count(with_data, "trigger")))
}

/// Every service in scope can be rolled back in `env` (AT RISK counts as
/// ready, and is named).
fn rollback_ready(facts: &Facts<'_>, env: usize) -> Truth {
    use crate::analysis::rollback::{self, Readiness, Rehearsal};
    let name = &facts.fleet.environments[env].name;
    // The rehearsal is this check's own item: leave it out, or the item
    // could never be ticked by the condition it asks about.
    let services = rollback::services_in_scope(facts.fleet);
    let mut not_ready = Few::default();
    let mut at_risk = Few::default();
    for service in services {
        if facts.matrix.get(CellKey { service, env }).version().is_none() {
            // Not read (yet, or `check --env` stops before it): unknown.
            return Truth::Unknown(format!("{} in {name} not read", facts.fleet.services[service].name));
        }
        // The view assessed it already (with the rehearsal: its reason is
        // the last, and it is what `unrehearsed` leaves out).
        let seen =
            facts.rollback.and_then(|v| v.service(service)).and_then(|s| s.environments.iter().find(|e| e.env == env));
        let assessed;
        let (readiness, first) = match seen {
            Some(e) => (e.unrehearsed, e.reasons.first()),
            None => {
                assessed = rollback::assess(facts.fleet, facts.matrix, service, env, facts.now, Rehearsal::NotAsked);
                (assessed.readiness, assessed.reasons.first())
            }
        };
        let svc = &facts.fleet.services[service].name;
        match readiness {
            Readiness::NotReady => not_ready.push_with(|| format!("{svc} ({})", first.map_or("", |r| r.as_ref()))),
            Readiness::AtRisk => at_risk.push_with(|| svc.to_string()),
            Readiness::Ready => {}
        }
    }
    if !not_ready.is_empty() {
        return Truth::False(format!("not ready in {name}: {}", not_ready.text()));
    }
    if at_risk.is_empty() {
        Truth::True(format!("every service can roll back in {name}"))
    } else {
        Truth::True(format!("ready in {name}; at risk: {}", at_risk.text()))
    }
}

fn truth(condition: &Condition, manual: &Manual, facts: &Facts<'_>) -> Truth {
    let env_name = |e: usize| facts.fleet.environments[e].name.as_ref();
    match condition {
        Condition::Deployed(env) => {
            let Some(plan) = facts.fleet.release.as_ref().filter(|p| !p.targets.is_empty()) else {
                return Truth::Unknown("the release plan has no targets".into());
            };
            let mut behind = Few::default();
            for (service, target) in &plan.targets {
                let running = facts.matrix.get(CellKey { service: *service, env: *env }).version();
                let there = running.is_some_and(|v| {
                    matches!(version::compare(v, target), Some(std::cmp::Ordering::Equal | std::cmp::Ordering::Greater))
                });
                if !there {
                    behind.push_with(|| format!("{} (target {target})", facts.fleet.services[*service].name));
                }
            }
            let planned = plan.targets.len();
            let at = planned - behind.total;
            if behind.is_empty() {
                Truth::True(format!("{at}/{planned} planned services at target in {}", env_name(*env)))
            } else {
                Truth::False(format!("{at}/{planned} at target in {}; not yet: {}", env_name(*env), behind.text()))
            }
        }
        Condition::NoFindings(env) => {
            // Nothing read yet is not "no findings": say we cannot tell.
            let read = (0..facts.fleet.services.len())
                .any(|service| facts.matrix.get(CellKey { service, env: *env }).reading().is_some());
            if !read {
                return Truth::Unknown(format!("nothing read in {} yet", env_name(*env)));
            }
            // Before the release is deployed there, no findings says nothing
            // about the release: the item waits for it.
            let planned = facts.fleet.release.as_ref().is_some_and(|p| !p.targets.is_empty());
            if planned && !facts.reached(*env) {
                return Truth::False(format!("the release is not deployed in {} yet", env_name(*env)));
            }
            let mut here = Few::default();
            for f in facts.findings.iter().filter(|f| f.cell.env == *env) {
                here.push_with(|| format!("{} {}", f.kind, facts.fleet.services[f.cell.service].name));
            }
            if here.is_empty() {
                Truth::True(format!("no findings in {}", env_name(*env)))
            } else {
                Truth::False(format!("{} in {}: {}", count(here.total, "finding"), env_name(*env), here.text()))
            }
        }
        Condition::Healthy(env) => {
            let mut read = 0;
            let mut bad = Few::default();
            for service in 0..facts.fleet.services.len() {
                let cell = facts.matrix.get(CellKey { service, env: *env });
                if cell.deployments().next().is_none() {
                    continue;
                }
                let name = &facts.fleet.services[service].name;
                if cell.reading().is_none() && !cell.all_failing() {
                    // Not read yet: no evidence either way.
                    return Truth::Unknown(format!("{name} in {} not read yet", env_name(*env)));
                }
                read += 1;
                if cell.all_failing() {
                    bad.push_with(|| format!("{name} unreachable"));
                } else if cell.reading().and_then(|s| s.reading.health) == Some(Health::Down) {
                    bad.push_with(|| format!("{name} down"));
                }
            }
            match (read, bad.is_empty()) {
                (0, _) => Truth::Unknown(format!("no source reads {}", env_name(*env))),
                (_, true) => Truth::True(format!("{read} services healthy in {}", env_name(*env))),
                (_, false) => Truth::False(bad.text()),
            }
        }
        Condition::TriggersClear(env) => triggers_clear(facts, *env),
        Condition::RollbackReady(env) => rollback_ready(facts, *env),
        Condition::SignedOff(role) => match manual.signoff(role) {
            Some(m) => Truth::True(format!("{role} signed off by {} at {}", m.by, m.at.strftime("%H:%M UTC"))),
            None => Truth::False(format!("no sign-off from {role} yet")),
        },
        Condition::WindowOpen => match facts.fleet.release.as_ref().and_then(|r| r.window) {
            None => Truth::Unknown("the release has no window".into()),
            Some(w) if facts.now < w.start => {
                Truth::False(format!("the window opens at {}", w.start.strftime("%H:%M UTC")))
            }
            Some(w) if facts.now >= w.end => {
                Truth::False(format!("the window closed at {}", w.end.strftime("%H:%M UTC")))
            }
            Some(w) => Truth::True(format!(
                "open until {} ({} left)",
                w.end.strftime("%H:%M UTC"),
                crate::model::time::short_age(std::time::Duration::from_secs(
                    (w.end.as_second() - facts.now.as_second()).max(0) as u64
                ))
            )),
        },
    }
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The first few entries of a list and how many it has: what [`shorten`]
/// says, without writing out the entries it would leave out (a condition
/// over thousands of services names three).
#[derive(Default)]
struct Few {
    shown: Vec<String>,
    total: usize,
}

impl Few {
    fn push_with(&mut self, entry: impl FnOnce() -> String) {
        if self.shown.len() < 3 {
            self.shown.push(entry());
        }
        self.total += 1;
    }

    fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn text(&self) -> String {
        match self.total {
            0..=3 => self.shown.join(", "),
            n => format!("{}, and {} more", self.shown.join(", "), n - 3),
        }
    }
}

fn shorten(list: &[String]) -> String {
    match list.len() {
        0..=3 => list.join(", "),
        n => format!("{}, and {} more", list[..3].join(", "), n - 3),
    }
}

/// What the checklist holds the go / no-go call on (`verdict::judge` adds
/// them): a no-go decision; required items and sign-offs overdue → no-go;
/// not done and due by the start of the window (or no window at all) →
/// hold. Items due after the window opens (verification, monitoring) only
/// block once overdue.
pub fn blockers(fleet: &Fleet, template: &Template, state: &ChecklistState) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    let start = fleet.release.as_ref().and_then(|r| r.window).map(|w| w.start);
    // Pending work holds the call only if it belongs before the window
    // (items) or at its start (sign-offs: the go call needs them).
    let counts_now = |due: Option<Timestamp>| match (due, start) {
        (Some(due), Some(start)) => due < start,
        _ => true,
    };
    let signoff_counts_now = |due: Option<Timestamp>| match (due, start) {
        (Some(due), Some(start)) => due <= start,
        _ => true,
    };
    let when = |t: Option<Timestamp>| t.map(|t| t.strftime("%m-%d %H:%M UTC").to_string()).unwrap_or_default();
    if let Some(d) = state.manual.decision()
        && d.decision == crate::journal::release::Decision::NoGo
    {
        blockers.push(Blocker {
            reason: BlockerReason::Decision,
            message: format!("no-go decided by {} at {}: {}", d.by, d.at.strftime("%H:%M UTC"), d.reason),
        });
    }
    for item in &state.items {
        let Some((_, spec)) = template.item(&item.id) else { continue };
        if !spec.required || item.status == Status::Done {
            continue;
        }
        if item.overdue {
            blockers.push(Blocker {
                reason: BlockerReason::Checklist,
                message: format!("overdue since {}: {} ({})", when(item.due), spec.title, spec.role),
            });
        } else if counts_now(item.due) {
            let due = if item.due.is_some() { format!("due {}: ", when(item.due)) } else { String::new() };
            blockers.push(Blocker {
                reason: BlockerReason::Pending,
                message: format!("{due}{} ({})", spec.title, spec.role),
            });
        }
    }
    for s in state.signoffs.iter().filter(|s| s.signed.is_none()) {
        if s.overdue {
            blockers.push(Blocker {
                reason: BlockerReason::Signoff,
                message: format!("sign-off from {} missing since {}", s.role, when(s.due)),
            });
        } else if signoff_counts_now(s.due) {
            let due = if s.due.is_some() { format!(" (due {})", when(s.due)) } else { String::new() };
            blockers
                .push(Blocker { reason: BlockerReason::Pending, message: format!("sign-off from {}{due}", s.role) });
        }
    }
    blockers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::template::parse;
    use crate::model::{Environment, ReleasePlan, Service, Window};

    const TEMPLATE: &str = r#"
name = "t"
[[phases]]
id = "before"
title = "Before"
due = "-1h"
signoffs = ["qa-lead"]
[[phases.items]]
id = "manual"
title = "Manual step"
role = "rm"
[[phases.items]]
id = "live"
title = "Staging deployed"
role = "devops"
condition = "deployed($staging)"
[[phases.items]]
id = "unknowable"
title = "Rollback ready"
role = "devops"
condition = "triggers_clear($prod)"
[[phases.items]]
id = "signed"
title = "QA signed"
role = "rm"
condition = "signed_off(qa-lead)"
"#;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn fleet() -> Fleet {
        Fleet {
            environments: ["staging", "prod"]
                .iter()
                .map(|e| Environment { name: (*e).into(), stale_after: None })
                .collect(),
            services: vec![Service { name: "web".into(), ..Service::default() }],
            release: Some(ReleasePlan {
                name: "r".into(),
                window: Some(Window { start: at("2026-11-24T18:00:00Z"), end: at("2026-11-24T20:00:00Z") }),
                targets: vec![(0, "1.0.0".into())],
                ..ReleasePlan::default()
            }),
            rollback: Default::default(),
        }
    }

    fn ev(action: ReleaseAction) -> ReleaseEvent {
        ReleaseEvent::new("ana", at("2026-11-24T16:00:00Z"), action)
    }

    fn run(events: &[ReleaseEvent], staging_version: Option<&str>, now: &str) -> ChecklistState {
        let fleet = fleet();
        let template = parse(TEMPLATE, "t", &fleet).unwrap();
        let mut matrix = Matrix::new(&fleet);
        if let Some(v) = staging_version {
            let src: std::sync::Arc<str> = std::sync::Arc::from("e");
            if let Some(cell) = matrix.get_mut(CellKey { service: 0, env: 0 }) {
                cell.record(&src, crate::model::Evidence::Running, at(now), Ok(crate::model::Reading::version(v)));
            }
        }
        evaluate(
            &template,
            events,
            &Facts { fleet: &fleet, matrix: &matrix, findings: &[], now: at(now), rollback: None },
        )
    }

    #[test]
    fn manual_ticks_fold_in_order() {
        let tick = ReleaseAction::Tick { item: "manual".into(), note: Some("done by hand".into()) };
        let untick = ReleaseAction::Untick { item: "manual".into(), note: None };
        let s = run(&[ev(tick.clone())], None, "2026-11-24T16:30:00Z");
        assert_eq!(s.item("manual").unwrap().status, Status::Done);
        assert_eq!(s.item("manual").unwrap().ticked.as_ref().unwrap().note.as_deref(), Some("done by hand"));
        let s = run(&[ev(tick.clone()), ev(untick)], None, "2026-11-24T16:30:00Z");
        assert_eq!(s.item("manual").unwrap().status, Status::Pending);
        assert_eq!(s.manual.notes.len(), 1, "the tick's note stays in the record");
    }

    #[test]
    fn live_conditions_tick_and_untick_themselves() {
        let s = run(&[], Some("1.0.0"), "2026-11-24T16:30:00Z");
        let live = s.item("live").unwrap();
        assert_eq!(live.status, Status::Done);
        assert!(matches!(&live.condition, Some(Truth::True(e)) if e.contains("1/1")), "{live:?}");
        // A person's tick does not override what the cockpit sees.
        let s =
            run(&[ev(ReleaseAction::Tick { item: "live".into(), note: None })], Some("0.9.0"), "2026-11-24T16:30:00Z");
        let live = s.item("live").unwrap();
        assert_eq!(live.status, Status::Pending);
        assert!(
            matches!(&live.condition, Some(Truth::False(e)) if e.contains("not yet: web (target 1.0.0)")),
            "{live:?}"
        );
    }

    #[test]
    fn an_unknowable_condition_waits_for_a_person() {
        let s = run(&[], None, "2026-11-24T16:30:00Z");
        assert_eq!(s.item("unknowable").unwrap().status, Status::Pending);
        assert!(matches!(s.item("unknowable").unwrap().condition, Some(Truth::Unknown(_))));
        let s = run(&[ev(ReleaseAction::Tick { item: "unknowable".into(), note: None })], None, "2026-11-24T16:30:00Z");
        assert_eq!(s.item("unknowable").unwrap().status, Status::Done);
    }

    #[test]
    fn signoffs_and_overdue() {
        // Due at 17:00 (T-1h). At 17:00 sharp nothing is late yet; a second after, it is.
        let s = run(&[], None, "2026-11-24T17:00:00Z");
        assert!(!s.item("manual").unwrap().overdue && !s.signoffs[0].overdue);
        let s = run(&[], None, "2026-11-24T17:00:01Z");
        assert!(s.item("manual").unwrap().overdue && s.signoffs[0].overdue);
        let signed = ev(ReleaseAction::SignOff { role: "qa-lead".into(), note: None });
        let s = run(std::slice::from_ref(&signed), None, "2026-11-24T17:00:01Z");
        assert!(s.signoffs[0].signed.is_some() && !s.signoffs[0].overdue);
        assert_eq!(s.item("signed").unwrap().status, Status::Done, "signed_off(qa-lead) holds");
        let revoked = ev(ReleaseAction::RevokeSignOff { role: "qa-lead".into(), note: None });
        let s = run(&[signed, revoked], None, "2026-11-24T17:00:01Z");
        assert!(s.signoffs[0].signed.is_none());
        assert_eq!(s.overall_progress(), (0, 5));
    }

    #[test]
    fn no_findings_needs_something_read() {
        let fleet = fleet();
        let template = parse(
            "name = \"t\"\n[[phases]]\nid = \"p\"\ntitle = \"P\"\ndue = \"-1h\"\n[[phases.items]]\nid = \"clean\"\ntitle = \"Clean\"\nrole = \"rm\"\ncondition = \"no_findings($staging)\"",
            "t",
            &fleet,
        )
        .unwrap();
        let matrix = Matrix::new(&fleet);
        let now = at("2026-11-24T16:30:00Z");
        let s = evaluate(&template, &[], &Facts { fleet: &fleet, matrix: &matrix, findings: &[], now, rollback: None });
        assert!(matches!(&s.item("clean").unwrap().condition, Some(Truth::Unknown(e)) if e.contains("nothing read")));
        assert_eq!(s.item("clean").unwrap().status, Status::Pending);
    }

    #[test]
    fn healthy_needs_a_reading_not_just_a_remembered_history() {
        let fleet = fleet();
        let template = parse(
            "name = \"t\"\n[[phases]]\nid = \"p\"\ntitle = \"P\"\ndue = \"-1h\"\n[[phases.items]]\nid = \"ok\"\ntitle = \"Healthy\"\nrole = \"rm\"\ncondition = \"healthy($prod)\"",
            "t",
            &fleet,
        )
        .unwrap();
        let mut matrix = Matrix::new(&fleet);
        let src: std::sync::Arc<str> = std::sync::Arc::from("e");
        // Known from the journal only: no attempt this run, no reading.
        if let Some(cell) = matrix.get_mut(CellKey { service: 0, env: 1 }) {
            cell.remember(
                &src,
                crate::model::Evidence::Running,
                crate::analysis::VersionRun::new("1.0.0", None, at("2026-11-20T10:00:00Z")),
            );
        }
        let now = at("2026-11-24T16:30:00Z");
        let s = evaluate(&template, &[], &Facts { fleet: &fleet, matrix: &matrix, findings: &[], now, rollback: None });
        assert!(
            matches!(&s.item("ok").unwrap().condition, Some(Truth::Unknown(e)) if e.contains("not read yet")),
            "{:?}",
            s.item("ok")
        );
    }

    #[test]
    fn the_last_decision_counts() {
        let go = ev(ReleaseAction::Decision { decision: Decision::Go, reason: "ok".into() });
        let no = ev(ReleaseAction::Decision { decision: Decision::NoGo, reason: "latency".into() });
        let s = run(&[go, no], None, "2026-11-24T16:30:00Z");
        assert_eq!(s.manual.decision().unwrap().decision, Decision::NoGo);
        assert_eq!(s.manual.decisions.len(), 2);
    }
}
