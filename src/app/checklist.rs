//! The checklist pane's reducers: its selection, ticking, and the prompts
//! that note, sign off and decide. Nothing is written here: a reducer
//! returns [`Effect::Record`] and the loop appends the action to the
//! release journal (durably), then shows it. Sign-offs and decisions are
//! binding, so they wait for a `y` in a confirmation first.

use super::keymap::{self, Action, Input, KeyContext};
use super::prompt::{ChecklistRow, DECISIONS, MAX_TEXT, Prompt, Step, decision_label, edit};
use super::state::{AppState, Effect, Pane, Popup};
use crate::checklist::Truth;
use crate::journal::release::{Decision, ReleaseAction};

impl AppState {
    /// The pane's selectable rows, phase by phase: its items, then its
    /// sign-offs. Empty without a checklist.
    pub(crate) fn checklist_rows(&self) -> Vec<ChecklistRow> {
        let (Some(template), Some(state)) = (&self.engine.template, &self.eval.checklist) else {
            return Vec::new();
        };
        (0..template.phases.len())
            .flat_map(|p| {
                let items = state.items.iter().enumerate().filter(move |(_, i)| i.phase == p);
                let signoffs = state.signoffs.iter().enumerate().filter(move |(_, s)| s.phase == p);
                items.map(|(i, _)| ChecklistRow::Item(i)).chain(signoffs.map(|(i, _)| ChecklistRow::Signoff(i)))
            })
            .collect()
    }

    pub(crate) fn selected_checklist_row(&self) -> Option<ChecklistRow> {
        self.checklist_rows().get(self.ui.checklist_row).copied()
    }

    /// The template's sign-off roles, each once, in order.
    pub(crate) fn signoff_roles(&self) -> Vec<&str> {
        let mut roles: Vec<&str> = Vec::new();
        for (_, role) in self.engine.template.iter().flat_map(|t| t.signoffs()) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles
    }

    /// The roles the sign-off prompt offers for what is typed.
    pub(crate) fn matching_roles(&self, typed: &str) -> Vec<&str> {
        let typed = typed.trim().to_lowercase();
        self.signoff_roles().into_iter().filter(|r| r.to_lowercase().contains(&typed)).collect()
    }

    /// An item's title, by id (the id when the template does not know it).
    pub(crate) fn item_title<'a>(&'a self, id: &'a str) -> &'a str {
        self.engine.template.as_ref().and_then(|t| t.item(id)).map_or(id, |(_, item)| item.title.as_str())
    }

    /// What a recorded action did, for the footer.
    pub(crate) fn describe(&self, action: &ReleaseAction) -> String {
        let op = &self.operator;
        match action {
            ReleaseAction::Tick { item, .. } => format!("ticked “{}” as {op}", self.item_title(item)),
            ReleaseAction::Untick { item, .. } => format!("unticked “{}” as {op}", self.item_title(item)),
            ReleaseAction::Note { item: Some(item), .. } => format!("note on “{}” by {op}", self.item_title(item)),
            ReleaseAction::Note { item: None, .. } => format!("note on the release by {op}"),
            ReleaseAction::SignOff { role, .. } => format!("signed off as {role}, by {op}"),
            ReleaseAction::RevokeSignOff { role, .. } => format!("{role} sign-off revoked by {op}"),
            ReleaseAction::Decision { decision, .. } => format!("{} decided by {op}", decision_label(*decision)),
        }
    }

    fn say(&mut self, message: impl Into<String>) -> Effect {
        self.ui.message = Some(message.into());
        Effect::Redraw
    }

    fn without_checklist(&mut self) -> Option<Effect> {
        self.eval
            .checklist
            .is_none()
            .then(|| self.say("this release has no checklist: give [release] a kind or a template"))
    }

    fn open(&mut self, step: Step) -> Effect {
        self.ui.popup = Some(Popup::Prompt(Prompt::new(step)));
        Effect::Redraw
    }

    /// `space`: tick or untick the selected item. Items the cockpit can
    /// evaluate are its own to tick; items bound to a condition it cannot
    /// evaluate (Unknown), and items without one, are a person's.
    pub(super) fn tick_selected(&mut self) -> Effect {
        if let Some(effect) = self.without_checklist() {
            return effect;
        }
        if self.ui.focus != Pane::Checklist {
            return self.say("Tab to the checklist pane and pick an item to tick");
        }
        let (Some(row), Some(checklist)) = (self.selected_checklist_row(), &self.eval.checklist) else {
            return Effect::None;
        };
        let index = match row {
            ChecklistRow::Signoff(i) => {
                let role = checklist.signoffs[i].role.clone();
                return self.start_signoff_for(&role);
            }
            ChecklistRow::Item(i) => i,
        };
        let item = &checklist.items[index];
        match &item.condition {
            Some(Truth::True(evidence) | Truth::False(evidence)) => {
                let condition = self
                    .engine
                    .template
                    .as_ref()
                    .and_then(|t| t.item(&item.id))
                    .and_then(|(_, spec)| spec.condition.as_ref())
                    .map(|c| c.display(&self.engine.fleet))
                    .unwrap_or_default();
                let message = format!(
                    "the cockpit ticks “{}” itself ({condition}: {evidence}); nothing recorded",
                    self.item_title(&item.id)
                );
                self.say(message)
            }
            _ if item.ticked.is_some() => Effect::Record(ReleaseAction::Untick { item: item.id.clone(), note: None }),
            _ => Effect::Record(ReleaseAction::Tick { item: item.id.clone(), note: None }),
        }
    }

    /// `n`: a note on the selected item, or on the release from elsewhere.
    pub(super) fn open_note(&mut self) -> Effect {
        if let Some(effect) = self.without_checklist() {
            return effect;
        }
        let item = match (self.ui.focus, self.selected_checklist_row(), &self.eval.checklist) {
            (Pane::Checklist, Some(ChecklistRow::Item(i)), Some(c)) => Some(c.items[i].id.clone()),
            _ => None,
        };
        self.open(Step::Note { item })
    }

    /// `s`: pick a role to sign off for: the selected sign-off's, else the
    /// first one missing.
    pub(super) fn open_signoff(&mut self) -> Effect {
        if let Some(effect) = self.without_checklist() {
            return effect;
        }
        let roles = self.signoff_roles();
        if roles.is_empty() {
            let name = self.engine.template.as_ref().map_or("", |t| t.name.as_str());
            return self.say(format!("the {name} checklist asks for no sign-offs"));
        }
        let selected = match (self.ui.focus, self.selected_checklist_row(), &self.eval.checklist) {
            (Pane::Checklist, Some(ChecklistRow::Signoff(i)), Some(c)) => Some(c.signoffs[i].role.as_str()),
            _ => None,
        };
        let missing = self.eval.checklist.as_ref().and_then(|c| c.signoffs.iter().find(|s| s.signed.is_none()));
        let wanted = selected.or(missing.map(|s| s.role.as_str()));
        let choice = wanted.and_then(|w| roles.iter().position(|r| *r == w)).unwrap_or(0);
        let mut prompt = Prompt::new(Step::SignOffRole);
        prompt.choice = choice;
        self.ui.popup = Some(Popup::Prompt(prompt));
        Effect::Redraw
    }

    /// A role picked: sign it off (with an optional note), or revoke it
    /// when it is signed already. Both are confirmed first.
    fn start_signoff_for(&mut self, role: &str) -> Effect {
        let signed = self.eval.checklist.as_ref().is_some_and(|c| c.manual.signoff(role).is_some());
        if signed {
            self.open(Step::Confirm(ReleaseAction::RevokeSignOff { role: role.to_string(), note: None }))
        } else {
            self.open(Step::SignOffNote { role: role.to_string() })
        }
    }

    /// `g`: the go / no-go call; the cockpit's verdict is the default.
    pub(super) fn open_decision(&mut self) -> Effect {
        if let Some(effect) = self.without_checklist() {
            return effect;
        }
        let mut prompt = Prompt::new(Step::DecisionPick);
        prompt.choice = usize::from(self.eval.judgement.verdict != crate::analysis::verdict::Verdict::Go);
        self.ui.popup = Some(Popup::Prompt(prompt));
        Effect::Redraw
    }

    /// What a key meant while a prompt is open (the keymap says, in the
    /// prompt step's context): the prompt owns the keyboard.
    pub(super) fn prompt_input(&mut self, input: Input) -> Effect {
        let Some(Popup::Prompt(prompt)) = &self.ui.popup else {
            return Effect::None;
        };
        let mut prompt = prompt.clone();
        match input {
            Input::Act(Action::Quit) => return Effect::Quit,
            Input::Act(Action::Cancel) => {
                self.ui.popup = None;
                return self.say("cancelled: nothing recorded");
            }
            _ => {}
        }
        prompt.problem = None;
        let step = prompt.step.clone();
        match step {
            Step::Confirm(action) => match input {
                Input::Act(Action::Confirm) => {
                    self.ui.popup = None;
                    return Effect::Record(action);
                }
                _ => return Effect::None,
            },
            Step::DecisionPick => {
                let n = DECISIONS.len();
                let at = prompt.choice.min(n - 1);
                match input {
                    Input::Act(Action::PrevChoice) => prompt.choice = (at + n - 1) % n,
                    Input::Act(Action::NextChoice) => prompt.choice = (at + 1) % n,
                    Input::Act(Action::PickGo) => prompt.choice = decision_index(Decision::Go),
                    Input::Act(Action::PickNoGo) => prompt.choice = decision_index(Decision::NoGo),
                    Input::Act(Action::Submit) => {
                        let decision = DECISIONS[at];
                        return self.open(Step::DecisionReason { decision });
                    }
                    _ => return Effect::None,
                }
            }
            Step::SignOffRole => {
                match input {
                    Input::Act(Action::PrevChoice) => prompt.choice = prompt.choice.saturating_sub(1),
                    Input::Act(Action::NextChoice) => prompt.choice += 1,
                    Input::Act(Action::Submit) => {
                        let role = self.matching_roles(&prompt.text).get(prompt.choice).map(|r| r.to_string());
                        match role {
                            Some(role) => return self.start_signoff_for(&role),
                            None => prompt.problem = Some(format!("no sign-off role matches “{}”", prompt.text)),
                        }
                    }
                    input if edit(&mut prompt.text, input, MAX_TEXT) => prompt.choice = 0,
                    _ => return Effect::None,
                }
                let matching = self.matching_roles(&prompt.text).len();
                prompt.choice = prompt.choice.min(matching.saturating_sub(1));
            }
            Step::Note { item } => match input {
                Input::Act(Action::Submit) => match prompt.text.trim() {
                    "" => {
                        let cancel = keymap::key_for(KeyContext::PromptText, Action::Cancel);
                        prompt.problem = Some(format!("type a note first ({cancel} cancels)"));
                    }
                    text => {
                        let text = text.to_string();
                        self.ui.popup = None;
                        return Effect::Record(ReleaseAction::Note { item, text });
                    }
                },
                input if edit(&mut prompt.text, input, MAX_TEXT) => {}
                _ => return Effect::None,
            },
            Step::SignOffNote { role } => match input {
                Input::Act(Action::Submit) => {
                    let note = Some(prompt.text.trim().to_string()).filter(|n| !n.is_empty());
                    return self.open(Step::Confirm(ReleaseAction::SignOff { role, note }));
                }
                input if edit(&mut prompt.text, input, MAX_TEXT) => {}
                _ => return Effect::None,
            },
            Step::DecisionReason { decision } => match input {
                Input::Act(Action::Submit) => match prompt.text.trim() {
                    "" => prompt.problem = Some("a reason is required".into()),
                    reason => {
                        let reason = reason.to_string();
                        return self.open(Step::Confirm(ReleaseAction::Decision { decision, reason }));
                    }
                },
                input if edit(&mut prompt.text, input, MAX_TEXT) => {}
                _ => return Effect::None,
            },
        }
        self.ui.popup = Some(Popup::Prompt(prompt));
        Effect::Redraw
    }
}

/// Where a decision is among the prompt's choices.
fn decision_index(decision: Decision) -> usize {
    DECISIONS.iter().position(|d| *d == decision).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use crossterm::event::{Event, KeyCode, KeyEvent};
    use jiff::Timestamp;

    use super::*;
    use crate::journal::release::{Decision, ReleaseEvent};

    const CONFIG: &str = r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "2026.11.1"
kind = "patch"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[release.targets]
payments = "1.4.1"
"#;

    fn now() -> Timestamp {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn state() -> AppState {
        let config = crate::setup::from_toml_str(CONFIG, "test").unwrap();
        let template = crate::checklist::resolve(&config.fleet, None).unwrap();
        let mut s = AppState::new(crate::engine::Engine::new(config.fleet.clone(), Vec::new(), template), now());
        s.operator = "tester".into();
        s.reanalyze();
        s.ui.focus = Pane::Checklist;
        s
    }

    fn press(s: &mut AppState, code: KeyCode) -> Effect {
        s.handle_event(&Event::Key(KeyEvent::from(code)))
    }

    fn type_text(s: &mut AppState, text: &str) {
        for c in text.chars() {
            press(s, KeyCode::Char(c));
        }
    }

    fn select_item(s: &mut AppState, id: &str) {
        let rows = s.checklist_rows();
        let checklist = s.eval.checklist.as_ref().unwrap();
        s.ui.checklist_row =
            rows.iter().position(|r| matches!(r, ChecklistRow::Item(i) if checklist.items[*i].id == id)).unwrap();
    }

    fn record(s: &mut AppState, action: ReleaseAction) {
        s.take_release_events(vec![ReleaseEvent::new("tester", now(), action)]);
        s.reanalyze();
    }

    #[test]
    fn space_ticks_a_manual_item_and_unticks_a_ticked_one() {
        let mut s = state();
        select_item(&mut s, "scope-frozen");
        let tick = ReleaseAction::Tick { item: "scope-frozen".into(), note: None };
        assert_eq!(press(&mut s, KeyCode::Char(' ')), Effect::Record(tick.clone()));
        record(&mut s, tick);
        assert_eq!(
            press(&mut s, KeyCode::Char(' ')),
            Effect::Record(ReleaseAction::Untick { item: "scope-frozen".into(), note: None })
        );
    }

    #[test]
    fn space_on_an_item_the_cockpit_evaluates_records_nothing_and_says_why() {
        let mut s = state();
        select_item(&mut s, "staging-deployed");
        assert!(matches!(
            s.eval.checklist.as_ref().unwrap().item("staging-deployed").unwrap().condition,
            Some(Truth::False(_))
        ));
        let effect = press(&mut s, KeyCode::Char(' '));
        assert!(!matches!(effect, Effect::Record(_)), "{effect:?}");
        let message = s.ui.message.clone().unwrap();
        assert!(message.contains("the cockpit ticks") && message.contains("deployed(staging)"), "{message}");
        // The next key clears it.
        press(&mut s, KeyCode::Down);
        assert_eq!(s.ui.message, None);
    }

    #[test]
    fn space_on_an_item_whose_condition_is_unknown_is_a_persons_tick() {
        let mut s = state();
        select_item(&mut s, "triggers-clear");
        assert!(matches!(
            s.eval.checklist.as_ref().unwrap().item("triggers-clear").unwrap().condition,
            Some(Truth::Unknown(_))
        ));
        assert_eq!(
            press(&mut s, KeyCode::Char(' ')),
            Effect::Record(ReleaseAction::Tick { item: "triggers-clear".into(), note: None })
        );
    }

    #[test]
    fn ticking_from_another_pane_only_says_where_to_go() {
        let mut s = state();
        s.ui.focus = Pane::Matrix;
        assert_eq!(press(&mut s, KeyCode::Char(' ')), Effect::Redraw);
        assert!(s.ui.message.as_deref().is_some_and(|m| m.contains("Tab to the checklist")));
    }

    #[test]
    fn sign_off_is_confirmed_then_recorded() {
        let mut s = state();
        assert_eq!(press(&mut s, KeyCode::Char('s')), Effect::Redraw);
        // patch asks tech-lead (staging) and product-owner (production).
        assert_eq!(s.signoff_roles(), vec!["tech-lead", "product-owner"]);
        type_text(&mut s, "prod");
        press(&mut s, KeyCode::Enter);
        type_text(&mut s, "ok from PO");
        assert_eq!(press(&mut s, KeyCode::Enter), Effect::Redraw);
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!("no confirmation: {:?}", s.ui.popup) };
        assert!(matches!(&p.step, Step::Confirm(ReleaseAction::SignOff { role, .. }) if role == "product-owner"));
        // Other keys do not confirm.
        assert_eq!(press(&mut s, KeyCode::Enter), Effect::None);
        assert_eq!(
            press(&mut s, KeyCode::Char('y')),
            Effect::Record(ReleaseAction::SignOff { role: "product-owner".into(), note: Some("ok from PO".into()) })
        );
        assert_eq!(s.ui.popup, None);
    }

    #[test]
    fn esc_cancels_every_prompt_with_no_effect() {
        for opening in ['s', 'g', 'n'] {
            let mut s = state();
            press(&mut s, KeyCode::Char(opening));
            assert!(matches!(s.ui.popup, Some(Popup::Prompt(_))), "{opening}");
            type_text(&mut s, "qy");
            let effect = press(&mut s, KeyCode::Esc);
            assert!(!matches!(effect, Effect::Record(_) | Effect::Quit), "{opening}: {effect:?}");
            assert_eq!(s.ui.popup, None);
            assert_eq!(s.ui.message.as_deref(), Some("cancelled: nothing recorded"));
        }
        // `n` at the confirmation cancels too.
        let mut s = state();
        press(&mut s, KeyCode::Char('s'));
        press(&mut s, KeyCode::Enter);
        press(&mut s, KeyCode::Enter);
        assert_eq!(press(&mut s, KeyCode::Char('n')), Effect::Redraw);
        assert_eq!(s.ui.popup, None);
    }

    #[test]
    fn a_decision_needs_a_reason_and_a_confirmation() {
        let mut s = state();
        press(&mut s, KeyCode::Char('g'));
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!() };
        assert_eq!(p.choice, 1, "the verdict is not go: no-go is the default");
        press(&mut s, KeyCode::Up);
        press(&mut s, KeyCode::Enter);
        assert_eq!(press(&mut s, KeyCode::Enter), Effect::Redraw);
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!() };
        assert_eq!(p.problem.as_deref(), Some("a reason is required"));
        type_text(&mut s, "CAB approved");
        press(&mut s, KeyCode::Enter);
        assert_eq!(
            press(&mut s, KeyCode::Char('y')),
            Effect::Record(ReleaseAction::Decision { decision: Decision::Go, reason: "CAB approved".into() })
        );
    }

    #[test]
    fn a_note_goes_on_the_selected_item_and_q_is_text_not_quit() {
        let mut s = state();
        select_item(&mut s, "regression-suite");
        press(&mut s, KeyCode::Char('n'));
        type_text(&mut s, "q: flaky test quarantined");
        press(&mut s, KeyCode::Backspace);
        assert_eq!(
            press(&mut s, KeyCode::Enter),
            Effect::Record(ReleaseAction::Note {
                item: Some("regression-suite".into()),
                text: "q: flaky test quarantined".chars().take(24).collect()
            })
        );
    }

    #[test]
    fn a_signed_role_is_offered_for_revoking() {
        let mut s = state();
        record(&mut s, ReleaseAction::SignOff { role: "tech-lead".into(), note: None });
        s.ui.checklist_row = s.checklist_rows().iter().position(|r| matches!(r, ChecklistRow::Signoff(0))).unwrap();
        press(&mut s, KeyCode::Char(' '));
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!() };
        assert_eq!(p.step, Step::Confirm(ReleaseAction::RevokeSignOff { role: "tech-lead".into(), note: None }));
    }

    fn choice(s: &AppState) -> usize {
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!("no prompt: {:?}", s.ui.popup) };
        p.choice
    }

    #[test]
    fn the_decision_is_picked_with_arrows_tab_g_and_n() {
        let mut s = state();
        press(&mut s, KeyCode::Char('g'));
        assert_eq!(s.key_context(), KeyContext::Decision);
        assert_eq!(choice(&s), 1);
        for (code, then) in [
            (KeyCode::Tab, 0),
            (KeyCode::Left, 1),
            (KeyCode::BackTab, 0),
            (KeyCode::Right, 1),
            (KeyCode::Down, 0),
            (KeyCode::Char('n'), 1),
            (KeyCode::Char('n'), 1),
            (KeyCode::Char('g'), 0),
        ] {
            press(&mut s, code);
            assert_eq!(choice(&s), then, "after {code:?}");
        }
        // Not a text field: other characters do nothing.
        assert_eq!(press(&mut s, KeyCode::Char('x')), Effect::None);
        press(&mut s, KeyCode::Enter);
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!() };
        assert_eq!(p.step, Step::DecisionReason { decision: Decision::Go });
    }

    #[test]
    fn ctrl_keys_type_nothing_and_ctrl_c_quits_from_every_prompt() {
        let mut s = state();
        press(&mut s, KeyCode::Char('n'));
        let ctrl = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), crossterm::event::KeyModifiers::CONTROL));
        assert_eq!(s.handle_event(&ctrl('a')), Effect::None);
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!() };
        assert_eq!(p.text, "");
        assert_eq!(s.handle_event(&ctrl('c')), Effect::Quit);
        // At the confirmation too; and `Y` confirms like `y`.
        let mut s = state();
        press(&mut s, KeyCode::Char('s'));
        press(&mut s, KeyCode::Enter);
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.key_context(), KeyContext::Confirm);
        assert_eq!(s.handle_event(&ctrl('c')), Effect::Quit);
        assert!(matches!(press(&mut s, KeyCode::Char('Y')), Effect::Record(ReleaseAction::SignOff { .. })));
    }

    #[test]
    fn prompts_dispatch_through_the_keymap() {
        // Whatever key the table binds in a prompt's context does what its
        // action says: the reducer never sees a raw key.
        let press_bound = |s: &mut AppState, action: Action| {
            let context = s.key_context();
            let binding = keymap::bindings(context).find(|b| b.action == action).expect("bound");
            s.handle_event(&Event::Key(binding.keys[0].event()))
        };
        for opening in [Action::Note, Action::SignOff, Action::Decide] {
            let mut s = state();
            press_bound(&mut s, opening);
            assert!(s.key_context() != KeyContext::Main, "{opening:?}");
            assert_eq!(press_bound(&mut s, Action::Cancel), Effect::Redraw);
            assert_eq!(s.ui.popup, None, "{opening:?}");
        }
        let mut s = state();
        press_bound(&mut s, Action::SignOff);
        assert_eq!(s.key_context(), KeyContext::PromptChoice);
        press_bound(&mut s, Action::NextChoice);
        press_bound(&mut s, Action::Submit);
        assert_eq!(s.key_context(), KeyContext::PromptText);
        press_bound(&mut s, Action::Submit);
        assert_eq!(s.key_context(), KeyContext::Confirm);
        let effect = press_bound(&mut s, Action::Confirm);
        assert!(matches!(effect, Effect::Record(ReleaseAction::SignOff { ref role, .. }) if role == "product-owner"));
    }

    #[test]
    fn an_empty_note_says_which_key_cancels() {
        let mut s = state();
        press(&mut s, KeyCode::Char('n'));
        press(&mut s, KeyCode::Enter);
        let Some(Popup::Prompt(p)) = &s.ui.popup else { panic!() };
        let cancel = keymap::key_for(KeyContext::PromptText, Action::Cancel);
        assert_eq!(p.problem.as_deref(), Some(format!("type a note first ({cancel} cancels)").as_str()));
        assert_eq!(cancel, "Esc");
    }

    #[test]
    fn without_a_checklist_the_keys_say_so() {
        let mut s = state();
        s.engine.template = None;
        s.reanalyze();
        for key in [' ', 'n', 's', 'g'] {
            assert_eq!(press(&mut s, KeyCode::Char(key)), Effect::Redraw);
            assert!(s.ui.popup.is_none());
            assert!(s.ui.message.as_deref().is_some_and(|m| m.contains("no checklist")), "{key}");
        }
    }
}
