//! Rollback: for every service in the release, can we get back, and should
//! we? In place: one row per service (readiness, the version to go back to
//! in the latest environment, the worst trigger). Focused (Tab): the whole
//! area below the matrix, per service and environment, with the reasons,
//! the rollback method filled in, migrations, and every trigger's live
//! value beside its baseline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell as TableCell, Paragraph, Row, Table};

use super::fit;
use super::theme::Theme;
use crate::analysis::rollback::{
    EnvRollback, Level, Readiness, RollbackTarget, ServiceRollback, TriggerState, value_text,
};
use crate::app::state::{AppState, Pane};
use crate::model::rollback::Migration;

pub(crate) fn readiness_style(r: Readiness, theme: &Theme) -> Style {
    match r {
        Readiness::Ready => theme.ok(),
        Readiness::AtRisk => theme.warn(),
        Readiness::NotReady => theme.bad(),
    }
}

pub(crate) fn level_style(l: Level, theme: &Theme) -> Style {
    match l {
        Level::Firing => theme.status_alert(),
        Level::Warn => theme.warn(),
        Level::Ok => theme.ok(),
        Level::NoData => theme.dim(),
    }
}

/// " Rollback · 1 FIRING · baseline at 11-24 18:00 UTC ", the firing count
/// first: on a narrow pane the baseline goes, never the count.
fn title(state: &AppState, width: u16) -> String {
    let firing = state.eval.rollback.firing().count();
    let firing = if firing > 0 { format!(" · {firing} FIRING") } else { String::new() };
    let long = format!(" Rollback{firing} · baseline {} ", state.eval.rollback.baseline);
    let known = !state.eval.rollback.baseline.is_empty();
    if known && unicode_width::UnicodeWidthStr::width(long.as_str()) + 4 <= usize::from(width) {
        long
    } else {
        format!(" Rollback{firing} ")
    }
}

/// The worst trigger of a service (firing first), for the summary row.
fn worst(state: &AppState, service: usize) -> Option<&TriggerState> {
    // Missing data ranks above OK: "all OK" must mean every trigger has data;
    // a failing query ranks above both: it must not read "all OK" either.
    let rank = |t: &TriggerState| match t.state {
        Level::Ok | Level::NoData if t.error.is_some() => 2,
        Level::Ok => 0,
        Level::NoData => 1,
        Level::Warn => 3,
        Level::Firing => 4,
    };
    state.eval.rollback.triggers_of(service).max_by_key(|t| (rank(t), std::cmp::Reverse(t.cell.env)))
}

/// Whether the release has reached `env` (the engine's judgement).
fn reached(state: &AppState, env: usize) -> bool {
    state.eval.rollback.reached(env)
}

/// The environments a service's rollback is shown for (the engine marks
/// them): where the release runs, and any where a trigger warns or fires.
fn shown_envs(s: &ServiceRollback) -> Vec<&EnvRollback> {
    s.environments.iter().filter(|e| e.shown).collect()
}

/// The services the pane lists (those the service filter shows), in the
/// engine's order: firing first, then NOT READY, AT RISK, READY.
pub(crate) fn ordered(state: &AppState) -> Vec<&ServiceRollback> {
    listed(state).collect()
}

/// As [`ordered`], lazily: the summary takes only the rows it shows.
fn listed(state: &AppState) -> impl Iterator<Item = &ServiceRollback> {
    // `visible` is in fleet order; with no filter it is every service.
    let all = state.visible.len() >= state.engine.fleet.services.len();
    state.eval.rollback.ordered().filter(move |s| all || state.visible.binary_search(&s.service).is_ok())
}

/// The summary in its place beside the checklist: one row per service,
/// always from the top (the focused pane's scroll is its own), and a last
/// row counting what did not fit.
pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Rollback;
    if focused {
        return render_full(frame, area, state, theme);
    }
    let block = Block::bordered()
        .title(Span::styled(title(state, area.width), theme.title()))
        .border_style(theme.border(focused));
    // At 2,000 services only the rows that fit are gathered; the rest are counted.
    let total = listed(state).count();
    let services: Vec<&ServiceRollback> = listed(state).take(usize::from(area.height)).collect();
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s) as u16;
    let inner_w = area.width.saturating_sub(2);
    // Too short for a header, a service and the count of the rest: the
    // header goes, the first service (the worst) stays.
    let with_header = area.height >= 5 || total <= 1;
    let rows_fit = area.height.saturating_sub(if with_header { 3 } else { 2 }) as usize;
    // A last row says how many more there are, rather than cutting them off silently.
    let shown = if total > rows_fit { rows_fit.saturating_sub(1) } else { total };
    let more = total - shown;
    let name_w = services.iter().take(shown).map(|s| width(&s.name)).max().unwrap_or(7).clamp(7, 20).min(inner_w / 4);
    let ready_w = width(Readiness::NotReady.label());
    // The latest environment the release has reached: what a rollback now
    // would be about.
    let latest = state.eval.rollback.envs.iter().copied().find(|&e| reached(state, e));
    let back = |s: &ServiceRollback, long: bool| match latest.and_then(|l| s.environments.iter().find(|e| e.env == l)) {
        // Nothing of the release to undo there.
        Some(e) if !e.deployed => if long { "not deployed" } else { "not yet" }.to_string(),
        Some(e) if long => back_text(e),
        Some(e) => e.known_good.as_ref().map_or("—".into(), |k| k.artifact.version.clone()),
        None => "—".into(),
    };
    // Three column gaps; the triggers keep at least 16 columns.
    let room = inner_w.saturating_sub(name_w + ready_w + 3);
    // Sized to the rows shown, as the name column is.
    let back_w = |long: bool| services.iter().take(shown).map(|s| width(&back(s, long))).max().unwrap_or(0);
    // The header names the environment, shorter as the column narrows.
    let headers: Vec<String> = match latest.map(|e| state.engine.fleet.environments[e].name.as_ref()) {
        Some(env) => vec![format!("{env}: back to ← now"), format!("{env}: back to"), format!("{env}: to")],
        None => vec!["back to".to_string()],
    };
    // The column takes what its versions and the longest header that fits
    // need, leaving the triggers at least 16 columns.
    let most = room.saturating_sub(16).max(room.min(8));
    let long = back_w(true).max(width(&headers[0])) <= most;
    let header_text = headers
        .iter()
        .skip(usize::from(!long))
        .find(|h| width(h) <= most)
        .or(headers.last())
        .map_or("", String::as_str);
    let back_w = back_w(long).max(width(header_text)).min(most);
    let trig_w = room.saturating_sub(back_w);
    let header = Row::new(vec![
        TableCell::from("service"),
        TableCell::from("rollback"),
        TableCell::from(fit(header_text, usize::from(back_w))),
        TableCell::from(fit("triggers", usize::from(trig_w))),
    ])
    .style(theme.header());
    let rows: Vec<Row> = services
        .iter()
        .take(shown)
        .map(|s| {
            let trig = match worst(state, s.service) {
                Some(t) if t.state >= Level::Warn => {
                    Span::styled(trigger_text(t, usize::from(trig_w)), level_style(t.state, theme))
                }
                Some(t) if t.error.is_some() => Span::styled(
                    fit(
                        &format!("⚠ {} {}: {}", t.environment, t.name, t.error.as_deref().unwrap_or_default()),
                        usize::from(trig_w),
                    ),
                    theme.warn(),
                ),
                Some(t) if t.state == Level::Ok => Span::styled("· all OK", theme.ok()),
                Some(_) => Span::styled("? no data", theme.dim()),
                None => Span::styled("—", theme.dim()),
            };
            let r = s.headline;
            Row::new(vec![
                TableCell::from(fit(&s.name, usize::from(name_w))),
                TableCell::from(Span::styled(r.label(), readiness_style(r, theme))),
                TableCell::from(fit(&back(s, long), usize::from(back_w))),
                TableCell::from(trig),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(name_w),
        Constraint::Length(ready_w),
        Constraint::Length(back_w),
        Constraint::Length(trig_w),
    ];
    let inner = block.inner(area);
    let table = Table::new(rows, widths).column_spacing(1).block(block);
    let table = if with_header { table.header(header) } else { table };
    frame.render_widget(table, area);
    // Across the whole row, under the table: what was left out, or why
    // there is nothing.
    let last = if more > 0 {
        Some(format!("+{more} more: Tab to this pane lists them all"))
    } else if services.is_empty() && !state.ui.filter.is_empty() && !state.eval.rollback.services.is_empty() {
        Some(super::nothing_matches(&state.ui.filter))
    } else if services.is_empty() {
        Some(nothing_yet(state))
    } else {
        None
    };
    if let Some(text) = last {
        let y = inner.y + u16::from(with_header) + shown as u16;
        if y < inner.bottom() {
            let row = Rect { y, height: 1, ..inner };
            frame.render_widget(Paragraph::new(Span::styled(fit(&text, usize::from(inner.width)), theme.dim())), row);
        }
    }
}

/// A warning or firing trigger in `width` columns: the whole measurement
/// when it fits, else the name and live value (what fires, and how much).
fn trigger_text(t: &TriggerState, width: usize) -> String {
    let glyph = t.state.glyph();
    let short = match t.live {
        _ if &*t.name == "health" => t.measurement(),
        Some(live) => format!("{} {}", t.name, value_text(live)),
        None => format!("{} —", t.name),
    };
    let candidates = [
        format!("{glyph} {} {}", t.environment, t.measurement()),
        format!("{glyph} {} {short}", t.environment),
        format!("{glyph} {short}"),
    ];
    let fits = |s: &&String| unicode_width::UnicodeWidthStr::width(s.as_str()) <= width;
    let text = candidates.iter().find(fits).unwrap_or(&candidates[2]);
    fit(text, width)
}

/// Why the pane has no service: none configured, or not evaluated yet
/// (the first frame, before the journals are read).
fn nothing_yet(state: &AppState) -> String {
    if state.engine.fleet.services.is_empty() {
        "no services configured".to_string()
    } else {
        "not evaluated yet…".to_string()
    }
}

/// "1.3.2 ← 1.4.0" or "— ← 1.4.0".
fn back_text(e: &EnvRollback) -> String {
    let back = e.known_good.as_ref().map_or("—", |k| k.artifact.version.as_str());
    format!("{back} ← {}", e.current.as_deref().unwrap_or("—"))
}

/// The focused pane: everything, per service, in the summary's order. The
/// scroll position names the first service shown; at the end of the list
/// the view stops at the last line rather than scrolling into emptiness.
pub(crate) fn render_full(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block =
        Block::bordered().title(Span::styled(title(state, area.width), theme.title())).border_style(theme.border(true));
    let inner_w = area.width.saturating_sub(2) as usize;
    let inner_h = area.height.saturating_sub(2) as usize;
    let services = ordered(state);
    // Pinned above the list: why it is empty, or which environments it leaves out.
    let mut head: Vec<Line> = Vec::new();
    if services.is_empty() {
        let text = if state.ui.filter.is_empty() || state.eval.rollback.services.is_empty() {
            nothing_yet(state)
        } else {
            super::nothing_matches(&state.ui.filter)
        };
        head.push(Line::styled(text, theme.dim()));
    }
    let hidden: Vec<&str> = state
        .eval
        .rollback
        .envs
        .iter()
        .filter(|&&e| !reached(state, e))
        .map(|&e| state.engine.fleet.environments[e].name.as_ref())
        .collect();
    if !hidden.is_empty() && !services.is_empty() {
        let text = if hidden.len() == state.eval.rollback.envs.len() {
            format!("the release has reached no environment yet: {} as it runs now", hidden.join(", "))
        } else {
            format!("not reached by the release, not shown: {}", hidden.join(", "))
        };
        head.push(Line::styled(fit(&text, inner_w), theme.dim()));
    }
    let inner_h = inner_h.saturating_sub(head.len());
    let mut lines: Vec<Line> = Vec::new();
    let selected = state.ui.rollback_scroll.min(services.len().saturating_sub(1));
    let mut selected_line = 0;
    for (i, s) in services.iter().enumerate() {
        if i == selected {
            selected_line = lines.len();
        }
        // Past the selection, only what the screen can hold is built.
        if i > selected && lines.len() > selected_line + inner_h {
            break;
        }
        service_lines(state, s, i == selected, inner_w, theme, &mut lines);
    }
    // The selected service at the top, unless that leaves empty rows below.
    let offset = selected_line.min(lines.len().saturating_sub(inner_h));
    head.extend(lines.into_iter().skip(offset).take(inner_h));
    frame.render_widget(Paragraph::new(head).block(block), area);
}

fn service_lines<'a>(
    state: &'a AppState,
    s: &'a ServiceRollback,
    selected: bool,
    width: usize,
    theme: &Theme,
    out: &mut Vec<Line<'a>>,
) {
    let migration = match s.migration {
        Some(Migration::Irreversible) => Span::styled("migration: irreversible", theme.bad()),
        Some(m) => Span::raw(format!("migration: {}", m.as_str())),
        None => Span::styled("no migration declared", theme.dim()),
    };
    let envs = shown_envs(s);
    let readiness = s.headline;
    let name_style = if selected { theme.title().patch(theme.selected()) } else { theme.title() };
    out.push(Line::from(vec![
        Span::styled(s.name.to_string(), name_style),
        Span::raw("  "),
        Span::styled(readiness.label(), readiness_style(readiness, theme)),
        Span::raw(" · "),
        migration,
    ]));
    let reasons = envs.first().map_or(&s.reasons, |e| &e.reasons);
    for r in reasons {
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(fit(&format!("! {r}"), width.saturating_sub(2)), theme.warn()),
        ]));
    }
    // Reached by the release, but not this service's new version yet.
    let not_yet: Vec<&str> = s
        .environments
        .iter()
        .filter(|e| reached(state, e.env) && !envs.iter().any(|shown| shown.env == e.env))
        .map(|e| e.environment.as_ref())
        .collect();
    if !not_yet.is_empty() {
        let text = format!("not deployed yet in {}: nothing to roll back there", not_yet.join(", "));
        out.push(Line::from(vec![Span::raw("  "), Span::styled(fit(&text, width.saturating_sub(2)), theme.dim())]));
    }
    let env_w = envs.iter().map(|e| e.environment.chars().count()).max().unwrap_or(4).max(4);
    for e in envs {
        let back = match &e.known_good {
            Some(k) => {
                let mut pin = Vec::new();
                if let Some(b) = &k.artifact.build {
                    pin.push(format!("build {b}"));
                }
                if let Some(c) = &k.artifact.commit {
                    pin.push(c.chars().take(12).collect());
                }
                if let Some(d) = &k.artifact.digest {
                    pin.push(d.chars().take(19).collect());
                }
                if let Some(r) = &k.artifact.reference {
                    pin.push(r.clone());
                }
                pin.push(format!("from {}", k.from.describe()));
                format!("back to {} ({})", k.artifact.version, pin.join(", "))
            }
            None => "no known-good version".into(),
        };
        let now = e.current.as_deref().unwrap_or("—");
        let sync = if e.auto_sync { " · auto-sync ON" } else { "" };
        out.push(Line::from(vec![
            Span::raw(format!("  {:<env_w$} ", e.environment)),
            Span::raw(fit(&format!("runs {now} · {back}{sync}"), width.saturating_sub(env_w + 3))),
        ]));
        // What the banner would say: a command with every value filled, the
        // previous version with its caveat, or why there is none; never a
        // command with `<unknown>` in it.
        let indent = || Span::raw(format!("  {:<env_w$} ", ""));
        let room = width.saturating_sub(env_w + 3);
        match &e.target {
            RollbackTarget::Ready(m) => out
                .push(Line::from(vec![indent(), Span::styled(fit(&format!("$ {}", m.text()), room), theme.accent())])),
            RollbackTarget::Unproven { method, caveat } => {
                out.push(Line::from(vec![
                    indent(),
                    Span::styled(fit(&format!("$ {}", method.text()), room), theme.warn()),
                ]));
                out.push(Line::from(vec![indent(), Span::styled(fit(&format!("⚠ {caveat}"), room), theme.warn())]));
            }
            RollbackTarget::None(why) => out.push(Line::from(vec![
                indent(),
                Span::styled(fit(&format!("no rollback target: {why}"), room), theme.bad()),
            ])),
        }
        for t in state.eval.rollback.triggers_of(s.service).filter(|t| t.cell.env == e.env) {
            out.push(trigger_line(t, env_w, width, theme));
        }
    }
}

fn trigger_line<'a>(t: &TriggerState, env_w: usize, width: usize, theme: &Theme) -> Line<'a> {
    let live = t.live.map_or_else(|| "—".to_string(), value_text);
    let detail = if &*t.name == "health" {
        t.note.to_string()
    } else {
        let baseline = match t.baseline {
            Some(b) => format!(" · baseline {}", value_text(b)),
            None => String::new(),
        };
        let fires =
            t.threshold.map(|v| format!(" · fires ≥ {}", crate::model::rollback::trim_float(v))).unwrap_or_default();
        let note = if t.note.is_empty() { String::new() } else { format!(" · {}", t.note) };
        let error = t.error.as_ref().map(|e| format!(" · ⚠ {e}")).unwrap_or_default();
        // The error before the note: it is what must not be cut off.
        format!("{live}{baseline}{fires} ({}){error}{note}", t.rule)
    };
    let label = format!("{} {:<7}", t.state.glyph(), t.state.label());
    let indent = format!("  {:<env_w$}   ", "");
    // What is left after the indent, the label and a space: a detail cut to
    // it ends in "…" on screen, not at the pane's edge.
    let room = width.saturating_sub(indent.chars().count() + label.chars().count() + 1);
    Line::from(vec![
        Span::raw(indent),
        Span::styled(label, level_style(t.state, theme)),
        Span::raw(" "),
        Span::raw(fit(&format!("{} {detail}", t.name), room)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellKey, MetricValue};

    fn trigger(state: Level, live: Option<MetricValue>, note: &str, error: Option<&str>) -> TriggerState {
        TriggerState {
            cell: CellKey { service: 0, env: 0 },
            service: "payments".into(),
            environment: "prod".into(),
            name: "up".into(),
            rule: "≥ 0.5".into(),
            live,
            baseline: None,
            baseline_at: None,
            threshold: live.map(|_| 0.5),
            state,
            note: note.to_string().into(),
            error: error.map(str::to_string),
        }
    }

    fn text(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn a_long_trigger_line_fits_its_width_and_says_it_was_cut() {
        let theme = Theme::new(false);
        let t = trigger(
            Level::Firing,
            Some(MetricValue::Number(0.93)),
            "a note long enough that no 80-column pane can hold the whole line of this trigger",
            None,
        );
        for (env_w, width) in [(4, 78), (10, 78), (4, 40)] {
            let line = text(&trigger_line(&t, env_w, width, &theme));
            assert_eq!(line.chars().count(), width, "the line fills its {width} columns, no more: {line:?}");
            assert!(line.ends_with('…'), "a cut detail ends in an ellipsis: {line:?}");
        }
    }

    #[test]
    fn a_trigger_line_shows_its_error_before_the_note() {
        let theme = Theme::new(false);
        let err = "up: query returned 2 series; aggregate it with sum() or max()";
        let t = trigger(Level::NoData, None, "prom failing since 18:30:00 UTC: no value yet", Some(err));
        assert_eq!(
            text(&trigger_line(&t, 4, 200, &theme)).trim_end(),
            format!("         ? NO DATA up — (≥ 0.5) · ⚠ {err} · prom failing since 18:30:00 UTC: no value yet")
        );
        // A kept value and the error, both.
        let t =
            trigger(Level::Ok, Some(MetricValue::Number(0.1)), "last value from 18:29:00 UTC, prom failing", Some(err));
        let line = text(&trigger_line(&t, 4, 200, &theme));
        assert!(line.contains(&format!("up 0.1 · fires ≥ 0.5 (≥ 0.5) · ⚠ {err} · last value")), "{line}");
        // No error, no mark.
        let t = trigger(Level::Ok, Some(MetricValue::Number(0.1)), "warns at 0.25", None);
        assert!(!text(&trigger_line(&t, 4, 200, &theme)).contains('⚠'));
    }

    #[test]
    fn the_summary_row_never_reads_all_ok_over_a_failing_query() {
        use std::sync::Arc;
        let config = crate::setup::from_toml_str(
            r#"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "r"
[release.targets]
payments = "1.4.0"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
[[sources]]
name = "prom"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
[sources.queries]
up = 'up{job="{service}"}'
[[rollback.triggers]]
metric = "up"
above = 0.5
"#,
            "test",
        )
        .unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let now: jiff::Timestamp = "2026-11-24T18:30:00Z".parse().unwrap();
        let mut s = crate::app::initial_state(&config, &active, now);
        let cell = s.engine.cell_mut(CellKey { service: 0, env: 0 }).unwrap();
        let up =
            crate::model::Reading { health: Some(crate::model::Health::Up), ..crate::model::Reading::version("1.4.0") };
        cell.record(&Arc::from("endpoints"), crate::model::Evidence::Running, now, Ok(up));
        let fine = crate::model::Reading {
            metrics: vec![crate::model::Metric::new("up", MetricValue::Number(0.1))],
            ..crate::model::Reading::default()
        };
        let prom: Arc<str> = Arc::from("prom");
        cell.record_as(&prom, crate::model::Evidence::Declared, crate::model::Role::Metrics, now, Ok(fine));
        s.reanalyze();
        let row = |s: &AppState| {
            let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 6)).unwrap();
            terminal.draw(|f| render(f, f.area(), s, &Theme::new(false))).unwrap();
            let buffer = terminal.backend().buffer().clone();
            (0..120u16).map(|x| buffer[(x, 2)].symbol().to_string()).collect::<String>()
        };
        assert!(row(&s).contains("· all OK"), "{}", row(&s));
        let err = crate::sources::FetchError::Field("up: query returned 2 series; aggregate it".into());
        let cell = s.engine.cell_mut(CellKey { service: 0, env: 0 }).unwrap();
        cell.record_as(&prom, crate::model::Evidence::Declared, crate::model::Role::Metrics, now, Err(err));
        s.reanalyze();
        let row = row(&s);
        assert!(row.contains("⚠ prod up: up: query returned 2 series; aggregate it"), "{row}");
        assert!(!row.contains("all OK"), "{row}");
    }
}
