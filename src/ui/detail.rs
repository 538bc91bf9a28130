//! The cell detail popup: every source's observation, errors, times and
//! the versions each source has seen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::theme::Theme;
use super::{age, centered};
use crate::app::state::AppState;
use crate::model::CellKey;

fn time(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

pub fn lines(state: &AppState, key: CellKey, theme: &Theme) -> Vec<Line<'static>> {
    let fleet = &state.engine.fleet;
    let cell = state.engine.matrix.get(key);
    let now = state.now;
    let label = |s: &str| Span::styled(format!("{s:<12}"), theme.dim());
    let mut lines = Vec::new();
    let target = fleet.release.as_ref().and_then(|r| r.target(key.service));
    lines.push(Line::from(vec![
        Span::styled(fleet.services[key.service].name.clone(), theme.title()),
        Span::raw(" in "),
        Span::styled(fleet.environments[key.env].name.clone(), theme.title()),
        Span::raw(match target {
            Some(t) => format!("   target {t}"),
            None => "   not in the release plan".to_string(),
        }),
    ]));
    match cell.shown() {
        Some(obs) => lines.push(Line::raw(format!(
            "shows {} from {} ({} evidence)",
            cell.version().unwrap_or("?"),
            obs.source,
            obs.evidence
        ))),
        None if cell.observations.is_empty() => lines.push(Line::styled("not read yet", theme.dim())),
        None if cell.deployments().next().is_none() => {
            lines.push(Line::styled("no deployment source reads this cell: metrics only", theme.dim()))
        }
        None => lines.push(Line::styled("no source has read this cell successfully", theme.bad())),
    }
    for f in state.eval.findings.iter().filter(|f| f.cell == key) {
        let style = match f.severity {
            crate::analysis::findings::Severity::High => theme.bad(),
            crate::analysis::findings::Severity::Medium => theme.warn(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{} {} ", f.kind.glyph(), f.kind.as_str()), style),
            Span::raw(f.message.clone()),
        ]));
    }
    for obs in &cell.observations {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled(format!("▸ {}", obs.source), theme.accent()),
            Span::styled(
                match obs.last_attempt {
                    Some(at) => format!("  {} evidence · last attempt {} ago", obs.evidence, age(now, at)),
                    None => format!("  {} evidence · not tried yet (history from the journal)", obs.evidence),
                },
                theme.dim(),
            ),
        ]));
        if let Some(seen) = obs.last_ok.as_ref().filter(|_| obs.role == crate::model::Role::Metrics) {
            for m in &seen.reading.metrics {
                lines.push(Line::from(vec![label(&m.name), Span::raw(m.value.to_string())]));
            }
            lines.push(Line::from(vec![
                label("fetched_at"),
                Span::raw(format!("{} ({} ago)", time(seen.fetched_at), age(now, seen.fetched_at))),
            ]));
        } else if let Some(seen) = &obs.last_ok {
            let r = &seen.reading;
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
            lines.push(Line::from(vec![label("version"), Span::raw(dash(&r.version))]));
            lines.push(Line::from(vec![label("build"), Span::raw(dash(&r.build))]));
            lines.push(Line::from(vec![label("commit"), Span::raw(dash(&r.commit))]));
            lines.push(Line::from(vec![label("digest"), Span::raw(dash(&r.digest))]));
            lines.push(Line::from(vec![label("health"), Span::raw(r.health.map_or("—", |h| h.as_str()).to_string())]));
            lines.push(Line::from(vec![
                label("deployed_at"),
                Span::raw(r.deployed_at.map_or("—".into(), |t| format!("{} ({} ago)", time(t), age(now, t)))),
            ]));
            lines.push(Line::from(vec![
                label("fetched_at"),
                Span::raw(format!("{} ({} ago)", time(seen.fetched_at), age(now, seen.fetched_at))),
            ]));
            for (k, v) in &r.attributes {
                lines.push(Line::from(vec![label(k), Span::raw(v.clone())]));
            }
        }
        match &obs.error {
            Some(f) => lines.push(Line::from(vec![
                label("error"),
                Span::styled(format!("{} (since {}, {} ago)", f.error, time(f.since), age(now, f.since)), theme.bad()),
            ])),
            None => lines.push(Line::from(vec![label("error"), Span::styled("none", theme.dim())])),
        }
        let seen: Vec<String> = obs
            .history
            .iter()
            .map(|h| {
                let build = h.build.as_deref().map(|b| format!(" #{b}")).unwrap_or_default();
                format!("{}{build} (first seen {})", h.version, h.first_seen.strftime("%H:%M:%SZ"))
            })
            .collect();
        lines.push(Line::from(vec![
            label("seen"),
            Span::raw(if seen.is_empty() { "—".to_string() } else { seen.join(" → ") }),
        ]));
    }
    lines
}

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, key: CellKey, theme: &Theme) {
    let lines = lines(state, key, theme);
    let w = (area.width * 4 / 5).max(40);
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let area = centered(area, w, h);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(Span::styled(
            format!(
                " Cell detail · {} to close ",
                crate::app::keymap::key_for(crate::app::keymap::KeyContext::Main, crate::app::keymap::Action::Close)
            ),
            theme.title(),
        ))
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
