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
use crate::analysis::rollback::{EnvRollback, Level, Readiness, ServiceRollback, TriggerState, value_text};
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

fn title(state: &AppState) -> String {
    let firing = state.eval.rollback.firing().count();
    let firing = if firing > 0 { format!(" · {firing} FIRING") } else { String::new() };
    format!(" Rollback · baseline {}{firing} ", state.eval.rollback.baseline)
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

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Rollback;
    if focused {
        return render_full(frame, area, state, theme);
    }
    let block = Block::bordered().title(Span::styled(title(state), theme.title())).border_style(theme.border(focused));
    let view = &state.eval.rollback;
    let name_w = view.services.iter().map(|s| s.name.chars().count()).max().unwrap_or(7).clamp(7, 20) as u16 + 1;
    let inner_w = area.width.saturating_sub(2);
    let ready_w = 10;
    let rest = inner_w.saturating_sub(name_w + ready_w);
    let back_w = (rest * 2 / 5).max(8);
    let trig_w = rest.saturating_sub(back_w).max(8);
    let latest = view.envs.first().map(|&e| state.engine.fleet.environments[e].name.as_str()).unwrap_or("—");
    let header = Row::new(vec![
        TableCell::from("service"),
        TableCell::from("rollback"),
        TableCell::from(format!("{latest}: back to ← now")),
        TableCell::from("triggers"),
    ])
    .style(theme.header());
    let rows_fit = area.height.saturating_sub(3) as usize;
    let rows = view.services.iter().skip(state.ui.rollback_scroll).take(rows_fit).map(|s| {
        let env = s.environments.first();
        let back = match env {
            Some(e) => back_text(e),
            None => "—".into(),
        };
        let trig = match worst(state, s.service) {
            Some(t) if t.state >= Level::Warn => Span::styled(
                fit(&format!("{} {} {}", t.state.glyph(), t.environment, t.measurement()), trig_w as usize - 1),
                level_style(t.state, theme),
            ),
            Some(t) if t.error.is_some() => Span::styled(
                fit(
                    &format!("⚠ {} {}: {}", t.environment, t.name, t.error.as_deref().unwrap_or_default()),
                    trig_w as usize - 1,
                ),
                theme.warn(),
            ),
            Some(t) if t.state == Level::Ok => Span::styled("· all OK", theme.ok()),
            Some(_) => Span::styled("? no data", theme.dim()),
            None => Span::styled("—", theme.dim()),
        };
        Row::new(vec![
            TableCell::from(fit(&s.name, name_w as usize - 1)),
            TableCell::from(Span::styled(s.readiness.label(), readiness_style(s.readiness, theme))),
            TableCell::from(fit(&back, back_w as usize - 1)),
            TableCell::from(trig),
        ])
    });
    let widths = [
        Constraint::Length(name_w),
        Constraint::Length(ready_w),
        Constraint::Length(back_w),
        Constraint::Length(trig_w),
    ];
    let table = Table::new(rows, widths).header(header).column_spacing(0).block(block);
    frame.render_widget(table, area);
}

/// "1.3.2 ← 1.4.0" or "— ← 1.4.0".
fn back_text(e: &EnvRollback) -> String {
    let back = e.known_good.as_ref().map_or("—", |k| k.artifact.version.as_str());
    format!("{back} ← {}", e.current.as_deref().unwrap_or("—"))
}

/// The focused pane: everything, per service, scrolled by service.
pub(crate) fn render_full(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let block = Block::bordered().title(Span::styled(title(state), theme.title())).border_style(theme.border(true));
    let inner_w = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    if state.eval.rollback.services.is_empty() {
        lines.push(Line::styled("no services in the release", theme.dim()));
    }
    for s in state.eval.rollback.services.iter().skip(state.ui.rollback_scroll) {
        service_lines(state, s, inner_w, theme, &mut lines);
        if lines.len() > area.height as usize {
            break;
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn service_lines<'a>(
    state: &'a AppState,
    s: &'a ServiceRollback,
    width: usize,
    theme: &Theme,
    out: &mut Vec<Line<'a>>,
) {
    let migration = match s.migration {
        Some(Migration::Irreversible) => Span::styled("migration: irreversible", theme.bad()),
        Some(m) => Span::raw(format!("migration: {}", m.as_str())),
        None => Span::styled("no migration declared", theme.dim()),
    };
    out.push(Line::from(vec![
        Span::styled(s.name.clone(), theme.title()),
        Span::raw("  "),
        Span::styled(s.readiness.label(), readiness_style(s.readiness, theme)),
        Span::raw(" · "),
        migration,
    ]));
    for r in &s.reasons {
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(fit(&format!("! {r}"), width.saturating_sub(2)), theme.warn()),
        ]));
    }
    let env_w = s.environments.iter().map(|e| e.environment.chars().count()).max().unwrap_or(4).max(4);
    for e in &s.environments {
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
        let method = match &e.method {
            Some(m) => Span::styled(format!("$ {}", m.text()), theme.accent()),
            None => Span::styled("no rollback method configured".to_string(), theme.bad()),
        };
        out.push(Line::from(vec![Span::raw(format!("  {:<env_w$} ", "")), method]));
        for t in state.eval.rollback.triggers_of(s.service).filter(|t| t.cell.env == e.env) {
            out.push(trigger_line(t, env_w, width, theme));
        }
    }
}

fn trigger_line<'a>(t: &TriggerState, env_w: usize, width: usize, theme: &Theme) -> Line<'a> {
    let live = t.live.map_or_else(|| "—".to_string(), value_text);
    let detail = if t.name == "health" {
        t.note.clone()
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
    Line::from(vec![
        Span::raw(format!("  {:<env_w$}   ", "")),
        Span::styled(label, level_style(t.state, theme)),
        Span::raw(" "),
        Span::raw(fit(&format!("{} {detail}", t.name), width.saturating_sub(env_w + 14))),
    ])
}

/// The status bar as a rollback banner: the first firing trigger, its
/// service, environment, measurement and the rollback command.
pub(crate) fn banner_line<'a>(state: &'a AppState, theme: &Theme) -> Option<Line<'a>> {
    // The latest environment first (prod), then the service order.
    let firing: Vec<&TriggerState> = state.eval.rollback.firing().collect();
    let first = *firing.iter().rev().max_by_key(|t| t.cell.env)?;
    let more = firing.len() - 1;
    let method = state
        .eval
        .rollback
        .service(first.cell.service)
        .and_then(|s| s.environments.iter().find(|e| e.env == first.cell.env))
        .and_then(|e| e.method.as_ref())
        .map_or_else(|| "no rollback method configured".to_string(), |m| format!("$ {}", m.text()));
    let style = theme.status_alert();
    let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
    let j = &state.eval.judgement;
    let mut spans = vec![
        Span::styled(format!(" {} ({}) ", j.verdict.as_str().to_uppercase(), j.blockers.len()), theme.verdict_no_go()),
        Span::styled(format!(" ▲ ROLLBACK TRIGGER{more}:"), style),
        Span::styled(format!(" {} in {}: {} ", first.service, first.environment, first.measurement()), style),
        Span::styled("│ ", style),
        Span::styled(method, style),
    ];
    // What must not be hidden while the banner shows: decisions not being
    // recorded, and sources (the metrics among them) failing.
    if state.release_journal_error.is_some() {
        spans.push(Span::styled(" │ ⚠ release journal: NOT RECORDED", style));
    }
    let failing = crate::analysis::failing_sources(&state.engine.matrix);
    if !failing.is_empty() {
        let names: Vec<&str> = failing.iter().map(|(n, _)| &**n).collect();
        spans.push(Span::styled(format!(" │ ⚠ failing: {}", names.join(", ")), style));
    }
    Some(Line::from(spans).style(style))
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
            note: note.into(),
            error: error.map(str::to_string),
        }
    }

    fn text(line: &Line<'_>) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
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
        let cell = s.engine.matrix.get_mut(CellKey { service: 0, env: 0 }).unwrap();
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
        let cell = s.engine.matrix.get_mut(CellKey { service: 0, env: 0 }).unwrap();
        cell.record_as(&prom, crate::model::Evidence::Declared, crate::model::Role::Metrics, now, Err(err));
        s.reanalyze();
        let row = row(&s);
        assert!(row.contains("⚠ prod up: up: query returned 2 series; aggregate it"), "{row}");
        assert!(!row.contains("all OK"), "{row}");
    }
}
