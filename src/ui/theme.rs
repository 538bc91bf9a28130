//! Styles. With `NO_COLOR` every style falls back to modifiers only, and
//! every state also has a glyph, so nothing depends on colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Theme {
        Theme { color }
    }

    fn pick(&self, color: Color, fallback: Modifier) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new().add_modifier(fallback) }
    }

    pub fn ok(&self) -> Style {
        self.pick(Color::Green, Modifier::empty())
    }
    pub fn warn(&self) -> Style {
        self.pick(Color::Yellow, Modifier::ITALIC)
    }
    pub fn bad(&self) -> Style {
        self.pick(Color::Red, Modifier::BOLD)
    }
    pub(crate) fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new().add_modifier(Modifier::DIM) }
    }
    pub(crate) fn accent(&self) -> Style {
        self.pick(Color::Cyan, Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn header(&self) -> Style {
        self.pick(Color::Gray, Modifier::UNDERLINED).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::new().fg(Color::Cyan),
            (true, false) => Style::new().add_modifier(Modifier::BOLD),
            (false, _) => self.dim(),
        }
    }
    pub(crate) fn status_bar(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    pub(crate) fn verdict_go(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Green).fg(Color::Black).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    pub(crate) fn verdict_no_go(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Red).fg(Color::White).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
    /// Hold: not no-go, not go either: yellow, italic without colour.
    pub(crate) fn verdict_hold(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::ITALIC)
        }
    }
    pub(crate) fn status_alert(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Red).fg(Color::White).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}
