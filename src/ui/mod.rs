//! The screen: one front end over the engine. Rendering is pure:
//! `render(frame, &state)` draws the engine's latest [`Evaluation`]
//! (`state.eval`) and the screen's own state (`state.ui`: focus,
//! selection, popups, filters, scroll) at `state.now`; no I/O, no clock, no
//! locks. The judgement itself is never made here.
//!
//! ```text
//!  sources ──updates──▶ poller ──▶ app loop ──apply──▶ engine ──evaluate(now, scope)──▶ Evaluation
//!                                     │  ▲                                                  │
//!        keys ──keymap──▶ actions ────┘  └── journal thread (appends, polls, observations)  │
//!                                                                                           ▼
//!                                      ui::render(frame, &AppState { engine, eval, ui })
//! ```
//!
//! ```text
//! ┌ status: verdict · release · window countdown · last sweep · failing sources ─┐
//! ┌ Environment matrix (services × environments) ────────────────────────────────┐
//! │ service   target   dev        qa         uat        prod                      │
//! └───────────────────────────────────────────────────── legend ─────────────────┘
//! ┌ Findings, worst first ─────────────┐┌ Events: changes seen, newest first ─────┐
//! └────────────────────────────────────┘└─────────────────────────────────────────┘
//! ┌ Checklist (or release progress) ───┐┌ Rollback: readiness · back to · triggers ┐
//! └────────────────────────────────────┘└─────────────────────────────────────────┘
//!  footer: the last key's answer, key hints from the keymap, or the filter being typed
//! ```
//!
//! With the focus on it, the checklist takes the whole area below the matrix
//! (phases, items, sign-offs, blockers, decision and notes), and so do
//! rollback (readiness, methods, triggers against baselines), findings and
//! events; the other panes come back when the focus moves on. On a short
//! screen the focused pane takes rows from the matrix (down to four
//! services); below 100 columns the findings take their row alone and the
//! events show only with the focus. A release without
//! a checklist shows its progress per environment in that place instead.
//!
//! [`Evaluation`]: crate::engine::Evaluation

pub(crate) mod changes;
pub mod checklist;
pub(crate) mod detail;
pub mod events;
pub mod findings;
pub(crate) mod help;
pub mod matrix;
pub(crate) mod progress;
pub(crate) mod prompt;
pub mod rollback;
pub mod status;
pub mod theme;
pub(crate) mod why;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::keymap::{self, KeyContext, Scope};
use crate::app::state::{AppState, Pane, Popup};
use theme::Theme;

/// Where each pane goes for a given terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub matrix: Rect,
    pub findings: Rect,
    pub events: Rect,
    /// The checklist's place (or the release progress') next to rollback.
    pub checklist: Rect,
    pub rollback: Rect,
    pub footer: Rect,
    /// Everything below the matrix: the focused checklist's place.
    pub lower: Rect,
}

/// The matrix takes what its rows need, up to what is left after the lower
/// panes' minimum; findings/events and progress/rollback share the rest.
pub fn layout(area: Rect, envs: usize, services: usize) -> Areas {
    layout_with_status(area, envs, services, 1)
}

/// As [`layout`], with a status bar of `status_h` rows (the rollback banner
/// wraps): the lower panes give up the rows, the matrix keeps its page.
fn layout_with_status(area: Rect, envs: usize, services: usize, status_h: u16) -> Areas {
    let body = area.height.saturating_sub(2);
    let lower_min = 12.min(body / 2);
    let matrix = (services as u16).saturating_add(3).min(body.saturating_sub(lower_min)).max(4);
    let [status, matrix, lower, footer] = Layout::vertical([
        Constraint::Length(status_h),
        Constraint::Length(matrix),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    // On a short screen the findings keep three rows of their own.
    let progress_h = (envs as u16 + 3)
        .max(lower.height / 2)
        .min(lower.height / 2 + 2)
        .min(lower.height.saturating_sub(5).max(lower.height / 2));
    let [middle, bottom] = Layout::vertical([Constraint::Min(0), Constraint::Length(progress_h)]).areas(lower);
    // Below 100 columns the findings take the row (events would be too
    // narrow to read); Tab to the events shows them in the lower area.
    let [findings, events] = if area.width < 100 {
        [middle, Rect { x: middle.right(), width: 0, ..middle }]
    } else {
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(middle)
    };
    let [checklist, rollback] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    Areas { status, matrix, findings, events, checklist, rollback, footer, lower }
}

/// With the focus below the matrix on a short screen, the focused pane
/// (drawn in `lower`) takes rows from the matrix, down to four services,
/// until it has sixteen; the matrix gets them back with the focus.
fn grow_lower(areas: &mut Areas) {
    const WANTED: u16 = 16;
    const MATRIX_MIN: u16 = 7;
    let take = WANTED.saturating_sub(areas.lower.height).min(areas.matrix.height.saturating_sub(MATRIX_MIN));
    areas.matrix.height -= take;
    areas.lower.y -= take;
    areas.lower.height += take;
}

/// Matrix rows that fit in a terminal of this size.
pub fn matrix_rows(area: Rect, envs: usize, services: usize) -> usize {
    // Borders top and bottom, one header row.
    layout(area, envs, services).matrix.height.saturating_sub(3) as usize
}

pub fn render(frame: &mut Frame, state: &AppState) {
    let theme = Theme::new(state.ui.color);
    let (envs, services) = (state.engine.fleet.environments.len(), state.engine.fleet.services.len());
    let bar = status::lay_out(state, &theme, frame.area().width);
    let mut areas = layout_with_status(frame.area(), envs, services, bar.height());
    // The focused pane below the matrix is drawn in `lower` (the release
    // progress without a checklist stays in its place).
    let in_lower = match state.ui.focus {
        Pane::Matrix => false,
        Pane::Checklist => state.eval.checklist.is_some(),
        Pane::Findings | Pane::Events | Pane::Rollback => true,
    };
    if in_lower {
        grow_lower(&mut areas);
    }
    status::draw(frame, areas.status, bar);
    matrix::render(frame, areas.matrix, state, &theme);
    if state.ui.focus == Pane::Checklist && state.eval.checklist.is_some() {
        checklist::render(frame, areas.lower, state, &theme);
    } else if state.ui.focus == Pane::Rollback {
        rollback::render_full(frame, areas.lower, state, &theme);
    } else if state.ui.focus == Pane::Findings {
        findings::render(frame, areas.lower, state, &theme);
    } else if state.ui.focus == Pane::Events {
        events::render(frame, areas.lower, state, &theme);
    } else {
        findings::render(frame, areas.findings, state, &theme);
        events::render(frame, areas.events, state, &theme);
        checklist::render(frame, areas.checklist, state, &theme);
        rollback::render(frame, areas.rollback, state, &theme);
    }
    render_footer(frame, areas.footer, state, &theme);
    match &state.ui.popup {
        Some(Popup::Help) => help::render(frame, frame.area(), state.ui.popup_scroll, &theme),
        Some(Popup::Detail(key)) => detail::render(frame, frame.area(), state, *key, state.ui.popup_scroll, &theme),
        Some(Popup::ChecklistDetail(row)) => checklist::render_detail(frame, frame.area(), state, *row, &theme),
        Some(Popup::Prompt(prompt)) => prompt::render(frame, frame.area(), state, prompt, &theme),
        Some(Popup::Why(selected)) => why::render(frame, frame.area(), state, *selected, &theme),
        Some(Popup::Changes) => changes::render(frame, frame.area(), state, state.ui.popup_scroll, &theme),
        Some(Popup::Operator(prompt)) => prompt::render_operator(frame, frame.area(), prompt, &theme),
        None => {}
    }
}

fn render_footer(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let line = if state.ui.editing_filter {
        Line::from(vec![
            Span::styled(" filter: ", theme.accent()),
            Span::raw(state.focused_filter().to_string()),
            Span::styled("▏", theme.accent()),
            Span::styled(format!("   {}", keymap::hint_text(KeyContext::Filter, &[])), theme.dim()),
        ])
    } else {
        let mut spans = Vec::new();
        if let Some(message) = &state.ui.message {
            // A message wider than the bar ends with `…`: cut, and it says so.
            let room = usize::from(area.width).saturating_sub(2);
            spans.push(Span::styled(format!(" {} ", fit(message, room)), theme.accent()));
            spans.push(Span::raw(" "));
        }
        if !state.ui.filter.is_empty() {
            spans.push(Span::styled(format!(" services “{}” ", state.ui.filter), theme.warn()));
        }
        if !state.ui.finding_filter.is_empty() {
            spans.push(Span::styled(format!(" findings “{}” ", state.ui.finding_filter), theme.warn()));
        }
        let checklist_keys = state.ui.focus == Pane::Checklist && state.eval.checklist.is_some();
        let mut hints = keymap::hints(KeyContext::Main, &[]);
        hints.retain(|h| h.scope == Scope::Everywhere || checklist_keys);
        if checklist_keys {
            // The checklist's own keys, help and quit stay whole: the other
            // keys give way from the last (`?` lists them all).
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let width = |hints: &[keymap::Hint]| -> usize {
                hints.iter().map(|h| h.keys.chars().count() + h.word.chars().count() + 3).sum()
            };
            let word_of = |action| keymap::bindings(KeyContext::Main).find(|b| b.action == action).and_then(|b| b.hint);
            let kept = [word_of(keymap::Action::Help), word_of(keymap::Action::Quit)];
            let keep = |h: &keymap::Hint| h.scope == Scope::Checklist || kept.contains(&Some(h.word));
            while used + width(&hints) > usize::from(area.width)
                && let Some(last) = hints.iter().rposition(|h| !keep(h))
            {
                hints.remove(last);
            }
        }
        for hint in &hints {
            spans.push(Span::styled(format!(" {} ", hint.keys), theme.accent()));
            spans.push(Span::styled(format!("{} ", hint.word), theme.dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// Center a box of at most `w × h` in `area`.
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// Cut `s` to `width` display columns, marking the cut with `…`.
pub(crate) fn fit(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// What a pane says when its filter leaves nothing to show.
pub(crate) fn nothing_matches(filter: &str) -> String {
    format!(
        "nothing matches `{filter}` ({} clears the filter)",
        keymap::key_for(KeyContext::Main, keymap::Action::Close)
    )
}

/// Age of `then` at `now`, short (`12s`, `4m`, `3h`, `45d`).
pub fn age(now: jiff::Timestamp, then: jiff::Timestamp) -> String {
    let secs = now.as_second().saturating_sub(then.as_second()).max(0) as u64;
    crate::model::time::short_age(std::time::Duration::from_secs(secs))
}

/// Countdown `1h02m`, `12m05s`, `42s`.
pub(crate) fn countdown(secs: i64) -> String {
    let s = secs.max(0);
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row `y` of the screen drawn at `width`×30.
    fn row(state: &AppState, width: u16, y: u16) -> String {
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, 30)).unwrap();
        terminal.draw(|f| render(f, state)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..width).map(|x| buffer[(x, y)].symbol().to_string()).collect()
    }

    /// The footer row, at 140×30.
    fn footer(state: &AppState) -> String {
        row(state, 140, 29)
    }

    /// The status row, at 200×30.
    fn status_row(state: &AppState) -> String {
        row(state, 200, 0)
    }

    #[test]
    fn the_footer_hints_come_from_the_keymap() {
        let config = crate::setup::from_toml_str(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"payments\"\n",
            "test",
        )
        .unwrap();
        let now = "2026-11-24T12:00:00Z".parse().unwrap();
        let mut state = AppState::new(crate::engine::Engine::new(config.fleet.clone(), Vec::new(), None), now);
        let text = footer(&state);
        for hint in keymap::hints(KeyContext::Main, &[]).iter().filter(|h| h.scope == Scope::Everywhere) {
            assert!(text.contains(&format!(" {} {} ", hint.keys, hint.word)), "{hint:?} not in {text:?}");
        }
        assert!(text.starts_with(" ? help  Tab pane  Enter detail "), "{text:?}");
        // Typing the filter: its own keys.
        state.ui.editing_filter = true;
        let text = footer(&state);
        assert!(text.contains(&keymap::hint_text(KeyContext::Filter, &[])), "{text:?}");
        assert!(text.contains(&format!("{} keep", keymap::keys_for(KeyContext::Filter, keymap::Action::Submit))));
    }

    #[test]
    fn a_team_seat_says_who_it_is_and_when_the_store_is_unreachable() {
        let config = crate::setup::from_toml_str(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"payments\"\n",
            "test",
        )
        .unwrap();
        let now = "2026-11-24T12:00:00Z".parse().unwrap();
        let mut state = AppState::new(crate::engine::Engine::new(config.fleet.clone(), Vec::new(), None), now);
        assert!(!status_row(&state).contains("team"), "one seat: no team");
        state.team = Some("alice".into());
        let text = status_row(&state);
        assert!(text.contains("│ team · alice"), "{text:?}");
        state.release_journal_error =
            Some(format!("{}team store alice@db:5432/fd: unreachable", crate::app::UNREADABLE));
        let text = status_row(&state);
        assert!(text.contains("team store unreachable · alice"), "{text:?}");
        // A refused action is not an unreachable store.
        state.release_journal_error = Some("NOT RECORDED: refused by the team store: …".into());
        let text = status_row(&state);
        assert!(text.contains("│ team · alice │ ⚠ release journal: NOT RECORDED"), "{text:?}");
    }

    #[test]
    fn fit_cuts_by_display_width() {
        assert_eq!(fit("1.4.0", 10), "1.4.0");
        assert_eq!(fit("1.4.0-rc.1+build", 8), "1.4.0-r…");
        assert_eq!(fit("版本版本版本", 5), "版本…");
    }

    #[test]
    fn countdowns() {
        assert_eq!(countdown(3725), "1h02m");
        assert_eq!(countdown(725), "12m05s");
        assert_eq!(countdown(42), "42s");
        assert_eq!(countdown(-5), "0s");
    }
}
