//! The help overlay, generated from the keymap table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::centered;
use super::theme::Theme;
use crate::app::keymap::BINDINGS;

pub fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| Line::from(vec![Span::styled(format!("  {:<8}", b.label), theme.accent()), Span::raw(b.help)]))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled("  mouse wheel scrolls the focused pane", theme.dim()));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Legend", theme.title()));
    lines.push(Line::raw("  findings  ∅ missing  ↑ ahead  ≠ build mismatch  ⇄ conflict"));
    lines.push(Line::raw("            ✗ unhealthy  ⚠ unreachable  ◷ stale"));
    lines.push(Line::raw("  evidence  R running  C controller  D recorded  P declared"));
    lines.push(Line::raw("  health    ● up  ◐ degraded  ✗ down  · not reported"));
    lines.push(Line::raw("  age       ~ evidence older than 3 polls  ⚠ its source is failing"));
    lines.push(Line::raw("  checklist [x] done  [ ] to do  ⟳ live condition  ✍ sign-off  ! overdue"));
    lines.push(Line::styled("  / in findings or events: words match kind, severity, env, service", theme.dim()));
    lines
}

pub fn render(frame: &mut Frame, area: Rect, theme: &Theme) {
    let lines = lines(theme);
    let area = centered(area, 76, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(Span::styled(" Keys · ? or Esc to close ", theme.title()))
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
