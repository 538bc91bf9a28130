//! Snapshot tests of the screen: whole cockpit and popups, at a fixed time
//! and size, from state built by the same reducers the app loop uses.

use std::sync::Arc;
use std::time::Duration;

use flightdeck::app::AppState;
use flightdeck::app::keymap::Action;
use flightdeck::model::{CellKey, Evidence, Health, Reading};
use flightdeck::poller::SourceUpdate;
use flightdeck::sources::FetchError;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

#[path = "support/screen_fixture.rs"]
mod fixture;
use fixture::{CONFIG, at, now, reading, state, update};

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
    // A metrics source has no evidence level: it says it is metrics.
    assert!(detail.contains("▸ metrics  metrics · last attempt"), "{detail}");
    assert!(!detail.contains("declared evidence"), "{detail}");
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
    s.engine.refleet(config.fleet);
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
    assert!(text.contains("Rollback · 1 FIRING · baseline at 11-24 18:00 UTC"), "{text}");
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
    // Where no version qualifies, it says why rather than `--to <unknown>`.
    assert!(!text.contains("<unknown>"), "{text}");
    assert!(text.contains("no rollback target: no known-good version"), "{text}");
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

// ---- Every pane and the whole screen at the sizes people use -------------
//
// A fleet the size of the demo's (twelve services, four environments, long
// names), in the main states (loading, NO-GO with findings, FIRING, GO),
// drawn at 80×24, 100×30 and 200×60: the whole screen, and each pane
// focused. At 80×24 nothing essential may be cut.

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (200, 60)];

/// A version and its build.
type Artifact = (&'static str, &'static str);

/// (name, previous version and build, target version and build).
const FLEET: [(&str, Artifact, Option<Artifact>); 12] = [
    ("payments", ("1.3.2", "801"), Some(("1.4.0", "812"))),
    ("checkout", ("2.7.1", "455"), Some(("2.8.0", "470"))),
    ("cart", ("3.1.4", "1180"), Some(("3.2.0", "1187"))),
    ("catalog", ("5.0.3", "320"), Some(("5.1.0", "331"))),
    ("search", ("0.9.8", "98"), Some(("0.10.0", "104"))),
    ("accounts", ("2.3.0", "640"), None),
    ("notifications", ("1.12.0", "212"), Some(("1.13.0", "219"))),
    ("shipping", ("4.2.0", "77"), Some(("4.3.0", "81"))),
    ("inventory", ("7.4.1", "903"), Some(("7.5.0", "911"))),
    ("pricing", ("1.7.2", "150"), Some(("1.8.0", "156"))),
    ("gateway", ("5.0.1", "66"), Some(("5.1.0", "70"))),
    ("reports", ("0.4.0", "12"), None),
];

const DEV: usize = 0;
const QA: usize = 1;
const UAT: usize = 2;
const PROD: usize = 3;

fn fleet_config() -> String {
    let mut out = String::new();
    for env in ["dev", "qa", "uat", "prod"] {
        out.push_str(&format!("[[environments]]\nname = \"{env}\"\n"));
        if env == "prod" {
            out.push_str("stale_after = \"30d\"\n");
        }
    }
    for (name, _, _) in FLEET {
        out.push_str(&format!(
            "[[services]]\nname = \"{name}\"\nrollback = \"deployctl rollback {name} --env {{env}} --to {{previous}}\"\n"
        ));
    }
    out.push_str(
        "[release]\nname = \"2026.11\"\nkind = \"minor\"\n\
         window = { start = \"2026-11-24T18:00:00Z\", end = \"2026-11-24T20:00:00Z\" }\n[release.targets]\n",
    );
    for (name, _, target) in FLEET {
        if let Some((v, _)) = target {
            out.push_str(&format!("{name} = \"{v}\"\n"));
        }
    }
    out.push_str(
        r#"
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
services = ["payments", "checkout", "cart", "pricing"]

[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
environments = ["prod"]
[sources.queries]
error_rate = 'sum(rate(errors{job="{service}"}[5m]))'
p95_latency = 'histogram_quantile(0.95, x{job="{service}"})'
"#,
    );
    out
}

/// The demo-sized fleet at 18:42, nothing read yet, with its checklist.
fn fleet_state() -> AppState {
    let config = flightdeck::setup::from_toml_str(&fleet_config(), "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let mut s = flightdeck::app::initial_state(&config, &active, now());
    s.engine.template = flightdeck::checklist::resolve(&s.engine.fleet, None).unwrap();
    assert!(s.engine.template.is_some());
    s.operator = "mei".into();
    s.reanalyze();
    s
}

fn service_index(name: &str) -> usize {
    FLEET.iter().position(|(n, _, _)| *n == name).unwrap()
}

/// A reading of `version #build`, deployed `deployed` (RFC 3339), `health`.
fn deployed(version: &str, build: Option<&str>, deployed: &str, health: Option<Health>) -> Reading {
    Reading {
        version: Some(version.into()),
        build: build.map(str::to_string),
        deployed_at: Some(at(deployed)),
        health,
        ..Reading::default()
    }
}

/// `service` in `env` read by `source` `secs_ago`, as it is at 18:42.
fn read(s: &mut AppState, source: &str, service: &str, env: usize, secs_ago: i64, result: Result<Reading, FetchError>) {
    s.engine.apply(update(source, service_index(service), env, secs_ago, result));
}

/// The previous version everywhere, read before the window; then the
/// release reached dev, qa and uat (all at target) and prod in part.
fn fleet_mid_release() -> AppState {
    let mut s = fleet_state();
    let up = Some(Health::Up);
    for (name, (prev, prev_build), target) in FLEET {
        for env in [DEV, QA, UAT, PROD] {
            // What ran before: first seen 20 minutes ago.
            let old = deployed(prev, Some(prev_build), "2026-11-03T10:00:00Z", up);
            read(&mut s, "endpoints", name, env, 1200, Ok(old));
            let Some((v, b)) = target else { continue };
            if env == PROD || (env == UAT && name == "inventory") {
                continue;
            }
            let when = ["2026-11-24T17:00:00Z", "2026-11-24T18:10:00Z", "2026-11-24T18:25:00Z"][env];
            read(&mut s, "endpoints", name, env, 3 + env as i64, Ok(deployed(v, Some(b), when, up)));
        }
    }
    let prod_at = "2026-11-24T18:35:00Z";
    for name in ["payments", "checkout", "catalog", "search"] {
        let (_, _, target) = FLEET[service_index(name)];
        let (v, b) = target.unwrap();
        read(&mut s, "endpoints", name, PROD, 2, Ok(deployed(v, Some(b), prod_at, up)));
    }
    // cart: the same version in prod, another build.
    read(&mut s, "endpoints", "cart", PROD, 2, Ok(deployed("3.2.0", Some("1192"), prod_at, up)));
    // accounts: a hotfix only in prod.
    read(&mut s, "endpoints", "accounts", PROD, 2, Ok(deployed("2.3.1", Some("652"), "2026-11-22T09:00:00Z", up)));
    // notifications: prod times out, the old version stays with its age.
    read(&mut s, "endpoints", "notifications", PROD, 40, Err(FetchError::Timeout(Duration::from_secs(3))));
    // shipping: deployed, and down.
    read(&mut s, "endpoints", "shipping", PROD, 2, Ok(deployed("4.3.0", Some("81"), prod_at, Some(Health::Down))));
    // inventory: in prod, not in uat.
    read(&mut s, "endpoints", "inventory", PROD, 2, Ok(deployed("7.5.0", Some("911"), prod_at, up)));
    // pricing: the record says 1.8.0, the service still 1.7.2.
    // gateway: no build, no health.
    read(&mut s, "endpoints", "gateway", PROD, 2, Ok(deployed("5.1.0", None, prod_at, None)));
    // reports: untouched for 212 days.
    read(&mut s, "endpoints", "reports", PROD, 2, Ok(deployed("0.4.0", Some("12"), "2026-04-26T10:00:00Z", up)));
    // search in qa: HTTP 500 now.
    read(
        &mut s,
        "endpoints",
        "search",
        QA,
        1,
        Err(FetchError::Status { code: 500, detail: "Internal Server Error".into() }),
    );
    for (name, version) in [("payments", "1.4.0"), ("checkout", "2.8.0"), ("cart", "3.2.0"), ("pricing", "1.8.0")] {
        read(&mut s, "records", name, PROD, 5, Ok(deployed(version, None, prod_at, None)));
    }
    s.take_release_events(mid_window_events());
    s.reanalyze();
    s
}

/// Every planned service at its target everywhere at 19:30, healthy; the
/// deployment records remember what ran before in prod.
fn fleet_at_target() -> AppState {
    let mut s = fleet_state();
    s.now = at("2026-11-24T19:30:00Z");
    let up = Some(Health::Up);
    let apply = |s: &mut AppState, source: &str, service: usize, env: usize, secs_ago: i64, r: Reading| {
        let mut u = update(source, service, env, 0, Ok(r));
        u.attempted_at = s.now - jiff::SignedDuration::from_secs(secs_ago);
        s.engine.apply(u);
    };
    for (i, (_, (prev, prev_build), target)) in FLEET.iter().enumerate() {
        let (v, b) = target.unwrap_or((prev, prev_build));
        for env in [DEV, QA, UAT, PROD] {
            apply(&mut s, "endpoints", i, env, 3600, deployed(prev, Some(prev_build), "2026-11-03T10:00:00Z", up));
            apply(&mut s, "endpoints", i, env, 4, deployed(v, Some(b), "2026-11-24T18:40:00Z", up));
        }
    }
    for name in ["payments", "checkout", "cart", "pricing"] {
        let (_, (prev, prev_build), target) = FLEET[service_index(name)];
        let mut r = deployed(target.unwrap().0, None, "2026-11-24T18:40:00Z", None);
        r.previous = Some(Box::new(flightdeck::model::rollback::Artifact {
            version: prev.into(),
            build: Some(prev_build.into()),
            reference: Some("deployment 41".into()),
            ..Default::default()
        }));
        apply(&mut s, "records", service_index(name), PROD, 5, r);
    }
    // The metrics in prod: calm, every one.
    for service in 0..FLEET.len() {
        let mut u = metrics_update(service, 0.002, 0.002, 120.0, 120.0);
        u.cell.env = PROD;
        s.engine.apply(u);
    }
    s.reanalyze();
    s
}

/// After the release: payments' error rate fires in prod, checkout's p95
/// warns, search's migration cannot be undone.
fn fleet_firing() -> AppState {
    let mut s = fleet_at_target();
    if let Some(plan) = s.engine.fleet.release.as_mut() {
        plan.migrations = vec![(service_index("search"), flightdeck::model::rollback::Migration::Irreversible)];
    }
    for (name, rate, p95) in [("payments", 0.2, 130.0), ("checkout", 0.001, 156.0), ("search", 0.001, 80.0)] {
        let mut u = metrics_update(service_index(name), rate, 0.002, p95, 120.0);
        u.cell.env = PROD;
        s.engine.apply(u);
    }
    let events = everything_done(&s);
    s.take_release_events(events);
    s.reanalyze();
    s
}

/// Everything done: GO.
fn fleet_go() -> AppState {
    let mut s = fleet_at_target();
    let events = everything_done(&s);
    s.take_release_events(events);
    s.reanalyze();
    s
}

/// The checklist events that complete the release's checklist.
fn everything_done(s: &AppState) -> Vec<ReleaseEvent> {
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
    events
}

fn main_states() -> Vec<(&'static str, AppState)> {
    vec![("loading", fleet_state()), ("no_go", fleet_mid_release()), ("firing", fleet_firing()), ("go", fleet_go())]
}

fn sized(s: &AppState, w: u16, h: u16) -> AppState {
    let mut s = s.clone();
    let area = ratatui::layout::Rect::new(0, 0, w, h);
    s.set_page(flightdeck::ui::matrix_rows(area, s.engine.fleet.environments.len(), s.engine.fleet.services.len()));
    s.handle_event(&crossterm::event::Event::Resize(w, h));
    s
}

fn focus(s: &mut AppState, pane: Pane) {
    while s.ui.focus != pane {
        s.act(Action::NextPane);
    }
}

#[test]
fn the_main_states_are_what_they_say() {
    use flightdeck::analysis::verdict::Verdict;
    let states = main_states();
    let verdict = |name: &str| {
        let s = &states.iter().find(|(n, _)| *n == name).unwrap().1;
        (s.eval.judgement.verdict, s.eval.findings.len(), s.eval.rollback.firing().count())
    };
    assert_eq!(verdict("loading"), (Verdict::NoGo, 0, 0));
    let (v, findings, _) = verdict("no_go");
    assert!(v == Verdict::NoGo && findings >= 8, "{findings} findings");
    assert_eq!(verdict("firing").2, 1);
    let go = &states[3].1;
    assert_eq!(go.eval.judgement.verdict, Verdict::Go, "{:?}", go.eval.judgement.blockers);
}

#[test]
fn whole_screen_in_each_state_at_each_size() {
    for (name, s) in main_states() {
        for (w, h) in SIZES {
            let terminal = draw(&sized(&s, w, h), w, h);
            insta::assert_snapshot!(format!("screen_{name}_{w}x{h}"), terminal.backend());
        }
    }
}

#[test]
fn each_pane_focused_at_each_size() {
    let no_go = fleet_mid_release();
    let firing = fleet_firing();
    for (w, h) in SIZES {
        for (name, pane) in [("findings", Pane::Findings), ("events", Pane::Events), ("checklist", Pane::Checklist)] {
            let mut s = sized(&no_go, w, h);
            focus(&mut s, pane);
            insta::assert_snapshot!(format!("pane_{name}_{w}x{h}"), draw(&s, w, h).backend());
        }
        let mut s = sized(&firing, w, h);
        focus(&mut s, Pane::Rollback);
        insta::assert_snapshot!(format!("pane_rollback_firing_{w}x{h}"), draw(&s, w, h).backend());
        let mut s = sized(&no_go, w, h);
        focus(&mut s, Pane::Rollback);
        insta::assert_snapshot!(format!("pane_rollback_no_go_{w}x{h}"), draw(&s, w, h).backend());
        // The help, and a cell's detail (cart in prod: another build).
        let mut s = sized(&no_go, w, h);
        s.act(Action::Help);
        insta::assert_snapshot!(format!("help_{w}x{h}"), draw(&s, w, h).backend());
        let mut s = sized(&no_go, w, h);
        for _ in 0..2 {
            s.act(Action::Down);
        }
        for _ in 0..3 {
            s.act(Action::Right);
        }
        s.act(Action::Open);
        insta::assert_snapshot!(format!("detail_{w}x{h}"), draw(&s, w, h).backend());
    }
}

/// The rows of a drawn screen.
fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    (0..terminal.backend().buffer().area.height).map(|y| screen_row(terminal, y)).collect()
}

/// The matrix row of `service` on screen.
fn matrix_row(terminal: &Terminal<TestBackend>, service: &str) -> Option<String> {
    rows(terminal).into_iter().find(|r| r.starts_with(&format!("│{service} ")) && r.contains(" R"))
}

#[test]
fn at_80x24_versions_are_whole_and_the_legend_says_what_is_hidden() {
    for (name, s) in main_states() {
        let s = sized(&s, 80, 24);
        let terminal = draw(&s, 80, 24);
        let text = screen(&terminal);
        let mut checked = 0;
        for &service in &s.visible[s.ui.offset..] {
            let svc = &s.engine.fleet.services[service].name;
            let Some(row) = matrix_row(&terminal, svc) else { continue };
            for env in 0..s.engine.fleet.environments.len() {
                let version = s.engine.matrix().get(CellKey { service, env }).version().unwrap();
                assert!(row.contains(&format!(" {version} ")), "{name}: {version} of {svc} cut in {row:?}");
                checked += 1;
            }
        }
        if name != "loading" {
            assert!(checked >= 16, "{name}: only {checked} cells checked:\n{text}");
            assert!(text.contains("ages hidden: too narrow"), "{name}: the legend says the ages are hidden:\n{text}");
        }
    }
    // Wide, nothing is hidden: ages and builds are shown, the full legend too.
    let s = sized(&fleet_mid_release(), 200, 60);
    let terminal = draw(&s, 200, 60);
    let row = matrix_row(&terminal, "cart").unwrap();
    assert!(row.contains("≠ 3.2.0 #1192") && row.contains("R  2s  ●"), "{row}");
    assert!(screen(&terminal).contains("● ◐ ✗ health │ ~ old"));
}

#[test]
fn many_environments_narrow_the_service_names_before_a_version() {
    let envs: String = (1..=6).map(|i| format!("[[environments]]\nname = \"env{i}\"\n")).collect();
    let text = format!(
        "{envs}[[services]]\nname = \"a-service-with-a-long-name\"\n[[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/{{env}}/{{service}}\"\n"
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let mut s = flightdeck::app::initial_state(&config, &active, now());
    for env in 0..6 {
        s.engine.apply(update("endpoints", 0, env, 2, Ok(reading("10.12.3", "4711", Health::Up))));
    }
    s.reanalyze();
    let terminal = draw(&s, 80, 24);
    let row = rows(&terminal).into_iter().find(|r| r.starts_with("│a-service")).unwrap();
    assert_eq!(row.matches("10.12.3").count(), 6, "{row}");
    assert!(row.contains('…'), "the name gave up its room: {row}");
    assert!(screen(&terminal).contains("too narrow"), "{}", screen(&terminal));
}

#[test]
fn the_rollback_summary_lists_firing_then_not_ready_with_its_columns_apart() {
    for (w, h) in SIZES {
        let s = sized(&fleet_firing(), w, h);
        let terminal = draw(&s, w, h);
        let rows = screen_rows_of(&terminal, "Rollback");
        let header = &rows[0];
        assert!(
            header.starts_with("service ") && header.contains(" triggers"),
            "columns run together at {w}: {header}"
        );
        assert!(header.contains("prod: "), "the header names the environment at {w}: {header}");
        let order: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.split_whitespace().next())
            .filter(|n| FLEET.iter().any(|f| f.0 == *n))
            .collect();
        // At 80×24 the summary has room for one service (and a count of the rest).
        let expected = [
            "payments",
            "search",
            "checkout",
            "cart",
            "catalog",
            "notifications",
            "shipping",
            "inventory",
            "pricing",
            "gateway",
        ];
        assert_eq!(order, &expected[..order.len()], "firing, then NOT READY, then the rest, at {w}x{h}: {rows:#?}");
        assert!(rows[1].starts_with("payments") && rows[1].contains("▲ "), "{rows:#?}");
    }
}

#[test]
fn the_rollback_pane_keeps_its_scroll_to_itself() {
    let mut s = sized(&fleet_firing(), 100, 30);
    focus(&mut s, Pane::Rollback);
    s.act(Action::Bottom);
    assert_eq!(s.ui.rollback_scroll, 9);
    let terminal = draw(&s, 100, 30);
    let rows = rows(&terminal);
    // The last service, and the pane full to its bottom border.
    let bottom = rows.iter().rposition(|r| r.starts_with('└')).unwrap();
    assert!(!rows[bottom - 1].trim_matches(|c| c == '│' || c == ' ').is_empty(), "{rows:#?}");
    assert!(rows.iter().any(|r| r.contains("gateway  READY")), "{rows:#?}");
    // Away from the pane, the summary starts at the top again, with no empty rows.
    s.act(Action::NextPane);
    let terminal = draw(&s, 100, 30);
    let text = screen(&terminal);
    let rows: Vec<String> = screen_rows_of(&terminal, "Rollback");
    assert!(rows[1].contains("payments") && rows[1].contains("▲"), "{text}");
    assert!(rows.iter().all(|r| !r.trim().is_empty()), "no empty rows: {rows:#?}");
    assert!(rows.last().unwrap().contains("more: Tab to this pane lists them all"), "{rows:#?}");
}

/// The inner rows of the box titled `title` (right of any box beside it).
fn screen_rows_of(terminal: &Terminal<TestBackend>, title: &str) -> Vec<String> {
    let rows: Vec<Vec<char>> = rows(terminal).iter().map(|r| r.chars().collect()).collect();
    let start: Vec<char> = format!("┌ {title}").chars().collect();
    let (top, x) = rows
        .iter()
        .enumerate()
        .find_map(|(y, r)| r.windows(start.len()).position(|w| w == start.as_slice()).map(|x| (y, x)))
        .unwrap();
    rows[top + 1..]
        .iter()
        .take_while(|r| r[x] == '│')
        .map(|r| r[x + 1..].iter().collect::<String>().split('│').next().unwrap_or_default().trim_end().to_string())
        .collect()
}

#[test]
fn environments_the_release_has_not_reached_are_hidden_from_rollback() {
    // The release in dev and qa only; uat and prod run what they ran.
    let mut s = fleet_state();
    for (i, (_, (prev, prev_build), target)) in FLEET.iter().enumerate() {
        let (v, b) = target.unwrap_or((prev, prev_build));
        for env in [DEV, QA, UAT, PROD] {
            s.engine.apply(update(
                "endpoints",
                i,
                env,
                1200,
                Ok(deployed(prev, Some(prev_build), "2026-11-03T10:00:00Z", Some(Health::Up))),
            ));
            if env <= QA {
                s.engine.apply(update(
                    "endpoints",
                    i,
                    env,
                    3,
                    Ok(deployed(v, Some(b), "2026-11-24T18:10:00Z", Some(Health::Up))),
                ));
            }
        }
    }
    s.reanalyze();
    let mut s = sized(&s, 120, 40);
    let summary = screen(&draw(&s, 120, 40));
    assert!(summary.contains("qa: back to ← now"), "the latest environment reached: {summary}");
    assert!(!summary.contains("prod: back"), "{summary}");
    focus(&mut s, Pane::Rollback);
    let full = screen(&draw(&s, 120, 40));
    assert!(full.contains("not reached by the release, not shown: prod"), "{full}");
    assert!(full.contains("  qa   runs 1.4.0 · back to 1.3.2"), "{full}");
    assert!(!full.contains("prod runs"), "{full}");
}

#[test]
fn the_findings_pane_grows_with_the_focus() {
    let s = sized(&fleet_mid_release(), 80, 24);
    let count = |s: &AppState| {
        rows(&draw(s, 80, 24))
            .iter()
            .filter(|r| r.contains(" in prod") || r.contains(" in uat") || r.contains(" in qa"))
            .filter(|r| {
                r.starts_with("│∅")
                    || r.starts_with("│≠")
                    || r.starts_with("│↑")
                    || r.starts_with("│✗")
                    || r.starts_with("│⇄")
                    || r.starts_with("│⚠")
                    || r.starts_with("│◷")
            })
            .count()
    };
    let before = count(&s);
    let mut focused = s.clone();
    focus(&mut focused, Pane::Findings);
    let after = count(&focused);
    assert_eq!(before, 3, "three findings in their place");
    assert_eq!(after, focused.eval.findings.len(), "every finding with the focus");
    // Scrolled to the last with the focus, the view stays full; back in
    // its place, the list starts at the top again.
    focused.act(Action::Bottom);
    let rows_focused = rows(&draw(&focused, 80, 24));
    assert!(rows_focused.iter().any(|r| r.starts_with("│≠ cart 3.2.0 in prod")), "{rows_focused:#?}");
    focused.act(Action::NextPane);
    focused.act(Action::PrevPane);
    focused.act(Action::PrevPane);
    assert_eq!(focused.ui.focus, Pane::Matrix);
    let rows_after = rows(&draw(&focused, 80, 24));
    assert!(rows_after.iter().any(|r| r.starts_with("│≠ cart 3.2.0 in prod")), "{rows_after:#?}");
    // Events too: below 100 columns they are shown only with the focus.
    assert!(!screen(&draw(&s, 80, 24)).contains("Events ·"));
    let mut events = s.clone();
    focus(&mut events, Pane::Events);
    assert!(screen(&draw(&events, 80, 24)).contains("18:41:58 payments prod 1.3.2 → 1.4.0 #812 (endpoints)"));
}

#[test]
fn the_help_scrolls_to_its_legend_at_80x24() {
    let mut s = sized(&fleet_mid_release(), 80, 24);
    key(&mut s, crossterm::event::KeyCode::Char('?'));
    let text = screen(&draw(&s, 80, 24));
    assert!(!text.contains("health    ● up"), "{text}");
    assert!(text.contains("lines more below, the legend last"), "the help says there is more: {text}");
    // j scrolls a line, PgDn a page, End to the last.
    key(&mut s, crossterm::event::KeyCode::Char('j'));
    assert_eq!(s.ui.popup_scroll, 1);
    key(&mut s, crossterm::event::KeyCode::PageDown);
    assert!(s.ui.popup_scroll > 10);
    key(&mut s, crossterm::event::KeyCode::End);
    let text = screen(&draw(&s, 80, 24));
    for legend in [
        "evidence  R running  C controller  D recorded  P declared",
        "health    ● up  ◐ degraded",
        "age       ~ evidence older",
    ] {
        assert!(text.contains(legend), "{legend:?} not reachable: {text}");
    }
    // At the end, one k moves up at once: no scrolling past the last line.
    let end = s.ui.popup_scroll;
    key(&mut s, crossterm::event::KeyCode::Char('j'));
    assert_eq!(s.ui.popup_scroll, end);
    key(&mut s, crossterm::event::KeyCode::Char('k'));
    assert_eq!(s.ui.popup_scroll, end - 1);
    // Closed and opened again, it starts at the top.
    key(&mut s, crossterm::event::KeyCode::Esc);
    key(&mut s, crossterm::event::KeyCode::Char('?'));
    assert_eq!(s.ui.popup_scroll, 0);
}

#[test]
fn a_cell_detail_taller_than_the_screen_scrolls() {
    let mut s = sized(&fleet_mid_release(), 80, 24);
    for _ in 0..2 {
        s.act(Action::Down);
    }
    for _ in 0..3 {
        s.act(Action::Right);
    }
    s.act(Action::Open);
    let text = screen(&draw(&s, 80, 24));
    assert!(text.contains("lines more below"), "{text}");
    assert!(!text.contains("seen        3.2.0 (first seen"), "{text}");
    key(&mut s, crossterm::event::KeyCode::End);
    let text = screen(&draw(&s, 80, 24));
    assert!(text.contains("seen        3.2.0 (first seen 18:41:55Z)"), "the records' history at the end: {text}");
}

#[test]
fn a_filter_that_empties_a_pane_says_nothing_matches() {
    let mut s = sized(&fleet_mid_release(), 120, 40);
    focus(&mut s, Pane::Findings);
    key(&mut s, crossterm::event::KeyCode::Char('/'));
    type_text(&mut s, "high qa");
    key(&mut s, crossterm::event::KeyCode::Enter);
    assert!(s.visible_findings().is_empty());
    let text = screen(&draw(&s, 120, 40));
    assert!(text.contains("nothing matches `high qa` (Esc clears the filter)"), "findings: {text}");
    s.act(Action::NextPane);
    assert_eq!(s.ui.focus, Pane::Events);
    let text = screen(&draw(&s, 120, 40));
    assert!(text.contains("nothing matches `high qa`"), "events: {text}");
    assert!(!text.contains("no version changed since"), "{text}");
    // The service filter empties the matrix and the rollback summary.
    let mut s = sized(&fleet_mid_release(), 120, 40);
    key(&mut s, crossterm::event::KeyCode::Char('/'));
    type_text(&mut s, "zzz");
    let text = screen(&draw(&s, 120, 40));
    assert_eq!(text.matches("nothing matches `zzz`").count(), 2, "matrix and rollback: {text}");
}

#[test]
fn checklist_conditions_wait_for_the_release() {
    // Everything read, nothing of the release deployed yet.
    let mut s = fleet_state();
    for (i, (_, (prev, prev_build), _)) in FLEET.iter().enumerate() {
        for env in [DEV, QA, UAT, PROD] {
            s.engine.apply(update(
                "endpoints",
                i,
                env,
                3,
                Ok(deployed(prev, Some(prev_build), "2026-11-03T10:00:00Z", Some(Health::Up))),
            ));
        }
    }
    s.reanalyze();
    let checklist = s.eval.checklist.as_ref().unwrap();
    let item = |title: &str| {
        let (_, spec) = s.engine.template.as_ref().unwrap().items().find(|(_, i)| i.title == title).unwrap();
        checklist.items.iter().find(|i| i.id == spec.id).unwrap().clone()
    };
    let staging = item("No findings in staging");
    assert_eq!(staging.status, flightdeck::checklist::Status::Pending, "{staging:?}");
    assert!(
        matches!(&staging.condition, Some(flightdeck::checklist::Truth::False(e)) if e == "the release is not deployed in uat yet"),
        "{staging:?}"
    );
    let triggers = checklist
        .items
        .iter()
        .find_map(|i| match &i.condition {
            Some(flightdeck::checklist::Truth::Unknown(e)) if e.contains("trigger") => Some(e.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(triggers, "the release is not deployed in prod yet: no trigger to watch");
    let mut s = sized(&s, 160, 50);
    focus(&mut s, Pane::Checklist);
    let text = screen(&draw(&s, 160, 50));
    assert!(text.contains("⟳ no_findings(uat) — the release is not deployed in uat yet"), "{text}");
    assert!(!text.contains("for : check by hand"), "{text}");
}

#[test]
fn a_short_rollback_summary_keeps_the_firing_service() {
    let s = fleet_firing();
    let theme = flightdeck::ui::theme::Theme::new(false);
    let summary = |h: u16| {
        let mut terminal = Terminal::new(TestBackend::new(48, h)).unwrap();
        terminal.draw(|f| flightdeck::ui::rollback::render(f, f.area(), &s, &theme)).unwrap();
        rows(&terminal)
    };
    // Two rows inside: no header, the firing service, the count of the rest.
    let rows = summary(4);
    assert!(rows[1].starts_with("│payments") && rows[1].contains('▲'), "{rows:#?}");
    assert!(rows[2].contains("+9 more"), "{rows:#?}");
    // Three: the header comes back.
    let rows = summary(5);
    assert!(rows[1].contains("service") && rows[1].contains("prod: "), "{rows:#?}");
    assert!(rows[2].starts_with("│payments") && rows[3].contains("+9 more"), "{rows:#?}");
}
