//! Team mode's one poll load on a real PostgreSQL: one leading seat and 50
//! following seats of one release, 1,000 services × 6 environments read
//! from a loopback server in this process.
//!
//!   cargo bench --bench team                 # 60 s windows, 50 following seats
//!   cargo bench --bench team -- 20           # 20 s windows
//!   cargo bench --bench team -- 20 10        # 20 s windows, 10 following seats
//!
//! Needs PostgreSQL (Debian's `postgresql`: /usr/lib/postgresql/*/bin);
//! the bench starts its own server in a temp dir on a free port, as the
//! `postgres` user when run as root (`tests/support/pg.rs`, shared with
//! `tests/team_pg.rs`), with `max_connections=400`.
//!
//! Each seat is what the cockpit's loop (`src/app/mod.rs`) does with its
//! `Seat`, without a terminal: every seat may lead; the one whose `Seat`
//! says `Leading` runs a real `Poller` into its own `Engine` and hands the
//! answers and the changes they made to `seat.write`; the others apply the
//! `Cells` their seat reads to their own `Engine`. Each seat also has a
//! journal thread, as the cockpit does: a `TeamStore` polled on every
//! `JournalHint` and every 500 ms.
//!
//! Figures, each beside its reference:
//!
//! 1. requests to the sources per minute (`every = 10s`, 8% of the cells
//!    answering a new version at each read): the team against one seat
//!    alone (no team) polling the same fleet. The windows are whole
//!    multiples of `every`, so a sweep's burst is counted once whatever the
//!    phase.
//! 2. fan-out of an action: a `Note` appended with a `TeamStore` (as bob);
//!    per following seat, the time from the append's start until that
//!    seat's journal thread's `poll` returned it; 20 actions, p50/p99.
//! 3. PostgreSQL's CPU (utime + stime of the postmaster and its children,
//!    reaped ones included, from `/proc`) and rows written per minute to
//!    `flightdeck_cells` and `flightdeck_observations` (from the tables
//!    themselves, see `rows_written`, and beside it `pg_stat_user_tables`
//!    n_tup_ins + n_tup_upd, which lags when the machine is busy), with no
//!    seat, idle (`every = 1h`, after the first sweep) and while sweeping
//!    (figure 1's window).

mod common;

#[path = "../tests/support/pg.rs"]
mod pg;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flightdeck::config::Config;
use flightdeck::engine::Engine;
use flightdeck::journal::release::{EventStore, ReleaseAction, ReleaseEvent};
use flightdeck::journal::team::{DatabaseUrl, TeamDb, TeamStore};
use flightdeck::journal::team_seat::{LeaderBatch, Names, Seat, SeatNews, SeatRole, SeatSetup};
use flightdeck::poller::{Poller, SourceUpdate};
use flightdeck::sources::{ActiveSource, HttpContext};
use jiff::Timestamp;
use tokio::sync::mpsc;

const SERVICES: usize = 1000;
const ENVS: usize = 6;
const CELLS: usize = SERVICES * ENVS;
/// The busy schedule, in seconds; windows are rounded up to a multiple.
const EVERY_S: u64 = 10;
/// How the cockpit polls its release journal besides the hints.
const JOURNAL_POLL: Duration = Duration::from_millis(500);
const ACTIONS: usize = 20;

// ---------------------------------------------------------------------------
// The fleet's loopback server: every body built once; 8% of the cells
// answer the other of their two versions at each request.

struct Fleet {
    envs: Vec<String>,
    /// `[service * ENVS + env]`: the usual answer and the other version.
    bodies: Vec<[axum::body::Bytes; 2]>,
    hits: Vec<AtomicU32>,
    requests: AtomicU64,
}

/// Whether cell `i` changes its version at every read: 2 in 25 = 8%.
fn changing(i: usize) -> bool {
    i % 25 < 2
}

fn body(version: &str, build: &str, r: &common::Reported) -> axum::body::Bytes {
    axum::body::Bytes::from(
        serde_json::json!({
            "version": version,
            "build": build,
            "commit": r.commit,
            "health": r.health,
            "deployed_at": r.deployed_at.to_string(),
        })
        .to_string(),
    )
}

async fn answer(State(f): State<Arc<Fleet>>, Path((env, service)): Path<(String, String)>) -> Response {
    let e = f.envs.iter().position(|n| *n == env);
    let n = service.strip_prefix("svc-").and_then(|s| s.parse::<usize>().ok());
    let (Some(e), Some(n)) = (e, n) else { return StatusCode::NOT_FOUND.into_response() };
    let i = n * ENVS + e;
    if i >= f.bodies.len() {
        return StatusCode::NOT_FOUND.into_response();
    }
    f.requests.fetch_add(1, Ordering::Relaxed);
    let hit = f.hits[i].fetch_add(1, Ordering::Relaxed);
    let which = if changing(i) { (hit % 2) as usize } else { 0 };
    ([(header::CONTENT_TYPE, "application/json")], f.bodies[i][which].clone()).into_response()
}

fn serve(rt: &tokio::runtime::Runtime) -> (u16, Arc<Fleet>) {
    let now = Timestamp::now();
    let bodies = (0..SERVICES)
        .flat_map(|n| (0..ENVS).map(move |e| (n, e)))
        .map(|(n, e)| {
            let r = common::reported(n, e, ENVS, now);
            let other = format!("{}.7", r.version.rsplit_once('.').map_or(r.version.as_str(), |(head, _)| head));
            [body(&r.version, &r.build, &r), body(&other, &format!("{}7", r.build), &r)]
        })
        .collect();
    let fleet = Arc::new(Fleet {
        envs: common::env_names(ENVS),
        bodies,
        hits: (0..CELLS).map(|_| AtomicU32::new(0)).collect(),
        requests: AtomicU64::new(0),
    });
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).expect("bind a loopback port");
    let port = listener.local_addr().expect("a local address").port();
    let app = Router::new().route("/{env}/{service}", get(answer)).with_state(fleet.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    (port, fleet)
}

// ---------------------------------------------------------------------------
// The PostgreSQL side's figures.

fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf").arg("CLK_TCK").output();
    out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(100.0)
}

/// CPU seconds of the server: the postmaster's own and its reaped
/// children's, plus every live child's (backends, walwriter, ...).
fn pg_cpu(postmaster: u32, ticks: f64) -> f64 {
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc") else { panic!("/proc is needed to measure PostgreSQL's CPU") };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
        if f.len() < 15 {
            continue;
        }
        if pid == postmaster {
            total += f[11] + f[12] + f[13] + f[14];
        } else if f[1] as u32 == postmaster {
            total += f[11] + f[12];
        }
    }
    total / ticks
}

/// Rows written so far to the cells and the observations (inserts +
/// updates), as `pg_stat_user_tables` counts them.
fn rows_counted(server: &pg::Server) -> (i64, i64) {
    let out = server.psql_in(
        "flightdeck",
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd) FILTER (WHERE relname = 'flightdeck_cells'), 0), \
                coalesce(sum(n_tup_ins + n_tup_upd) FILTER (WHERE relname = 'flightdeck_observations'), 0) \
         FROM pg_stat_user_tables",
    );
    let mut it = out.trim().split('|').map(|x| x.trim().parse::<i64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// The same from the tables themselves, at once (the statistics lag by
/// as long as a busy backend keeps them): the observations only grow; a
/// cell row is inserted once and then updated, and each write draws
/// `rev` from its sequence in the row trigger — once for an insert, twice
/// for an upsert that updates (its BEFORE INSERT trigger fires, then its
/// BEFORE UPDATE one). So writes = inserts + (draws - inserts) / 2.
fn rows_written(server: &pg::Server) -> (i64, i64) {
    let out = server.psql_in(
        "flightdeck",
        "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM flightdeck_cells_rev), \
                (SELECT count(*) FROM flightdeck_cells), (SELECT count(*) FROM flightdeck_observations)",
    );
    let v: Vec<i64> = out.trim().split('|').map(|x| x.trim().parse::<i64>().unwrap_or(0)).collect();
    let (draws, cells, observations) = (v[0], v[1], v[2]);
    (cells + (draws - cells) / 2, observations)
}

struct Window {
    secs: f64,
    requests: u64,
    pg_cpu: f64,
    /// Rows written (cells, observations), from the tables.
    rows: (i64, i64),
    /// The same, as `pg_stat_user_tables` counted them.
    counted: (i64, i64),
}

impl Window {
    fn per_min(&self, n: f64) -> f64 {
        n * 60.0 / self.secs
    }
    fn cpu_line(&self) -> String {
        format!(
            "CPU {:5.2}% of a core · rows written {:>6.0}/min (cells {:.0}, observations {:.0}; pg_stat_user_tables {:.0})",
            100.0 * self.pg_cpu / self.secs,
            self.per_min((self.rows.0 + self.rows.1) as f64),
            self.per_min(self.rows.0 as f64),
            self.per_min(self.rows.1 as f64),
            self.per_min((self.counted.0 + self.counted.1) as f64),
        )
    }
}

struct Bench {
    server: pg::Server,
    postmaster: u32,
    ticks: f64,
    fleet: Arc<Fleet>,
    port: u16,
    secs: u64,
    followers: usize,
}

impl Bench {
    /// Wait for a quiet moment between two sweeps: no request, no answer
    /// applied by the polling seat (`applied`) and no cell row written for
    /// 1 s, and the table statistics caught up with the tables. A window of
    /// whole sweep periods started here ends in the same quiet phase.
    /// (The followers may still be applying: they write nothing.)
    fn settle(&self, applied: impl Fn() -> u64) {
        let progress = || {
            let rev = self.server.psql_in("flightdeck", "SELECT last_value FROM flightdeck_cells_rev");
            (self.fleet.requests.load(Ordering::Relaxed), applied(), rev)
        };
        let mut last = progress();
        let mut still = Instant::now();
        let start = Instant::now();
        while still.elapsed() < Duration::from_secs(1) {
            if start.elapsed() > Duration::from_secs(60) {
                // A machine so busy that one sweep runs into the next: the
                // windows still measure, their edges are less sharp.
                println!("       (no quiet moment between sweeps within 60 s: the window starts mid-sweep)");
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
            let now = progress();
            if now != last {
                (last, still) = (now, Instant::now());
            }
        }
        self.stats_caught_up(Duration::from_secs(15));
    }

    /// Wait (up to 15 s) until `pg_stat_user_tables` counts every row the
    /// tables hold: backends flush their counts when idle, at most once a
    /// second, so the figures can be a few seconds behind. Both tables only
    /// grow (no row is deleted, and no write is cut short: a team stops
    /// between sweeps), so `n_tup_ins = count(*)` means caught up.
    fn stats_caught_up(&self, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            let behind = self.server.psql_in(
                "flightdeck",
                "SELECT count(*) FROM pg_stat_user_tables s WHERE s.relname = 'flightdeck_cells' \
                   AND s.n_tup_ins <> (SELECT count(*) FROM flightdeck_cells) \
                 OR s.relname = 'flightdeck_observations' \
                   AND s.n_tup_ins <> (SELECT count(*) FROM flightdeck_observations)",
            );
            if behind.trim() == "0" {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        println!("       (pg_stat_user_tables still behind the tables after {within:?}: rows written may be off)");
    }

    /// Measure over `secs` while whatever runs runs (from a quiet moment:
    /// [`Bench::settle`] first).
    /// `at_end` runs as the window closes (to read the seats' counters).
    fn window(&self, secs: u64, at_end: impl FnOnce()) -> Window {
        let counted0 = rows_counted(&self.server);
        let rows0 = rows_written(&self.server);
        let cpu0 = pg_cpu(self.postmaster, self.ticks);
        let req0 = self.fleet.requests.load(Ordering::Relaxed);
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let req1 = self.fleet.requests.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let rows1 = rows_written(&self.server);
        let cpu1 = pg_cpu(self.postmaster, self.ticks);
        at_end();
        // Whole sweep periods from a quiet moment end in a quiet moment: the
        // statistics catch up within a second or two, and nothing is written
        // meanwhile. (Waiting longer would count the next sweep's rows.)
        self.stats_caught_up(Duration::from_secs(5));
        let counted1 = rows_counted(&self.server);
        Window {
            secs,
            requests: req1 - req0,
            pg_cpu: cpu1 - cpu0,
            rows: (rows1.0 - rows0.0, rows1.1 - rows0.1),
            counted: (counted1.0 - counted0.0, counted1.1 - counted0.1),
        }
    }

    /// A config of the fleet for `release`, polled `every`.
    fn config(&self, release: &str, every: &str) -> (Config, Vec<ActiveSource>) {
        let text = common::config(self.port, SERVICES, ENVS, every, 16)
            .replace("[release]\nname = \"bench\"", &format!("[release]\nname = \"{release}\""));
        let config =
            flightdeck::setup::from_toml_str(&text, "bench").unwrap_or_else(|e| panic!("the bench config: {e:?}"));
        let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("the bench's source");
        (config, active)
    }

    fn url(&self, role: &str) -> DatabaseUrl {
        DatabaseUrl::parse(&self.server.url(role)).expect("the server's URL")
    }
}

// ---------------------------------------------------------------------------
// Seats.

/// What one seat did, read by the bench.
#[derive(Default)]
struct Counters {
    leading: AtomicBool,
    ever_led: AtomicBool,
    /// Answers applied: the poller's while leading, the seat's cells while following.
    applied: AtomicU64,
    /// Changes the engine derived from them.
    changes: AtomicU64,
    /// Batches the seat refused (it is gone).
    lost_batches: AtomicU64,
    trouble: Mutex<Option<String>>,
    /// Release events its journal thread read: id → when its poll returned it.
    seen: Mutex<HashMap<String, Instant>>,
    journal_errors: AtomicU64,
}

/// The cockpit's loop around its seat, without a screen.
async fn cockpit(
    setup: SeatSetup,
    config: Arc<Config>,
    active: Vec<ActiveSource>,
    ctx: HttpContext,
    me: Arc<Counters>,
    hints: std_mpsc::Sender<()>,
) {
    let mut engine = Engine::for_config(&config, &active, None);
    let poller_thread = flightdeck::poller::PollerThread::start().expect("the poller's thread");
    let mut seat = Seat::spawn(setup);
    let (tx, mut rx) = mpsc::channel::<SourceUpdate>(1024);
    let mut poller: Option<Poller> = None;
    let mut batch = Vec::with_capacity(256);
    loop {
        tokio::select! {
            // The loop keeps `tx`: this never reads 0.
            _ = rx.recv_many(&mut batch, 256) => {
                me.applied.fetch_add(batch.len() as u64, Ordering::Relaxed);
                if poller.is_some() {
                    let updates = batch.clone();
                    let changes: Vec<_> = batch.drain(..).filter_map(|u| engine.apply(u)).collect();
                    me.changes.fetch_add(changes.len() as u64, Ordering::Relaxed);
                    if !seat.write(LeaderBatch { updates, changes, ..Default::default() }) {
                        me.lost_batches.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    // Answers from a poller that just stopped leading: shown, not shared.
                    batch.drain(..).for_each(|u| { engine.apply(u); });
                }
            }
            news = seat.news.recv() => {
                let Some(news) = news else {
                    *me.trouble.lock().unwrap() = Some("the seat ended".into());
                    return;
                };
                match news {
                    SeatNews::Role(role) => {
                        let leading = role == SeatRole::Leading;
                        if leading && poller.is_none() {
                            poller = Some(Poller::spawn(&poller_thread, active.clone(), config.poller, ctx.clone(), tx.clone()));
                            me.ever_led.store(true, Ordering::Relaxed);
                        } else if !leading {
                            poller = None;
                        }
                        me.leading.store(leading, Ordering::Relaxed);
                        if let SeatRole::Unreachable(why) = &role {
                            *me.trouble.lock().unwrap() = Some(why.clone());
                        }
                    }
                    // A fresh release: no history (Engine::restore is the crate's own).
                    SeatNews::History(_) => {}
                    SeatNews::Cells(updates) => {
                        me.applied.fetch_add(updates.len() as u64, Ordering::Relaxed);
                        let changes = updates.into_iter().filter_map(|u| engine.apply(u)).count();
                        me.changes.fetch_add(changes as u64, Ordering::Relaxed);
                    }
                    SeatNews::JournalHint => {
                        let _ = hints.send(());
                    }
                    // Compare answers (`[changes]`): this fleet's config has none.
                    _ => {}
                }
            }
        }
    }
}

/// The cockpit's journal thread: load, then poll on every hint and every
/// 500 ms; ends when its cockpit is gone (the hints' sender dropped).
fn journal_thread(url: DatabaseUrl, release: String, hints: std_mpsc::Receiver<()>, me: Arc<Counters>) {
    let mut store = TeamStore::new(TeamDb::new(url).expect("a team store"), &release);
    let read = |store: &mut TeamStore, first: bool| {
        let got = if first { store.load() } else { store.poll() };
        let at = Instant::now();
        match got {
            Ok(events) => {
                let mut seen = me.seen.lock().unwrap();
                for e in events {
                    seen.entry(e.id).or_insert(at);
                }
            }
            Err(_) => {
                me.journal_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    read(&mut store, true);
    let mut next_tick = Instant::now() + JOURNAL_POLL;
    loop {
        match hints.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(()) => read(&mut store, false),
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                read(&mut store, false);
                let now = Instant::now();
                while next_tick <= now {
                    next_tick += JOURNAL_POLL;
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A team of `1 + followers` seats on `release`, each a cockpit task and
/// a journal thread; ended by `stop`.
struct Team {
    /// One runtime per seat, as each cockpit has its own (2 workers, as
    /// `cli.rs` builds it): no seat's loop waits behind another's tasks.
    runtimes: Vec<tokio::runtime::Runtime>,
    seats: Vec<Arc<Counters>>,
    journals: Vec<std::thread::JoinHandle<()>>,
    release: String,
}

impl Team {
    fn start(bench: &Bench, release: &str, every: &str) -> Team {
        let (config, active) = bench.config(release, every);
        let config = Arc::new(config);
        let names = Names {
            services: config.fleet.services.iter().map(|s| s.name.to_string()).collect(),
            environments: config.fleet.environments.iter().map(|e| e.name.to_string()).collect(),
            sources: active.iter().map(|a| a.name.clone()).collect(),
        };
        let mut seats = Vec::new();
        let mut journals = Vec::new();
        let mut runtimes = Vec::new();
        for i in 0..=bench.followers {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(format!("seat-{i}"))
                .enable_all()
                .build()
                .expect("a seat's runtime");
            let ctx = rt.block_on(async { HttpContext::new() }).expect("an HTTP client");
            let role = if i % 2 == 0 { "alice" } else { "bob" };
            let me = Arc::new(Counters::default());
            let (hints_tx, hints_rx) = std_mpsc::channel();
            let setup =
                SeatSetup { url: bench.url(role), release: release.to_string(), names: names.clone(), can_lead: true };
            rt.spawn(cockpit(setup, config.clone(), active.clone(), ctx, me.clone(), hints_tx));
            runtimes.push(rt);
            let (url, release, counters) = (bench.url(role), release.to_string(), me.clone());
            journals.push(
                std::thread::Builder::new()
                    .name(format!("journal-{i}"))
                    .spawn(move || journal_thread(url, release, hints_rx, counters))
                    .expect("a journal thread"),
            );
            seats.push(me);
        }
        Team { runtimes, seats, journals, release: release.to_string() }
    }

    fn leaders(&self) -> Vec<usize> {
        (0..self.seats.len()).filter(|&i| self.seats[i].leading.load(Ordering::Relaxed)).collect()
    }

    fn followers(&self) -> Vec<usize> {
        (0..self.seats.len()).filter(|&i| !self.seats[i].leading.load(Ordering::Relaxed)).collect()
    }

    /// Wait until one seat leads and every seat has applied every cell once.
    fn ready(&self, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let leaders = self.leaders();
            let behind = self.seats.iter().filter(|s| s.applied.load(Ordering::Relaxed) < CELLS as u64).count();
            if leaders.len() == 1 && behind == 0 {
                return start.elapsed();
            }
            if start.elapsed() > within {
                let trouble: Vec<String> =
                    self.seats.iter().filter_map(|s| s.trouble.lock().unwrap().clone()).take(3).collect();
                panic!(
                    "{}: after {within:?}, {} seat(s) lead and {behind} of {} have not applied all {CELLS} cells; trouble: {trouble:?}",
                    self.release,
                    leaders.len(),
                    self.seats.len()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Answers the leading seat's poller brought.
    fn applied_by_leader(&self) -> u64 {
        self.leaders().iter().map(|&i| self.seats[i].applied.load(Ordering::Relaxed)).sum()
    }

    /// Every seat's (answers applied, changes derived) so far.
    fn progress(&self) -> Vec<(u64, u64)> {
        self.seats.iter().map(|s| (s.applied.load(Ordering::Relaxed), s.changes.load(Ordering::Relaxed))).collect()
    }

    /// What the seats applied between two [`Team::progress`]es: the leader's
    /// (answers, changes), and the followers' (min, max) of each.
    fn applied_between(&self, from: &[(u64, u64)], to: &[(u64, u64)]) -> ((u64, u64), (u64, u64), (u64, u64)) {
        let delta = |i: usize| (to[i].0 - from[i].0, to[i].1 - from[i].1);
        let leader = self.leaders().first().map_or((0, 0), |&i| delta(i));
        let f: Vec<(u64, u64)> = self.followers().into_iter().map(delta).collect();
        let span = |v: Vec<u64>| (v.iter().copied().min().unwrap_or(0), v.iter().copied().max().unwrap_or(0));
        (leader, span(f.iter().map(|d| d.0).collect()), span(f.iter().map(|d| d.1).collect()))
    }

    /// Append `ACTIONS` notes as bob; per following seat, the time until its
    /// journal thread read each. Returns (per seat, per action's last seat), ms.
    fn fan_out(&self, bench: &Bench) -> (Vec<f64>, Vec<f64>, usize) {
        let mut store = TeamStore::new(TeamDb::new(bench.url("bob")).expect("a team store"), &self.release);
        store.load().expect("bob reads the journal");
        let followers = self.followers();
        let (mut per_seat, mut per_action, mut missing) = (Vec::new(), Vec::new(), 0);
        for n in 0..ACTIONS {
            let event = ReleaseEvent::new(
                "bench",
                Timestamp::now(),
                ReleaseAction::Note { item: None, text: format!("fan-out {n}") },
            );
            let sent = Instant::now();
            store.append(&event).unwrap_or_else(|e| panic!("appending a note: {e}"));
            let deadline = sent + Duration::from_secs(5);
            let mut got: Vec<Option<f64>> = vec![None; followers.len()];
            while got.iter().any(Option::is_none) && Instant::now() < deadline {
                for (k, &i) in followers.iter().enumerate() {
                    if got[k].is_none()
                        && let Some(at) = self.seats[i].seen.lock().unwrap().get(&event.id)
                    {
                        got[k] = Some(at.saturating_duration_since(sent).as_secs_f64() * 1e3);
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            missing += got.iter().filter(|g| g.is_none()).count();
            let ms: Vec<f64> = got.iter().map(|g| g.unwrap_or(5000.0)).collect();
            per_action.push(ms.iter().copied().fold(0.0, f64::max));
            per_seat.extend(ms);
            // Off the 500 ms beat, so the periodic polls do not line up.
            std::thread::sleep(Duration::from_millis(200 + fastrand::u64(0..400)));
        }
        (per_seat, per_action, missing)
    }

    fn stop(self) {
        // Dropping the runtimes ends the cockpits (their seats, pollers and
        // connections); their hint senders go, and the journal threads end.
        for rt in self.runtimes {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        for j in self.journals {
            let _ = j.join();
        }
    }
}

/// One seat alone, no team: a poller into an engine.
fn solo(bench: &Bench, secs: u64) -> Window {
    let (config, active) = bench.config("bench-solo", &format!("{EVERY_S}s"));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let applied = Arc::new(AtomicU64::new(0));
    let counted = applied.clone();
    rt.spawn(async move {
        let ctx = HttpContext::new().expect("an HTTP client");
        let mut engine = Engine::for_config(&config, &active, None);
        let (tx, mut rx) = mpsc::channel::<SourceUpdate>(1024);
        let poller_thread = flightdeck::poller::PollerThread::start().expect("the poller's thread");
        let _poller = Poller::spawn(&poller_thread, active.clone(), config.poller, ctx, tx);
        let mut batch = Vec::with_capacity(256);
        while rx.recv_many(&mut batch, 256).await > 0 {
            counted.fetch_add(batch.len() as u64, Ordering::Relaxed);
            batch.drain(..).for_each(|u| {
                engine.apply(u);
            });
        }
    });
    wait_for("the solo seat's first sweep", Duration::from_secs(120), || {
        applied.load(Ordering::Relaxed) >= CELLS as u64
    });
    bench.settle(|| applied.load(Ordering::Relaxed));
    let w = bench.window(secs, || {});
    rt.shutdown_timeout(Duration::from_secs(5));
    w
}

fn wait_for(what: &str, within: Duration, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Nearest-rank percentile of `v` (sorted here).
fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn fan_out_line(team: &Team, bench: &Bench) -> String {
    let (mut per_seat, mut per_action, missing) = team.fan_out(bench);
    let lost =
        if missing > 0 { format!(" · {missing} never seen within 5 s (counted as 5 s)") } else { String::new() };
    format!(
        "per seat p50 {:.0} ms, p99 {:.0} ms · all {} seats p50 {:.0} ms, p99 {:.0} ms (goal p99 ≤ 1000 ms){lost}",
        pct(&mut per_seat, 50.0),
        pct(&mut per_seat, 99.0),
        team.followers().len(),
        pct(&mut per_action, 50.0),
        pct(&mut per_action, 99.0),
    )
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let asked = args.first().copied().unwrap_or(60).max(1);
    // Whole periods of the busy schedule: each sweep counted once.
    let secs = asked.div_ceil(EVERY_S) * EVERY_S;
    let followers = args.get(1).copied().unwrap_or(50).max(1) as usize;

    println!(
        "team: 1 leading + {followers} following seats of one release on one PostgreSQL, {SERVICES} services × {ENVS} environments = {CELLS} cells from loopback"
    );
    println!(
        "  run: cargo bench --bench team [-- SECONDS [FOLLOWERS]]  (now: {secs} s windows{}, {followers} following seats; needs PostgreSQL in /usr/lib/postgresql/*/bin)",
        if secs != asked { format!(", {asked} s rounded up to whole {EVERY_S} s sweeps") } else { String::new() }
    );

    let server = pg::Server::start_with(&["max_connections=400"]);
    let postmaster = server.postmaster_pid().expect("the server's postmaster.pid");
    let version = server.psql("SHOW server_version");
    let mut owner = TeamDb::new(DatabaseUrl::parse(&server.url(pg::OWNER)).expect("the owner's URL")).unwrap();
    let schema = owner.init(&[]).unwrap_or_else(|e| panic!("creating the team schema: {e}"));
    drop(owner);
    // The seats' runtime roles: what `team init` prints, more or less (no
    // column lists), as alice and bob.
    server.psql_in(
        "flightdeck",
        "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO alice, bob; \
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO alice, bob;",
    );
    println!(
        "  PostgreSQL {} (schema at version {}), max_connections=400; seats as alice and bob, the bench's own server",
        version.trim(),
        schema.last().copied().unwrap_or(0)
    );

    let loopback = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (port, fleet) = serve(&loopback);
    let bench = Bench { server, postmaster, ticks: clock_ticks(), fleet, port, secs, followers };

    // 1. One seat alone, the reference (and the server with no seat at all).
    let alone = solo(&bench, bench.secs);

    // 1 + 3 (sweeping) + 2: the team, polling every 10 s.
    let team = Team::start(&bench, "bench-sweeping", &format!("{EVERY_S}s"));
    let took = team.ready(Duration::from_secs(180));
    bench.settle(|| team.applied_by_leader());
    let before = team.progress();
    let mut after = Vec::new();
    let sweeping = bench.window(bench.secs, || after = team.progress());
    let (leader, answers, changes) = team.applied_between(&before, &after);
    let led: usize = team.seats.iter().filter(|s| s.ever_led.load(Ordering::Relaxed)).count();
    let lost: u64 = team.seats.iter().map(|s| s.lost_batches.load(Ordering::Relaxed)).sum();
    let fan_sweeping = fan_out_line(&team, &bench);
    let journal_errors: u64 = team.seats.iter().map(|s| s.journal_errors.load(Ordering::Relaxed)).sum();
    // Stop between two sweeps: a write cut short would count in
    // `n_tup_ins` and never in the table (see `stats_caught_up`).
    bench.settle(|| team.applied_by_leader());
    team.stop();

    // 3 (idle) + 2: every = 1h, after the first sweep.
    let team = Team::start(&bench, "bench-idle", "1h");
    team.ready(Duration::from_secs(180));
    bench.settle(|| team.applied_by_leader());
    let idle = bench.window(bench.secs, || {});
    let fan_idle = fan_out_line(&team, &bench);
    let journal_errors =
        journal_errors + team.seats.iter().map(|s| s.journal_errors.load(Ordering::Relaxed)).sum::<u64>();
    team.stop();

    let alone_rate = alone.per_min(alone.requests as f64);
    let team_rate = sweeping.per_min(sweeping.requests as f64);
    println!(
        "  1. requests to the sources (every = {EVERY_S}s, 8% of the cells change at each read), {secs} s windows:"
    );
    println!("       one seat alone, no team (reference):   {alone_rate:>7.0}/min");
    println!(
        "       team, 1 leading + {followers:>2} following seats: {team_rate:>7.0}/min = {:.3} × one seat's (seats that led: {led})",
        team_rate / alone_rate,
    );
    println!(
        "       (in that window the leader applied {} answers, {} changes; each follower {}..{} answers, {}..{} changes{}; all seats had every cell {:.1} s after start)",
        leader.0,
        leader.1,
        answers.0,
        answers.1,
        changes.0,
        changes.1,
        if lost > 0 { format!("; {lost} batches refused by the seat") } else { String::new() },
        took.as_secs_f64()
    );
    println!(
        "  2. fan-out of an action to the {} following seats ({ACTIONS} notes appended as bob; append start → that seat's journal poll returned it):",
        followers
    );
    println!("       while sweeping (every = {EVERY_S}s): {fan_sweeping}");
    println!("       while idle (every = 1h):     {fan_idle}");
    if journal_errors > 0 {
        println!("       ({journal_errors} journal polls failed)");
    }
    println!(
        "  3. PostgreSQL over {secs} s windows (CPU: postmaster + children from /proc; rows: from the tables, and as pg_stat_user_tables counted them):"
    );
    println!("       no seat (the server alone):              {}", alone.cpu_line());
    println!("       team idle (every = 1h, after 1st sweep): {}", idle.cpu_line());
    println!("       team sweeping (every = {EVERY_S}s, 8% change): {}", sweeping.cpu_line());
}
