//! Keys → actions. The one table that dispatch, the help overlay and the
//! footer hints all read, so they cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What the user wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// Where a binding matters, for the footer: checklist keys are hinted only
/// while the checklist pane has the focus (they work from every pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Checklist,
}

/// One binding: the keys, what they do, and how the help names them.
pub struct Binding {
    pub keys: &'static [KeyCode],
    pub ctrl: bool,
    pub action: Action,
    pub label: &'static str,
    pub help: &'static str,
    /// Shown in the footer hint line, with this word.
    pub hint: Option<&'static str>,
    pub scope: Scope,
}

const fn b(
    keys: &'static [KeyCode],
    action: Action,
    label: &'static str,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding { keys, ctrl: false, action, label, help, hint, scope: Scope::Everywhere }
}

/// A checklist binding.
const fn c(
    keys: &'static [KeyCode],
    action: Action,
    label: &'static str,
    help: &'static str,
    hint: &'static str,
) -> Binding {
    Binding { keys, ctrl: false, action, label, help, hint: Some(hint), scope: Scope::Checklist }
}

pub const BINDINGS: &[Binding] = &[
    b(&[KeyCode::Char('?')], Action::Help, "?", "show or hide this help", Some("help")),
    b(&[KeyCode::Up, KeyCode::Char('k')], Action::Up, "↑/k", "move up", None),
    b(&[KeyCode::Down, KeyCode::Char('j')], Action::Down, "↓/j", "move down", None),
    b(&[KeyCode::Left, KeyCode::Char('h')], Action::Left, "←/h", "previous environment", None),
    b(&[KeyCode::Right, KeyCode::Char('l')], Action::Right, "→/l", "next environment", None),
    b(&[KeyCode::PageUp], Action::PageUp, "PgUp", "page up", None),
    b(&[KeyCode::PageDown], Action::PageDown, "PgDn", "page down", None),
    // `g` decides (below): first row is Home only.
    b(&[KeyCode::Home], Action::Top, "Home", "first row", None),
    b(&[KeyCode::End, KeyCode::Char('G')], Action::Bottom, "End/G", "last row", None),
    b(&[KeyCode::Tab], Action::NextPane, "Tab", "next pane", Some("pane")),
    b(&[KeyCode::BackTab], Action::PrevPane, "S-Tab", "previous pane", None),
    b(&[KeyCode::Enter], Action::Open, "Enter", "open the selected cell's (or checklist row's) detail", Some("detail")),
    b(&[KeyCode::Esc], Action::Close, "Esc", "close popup, clear filter", None),
    b(&[KeyCode::Char('/')], Action::Filter, "/", "filter services by name", Some("filter")),
    b(&[KeyCode::Char('r')], Action::Refresh, "r", "refresh every cell now", Some("refresh")),
    c(&[KeyCode::Char(' ')], Action::Tick, "space", "tick / untick the selected checklist item", "tick"),
    c(&[KeyCode::Char('n')], Action::Note, "n", "note on the selected checklist item (else on the release)", "note"),
    c(&[KeyCode::Char('s')], Action::SignOff, "s", "sign off for a role (asks to confirm)", "sign off"),
    c(&[KeyCode::Char('g')], Action::Decide, "g", "record the go / no-go decision (asks to confirm)", "decide"),
    b(&[KeyCode::Char('q')], Action::Quit, "q", "quit", Some("quit")),
    Binding {
        keys: &[KeyCode::Char('c')],
        ctrl: true,
        action: Action::Quit,
        label: "C-c",
        help: "quit",
        hint: None,
        scope: Scope::Everywhere,
    },
];

/// The action bound to a key press, if any.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    BINDINGS.iter().find(|b| b.ctrl == ctrl && b.keys.contains(&key.code)).map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_bound_and_documented() {
        use Action::*;
        for action in [
            Quit, Help, Up, Down, Left, Right, PageUp, PageDown, Top, Bottom, NextPane, PrevPane, Open, Close, Filter,
            Refresh, Tick, Note, SignOff, Decide,
        ] {
            let binding = BINDINGS.iter().find(|b| b.action == action);
            assert!(binding.is_some_and(|b| !b.help.is_empty()), "{action:?} has no documented binding");
        }
    }

    #[test]
    fn keys_are_not_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(!seen.contains(&(k, b.ctrl)), "{k:?} bound twice");
                seen.push((k, b.ctrl));
            }
        }
    }

    #[test]
    fn vim_keys_and_arrows_agree() {
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(action_for(&key(KeyCode::Char('j'))), action_for(&key(KeyCode::Down)));
        assert_eq!(action_for(&key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action_for(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(action_for(&key(KeyCode::Char('c'))), None);
    }

    #[test]
    fn checklist_keys_and_top_moved_to_home() {
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(action_for(&key(KeyCode::Char(' '))), Some(Action::Tick));
        assert_eq!(action_for(&key(KeyCode::Char('n'))), Some(Action::Note));
        assert_eq!(action_for(&key(KeyCode::Char('s'))), Some(Action::SignOff));
        // `g` is no longer "first row": deciding is binding, and confirmed.
        assert_eq!(action_for(&key(KeyCode::Char('g'))), Some(Action::Decide));
        assert_eq!(action_for(&key(KeyCode::Home)), Some(Action::Top));
        assert_eq!(action_for(&key(KeyCode::Char('G'))), Some(Action::Bottom));
        for b in BINDINGS.iter().filter(|b| b.scope == Scope::Checklist) {
            assert!(b.hint.is_some(), "{:?}: checklist keys are hinted in the checklist pane", b.action);
        }
    }
}
