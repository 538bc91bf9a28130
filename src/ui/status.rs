//! The status bar: the verdict and the decision recorded beside it,
//! release, window countdown, how fresh the sweep is, failing sources, and
//! a rate-limit budget that will not hold (on a second line when the first
//! has no room for it); or, while a rollback trigger fires, the rollback
//! banner, which takes a second line (a third at most) rather than cut what
//! to do.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::checklist::when;
use super::theme::Theme;
use super::{age, countdown, fit};
use crate::analysis::rollback::{Method, RollbackTarget, TriggerState};
use crate::analysis::verdict::Verdict;
use crate::app::prompt::decision_label;
use crate::app::state::AppState;
use crate::journal::release::Decision;
use crate::sources::budget::Outlook;

/// Most lines the rollback banner takes.
const BANNER_LINES: usize = 3;

/// A successful read older than its source's period twice over, plus this,
/// is a fetch that has not come back: hanging.
const HANG_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The status bar laid out for one width: its lines and the style behind
/// them. Laid out once a frame (the layout needs its height, and at
/// thousands of firing triggers the banner is the bar's dearest part).
pub struct Status {
    lines: Vec<Line<'static>>,
    style: Style,
}

impl Status {
    /// Rows the bar takes: one, the rollback banner's, or two when a budget
    /// warning does not fit beside the bar.
    pub fn height(&self) -> u16 {
        u16::try_from(self.lines.len()).unwrap_or(u16::MAX)
    }
}

/// Lay the status bar out at `width`.
pub fn lay_out(state: &AppState, theme: &Theme, width: u16) -> Status {
    // A firing trigger turns the whole bar into the rollback banner.
    if let Some(lines) = banner(state, theme, usize::from(width)) {
        return Status { lines, style: theme.status_alert() };
    }
    let (mut spans, style) = bar(state, theme);
    // A budget that will not hold goes at the end of the bar, or on a line
    // of its own when it does not fit there.
    let lines = match budget_warning(state) {
        Some(warning) if fits_beside(&spans, &warning, width) => {
            spans.push(Span::raw(" │ "));
            spans.push(Span::raw(warning));
            vec![Line::from(spans)]
        }
        Some(warning) => {
            let room = usize::from(width).saturating_sub(1);
            vec![Line::from(spans), Line::from(format!(" {}", fit(&warning, room)))]
        }
        None => vec![Line::from(spans)],
    };
    Status { lines, style }
}

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    draw(frame, area, lay_out(state, theme, area.width));
}

/// Draw a bar laid out by [`lay_out`].
pub fn draw(frame: &mut Frame, area: Rect, status: Status) {
    frame.render_widget(Paragraph::new(status.lines).style(status.style), area);
}

/// Whether `warning` fits at the end of the bar's one line.
fn fits_beside(spans: &[Span], warning: &str, width: u16) -> bool {
    spans.iter().map(Span::width).sum::<usize>() + " │ ".width() + warning.width() <= usize::from(width)
}

/// The first budget that will not hold, in words (the others counted):
/// `⚠ GitHub budget: 4,200 of 5,000 left, ~6,100/h needed, held back at 19:20`.
fn budget_warning(state: &AppState) -> Option<String> {
    let first = state.budget_warnings.first()?;
    let b = &first.budget;
    let at = |epoch: i64| jiff::Timestamp::from_second(epoch).map_or_else(|_| "?".into(), |t| when(state.now, t));
    let what = match first.outlook {
        Outlook::Short { at: from } => {
            let needed = b.needed_per_hour.map_or_else(String::new, |n| format!("~{}/h needed, ", thousands(n)));
            format!("{needed}held back at {}", at(from))
        }
        Outlook::HeldBack { until } => format!("held back until {}", at(until)),
        Outlook::Holds | Outlook::Unknown => return None,
    };
    let more = match state.budget_warnings.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    Some(format!("⚠ GitHub budget: {} of {} left, {what}{more}", thousands(b.remaining), thousands(b.limit)))
}

/// `6100` as `6,100`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The bar's one line and its style (alert when sources fail).
fn bar(state: &AppState, theme: &Theme) -> (Vec<Span<'static>>, Style) {
    let sep = || Span::raw(" │ ");
    let mut spans = vec![Span::styled(" flightdeck ", theme.title())];
    spans.extend(verdict_spans(state, theme));
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
    spans.push(Span::raw(sweep(state).text(state.now)));
    if state.team.is_some() || state.seat.is_some() {
        // Before the store first answered, the seat's role is not known yet.
        let role = state.team.as_deref().unwrap_or("?");
        // Team mode: who this seat is in the shared journal, and whether the
        // team store answers (its error follows when it does not).
        spans.push(sep());
        let unreadable = state.release_journal_error.as_deref().is_some_and(|e| e.starts_with(crate::app::UNREADABLE));
        let cut_off = matches!(state.seat, Some(crate::journal::team_seat::SeatRole::Unreachable(_)));
        let health = if unreadable || cut_off { "team store unreachable" } else { "team" };
        // One poll load: whether this seat polls for the team, or whom it follows.
        let lead = match &state.seat {
            Some(seat) if !cut_off => format!(" · {}", seat.label()),
            _ => String::new(),
        };
        spans.push(Span::raw(format!("{health} · {role}{lead}")));
    }
    if let Some(err) = &state.release_journal_error {
        spans.push(sep());
        spans.push(Span::styled(format!("⚠ release journal: {err}"), theme.status_alert()));
    }
    if let Some(err) = &state.webhook_error {
        // A failing webhook never blocks anything, but it must be seen.
        spans.push(sep());
        spans.push(Span::raw(format!("⚠ webhook {err}")));
    }
    if let Some(err) = &state.journal_error {
        spans.push(sep());
        spans.push(Span::raw(format!("⚠ journal: {err}")));
    }
    let failing = &state.eval.failing;
    let style = if failing.is_empty() {
        theme.status_bar()
    } else {
        spans.push(sep());
        let detail: Vec<String> =
            failing.iter().map(|(name, n)| format!("{name} ({n} cell{})", if *n == 1 { "" } else { "s" })).collect();
        spans.push(Span::raw(format!("⚠ failing: {}", detail.join(", "))));
        theme.status_alert()
    };
    (spans, style)
}

fn verdict_style(verdict: Verdict, theme: &Theme) -> Style {
    match verdict {
        Verdict::Go => theme.verdict_go(),
        Verdict::Hold => theme.verdict_hold(),
        Verdict::NoGo => theme.verdict_no_go(),
    }
}

/// ` NO-GO (12) ` and, when one is recorded, ` · decided GO by carol 18:41`:
/// a decision is never hidden behind the verdict, nor the verdict behind it.
fn verdict_spans(state: &AppState, theme: &Theme) -> Vec<Span<'static>> {
    let j = &state.eval.judgement;
    let verdict = match j.blockers.len() {
        0 => format!(" {} ", j.verdict.as_str().to_uppercase()),
        n => format!(" {} ({n}) ", j.verdict.as_str().to_uppercase()),
    };
    let mut spans = vec![Span::styled(verdict, verdict_style(j.verdict, theme))];
    if let Some(d) = state.eval.checklist.as_ref().and_then(|c| c.manual.decision()) {
        let decided = match d.decision {
            Decision::Go => Verdict::Go,
            Decision::NoGo => Verdict::NoGo,
        };
        spans.push(Span::raw("· decided "));
        spans.push(Span::styled(decision_label(d.decision), verdict_style(decided, theme)));
        spans.push(Span::raw(format!(" by {} {}", d.by, super::checklist::when(state.now, d.at))));
    }
    spans
}

/// How far the sweep has got: every cell read or failed counts as done; a
/// fetch that does not come back is counted, not waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    NoSources,
    /// Not every cell has answered once yet.
    First {
        answered: usize,
        of: usize,
    },
    /// Every cell answered; `at` is the oldest of the latest answers that
    /// read something (failed cells are done, their sources are named as
    /// failing); `hanging` cells time out or have not answered for far
    /// longer than their source's period.
    Done {
        at: Option<jiff::Timestamp>,
        hanging: usize,
    },
}

impl Sweep {
    fn text(self, now: jiff::Timestamp) -> String {
        let hanging = |n: usize| if n > 0 { format!(" · {n} hanging") } else { String::new() };
        match self {
            Sweep::NoSources => "no sources".into(),
            Sweep::First { answered, of } => format!("first sweep: {answered}/{of} cells"),
            Sweep::Done { at: Some(at), hanging: n } => format!("sweep {} ago{}", age(now, at), hanging(n)),
            Sweep::Done { at: None, hanging: n } => format!("sweep: no cell read{}", hanging(n)),
        }
    }
}

fn sweep(state: &AppState) -> Sweep {
    let polled = state.polled_cells();
    if polled == 0 {
        return Sweep::NoSources;
    }
    let period = |source: &str| state.engine.sources.iter().find(|s| &*s.name == source).map(|s| s.every);
    let (mut answered, mut hanging) = (0, 0);
    let mut oldest: Option<jiff::Timestamp> = None;
    for (_, cell) in state.engine.matrix().iter() {
        for o in &cell.observations {
            let Some(at) = o.last_attempt else { continue };
            answered += 1;
            match &o.error {
                Some(f) if matches!(f.error, crate::sources::FetchError::Timeout(_)) => hanging += 1,
                Some(_) => {}
                None => {
                    let overdue = period(&o.source).map(|every| every * 2 + HANG_GRACE);
                    let waited = std::time::Duration::try_from(state.now.duration_since(at)).unwrap_or_default();
                    if overdue.is_some_and(|overdue| waited > overdue) {
                        hanging += 1;
                    } else {
                        oldest = Some(oldest.map_or(at, |o| o.min(at)));
                    }
                }
            }
        }
    }
    if answered < polled { Sweep::First { answered, of: polled } } else { Sweep::Done { at: oldest, hanging } }
}

/// A piece of the banner: kept whole on one line when it fits.
struct Chunk {
    text: String,
    style: Style,
    /// Starts a line of its own when the banner takes more than one.
    breaks: bool,
    /// Wrapped over lines rather than cut when it is wider than the bar.
    whole: bool,
}

/// The firing triggers, the latest environment first, then service order.
fn firing(state: &AppState) -> Vec<&TriggerState> {
    let mut firing: Vec<&TriggerState> = state.eval.rollback.firing().collect();
    firing.sort_by_key(|t| (std::cmp::Reverse(t.cell.env), t.cell.service));
    firing
}

/// What to do about a trigger: the rollback command whole, with its caveat
/// when the version it goes back to is not proven good, or plainly why
/// there is no target.
fn what_to_do(state: &AppState, t: &TriggerState) -> Vec<(String, bool)> {
    let env =
        state.eval.rollback.service(t.cell.service).and_then(|s| s.environments.iter().find(|e| e.env == t.cell.env));
    let method = |m: &Method| match m {
        Method::Command(c) => format!("$ {c}"),
        Method::Runbook(url) => format!("runbook: {url}"),
    };
    match env.map(|e| &e.target) {
        Some(RollbackTarget::Ready(m)) => vec![(method(m), true)],
        // The caveat is as much what to do as the command: never cut either.
        Some(RollbackTarget::Unproven { method: m, caveat }) => vec![(method(m), true), (format!("⚠ {caveat}"), true)],
        Some(RollbackTarget::None(why)) => vec![(format!("no rollback target: {why}"), true)],
        None => vec![(format!("no rollback readiness for {} in {}", t.service, t.environment), false)],
    }
}

/// The rollback banner at `width` columns, while a trigger fires: one line
/// when it all fits; else what fires on the first, what to do from the
/// second, never cut (at most [`BANNER_LINES`] unless the command itself
/// needs more).
pub(crate) fn banner(state: &AppState, theme: &Theme, width: usize) -> Option<Vec<Line<'static>>> {
    laid_out(state, theme, width, true)
}

/// The banner; `bounded`: only as many triggers laid out as its lines can
/// show (what [`banner`] does: the same lines, without laying out
/// thousands of triggers at every frame).
fn laid_out(state: &AppState, theme: &Theme, width: usize, bounded: bool) -> Option<Vec<Line<'static>>> {
    let firing = firing(state);
    let first = *firing.first()?;
    let alert = theme.status_alert();
    let chunk = |text: String, breaks: bool, whole: bool| Chunk { text, style: alert, breaks, whole };
    let j = &state.eval.judgement;
    let mut head = vec![Chunk {
        text: format!(" {} ({}) ", j.verdict.as_str().to_uppercase(), j.blockers.len()),
        style: theme.verdict_no_go(),
        breaks: false,
        whole: false,
    }];
    if let Some(d) = state.eval.checklist.as_ref().and_then(|c| c.manual.decision()) {
        let when = super::checklist::when(state.now, d.at);
        head.push(chunk(format!("decided {} by {} {when}", decision_label(d.decision), d.by), false, false));
    }
    let named = |t: &TriggerState| format!("{} in {}: {}", t.service, t.environment, t.measurement());
    let lead = if firing.len() == 1 { "▲ ROLLBACK TRIGGER" } else { "▲ ROLLBACK TRIGGERS" };
    let mut tail: Vec<Chunk> =
        what_to_do(state, first).into_iter().enumerate().map(|(i, (text, whole))| chunk(text, i == 0, whole)).collect();
    // What must not be hidden while the banner shows: decisions not being
    // recorded, and sources (the metrics among them) failing.
    if state.release_journal_error.is_some() {
        tail.push(chunk("⚠ release journal: NOT RECORDED".into(), false, false));
    }
    let failing = &state.eval.failing;
    if !failing.is_empty() {
        let names: Vec<&str> = failing.iter().map(|(n, _)| &**n).collect();
        tail.push(chunk(format!("⚠ failing: {}", names.join(", ")), false, false));
    }
    let layout = |triggers: Vec<Chunk>| {
        let chunks: Vec<Chunk> =
            head.iter().map(Chunk::copy).chain(triggers).chain(tail.iter().map(Chunk::copy)).collect();
        pack(&chunks, width, alert)
    };
    // Each trigger's chunk ("▲ s in e: …", 8 columns at least) takes 9
    // columns of a line or more, or a line of its own: more triggers than
    // that the banner's lines cannot hold, and are not laid out to see.
    let room = BANNER_LINES * width;
    if !bounded || firing.len() <= BANNER_LINES * (width / 9 + 1) {
        let mut full = vec![chunk(format!("{lead}: {}", named(first)), false, false)];
        full.extend(firing.iter().skip(1).map(|t| chunk(format!("▲ {}", named(t)), false, false)));
        let (lines, _) = layout(full);
        if lines.len() <= BANNER_LINES {
            return Some(lines);
        }
    }
    // Too much to say in full: every firing trigger still named, by where
    // it fires and what, before the measurements (as many as the lines
    // can show: the rest would be cut).
    let mut short = format!("{lead}: ");
    for (i, t) in firing.iter().enumerate() {
        if bounded && short.width() > room {
            break;
        }
        if i > 0 {
            short.push_str(", ");
        }
        short.push_str(&format!("{} in {} ({})", t.service, t.environment, t.name));
    }
    let short = chunk(short, false, false);
    let (mut lines, keep_short) = layout(vec![short]);
    lines.truncate(BANNER_LINES.max(keep_short));
    Some(lines)
}

impl Chunk {
    fn copy(&self) -> Chunk {
        Chunk { text: self.text.clone(), style: self.style, breaks: self.breaks, whole: self.whole }
    }
}

/// Lay chunks out in lines of `width`: all on one when they fit. Else a
/// chunk goes on the current line when it fits there (a `breaks` one
/// starts a new line); one that does not is cut to the room left when that
/// is most of it, else starts a new line. A chunk wider than a line is
/// wrapped when `whole`, else cut with `…`. Returns the lines and how many
/// of them the last `whole` chunk needs kept.
fn pack(chunks: &[Chunk], width: usize, style: Style) -> (Vec<Line<'static>>, usize) {
    // The verdict badge carries its own padding; other chunks are split by bars.
    let sep_before = |i: usize| if i <= 1 { " " } else { " │ " };
    let total: usize = chunks.iter().enumerate().map(|(i, c)| sep_before(i).width() + c.text.width()).sum();
    let single = total <= width + 1;
    let mut lines: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut used = 0;
    let mut keep = 0;
    for (i, c) in chunks.iter().enumerate() {
        let sep = if i == 0 { "" } else { sep_before(i) };
        let len = sep.width() + c.text.width();
        let room = width.saturating_sub(used + sep.width());
        let placed = if single || (used + len <= width && !(c.breaks && used > 0)) {
            Some(c.text.clone())
        } else if used > 0 && !c.whole && !c.breaks && room >= (c.text.width() * 2 / 3).max(12) {
            Some(fit(&c.text, room))
        } else {
            None
        };
        if let Some(text) = placed {
            used += sep.width() + text.width();
            if let Some(line) = lines.last_mut() {
                if !sep.is_empty() {
                    line.push(Span::styled(sep.to_string(), style));
                }
                line.push(Span::styled(text, c.style));
            }
        } else {
            if used > 0 {
                lines.push(Vec::new());
            }
            // A fresh line: one space in, then the chunk, wrapped or cut.
            let room = width.saturating_sub(1).max(1);
            let pieces = if c.whole { hard_wrap(&c.text, room) } else { vec![fit(&c.text, room)] };
            let last = pieces.len().saturating_sub(1);
            for (k, piece) in pieces.into_iter().enumerate() {
                used = 1 + piece.width();
                if let Some(line) = lines.last_mut() {
                    line.push(Span::styled(" ", style));
                    line.push(Span::styled(piece, c.style));
                }
                if k < last {
                    lines.push(Vec::new());
                }
            }
        }
        if c.whole {
            keep = lines.len();
        }
    }
    (lines.into_iter().map(|spans| Line::from(spans).style(style)).collect(), keep)
}

/// `text` in pieces of at most `width` columns, at spaces where it can.
pub(super) fn hard_wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar;
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_inclusive(' ') {
        if used > 0 && used + word.trim_end().width() > width {
            out.push(line.trim_end().to_string());
            line.clear();
            used = 0;
        }
        for ch in word.chars() {
            let cw = ch.width().unwrap_or(0);
            if used + cw > width && ch != ' ' {
                out.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(ch);
            used += cw;
        }
    }
    if !line.trim().is_empty() || out.is_empty() {
        out.push(line.trim_end().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str, breaks: bool, whole: bool) -> Chunk {
        Chunk { text: text.into(), style: Style::new(), breaks, whole }
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    /// `n` services down in prod (each a firing health trigger) and in
    /// staging, with the given name length.
    fn down_fleet(n: usize, name_len: usize) -> AppState {
        let services: String = (0..n).map(|i| format!("[[services]]\nname = \"s{i:0>name_len$}\"\n")).collect();
        let config = crate::setup::from_toml_str(
            &format!(
                "[[environments]]\nname = \"staging\"\n[[environments]]\nname = \"prod\"\n{services}\
                 [[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/{{env}}/{{service}}\"\n"
            ),
            "test",
        )
        .unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let now: jiff::Timestamp = "2026-11-24T18:30:00Z".parse().unwrap();
        let mut s = crate::app::initial_state(&config, &active, now);
        let source: std::sync::Arc<str> = "endpoints".into();
        for service in 0..n {
            for env in 0..2 {
                let down = crate::model::Reading {
                    health: Some(crate::model::Health::Down),
                    ..crate::model::Reading::version("1.0.0")
                };
                let cell = s.engine.cell_mut(crate::model::CellKey { service, env }).unwrap();
                cell.record(&source, crate::model::Evidence::Running, now, Ok(down));
            }
        }
        s.reanalyze();
        s
    }

    #[test]
    fn the_banner_lays_out_only_what_it_can_show_and_shows_the_same() {
        let theme = Theme::new(false);
        for (n, name_len) in [(1, 3), (2, 3), (5, 1), (8, 30), (20, 1), (40, 1), (60, 1), (150, 1), (400, 2), (900, 3)]
        {
            let s = down_fleet(n, name_len);
            assert_eq!(firing(&s).len(), 2 * n, "every down cell fires");
            for width in [20, 40, 80, 100, 200, 300] {
                let bounded = laid_out(&s, &theme, width, true).map(|l| texts(&l));
                let whole = laid_out(&s, &theme, width, false).map(|l| texts(&l));
                assert_eq!(bounded, whole, "{n} firing × {name_len}-character names at {width} columns");
                let lines = bounded.unwrap_or_default();
                assert!(lines.iter().take(2).any(|l| l.contains("ROLLBACK TRIGGER")), "{lines:#?}");
            }
        }
    }

    #[test]
    fn a_command_wider_than_the_bar_is_wrapped_never_cut() {
        let command =
            "$ kubectl --context prod-eu-west-1 -n payments rollout undo deployment/payments-api --to-revision=41";
        let chunks = [
            chunk(" NO-GO (1) ", false, false),
            chunk("▲ ROLLBACK TRIGGER: payments in prod: health down (endpoints)", false, false),
            chunk(command, true, true),
            chunk("⚠ failing: prom", false, false),
        ];
        let (lines, keep) = pack(&chunks, 60, Style::new());
        let lines = texts(&lines);
        assert!(lines.iter().all(|l| l.width() <= 60), "{lines:#?}");
        // The command starts its own line and reads whole, over two.
        assert!(lines[1].starts_with(" $ kubectl"), "{lines:#?}");
        let rest = lines[2].trim().strip_suffix(" │ ⚠ failing: prom").unwrap_or_default();
        assert_eq!(format!("{} {rest}", lines[1].trim()), command, "{lines:#?}");
        assert_eq!(keep, 3, "the command's lines are kept");
        assert!(lines.iter().skip(1).all(|l| !l.contains('…')), "{lines:#?}");
        // Wide enough: one line, in order.
        let (lines, _) = pack(&chunks, 220, Style::new());
        let lines = texts(&lines);
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].starts_with(" NO-GO (1)  ▲ ROLLBACK TRIGGER") && lines[0].contains(&format!("│ {command} │")));
    }

    #[test]
    fn a_trigger_that_does_not_fit_is_cut_where_it_has_most_of_the_room() {
        let chunks = [
            chunk(" NO-GO (1) ", false, false),
            chunk("▲ ROLLBACK TRIGGER: payments in prod: error_rate 0.2 (baseline 0.002, fires ≥ 0.02)", false, false),
            chunk("$ deployctl rollback payments --env prod --to 1.3.2", true, true),
        ];
        let lines = texts(&pack(&chunks, 80, Style::new()).0);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(lines[0].starts_with(" NO-GO (1)  ▲ ROLLBACK TRIGGER: payments in prod: error_rate 0.2"), "{lines:#?}");
        assert!(lines[0].ends_with('…') && lines[0].width() == 80, "{lines:#?}");
        assert_eq!(lines[1], " $ deployctl rollback payments --env prod --to 1.3.2");
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5000), "5,000");
        assert_eq!(thousands(12_500), "12,500");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn hard_wrap_breaks_at_spaces_and_inside_a_word_only_when_it_must() {
        assert_eq!(hard_wrap("deployctl rollback payments", 12), vec!["deployctl", "rollback", "payments"]);
        assert_eq!(hard_wrap("registry.example/payments@sha256", 12), vec!["registry.exa", "mple/payment", "s@sha256"]);
        assert_eq!(hard_wrap("short", 40), vec!["short"]);
    }
}
