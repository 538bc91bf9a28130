//! The cell detail popup: every source's observation, errors, times and
//! the versions each source has seen; with `[changes]`, the commits the
//! cell gains from the environment before it. Taller than the screen, it
//! scrolls.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::theme::Theme;
use super::{age, centered};
use crate::app::state::AppState;
use crate::model::CellKey;

fn time(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

pub fn lines(state: &AppState, key: CellKey, theme: &Theme) -> Vec<Line<'static>> {
    let fleet = &state.engine.fleet;
    let cell = state.engine.matrix().get(key);
    let now = state.now;
    let label = |s: &str| Span::styled(format!("{s:<12}"), theme.dim());
    let mut lines = Vec::new();
    let target = fleet.release.as_ref().and_then(|r| r.target(key.service));
    lines.push(Line::from(vec![
        Span::styled(fleet.services[key.service].name.to_string(), theme.title()),
        Span::raw(" in "),
        Span::styled(fleet.environments[key.env].name.to_string(), theme.title()),
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
    let shipping = super::changes::cell_lines(state, key, theme);
    if !shipping.is_empty() {
        lines.push(Line::raw(""));
        lines.extend(shipping);
    }
    for obs in &cell.observations {
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            Span::styled(format!("▸ {}", obs.source), theme.accent()),
            Span::styled(
                {
                    // A metrics source says nothing about what runs: it has no
                    // evidence level to show.
                    let what = match obs.role {
                        crate::model::Role::Metrics => "metrics".to_string(),
                        _ => format!("{} evidence", obs.evidence),
                    };
                    match obs.last_attempt {
                        Some(at) => format!("  {what} · last attempt {} ago", age(now, at)),
                        None => format!("  {what} · not tried yet (history from the journal)"),
                    }
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
                let build = h.build().map(|b| format!(" #{b}")).unwrap_or_default();
                format!("{}{build} (first seen {})", h.version(), h.first_seen().strftime("%H:%M:%SZ"))
            })
            .collect();
        lines.push(Line::from(vec![
            label("seen"),
            Span::raw(if seen.is_empty() { "—".to_string() } else { seen.join(" → ") }),
        ]));
    }
    lines
}

/// `line` wrapped at word boundaries to lines of at most `width` columns
/// (a word longer than a line is broken), styles kept: wrapped here
/// rather than by the paragraph, so that the scroll knows how many lines
/// there are. A line that starts indented (a commit under its heading)
/// goes on two columns further in.
pub(super) fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(1);
    if line.width() <= width {
        return vec![line];
    }
    let leading = line.spans.iter().flat_map(|s| s.content.chars()).take_while(|c| *c == ' ').count();
    let hang = if leading > 0 && leading + 2 < width / 2 { leading + 2 } else { 0 };
    let mut lines = Lines { out: Vec::new(), current: Vec::new(), used: 0, start: 0, hang };
    for span in line.spans {
        // Words with the spaces after them, so that a line ends at a space.
        for word in span.content.split_inclusive(' ') {
            let mut word = word.to_string();
            // Spaces where a line breaks are not carried to the next one.
            let blank = word.trim().is_empty();
            if blank && (lines.used + word.width() > width || (lines.used == lines.start && !lines.out.is_empty())) {
                continue;
            }
            while !word.is_empty() {
                let w = word.trim_end().width();
                if lines.used + w <= width {
                    lines.used += word.width();
                    lines.current.push(Span::styled(word, span.style));
                    break;
                }
                if lines.used > lines.start {
                    lines.next();
                    continue;
                }
                // Longer than a whole line: break it.
                let mut head = String::new();
                let mut head_w = lines.used;
                for c in word.chars() {
                    let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                    if head_w + cw > width {
                        break;
                    }
                    head.push(c);
                    head_w += cw;
                }
                if head.is_empty() {
                    break;
                }
                word = word[head.len()..].to_string();
                lines.current.push(Span::styled(head, span.style));
                lines.next();
            }
        }
    }
    if lines.used > lines.start {
        lines.out.push(Line::from(lines.current));
    }
    lines.out
}

/// The lines [`wrap`] has made, and the one it is making.
struct Lines {
    out: Vec<Line<'static>>,
    current: Vec<Span<'static>>,
    /// Columns used in `current`.
    used: usize,
    /// Columns `current` starts with: 0, then `hang`.
    start: usize,
    hang: usize,
}

impl Lines {
    /// Finish the current line and start the next, `hang` columns in.
    fn next(&mut self) {
        self.out.push(Line::from(std::mem::take(&mut self.current)));
        if self.hang > 0 {
            self.current.push(Span::raw(" ".repeat(self.hang)));
        }
        (self.used, self.start) = (self.hang, self.hang);
    }
}

/// The box on a `width`×`height` screen, and the detail's lines wrapped to it.
fn layout(state: &AppState, key: CellKey, area: Rect, theme: &Theme) -> (Rect, Vec<Line<'static>>) {
    let w = (area.width * 4 / 5).max(40).min(area.width);
    let lines: Vec<Line<'static>> =
        lines(state, key, theme).into_iter().flat_map(|l| wrap(l, usize::from(w.saturating_sub(2)))).collect();
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    (centered(area, w, h), lines)
}

/// How far the detail scrolls on a `width`×`height` screen (as far as it
/// could on any screen while the size is not known).
pub(crate) fn max_scroll(state: &AppState, key: CellKey, width: u16, height: u16) -> usize {
    if width == 0 || height == 0 {
        let all = lines(state, key, &Theme::new(false)).into_iter().flat_map(|l| wrap(l, 38)).count();
        return all;
    }
    let (area, lines) = layout(state, key, Rect::new(0, 0, width, height), &Theme::new(false));
    lines.len().saturating_sub(usize::from(area.height.saturating_sub(2)))
}

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, key: CellKey, scroll: usize, theme: &Theme) {
    let (area, lines) = layout(state, key, area, theme);
    let visible = usize::from(area.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    let below = lines.len().saturating_sub(scroll + visible);
    let shown: Vec<Line> = lines.into_iter().skip(scroll).take(visible).collect();
    frame.render_widget(Clear, area);
    let close = crate::app::keymap::key_for(crate::app::keymap::KeyContext::Main, crate::app::keymap::Action::Close);
    let mut block = Block::bordered()
        .title(Span::styled(format!(" Cell detail · {close} to close "), theme.title()))
        .border_style(theme.border(true));
    if scroll > 0 || below > 0 {
        let key = |a| crate::app::keymap::key_for(crate::app::keymap::KeyContext::Main, a);
        let keys = format!("{}/{} scroll", key(crate::app::keymap::Action::Down), key(crate::app::keymap::Action::Up));
        let text = super::help::scroll_note(scroll, below, &keys, "");
        block = block.title_bottom(Line::from(Span::styled(text, theme.accent())).right_aligned());
    }
    frame.render_widget(Paragraph::new(shown).block(block), area);
}
