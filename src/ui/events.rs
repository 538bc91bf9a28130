//! Events: what changed, newest first: every new version or build a source
//! reported, from this run and earlier ones (the observation journal), and
//! what the webhooks were told (`[[notify]]`).

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
    let changes = state.visible_events();
    let filter = state.ui.finding_filter.to_lowercase();
    let told =
        state.notices.iter().filter(|(_, text)| filter.split_whitespace().all(|w| text.to_lowercase().contains(w)));
    // Newest first, changes and notices together: the changes keep their
    // order, and each notice goes in before the first change older than it.
    let mut told: Vec<Row> = told.map(|(at, text)| Row::Told(*at, text)).collect();
    let mut events: Vec<Row> = Vec::with_capacity(changes.len() + told.len());
    for e in changes.iter() {
        while told.last().is_some_and(|n| n.at() >= e.at) {
            events.extend(told.pop());
        }
        events.push(Row::Change(e));
    }
    while let Some(n) = told.pop() {
        events.push(n);
    }
    let lines: Vec<Line> = if events.is_empty() && !state.ui.finding_filter.is_empty() {
        vec![Line::styled(fit(&super::nothing_matches(&state.ui.finding_filter), width), theme.dim())]
    } else if events.is_empty() {
        vec![Line::styled(fit("no version changed since flightdeck started watching", width), theme.dim())]
    } else {
        events
            .iter()
            // Scrolled with the focus (the view kept full at the end), from
            // the top without it.
            .skip(if focused { state.ui.events_scroll.min(events.len().saturating_sub(rows)) } else { 0 })
            .take(rows)
            .map(|row| {
                let e = match row {
                    Row::Change(e) => e,
                    Row::Told(at, text) => {
                        let when = at.strftime("%H:%M:%S").to_string();
                        return Line::from(vec![
                            Span::styled(format!("{when} "), theme.accent()),
                            Span::styled(fit(&format!("✉ {text}"), width.saturating_sub(when.len() + 1)), theme.dim()),
                        ]);
                    }
                };
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

/// One row of the pane.
enum Row<'a> {
    Change(&'a crate::journal::ObservationEvent),
    Told(jiff::Timestamp, &'a str),
}

impl Row<'_> {
    fn at(&self) -> jiff::Timestamp {
        match self {
            Row::Change(e) => e.at,
            Row::Told(at, _) => *at,
        }
    }
}
