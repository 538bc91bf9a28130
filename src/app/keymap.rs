//! Keys → actions, in every context. Events say what happened, actions say
//! what the user wants, and this table is the only bridge between the two:
//! the main screen and its popups, the filter being typed and the
//! checklist's prompts all dispatch through [`input_for`], and the help
//! overlay, the footer hints and the prompts' hints are all generated from
//! [`BINDINGS`], so they cannot disagree.
//!
//! Typed text is data, not an action: in a context that takes text, a
//! printable character with no binding there is [`Input::Type`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use strum::EnumIter;

/// What the user wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter)]
pub enum Action {
    Quit,
    Help,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    Open,
    Close,
    Filter,
    Refresh,
    /// Tick or untick the selected checklist item.
    Tick,
    /// A note on the selected checklist item (or on the release).
    Note,
    /// Sign off for a role (confirmed first).
    SignOff,
    /// Record the go / no-go decision (confirmed first).
    Decide,
    /// Show or hide every blocker behind the verdict, and what clears each.
    Why,
    /// Show or hide what the release ships: the commits per service, from
    /// the last environment to the target.
    Changes,
    /// Keep the filter; record the note; go on to the prompt's next step.
    Submit,
    /// Leave a prompt with nothing recorded; clear the filter being typed.
    Cancel,
    /// Delete the last character typed.
    DeleteChar,
    /// The choice above (a role, GO / NO-GO).
    PrevChoice,
    /// The choice below.
    NextChoice,
    /// Choose GO in the decision prompt.
    PickGo,
    /// Choose NO-GO in the decision prompt.
    PickNoGo,
    /// Record the binding action the confirmation shows.
    Confirm,
}

/// Which keys apply: what has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter)]
pub(crate) enum KeyContext {
    /// The panes, and the help and detail popups over them (what an action
    /// does in a popup is up to `AppState::act`).
    Main,
    /// Typing the filter (after `/`).
    Filter,
    /// Typing a note, a sign-off note or a decision's reason.
    PromptText,
    /// Picking the role to sign off for; typing narrows the roles.
    PromptChoice,
    /// Picking GO or NO-GO.
    Decision,
    /// Confirming a binding action.
    Confirm,
}

impl KeyContext {
    /// Whether unbound printable characters are typed in.
    pub(crate) fn takes_text(self) -> bool {
        matches!(self, KeyContext::Filter | KeyContext::PromptText | KeyContext::PromptChoice)
    }

    /// How the help overlay heads this context's keys.
    pub fn title(self) -> &'static str {
        match self {
            KeyContext::Main => "Keys",
            KeyContext::Filter => "Typing the filter",
            KeyContext::PromptText => "Typing a note or a reason",
            KeyContext::PromptChoice => "Picking a sign-off role",
            KeyContext::Decision => "Picking go / no-go",
            KeyContext::Confirm => "Confirming",
        }
    }
}

/// A key as the table names it: its code, and whether Ctrl is held. Shift
/// is in the code (`G`, `BackTab`); other modifiers do not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn new(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn ch(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: false }
    }

    pub(crate) const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true }
    }

    pub fn matches(self, event: &KeyEvent) -> bool {
        self.code == event.code && self.ctrl == event.modifiers.contains(KeyModifiers::CONTROL)
    }

    /// A press of this key.
    pub fn event(self) -> KeyEvent {
        KeyEvent::new(self.code, if self.ctrl { KeyModifiers::CONTROL } else { KeyModifiers::NONE })
    }

    /// How help and hints name the key: `↑`, `PgUp`, `space`, `C-c`.
    pub fn name(self) -> String {
        let name = match self.code {
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "S-Tab".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Backspace => "Backspace".to_string(),
            KeyCode::Delete => "Del".to_string(),
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("C-{name}") } else { name }
    }
}

/// Names of keys, `/`-separated; `Y` is left out next to `y`.
fn label<'a>(keys: impl IntoIterator<Item = &'a Key>) -> String {
    let keys: Vec<Key> = keys.into_iter().copied().collect();
    let mut names: Vec<String> = Vec::new();
    for key in &keys {
        let lower_too = match key.code {
            KeyCode::Char(c) if c.is_uppercase() => {
                let lower = c.to_lowercase().next().unwrap_or(c);
                keys.contains(&Key { code: KeyCode::Char(lower), ctrl: key.ctrl })
            }
            _ => false,
        };
        let name = key.name();
        if !lower_too && !names.contains(&name) {
            names.push(name);
        }
    }
    names.join("/")
}

/// Where a binding matters, for the footer: checklist keys are hinted only
/// while the checklist pane has the focus (they work from every pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Checklist,
}

/// One binding: where, the keys, what they do, how help and hints say it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Binding {
    pub context: KeyContext,
    pub keys: &'static [Key],
    pub action: Action,
    /// The help overlay's line. Bindings of a context with the same line
    /// are shown as one, their keys together.
    pub help: &'static str,
    /// Shown in the footer (or the prompt's hint line), with this word.
    pub hint: Option<&'static str>,
    pub scope: Scope,
}

impl Binding {
    /// The keys as help names them: `↑/k`, `End/G`, `y`.
    pub fn label(&self) -> String {
        label(self.keys)
    }
}

/// A main-screen binding.
const fn b(keys: &'static [Key], action: Action, help: &'static str, hint: Option<&'static str>) -> Binding {
    Binding { context: KeyContext::Main, keys, action, help, hint, scope: Scope::Everywhere }
}

/// A checklist binding of the main screen.
const fn c(keys: &'static [Key], action: Action, help: &'static str, hint: &'static str) -> Binding {
    Binding { context: KeyContext::Main, keys, action, help, hint: Some(hint), scope: Scope::Checklist }
}

/// A binding of another context.
const fn x(
    context: KeyContext,
    keys: &'static [Key],
    action: Action,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding { context, keys, action, help, hint, scope: Scope::Everywhere }
}

use KeyContext::{Confirm, Decision, Filter, PromptChoice, PromptText};

const ENTER: Key = Key::new(KeyCode::Enter);
const ESC: Key = Key::new(KeyCode::Esc);
const BACKSPACE: Key = Key::new(KeyCode::Backspace);
const UP: Key = Key::new(KeyCode::Up);
const DOWN: Key = Key::new(KeyCode::Down);
const CTRL_C: Key = Key::ctrl('c');

/// Helps shared by the prompts.
const DELETE: &str = "delete a character";
const CANCEL: &str = "cancel (no record)";

pub(crate) const BINDINGS: &[Binding] = &[
    // The main screen, and the popups over it.
    b(&[Key::ch('?')], Action::Help, "show or hide this help", Some("help")),
    b(&[UP, Key::ch('k')], Action::Up, "move up", None),
    b(&[DOWN, Key::ch('j')], Action::Down, "move down", None),
    b(&[Key::new(KeyCode::Left), Key::ch('h')], Action::Left, "previous environment", None),
    b(&[Key::new(KeyCode::Right), Key::ch('l')], Action::Right, "next environment", None),
    b(&[Key::new(KeyCode::PageUp)], Action::PageUp, "page up", None),
    b(&[Key::new(KeyCode::PageDown)], Action::PageDown, "page down", None),
    // `g` decides (below): first row is Home only.
    b(&[Key::new(KeyCode::Home)], Action::Top, "first row", None),
    b(&[Key::new(KeyCode::End), Key::ch('G')], Action::Bottom, "last row", None),
    b(&[Key::new(KeyCode::Tab)], Action::NextPane, "next pane", Some("pane")),
    b(&[Key::new(KeyCode::BackTab)], Action::PrevPane, "previous pane", None),
    b(&[ENTER], Action::Open, "open the selected cell's (or checklist row's) detail", Some("detail")),
    b(&[ESC], Action::Close, "close popup, clear filter", None),
    b(&[Key::ch('/')], Action::Filter, "filter services by name", Some("filter")),
    b(&[Key::ch('r')], Action::Refresh, "refresh every cell now", Some("refresh")),
    b(&[Key::ch('w')], Action::Why, "why the verdict: every blocker, what clears it", Some("why")),
    b(&[Key::ch('c')], Action::Changes, "what ships: each service's commits, last env → target", Some("changes")),
    c(&[Key::ch(' ')], Action::Tick, "tick / untick the selected checklist item", "tick"),
    c(&[Key::ch('n')], Action::Note, "note on the selected checklist item (else on the release)", "note"),
    c(&[Key::ch('s')], Action::SignOff, "sign off for a role (asks to confirm)", "sign off"),
    c(&[Key::ch('g')], Action::Decide, "record the go / no-go decision (asks to confirm)", "decide"),
    b(&[Key::ch('q')], Action::Quit, "quit", Some("quit")),
    b(&[CTRL_C], Action::Quit, "quit", None),
    // Typing the filter.
    x(Filter, &[ENTER], Action::Submit, "keep the filter", Some("keep")),
    x(Filter, &[BACKSPACE], Action::DeleteChar, DELETE, None),
    x(Filter, &[ESC], Action::Cancel, "clear the filter", Some("clear")),
    x(Filter, &[CTRL_C], Action::Quit, "quit", None),
    // A note or a reason. What Enter does depends on the step: the prompt
    // says it in its hint line.
    x(PromptText, &[ENTER], Action::Submit, "record, or go on", Some("goes on")),
    x(PromptText, &[BACKSPACE], Action::DeleteChar, DELETE, Some("deletes")),
    x(PromptText, &[ESC], Action::Cancel, CANCEL, Some("cancels")),
    x(PromptText, &[CTRL_C], Action::Quit, "quit", None),
    // The sign-off role.
    x(PromptChoice, &[UP], Action::PrevChoice, "move between roles", Some("pick")),
    x(PromptChoice, &[DOWN], Action::NextChoice, "move between roles", Some("pick")),
    x(PromptChoice, &[ENTER], Action::Submit, "take that role", Some("goes on")),
    x(PromptChoice, &[BACKSPACE], Action::DeleteChar, DELETE, None),
    x(PromptChoice, &[ESC], Action::Cancel, CANCEL, Some("cancels")),
    x(PromptChoice, &[CTRL_C], Action::Quit, "quit", None),
    // GO or NO-GO: with two choices, every arrow switches.
    x(Decision, &[UP], Action::PrevChoice, "switch", Some("pick")),
    x(Decision, &[DOWN], Action::NextChoice, "switch", Some("pick")),
    x(Decision, &[Key::new(KeyCode::Left)], Action::PrevChoice, "switch", None),
    x(Decision, &[Key::new(KeyCode::Right)], Action::NextChoice, "switch", None),
    x(Decision, &[Key::new(KeyCode::BackTab)], Action::PrevChoice, "switch", None),
    x(Decision, &[Key::new(KeyCode::Tab)], Action::NextChoice, "switch", None),
    x(Decision, &[Key::ch('g')], Action::PickGo, "pick GO", Some("GO")),
    x(Decision, &[Key::ch('n')], Action::PickNoGo, "pick NO-GO", Some("NO-GO")),
    x(Decision, &[ENTER], Action::Submit, "on to the reason", Some("goes on")),
    x(Decision, &[ESC], Action::Cancel, CANCEL, Some("cancels")),
    x(Decision, &[CTRL_C], Action::Quit, "quit", None),
    // Confirming a binding action.
    x(Confirm, &[Key::ch('y'), Key::ch('Y')], Action::Confirm, "record it", Some("records it")),
    x(Confirm, &[Key::ch('n'), Key::ch('N')], Action::Cancel, CANCEL, Some("cancels")),
    x(Confirm, &[ESC], Action::Cancel, CANCEL, Some("cancels")),
    x(Confirm, &[CTRL_C], Action::Quit, "quit", None),
];

/// The bindings of a context, in table order.
pub(crate) fn bindings(context: KeyContext) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.context == context)
}

/// The action bound to a key press in a context, if any.
pub(crate) fn action_for(context: KeyContext, key: &KeyEvent) -> Option<Action> {
    bindings(context).find(|b| b.keys.iter().any(|k| k.matches(key))).map(|b| b.action)
}

/// What a key press is in a context: an action, or a character typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    Act(Action),
    Type(char),
}

/// The one way from a key press to what it means.
pub(crate) fn input_for(context: KeyContext, key: &KeyEvent) -> Option<Input> {
    if let Some(action) = action_for(context, key) {
        return Some(Input::Act(action));
    }
    match key.code {
        KeyCode::Char(c)
            if context.takes_text() && !c.is_control() && !key.modifiers.contains(KeyModifiers::CONTROL) =>
        {
            Some(Input::Type(c))
        }
        _ => None,
    }
}

/// Every key bound to an action in a context: `n/Esc`.
#[cfg(test)]
pub(crate) fn keys_for(context: KeyContext, action: Action) -> String {
    label(bindings(context).filter(|b| b.action == action).flat_map(|b| b.keys))
}

/// The first key bound to an action in a context: the `y` of "y/n".
pub(crate) fn key_for(context: KeyContext, action: Action) -> String {
    bindings(context).find(|b| b.action == action).and_then(|b| b.keys.first()).map_or_else(String::new, |k| k.name())
}

/// A hint: keys and the word for what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    pub keys: String,
    pub word: &'static str,
    pub scope: Scope,
}

/// The hints of a context, from `table`; `words` says what an action does
/// right now where that depends on more than the context (Enter records a
/// note, but goes on from a sign-off's note). Hinted bindings in a row with
/// the same word are one hint: `↑/↓ pick`.
pub(crate) fn hints_in(table: &[Binding], context: KeyContext, words: &[(Action, &'static str)]) -> Vec<Hint> {
    let mut hints: Vec<Hint> = Vec::new();
    for b in table.iter().filter(|b| b.context == context) {
        let Some(word) = b.hint else { continue };
        let word = words.iter().find(|(a, _)| *a == b.action).map_or(word, |(_, w)| *w);
        match hints.last_mut() {
            Some(last) if last.word == word && last.scope == b.scope => {
                last.keys = format!("{}/{}", last.keys, b.label());
            }
            _ => hints.push(Hint { keys: b.label(), word, scope: b.scope }),
        }
    }
    hints
}

/// The hints of a context, from [`BINDINGS`].
pub(crate) fn hints(context: KeyContext, words: &[(Action, &'static str)]) -> Vec<Hint> {
    hints_in(BINDINGS, context, words)
}

/// A prompt's hint line: `Enter records · Backspace deletes · Esc cancels`.
pub(crate) fn hint_text(context: KeyContext, words: &[(Action, &'static str)]) -> String {
    hints(context, words).iter().map(|h| format!("{} {}", h.keys, h.word)).collect::<Vec<_>>().join(" · ")
}

/// A line of the help overlay: keys and what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HelpRow {
    pub keys: String,
    pub help: &'static str,
}

/// The help overlay's lines for a context: one per help text, in table
/// order, with the keys of every binding that has it.
pub(crate) fn help_rows(context: KeyContext) -> Vec<HelpRow> {
    let mut rows: Vec<(Vec<Key>, &'static str)> = Vec::new();
    for b in bindings(context) {
        match rows.iter_mut().find(|(_, help)| *help == b.help) {
            Some((keys, _)) => keys.extend_from_slice(b.keys),
            None => rows.push((b.keys.to_vec(), b.help)),
        }
    }
    rows.into_iter().map(|(keys, help)| HelpRow { keys: label(&keys), help }).collect()
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn every_action_is_bound_and_documented() {
        // The variants come from the enum itself: a new one fails here
        // until it has a binding and a help line.
        for action in Action::iter() {
            let bound: Vec<&Binding> = BINDINGS.iter().filter(|b| b.action == action).collect();
            assert!(!bound.is_empty(), "{action:?} has no binding");
            for b in bound {
                assert!(!b.keys.is_empty(), "{action:?} in {:?}: a binding without keys", b.context);
                assert!(!b.help.trim().is_empty(), "{action:?} in {:?} has no help line", b.context);
            }
        }
    }

    #[test]
    fn every_context_has_keys_and_quits_on_ctrl_c() {
        for context in KeyContext::iter() {
            assert!(bindings(context).next().is_some(), "{context:?} has no bindings");
            let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
            assert_eq!(action_for(context, &ctrl_c), Some(Action::Quit), "{context:?}");
        }
    }

    #[test]
    fn keys_are_not_bound_twice_in_a_context() {
        for context in KeyContext::iter() {
            let mut seen = Vec::new();
            for b in bindings(context) {
                for k in b.keys {
                    assert!(!seen.contains(k), "{k:?} bound twice in {context:?}");
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn every_binding_dispatches_to_its_action() {
        for b in BINDINGS {
            for k in b.keys {
                assert_eq!(action_for(b.context, &k.event()), Some(b.action), "{k:?} in {:?}", b.context);
                assert_eq!(input_for(b.context, &k.event()), Some(Input::Act(b.action)));
            }
        }
    }

    #[test]
    fn text_fields_leave_every_printable_character_to_typing() {
        for context in KeyContext::iter().filter(|c| c.takes_text()) {
            for b in bindings(context) {
                for k in b.keys {
                    assert!(
                        k.ctrl || !matches!(k.code, KeyCode::Char(_)),
                        "{k:?} in {context:?}: a character bound where text is typed cannot be typed"
                    );
                }
            }
            for c in ['q', 'y', 'n', 'g', ' ', '/', '?', 'é', '版'] {
                assert_eq!(input_for(context, &key(KeyCode::Char(c))), Some(Input::Type(c)), "{context:?}");
            }
            let ctrl_a = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL);
            assert_eq!(input_for(context, &ctrl_a), None, "{context:?}: C-a types nothing");
        }
        // Outside text fields a character with no binding means nothing.
        assert_eq!(input_for(KeyContext::Main, &key(KeyCode::Char('x'))), None);
        assert_eq!(input_for(KeyContext::Decision, &key(KeyCode::Char('x'))), None);
        assert_eq!(input_for(KeyContext::Confirm, &key(KeyCode::Enter)), None);
    }

    #[test]
    fn vim_keys_and_arrows_agree() {
        let main = |c| action_for(KeyContext::Main, &key(c));
        assert_eq!(main(KeyCode::Char('j')), main(KeyCode::Down));
        assert_eq!(main(KeyCode::Char('q')), Some(Action::Quit));
        assert_eq!(
            action_for(KeyContext::Main, &KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        // `c` alone is not C-c: it shows what ships.
        assert_eq!(main(KeyCode::Char('c')), Some(Action::Changes));
        // Shift is in the code: `G` as a terminal sends it.
        assert_eq!(
            action_for(KeyContext::Main, &KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
    }

    #[test]
    fn checklist_keys_and_top_moved_to_home() {
        let main = |c| action_for(KeyContext::Main, &key(c));
        assert_eq!(main(KeyCode::Char(' ')), Some(Action::Tick));
        assert_eq!(main(KeyCode::Char('n')), Some(Action::Note));
        assert_eq!(main(KeyCode::Char('s')), Some(Action::SignOff));
        // `g` is no longer "first row": deciding is binding, and confirmed.
        assert_eq!(main(KeyCode::Char('g')), Some(Action::Decide));
        assert_eq!(main(KeyCode::Home), Some(Action::Top));
        assert_eq!(main(KeyCode::Char('G')), Some(Action::Bottom));
        for b in bindings(KeyContext::Main).filter(|b| b.scope == Scope::Checklist) {
            assert!(b.hint.is_some(), "{:?}: checklist keys are hinted in the checklist pane", b.action);
        }
    }

    #[test]
    fn the_same_key_means_what_its_context_says() {
        let n = key(KeyCode::Char('n'));
        assert_eq!(input_for(KeyContext::Main, &n), Some(Input::Act(Action::Note)));
        assert_eq!(input_for(KeyContext::PromptText, &n), Some(Input::Type('n')));
        assert_eq!(input_for(KeyContext::Decision, &n), Some(Input::Act(Action::PickNoGo)));
        assert_eq!(input_for(KeyContext::Confirm, &n), Some(Input::Act(Action::Cancel)));
        let esc = key(KeyCode::Esc);
        assert_eq!(action_for(KeyContext::Main, &esc), Some(Action::Close));
        for context in KeyContext::iter().filter(|c| *c != KeyContext::Main) {
            assert_eq!(action_for(context, &esc), Some(Action::Cancel), "{context:?}");
        }
    }

    #[test]
    fn labels_name_the_keys() {
        let row = |action| bindings(KeyContext::Main).find(|b| b.action == action).unwrap().label();
        assert_eq!(row(Action::Up), "↑/k");
        assert_eq!(row(Action::Bottom), "End/G");
        assert_eq!(row(Action::PrevPane), "S-Tab");
        assert_eq!(row(Action::Tick), "space");
        assert_eq!(keys_for(KeyContext::Main, Action::Quit), "q/C-c");
        assert_eq!(keys_for(KeyContext::Confirm, Action::Confirm), "y");
        assert_eq!(keys_for(KeyContext::Confirm, Action::Cancel), "n/Esc");
        assert_eq!(key_for(KeyContext::Confirm, Action::Cancel), "n");
    }

    #[test]
    fn hints_come_from_the_table() {
        assert_eq!(hint_text(KeyContext::Filter, &[]), "Enter keep · Esc clear");
        assert_eq!(
            hint_text(KeyContext::PromptText, &[(Action::Submit, "records")]),
            "Enter records · Backspace deletes · Esc cancels"
        );
        assert_eq!(hint_text(KeyContext::PromptChoice, &[]), "↑/↓ pick · Enter goes on · Esc cancels");
        assert_eq!(hint_text(KeyContext::Decision, &[]), "↑/↓ pick · g GO · n NO-GO · Enter goes on · Esc cancels");
        assert_eq!(hint_text(KeyContext::Confirm, &[]), "y records it · n/Esc cancels");
        // Every hint names the keys its binding has, whatever they are.
        for context in KeyContext::iter() {
            let text = hint_text(context, &[]);
            for b in bindings(context).filter(|b| b.hint.is_some()) {
                assert!(text.contains(&b.label()), "{context:?}: {:?} not in {text:?}", b.label());
            }
        }
    }

    #[test]
    fn a_changed_binding_changes_its_hint() {
        // The same table with Submit on F2 in prompts: the hint follows.
        const F2: &[Key] = &[Key::new(KeyCode::F(2))];
        let mut table = BINDINGS.to_vec();
        for b in table.iter_mut().filter(|b| b.context == KeyContext::PromptText && b.action == Action::Submit) {
            b.keys = F2;
        }
        let words = [(Action::Submit, "records")];
        let hints = hints_in(&table, KeyContext::PromptText, &words);
        assert_eq!(hints[0], Hint { keys: "F2".into(), word: "records", scope: Scope::Everywhere });
        assert!(hints.iter().all(|h| !h.keys.contains("Enter")), "{hints:?}");
        // And the real table says Enter, because Submit is on Enter.
        let submit = bindings(KeyContext::PromptText).find(|b| b.action == Action::Submit).unwrap();
        assert!(hint_text(KeyContext::PromptText, &words).starts_with(&format!("{} records", submit.label())));
    }

    #[test]
    fn help_rows_join_the_keys_of_one_help_line() {
        let decision = help_rows(KeyContext::Decision);
        assert_eq!(decision[0], HelpRow { keys: "↑/↓/←/→/S-Tab/Tab".into(), help: "switch" });
        let main = help_rows(KeyContext::Main);
        assert!(main.contains(&HelpRow { keys: "q/C-c".into(), help: "quit" }), "{main:?}");
        // Every binding's help line is in its context's rows.
        for b in BINDINGS {
            assert!(help_rows(b.context).iter().any(|r| r.help == b.help && r.keys.contains(&b.label())));
        }
    }
}
