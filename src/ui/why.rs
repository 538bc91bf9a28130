//! The why view (`w`): every blocker behind the verdict, grouped, each with
//! what would clear it, as [`crate::app::why::reasons`] lists them. A popup
//! over the cockpit, scrolled by its selection; Enter goes where the
//! selected blocker comes from. Every blocker is listed: there is no "and
//! 3 more".
//!
//! ```text
//! ┌ Why NO-GO · 12 blockers ───────────────────────────── 3/12 ┐
//! │ The cockpit says NO-GO · decided GO by carol 18:41          │
//! │ Rollback triggers (1)                                       │
//! │ ✗ rollback trigger firing: payments in prod: error_rate …   │
//! │   → roll back: $ deployctl rollback payments --to 1.3.2     │
//! │ Findings (2)                                                │
//! │ …                                                           │
//! │ ✗ stops the release · ○ holds it   ↑/↓ move · Enter go there │
//! └─────────────────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use super::theme::Theme;
use crate::analysis::verdict::Verdict;
use crate::app::keymap::{self, Action, KeyContext};
use crate::app::prompt::decision_label;
use crate::app::state::AppState;
use crate::app::why::{Reason, reasons};

/// Widest the view gets; it takes the screen below that.
const MAX_WIDTH: u16 = 120;

/// The view's lines at an inner `width`, and the line range of each
/// reason (for the selection and the scroll).
pub(crate) fn lines(
    state: &AppState,
    selected: usize,
    width: usize,
    theme: &Theme,
) -> (Vec<Line<'static>>, Vec<std::ops::Range<usize>>) {
    let all = reasons(state);
    let selected = selected.min(all.len().saturating_sub(1));
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut ranges = Vec::new();
    lines.push(summary(state, theme));
    if all.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("Nothing blocks the release: the cockpit says GO.", theme.ok()));
    }
    let mut group = None;
    for (i, r) in all.iter().enumerate() {
        if group != Some(r.group) {
            group = Some(r.group);
            let n = all.iter().filter(|x| x.group == r.group).count();
            lines.push(Line::raw(""));
            lines.push(Line::styled(format!("{} ({n})", r.group.title()), theme.title()));
        }
        let start = lines.len();
        reason_lines(r, width, theme, i == selected, &mut lines);
        ranges.push(start..lines.len());
    }
    (lines, ranges)
}

/// "The cockpit says NO-GO · decided GO by carol 18:41: reason".
fn summary(state: &AppState, theme: &Theme) -> Line<'static> {
    let j = &state.eval.judgement;
    let style = match j.verdict {
        Verdict::Go => theme.verdict_go(),
        Verdict::Hold => theme.verdict_hold(),
        Verdict::NoGo => theme.verdict_no_go(),
    };
    let mut spans =
        vec![Span::raw("The cockpit says "), Span::styled(format!(" {} ", j.verdict.as_str().to_uppercase()), style)];
    match state.eval.checklist.as_ref().and_then(|c| c.manual.decision()) {
        Some(d) => spans.push(Span::raw(format!(
            " · decided {} by {} {}: {}",
            decision_label(d.decision),
            d.by,
            super::checklist::when(state.now, d.at),
            d.reason.replace('\n', " ")
        ))),
        None => spans.push(Span::styled(" · no decision recorded", theme.dim())),
    }
    Line::from(spans)
}

fn reason_lines(r: &Reason, width: usize, theme: &Theme, selected: bool, out: &mut Vec<Line<'static>>) {
    let (glyph, style) = if r.holds { ("○", theme.warn()) } else { ("✗", theme.bad()) };
    let pick = |s: Style| if selected { s.patch(theme.selected()) } else { s };
    for (k, piece) in wrap(&r.message, width.saturating_sub(2)).into_iter().enumerate() {
        let lead = if k == 0 { format!("{glyph} ") } else { "  ".to_string() };
        out.push(Line::from(vec![Span::styled(lead, pick(style)), Span::styled(piece, pick(Style::new()))]));
    }
    let clears = format!("→ {}", r.clears);
    for piece in wrap(&clears, width.saturating_sub(2)) {
        out.push(Line::from(vec![Span::styled("  ", pick(Style::new())), Span::styled(piece, pick(theme.accent()))]));
    }
}

/// `text` in lines of at most `width` columns, broken at spaces where it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    super::status::hard_wrap(&text.replace('\n', " "), width.max(8))
}

pub(crate) fn render(frame: &mut Frame, area: Rect, state: &AppState, selected: usize, theme: &Theme) {
    let w = MAX_WIDTH.min(area.width.saturating_sub(2)).max(area.width.min(20));
    let inner_w = usize::from(w.saturating_sub(2));
    let (mut lines, ranges) = lines(state, selected, inner_w, theme);
    // As tall as it needs (borders and the keys' row), at most the screen.
    let h = (lines.len() as u16).saturating_add(3).min(area.height.saturating_sub(2)).max(area.height.min(6));
    let area = centered(area, w, h);
    frame.render_widget(Clear, area);
    // The last row: the keys, from the keymap.
    let visible = usize::from(h.saturating_sub(3)).max(1);
    let at = selected.min(ranges.len().saturating_sub(1));
    let scroll = match ranges.get(at) {
        // The selection in view: its end at the bottom, its start never above the top.
        Some(r) if r.end > visible => (r.end - visible).min(r.start),
        _ => 0,
    };
    let below = lines.len().saturating_sub(scroll + visible);
    lines = lines.into_iter().skip(scroll).take(visible).collect();
    while lines.len() < visible {
        lines.push(Line::raw(""));
    }
    let keys = |action| keymap::key_for(KeyContext::Main, action);
    let more = if below > 0 { format!("↓ {below} more lines · ") } else { String::new() };
    lines.push(Line::styled(
        format!(
            "{more}{}/{} move · {} go there · {}/{} close",
            keys(Action::Up),
            keys(Action::Down),
            keys(Action::Open),
            keys(Action::Why),
            keys(Action::Close)
        ),
        theme.dim(),
    ));
    let j = &state.eval.judgement;
    let title = match j.blockers.len() {
        0 => format!(" Why {} ", j.verdict.as_str().to_uppercase()),
        1 => format!(" Why {} · 1 blocker ", j.verdict.as_str().to_uppercase()),
        n => format!(" Why {} · {n} blockers ", j.verdict.as_str().to_uppercase()),
    };
    let position = if ranges.is_empty() { String::new() } else { format!(" {}/{} ", at + 1, ranges.len()) };
    let block = Block::bordered()
        .title(Span::styled(title, theme.title()))
        .title_bottom(Line::from(" ✗ stops the release · ○ holds it ").left_aligned())
        .title_bottom(Line::from(position).right_aligned())
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
