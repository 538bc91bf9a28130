//! Findings, worst first: what to act on, with the versions and
//! environments involved. Filter with `/` (kind, severity, env, service).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::fit;
use super::theme::Theme;
use crate::analysis::findings::Severity;
use crate::app::state::{AppState, Pane};

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Findings;
    let shown = state.visible_findings();
    let high = state.eval.findings.iter().filter(|f| f.severity == Severity::High).count();
    let mut title = format!(" Findings · {high} high, {} medium ", state.eval.findings.len() - high);
    if !state.ui.finding_filter.is_empty() {
        title.push_str(&format!("· {} shown ", shown.len()));
    }
    let block = Block::bordered().title(Span::styled(title, theme.title())).border_style(theme.border(focused));
    let width = area.width.saturating_sub(2) as usize;
    let rows = area.height.saturating_sub(2) as usize;
    // Narrow: the glyph says the kind (and so the severity, the colour
    // too); the message gets the room.
    let words = width >= 90;
    let lines: Vec<Line> = if state.eval.findings.is_empty() {
        vec![Line::styled(fit("no findings: every cell agrees with the plan and with itself", width), theme.ok())]
    } else if shown.is_empty() {
        vec![Line::styled(fit(&super::nothing_matches(&state.ui.finding_filter), width), theme.dim())]
    } else {
        // Focused, the selection (the scroll position) is in view and the
        // view stays full at the end of the list; in its place beside the
        // events, the list starts at the top: focus and scroll are apart.
        let first = if focused { state.ui.findings_scroll.min(shown.len().saturating_sub(rows)) } else { 0 };
        shown
            .iter()
            .enumerate()
            .skip(first)
            .take(rows)
            .map(|(i, f)| {
                let style = match f.severity {
                    Severity::High => theme.bad(),
                    Severity::Medium => theme.warn(),
                };
                let head = if words {
                    format!("{} {:<6} {:<15} ", f.kind.glyph(), f.severity.as_str(), f.kind.as_str())
                } else {
                    format!("{} ", f.kind.glyph())
                };
                let rest = width.saturating_sub(head.chars().count());
                let line = Line::from(vec![Span::styled(head, style), Span::raw(fit(&f.message, rest))]);
                // The selected finding (Enter opens its cell).
                if focused && i == state.ui.findings_scroll { line.style(theme.selected()) } else { line }
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
