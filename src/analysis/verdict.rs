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
    Finding,
    Window,
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

pub fn judge(fleet: &Fleet, findings: &[Finding], now: Timestamp) -> Judgement {
    let mut blockers: Vec<Blocker> = findings
        .iter()
        .filter(|f| f.severity == Severity::High)
        .map(|f| Blocker { reason: BlockerReason::Finding, message: f.message.clone() })
        .collect();
    if let Some(window) = fleet.release.as_ref().and_then(|r| r.window) {
        let fmt = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
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
    let verdict = if blockers.is_empty() { Verdict::Go } else { Verdict::NoGo };
    Judgement { verdict, blockers }
}
