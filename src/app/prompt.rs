//! What the checklist's prompts and rows are, as data: the screen draws
//! them, the reducers in `checklist.rs` change them.

use super::keymap::{Action, Input, KeyContext};
use crate::journal::release::Decision;

/// Longest note or reason a prompt takes, in characters.
pub(crate) const MAX_TEXT: usize = 500;

/// The choices of the decision prompt, in the order shown.
pub(crate) const DECISIONS: [Decision; 2] = [Decision::Go, Decision::NoGo];

/// A selectable row of the checklist pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecklistRow {
    /// Index into `ChecklistState::items` (template order).
    Item(usize),
    /// Index into `ChecklistState::signoffs`.
    Signoff(usize),
}

/// A prompt popup: what it asks, what is typed, which choice is lit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub step: Step,
    /// The note or the reason being typed, or the role filter.
    pub text: String,
    /// The highlighted role (among those matching `text`), or decision.
    pub choice: usize,
    /// Why Enter did not go on ("a reason is required").
    pub problem: Option<String>,
}

impl Prompt {
    pub(super) fn new(step: Step) -> Prompt {
        Prompt { step, text: String::new(), choice: 0, problem: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A note on an item (`None`: on the release).
    Note { item: Option<String> },
    /// Pick the role to sign off for; typing filters the roles.
    SignOffRole,
    /// An optional note with the sign-off.
    SignOffNote { role: String },
    /// Go or no-go.
    DecisionPick,
    /// Why: required.
    DecisionReason { decision: Decision },
    /// A binding action, recorded on `y`.
    Confirm(crate::journal::release::ReleaseAction),
}

impl Step {
    /// Which keys apply while this step is asked.
    pub(crate) fn key_context(&self) -> KeyContext {
        match self {
            Step::Note { .. } | Step::SignOffNote { .. } | Step::DecisionReason { .. } => KeyContext::PromptText,
            Step::SignOffRole => KeyContext::PromptChoice,
            Step::DecisionPick => KeyContext::Decision,
            Step::Confirm(_) => KeyContext::Confirm,
        }
    }

    /// What Enter (or whatever [`Action::Submit`] is on) does at this
    /// step, for its hint line; the keys come from the keymap.
    pub(crate) fn hint_words(&self) -> &'static [(Action, &'static str)] {
        match self {
            Step::Note { .. } => &[(Action::Submit, "records")],
            Step::SignOffNote { .. } | Step::DecisionReason { .. } => &[(Action::Submit, "goes on to confirm")],
            Step::SignOffRole | Step::DecisionPick | Step::Confirm(_) => &[],
        }
    }
}

/// A one-line text field: [`Action::DeleteChar`] deletes, a typed
/// character goes in while there is room for it (`max` characters). False
/// for any other input, and for a character that does not fit.
pub fn edit(text: &mut String, input: Input, max: usize) -> bool {
    match input {
        Input::Act(Action::DeleteChar) => {
            text.pop();
            true
        }
        Input::Type(c) if text.chars().count() < max => {
            text.push(c);
            true
        }
        _ => false,
    }
}

/// `GO` / `NO-GO`, as the screen and the footer say it.
pub(crate) fn decision_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Go => "GO",
        Decision::NoGo => "NO-GO",
    }
}
