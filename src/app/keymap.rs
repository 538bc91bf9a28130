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
}

const fn b(
    keys: &'static [KeyCode],
    action: Action,
    label: &'static str,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding { keys, ctrl: false, action, label, help, hint }
}

pub const BINDINGS: &[Binding] = &[
    b(&[KeyCode::Char('?')], Action::Help, "?", "show or hide this help", Some("help")),
    b(&[KeyCode::Up, KeyCode::Char('k')], Action::Up, "↑/k", "move up", None),
    b(&[KeyCode::Down, KeyCode::Char('j')], Action::Down, "↓/j", "move down", None),
    b(&[KeyCode::Left, KeyCode::Char('h')], Action::Left, "←/h", "previous environment", None),
    b(&[KeyCode::Right, KeyCode::Char('l')], Action::Right, "→/l", "next environment", None),
    b(&[KeyCode::PageUp], Action::PageUp, "PgUp", "page up", None),
    b(&[KeyCode::PageDown], Action::PageDown, "PgDn", "page down", None),
    b(&[KeyCode::Home, KeyCode::Char('g')], Action::Top, "Home/g", "first row", None),
    b(&[KeyCode::End, KeyCode::Char('G')], Action::Bottom, "End/G", "last row", None),
    b(&[KeyCode::Tab], Action::NextPane, "Tab", "next pane", Some("pane")),
    b(&[KeyCode::BackTab], Action::PrevPane, "S-Tab", "previous pane", None),
    b(&[KeyCode::Enter], Action::Open, "Enter", "open the selected cell's detail", Some("detail")),
    b(&[KeyCode::Esc], Action::Close, "Esc", "close popup, clear filter", None),
    b(&[KeyCode::Char('/')], Action::Filter, "/", "filter services by name", Some("filter")),
    b(&[KeyCode::Char('r')], Action::Refresh, "r", "refresh every cell now", Some("refresh")),
    b(&[KeyCode::Char('q')], Action::Quit, "q", "quit", Some("quit")),
    Binding { keys: &[KeyCode::Char('c')], ctrl: true, action: Action::Quit, label: "C-c", help: "quit", hint: None },
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
            Refresh,
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
}
