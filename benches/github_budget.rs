//! The GitHub rate-limit budget at fleet scale: 200 cells (50 services × 4
//! environments, each with 100 deployments: a page of GitHub's records,
//! some 100 KiB) read by the real `github` source every 30 s for an hour —
//! 120 sweeps, run back to back (no sleeping: the hour is compressed) —
//! from a GitHub deployments API on loopback (`tests/support/github_fleet.rs`)
//! that counts every request and the ones GitHub counts against the budget
//! (all but a `304` to a request with a token). 5% of the cells (10) deploy
//! a new version during the hour, at sweeps spread over it.
//!
//!   cargo bench --bench github_budget               # 50 services × 4 environments, 120 sweeps, 98 old deployments
//!   cargo bench --bench github_budget -- 100 60 10  # services, sweeps, old deployments (environments stay 4)
//!
//! (Run from target/release/deps directly, set `CARGO_PKG_NAME`: the
//! source's `token_env`, which cargo sets for the processes it runs.)
//!
//! Printed: requests sent, counted (non-304) requests in the hour, against
//! the budget of 5,000 an hour; beside it the reference, the same fleet and
//! hour without ETags (every request counted; that server sends no budget
//! headers, so nothing is held back). Then what the cockpit's projection
//! (`sources::budget`) says of each at half time and at the end of the
//! hour, fed the counted requests of each sweep at its place in the hour
//! (sweep k at k × 30 s) and the budget as the server said it.

#[path = "../tests/support/github_fleet.rs"]
mod github_fleet;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flightdeck::config::PollerSettings;
use flightdeck::poller::sweep_once;
use flightdeck::sources::HttpContext;
use flightdeck::sources::budget::{self, Budget, Outlook, Spending};
use github_fleet::Mode;

const ENVS: [&str; 4] = ["dev", "qa", "stage", "prod"];
const EVERY: Duration = Duration::from_secs(30);
const LIMIT: u64 = 5000;
const TOKEN_ENV: &str = "CARGO_PKG_NAME";

/// What one compressed hour measured.
struct Hour {
    requests: u64,
    counted: u64,
    not_modified: u64,
    /// Bytes of the first sweep's bodies (every one a 200).
    first_bytes: u64,
    failed: usize,
    wall: Duration,
    /// The projection's words at half time and at the last sweep.
    said: Vec<String>,
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let services = args.first().copied().unwrap_or(50);
    let sweeps = args.get(1).copied().unwrap_or(120);
    let history = args.get(2).copied().unwrap_or(98);
    if std::env::var_os(TOKEN_ENV).is_none() {
        eprintln!("set {TOKEN_ENV} (cargo bench sets it): the source's token_env");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let cells = services * ENVS.len();
    println!(
        "github_budget: {services} services × {} environments = {cells} cells ({} deployments each), {sweeps} sweeps (every {}s, compressed), {} cells deploy",
        ENVS.len(),
        history + 2,
        EVERY.as_secs(),
        changes(cells, sweeps).len()
    );
    let with = rt.block_on(hour(services, sweeps, history, Mode { etags: true, limit: Some(LIMIT) }));
    let without = rt.block_on(hour(services, sweeps, history, Mode { etags: false, limit: None }));
    let hours = sweeps as f64 * EVERY.as_secs_f64() / 3600.0;
    for (name, h) in [("with ETags   ", &with), ("without ETags", &without)] {
        println!(
            "{name}: {:>6} requests sent, {:>6} counted ({:>6} 304s), {:>6.0} counted/h against {LIMIT}/h; {} failed cells; {:.1}s wall",
            h.requests,
            h.counted,
            h.not_modified,
            h.counted as f64 / hours,
            h.failed,
            h.wall.as_secs_f64()
        );
    }
    println!(
        "a sweep reads {:.1} MiB of bodies ({} requests); the source caches them compacted",
        with.first_bytes as f64 / (1024.0 * 1024.0),
        cells * 3
    );
    for (name, h) in [("with ETags   ", &with), ("without ETags", &without)] {
        for said in &h.said {
            println!("projection, {name}: {said}");
        }
    }
}

/// Which cell deploys at which sweep: 5% of the cells, spread evenly over
/// the hour (the first in its first tenth, none in the first sweep).
fn changes(cells: usize, sweeps: usize) -> Vec<(usize, usize)> {
    let n = (cells / 20).max(1);
    (0..n).map(|j| ((j * sweeps + sweeps / 2) / n, (j * cells / n + j) % cells)).filter(|(k, _)| *k > 0).collect()
}

async fn hour(services: usize, sweeps: usize, history: usize, mode: Mode) -> Hour {
    let (addr, fleet) = github_fleet::serve(services, &ENVS, history, mode).await;
    let text = github_fleet::config(addr, &fleet, "30s", TOKEN_ENV);
    let config = flightdeck::setup::from_toml_str(&text, "bench").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let probe = active[0].source.budget().expect("a github source has a budget");
    let ctx = HttpContext::new().expect("an http client");
    let changes = changes(fleet.cells(), sweeps);
    // The hour as the projection sees it: sweep k at start + 30 s × k.
    let start = jiff::Timestamp::now().as_second();
    let mut spending = Spending::default();
    let mut said = Vec::new();
    let mut failed = 0;
    let mut first_bytes = 0;
    let began = Instant::now();
    for k in 0..sweeps {
        for (_, cell) in changes.iter().filter(|(at, _)| *at == k) {
            fleet.deploy(*cell, &format!("v1.2.{k}"));
        }
        let (counted, sent) = (fleet.counted.load(Ordering::SeqCst), fleet.requests.load(Ordering::SeqCst));
        let updates = sweep_once(&active, PollerSettings::default(), &ctx, |_, _| {}).await;
        failed += updates.iter().filter(|u| u.result.is_err()).count();
        if k + 1 == sweeps {
            // A 304 must not hide a change: every cell reads what it runs.
            for u in updates.iter().filter(|u| u.result.is_ok()) {
                let cell = u.cell.service * ENVS.len() + u.cell.env;
                let deployed = changes.iter().find(|(_, c)| *c == cell).map(|(at, _)| format!("v1.2.{at}"));
                let read = u.result.as_ref().ok().and_then(|r| r.version.clone());
                assert_eq!(read, Some(deployed.unwrap_or_else(|| "v1.1.0".into())), "cell {cell}");
            }
        }
        let counted = fleet.counted.load(Ordering::SeqCst) - counted;
        let sent = fleet.requests.load(Ordering::SeqCst) - sent;
        if k == 0 {
            first_bytes = fleet.body_bytes.load(Ordering::SeqCst);
        }
        let at = start + (k as u64 * EVERY.as_secs()) as i64;
        for i in 0..sent {
            spending.record(at, i < counted);
        }
        if k + 1 == 4 || k + 1 == sweeps / 2 || k + 1 == sweeps {
            // The budget as the server said it; without budget headers, as
            // GitHub would have: what is left of 5,000 after what counted.
            let spent = fleet.counted.load(Ordering::SeqCst);
            let heard = probe.read(jiff::Timestamp::now().as_second(), EVERY);
            let remaining = heard.map_or(LIMIT.saturating_sub(spent), |b| b.remaining);
            let budget =
                Budget { limit: LIMIT, remaining, reset: start + 3600, needed_per_hour: spending.per_hour(at, EVERY) };
            said.push(format!(
                "after sweep {} (minute {:.1}): {}",
                k + 1,
                (k as u64 * EVERY.as_secs()) as f64 / 60.0,
                words(&budget, at, start)
            ));
        }
    }
    Hour {
        requests: fleet.requests.load(Ordering::SeqCst),
        counted: fleet.counted.load(Ordering::SeqCst),
        not_modified: fleet.not_modified.load(Ordering::SeqCst),
        first_bytes,
        failed,
        wall: began.elapsed(),
        said,
    }
}

/// What the projection says, with times as minutes into the hour.
fn words(b: &Budget, now: i64, start: i64) -> String {
    let needed = b.needed_per_hour.map_or_else(|| "not measured".to_string(), |n| format!("~{n}/h needed"));
    let left = format!("{} of {} left, {needed}", b.remaining, b.limit);
    match budget::outlook(b, now) {
        Outlook::Holds => format!("{left}: holds"),
        Outlook::Unknown => format!("{left}: unknown"),
        Outlook::Short { at } => format!("{left}: WILL NOT HOLD, held back at minute {}", (at - start) / 60),
        Outlook::HeldBack { until } => format!("{left}: held back until minute {}", (until - start) / 60),
    }
}
