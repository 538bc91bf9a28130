//! The status bar: release, window countdown, last sweep age, failing
//! sources; or, while a rollback trigger fires, the rollback banner.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{age, countdown};
use crate::analysis;
use crate::app::state::AppState;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    // A firing trigger turns the whole bar into the rollback banner.
    if let Some(banner) = super::rollback::banner_line(state, theme) {
        frame.render_widget(Paragraph::new(banner).style(theme.status_alert()), area);
        return;
    }
    let sep = || Span::raw(" │ ");
    let mut spans = vec![Span::styled(" flightdeck ", theme.title())];
    let j = &state.eval.judgement;
    let verdict = match j.blockers.len() {
        0 => format!(" {} ", j.verdict.as_str().to_uppercase()),
        n => format!(" {} ({n}) ", j.verdict.as_str().to_uppercase()),
    };
    let verdict_style = match j.verdict {
        crate::analysis::verdict::Verdict::Go => theme.verdict_go(),
        crate::analysis::verdict::Verdict::Hold => theme.verdict_hold(),
        crate::analysis::verdict::Verdict::NoGo => theme.verdict_no_go(),
    };
    spans.push(Span::styled(verdict, verdict_style));
    if let Some(banner) = &state.banner {
        spans.push(sep());
        spans.push(Span::raw(banner.clone()));
    }
    spans.push(sep());
    match &state.engine.fleet.release {
        Some(plan) => {
            let kind = plan.kind.map(|k| format!(" {}", k.as_str())).unwrap_or_default();
            spans.push(Span::raw(format!("{}{kind}", plan.name)));
            if let Some(window) = plan.window {
                spans.push(sep());
                let now = state.now.as_second();
                let text = if now < window.start.as_second() {
                    format!("window opens in {}", countdown(window.start.as_second() - now))
                } else if now < window.end.as_second() {
                    format!("window closes in {}", countdown(window.end.as_second() - now))
                } else {
                    format!("window closed {} ago", countdown(now - window.end.as_second()))
                };
                spans.push(Span::raw(text));
            }
        }
        None => spans.push(Span::raw("no release plan")),
    }
    spans.push(sep());
    let polled = state.polled_cells();
    spans.push(Span::raw(match analysis::last_sweep(&state.engine.matrix, polled) {
        _ if polled == 0 => "no sources".to_string(),
        Some(at) => format!("sweep {} ago", age(state.now, at)),
        None => "first sweep…".to_string(),
    }));
    if let Some(role) = &state.team {
        // Team mode: who this seat is in the shared journal, and whether the
        // team store answers (its error follows when it does not).
        spans.push(sep());
        let unreadable = state.release_journal_error.as_deref().is_some_and(|e| e.starts_with(crate::app::UNREADABLE));
        let health = if unreadable { "team store unreachable" } else { "team" };
        spans.push(Span::raw(format!("{health} · {role}")));
    }
    if let Some(err) = &state.release_journal_error {
        spans.push(sep());
        spans.push(Span::styled(format!("⚠ release journal: {err}"), theme.status_alert()));
    }
    if let Some(err) = &state.journal_error {
        spans.push(sep());
        spans.push(Span::raw(format!("⚠ journal: {err}")));
    }
    let failing = analysis::failing_sources(&state.engine.matrix);
    let style = if failing.is_empty() {
        theme.status_bar()
    } else {
        spans.push(sep());
        let detail: Vec<String> =
            failing.iter().map(|(name, n)| format!("{name} ({n} cell{})", if *n == 1 { "" } else { "s" })).collect();
        spans.push(Span::raw(format!("⚠ failing: {}", detail.join(", "))));
        theme.status_alert()
    };
    frame.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
}
