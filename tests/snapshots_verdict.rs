//! The verdict and why, at the sizes people use (80×24, 100×30, 200×60):
//! the why view (`w`), the decision beside the verdict, the rollback banner
//! that never hides what to do, the truthful status signals, and who is
//! acting. State is built by the reducers the app loop uses, at a fixed time.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent};
use flightdeck::analysis::findings::Severity;
use flightdeck::analysis::verdict::BlockerReason;
use flightdeck::app::AppState;
use flightdeck::app::keymap::Action;
use flightdeck::app::state::{Effect, Pane, Popup};
use flightdeck::journal::release::{Decision, ReleaseAction, ReleaseEvent};
use flightdeck::model::{CellKey, Evidence, Health, Reading};
use flightdeck::poller::SourceUpdate;
use flightdeck::sources::FetchError;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (200, 60)];

#[path = "support/screen_fixture.rs"]
mod fixture;
use fixture::{at, now, reading, state, update};

/// A release part-way through: prod lagging, one cell down, one failing.
fn mid_release() -> AppState {
    let mut s = state();
    let ok = |v: &str, b: &str| Ok(reading(v, b, Health::Up));
    s.engine.apply(update("endpoints", 0, 0, 3, ok("1.4.0", "812")));
    s.engine.apply(update("endpoints", 0, 1, 4, ok("1.4.0", "812")));
    s.engine.apply(update("endpoints", 0, 2, 300, ok("1.3.2", "801")));
    s.engine.apply(update("endpoints", 0, 2, 2, ok("1.4.0", "812")));
    s.engine.apply(update("records", 0, 2, 5, ok("1.4.0", "812")));
    s.engine.apply(update("endpoints", 1, 0, 3, ok("2.8.0", "470")));
    s.engine.apply(update("endpoints", 1, 1, 3, ok("2.8.0", "470")));
    s.engine.apply(update("endpoints", 1, 2, 3, Ok(reading("2.7.1", "455", Health::Down))));
    s.engine.apply(update("endpoints", 2, 0, 2, ok("0.10.0", "104")));
    s.engine.apply(update("endpoints", 2, 1, 95, Ok(Reading::version("0.9.8"))));
    s.engine.apply(update("endpoints", 2, 2, 400, ok("0.9.8", "98")));
    s.engine.apply(update("endpoints", 2, 2, 40, Err(FetchError::Timeout(Duration::from_secs(3)))));
    s.engine.apply(update("endpoints", 3, 0, 1, ok("7.0.0", "1")));
    s.engine.apply(update("endpoints", 3, 2, 6, Err(FetchError::Status { code: 404, detail: "Not Found".into() })));
    s.reanalyze();
    s
}

fn event(by: &str, when: &str, action: ReleaseAction) -> ReleaseEvent {
    ReleaseEvent::new(by, at(when), action)
}

fn tick(by: &str, when: &str, item: &str) -> ReleaseEvent {
    event(by, when, ReleaseAction::Tick { item: item.into(), note: None })
}

/// Pre-deployment done and signed, staging half done: at 18:42 some items
/// and sign-offs are overdue.
fn mid_window_events() -> Vec<ReleaseEvent> {
    vec![
        tick("ana", "2026-11-23T15:10:00Z", "scope-frozen"),
        tick("lea", "2026-11-23T16:02:00Z", "release-notes"),
        tick("raj", "2026-11-23T16:30:00Z", "rollback-plan"),
        tick("raj", "2026-11-23T16:45:00Z", "rollback-tested"),
        event("mei", "2026-11-23T17:30:00Z", ReleaseAction::SignOff { role: "qa-lead".into(), note: None }),
        tick("mei", "2026-11-24T13:20:00Z", "regression-suite"),
        tick("raj", "2026-11-24T17:55:00Z", "monitoring-ready"),
    ]
}

/// The release's built-in checklist with these events; `mei` acts.
fn with_checklist(mut s: AppState, events: Vec<ReleaseEvent>) -> AppState {
    s.engine.template = flightdeck::checklist::resolve(&s.engine.fleet, None).unwrap();
    s.operator = "mei".into();
    s.take_release_events(events);
    s.reanalyze();
    s
}

/// Every planned service at target everywhere, healthy; the deployment
/// records remember what ran before (the rollback target).
fn all_at_target() -> AppState {
    let mut s = state();
    s.now = at("2026-11-24T19:30:00Z");
    for (service, v) in ["1.4.0", "2.8.0", "0.10.0", "7.0.0"].iter().enumerate() {
        for env in 0..3 {
            let mut u = update("endpoints", service, env, 5, Ok(reading(v, "1", Health::Up)));
            u.attempted_at = s.now - jiff::SignedDuration::from_secs(5);
            s.engine.apply(u);
        }
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

/// A metrics reading of one prod cell: error rate and p95 with baselines.
fn metrics_update(service: usize, rate: f64, rate_base: f64) -> SourceUpdate {
    use flightdeck::model::{Metric, MetricBaseline, MetricValue};
    let base = |v: f64| {
        Some(MetricBaseline { at: at("2026-11-24T18:00:00Z"), value: Some(MetricValue::Number(v)), error: None })
    };
    let reading = Reading {
        metrics: vec![
            Metric { baseline: base(rate_base), ..Metric::new("error_rate", MetricValue::Number(rate)) },
            Metric { baseline: base(120.0), ..Metric::new("p95_latency", MetricValue::Number(121.0)) },
        ],
        ..Reading::default()
    };
    let mut u = update("metrics", service, 2, 3, Ok(reading));
    u.role = flightdeck::model::Role::Metrics;
    u.evidence = Evidence::Declared;
    u.attempted_at = at("2026-11-24T19:29:57Z");
    u
}

/// After the release: payments' error rate fires in prod, and checkout's too.
fn firing_release() -> AppState {
    let mut s = all_at_target();
    s.engine.apply(metrics_update(0, 0.2, 0.002));
    s.engine.apply(metrics_update(1, 0.05, 0.001));
    s.reanalyze();
    s
}

fn draw(state: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| flightdeck::ui::render(f, state)).unwrap();
    terminal
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    format!("{}", terminal.backend())
}

fn row(terminal: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect()
}

fn key(s: &mut AppState, code: KeyCode) -> Effect {
    s.handle_event(&Event::Key(KeyEvent::from(code)))
}

fn type_text(s: &mut AppState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

/// Open the why view and select its `n`th blocker.
fn why_at(s: &mut AppState, n: usize) {
    key(s, KeyCode::Char('w'));
    assert_eq!(s.ui.popup, Some(Popup::Why(0)));
    for _ in 0..n {
        key(s, KeyCode::Down);
    }
    assert_eq!(s.ui.popup, Some(Popup::Why(n)));
}

/// The blockers in the order the why view groups them: triggers, findings,
/// checklist, sign-offs, window, decision, unread cells.
fn grouped(s: &AppState) -> Vec<(BlockerReason, String)> {
    let rank = |r: BlockerReason| match r {
        BlockerReason::Trigger | BlockerReason::TriggerError => 0,
        BlockerReason::Finding => 1,
        BlockerReason::Checklist | BlockerReason::Pending | BlockerReason::Signoff => 2,
        BlockerReason::Window | BlockerReason::Blackout => 4,
        BlockerReason::Decision => 5,
        BlockerReason::Unread => 6,
    };
    let mut all: Vec<(usize, BlockerReason, String)> = s
        .eval
        .judgement
        .blockers
        .iter()
        .map(|b| {
            let signoff = b.message.starts_with("sign-off from ");
            (if signoff { 3 } else { rank(b.reason) }, b.reason, b.message.clone())
        })
        .collect();
    all.sort_by_key(|(rank, _, _)| *rank);
    all.into_iter().map(|(_, r, m)| (r, m)).collect()
}

#[test]
fn the_why_view_lists_every_blocker_grouped_with_what_clears_it() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    let blockers = s.eval.judgement.blockers.clone();
    assert!(blockers.len() >= 8, "a release with many blockers: {blockers:?}");
    // The footer and the help name the key.
    assert!(row(&draw(&s, 200, 60), 59).contains(" w why "), "{}", row(&draw(&s, 200, 60), 59));
    key(&mut s, KeyCode::Char('w'));
    for (w, h) in SIZES {
        let terminal = draw(&s, w, h);
        let text = screen(&terminal);
        assert!(text.contains(&format!("Why NO-GO · {} blockers", blockers.len())), "{w}×{h}:\n{text}");
        assert!(!text.contains("more checklist blockers"), "{text}");
        insta::assert_snapshot!(format!("why_view_{w}x{h}"), terminal.backend());
    }
    // At 200 columns every blocker is there whole, under its group, each
    // followed by what would clear it.
    let text = screen(&draw(&s, 200, 60));
    for b in &blockers {
        assert!(text.contains(&b.message), "{:?} is not listed:\n{text}", b.message);
    }
    for group in ["Findings (", "Checklist (", "Sign-offs (", "Unread cells ("] {
        assert!(text.contains(group), "{group}:\n{text}");
    }
    assert!(text.contains("→ checkout 2.8.0 deployed to prod"), "a missing version clears by deploying it:\n{text}");
    assert!(text.contains("→ a sign-off as tech-lead (s in the checklist)"), "{text}");
    // One entry per blocker: rows of the view that start with ✗ or ○.
    let terminal = draw(&s, 200, 60);
    let left = (0..60)
        .find_map(|y| {
            let top: Vec<char> = row(&terminal, y).chars().collect();
            (0..top.len().saturating_sub(4)).find(|&i| top[i] == '┌' && top[i + 2..].starts_with(&['W', 'h', 'y']))
        })
        .unwrap();
    let entries = (0..60)
        .map(|y| row(&terminal, y).chars().skip(left + 1).take(2).collect::<String>())
        .filter(|start| start == "✗ " || start == "○ ")
        .count();
    assert_eq!(entries, blockers.len(), "one entry per blocker:\n{text}");
}

#[test]
fn the_why_view_scrolls_to_the_last_blocker_at_80x24() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    key(&mut s, KeyCode::Char('w'));
    key(&mut s, KeyCode::End);
    let last = grouped(&s).pop().unwrap().1;
    assert_eq!(s.ui.popup, Some(Popup::Why(s.eval.judgement.blockers.len() - 1)));
    let terminal = draw(&s, 80, 24);
    let text = screen(&terminal);
    let start: String = last.chars().take(40).collect();
    assert!(text.contains(&start), "the selected blocker is in view: {start:?}\n{text}");
    assert!(!text.contains("The cockpit says"), "scrolled: the top is out of view\n{text}");
    insta::assert_snapshot!("why_view_scrolled_80x24", terminal.backend());
    // Esc and w both close it.
    key(&mut s, KeyCode::Char('w'));
    assert_eq!(s.ui.popup, None);
}

#[test]
fn enter_in_the_why_view_goes_to_the_cell_the_item_or_the_trigger() {
    let base = with_checklist(mid_release(), mid_window_events());
    let order = grouped(&base);

    // A finding: its cell, selected in the matrix (past a filter hiding it).
    let mut s = base.clone();
    key(&mut s, KeyCode::Char('/'));
    type_text(&mut s, "ledger");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.visible.len(), 1);
    let (i, (_, message)) = order.iter().enumerate().find(|(_, (r, _))| *r == BlockerReason::Finding).unwrap();
    let finding = s.eval.findings.iter().find(|f| f.severity == Severity::High && f.message == *message).unwrap().cell;
    why_at(&mut s, i);
    key(&mut s, KeyCode::Enter);
    assert_eq!((s.ui.popup.clone(), s.ui.focus), (None, Pane::Matrix));
    assert_eq!(s.selected(), Some(finding), "{message}");

    // A checklist item: the checklist pane, that row selected.
    let mut s = base.clone();
    let (i, (_, message)) = order.iter().enumerate().find(|(_, (r, _))| *r == BlockerReason::Checklist).unwrap();
    why_at(&mut s, i);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.ui.focus, Pane::Checklist);
    let title = message.rsplit_once(": ").unwrap().1.rsplit_once(" (").unwrap().0;
    let selected = selected_row(&draw(&s, 200, 60));
    assert!(selected.contains(title), "{title:?} selected: {selected:?}");

    // A sign-off: its row.
    let mut s = base.clone();
    let (i, (_, message)) = order.iter().enumerate().find(|(_, (_, m))| m.starts_with("sign-off from")).unwrap();
    why_at(&mut s, i);
    key(&mut s, KeyCode::Enter);
    let role = message.trim_start_matches("sign-off from ").split(' ').next().unwrap();
    let selected = selected_row(&draw(&s, 200, 60));
    assert!(s.ui.focus == Pane::Checklist && selected.contains(role), "{role:?} selected: {selected:?}");

    // A trigger: the rollback pane, its service selected (payments is
    // NOT READY there, checkout fires: the pane lists it first).
    let mut s = all_at_target();
    s.engine.apply(metrics_update(1, 0.05, 0.001));
    s.reanalyze();
    why_at(&mut s, 0);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.ui.focus, Pane::Rollback);
    let selected = selected_row(&draw(&s, 200, 60));
    assert!(selected.contains("checkout"), "checkout selected: {selected:?}");
    s.ui.focus = Pane::Matrix;
    s.engine.apply(metrics_update(1, 0.001, 0.001));
    s.engine.apply(metrics_update(2, 0.05, 0.001));
    s.reanalyze();
    why_at(&mut s, 0);
    key(&mut s, KeyCode::Enter);
    let selected = selected_row(&draw(&s, 200, 60));
    assert!(selected.contains("search"), "search selected: {selected:?}");

    // An unread cell: that cell.
    let mut s = state();
    s.engine.apply(update("endpoints", 0, 2, 6, Err(FetchError::Status { code: 404, detail: "Not Found".into() })));
    s.reanalyze();
    let order = grouped(&s);
    let (i, _) = order.iter().enumerate().find(|(_, (_, m))| m.starts_with("cannot tell whether payments")).unwrap();
    why_at(&mut s, i);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.selected(), Some(CellKey { service: 0, env: 2 }));

    // The window has nowhere to go: the view stays, the footer says why.
    let mut s = mid_release();
    s.now = at("2026-11-24T16:30:00Z");
    s.reanalyze();
    let (i, _) = grouped(&s).iter().enumerate().find(|(_, (r, _))| *r == BlockerReason::Window).unwrap();
    why_at(&mut s, i);
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.ui.popup, Some(Popup::Why(i)));
    assert_eq!(s.ui.message.as_deref(), Some("nothing to go to: the window opening: in 1h30m"));
}

/// The text drawn selected (reversed) below the matrix: the lower pane's
/// selection.
fn selected_row(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let below_matrix = (0..buffer.area.height).find(|&y| buffer[(0, y)].symbol() == "└").unwrap_or(0) + 1;
    (below_matrix..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .filter(|&x| buffer[(x, y)].modifier.contains(Modifier::REVERSED))
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .find(|r| !r.trim().is_empty())
        .unwrap_or_default()
}

/// A GO recorded by carol at 18:41 over the cockpit's NO-GO.
fn decided_go_over_no_go() -> AppState {
    let mut events = mid_window_events();
    events.push(event(
        "carol",
        "2026-11-24T18:41:00Z",
        ReleaseAction::Decision { decision: Decision::Go, reason: "checkout risk accepted".into() },
    ));
    with_checklist(mid_release(), events)
}

#[test]
fn the_status_bar_shows_the_recorded_decision_beside_the_verdict() {
    let s = decided_go_over_no_go();
    let n = s.eval.judgement.blockers.len();
    for (w, h) in SIZES {
        let terminal = draw(&s, w, h);
        let status = row(&terminal, 0);
        assert!(
            status.contains(&format!(" NO-GO ({n}) · decided GO by carol 18:41")),
            "{w}×{h}: the decision beside the verdict: {status:?}"
        );
        // The verdict red, the decision green: both seen, neither hidden.
        let buffer = terminal.backend().buffer();
        let x = status.find("NO-GO").unwrap() as u16;
        assert_eq!(buffer[(x, 0)].bg, Color::Red);
        let go = status.find("decided GO").unwrap() + "decided ".len();
        let go = status[..go].chars().count() as u16;
        assert_eq!(buffer[(go, 0)].bg, Color::Green);
        insta::assert_snapshot!(format!("decision_beside_verdict_{w}x{h}"), terminal.backend());
    }
    // Without a decision, the bar says nothing of one.
    let s = with_checklist(mid_release(), mid_window_events());
    assert!(!row(&draw(&s, 200, 60), 0).contains("decided"));
}

/// The banner's rows (the status bar, before the matrix's border).
fn banner_rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    (0..4).map(|y| row(terminal, y)).take_while(|r| !r.starts_with('┌')).collect()
}

#[test]
fn the_rollback_banner_wraps_rather_than_cut_and_names_every_trigger() {
    let s = firing_release();
    assert_eq!(s.eval.rollback.firing().count(), 2);
    let command = "$ deployctl rollback payments --env prod --to 1.4.0-prev";
    for (w, h) in SIZES {
        let terminal = draw(&s, w, h);
        let rows = banner_rows(&terminal);
        let banner = rows.join("\n");
        assert!(rows[0].contains("▲ ROLLBACK TRIGGERS: payments in prod: error_rate 0.2"), "{w}×{h}:\n{banner}");
        assert!(banner.contains("checkout in prod"), "every firing trigger is named, {w}×{h}:\n{banner}");
        assert!(rows.iter().any(|r| r.contains(command)), "the command whole on one row, {w}×{h}:\n{banner}");
        assert!(!banner.contains("<unknown>") && !banner.contains("+1 more"), "{banner}");
        if w >= 200 {
            assert!(rows.len() <= 2, "at most two lines at {w} columns:\n{banner}");
        } else {
            assert!((2..=3).contains(&rows.len()), "more lines at {w} columns:\n{banner}");
            let last = rows.last().unwrap().trim_start();
            assert!(last.starts_with(command), "what to do starts a line of its own:\n{banner}");
        }
        for (y, r) in rows.iter().enumerate() {
            assert_eq!(terminal.backend().buffer()[(w - 1, y as u16)].bg, Color::Red, "{r}");
        }
        insta::assert_snapshot!(format!("rollback_banner_{w}x{h}"), terminal.backend());
    }
    // One trigger at 200 columns: one line, the command whole in it.
    let mut s = all_at_target();
    s.engine.apply(metrics_update(0, 0.2, 0.002));
    s.reanalyze();
    let rows = banner_rows(&draw(&s, 200, 60));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("▲ ROLLBACK TRIGGER: payments in prod") && rows[0].contains(command), "{rows:?}");
}

#[test]
fn the_banner_never_says_to_unknown() {
    // payments ran 1.3.2 for a minute before 1.4.0: no version qualifies
    // as known-good, so the banner says which one is there, with its caveat.
    let mut s = state();
    let mut seen = |secs_ago: i64, v: &str| {
        let r = Reading { deployed_at: None, ..reading(v, "1", Health::Up) };
        let mut u = update("endpoints", 0, 2, secs_ago, Ok(r));
        u.attempted_at = now() - jiff::SignedDuration::from_secs(secs_ago);
        s.engine.apply(u);
    };
    seen(180, "1.3.2");
    seen(120, "1.4.0");
    seen(5, "1.4.0");
    s.engine.apply(metrics_update(0, 0.2, 0.002));
    s.reanalyze();
    for (w, h) in [(80, 24), (200, 60)] {
        let banner = banner_rows(&draw(&s, w, h)).join("\n");
        assert!(banner.contains("$ deployctl rollback payments --env prod --to 1.3.2"), "{w}×{h}:\n{banner}");
        assert!(banner.contains("⚠ 1.3.2, ran 1m: not proven good"), "{w}×{h}:\n{banner}");
        assert!(!banner.contains("<unknown>"), "{banner}");
    }

    // search has only ever run 0.10.0 in prod: there is no target, and the
    // banner says so and why.
    let mut s = state();
    s.engine.apply(update("endpoints", 2, 2, 5, Ok(reading("0.10.0", "104", Health::Up))));
    s.engine.apply(metrics_update(2, 0.2, 0.002));
    s.reanalyze();
    let terminal = draw(&s, 100, 30);
    let banner = banner_rows(&terminal).join("\n");
    assert!(banner.contains("search in prod: error_rate 0.2"), "{banner}");
    assert!(banner.contains("no rollback target: no known-good version"), "{banner}");
    assert!(!banner.contains("<unknown>") && !banner.contains("$ deployctl"), "{banner}");
    insta::assert_snapshot!("rollback_banner_without_a_target_100x30", terminal.backend());
}

#[test]
fn the_sweep_is_done_when_every_cell_is_read_or_failed_and_hanging_cells_are_counted() {
    // Every cell read 5 s ago: the sweep is 5 s old.
    let s = all_at_target();
    assert!(row(&draw(&s, 200, 60), 0).contains("│ sweep 5s ago  "), "{}", row(&draw(&s, 200, 60), 0));

    // One cell times out again and again (backing off, last tried 55 s ago),
    // one fetch has not come back for two minutes, one fails fast: the
    // sweep is still 5 s old, and two cells hang.
    let mut s = all_at_target();
    let mut u = update("endpoints", 2, 2, 0, Err(FetchError::Timeout(Duration::from_secs(3))));
    u.attempted_at = s.now - jiff::SignedDuration::from_secs(55);
    s.engine.apply(u);
    let mut u = update("endpoints", 3, 1, 0, Ok(reading("7.0.0", "1", Health::Up)));
    u.attempted_at = s.now - jiff::SignedDuration::from_secs(120);
    s.engine.apply(u);
    let mut u = update("endpoints", 3, 0, 0, Err(FetchError::Status { code: 500, detail: "oops".into() }));
    u.attempted_at = s.now - jiff::SignedDuration::from_secs(40);
    s.engine.apply(u);
    s.reanalyze();
    let status = row(&draw(&s, 200, 60), 0);
    assert!(status.contains("│ sweep 5s ago · 2 hanging │"), "{status}");

    // Before every cell has answered once: how many have.
    let status = row(&draw(&mid_release(), 200, 60), 0);
    assert!(status.contains("first sweep: 12/16 cells"), "{status}");
}

#[test]
fn r_says_how_many_cells_it_refreshes_and_a_cut_message_ends_with_an_ellipsis() {
    let mut s = mid_release();
    assert_eq!(key(&mut s, KeyCode::Char('r')), Effect::Refresh);
    let footer = row(&draw(&s, 100, 30), 29);
    assert!(footer.starts_with(" refreshing 16 cells "), "{footer:?}");
    // The next key takes the message away.
    key(&mut s, KeyCode::Down);
    assert!(!row(&draw(&s, 100, 30), 29).contains("refreshing"));

    s.ui.message = Some(format!("recorded: {}", "a long note on the release ".repeat(6)));
    let footer = row(&draw(&s, 80, 24), 23);
    assert_eq!(footer.chars().count(), 80);
    assert!(footer.trim_end().ends_with('…'), "a cut message says so: {footer:?}");
    assert!(footer.starts_with(" recorded: a long note"), "{footer:?}");
}

#[test]
fn nobody_named_the_cockpit_asks_once_before_it_records() {
    let mut s = with_checklist(mid_release(), mid_window_events());
    s.operator = String::new();
    s.ui.focus = Pane::Checklist;
    // The first item has no condition: a person's tick.
    assert_eq!(key(&mut s, KeyCode::Char(' ')), Effect::Redraw);
    assert!(matches!(s.ui.popup, Some(Popup::Operator(_))), "{:?}", s.ui.popup);
    let terminal = draw(&s, 80, 24);
    let text = screen(&terminal);
    assert!(text.contains("Who is acting?") && text.contains("no `operator` in the config"), "{text}");
    insta::assert_snapshot!("operator_asked_80x24", terminal.backend());
    // Enter with nothing typed: asked again.
    key(&mut s, KeyCode::Enter);
    assert!(screen(&draw(&s, 80, 24)).contains("type a name first"));
    type_text(&mut s, "carol");
    // The name given, the tick goes ahead as carol.
    let effect = key(&mut s, KeyCode::Enter);
    assert!(matches!(effect, Effect::Record(ReleaseAction::Untick { .. } | ReleaseAction::Tick { .. })), "{effect:?}");
    assert_eq!(s.operator, "carol");
    assert_eq!(s.ui.popup, None);
    // Once: the next note goes straight to its prompt, recorded as carol.
    key(&mut s, KeyCode::Char('n'));
    assert!(matches!(s.ui.popup, Some(Popup::Prompt(_))), "{:?}", s.ui.popup);
    assert!(screen(&draw(&s, 100, 30)).contains("recorded as carol"));
    // Esc on the question records nothing.
    let mut s = with_checklist(mid_release(), mid_window_events());
    s.operator = String::new();
    key(&mut s, KeyCode::Char('g'));
    key(&mut s, KeyCode::Esc);
    assert_eq!((s.ui.popup.clone(), s.operator.as_str()), (None, ""));
    assert_eq!(s.act(Action::Quit), Effect::Quit);
}
