//! The environment matrix: services × environments, what each runs, how
//! fresh and how strong that evidence is, and (with `[changes]`) how many
//! commits a cell gains from the environment before it. Only visible rows
//! are built.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use super::theme::Theme;
use super::{age, fit};
use crate::analysis::Cell;
use crate::analysis::findings::Severity;
use crate::app::state::{AppState, Pane};
use crate::model::{CellKey, Health};

/// The finding glyphs, named and bare.
const FINDINGS: &str = "∅ missing ↑ ahead ≠ build ⇄ conflict ✗ unhealthy ⚠ unreachable ◷ stale ⎇ not merged back";
const GLYPHS: &str = "∅ ↑ ≠ ⇄ ✗ ⚠ ◷ ⎇";

/// What a cell shows beside its version, richest first. A narrow terminal
/// drops the lesser columns (the commit count, then age, then evidence,
/// then health) before it cuts a version, and the legend says what is
/// hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// `+14 R  3s  ●`: the commits the cell gains from the environment
    /// before it, in a column this wide (its space included), then what
    /// `Full` shows.
    Counts(usize),
    /// `R  3s  ●`: evidence, age, freshness, health.
    Full,
    /// `R ●`: evidence, freshness, health.
    NoAge,
    /// ` ●`: freshness, health.
    Health,
    /// The version alone.
    Bare,
}

impl Detail {
    /// The details to try, richest first: the counts only when a cell
    /// has commits to count (`count_w` > 0).
    fn ladder(count_w: usize) -> impl Iterator<Item = Detail> {
        (count_w > 0).then_some(Detail::Counts(count_w)).into_iter().chain([
            Detail::Full,
            Detail::NoAge,
            Detail::Health,
            Detail::Bare,
        ])
    }

    /// Columns right of the version, with the space before them.
    fn width(self) -> usize {
        match self {
            Detail::Counts(count_w) => 9 + count_w,
            Detail::Full => 9,
            Detail::NoAge => 4,
            Detail::Health => 3,
            Detail::Bare => 0,
        }
    }

    /// Legends for this detail, widest first; `counted`: some cell has
    /// commits to count, so a detail without them says they are hidden.
    fn legends(self, counted: bool) -> Vec<String> {
        const EVIDENCE: &str = "R C D P evidence";
        const HEALTH: &str = "● ◐ ✗ health";
        let (hidden, shown, shown_short): (&[&str], &[&str], &[&str]) = match self {
            Detail::Counts(_) => {
                return vec![
                    format!(" {FINDINGS} │ +N commits from the environment before │ {EVIDENCE} │ {HEALTH} │ ~ old "),
                    format!(" {GLYPHS} findings │ +N commits from the env before │ {EVIDENCE} │ {HEALTH} │ ? help "),
                    format!(" {GLYPHS} findings │ +N commits from the env before │ {EVIDENCE} │ ? help "),
                    " +N new commits │ ? help ".to_string(),
                ];
            }
            Detail::Full if !counted => {
                return vec![
                    format!(" {FINDINGS} │ {EVIDENCE} │ {HEALTH} │ ~ old "),
                    format!(" {GLYPHS} findings │ {EVIDENCE} │ {HEALTH} │ ~ old │ ? help "),
                    format!(" {GLYPHS} findings │ {EVIDENCE} │ ? help "),
                ];
            }
            Detail::Full => (&[], &[EVIDENCE, HEALTH], &[EVIDENCE]),
            Detail::NoAge => (&["ages"], &[EVIDENCE, HEALTH], &[EVIDENCE]),
            Detail::Health => (&["evidence", "ages"], &[HEALTH], &[HEALTH]),
            Detail::Bare => (&["health", "evidence", "ages"], &[], &[]),
        };
        let hidden: Vec<&str> = counted.then_some("counts").into_iter().chain(hidden.iter().copied()).collect();
        // "counts, evidence and ages" in words; "counts, evidence, ages" short.
        let listed = match hidden.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => hidden.join(", "),
        };
        let part = |columns: &[&str]| columns.iter().map(|c| format!("{c} │ ")).collect::<String>();
        let short = if self == Detail::Bare {
            " versions only: too narrow │ ? help ".to_string()
        } else {
            format!(" {} hidden: too narrow │ ? help ", hidden.join(", "))
        };
        vec![
            format!(" {GLYPHS} findings │ {}{listed} hidden: too narrow, Enter shows them ", part(shown)),
            format!(" {GLYPHS} │ {}{} hidden: too narrow │ ? help ", part(shown_short), hidden.join(", ")),
            short,
        ]
    }
}

/// How a cell says how many commits it gains: `+14`.
fn count_label(commits: usize) -> String {
    format!("+{commits}")
}

/// Matrix rows shown: the visible services from the scroll offset, as many
/// as `area` holds under its header.
fn shown_rows(state: &AppState, area: Rect) -> std::ops::Range<usize> {
    let rows_fit = area.height.saturating_sub(3) as usize;
    let first = state.ui.offset.min(state.visible.len());
    first..(first + rows_fit).min(state.visible.len())
}

/// The version a cell shows, when it shows one.
fn shown_version(state: &AppState, key: CellKey) -> Option<&str> {
    let cell = state.engine.matrix().get(key);
    let seen = cell.shown()?.last_ok.as_ref()?;
    Some(seen.reading.version.as_deref().unwrap_or(NOT_DEPLOYED))
}

const NOT_DEPLOYED: &str = "not deployed";

/// Where the matrix's columns go, and what its cells have room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    pub name_w: u16,
    pub target_w: u16,
    pub env_w: u16,
    pub detail: Detail,
    /// Some cell shown has commits to count (shown or not).
    pub counted: bool,
}

/// Column widths: the service names, the targets, one column per
/// environment, and how much detail the cells have room for. Versions
/// come first: the lesser columns go, then the service names narrow,
/// before a version is cut.
/// The widest a version may make the environment columns (longer ones are cut).
const VERSION_ROOM_AT_MOST: usize = 24;

pub(crate) fn columns(state: &AppState, area: Rect) -> Columns {
    let fleet = &state.engine.fleet;
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    // Every name and target, every frame (the columns must not change as
    // the rows scroll): printable ASCII, as nearly all are, is as wide as it is long.
    let name_width = |s: &str| if s.bytes().all(|b| (0x20..0x7f).contains(&b)) { s.len() } else { width(s) };
    let mut name_w = fleet.services.iter().map(|s| name_width(&s.name)).max().unwrap_or(7).clamp(7, 24) as u16 + 1;
    let target_w = fleet
        .release
        .as_ref()
        .map(|r| r.targets.iter().map(|(_, v)| name_width(v)).max().unwrap_or(6).clamp(6, 14) as u16 + 1)
        .unwrap_or(0);
    let envs = fleet.environments.len().max(1) as u16;
    let inner_w = area.width.saturating_sub(2);
    let env_w = |name_w: u16| (inner_w.saturating_sub(name_w + target_w) / envs).max(8);
    let shown_cells = || {
        shown_rows(state, area).flat_map(|row| {
            let service = state.visible[row];
            (0..fleet.environments.len()).map(move |env| CellKey { service, env })
        })
    };
    // Versions get room before the lesser columns, up to a point: one
    // absurdly long version (a hostile or broken source) is cut itself
    // rather than hiding every cell's age, evidence and health.
    let version_w = shown_cells()
        .filter_map(|key| shown_version(state, key))
        .map(width)
        .max()
        .unwrap_or(0)
        .min(VERSION_ROOM_AT_MOST) as u16;
    // The widest `+14`, and the space before it.
    let count_w =
        shown_cells().filter_map(|key| shown_count(state, key)).map(|n| count_label(n).len() + 1).max().unwrap_or(0);
    // A cell: the finding mark (2), the version, the detail, a column gap.
    let needed = version_w + 3;
    if env_w(name_w) < needed {
        let short = (needed - env_w(name_w)) * envs;
        name_w = name_w.saturating_sub(short).max(9.min(name_w));
    }
    let env_w = env_w(name_w);
    let room = usize::from(env_w.saturating_sub(needed));
    let detail = Detail::ladder(count_w).find(|d| d.width() <= room).unwrap_or(Detail::Bare);
    Columns { name_w, target_w, env_w, detail, counted: count_w > 0 }
}

/// The commits a cell gains from the environment before it, when it shows
/// a version and there is something to gain.
fn shown_count(state: &AppState, key: CellKey) -> Option<usize> {
    shown_version(state, key)?;
    state.eval.incoming(key).filter(|&n| n > 0)
}

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Matrix;
    let title =
        format!(" Environment matrix · {} of {} services ", state.visible.len(), state.engine.fleet.services.len());
    let Columns { name_w, target_w, env_w, detail, counted } = columns(state, area);
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s) as u16;
    let legends = detail.legends(counted);
    let legend = legends.iter().find(|l| width(l) + 4 <= area.width).map_or("", String::as_str);
    let block = Block::bordered()
        .title(Span::styled(title, theme.title()))
        .title_bottom(Line::from(Span::styled(legend, theme.dim())).right_aligned())
        .border_style(theme.border(focused));

    let fleet = &state.engine.fleet;
    let mut widths = vec![Constraint::Length(name_w)];
    let mut header = vec![Line::from("service")];
    if target_w > 0 {
        widths.push(Constraint::Length(target_w));
        header.push(Line::from("target"));
    }
    for env in &fleet.environments {
        widths.push(Constraint::Length(env_w));
        header.push(Line::from(env.name.as_ref()));
    }

    // Drawn straight into the buffer, a row at a time, in the columns a
    // `Table` would use (the same layout, so the same screen): a table
    // widget re-styles every row and wraps every cell in a `Text`, which
    // costs more than the cells themselves.
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if !inner.is_empty() {
        let columns = Layout::horizontal(widths).flex(Flex::Start).spacing(0).split(Rect::new(0, 0, inner.width, 1));
        let cell_area = |column: usize, y: u16| {
            let c = columns[column];
            Rect::new(inner.x + c.x, y, c.width, 1).intersection(inner)
        };
        let buf = frame.buffer_mut();
        let header_row = Rect { height: 1, ..inner };
        buf.set_style(header_row, theme.header());
        for (column, line) in header.iter().enumerate() {
            line.render(cell_area(column, inner.y), buf);
        }

        let rows = shown_rows(state, area);
        let first = rows.start;
        for (i, &service) in state.visible[rows].iter().enumerate() {
            let y = inner.y + 1 + i as u16;
            let selected_row = first + i == state.ui.row;
            let svc = &fleet.services[service];
            let name_style = if selected_row { theme.title() } else { ratatui::style::Style::new() };
            Span::styled(fit(&svc.name, name_w as usize - 1), name_style).render(cell_area(0, y), buf);
            let mut column = 1;
            if target_w > 0 {
                let target = fleet.release.as_ref().and_then(|r| r.target(service));
                Span::styled(target.unwrap_or("·"), theme.dim()).render(cell_area(column, y), buf);
                column += 1;
            }
            for env in 0..fleet.environments.len() {
                let area = cell_area(column + env, y);
                if selected_row && env == state.ui.env && focused {
                    buf.set_style(area, theme.selected());
                }
                let (left, right) = cell_line(state, CellKey { service, env }, env_w as usize, detail, theme);
                left.render(area, buf);
                if let Some((at, right)) = right {
                    let at = area.x.saturating_add(at).min(area.right());
                    right.render(Rect { x: at, width: area.right() - at, ..area }, buf);
                }
            }
        }
    }

    if state.visible.is_empty() {
        let msg = if state.ui.filter.is_empty() {
            "no services configured".to_string()
        } else {
            super::nothing_matches(&state.ui.filter)
        };
        let inner = Rect { x: area.x + 2, y: area.y + 2, width: area.width.saturating_sub(4), height: 1 };
        frame.render_widget(ratatui::widgets::Paragraph::new(Span::styled(msg, theme.dim())), inner);
    }
}

/// One cell: the worst finding's glyph, `version #build` on the left,
/// `+commits evidence age health` on the right, as much of it as `detail`
/// allows.
pub(crate) fn cell_line<'a>(
    state: &'a AppState,
    key: CellKey,
    width: usize,
    detail: Detail,
    theme: &Theme,
) -> (Line<'a>, Option<(u16, Line<'a>)>) {
    let cell: &Cell = state.engine.matrix().get(key);
    let width = width.saturating_sub(1); // a column gap
    if cell.untried() {
        return (Line::from(Span::styled("  …", theme.dim())), None);
    }
    if cell.deployments().next().is_none() {
        // Only metrics read this cell: nothing says what runs.
        return (Line::from(Span::styled(fit("  metrics only", width), theme.dim())), None);
    }
    let finding = state.eval.mark(key);
    let (mark, mark_style) = match finding {
        Some(kind) if kind.severity() == Severity::High => (kind.glyph(), theme.bad()),
        Some(kind) => (kind.glyph(), theme.warn()),
        None => (' ', theme.dim()),
    };
    // Most cells have no finding: their blank mark is borrowed.
    let mark = if mark == ' ' { Span::styled("  ", mark_style) } else { Span::styled(format!("{mark} "), mark_style) };
    let mark_w = mark.width();
    let Some(obs) = cell.shown() else {
        // Never read successfully: show why.
        let err = cell
            .observations
            .iter()
            .find_map(|o| o.error.as_ref())
            .map(|f| short_error(&f.error.to_string()))
            .unwrap_or_default();
        return (Line::from(vec![mark, Span::styled(fit(&err, width.saturating_sub(2)), theme.bad())]), None);
    };
    let Some(seen) = &obs.last_ok else {
        return (Line::from(""), None);
    };
    // The value shown comes from a source whose latest attempt failed.
    let failing = obs.error.is_some();
    let every = state.engine.sources.iter().find(|s| s.name == obs.source).map(|s| s.every);
    let fetched_secs = state.now.as_second() - seen.fetched_at.as_second();
    let old = every.is_some_and(|e| fetched_secs > (3 * e.as_secs().max(1)) as i64);

    let (health_glyph, health_style) = match seen.reading.health {
        Some(Health::Up) => ("●", theme.ok()),
        Some(Health::Degraded) => ("◐", theme.warn()),
        Some(Health::Down) => ("✗", theme.bad()),
        Some(Health::Unknown) | None => ("·", theme.dim()),
    };
    let freshness = if failing {
        "⚠"
    } else if old {
        "~"
    } else {
        " "
    };
    let right = match detail {
        Detail::Counts(_) | Detail::Full => {
            // `{glyph}{age:>4}{freshness} `, written into the age's own string.
            let mut right = age(state.now, seen.fetched_at);
            let pad = 4usize.saturating_sub(right.chars().count());
            right.insert_str(0, &"    "[..pad]);
            right.insert(0, obs.evidence.glyph());
            right.push_str(freshness);
            right.push(' ');
            right
        }
        Detail::NoAge => format!("{}{freshness}", obs.evidence.glyph()),
        Detail::Health => freshness.to_string(),
        Detail::Bare => String::new(),
    };
    // Room for the mark and the columns right of the version.
    let left_w = width.saturating_sub(2 + detail.width());
    let version = seen.reading.version.as_deref().unwrap_or(NOT_DEPLOYED);
    let build = seen.reading.build.as_deref();
    let width_of = unicode_width::UnicodeWidthStr::width;
    let age_style = if failing {
        theme.bad()
    } else if old {
        theme.warn()
    } else {
        theme.dim()
    };
    let version_style = match finding {
        Some(kind) if kind.severity() == Severity::High => theme.bad(),
        Some(_) => theme.warn(),
        None => ratatui::style::Style::new(),
    };
    // Borrowed from the reading where it can be: a frame draws hundreds.
    let mut spans = Vec::with_capacity(8);
    spans.push(mark);
    // When both do not fit, the version matters more than the build.
    let full_w = width_of(version) + build.map_or(0, |b| 2 + width_of(b));
    match build {
        Some(b) if full_w <= left_w => {
            spans.push(Span::styled(version, version_style));
            spans.push(Span::styled(" #", theme.dim()));
            spans.push(Span::styled(b, theme.dim()));
        }
        None if full_w <= left_w => spans.push(Span::styled(version, version_style)),
        _ => spans.push(Span::styled(fit(version, left_w), version_style)),
    }
    if detail == Detail::Bare {
        return (Line::from(spans), None);
    }
    // The right-hand part starts a column past the version's room (blank
    // between: nothing drawn there).
    let mut tail = Vec::with_capacity(3);
    if let Detail::Counts(count_w) = detail {
        let count = shown_count(state, key).map(count_label).unwrap_or_default();
        tail.push(Span::styled(format!("{count:>w$} ", w = count_w.saturating_sub(1)), theme.accent()));
    }
    tail.push(Span::styled(right, age_style));
    tail.push(Span::styled(health_glyph, health_style));
    let at = u16::try_from(mark_w + left_w + 1).unwrap_or(u16::MAX);
    (Line::from(spans), Some((at, Line::from(tail))))
}

/// The gist of an error for a narrow cell: `timeout`, `HTTP 500`, …
pub(crate) fn short_error(err: &str) -> String {
    if err.starts_with("timed out") {
        "timeout".into()
    } else if let Some(rest) = err.strip_prefix("HTTP ") {
        format!("HTTP {}", rest.split_whitespace().next().unwrap_or(""))
    } else if err.starts_with("cannot connect") {
        "no connection".into()
    } else {
        err.to_string()
    }
}
