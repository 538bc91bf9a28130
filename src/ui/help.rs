//! The help overlay, generated from the keymap table: the main screen's
//! keys, beside them (below them on a narrow screen) the keys of the filter
//! and the prompts, then the legend. On a short screen it scrolls (the
//! moving keys, while it is open), and its bottom border says what is left.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use strum::IntoEnumIterator;
use unicode_width::UnicodeWidthStr;

use super::centered;
use super::theme::Theme;
use crate::app::keymap::{self, Action, HelpRow, KeyContext};

/// Width of the overlay when the columns are stacked.
const NARROW: usize = 76;
/// Between the two columns.
const GAP: usize = 2;

/// A line of one column, and how wide it is.
struct Cell {
    spans: Vec<Span<'static>>,
    width: usize,
}

impl Cell {
    fn new(spans: Vec<Span<'static>>) -> Cell {
        let width = spans.iter().map(|s| s.content.width()).sum();
        Cell { spans, width }
    }

    fn blank() -> Cell {
        Cell { spans: Vec::new(), width: 0 }
    }
}

/// The main screen's keys, and what the mouse does.
fn main_column(theme: &Theme) -> Vec<Cell> {
    let mut cells: Vec<Cell> = keymap::help_rows(KeyContext::Main)
        .into_iter()
        .map(|r| Cell::new(vec![Span::styled(format!("  {:<8}", r.keys), theme.accent()), Span::raw(r.help)]))
        .collect();
    cells.push(Cell::new(vec![Span::styled("  mouse wheel scrolls the focused pane", theme.dim())]));
    cells
}

/// The keys of the filter and of each prompt, context by context. A line
/// every one of them has (C-c quits) is said once, at the end.
fn context_column(theme: &Theme) -> Vec<Cell> {
    let contexts: Vec<(KeyContext, Vec<HelpRow>)> =
        KeyContext::iter().filter(|c| *c != KeyContext::Main).map(|c| (c, keymap::help_rows(c))).collect();
    let shared: Vec<HelpRow> = contexts
        .first()
        .map(|(_, rows)| rows.iter().filter(|r| contexts.iter().all(|(_, rs)| rs.contains(r))).cloned().collect())
        .unwrap_or_default();
    let row =
        |r: &HelpRow| Cell::new(vec![Span::styled(format!(" {:<9} ", r.keys), theme.accent()), Span::raw(r.help)]);
    let mut cells = Vec::new();
    for (context, rows) in &contexts {
        cells.push(Cell::new(vec![Span::styled(context.title(), theme.title())]));
        cells.extend(rows.iter().filter(|r| !shared.contains(r)).map(row));
    }
    for r in &shared {
        cells.push(Cell::new(vec![
            Span::styled(format!(" {} ", r.keys), theme.accent()),
            Span::raw(format!("{} in all of these", r.help)),
        ]));
    }
    cells
}

fn legend(theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::styled("Legend", theme.title()),
        Line::raw("  findings  ∅ missing  ↑ ahead  ≠ build mismatch  ⇄ conflict"),
        Line::raw("            ✗ unhealthy  ⚠ unreachable  ◷ stale  ⎇ not merged back"),
        Line::raw("  commits   +14 commits from the env before (hidden first when narrow)"),
        Line::raw("  evidence  R running  C controller  D recorded  P declared"),
        Line::raw("  health    ● up  ◐ degraded  ✗ down  · not reported"),
        Line::raw("  age       ~ evidence older than 3 polls  ⚠ its source is failing"),
        Line::raw("  checklist [x] done  [ ] to do  ⟳ live condition  ✍ sign-off  ! overdue"),
        Line::styled("  / in findings or events: words match kind, severity, env, service", theme.dim()),
    ]
}

/// The overlay's lines for a screen `width` columns wide, and the inner
/// width they need: the two columns side by side when they fit.
pub fn lines(theme: &Theme, width: u16) -> (Vec<Line<'static>>, usize) {
    let left = main_column(theme);
    let right = context_column(theme);
    let left_w = left.iter().map(|c| c.width).max().unwrap_or(0);
    let right_w = right.iter().map(|c| c.width).max().unwrap_or(0);
    let wide = left_w + GAP + right_w;
    let mut lines = Vec::new();
    let inner = if usize::from(width) >= wide + 2 {
        let mut left = left.into_iter();
        let mut right = right.into_iter();
        loop {
            let (l, r) = (left.next(), right.next());
            if l.is_none() && r.is_none() {
                break;
            }
            let l = l.unwrap_or_else(Cell::blank);
            let mut spans = l.spans;
            if let Some(r) = r {
                spans.push(Span::raw(" ".repeat(left_w + GAP - l.width)));
                spans.extend(r.spans);
            }
            lines.push(Line::from(spans));
        }
        wide
    } else {
        lines.extend(left.into_iter().map(|c| Line::from(c.spans)));
        lines.push(Line::raw(""));
        lines.extend(right.into_iter().map(|c| Line::from(c.spans)));
        lines.push(Line::raw(""));
        NARROW - 2
    };
    // Side by side, the dim mouse line closes the keys and the legend's
    // title follows it: the overlay fits a 100×34 screen whole.
    lines.extend(legend(theme));
    (lines, inner)
}

/// How far the overlay scrolls on a `width`×`height` screen: 0 when it
/// fits whole.
pub(crate) fn max_scroll(width: u16, height: u16) -> usize {
    let (lines, _) = lines(&Theme::new(false), width);
    lines.len().saturating_sub(usize::from(height.saturating_sub(2)))
}

/// What a scrolled popup says in its bottom border: what is above and
/// below, and the keys that scroll (`below_note` follows "… below").
pub(crate) fn scroll_note(scroll: usize, below: usize, keys: &str, below_note: &str) -> String {
    let lines = |n: usize| if n == 1 { "1 line".to_string() } else { format!("{n} lines") };
    match (scroll, below) {
        (_, 0) => format!(" {} above · {keys} ", lines(scroll)),
        (0, _) => format!(" {} more below{below_note} · {keys} ", lines(below)),
        _ => format!(" {} above, {below} below · {keys} ", lines(scroll)),
    }
}

/// `line` cut to `width` columns, the cut marked with `…`.
fn cut(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut spans = Vec::new();
    let mut used = 0;
    for span in line.spans {
        let w = span.content.width();
        if used + w < width {
            used += w;
            spans.push(span);
        } else {
            spans.push(Span::styled(super::fit(&span.content, width - used), span.style));
            break;
        }
    }
    Line::from(spans)
}

/// The overlay, scrolled down `scroll` lines (clamped to the last page)
/// when the screen is too short for it: the legend is at the end.
pub fn render(frame: &mut Frame, area: Rect, scroll: usize, theme: &Theme) {
    let (lines, inner) = lines(theme, area.width);
    let area = centered(area, inner as u16 + 2, lines.len() as u16 + 2);
    let visible = usize::from(area.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    let below = lines.len().saturating_sub(scroll + visible);
    let width = usize::from(area.width.saturating_sub(2));
    let shown: Vec<Line> = lines.into_iter().skip(scroll).take(visible).map(|l| cut(l, width)).collect();
    frame.render_widget(Clear, area);
    let title = format!(
        " Keys · {} or {} to close ",
        keymap::key_for(KeyContext::Main, Action::Help),
        keymap::key_for(KeyContext::Main, Action::Close)
    );
    let mut block = Block::bordered().title(Span::styled(title, theme.title())).border_style(theme.border(true));
    if scroll > 0 || below > 0 {
        let keys = format!(
            "{}/{} {}/{}",
            keymap::key_for(KeyContext::Main, Action::Down),
            keymap::key_for(KeyContext::Main, Action::Up),
            keymap::key_for(KeyContext::Main, Action::PageDown),
            keymap::key_for(KeyContext::Main, Action::PageUp),
        );
        let text = scroll_note(scroll, below, &format!("{keys} scroll"), ", the legend last");
        block = block.title_bottom(Line::from(Span::styled(text, theme.accent())).right_aligned());
    }
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::BINDINGS;

    fn text(width: u16) -> String {
        let (lines, _) = lines(&Theme::new(false), width);
        lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn every_help_line_of_the_table_is_in_the_overlay() {
        // Side by side, and stacked.
        for width in [200, 60] {
            let text = text(width);
            for action in Action::iter() {
                let helps: Vec<&str> = BINDINGS.iter().filter(|b| b.action == action).map(|b| b.help).collect();
                assert!(!helps.is_empty(), "{action:?} has no binding");
                for help in helps {
                    assert!(text.contains(help), "{action:?}: {help:?} is not in the help overlay:\n{text}");
                }
            }
            for context in KeyContext::iter().filter(|c| *c != KeyContext::Main) {
                assert!(text.contains(context.title()), "{context:?}");
            }
        }
    }

    #[test]
    fn the_overlay_names_the_keys_the_table_binds() {
        let text = text(200);
        for b in BINDINGS {
            let label = b.label();
            assert!(text.contains(&label), "{label:?} ({:?} in {:?}) is not in the overlay", b.action, b.context);
        }
        assert!(text.contains("C-c quit in all of these"), "{text}");
    }

    #[test]
    fn it_scrolls_only_when_the_screen_is_too_short() {
        assert_eq!(max_scroll(200, 60), 0, "it fits whole");
        let (lines, _) = lines(&Theme::new(false), 80);
        assert_eq!(max_scroll(80, 24), lines.len() - 22, "to its last line, the legend's");
        assert!(lines.last().is_some_and(|l| l.to_string().contains("/ in findings or events")));
        // Not known yet: as far as the longest layout needs.
        assert_eq!(max_scroll(0, 0), lines.len());
    }

    #[test]
    fn side_by_side_in_a_100_column_screen() {
        let (lines, inner) = lines(&Theme::new(false), 100);
        assert!(inner + 2 <= 100, "{inner}");
        assert!(lines.len() + 2 <= 34, "{} lines", lines.len());
        assert!(lines[0].to_string().contains("Typing the filter"), "{}", lines[0]);
    }
}
