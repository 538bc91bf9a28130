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
    let lines: Vec<Line> = if state.eval.findings.is_empty() {
        vec![Line::styled("no findings: every cell agrees with the plan and with itself", theme.ok())]
    } else {
        shown
            .iter()
            .enumerate()
            .skip(state.ui.findings_scroll)
            .take(rows)
            .map(|(i, f)| {
                let style = match f.severity {
                    Severity::High => theme.bad(),
                    Severity::Medium => theme.warn(),
                };
                let head = format!("{} {:<6} {:<14} ", f.kind.glyph(), f.severity.as_str(), f.kind.as_str());
                let rest = width.saturating_sub(head.chars().count());
                let line = Line::from(vec![Span::styled(head, style), Span::raw(fit(&f.message, rest))]);
                // The first visible finding is the selected one (Enter opens its cell).
                if focused && i == state.ui.findings_scroll { line.style(theme.selected()) } else { line }
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
