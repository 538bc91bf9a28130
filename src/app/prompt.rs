//! What the checklist's prompts and rows are, as data: the screen draws
//! them, the reducers in `checklist.rs` change them.

use super::keymap::{Action, Input, KeyContext};
use super::state::{AppState, Effect, Pane, Popup};
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

/// Longest operator name, in characters (as the config's is cut).
pub(crate) const MAX_OPERATOR: usize = 40;

/// Asking who is acting: nobody is named in the config, `$USER` or
/// `$LOGNAME`, and something is about to be recorded. Asked once: the name
/// stays for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorPrompt {
    /// The name being typed.
    pub text: String,
    /// What the key that asked was for: done once the name is given.
    pub then: Action,
    /// Why Enter did not go on.
    pub problem: Option<String>,
}

impl AppState {
    /// Whether `action` must wait for a name: it may record something, and
    /// nobody is named yet.
    pub(super) fn asks_operator_first(&self, action: Action) -> bool {
        let records = match action {
            // A tick is recorded at once, from the checklist pane only.
            Action::Tick => self.ui.focus == Pane::Checklist,
            Action::Note | Action::SignOff | Action::Decide => true,
            _ => false,
        };
        records && self.operator.trim().is_empty() && self.eval.checklist.is_some()
    }

    pub(super) fn ask_operator(&mut self, then: Action) -> Effect {
        self.ui.popup = Some(Popup::Operator(OperatorPrompt { text: String::new(), then, problem: None }));
        Effect::Redraw
    }

    /// A key while the name is asked: Enter names the operator and carries
    /// on with what was asked for.
    pub(super) fn operator_input(&mut self, input: Input) -> Effect {
        let Some(Popup::Operator(prompt)) = &self.ui.popup else {
            return Effect::None;
        };
        let mut prompt = prompt.clone();
        prompt.problem = None;
        match input {
            Input::Act(Action::Quit) => return Effect::Quit,
            Input::Act(Action::Cancel) => {
                self.ui.popup = None;
                self.ui.message = Some("cancelled: nothing recorded".into());
                return Effect::Redraw;
            }
            Input::Act(Action::Submit) => {
                let name = crate::sanitize::clean_to(prompt.text.trim(), MAX_OPERATOR);
                if name.trim().is_empty() {
                    let cancel = super::keymap::key_for(KeyContext::PromptText, Action::Cancel);
                    prompt.problem = Some(format!("type a name first ({cancel} cancels)"));
                } else {
                    self.ui.popup = None;
                    self.operator = name.trim().to_string();
                    self.ui.message = Some(format!(
                        "acting as {} until you quit (set `operator` in the config to skip this question)",
                        self.operator
                    ));
                    return self.act(prompt.then);
                }
            }
            input if edit(&mut prompt.text, input, MAX_OPERATOR) => {}
            _ => return Effect::None,
        }
        self.ui.popup = Some(Popup::Operator(prompt));
        Effect::Redraw
    }
}
