//! What to say: pure functions from what the engine judged to the notices
//! a channel should get. No I/O, no clock: every time comes in a
//! [`Snapshot`].
//!
//! - [`Snapshot::of`] keeps what matters to a channel from an
//!   [`Evaluation`] and the release journal: the verdict and its blockers,
//!   every rollback trigger's state, the decisions and sign-offs, progress
//!   per environment, and the window.
//! - [`Notices::between`] compares two snapshots: a changed verdict,
//!   triggers firing or cleared, a new decision, a new sign-off, the window
//!   opening (deployment start) and every planned service reaching its
//!   target in the last environment (deployment finished). The first
//!   snapshot announces no past: at most a status.
//! - [`StatusClock`] says when a webhook's next status update is due and
//!   [`Notices::status`] writes it: verdict, blockers, progress, and what
//!   changed since the last one.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::config::NotifyEvent;
use crate::analysis::rollback::{Level, value_text};
use crate::analysis::verdict::{BlockerReason, Verdict};
use crate::engine::Evaluation;
use crate::journal::release::{Decision, ReleaseAction, ReleaseEvent};
use crate::model::{Fleet, Window};
use crate::sanitize::clean_to;

/// Longest summary line, in characters.
pub(crate) const SUMMARY_MAX: usize = 200;
/// Longest detail line, in characters.
pub(crate) const LINE_MAX: usize = 300;
/// Most detail lines in one notice.
pub(crate) const MOST_LINES: usize = 12;
/// Blockers named in a verdict or status notice (the count says the rest).
const TOP_BLOCKERS: usize = 3;
/// Blocker messages kept in a snapshot.
const BLOCKERS_KEPT: usize = 20;
/// A decision or sign-off recorded this long before the last snapshot is
/// the past arriving late (a journal read late), not news.
const LATE: Duration = Duration::from_secs(10 * 60);

/// One rollback trigger of one cell, as a channel hears about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerFact {
    pub service: String,
    pub environment: String,
    /// `health`, or the trigger's name (`error_rate`, …).
    pub trigger: String,
    #[serde(skip)]
    pub level: Level,
    /// The live value (`0.12`, `NaN`), or for `health` what it reports.
    pub value: Option<String>,
    pub baseline: Option<String>,
    /// The value at which it fires.
    pub threshold: Option<f64>,
    /// "error_rate 0.12 (baseline 0.004, fires ≥ 0.04)".
    #[serde(skip)]
    pub measurement: String,
}

impl TriggerFact {
    fn key(&self) -> (&str, &str, &str) {
        (&self.service, &self.environment, &self.trigger)
    }

    fn firing(&self) -> bool {
        self.level == Level::Firing
    }

    /// "payments in prod: error_rate 0.12 (baseline 0.004, fires ≥ 0.04)".
    fn describe(&self) -> String {
        format!("{} in {}: {}", self.service, self.environment, self.measurement)
    }
}

/// A go / no-go decision from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionFact {
    pub id: String,
    pub at: Timestamp,
    pub by: String,
    pub decision: Decision,
    pub reason: String,
}

/// A sign-off (or its revocation) from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOffFact {
    pub id: String,
    pub at: Timestamp,
    pub by: String,
    pub role: String,
    pub revoked: bool,
    pub note: Option<String>,
}

/// Planned services at their target in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressFact {
    pub environment: String,
    pub at_target: usize,
    pub planned: usize,
}

/// What a channel cares about at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When it was judged (the evaluation's `now`).
    pub at: Timestamp,
    pub release: String,
    pub window: Option<Window>,
    pub verdict: Verdict,
    /// How many blockers there are.
    pub blocker_count: usize,
    /// The first blockers' messages, worst first (at most 20, each capped).
    pub blockers: Vec<String>,
    /// Not every cell has been read yet: the verdict is not settled.
    pub unread: bool,
    /// Every rollback trigger in scope, with its level.
    pub triggers: Vec<TriggerFact>,
    pub decisions: Vec<DecisionFact>,
    pub signoffs: Vec<SignOffFact>,
    /// Per environment, in promotion order.
    pub progress: Vec<ProgressFact>,
}

impl Snapshot {
    /// Keep what matters to a channel from an evaluation (its `now`, its
    /// judgement, its triggers and progress), the release journal's events
    /// and the fleet (the release's name, its window and the environments'
    /// names).
    pub fn of(eval: &Evaluation, events: &[ReleaseEvent], fleet: &Fleet) -> Snapshot {
        let plan = fleet.release.as_ref();
        let judgement = &eval.judgement;
        let triggers = eval
            .rollback
            .triggers
            .iter()
            .map(|t| TriggerFact {
                service: clean_to(&t.service, 64),
                environment: clean_to(&t.environment, 64),
                trigger: clean_to(&t.name, 64),
                level: t.state,
                value: if &*t.name == "health" {
                    Some(clean_to(&t.note, 60)).filter(|n| !n.is_empty())
                } else {
                    t.live.map(value_text)
                },
                baseline: t.baseline.map(value_text),
                threshold: t.threshold,
                measurement: clean_to(&t.measurement(), 160),
            })
            .collect();
        let mut decisions = Vec::new();
        let mut signoffs = Vec::new();
        for e in events {
            let by = clean_to(&e.by, 40);
            match &e.action {
                ReleaseAction::Decision { decision, reason } => decisions.push(DecisionFact {
                    id: e.id.clone(),
                    at: e.at,
                    by,
                    decision: *decision,
                    reason: clean_to(reason, LINE_MAX),
                }),
                ReleaseAction::SignOff { role, note } | ReleaseAction::RevokeSignOff { role, note } => {
                    signoffs.push(SignOffFact {
                        id: e.id.clone(),
                        at: e.at,
                        by,
                        role: clean_to(role, 40),
                        revoked: matches!(e.action, ReleaseAction::RevokeSignOff { .. }),
                        note: note.as_deref().map(|n| clean_to(n, 200)).filter(|n| !n.is_empty()),
                    })
                }
                _ => {}
            }
        }
        Snapshot {
            at: eval.now,
            release: plan.map_or_else(|| "(no release)".to_string(), |p| clean_to(&p.name, 80)),
            window: plan.and_then(|p| p.window),
            verdict: judgement.verdict,
            blocker_count: judgement.blockers.len(),
            blockers: judgement.blockers.iter().take(BLOCKERS_KEPT).map(|b| clean_to(&b.message, 200)).collect(),
            unread: judgement.blockers.iter().any(|b| b.reason == BlockerReason::Unread),
            triggers,
            decisions,
            signoffs,
            progress: eval
                .progress
                .iter()
                .map(|p| ProgressFact {
                    environment: fleet
                        .environments
                        .get(p.env)
                        .map_or_else(|| format!("#{}", p.env), |e| e.name.to_string()),
                    at_target: p.at_target,
                    planned: p.planned,
                })
                .collect(),
        }
    }

    /// The window is open at this snapshot's time.
    pub fn window_open(&self) -> bool {
        self.window.is_some_and(|w| w.start <= self.at && self.at < w.end)
    }

    /// Every planned service runs its target in the last environment.
    pub fn finished(&self) -> bool {
        self.progress.last().is_some_and(|p| p.planned > 0 && p.at_target == p.planned)
    }

    /// Whether status updates go out now: while the window is open; a
    /// release without a window, while it is under way (it reached an
    /// environment, and not yet the last).
    pub fn status_wanted(&self) -> bool {
        match self.window {
            Some(_) => self.window_open(),
            None => !self.finished() && self.progress.iter().any(|p| p.at_target > 0),
        }
    }

    fn firing(&self) -> impl Iterator<Item = &TriggerFact> {
        self.triggers.iter().filter(|t| t.firing())
    }

    fn firing_keys(&self) -> HashSet<(&str, &str, &str)> {
        self.firing().map(TriggerFact::key).collect()
    }

    /// "dev 3/3 · qa 3/3 · prod 1/3".
    fn progress_line(&self) -> Option<String> {
        let parts: Vec<String> =
            self.progress.iter().map(|p| format!("{} {}/{}", p.environment, p.at_target, p.planned)).collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }

    /// "NO-GO (3 blockers)".
    fn verdict_line(&self) -> String {
        let verdict = label(self.verdict);
        match self.blocker_count {
            0 => verdict.to_string(),
            1 => format!("{verdict} (1 blocker)"),
            n => format!("{verdict} ({n} blockers)"),
        }
    }

    /// The first blockers, and how many more.
    fn top_blockers(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.blockers.iter().take(TOP_BLOCKERS).map(|b| format!("• {b}")).collect();
        let shown = lines.len();
        if self.blocker_count > shown {
            lines.push(format!("… and {} more", self.blocker_count - shown));
        }
        lines
    }

    fn window_line(&self) -> Option<String> {
        let w = self.window?;
        let range = format!("{}–{}", w.start.strftime("%Y-%m-%d %H:%M"), w.end.strftime("%H:%M UTC"));
        let when = if self.at < w.start {
            format!("opens in {}", span(w.start.duration_since(self.at)))
        } else if self.at < w.end {
            format!("open, {} left", span(w.end.duration_since(self.at)))
        } else {
            "closed".to_string()
        };
        Some(format!("window {range} ({when})"))
    }

    fn window_details(&self) -> Option<WindowDetails> {
        self.window.map(|w| WindowDetails { start: w.start, end: w.end })
    }
}

/// "NO-GO", "GO", "HOLD".
fn label(verdict: Verdict) -> String {
    verdict.as_str().to_ascii_uppercase()
}

fn decision_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Go => "GO",
        Decision::NoGo => "NO-GO",
    }
}

/// A humane span: "<1m", "20m", "1h 5m", "2d 3h".
fn span(d: jiff::SignedDuration) -> String {
    let mins = d.as_secs().max(0) / 60;
    match mins {
        0 => "<1m".into(),
        m if m < 60 => format!("{m}m"),
        m if m < 24 * 60 => match m % 60 {
            0 => format!("{}h", m / 60),
            r => format!("{}h {r}m", m / 60),
        },
        m => match (m / 60) % 24 {
            0 => format!("{}d", m / (24 * 60)),
            h => format!("{}d {h}h", m / (24 * 60)),
        },
    }
}

/// One message for the channels: a summary line, detail lines (both plain
/// text, capped) and structured details for flightdeck's own JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// What it is about: the `on` name it is sent for.
    pub event: NotifyEvent,
    pub release: String,
    pub at: Timestamp,
    pub summary: String,
    pub lines: Vec<String>,
    pub details: Details,
}

impl Notice {
    fn new(event: NotifyEvent, now: &Snapshot, summary: String, lines: Vec<String>, details: Details) -> Notice {
        Notice {
            event,
            release: now.release.clone(),
            at: now.at,
            // `clean_to` keeps that many characters and adds an ellipsis.
            summary: clean_to(&summary, SUMMARY_MAX - 1),
            lines: lines.iter().take(MOST_LINES).map(|l| clean_to(l, LINE_MAX - 1)).collect(),
            details,
        }
    }

    /// Whether this is a periodic status update (the first to go when a
    /// queue is too long: the next one says it all again).
    pub fn is_status(&self) -> bool {
        matches!(self.details, Details::Status(_))
    }
}

/// The structured part of a notice, per event (`details` in flightdeck's
/// own JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Details {
    Verdict(VerdictDetails),
    Trigger(TriggerDetails),
    Decision(DecisionDetails),
    Signoff(SignOffDetails),
    Status(StatusDetails),
    Deployment(DeploymentDetails),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictDetails {
    pub from: Verdict,
    pub to: Verdict,
    pub blockers: usize,
    pub top_blockers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerChange {
    Firing,
    Cleared,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerDetails {
    pub state: TriggerChange,
    pub triggers: Vec<TriggerFact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionDetails {
    pub decision: Decision,
    pub by: String,
    pub reason: String,
    pub decided_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignOffDetails {
    pub role: String,
    pub by: String,
    pub revoked: bool,
    pub note: Option<String>,
    pub signed_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WindowDetails {
    pub start: Timestamp,
    pub end: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusDetails {
    pub verdict: Verdict,
    pub blockers: usize,
    pub top_blockers: Vec<String>,
    pub progress: Vec<ProgressFact>,
    pub window: Option<WindowDetails>,
    /// When the previous status went out; `None` for the first.
    pub since: Option<Timestamp>,
    /// What changed since then, one line each.
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Started,
    Finished,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentDetails {
    pub phase: Phase,
    pub verdict: Verdict,
    pub blockers: usize,
    pub progress: Vec<ProgressFact>,
    pub window: Option<WindowDetails>,
}

/// The pure "what to say" functions.
pub struct Notices;

impl Notices {
    /// The notices for what changed from `prev` to `now`, most urgent
    /// first. With no `prev` (the first snapshot) nothing of the past is
    /// announced: only a status, when one is wanted now.
    pub fn between(prev: Option<&Snapshot>, now: &Snapshot) -> Vec<Notice> {
        let Some(prev) = prev else {
            return if now.status_wanted() { vec![Notices::status(None, now)] } else { Vec::new() };
        };
        let mut out = Vec::new();
        if let Some(w) = now.window
            && prev.at < w.start
            && w.start <= now.at
        {
            out.push(deployment(Phase::Started, now));
        }
        let (fired, cleared) = trigger_changes(prev, now);
        if !fired.is_empty() {
            out.push(triggers(TriggerChange::Firing, fired, now));
        }
        if prev.verdict != now.verdict {
            out.push(verdict(prev, now));
        }
        for d in new_decisions(prev, now) {
            out.push(decision(d, now));
        }
        for s in new_signoffs(prev, now) {
            out.push(signoff(s, now));
        }
        if !cleared.is_empty() {
            out.push(triggers(TriggerChange::Cleared, cleared, now));
        }
        if !prev.finished() && now.finished() {
            out.push(deployment(Phase::Finished, now));
        }
        out
    }

    /// A status update at `now`: verdict, blockers, progress per
    /// environment, the window, and what changed since the status at
    /// `since` (`None`: the first).
    pub fn status(since: Option<&Snapshot>, now: &Snapshot) -> Notice {
        let mut summary = format!("{} status: {}", now.release, now.verdict_line());
        if let Some(progress) = now.progress_line() {
            summary.push_str(&format!(" · {progress}"));
        }
        let mut lines = Vec::new();
        lines.extend(now.window_line());
        lines.extend(now.top_blockers());
        let changes = since.map(|s| changes_since(s, now)).unwrap_or_default();
        if let Some(s) = since {
            let ago = span(now.at.duration_since(s.at));
            if changes.is_empty() {
                lines.push(format!("No change since the last update ({ago} ago)."));
            } else {
                lines.push(format!("Since the last update ({ago} ago):"));
                lines.extend(changes.iter().map(|c| format!("– {c}")));
            }
        }
        let details = Details::Status(StatusDetails {
            verdict: now.verdict,
            blockers: now.blocker_count,
            top_blockers: now.blockers.iter().take(TOP_BLOCKERS).cloned().collect(),
            progress: now.progress.clone(),
            window: now.window_details(),
            since: since.map(|s| s.at),
            changes,
        });
        Notice::new(NotifyEvent::Status, now, summary, lines, details)
    }
}

/// When a webhook's next status update is due: every `every` while
/// [`Snapshot::status_wanted`], counted from the last one sent (or from
/// when one was first wanted). Pure: the time is the snapshot's.
#[derive(Debug, Clone)]
pub struct StatusClock {
    every: Duration,
    last: Option<Snapshot>,
}

impl StatusClock {
    pub fn new(every: Duration) -> StatusClock {
        StatusClock { every, last: None }
    }

    /// A status sent (or announced) at `now`: the next is `every` later,
    /// and says what changed since this one.
    pub fn sent(&mut self, now: &Snapshot) {
        self.last = Some(now.clone());
    }

    /// The status update due at `now`, if one is.
    pub fn due(&mut self, now: &Snapshot) -> Option<Notice> {
        if !now.status_wanted() {
            return None;
        }
        match &self.last {
            None => {
                // Wanted from now on (the window just opened, say): the
                // first update is one period away.
                self.last = Some(now.clone());
                None
            }
            Some(last) if now.at.duration_since(last.at).as_secs() >= self.every.as_secs() as i64 => {
                let notice = Notices::status(Some(last), now);
                self.last = Some(now.clone());
                Some(notice)
            }
            Some(_) => None,
        }
    }
}

/// Triggers that started firing and that stopped, from `prev` to `now`.
/// A cleared one is described as it is now (its value back under the
/// threshold), or as it was when it is no longer evaluated.
fn trigger_changes(prev: &Snapshot, now: &Snapshot) -> (Vec<TriggerFact>, Vec<TriggerFact>) {
    let before = prev.firing_keys();
    let after = now.firing_keys();
    let fired = now.firing().filter(|t| !before.contains(&t.key())).cloned().collect();
    let cleared = prev
        .firing()
        .filter(|t| !after.contains(&t.key()))
        .map(|t| now.triggers.iter().find(|n| n.key() == t.key()).unwrap_or(t).clone())
        .collect();
    (fired, cleared)
}

fn new_decisions<'a>(prev: &Snapshot, now: &'a Snapshot) -> impl Iterator<Item = &'a DecisionFact> {
    let known: HashSet<&str> = prev.decisions.iter().map(|d| d.id.as_str()).collect();
    let oldest = prev.at - LATE;
    now.decisions.iter().filter(move |d| !known.contains(d.id.as_str()) && d.at >= oldest)
}

fn new_signoffs<'a>(prev: &Snapshot, now: &'a Snapshot) -> impl Iterator<Item = &'a SignOffFact> {
    let known: HashSet<&str> = prev.signoffs.iter().map(|s| s.id.as_str()).collect();
    let oldest = prev.at - LATE;
    now.signoffs.iter().filter(move |s| !known.contains(s.id.as_str()) && s.at >= oldest)
}

fn verdict(prev: &Snapshot, now: &Snapshot) -> Notice {
    let summary = format!("{}: verdict {} → {}", now.release, label(prev.verdict), now.verdict_line());
    let details = Details::Verdict(VerdictDetails {
        from: prev.verdict,
        to: now.verdict,
        blockers: now.blocker_count,
        top_blockers: now.blockers.iter().take(TOP_BLOCKERS).cloned().collect(),
    });
    Notice::new(NotifyEvent::Verdict, now, summary, now.top_blockers(), details)
}

fn triggers(change: TriggerChange, list: Vec<TriggerFact>, now: &Snapshot) -> Notice {
    let what = match change {
        TriggerChange::Firing => "FIRING",
        TriggerChange::Cleared => "cleared",
    };
    let summary = match list.as_slice() {
        [one] => format!("{}: rollback trigger {what}: {}", now.release, one.describe()),
        many => format!("{}: {} rollback triggers {what}", now.release, many.len()),
    };
    let lines =
        if list.len() > 1 { list.iter().map(|t| format!("• {}", t.describe())).collect() } else { Vec::new() };
    Notice::new(
        NotifyEvent::Trigger,
        now,
        summary,
        lines,
        Details::Trigger(TriggerDetails { state: change, triggers: list }),
    )
}

fn decision(d: &DecisionFact, now: &Snapshot) -> Notice {
    let summary = format!("{}: decision {} by {}", now.release, decision_label(d.decision), d.by);
    let mut lines = Vec::new();
    if !d.reason.trim().is_empty() {
        lines.push(format!("Reason: {}", d.reason));
    }
    lines.push(format!("Verdict now: {}", now.verdict_line()));
    let details = Details::Decision(DecisionDetails {
        decision: d.decision,
        by: d.by.clone(),
        reason: d.reason.clone(),
        decided_at: d.at,
    });
    Notice::new(NotifyEvent::Decision, now, summary, lines, details)
}

fn signoff(s: &SignOffFact, now: &Snapshot) -> Notice {
    let summary = if s.revoked {
        format!("{}: sign-off {} revoked by {}", now.release, s.role, s.by)
    } else {
        format!("{}: {} signed off by {}", now.release, s.role, s.by)
    };
    let lines = s.note.iter().map(|n| format!("Note: {n}")).collect();
    let details = Details::Signoff(SignOffDetails {
        role: s.role.clone(),
        by: s.by.clone(),
        revoked: s.revoked,
        note: s.note.clone(),
        signed_at: s.at,
    });
    Notice::new(NotifyEvent::Signoff, now, summary, lines, details)
}

fn deployment(phase: Phase, now: &Snapshot) -> Notice {
    let planned = now.progress.last().map_or(0, |p| p.planned);
    let summary = match phase {
        Phase::Started => format!(
            "{}: deployment window open: {planned} planned service{}; verdict {}",
            now.release,
            if planned == 1 { "" } else { "s" },
            now.verdict_line()
        ),
        Phase::Finished => {
            let last = now.progress.last().map_or("the last environment", |p| p.environment.as_str());
            format!("{}: deployment finished: all {planned} planned services run their target in {last}", now.release)
        }
    };
    let mut lines = Vec::new();
    lines.extend(now.window_line());
    lines.extend(now.progress_line().map(|p| format!("Progress: {p}")));
    if phase == Phase::Finished {
        lines.push(format!("Verdict: {}", now.verdict_line()));
    }
    lines.extend(now.top_blockers());
    let details = Details::Deployment(DeploymentDetails {
        phase,
        verdict: now.verdict,
        blockers: now.blocker_count,
        progress: now.progress.clone(),
        window: now.window_details(),
    });
    Notice::new(NotifyEvent::Deployment, now, summary, lines, details)
}

/// What changed from one status to the next, one line each.
fn changes_since(since: &Snapshot, now: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    if since.verdict != now.verdict {
        out.push(format!("verdict {} → {}", label(since.verdict), label(now.verdict)));
    }
    if since.blocker_count != now.blocker_count {
        out.push(format!("blockers {} → {}", since.blocker_count, now.blocker_count));
    }
    for p in &now.progress {
        let before = since.progress.iter().find(|b| b.environment == p.environment).map_or(0, |b| b.at_target);
        if before != p.at_target {
            out.push(format!("{} {}/{} → {}/{}", p.environment, before, p.planned, p.at_target, p.planned));
        }
    }
    let (fired, cleared) = trigger_changes(since, now);
    out.extend(fired.iter().map(|t| format!("trigger firing: {}", t.describe())));
    out.extend(cleared.iter().map(|t| format!("trigger cleared: {} in {} ({})", t.service, t.environment, t.trigger)));
    // What is still firing, so a reader of this update alone knows.
    let still: BTreeSet<String> =
        since.firing_keys().intersection(&now.firing_keys()).map(|(s, e, t)| format!("{s} in {e} ({t})")).collect();
    if !still.is_empty() {
        out.push(format!("still firing: {}", still.into_iter().collect::<Vec<_>>().join(", ")));
    }
    let since_at = since.at;
    let known: HashSet<&str> = since.decisions.iter().map(|d| d.id.as_str()).collect();
    for d in now.decisions.iter().filter(|d| !known.contains(d.id.as_str()) && d.at >= since_at - LATE) {
        out.push(format!("decision {} by {}", decision_label(d.decision), d.by));
    }
    let known: HashSet<&str> = since.signoffs.iter().map(|s| s.id.as_str()).collect();
    for s in now.signoffs.iter().filter(|s| !known.contains(s.id.as_str()) && s.at >= since_at - LATE) {
        if s.revoked {
            out.push(format!("sign-off {} revoked by {}", s.role, s.by));
        } else {
            out.push(format!("{} signed off by {}", s.role, s.by));
        }
    }
    out
}

#[cfg(test)]
mod tests;
