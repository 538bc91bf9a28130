//! Release progress per environment: planned services at their target.
//! The checklist issue builds this pane out into phases and sign-offs.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::fit;
use super::theme::Theme;
use crate::analysis;
use crate::app::state::{AppState, Pane};

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Progress;
    let title = match &state.fleet.release {
        Some(plan) => format!(" Release progress · {} ", plan.name),
        None => " Release progress ".to_string(),
    };
    let block = Block::bordered().title(Span::styled(title, theme.title())).border_style(theme.border(focused));
    let inner_w = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = match &state.fleet.release {
        None => vec![Line::styled("no release plan: add [release] with targets to track progress", theme.dim())],
        Some(plan) if plan.targets.is_empty() => {
            vec![Line::styled("the release plan has no targets", theme.dim())]
        }
        Some(_) => {
            let name_w = state.fleet.environments.iter().map(|e| e.name.chars().count()).max().unwrap_or(3).min(12);
            analysis::progress(&state.fleet, &state.matrix)
                .into_iter()
                .skip(state.ui.progress_scroll)
                .map(|p| {
                    let count = format!(" {:>3}/{:<3}", p.at_target, p.planned);
                    let bar_w = inner_w.saturating_sub(name_w + 2 + count.len()).max(4);
                    let filled = (bar_w * p.at_target).checked_div(p.planned).unwrap_or(0);
                    let style = if p.at_target == p.planned {
                        theme.ok()
                    } else if p.at_target > 0 {
                        theme.warn()
                    } else {
                        theme.dim()
                    };
                    let env = &state.fleet.environments[p.env].name;
                    Line::from(vec![
                        Span::raw(format!("{:<name_w$} ", fit(env, name_w))),
                        Span::styled("█".repeat(filled), style),
                        Span::styled("░".repeat(bar_w - filled), theme.dim()),
                        Span::raw(count),
                    ])
                })
                .collect()
        }
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
