//! The "why" view as data: every blocker behind the verdict, exactly as
//! the engine's [`Evaluation`] lists them (the list `check` prints),
//! grouped, each with what would clear it and where Enter goes. Nothing is
//! judged here: a blocker is only linked back to the trigger, finding,
//! checklist row or cell it was made from.
//!
//! [`Evaluation`]: crate::engine::Evaluation

use super::keymap::{self, Action, KeyContext};
use super::prompt::ChecklistRow;
use super::state::{AppState, Effect, Pane, Popup};
use crate::analysis::findings::{FindingKind, Severity};
use crate::analysis::rollback::{Level, Method, RollbackTarget};
use crate::analysis::verdict::{Blocker, BlockerReason};
use crate::checklist::{Status, Truth};
use crate::model::{CellKey, ServiceIdx};

/// How the view groups blockers, in the order shown: a firing trigger
/// first, since it is the one that says "roll back now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    Triggers,
    Findings,
    Checklist,
    Signoffs,
    Window,
    Decision,
    Unread,
}

impl Group {
    pub(crate) fn title(self) -> &'static str {
        match self {
            Group::Triggers => "Rollback triggers",
            Group::Findings => "Findings",
            Group::Checklist => "Checklist",
            Group::Signoffs => "Sign-offs",
            Group::Window => "Window",
            Group::Decision => "Decision",
            Group::Unread => "Unread cells",
        }
    }
}

/// Where Enter on a blocker goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jump {
    /// The cell, selected in the matrix.
    Cell(CellKey),
    /// The checklist pane, at this row (the decision has none).
    Checklist(Option<ChecklistRow>),
    /// The rollback pane, at this service.
    Trigger(ServiceIdx),
}

/// One blocker, as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reason {
    pub group: Group,
    /// The blocker's message, as `check` prints it.
    pub message: String,
    /// What would clear it.
    pub clears: String,
    /// It holds the verdict (HOLD) rather than stopping it (NO-GO).
    pub holds: bool,
    pub jump: Option<Jump>,
}

/// Every blocker of the evaluation, grouped (the engine's order kept
/// within a group).
pub(crate) fn reasons(state: &AppState) -> Vec<Reason> {
    let mut firing = state.eval.rollback.firing();
    let mut failing = state.eval.rollback.triggers.iter().filter(|t| t.state != Level::Firing && t.error.is_some());
    let mut out: Vec<Reason> = state
        .eval
        .judgement
        .blockers
        .iter()
        .map(|b| {
            let (group, clears, jump) = match b.reason {
                // The engine lists one blocker per firing trigger, in order.
                BlockerReason::Trigger => match firing.next() {
                    Some(t) => (Group::Triggers, roll_back(state, t.cell), Some(Jump::Trigger(t.cell.service))),
                    None => (Group::Triggers, "roll back, or wait for it to clear".into(), None),
                },
                BlockerReason::TriggerError => {
                    let jump = failing.next().map(|t| Jump::Trigger(t.cell.service));
                    let clears = "its metrics query answering again: until then nobody can say it does not fire";
                    (Group::Triggers, clears.into(), jump)
                }
                BlockerReason::Finding => finding(state, b),
                BlockerReason::Window | BlockerReason::Blackout => (Group::Window, window(state, b), None),
                BlockerReason::Decision => {
                    let key = keymap::key_for(KeyContext::Main, Action::Decide);
                    let clears = format!("a GO decision ({key}) once what stopped the release is resolved");
                    (Group::Decision, clears, Some(Jump::Checklist(None)))
                }
                BlockerReason::Checklist | BlockerReason::Signoff | BlockerReason::Pending => checklist(state, b),
                BlockerReason::Unread => unread(state, b),
            };
            Reason { group, message: b.message.clone(), clears, holds: !b.reason.is_no_go(), jump }
        })
        .collect();
    out.sort_by_key(|r| r.group);
    out
}

/// "roll back: $ deployctl …", never with a hole in the command.
fn roll_back(state: &AppState, cell: CellKey) -> String {
    let env = state.eval.rollback.service(cell.service).and_then(|s| s.environments.iter().find(|e| e.env == cell.env));
    let method = |m: &Method| match m {
        Method::Command(c) => format!("$ {c}"),
        Method::Runbook(url) => format!("the runbook {url}"),
    };
    match env.map(|e| &e.target) {
        Some(RollbackTarget::Ready(m)) => format!("roll back: {}", method(m)),
        Some(RollbackTarget::Unproven { method: m, caveat }) => format!("roll back: {} ({caveat})", method(m)),
        Some(RollbackTarget::None(why)) => format!("roll back by hand: no rollback target ({why})"),
        None => "roll back by hand: no rollback readiness for this environment".into(),
    }
}

fn finding(state: &AppState, b: &Blocker) -> (Group, String, Option<Jump>) {
    let fleet = &state.engine.fleet;
    let Some(f) = state.eval.findings.iter().find(|f| f.severity == Severity::High && f.message == b.message) else {
        return (Group::Findings, "see the findings pane".into(), None);
    };
    let service = &fleet.services[f.cell.service].name;
    let env = &fleet.environments[f.cell.env].name;
    let before = f.cell.env.checked_sub(1).map_or("the environment before", |e| fleet.environments[e].name.as_ref());
    let clears = match f.kind {
        FindingKind::Missing => match fleet.release.as_ref().and_then(|p| p.target(f.cell.service)) {
            Some(target) => format!("{service} {target} deployed to {env}"),
            None => format!("the planned version of {service} deployed to {env}"),
        },
        FindingKind::Ahead => format!("the same version through {before} first, or {env} rolled back"),
        FindingKind::BuildMismatch => format!("the same build deployed to {env} as to the earlier environment"),
        FindingKind::Conflict => "its sources agreeing: redeploy, or correct the one that is wrong".into(),
        FindingKind::Unhealthy => format!("{service} healthy again in {env}, or rolled back"),
        FindingKind::Unreachable | FindingKind::Stale => "a fresh reading of the cell".into(),
        FindingKind::NotMergedBack => format!("the {env} hotfix of {service} merged back into the mainline"),
    };
    (Group::Findings, clears, Some(Jump::Cell(f.cell)))
}

fn window(state: &AppState, b: &Blocker) -> String {
    let now = state.now;
    let plan = state.engine.fleet.release.as_ref();
    if b.reason == BlockerReason::Blackout {
        let end = plan.into_iter().flat_map(|p| &p.blackouts).find(|x| x.start <= now && now < x.end).map(|x| x.end);
        return match end {
            Some(end) => format!("the blackout ending: in {}", crate::ui::countdown(end.as_second() - now.as_second())),
            None => "the blackout ending".into(),
        };
    }
    match plan.and_then(|p| p.window) {
        Some(w) if now < w.start => {
            format!("the window opening: in {}", crate::ui::countdown(w.start.as_second() - now.as_second()))
        }
        _ => "a new window: set [release] window in the config (or the --release file)".into(),
    }
}

fn checklist(state: &AppState, b: &Blocker) -> (Group, String, Option<Jump>) {
    let (Some(template), Some(checklist)) = (&state.engine.template, &state.eval.checklist) else {
        return (Group::Checklist, "see the checklist pane".into(), None);
    };
    // A sign-off's blocker names its role: "sign-off from qa-lead …".
    let signoff = checklist.signoffs.iter().enumerate().find(|(_, s)| {
        b.message
            .strip_prefix(&format!("sign-off from {}", s.role))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    });
    if let Some((i, s)) = signoff {
        let key = keymap::key_for(KeyContext::Main, Action::SignOff);
        let clears = format!("a sign-off as {} ({key} in the checklist)", s.role);
        return (Group::Signoffs, clears, Some(Jump::Checklist(Some(ChecklistRow::Signoff(i)))));
    }
    // An item's names its title and role: "…: Staging deployed (devops)".
    let item = checklist.items.iter().enumerate().find_map(|(i, item)| {
        let (_, spec) = template.item(&item.id)?;
        let named = b.message.ends_with(&format!("{} ({})", spec.title, spec.role));
        (named && spec.required && item.status != Status::Done).then_some((i, item, spec))
    });
    let Some((i, item, spec)) = item else {
        return (Group::Checklist, "see the checklist pane".into(), Some(Jump::Checklist(None)));
    };
    let tick = keymap::key_for(KeyContext::Main, Action::Tick);
    let clears = match (&item.condition, &spec.condition) {
        (Some(Truth::True(_) | Truth::False(_)), Some(c)) => {
            format!("{} holding: the cockpit ticks it itself", c.display(&state.engine.fleet))
        }
        (Some(Truth::Unknown(why)), _) => format!("a tick by {} ({tick}): the cockpit cannot tell ({why})", spec.role),
        _ => format!("a tick by {} ({tick} in the checklist) when it is done", spec.role),
    };
    (Group::Checklist, clears, Some(Jump::Checklist(Some(ChecklistRow::Item(i)))))
}

fn unread(state: &AppState, b: &Blocker) -> (Group, String, Option<Jump>) {
    let fleet = &state.engine.fleet;
    // "cannot tell whether payments runs 1.4.0 in prod: …"
    let cell = fleet.release.iter().flat_map(|p| &p.targets).find_map(|(service, target)| {
        let name = &fleet.services[*service].name;
        let env = fleet
            .environments
            .iter()
            .position(|e| b.message.starts_with(&format!("cannot tell whether {name} runs {target} in {}:", e.name)))?;
        Some(CellKey { service: *service, env })
    });
    match cell {
        Some(key) => (
            Group::Unread,
            "a source reading it: fix what the cell's source says (Enter, then its detail), or check it by hand".into(),
            Some(Jump::Cell(key)),
        ),
        None => (Group::Unread, "every cell answering once: the first sweep finishing".into(), None),
    }
}

impl AppState {
    /// A key while the why view is open.
    pub(super) fn why_act(&mut self, action: Action) -> Effect {
        let Some(Popup::Why(at)) = self.ui.popup else {
            return Effect::None;
        };
        let n = reasons(self).len();
        let page = self.ui.page.max(1) as isize;
        let by = match action {
            Action::Why => {
                self.ui.popup = None;
                return Effect::Redraw;
            }
            Action::Open => return self.why_jump(at),
            Action::Up => -1,
            Action::Down => 1,
            Action::PageUp => -page,
            Action::PageDown => page,
            Action::Top => isize::MIN / 2,
            Action::Bottom => isize::MAX / 2,
            _ => return Effect::None,
        };
        let to = (at.min(n.saturating_sub(1)) as isize).saturating_add(by).clamp(0, n.saturating_sub(1) as isize);
        self.ui.popup = Some(Popup::Why(to as usize));
        Effect::Redraw
    }

    /// Enter: go where the selected blocker comes from.
    fn why_jump(&mut self, at: usize) -> Effect {
        let Some(reason) = reasons(self).into_iter().nth(at) else {
            return Effect::None;
        };
        let Some(jump) = reason.jump else {
            self.ui.message = Some(format!("nothing to go to: {}", reason.clears));
            return Effect::Redraw;
        };
        self.ui.popup = None;
        match jump {
            Jump::Cell(key) => {
                if !self.visible.contains(&key.service) {
                    // Filtered out: the filter goes, or the cell cannot be shown.
                    self.ui.filter.clear();
                    self.refilter();
                }
                self.ui.focus = Pane::Matrix;
                self.ui.row = self.visible.iter().position(|s| *s == key.service).unwrap_or(0);
                self.ui.env = key.env;
                self.follow_selection();
            }
            Jump::Checklist(row) => {
                self.ui.focus = Pane::Checklist;
                if let Some(pos) = row.and_then(|r| self.checklist_rows().iter().position(|x| *x == r)) {
                    self.ui.checklist_row = pos;
                }
            }
            Jump::Trigger(service) => {
                if !self.visible.contains(&service) {
                    self.ui.filter.clear();
                    self.refilter();
                }
                self.ui.focus = Pane::Rollback;
                // Its place in the pane's own order (firing first).
                let ordered = crate::ui::rollback::ordered(self);
                if let Some(pos) = ordered.iter().position(|s| s.service == service) {
                    self.ui.rollback_scroll = pos;
                }
            }
        }
        Effect::Redraw
    }
}
