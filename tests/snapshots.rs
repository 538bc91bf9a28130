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
rollback = "deployctl rollback {service} --env {env} --to {previous}"
[[services]]
name = "checkout"
rollback = "https://runbooks.example/{service}/rollback"
[[services]]
name = "search"
rollback = "deployctl rollback {service} --env {env} --to {previous}"
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
    let config = flightdeck::setup::from_toml_str(CONFIG, "test").unwrap();
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
        previous: None,
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
    s.engine.apply(update("endpoints", 0, 0, 3, ok("1.4.0", "812")));
    s.engine.apply(update("endpoints", 0, 1, 4, ok("1.4.0", "812")));
    s.engine.apply(update("endpoints", 0, 2, 300, ok("1.3.2", "801")));
    s.engine.apply(update("endpoints", 0, 2, 2, ok("1.4.0", "812")));
    s.engine.apply(update("records", 0, 2, 5, ok("1.4.0", "812")));
    // checkout: qa at target, prod still old and its health is down.
    s.engine.apply(update("endpoints", 1, 0, 3, ok("2.8.0", "470")));
    s.engine.apply(update("endpoints", 1, 1, 3, ok("2.8.0", "470")));
    s.engine.apply(update("endpoints", 1, 2, 3, Ok(reading("2.7.1", "455", Health::Down))));
    // search: prod endpoint times out; the last known value stays with its age.
    s.engine.apply(update("endpoints", 2, 0, 2, ok("0.10.0", "104")));
    s.engine.apply(update("endpoints", 2, 1, 95, Ok(Reading::version("0.9.8"))));
    s.engine.apply(update("endpoints", 2, 2, 400, ok("0.9.8", "98")));
    s.engine.apply(update("endpoints", 2, 2, 40, Err(FetchError::Timeout(Duration::from_secs(3)))));
    // ledger: never answered in prod.
    s.engine.apply(update("endpoints", 3, 0, 1, ok("7.0.0", "1")));
    s.engine.apply(update("endpoints", 3, 2, 6, Err(FetchError::Status { code: 404, detail: "Not Found".into() })));
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
    // 4 high findings, and the first sweep is not complete (not every
    // polled cell has been read).
    assert!(text.contains("NO-GO (5)"), "{text}");
    assert!(s.eval.judgement.blockers.iter().any(|b| b.message.starts_with("first sweep not complete")));
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
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let mut s = flightdeck::app::initial_state(&config, &active, now());
    let metrics = Reading {
        metrics: vec![
            flightdeck::model::Metric::new("error_rate", flightdeck::model::MetricValue::NaN),
            flightdeck::model::Metric::new("p95_latency", flightdeck::model::MetricValue::NoData),
        ],
        ..Reading::default()
    };
    for service in 0..2 {
        s.engine.apply(SourceUpdate {
            source: Arc::from("metrics"),
            evidence: Evidence::Declared,
            role: flightdeck::model::Role::Metrics,
            cell: CellKey { service, env: 0 },
            attempted_at: now(),
            result: Ok(metrics.clone()),
        });
    }
    s.engine.apply(update("endpoints", 1, 0, 1, Ok(reading("3.0.0", "9", Health::Up))));
    s.reanalyze();
    assert!(s.eval.findings.is_empty(), "{:?}", s.eval.findings);
    let screen = format!("{}", draw(&s, 100, 24).backend());
    assert!(screen.contains("metrics only"), "{screen}");
    s.act(Action::Open);
    let detail = format!("{}", draw(&s, 100, 30).backend());
    assert!(detail.contains("no deployment source reads this cell: metrics only"), "{detail}");
    assert!(detail.contains("error_rate") && detail.contains("NaN") && detail.contains("no data"), "{detail}");
    // `check` lists only cells some deployment source reads.
    let view = flightdeck::report::View::new(&s.engine, &s.eval);
    let json: serde_json::Value = serde_json::from_str(&flightdeck::report::json(view)).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1);
    assert_eq!(cells[0]["service"], "api");
}

// ---- The checklist pane --------------------------------------------------

use flightdeck::app::state::{Pane, Popup};
use flightdeck::journal::release::{Decision, ReleaseAction, ReleaseEvent};

fn key(s: &mut AppState, code: crossterm::event::KeyCode) -> flightdeck::app::state::Effect {
    s.handle_event(&crossterm::event::Event::Key(crossterm::event::KeyEvent::from(code)))
}

fn type_text(s: &mut AppState, text: &str) {
    for c in text.chars() {
        key(s, crossterm::event::KeyCode::Char(c));
    }
}

/// The release's checklist (minor, built in) with these events, focused.
fn with_checklist(mut s: AppState, events: Vec<ReleaseEvent>) -> AppState {
    s.engine.template = flightdeck::checklist::resolve(&s.engine.fleet, None).unwrap();
    assert!(s.engine.template.is_some());
    s.operator = "mei".into();
    s.take_release_events(events);
    s.reanalyze();
    while s.ui.focus != Pane::Checklist {
        s.act(Action::NextPane);
    }
    s
}

fn event(by: &str, when: &str, action: ReleaseAction) -> ReleaseEvent {
    ReleaseEvent::new(by, at(when), action)
}

fn tick(by: &str, when: &str, item: &str) -> ReleaseEvent {
    event(by, when, ReleaseAction::Tick { item: item.into(), note: None })
}

/// Pre-deployment done and signed, staging half done: at 18:42 the
/// stakeholders item and the tech lead's sign-off (due 14:00) are overdue,
/// the product owner's (due 18:00) too.
fn mid_window_events() -> Vec<ReleaseEvent> {
    vec![
        tick("ana", "2026-11-23T15:10:00Z", "scope-frozen"),
        tick("lea", "2026-11-23T16:02:00Z", "release-notes"),
        tick("raj", "2026-11-23T16:30:00Z", "rollback-plan"),
        event(
            "raj",
            "2026-11-23T16:45:00Z",
            ReleaseAction::Tick {
                item: "rollback-tested".into(),
                note: Some("rehearsed on qa with payments 1.3.2".into()),
            },
        ),
        event("mei", "2026-11-23T17:30:00Z", ReleaseAction::SignOff { role: "qa-lead".into(), note: None }),
        event(
            "mei",
            "2026-11-24T13:20:00Z",
            ReleaseAction::Tick { item: "regression-suite".into(), note: Some("1843 passed, 0 failed".into()) },
        ),
        tick("raj", "2026-11-24T17:55:00Z", "monitoring-ready"),
        event(
            "ana",
            "2026-11-24T18:22:00Z",
            ReleaseAction::Note { item: None, text: "checkout owners paged: prod deploy not seen yet".into() },
        ),
    ]
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    format!("{}", terminal.backend())
}

#[test]
fn checklist_pane_without_a_checklist_shows_release_progress() {
    // No kind, no template: today's per-environment progress, in its place.
    let config = flightdeck::setup::from_toml_str(&CONFIG.replace("kind = \"minor\"\n", ""), "test").unwrap();
    assert_eq!(flightdeck::checklist::resolve(&config.fleet, None).unwrap(), None);
    let mut s = mid_release();
    s.engine.fleet = config.fleet;
    s.reanalyze();
    for _ in 0..3 {
        s.act(Action::NextPane);
    }
    assert_eq!(s.ui.focus, Pane::Checklist);
    let terminal = draw(&s, 120, 30);
    let text = screen(&terminal);
    assert!(text.contains("Release progress · 2026.11") && text.contains("Rollback"), "{text}");
    assert!(!text.contains("space tick"), "no checklist keys hinted: {text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_fresh_with_the_window_hours_away() {
    // Nothing ticked, 30 hours before the window: nothing is due yet. The
    // verdict is no-go all the same, because the window is not open
    // (design.md); the checklist's own blockers only hold.
    let mut s = state();
    s.now = at("2026-11-23T12:00:00Z");
    let s = with_checklist(s, Vec::new());
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("next: Scope frozen: every change") && text.contains("… in 6h00m"), "{text}");
    assert!(text.contains(" 0/23 "), "nothing is done: no_findings waits for something read: {text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_without_a_window_holds_in_yellow() {
    let config = flightdeck::setup::from_toml_str(
        &CONFIG.replace("window = { start = \"2026-11-24T18:00:00Z\", end = \"2026-11-24T20:00:00Z\" }\n", ""),
        "test",
    )
    .unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let s = with_checklist(flightdeck::app::initial_state(&config, &active, now()), Vec::new());
    assert_eq!(s.eval.judgement.verdict, flightdeck::analysis::verdict::Verdict::Hold);
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains(" HOLD ("), "{text}");
    let buffer = terminal.backend().buffer();
    let pos = (0..120u16).find(|&x| buffer[(x, 0)].symbol() == "H").unwrap();
    assert_eq!(buffer[(pos, 0)].bg, Color::Yellow, "hold is yellow, not no-go red");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_mid_window_with_overdue_items_and_a_missing_signoff() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    assert_eq!(s.eval.judgement.verdict, flightdeck::analysis::verdict::Verdict::NoGo);
    // Select the tech lead's missing sign-off.
    for _ in 0..11 {
        s.act(Action::Down);
    }
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("✍ qa-lead signed by mei 11-23 17:30"), "{text}");
    assert!(text.contains("✍ tech-lead — missing, overdue since 14:00"), "{text}");
    assert!(text.contains("cockpit: open until 20:00 UTC"), "{text}");
    assert!(text.contains("⟳ deployed(prod) — 1/3 at target in prod"), "{text}");
    assert!(text.contains("space tick") && text.contains("g decide"), "checklist keys hinted: {text}");
    // Overdue rows are red, and marked with `!` for those without colour.
    let buffer = terminal.backend().buffer();
    let row = (0..40u16).find(|&y| screen_row(&terminal, y).contains("Support, on-call and stakeholders")).unwrap();
    assert_eq!(buffer[(1, row)].symbol(), "!");
    assert_eq!(buffer[(1, row)].fg, Color::Red);
    // The selected row is shown reversed.
    let selected = (0..40u16).find(|&y| screen_row(&terminal, y).contains("✍ tech-lead — missing")).unwrap();
    assert!(buffer[(3, selected)].modifier.contains(ratatui::style::Modifier::REVERSED));
    assert!(!buffer[(3, row)].modifier.contains(ratatui::style::Modifier::REVERSED));
    insta::assert_snapshot!(terminal.backend());
}

fn screen_row(terminal: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect()
}

#[test]
fn checklist_summary_in_its_place_when_not_focused() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    s.ui.focus = Pane::Matrix;
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("Checklist · minor · 2026.11") && text.contains("Rollback"), "{text}");
    assert!(text.contains("Findings"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

/// Every planned service at target everywhere, healthy, nothing found.
fn all_at_target() -> AppState {
    let mut s = state();
    s.now = at("2026-11-24T19:30:00Z");
    let versions = ["1.4.0", "2.8.0", "0.10.0", "7.0.0"];
    for (service, v) in versions.iter().enumerate() {
        for env in 0..3 {
            let mut u = update("endpoints", service, env, 5, Ok(reading(v, "1", Health::Up)));
            u.attempted_at = s.now - jiff::SignedDuration::from_secs(5);
            s.engine.apply(u);
        }
        // The deployment records agree in prod: every polled cell is read,
        // and they remember what ran before (the rollback target).
        let mut r = reading(v, "1", Health::Up);
        r.previous = Some(Box::new(flightdeck::model::rollback::Artifact {
            version: format!("{v}-prev"),
            commit: Some("0ld0ld0".into()),
            reference: Some("deployment 41".into()),
            ..Default::default()
        }));
        let mut u = update("records", service, 2, 5, Ok(r));
        u.attempted_at = s.now - jiff::SignedDuration::from_secs(5);
        s.engine.apply(u);
    }
    s
}

#[test]
fn checklist_everything_done_is_go() {
    let s = all_at_target();
    let template = flightdeck::checklist::resolve(&s.engine.fleet, None).unwrap().unwrap();
    let mut events: Vec<ReleaseEvent> = template
        .items()
        .filter(|(_, i)| {
            i.condition.as_ref().is_none_or(|c| {
                c.display(&s.engine.fleet).starts_with("rollback_ready")
                    || c.display(&s.engine.fleet).starts_with("triggers_clear")
            })
        })
        .map(|(_, i)| tick("ana", "2026-11-24T19:20:00Z", &i.id))
        .collect();
    for role in ["qa-lead", "tech-lead", "product-owner"] {
        events.push(event("ana", "2026-11-24T17:00:00Z", ReleaseAction::SignOff { role: role.into(), note: None }));
    }
    let s = with_checklist(s, events);
    let checklist = s.eval.checklist.as_ref().unwrap();
    assert_eq!(checklist.overall_progress().0, checklist.overall_progress().1);
    assert_eq!(s.eval.judgement.verdict, flightdeck::analysis::verdict::Verdict::Go, "{:?}", s.eval.judgement.blockers);
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(
        text.contains("GO") && text.contains("no checklist blockers") && text.contains("everything done"),
        "{text}"
    );
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_note_prompt_open() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    // The stakeholders item.
    for _ in 0..10 {
        s.act(Action::Down);
    }
    key(&mut s, crossterm::event::KeyCode::Char('n'));
    type_text(&mut s, "support told at 17:50, on-call still to confirm");
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("note on “Support, on-call and stakeholders told when and what”"), "{text}");
    assert!(text.contains("recorded as mei"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_signoff_confirmation_open() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    key(&mut s, crossterm::event::KeyCode::Char('s'));
    let text = screen(&draw(&s, 120, 40));
    assert!(text.contains("signed by mei 11-23 17:30"), "the role list says who signed: {text}");
    // The first missing role is offered: the tech lead.
    key(&mut s, crossterm::event::KeyCode::Enter);
    type_text(&mut s, "staging verified");
    key(&mut s, crossterm::event::KeyCode::Enter);
    assert!(matches!(&s.ui.popup, Some(Popup::Prompt(_))));
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("Sign off as tech-lead, recorded as mei? y/n"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_recorded_decision_shown() {
    let mut events = mid_window_events();
    events.push(event(
        "ana",
        "2026-11-24T18:40:00Z",
        ReleaseAction::Decision { decision: Decision::NoGo, reason: "checkout down in prod, rolling back".into() },
    ));
    let s = with_checklist(mid_release(), events);
    assert!(s.eval.judgement.blockers.iter().any(|b| b.message.starts_with("no-go decided by ana at 18:40")));
    let terminal = draw(&s, 120, 40);
    let text = screen(&terminal);
    assert!(text.contains("decision: NO-GO by ana 18:40: checkout down in prod, rolling back"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn checklist_item_detail_shows_its_notes() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    // rollback-tested: ticked by raj with a note.
    for _ in 0..3 {
        s.act(Action::Down);
    }
    s.act(Action::Open);
    let text = screen(&draw(&s, 120, 40));
    assert!(text.contains("Rollback rehearsed in a pre-production environment"), "{text}");
    assert!(text.contains("rehearsed on qa with payments 1.3.2"), "{text}");
    assert!(text.contains("ticked    by raj at 2026-11-23 16:45 UTC"), "{text}");
    // Its keys work from the detail: space unticks it (a person ticked it).
    assert!(matches!(
        key(&mut s, crossterm::event::KeyCode::Char(' ')),
        flightdeck::app::state::Effect::Record(ReleaseAction::Untick { .. })
    ));
    assert_eq!(s.ui.popup, None);
}

#[test]
fn checklist_renders_at_any_size_without_panicking() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    let sizes = [(20, 6), (40, 10), (80, 20), (100, 24), (200, 60)];
    let draw_all = |s: &AppState| {
        for (w, h) in sizes {
            draw(s, w, h);
        }
    };
    draw_all(&s);
    s.ui.focus = Pane::Matrix;
    draw_all(&s);
    s.ui.focus = Pane::Checklist;
    s.act(Action::Bottom);
    s.act(Action::Open);
    draw_all(&s);
    s.act(Action::Close);
    for opening in ['n', 's', 'g'] {
        key(&mut s, crossterm::event::KeyCode::Char(opening));
        type_text(&mut s, &"a long line of text that goes on ".repeat(8));
        draw_all(&s);
        key(&mut s, crossterm::event::KeyCode::Enter);
        draw_all(&s);
        key(&mut s, crossterm::event::KeyCode::Enter);
        draw_all(&s);
        key(&mut s, crossterm::event::KeyCode::Esc);
    }
}

/// A metrics reading of one prod cell: error rate and p95 with baselines.
fn metrics_update(service: usize, rate: f64, rate_base: f64, p95: f64, p95_base: f64) -> SourceUpdate {
    use flightdeck::model::{Metric, MetricBaseline, MetricValue};
    let value = |v: f64| if v.is_nan() { MetricValue::NaN } else { MetricValue::Number(v) };
    let base = |v: f64| Some(MetricBaseline { at: at("2026-11-24T18:00:00Z"), value: Some(value(v)), error: None });
    let reading = Reading {
        metrics: vec![
            Metric { baseline: base(rate_base), ..Metric::new("error_rate", value(rate)) },
            Metric { baseline: base(p95_base), ..Metric::new("p95_latency", value(p95)) },
        ],
        ..Reading::default()
    };
    let mut u = update("metrics", service, 2, 3, Ok(reading));
    u.role = flightdeck::model::Role::Metrics;
    u.evidence = Evidence::Declared;
    u.attempted_at = at("2026-11-24T19:29:57Z");
    u
}

/// After the release: payments' error rate fires in prod, checkout's p95
/// warns and its error rate is NaN, search has an irreversible migration.
fn firing_release() -> AppState {
    let mut s = all_at_target();
    if let Some(plan) = s.engine.fleet.release.as_mut() {
        plan.migrations = vec![(2, flightdeck::model::rollback::Migration::Irreversible)];
    }
    s.engine.apply(metrics_update(0, 0.2, 0.002, 130.0, 120.0));
    s.engine.apply(metrics_update(1, f64::NAN, 0.001, 156.0, 120.0));
    s.engine.apply(metrics_update(2, 0.001, 0.001, 80.0, 80.0));
    s.reanalyze();
    s
}

#[test]
fn rollback_banner_and_summary() {
    let mut s = firing_release();
    assert!(s.bell, "a new firing rings the bell");
    s.bell = false;
    let terminal = draw(&s, 160, 40);
    let status = screen_row(&terminal, 0);
    assert!(status.contains("NO-GO (1)") && status.contains("▲ ROLLBACK TRIGGER"), "{status}");
    assert!(
        status.contains("payments in prod: error_rate 0.2 (baseline 0.002, fires ≥ 0.02)")
            && status.contains("$ deployctl rollback payments --env prod --to 1.4.0-prev"),
        "the banner names service, environment, measurement and command: {status}"
    );
    let buffer = terminal.backend().buffer();
    assert_eq!(buffer[(30, 0)].bg, Color::Red, "the banner is red");
    assert_eq!(s.eval.judgement.blockers[0].reason, flightdeck::analysis::verdict::BlockerReason::Trigger);
    let text = screen(&terminal);
    assert!(text.contains("Rollback · baseline at 11-24 18:00 UTC · 1 FIRING"), "{text}");
    insta::assert_snapshot!(terminal.backend());

    // The same trigger still firing does not ring again; it clears, then a
    // new firing rings once more.
    s.reanalyze();
    assert!(!s.bell);
    s.engine.apply(metrics_update(0, 0.002, 0.002, 130.0, 120.0));
    s.reanalyze();
    assert!(!s.bell && s.eval.rollback.firing().count() == 0);
    assert!(!screen_row(&draw(&s, 120, 40), 0).contains("ROLLBACK"));
    assert_eq!(s.eval.judgement.verdict, flightdeck::analysis::verdict::Verdict::Go, "{:?}", s.eval.judgement.blockers);
    s.engine.apply(metrics_update(0, 0.5, 0.002, 130.0, 120.0));
    s.reanalyze();
    assert!(s.bell);
}

#[test]
fn rollback_pane_focused() {
    let mut s = firing_release();
    while s.ui.focus != Pane::Rollback {
        s.act(Action::NextPane);
    }
    let terminal = draw(&s, 120, 50);
    let text = screen(&terminal);
    assert!(text.contains("search  NOT READY · migration: irreversible"), "{text}");
    assert!(text.contains("back to 1.4.0-prev (0ld0ld0, deployment 41, from records)"), "{text}");
    assert!(text.contains("NO DATA error_rate NaN"), "NaN is shown as such: {text}");
    assert!(text.contains("WARN    p95_latency 156 · baseline 120 · fires ≥ 180"), "{text}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn a_firing_trigger_whose_data_vanishes_stays_firing() {
    use flightdeck::model::{Metric, MetricValue};
    let mut s = firing_release();
    assert_eq!(s.eval.rollback.firing().count(), 1);
    // The service died: Prometheus has no series any more.
    let mut u = metrics_update(0, 0.2, 0.002, 130.0, 120.0);
    if let Ok(r) = u.result.as_mut() {
        r.metrics =
            vec![Metric::new("error_rate", MetricValue::NoData), Metric::new("p95_latency", MetricValue::NoData)];
    }
    s.engine.apply(u);
    s.reanalyze();
    let t = s.eval.rollback.firing().next().expect("still firing");
    assert!(t.note.starts_with("was firing, no data now"), "{}", t.note);
    assert_eq!(s.eval.judgement.verdict, flightdeck::analysis::verdict::Verdict::NoGo);
    assert!(screen_row(&draw(&s, 160, 40), 0).contains("ROLLBACK TRIGGER"));
    // A value again, under the threshold: it clears.
    s.engine.apply(metrics_update(0, 0.002, 0.002, 130.0, 120.0));
    s.reanalyze();
    assert_eq!(s.eval.rollback.firing().count(), 0);
}
