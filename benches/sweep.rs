//! One full sweep at fleet scale, against its limit: 1,000 services × 6
//! environments served by a loopback HTTP server (its own multi-thread
//! runtime, bodies prebuilt), swept by `poller::sweep_once` and by a plain
//! reqwest client making the same GETs with the same concurrency and
//! reading every body. The ratio is flightdeck's overhead over plain HTTP.
//!
//!   cargo bench --bench sweep                  # 1000 × 6, 11 runs each, concurrency 16 and 64
//!   cargo bench --bench sweep -- 300 5 5       # services, environments, runs
//!   cargo bench --bench sweep -- 1000 6 20 profile 1   # one side only (0–4, as printed), for perf
//!   benches/sweep_instructions.sh                      # sides 0 and 3 under callgrind: instructions per cell
//!
//! flightdeck sweeps on the runtime `check` and the cockpit's poller use
//! (`poller::runtime`: one thread). Plain reqwest runs twice: on that same
//! runtime (the same GETs with the same threads: flightdeck's overhead),
//! and on a 2-worker runtime, what `#[tokio::main]` gives a plain reqwest
//! program on this machine (the reference of the rounds before this one).
//! The runs alternate after one warm-up each, so every side finds its
//! connection pool warm and shares any noise on the machine; each round
//! starts one side later and steps through the sides by a different stride,
//! so no side always runs after the same one. Besides wall
//! time, each line gives the CPU the whole process (server included) used
//! per sweep, on a busy machine the steadier figure, and the client's part
//! of it (every thread but the server's). Two steps in between say where a
//! difference goes: the app's HTTP client doing plain GETs, and the
//! source's own `fetch` (GET, capped read, JSON decode, sanitizing) under
//! a `buffer_unordered` as plain reqwest's, each body decoded as it comes; both on one
//! thread.

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use futures::StreamExt;

/// utime + stime in seconds from a `/proc/…/stat` line.
fn stat_cpu(stat: &str) -> f64 {
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// Name of the loopback server's threads: everything else is the client's.
const SERVER_THREADS: &str = "bench-server";

/// CPU seconds of this process, and of its server threads.
fn cpu_secs() -> (f64, f64) {
    let all = stat_cpu(&std::fs::read_to_string("/proc/self/stat").unwrap());
    let mut server = 0.0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        // A thread may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else { continue };
        let comm = stat.split_once('(').and_then(|(_, rest)| rest.rsplit_once(')')).map_or("", |(c, _)| c);
        if comm == SERVER_THREADS {
            server += stat_cpu(&stat);
        }
    }
    (all, server)
}

/// One way of sweeping the fleet, and what its sweeps took.
struct Side<'a> {
    name: &'static str,
    /// One sweep; returns the cells read.
    sweep: Box<dyn FnMut() -> usize + 'a>,
    wall: Vec<Duration>,
    /// CPU seconds: the whole process, and the client's part (not the server's threads).
    cpu: f64,
    client_cpu: f64,
}

impl<'a> Side<'a> {
    fn new(name: &'static str, sweep: impl FnMut() -> usize + 'a) -> Side<'a> {
        Side { name, sweep: Box::new(sweep), wall: Vec::new(), cpu: 0.0, client_cpu: 0.0 }
    }
    fn time(&mut self) -> usize {
        let (cpu, server) = cpu_secs();
        let start = Instant::now();
        let cells = (self.sweep)();
        self.wall.push(start.elapsed());
        let (cpu_after, server_after) = cpu_secs();
        self.cpu += cpu_after - cpu;
        self.client_cpu += (cpu_after - cpu) - (server_after - server);
        cells
    }
    fn min(&self) -> f64 {
        self.sorted()[0]
    }
    fn median(&self) -> f64 {
        let s = self.sorted();
        s[s.len() / 2]
    }
    fn sorted(&self) -> Vec<f64> {
        let mut ms: Vec<f64> = self.wall.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        ms
    }
    fn line(&self) -> String {
        let s = self.sorted();
        format!(
            "    {:<34} min {:>6.1} ms  median {:>6.1} ms  max {:>6.1} ms  cpu {:>6.1} ms/sweep (client {:>5.1})",
            self.name,
            s[0],
            s[s.len() / 2],
            s[s.len() - 1],
            self.cpu * 1e3 / self.wall.len() as f64,
            self.client_cpu * 1e3 / self.wall.len() as f64
        )
    }
}

/// GET every URL with at most `concurrency` in flight, reading each body.
async fn get_all(client: &reqwest::Client, urls: &[String], concurrency: usize) -> usize {
    futures::stream::iter(urls)
        .map(|url| async move {
            let resp = client.get(url).send().await.expect("plain GET");
            assert!(resp.status().is_success());
            resp.bytes().await.expect("plain body").len()
        })
        .buffer_unordered(concurrency)
        .fold(0, |n, len| async move { n + usize::from(len > 0) })
        .await
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // `profile N` (after the numbers): sweep with side N only, for `perf record`.
    let profile =
        raw.iter().position(|a| a == "profile").map(|i| raw.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(0));
    let args: Vec<usize> = raw.iter().take_while(|a| *a != "profile").filter_map(|a| a.parse().ok()).collect();
    let services = args.first().copied().unwrap_or(1000);
    let envs = args.get(1).copied().unwrap_or(6);
    let runs = args.get(2).copied().unwrap_or(11).max(1);
    let cells = services * envs;

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREADS)
        .enable_all()
        .build()
        .unwrap();
    let port = common::serve(&server, services, envs);
    // flightdeck's own runtime (one thread), and a plain program's.
    let rt = flightdeck::poller::runtime().unwrap();
    let two = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    println!("sweep: {services} services × {envs} environments = {cells} cells, loopback HTTP, {runs} runs each");
    for concurrency in [16, 64] {
        let text = common::config(port, services, envs, "10s", concurrency);
        let config = flightdeck::setup::from_toml_str(&text, "bench").unwrap();
        let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
        let source = &active[0];
        let urls: Vec<String> =
            source.cells.iter().map(|c| format!("http://127.0.0.1:{port}/{}/{}", c.env, c.service)).collect();
        // Each side its own client (and connection pool), as it would have.
        let ctx = rt.block_on(async { flightdeck::sources::HttpContext::new() }).unwrap();
        let ctx_plain = rt.block_on(async { flightdeck::sources::HttpContext::new() }).unwrap();
        let ctx_fetch = rt.block_on(async { flightdeck::sources::HttpContext::new() }).unwrap();
        let plain = reqwest::Client::new();
        let plain_two = reqwest::Client::new();

        fn run<F: Future<Output = usize>>(rt: &tokio::runtime::Runtime, f: F) -> usize {
            rt.block_on(f)
        }
        let mut sides = [
            Side::new("flightdeck poller::sweep_once", || {
                let updates = rt.block_on(flightdeck::poller::sweep_once(&active, config.poller, &ctx, |_, _| {}));
                updates.iter().filter(|u| u.result.is_ok()).count()
            }),
            Side::new("  source fetch, buffer_unordered", || {
                run(
                    &rt,
                    futures::stream::iter(&source.cells)
                        .map(|cell| source.source.fetch(&ctx_fetch, cell))
                        .buffer_unordered(concurrency)
                        .fold(0, |n, r| async move {
                            n + usize::from(r.and_then(|f| f.read_with(&*source.source)).is_ok())
                        }),
                )
            }),
            Side::new("  flightdeck's client, plain GETs", || run(&rt, get_all(&ctx_plain.client, &urls, concurrency))),
            Side::new("plain reqwest, one thread", || run(&rt, get_all(&plain, &urls, concurrency))),
            Side::new("plain reqwest, 2-worker runtime", || run(&two, get_all(&plain_two, &urls, concurrency))),
        ];
        if let Some(only) = profile {
            // One side alone, for a profiler: `profile 0` is flightdeck's poller, 3 and 4 plain reqwest (one thread, two workers).
            let side = &mut sides[only.min(4)];
            assert_eq!((side.sweep)(), cells, "warm-up reads every cell");
            for _ in 0..runs {
                assert_eq!(side.time(), cells, "every cell read");
            }
            println!("  concurrency {concurrency}, {} only:\n{}", side.name, side.line());
            continue;
        }
        for side in sides.iter_mut() {
            assert_eq!((side.sweep)(), cells, "warm-up reads every cell");
        }
        // Each round starts one side later and steps through the sides by
        // 1, 2, … n-1 in turn (n = 5 is prime: every step visits all), so no
        // side always follows the same one.
        let n = sides.len();
        for round in 0..runs {
            let step = 1 + round % (n - 1);
            for k in 0..n {
                assert_eq!(sides[(round + k * step) % n].time(), cells, "every cell read");
            }
        }
        println!("  concurrency {concurrency}:");
        for side in &sides {
            println!("{}", side.line());
        }
        for (limit, what) in [(&sides[3], "plain reqwest, one thread"), (&sides[4], "plain reqwest, 2 workers")] {
            let ours = &sides[0];
            // Each round's sweeps ran back to back, under the same load.
            let mut paired: Vec<f64> =
                ours.wall.iter().zip(&limit.wall).map(|(o, l)| o.as_secs_f64() / l.as_secs_f64()).collect();
            paired.sort_by(f64::total_cmp);
            println!(
                "    against {what}: {:.2}× (median of rounds), medians {:.2}×, minima {:.2}×, cpu {:.2}× (client threads {:.2}×)",
                paired[paired.len() / 2],
                ours.median() / limit.median(),
                ours.min() / limit.min(),
                ours.cpu / limit.cpu,
                ours.client_cpu / limit.client_cpu,
            );
        }
        println!("    flightdeck: {:.0} cells/s", cells as f64 / (sides[0].median() / 1e3));
    }
}
