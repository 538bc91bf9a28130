//! Snapshot tests of the screen: whole cockpit and popups, at a fixed time
//! and size, from state built by the same reducers the app loop uses.

use std::sync::Arc;
use std::time::Duration;

use flightdeck::app::AppState;
use flightdeck::app::keymap::Action;
use flightdeck::model::{CellKey, Evidence, Health, Reading};
use flightdeck::poller::SourceUpdate;
use flightdeck::sources::FetchError;
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const CONFIG: &str = r#"
[[environments]]
name = "dev"
[[environments]]
name = "qa"
[[environments]]
name = "prod"
stale_after = "30d"

[[services]]
name = "payments"
[[services]]
name = "checkout"
[[services]]
name = "search"
[[services]]
name = "ledger"

[release]
name = "2026.11"
kind = "minor"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[release.targets]
payments = "1.4.0"
checkout = "2.8.0"
search = "0.10.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
every = "10s"

[[sources]]
name = "records"
kind = "http"
url = "http://127.0.0.1:9/records/{env}/{service}"
evidence = "recorded"
environments = ["prod"]
"#;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// 18:42 inside the window.
fn now() -> Timestamp {
    at("2026-11-24T18:42:00Z")
}

fn state() -> AppState {
    let config = flightdeck::config::from_toml_str(CONFIG, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    flightdeck::app::initial_state(&config, &active, now())
}

fn reading(version: &str, build: &str, health: Health) -> Reading {
    Reading {
        version: Some(version.into()),
        build: Some(build.into()),
        commit: Some("4f2a9c1".into()),
        digest: None,
        deployed_at: Some(at("2026-11-24T18:10:00Z")),
        health: Some(health),
        metrics: Vec::new(),
        attributes: Vec::new(),
    }
}

fn update(
    source: &str,
    service: usize,
    env: usize,
    secs_ago: i64,
    result: Result<Reading, FetchError>,
) -> SourceUpdate {
    SourceUpdate {
        source: Arc::from(source),
        evidence: if source == "records" { Evidence::Recorded } else { Evidence::Running },
        role: flightdeck::model::Role::Deployment,
        cell: CellKey { service, env },
        attempted_at: now() - jiff::SignedDuration::from_secs(secs_ago),
        result,
    }
}

/// A release part-way through: prod lagging, one cell down, one failing.
fn mid_release() -> AppState {
    let mut s = state();
    let ok = |v: &str, b: &str| Ok(reading(v, b, Health::Up));
    // payments: everywhere at target; prod moved from 1.3.2 during the window.
    s.apply(update("endpoints", 0, 0, 3, ok("1.4.0", "812")));
    s.apply(update("endpoints", 0, 1, 4, ok("1.4.0", "812")));
    s.apply(update("endpoints", 0, 2, 300, ok("1.3.2", "801")));
    s.apply(update("endpoints", 0, 2, 2, ok("1.4.0", "812")));
    s.apply(update("records", 0, 2, 5, ok("1.4.0", "812")));
    // checkout: qa at target, prod still old and its health is down.
    s.apply(update("endpoints", 1, 0, 3, ok("2.8.0", "470")));
    s.apply(update("endpoints", 1, 1, 3, ok("2.8.0", "470")));
    s.apply(update("endpoints", 1, 2, 3, Ok(reading("2.7.1", "455", Health::Down))));
    // search: prod endpoint times out; the last known value stays with its age.
    s.apply(update("endpoints", 2, 0, 2, ok("0.10.0", "104")));
    s.apply(update("endpoints", 2, 1, 95, Ok(Reading::version("0.9.8"))));
    s.apply(update("endpoints", 2, 2, 400, ok("0.9.8", "98")));
    s.apply(update("endpoints", 2, 2, 40, Err(FetchError::Timeout(Duration::from_secs(3)))));
    // ledger: never answered in prod.
    s.apply(update("endpoints", 3, 0, 1, ok("7.0.0", "1")));
    s.apply(update("endpoints", 3, 2, 6, Err(FetchError::Status { code: 404, detail: "Not Found".into() })));
    s.reanalyze();
    s
}

fn draw(state: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| flightdeck::ui::render(f, state)).unwrap();
    terminal
}

#[test]
fn loading_screen() {
    let s = state();
    insta::assert_snapshot!(draw(&s, 120, 30).backend());
}

#[test]
fn mid_release_screen() {
    let mut s = mid_release();
    s.set_page(flightdeck::ui::matrix_rows(ratatui::layout::Rect::new(0, 0, 120, 30), 3, 4));
    let terminal = draw(&s, 120, 30);
    insta::assert_snapshot!(terminal.backend());

    // Colours are checked on the buffer: a down health glyph is red, the
    // status bar turns red while a source fails.
    let buffer = terminal.backend().buffer();
    let down = buffer.content().iter().find(|c| c.symbol() == "✗").expect("a down glyph");
    assert_eq!(down.fg, Color::Red);
    assert_eq!(buffer[(0, 0)].bg, Color::Red);
}

#[test]
fn detail_popup() {
    let mut s = mid_release();
    // Select search in prod: last value kept, error and history shown.
    s.act(Action::Down);
    s.act(Action::Down);
    s.act(Action::Right);
    s.act(Action::Right);
    s.act(Action::Open);
    insta::assert_snapshot!(draw(&s, 120, 34).backend());
}

#[test]
fn detail_popup_with_two_sources() {
    let mut s = mid_release();
    s.act(Action::Right);
    s.act(Action::Right);
    s.act(Action::Open);
    insta::assert_snapshot!(draw(&s, 120, 40).backend());
}

#[test]
fn help_overlay() {
    let mut s = mid_release();
    s.act(Action::Help);
    insta::assert_snapshot!(draw(&s, 100, 34).backend());
}

#[test]
fn filtered_and_no_color() {
    let mut s = mid_release();
    s.ui.color = false;
    s.ui.filter = "pay".into();
    s.act(Action::Close); // clears it again
    assert_eq!(s.visible.len(), 4);
    for c in "ch".chars() {
        s.handle_event(&crossterm::event::Event::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(if c == 'c' { '/' } else { c }),
        )));
    }
    // `/` started editing, `h` is the text typed.
    assert!(s.ui.editing_filter);
    let terminal = draw(&s, 100, 24);
    insta::assert_snapshot!(terminal.backend());
    // Without colour, no cell carries a foreground or background colour.
    let buffer = terminal.backend().buffer();
    assert!(buffer.content().iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
}

#[test]
fn window_not_open_yet_and_small_terminal() {
    let mut s = mid_release();
    s.now = at("2026-11-24T16:30:00Z");
    s.reanalyze();
    let terminal = draw(&s, 80, 20);
    let text = format!("{}", terminal.backend());
    assert!(text.contains("window opens in 1h30m"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn selection_scrolls_with_the_page() {
    let mut s = mid_release();
    s.set_page(2);
    s.act(Action::Bottom);
    assert_eq!(s.ui.row, 3);
    assert_eq!(s.ui.offset, 2);
    s.act(Action::Top);
    assert_eq!(s.ui.offset, 0);
}

#[test]
fn findings_pane_opens_the_cell_of_a_finding() {
    let mut s = mid_release();
    s.act(Action::NextPane);
    assert_eq!(s.ui.focus, flightdeck::app::state::Pane::Findings);
    s.act(Action::Down);
    s.act(Action::Open);
    // Second finding, worst first: checkout is unhealthy in prod.
    let terminal = draw(&s, 120, 40);
    let text = format!("{}", terminal.backend());
    assert!(text.contains("checkout in prod"), "{text}");
    assert!(text.contains("✗ unhealthy checkout in prod reports health down"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn findings_filter_by_kind_and_environment() {
    let mut s = mid_release();
    s.act(Action::NextPane);
    s.ui.finding_filter = "missing prod".into();
    let shown: Vec<String> = s.visible_findings().iter().map(|f| f.message.clone()).collect();
    assert_eq!(
        shown,
        vec!["checkout is not at 2.8.0 in prod (runs 2.7.1)", "search is not at 0.10.0 in prod (runs 0.9.8)"]
    );
    s.ui.finding_filter = "search".into();
    assert!(s.visible_findings().iter().all(|f| f.message.contains("search")));
    assert_eq!(s.visible_findings().len(), 3);
}

#[test]
fn verdict_in_the_status_bar() {
    let s = mid_release();
    let terminal = draw(&s, 120, 30);
    let buffer = terminal.backend().buffer();
    let text = format!("{}", terminal.backend());
    assert!(text.contains("NO-GO (4)"), "{text}");
    // The verdict block is red.
    let pos = (0..120u16).find(|&x| buffer[(x, 0)].symbol() == "N").unwrap();
    assert_eq!(buffer[(pos, 0)].bg, Color::Red);
}

#[test]
fn a_cell_read_only_by_metrics_says_so() {
    let text = r#"
[[environments]]
name = "prod"
[[services]]
name = "web"
[[services]]
name = "api"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
services = ["api"]
[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
[sources.queries]
error_rate = 'sum(rate(errors{job="{service}"}[5m]))'
p95_latency = 'histogram_quantile(0.95, x{job="{service}"})'
"#;
    let config = flightdeck::config::from_toml_str(text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let mut s = flightdeck::app::initial_state(&config, &active, now());
    let metrics = Reading {
        metrics: vec![
            flightdeck::model::Metric { name: "error_rate".into(), value: flightdeck::model::MetricValue::NaN },
            flightdeck::model::Metric { name: "p95_latency".into(), value: flightdeck::model::MetricValue::NoData },
        ],
        ..Reading::default()
    };
    for service in 0..2 {
        s.apply(SourceUpdate {
            source: Arc::from("metrics"),
            evidence: Evidence::Declared,
            role: flightdeck::model::Role::Metrics,
            cell: CellKey { service, env: 0 },
            attempted_at: now(),
            result: Ok(metrics.clone()),
        });
    }
    s.apply(update("endpoints", 1, 0, 1, Ok(reading("3.0.0", "9", Health::Up))));
    s.reanalyze();
    assert!(s.findings.is_empty(), "{:?}", s.findings);
    let screen = format!("{}", draw(&s, 100, 24).backend());
    assert!(screen.contains("metrics only"), "{screen}");
    s.act(Action::Open);
    let detail = format!("{}", draw(&s, 100, 30).backend());
    assert!(detail.contains("no deployment source reads this cell: metrics only"), "{detail}");
    assert!(detail.contains("error_rate") && detail.contains("NaN") && detail.contains("no data"), "{detail}");
    // `check` lists only cells some deployment source reads.
    let scope = flightdeck::report::Scope::new(&s.fleet, Vec::new());
    let json: serde_json::Value = serde_json::from_str(&flightdeck::report::json(&s, &scope)).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0]["service"], "api");
}
