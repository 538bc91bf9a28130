//! The verdict: go, no-go or hold, with the blockers behind it, as
//! `design.md` defines it. Later features (checklists, triggers) add
//! blockers; a plan with no window is judged by its findings alone.

use jiff::Timestamp;
use serde::Serialize;

use super::findings::{Finding, Severity};
use crate::model::Fleet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Go,
    NoGo,
    Hold,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Go => "go",
            Verdict::NoGo => "no-go",
            Verdict::Hold => "hold",
        }
    }

    /// Exit code of the headless commands: 0 go, 1 no-go or hold.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Go => 0,
            Verdict::NoGo | Verdict::Hold => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockerReason {
    /// A high finding.
    Finding,
    /// Outside the release window.
    Window,
    /// Inside a blackout period.
    Blackout,
    /// A recorded no-go decision.
    Decision,
    /// A required checklist item past its due time.
    Checklist,
    /// A required sign-off missing past its due time.
    Signoff,
    /// A required item or sign-off not done yet, not yet due (hold).
    Pending,
    /// A planned cell that no source has read: what runs there is unknown
    /// (hold): a skipped service whose endpoint answers 404 must not pass.
    Unread,
    /// A live rollback trigger is firing.
    Trigger,
    /// A rollback trigger's query fails: whether it fires is unknown (hold).
    TriggerError,
}

impl BlockerReason {
    /// Blockers that make the verdict no-go; the rest (pending) hold it.
    pub(crate) fn is_no_go(self) -> bool {
        !matches!(self, BlockerReason::Pending | BlockerReason::Unread | BlockerReason::TriggerError)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub reason: BlockerReason,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub blockers: Vec<Blocker>,
}

pub(crate) fn judge(
    fleet: &Fleet,
    matrix: &crate::analysis::Matrix,
    findings: &[Finding],
    now: Timestamp,
    checklist: Vec<Blocker>,
    rollback: Option<&crate::analysis::rollback::RollbackView>,
) -> Judgement {
    let fmt = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
    // A firing trigger first: it is the one thing that says "roll back now".
    let mut blockers: Vec<Blocker> = rollback
        .into_iter()
        .flat_map(|r| r.firing())
        .map(|t| {
            let failing = t.error.as_ref().map(|e| format!(" (last value; query failing: {e})")).unwrap_or_default();
            Blocker {
                reason: BlockerReason::Trigger,
                message: format!(
                    "rollback trigger firing: {} in {}: {}{failing}",
                    t.service,
                    t.environment,
                    t.measurement()
                ),
            }
        })
        .collect();
    // A trigger whose query fails is not clear: nobody can say it does not
    // fire (a firing one is a blocker already, its error named there).
    blockers.extend(
        rollback
            .into_iter()
            .flat_map(|r| &r.triggers)
            .filter(|t| t.state != crate::analysis::rollback::Level::Firing)
            .filter_map(|t| {
                let error = t.error.as_ref()?;
                Some(Blocker {
                    reason: BlockerReason::TriggerError,
                    message: format!(
                        "cannot tell whether rollback trigger {} fires: {} in {}: {error}",
                        t.name, t.service, t.environment
                    ),
                })
            }),
    );
    blockers.extend(
        findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .map(|f| Blocker { reason: BlockerReason::Finding, message: f.message.clone() }),
    );
    let plan = fleet.release.as_ref();
    if let Some(window) = plan.and_then(|r| r.window) {
        if now < window.start {
            blockers.push(Blocker {
                reason: BlockerReason::Window,
                message: format!("the deployment window opens at {}", fmt(window.start)),
            });
        } else if now >= window.end {
            blockers.push(Blocker {
                reason: BlockerReason::Window,
                message: format!("the deployment window closed at {}", fmt(window.end)),
            });
        }
    }
    for b in plan.into_iter().flat_map(|r| &r.blackouts).filter(|b| b.start <= now && now < b.end) {
        let why = if b.reason.is_empty() { String::new() } else { format!(" ({})", b.reason) };
        blockers.push(Blocker {
            reason: BlockerReason::Blackout,
            message: format!("inside a blackout until {}{why}", fmt(b.end)),
        });
    }
    unread_blockers(fleet, matrix, &mut blockers);
    // The checklist's own (see `checklist::blockers`).
    blockers.extend(checklist);
    let verdict = if blockers.iter().any(|b| b.reason.is_no_go()) {
        Verdict::NoGo
    } else if blockers.is_empty() {
        Verdict::Go
    } else {
        Verdict::Hold
    };
    Judgement { verdict, blockers }
}

/// Planned cells some source tried but none could read: nobody can say
/// whether the target runs there. Cells no source reads yet (the first
/// sweep) are not known to the verdict; the cockpit shows "first sweep…".
fn unread_blockers(fleet: &Fleet, matrix: &crate::analysis::Matrix, blockers: &mut Vec<Blocker>) {
    let Some(plan) = &fleet.release else { return };
    for (service, target) in &plan.targets {
        for (env, e) in fleet.environments.iter().enumerate() {
            let cell = matrix.get(crate::model::CellKey { service: *service, env });
            if cell.deployments().next().is_none() || cell.reading().is_some() {
                continue;
            }
            let why = cell
                .deployments()
                .find_map(|o| o.error.as_ref())
                .map_or("not read yet".to_string(), |f| format!("never read: {}", f.error));
            blockers.push(Blocker {
                reason: BlockerReason::Unread,
                message: format!(
                    "cannot tell whether {} runs {target} in {}: {why}",
                    fleet.services[*service].name, e.name
                ),
            });
        }
    }
}
