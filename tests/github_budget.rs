//! The cockpit says when a GitHub rate-limit budget will not hold: against
//! a GitHub deployments API on loopback that keeps a budget of 5,000
//! requests an hour and counts what GitHub counts (every answer but a 304
//! to a request with a token), a fleet polled without ETags spends it far
//! faster than an hour allows and the status bar says when requests will be
//! held back; the same fleet with ETags (304s) spends nothing after its
//! first sweep and the bar says nothing. A snapshot shows the warning at 80
//! columns.

use std::time::Duration;

use flightdeck::app::AppState;
use flightdeck::config::PollerSettings;
use flightdeck::poller::sweep_once;
use flightdeck::sources::HttpContext;
use flightdeck::sources::budget::{Budget, Outlook, Warning};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "support/github_fleet.rs"]
mod github_fleet;
#[path = "support/screen_fixture.rs"]
mod screen_fixture;

use github_fleet::Mode;

/// Cargo sets `CARGO_PKG_NAME` for every test process: a token variable that
/// exists without the test changing its environment (`set_var` is unsafe
/// once threads run).
const TOKEN_ENV: &str = "CARGO_PKG_NAME";

fn draw(state: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| flightdeck::ui::render(f, state)).unwrap();
    terminal
}

fn row(terminal: &Terminal<TestBackend>, y: u16) -> String {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect()
}

/// Poll a fleet of 4 services × 2 environments (8 cells, 3 requests each:
/// the list, the running deployment's statuses, the previous one's) every
/// 100 ms, as the cockpit's loop would — updates applied, the state
/// analysed — until the budget's rate has been measured (the first sweep
/// and one period of 1 s left out, then a whole period), then once more.
async fn polled(mode: Mode) -> (AppState, std::sync::Arc<github_fleet::Fleet>) {
    let (addr, fleet) = github_fleet::serve(4, &["qa", "prod"], 0, mode).await;
    let text = github_fleet::config(addr, &fleet, "1s", TOKEN_ENV);
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let mut state = flightdeck::app::initial_state(&config, &active, jiff::Timestamp::now());
    let probe = state.engine.sources[0].budget.clone().expect("a github source has a budget");
    let ctx = HttpContext::new().expect("http client");
    let every = active[0].every;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        for update in sweep_once(&active, PollerSettings::default(), &ctx, |_, _| {}).await {
            assert!(update.result.is_ok(), "{:?}", update.result);
            state.engine.apply(update);
        }
        let measured = probe.read(jiff::Timestamp::now().as_second(), every).and_then(|b| b.needed_per_hour);
        if measured.is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the rate was never measured");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    state.now = jiff::Timestamp::now();
    state.reanalyze();
    (state, fleet)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_etags_the_budget_will_not_hold_and_the_bar_says_when() {
    let (state, fleet) = polled(Mode { etags: false, limit: Some(5000) }).await;
    let counted = fleet.counted.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(counted, fleet.requests.load(std::sync::atomic::Ordering::SeqCst), "every request counted");

    let [warning] = state.budget_warnings.as_slice() else { panic!("one warning: {:?}", state.budget_warnings) };
    assert_eq!(*warning.sources, [std::sync::Arc::from("deploys")]);
    assert_eq!((warning.budget.limit, warning.budget.remaining), (5000, 5000 - counted));
    // 24 requests every ~100 ms is hundreds of thousands an hour.
    let needed = warning.budget.needed_per_hour.expect("measured");
    assert!(needed > 5000, "{needed}/h");
    let Outlook::Short { at } = warning.outlook else { panic!("{:?}", warning.outlook) };
    assert!(at > state.now.as_second() && at < warning.budget.reset, "held back before the reset");

    let terminal = draw(&state, 80, 24);
    let (first, second) = (row(&terminal, 0), row(&terminal, 1));
    // At 80 columns the warning takes a line of its own, whole.
    assert!(!first.contains("budget"), "{first}");
    let left = format!("⚠ GitHub budget: {} of 5,000 left, ~", thousands(5000 - counted));
    assert!(second.starts_with(&format!(" {left}")), "{second}");
    assert!(second.contains("/h needed, held back at "), "{second}");
    assert!(!second.contains('…'), "{second}");
    // Wide enough, it ends the bar's one line.
    let terminal = draw(&state, 200, 30);
    assert!(row(&terminal, 0).contains(&format!("│ {left}")), "{}", row(&terminal, 0));
    assert!(!row(&terminal, 1).contains("budget"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_etags_the_budget_holds_and_nothing_is_said() {
    let (state, fleet) = polled(Mode { etags: true, limit: Some(5000) }).await;
    let counted = fleet.counted.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(counted, 24, "only the first sweep counted");
    assert!(fleet.not_modified.load(std::sync::atomic::Ordering::SeqCst) >= 24, "later sweeps were 304s");

    let probe = state.engine.sources[0].budget.as_ref().expect("a budget");
    let budget = probe.read(state.now.as_second(), Duration::from_secs(1)).expect("the server said it");
    assert_eq!((budget.limit, budget.remaining, budget.needed_per_hour), (5000, 5000 - 24, Some(0)));
    assert_eq!(state.budget_warnings, Vec::new());

    let terminal = draw(&state, 80, 24);
    assert!(!row(&terminal, 0).contains("budget") && !row(&terminal, 1).contains("budget"));
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The whole screen at 80 × 24 with a budget that runs out at 19:20,
/// while the release window is open (18:42).
#[test]
fn the_warning_at_80_columns() {
    let mut state = screen_fixture::state();
    state.reanalyze();
    let now = screen_fixture::now().as_second();
    state.budget_warnings = vec![Warning {
        sources: vec!["deploys".into()],
        budget: Budget { limit: 5000, remaining: 4200, reset: now + 2400, needed_per_hour: Some(6100) },
        outlook: Outlook::Short { at: screen_fixture::at("2026-11-24T19:20:00Z").as_second() },
    }];
    let terminal = draw(&state, 80, 24);
    assert_eq!(
        row(&terminal, 1).trim_end(),
        " ⚠ GitHub budget: 4,200 of 5,000 left, ~6,100/h needed, held back at 19:20"
    );
    insta::assert_snapshot!(terminal.backend());

    // Held back already: until the reset.
    state.budget_warnings[0].budget.remaining = 120;
    state.budget_warnings[0].outlook = Outlook::HeldBack { until: now + 2400 };
    let terminal = draw(&state, 80, 24);
    assert_eq!(row(&terminal, 1).trim_end(), " ⚠ GitHub budget: 120 of 5,000 left, held back until 19:22");
}
