//! Events: what changed, newest first: every new version or build a source
//! reported, from this run and earlier ones (the observation journal).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::fit;
use super::theme::Theme;
use crate::app::state::{AppState, Pane};

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Events;
    let block = Block::bordered()
        .title(Span::styled(" Events · changes seen, newest first ", theme.title()))
        .border_style(theme.border(focused));
    let width = area.width.saturating_sub(2) as usize;
    let rows = area.height.saturating_sub(2) as usize;
    let window_start = state.engine.fleet.release.as_ref().and_then(|r| r.window).map(|w| w.start);
    let events = state.visible_events();
    let lines: Vec<Line> = if events.is_empty() {
        vec![Line::styled("no version changed since flightdeck started watching", theme.dim())]
    } else {
        events
            .iter()
            .skip(state.ui.events_scroll)
            .take(rows)
            .map(|e| {
                // Older than the window: context, not the release.
                let before_window = window_start.is_some_and(|start| e.at < start);
                let when = if (state.now.as_second() - e.at.as_second()).abs() < 86_400 {
                    e.at.strftime("%H:%M:%S").to_string()
                } else {
                    e.at.strftime("%m-%d %H:%M").to_string()
                };
                let build = e.build.as_deref().map(|b| format!(" #{b}")).unwrap_or_default();
                let change = match &e.old {
                    Some(old) if *old != e.new => format!("{old} → {}{build}", e.new),
                    Some(_) => {
                        let before = e.old_build.as_deref().map(|b| format!(" #{b} →")).unwrap_or_default();
                        format!("{} rebuilt{before}{build}", e.new)
                    }
                    None => format!("{}{build} first seen", e.new),
                };
                let text = format!("{} {} {} ({})", e.service, e.environment, change, e.source);
                let time_style = if before_window { theme.dim() } else { theme.accent() };
                Line::from(vec![
                    Span::styled(format!("{when} "), time_style),
                    Span::raw(fit(&text, width.saturating_sub(when.len() + 1))),
                ])
            })
            .collect()
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
