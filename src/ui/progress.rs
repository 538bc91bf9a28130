//! Release progress per environment: planned services at their target.
//! The checklist pane's place for a release without a checklist, and its
//! compact per-environment line when it has one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::fit;
use super::theme::Theme;
use crate::analysis;
use crate::app::state::{AppState, Pane};

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Checklist;
    let title = match &state.engine.fleet.release {
        Some(plan) => format!(" Release progress · {} ", plan.name),
        None => " Release progress ".to_string(),
    };
    let block = Block::bordered().title(Span::styled(title, theme.title())).border_style(theme.border(focused));
    let inner_w = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = match &state.engine.fleet.release {
        None => vec![Line::styled("no release plan: add [release] with targets to track progress", theme.dim())],
        Some(plan) if plan.targets.is_empty() => {
            vec![Line::styled("the release plan has no targets", theme.dim())]
        }
        Some(_) => {
            let name_w =
                state.engine.fleet.environments.iter().map(|e| e.name.chars().count()).max().unwrap_or(3).min(12);
            state
                .eval
                .progress
                .iter()
                .skip(state.ui.checklist_row)
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
                    let env = &state.engine.fleet.environments[p.env].name;
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

/// The per-environment "planned services at target" as compact cells
/// (`dev ████ 10/10`) flowed over at most `max_lines` lines of `width`:
/// the widest bars that fit, then none, then the counts alone with the
/// number planned said once (`dev 10  qa 10  prod 8 (of 10)`). Every
/// environment is shown; only if even that does not fit is the last line
/// cut, with `…`.
pub(crate) fn env_cells(state: &AppState, theme: &Theme, width: usize, max_lines: usize) -> Vec<Line<'static>> {
    let Some(plan) = &state.engine.fleet.release else {
        return Vec::new();
    };
    if plan.targets.is_empty() || max_lines == 0 {
        return Vec::new();
    }
    let progress = &state.eval.progress;
    let planned = plan.targets.len();
    // (bar width, whether each count says of how many)
    let forms = [(8, true), (4, true), (0, true), (0, false)];
    let cell_w = |p: &analysis::EnvProgress, (bar, of): (usize, bool)| {
        let name = state.engine.fleet.environments[p.env].name.chars().count().min(12);
        let count = if of { format!("{}/{}", p.at_target, p.planned) } else { p.at_target.to_string() };
        name + 1 + if bar > 0 { bar + 1 } else { 0 } + count.len()
    };
    let suffix = |of: bool| if of { String::new() } else { format!(" (of {planned})") };
    let lines_for = |form: (usize, bool)| {
        let (mut lines, mut used) = (1, 0);
        for p in progress {
            let w = cell_w(p, form);
            if used > 0 && used + 2 + w > width {
                lines += 1;
                used = 0;
            }
            used += if used > 0 { 2 } else { 0 } + w;
        }
        if used + suffix(form.1).len() > width {
            lines += 1;
        }
        lines
    };
    let form = forms.into_iter().find(|f| lines_for(*f) <= max_lines).unwrap_or((0, false));
    let (bar, of) = form;
    let mut lines = Vec::new();
    let (mut spans, mut used): (Vec<Span<'static>>, usize) = (Vec::new(), 0);
    for p in progress {
        let w = cell_w(p, form);
        if used > 0 && used + 2 + w > width {
            lines.push(Line::from(std::mem::take(&mut spans)));
            used = 0;
        }
        if used > 0 {
            spans.push(Span::raw("  "));
            used += 2;
        }
        let style = if p.at_target == p.planned {
            theme.ok()
        } else if p.at_target > 0 {
            theme.warn()
        } else {
            theme.dim()
        };
        spans.push(Span::raw(format!("{} ", fit(&state.engine.fleet.environments[p.env].name, 12))));
        if bar > 0 {
            let filled = (bar * p.at_target).checked_div(p.planned).unwrap_or(0);
            spans.push(Span::styled("█".repeat(filled), style));
            spans.push(Span::styled("░".repeat(bar - filled), theme.dim()));
            spans.push(Span::raw(" "));
        }
        let count = if of { format!("{}/{}", p.at_target, p.planned) } else { p.at_target.to_string() };
        spans.push(Span::styled(count, style));
        used += w;
    }
    // "(of 10)" only where it fits: the counts come first.
    if !of && used + suffix(of).len() <= width {
        spans.push(Span::styled(suffix(of), theme.dim()));
    }
    if !spans.is_empty() {
        lines.push(Line::from(spans));
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let text: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
            *last = Line::raw(fit(&format!("{text} …"), width));
        }
    }
    lines
}
