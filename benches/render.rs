//! One frame of the full cockpit at 200×60, and the analysis behind it, at
//! fleet scale: state built by the reducers the app loop uses, every cell
//! read twice (an older version, then the current one with drift: missing,
//! ahead, build mismatch, down, stale), a checklist and a window open now.
//!
//!   cargo bench --bench render                 # 1000 × 6 against 100 × 6
//!   cargo bench --bench render -- 2000 6       # a bigger fleet against 100 × 6
//!   cargo bench --bench render -- 1000 6 profile        # only the judgement, for `perf record`
//!   cargo bench --bench render -- 1000 6 profile full   # only the full judgement
//!   cargo bench --bench render -- 2000 10 profile frame # only frames
//!
//! The judgement's lines: the full judgement (every service judged again)
//! and the judgement after one cell changes (one update applied, then
//! `reanalyze()`), each beside its goal.
//!
//! Prints the median (and minimum) time per frame (`terminal.draw(|f| ui::render(f, &state))`
//! on a ratatui `TestBackend`) and per pane, and of
//! `AppState::reanalyze()`, which runs on every 1 Hz tick and after every
//! batch of updates. Only visible rows are drawn, so a frame should cost
//! about the same for 600 and 6,000 cells.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flightdeck::app::AppState;
use flightdeck::model::{CellKey, Evidence, Health, Reading, Role};
use flightdeck::poller::SourceUpdate;
use flightdeck::ui;
use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

const W: u16 = 200;
const H: u16 = 60;

fn reading(r: common::Reported) -> Reading {
    Reading {
        version: Some(r.version),
        build: Some(r.build),
        commit: Some(r.commit),
        digest: None,
        deployed_at: Some(r.deployed_at),
        health: Some(if r.health == "DOWN" { Health::Down } else { Health::Up }),
        ..Reading::default()
    }
}

fn update(service: usize, env: usize, at: Timestamp, reading: Reading) -> SourceUpdate {
    SourceUpdate {
        source: Arc::from("endpoints"),
        evidence: Evidence::Running,
        role: Role::Deployment,
        cell: CellKey { service, env },
        attempted_at: at,
        result: Ok(reading),
    }
}

fn state(services: usize, envs: usize, now: Timestamp) -> AppState {
    let text = common::config(8, services, envs, "10s", 16);
    let config = flightdeck::setup::from_toml_str(&text, "bench").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let mut s = flightdeck::app::initial_state(&config, &active, now);
    s.engine.template = flightdeck::checklist::resolve(&config.fleet, None).unwrap();
    s.set_page(ui::matrix_rows(Rect::new(0, 0, W, H), envs, services));
    for n in 0..services {
        for e in 0..envs {
            let mut before = common::reported(n, e, envs, now);
            before.version = format!("1.{}.0", n % 7);
            before.build = "1".into();
            s.engine.apply(update(n, e, now - SignedDuration::from_mins(10), reading(before)));
            s.engine.apply(update(
                n,
                e,
                now - SignedDuration::from_secs(5),
                reading(common::reported(n, e, envs, now)),
            ));
        }
    }
    s.reanalyze();
    s
}

/// Median and minimum of `iters` timings of `f`, after a few warm-up
/// calls. On a busy machine the minimum is the steadier of the two.
fn time(iters: usize, mut f: impl FnMut()) -> Timing {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<Duration> = (0..iters)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    Timing { median: times[times.len() / 2], min: times[0] }
}

#[derive(Clone, Copy)]
struct Timing {
    median: Duration,
    min: Duration,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(f, "{:>8.1} µs (min {:>8.1})", us(self.median), us(self.min))
    }
}

fn measure(services: usize, envs: usize, now: Timestamp) {
    let mut s = state(services, envs, now);
    let high = s.eval.findings.iter().filter(|f| f.severity == flightdeck::analysis::findings::Severity::High).count();
    println!(
        "{services} services × {envs} environments = {} cells · {} findings ({high} high) · {} events kept · verdict {}",
        services * envs,
        s.eval.findings.len(),
        s.engine.events.len(),
        s.eval.judgement.verdict.as_str(),
    );

    // Steady state: the screen redrawn with the same size, as on every tick
    // (ratatui diffs against the previous frame, as with a real terminal).
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    let frame = time(300, || {
        terminal.draw(|f| ui::render(f, &s)).unwrap();
    });
    // A first frame: a fresh terminal, every cell written.
    let fresh = time(100, || {
        let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
        t.draw(|f| ui::render(f, &s)).unwrap();
    });
    println!("  frame {W}×{H}, full cockpit              {frame}   fresh terminal {fresh}");

    // Where a frame goes, pane by pane; each includes what an empty frame
    // costs (clearing and diffing {W}×{H} cells).
    let theme = ui::theme::Theme::new(true);
    let areas = ui::layout(Rect::new(0, 0, W, H), envs, services);
    let pane = |name: &str, draw: &dyn Fn(&mut ratatui::Frame)| {
        let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
        let d = time(300, || {
            t.draw(draw).unwrap();
        });
        println!("    {name:<36} {d}");
    };
    pane("empty frame", &|_| {});
    pane("status bar", &|f| ui::status::render(f, areas.status, &s, &theme));
    pane("matrix", &|f| ui::matrix::render(f, areas.matrix, &s, &theme));
    pane("findings", &|f| ui::findings::render(f, areas.findings, &s, &theme));
    pane("events", &|f| ui::events::render(f, areas.events, &s, &theme));
    pane("checklist (summary)", &|f| ui::checklist::render(f, areas.checklist, &s, &theme));
    pane("rollback", &|f| ui::rollback::render(f, areas.rollback, &s, &theme));

    // The judgement: whole (every service judged again, as on start or
    // when the environments the release reached change), and after one
    // cell changed (only its service judged again; the rest is kept).
    let full = time(50, || {
        s.engine.forget_judgement();
        s.reanalyze();
    });
    println!("  full judgement, every service judged      {full}   goal ≤ 8 ms");
    let mut flip = 0usize;
    let one = time(300, || {
        flip += 1;
        let (n, e) = (flip * 7 % services, flip % envs);
        let mut r = common::reported(n, e, envs, now);
        // Another build of the same version: the cell changes, nothing else.
        r.build = format!("{}", 100 + flip % 2);
        s.engine.apply(update(n, e, now, reading(r)));
        s.reanalyze();
    });
    println!("  judgement after one cell changes          {one}   goal ≤ 1 ms (reference: the full judgement above)");
    let analysis = time(50, || s.reanalyze());
    println!("  reanalyze, nothing changed                {analysis}");

    // A whole sweep's worth of updates (nothing changed) through apply,
    // then one reanalyze: what the loop does as a sweep comes in.
    let later = now + SignedDuration::from_secs(10);
    let updates: Vec<SourceUpdate> = (0..services)
        .flat_map(|n| (0..envs).map(move |e| (n, e)))
        .map(|(n, e)| update(n, e, later, reading(common::reported(n, e, envs, now))))
        .collect();
    let apply = time(20, || {
        for u in updates.iter().cloned() {
            s.engine.apply(u);
        }
        s.reanalyze();
    });
    println!("  apply a sweep of {} updates + reanalyze  {apply}", updates.len());
}

fn main() {
    // `-- SERVICES ENVS profile`: only the judgement, over and over, for a
    // profiler (`perf record -g` on the bench binary).
    if std::env::args().any(|a| a == "profile") {
        let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
        let (services, envs) = (args.first().copied().unwrap_or(1000), args.get(1).copied().unwrap_or(6));
        let now = Timestamp::now();
        let mut s = state(services, envs, now);
        let full = std::env::args().any(|a| a == "full");
        if std::env::args().any(|a| a == "frame") {
            let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
            for _ in 0..3000 {
                terminal.draw(|f| ui::render(f, &s)).unwrap();
            }
            return;
        }
        for _ in 0..if full { 30 } else { 1000 } {
            if full {
                s.engine.forget_judgement();
            }
            s.reanalyze();
        }
        return;
    }
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let services = args.first().copied().unwrap_or(1000);
    let envs = args.get(1).copied().unwrap_or(6);
    let now = Timestamp::now();
    println!("render: median (and minimum) per call; release build");
    measure(services, envs, now);
    measure(100, envs, now);
}
