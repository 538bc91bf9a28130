//! The real cockpit at fleet scale, in a real terminal: the release binary
//! runs in tmux (200×60) against 1,000 services × 6 environments served by
//! a loopback server in this process, with its own XDG dirs in a temp dir.
//!
//!   cargo bench --bench fleet                  # 1000 × 6, 60 s per CPU window
//!   cargo bench --bench fleet -- 1000 6 20     # services, environments, seconds
//!   FD_BENCH_BIN=/path/to/flightdeck cargo bench --bench fleet   # another build
//!   cargo bench --bench fleet -- 1000 6 30 poller   # only the poller alone beside its reference
//!
//! Three runs, each a fresh process:
//!
//! - **start-up**: empty journals; process start → first frame, → first
//!   full matrix (every cell read once), from the log's milestones; then
//!   idle (`every = "1h"`) over the same window as the next run: the
//!   reference for its CPU and peak RSS.
//! - **idle**: `every = "1h"`, and an observation journal in which every
//!   cell already has a full history (16 versions): after the first sweep
//!   nothing changes; CPU over the window, peak RSS (VmHWM), and what the
//!   journal adds to the reference's peak.
//! - **busy**: the same, with `every = "10s"`: every cell re-read every 10 s;
//!   then its reference: a plain reqwest client in this process (threads of
//!   its own, counted alone) making the same GETs on the same schedule; then
//!   flightdeck's poller alone in this process, on the busy run's config
//!   (threads of its own): the poller's part of the busy figure. The busy
//!   run's window is also split by thread (the app loop is `flightdeck`,
//!   the poller and HTTP `tokio-rt-worker`), CPU and context switches:
//!   each switch is a thread put to sleep and woken again; so is the
//!   start-up, up to the first full matrix. Threads are grouped by their
//!   (kernel-shortened) name, so tokio's blocking-pool threads count with
//!   the workers, and a thread that ended between the two readings is
//!   left out of the difference.
//!
//! CPU is utime + stime of the process from `/proc/PID/stat`; the loopback
//! server runs in this process and is not counted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// History depth per cell and source the cockpit keeps (`analysis::HISTORY_LEN`).
const DEPTH: usize = flightdeck::analysis::HISTORY_LEN;

/// A tmux server of our own, its socket in the run's temp dir.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("tmux runs");
        if !out.status.success() {
            eprintln!("tmux {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").output();
        let _ = std::fs::remove_file(&self.socket);
    }
}

struct Cockpit {
    tmux: Tmux,
    pid: u32,
    log: PathBuf,
    launched: Instant,
}

fn start(bin: &str, dir: &Path, config: &Path) -> Cockpit {
    let tmux = Tmux { socket: dir.join("tmux.sock") };
    let cmd = format!(
        "exec env XDG_CONFIG_HOME={d}/c XDG_STATE_HOME={d}/s XDG_DATA_HOME={d}/d {bin} --config {c}",
        d = dir.display(),
        c = config.display()
    );
    let launched = Instant::now();
    tmux.run(&["new-session", "-d", "-s", "fleet", "-x", "200", "-y", "60", &cmd]);
    let pid: u32 = tmux.run(&["display-message", "-p", "-t", "fleet", "#{pane_pid}"]).parse().expect("a pane pid");
    Cockpit { tmux, pid, log: dir.join("s/flightdeck/flightdeck.log"), launched }
}

impl Cockpit {
    /// `elapsed_ms` of a start-up milestone, waiting for it up to `within`.
    fn milestone(&self, what: &str, within: Duration) -> Option<u64> {
        while self.launched.elapsed() < within {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(what)) {
                return line.split("elapsed_ms=").nth(1)?.split_whitespace().next()?.parse().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// utime + stime, in seconds.
    fn cpu(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).expect("the cockpit is running");
        stat_cpu(&stat).expect("a stat line").1
    }

    /// A `/proc/PID/status` line's value in MB (`VmHWM`, `VmRSS`).
    fn mem_mb(&self, key: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).expect("the cockpit is running");
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("a memory figure");
        kb / 1024.0
    }

    /// Per thread name: CPU (s) and context switches (voluntary and not)
    /// so far, summed over the threads that bear it.
    fn threads(&self) -> std::collections::BTreeMap<String, (f64, u64)> {
        let mut by_name = std::collections::BTreeMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else { return by_name };
        for task in tasks.flatten() {
            let (Ok(stat), Ok(status)) = (
                std::fs::read_to_string(task.path().join("stat")),
                std::fs::read_to_string(task.path().join("status")),
            ) else {
                continue; // the thread ended meanwhile
            };
            let Some((name, cpu)) = stat_cpu(&stat) else { continue };
            let switches: u64 = status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            let entry = by_name.entry(name.to_string()).or_insert((0.0, 0));
            entry.0 += cpu;
            entry.1 += switches;
        }
        by_name
    }

    fn screen(&self) -> String {
        self.tmux.run(&["capture-pane", "-p", "-t", "fleet"])
    }

    fn quit(self) {
        self.tmux.run(&["send-keys", "-t", "fleet", "q"]);
        for _ in 0..100 {
            if !Path::new(&format!("/proc/{}", self.pid)).exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `/proc/…/stat` line's command name and CPU (utime + stime, in seconds).
fn stat_cpu(stat: &str) -> Option<(&str, f64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(').map_or("?", |(_, n)| n);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((name, ticks / clock_ticks()))
}

/// CPU (s) used so far by this process's threads named `name`.
fn threads_cpu(name: &str) -> f64 {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| stat_cpu(&stat).filter(|(n, _)| *n == name).map(|(_, cpu)| cpu))
        .sum()
}

/// How a reference runs its client: on a 2-worker runtime (tokio's
/// multi-thread default on this machine, what a plain reqwest program
/// gets from `#[tokio::main]`), or on one thread with a runtime of its own,
/// as flightdeck's poller does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    TwoWorkers,
    OneThread,
}

/// Work running on threads of this process named `name`: a future on a
/// runtime of the given flavor, until stopped.
struct Running {
    name: &'static str,
    stop: tokio::sync::oneshot::Sender<()>,
    done: std::thread::JoinHandle<()>,
}

impl Running {
    /// Run `work` (made on the runtime, so a client made there is its own)
    /// on threads named `name`, until `stop` is called; `work` ending early
    /// is a failure of the bench.
    fn start<W, F>(name: &'static str, flavor: Flavor, work: W) -> Running
    where
        W: FnOnce() -> F + Send + 'static,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut builder = match flavor {
                    Flavor::TwoWorkers => {
                        let mut two = tokio::runtime::Builder::new_multi_thread();
                        two.worker_threads(2);
                        two
                    }
                    Flavor::OneThread => tokio::runtime::Builder::new_current_thread(),
                };
                let rt = builder.thread_name(name).enable_all().build().unwrap();
                // On two workers the work is a task on them (as last rounds
                // measured it); on one thread, what that thread runs.
                let work = async move {
                    tokio::select! {
                        () = work() => panic!("{name} stopped before the window ended"),
                        _ = stopped => {}
                    }
                };
                match flavor {
                    Flavor::TwoWorkers => {
                        let _ = rt.block_on(rt.spawn(work));
                    }
                    Flavor::OneThread => rt.block_on(work),
                }
                rt.shutdown_background();
            })
            .unwrap();
        Running { name, stop, done }
    }

    /// CPU over `secs`, from 2 s on (as the cockpit's window: after the
    /// first sweep), then stopped. `failed` must be 0: work that failed
    /// measured nothing worth comparing.
    fn window(self, secs: u64, failed: &std::sync::atomic::AtomicUsize, also: &[&str]) -> (f64, f64) {
        let cpu = || threads_cpu(self.name) + also.iter().map(|n| threads_cpu(n)).sum::<f64>();
        std::thread::sleep(Duration::from_secs(2));
        let before = cpu();
        std::thread::sleep(Duration::from_secs(secs));
        let used = cpu() - before;
        assert!(!self.done.is_finished(), "{} stopped before the window ended", self.name);
        let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(failed, 0, "{} failed {failed} reads: its CPU is no figure", self.name);
        let _ = self.stop.send(());
        self.done.join().unwrap();
        (used, 100.0 * used / secs as f64)
    }
}

/// The busy run's reference: a plain reqwest client making the same GETs
/// on the same schedule, every cell every 10 s with 16 in flight, reading
/// every body; its CPU over the same window, counted on its own threads
/// (this process also runs the server). What the cockpit uses beyond it is
/// flightdeck's own work.
fn reference(port: u16, services: usize, envs: usize, secs: u64, flavor: Flavor) -> (f64, f64) {
    let names = common::env_names(envs);
    let urls: std::sync::Arc<[String]> = (0..services)
        .flat_map(|n| names.iter().map(move |e| format!("http://127.0.0.1:{port}/{e}/{}", common::service_name(n))))
        .collect();
    // A failed GET is counted, not a panic in a task nobody watches: a
    // reference that did not read is no reference.
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failures = failed.clone();
    let name = match flavor {
        Flavor::TwoWorkers => "fd-reference",
        Flavor::OneThread => "fd-reference-1",
    };
    let running = Running::start(name, flavor, move || async move {
        use futures::StreamExt;
        let client = reqwest::Client::new();
        let mut every = tokio::time::interval(Duration::from_secs(10));
        loop {
            every.tick().await;
            futures::stream::iter(0..urls.len())
                .map(|i| {
                    let (client, urls, failures) = (client.clone(), urls.clone(), failures.clone());
                    async move {
                        let read = match client.get(&urls[i]).send().await {
                            Ok(resp) if resp.status().is_success() => resp.bytes().await.is_ok(),
                            _ => false,
                        };
                        if !read {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                })
                .buffer_unordered(16)
                .for_each(|_| async {})
                .await;
        }
    });
    running.window(secs, &failed, &[])
}

/// Between the two: flightdeck's own poller in this process (on its own
/// thread, `poller`, as in the cockpit), on the busy run's config, its
/// updates received on a thread of their own and dropped: both counted.
/// What it uses beyond the reference is the poller's and the sources'
/// share of the cockpit's; the rest is the cockpit's own (judging, the
/// journal, drawing).
fn poller_alone(port: u16, services: usize, envs: usize, secs: u64) -> (f64, f64) {
    let text = common::config(port, services, envs, "10s", 16);
    let config = flightdeck::setup::from_toml_str(&text, "bench").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failures = failed.clone();
    let running = Running::start("fd-receiver", Flavor::OneThread, move || async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let ctx = flightdeck::sources::HttpContext::new().expect("an HTTP client");
        let thread = flightdeck::poller::PollerThread::start().expect("the poller's thread");
        let _poller = flightdeck::poller::Poller::spawn(&thread, active, config.poller, ctx, tx);
        while let Some(update) = rx.recv().await {
            if update.result.is_err() {
                failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    running.window(secs, &failed, &["poller", "poller-blocking"])
}

/// Each thread name's CPU and context switches in `now` since `before`.
fn by_thread(
    now: &std::collections::BTreeMap<String, (f64, u64)>,
    before: &std::collections::BTreeMap<String, (f64, u64)>,
) -> String {
    now.iter()
        .map(|(name, (cpu, switches))| {
            let (cpu0, switches0) = before.get(name).copied().unwrap_or_default();
            (name, cpu - cpu0, switches.saturating_sub(switches0))
        })
        .filter(|(_, cpu, switches)| *cpu > 0.0 || *switches > 0)
        .map(|(name, cpu, switches)| format!("{name} {cpu:.2} s, {switches} switches"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Clock ticks a second (`getconf CLK_TCK`), asked once.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(100.0)
    })
}

struct Run<'a> {
    bin: &'a str,
    port: u16,
    services: usize,
    envs: usize,
}

impl Run<'_> {
    fn prepare(&self, every: &str, history: bool) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("fleet.toml");
        std::fs::write(&config, common::config(self.port, self.services, self.envs, every, 16)).unwrap();
        if history {
            let journal = flightdeck::journal::observations_path(&dir.path().join("d/flightdeck"));
            std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
            std::fs::write(&journal, common::journal(self.services, self.envs, DEPTH)).unwrap();
        }
        (dir, config)
    }

    /// Milliseconds to the first frame and the first full matrix, and
    /// what each thread had used by then (CPU, context switches).
    fn startup(&self, cockpit: &Cockpit) -> (u64, u64, String) {
        let first = cockpit.milestone("first frame drawn", Duration::from_secs(60)).unwrap_or_else(|| {
            panic!("no first frame logged within 60 s; the screen:\n{}", cockpit.screen());
        });
        let full = cockpit.milestone("first full matrix drawn", Duration::from_secs(120)).unwrap_or_else(|| {
            panic!("no full matrix within 120 s; the screen:\n{}", cockpit.screen());
        });
        (first, full, by_thread(&cockpit.threads(), &Default::default()))
    }

    /// CPU share of one core over `secs`, from after the first sweep, and
    /// where it went: each thread name's CPU and context switches.
    fn cpu_window(&self, cockpit: &Cockpit, secs: u64) -> (f64, f64, String) {
        std::thread::sleep(Duration::from_secs(2)); // let the first sweep's work settle
        let (before, threads_before) = (cockpit.cpu(), cockpit.threads());
        std::thread::sleep(Duration::from_secs(secs));
        let used = cockpit.cpu() - before;
        (used, 100.0 * used / secs as f64, by_thread(&cockpit.threads(), &threads_before))
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // `poller` (after the numbers): only the busy reference and the poller alone, twice, alternating.
    let poller_only = raw.iter().any(|a| a == "poller");
    let args: Vec<u64> = raw.iter().filter_map(|a| a.parse().ok()).collect();
    let services = args.first().copied().unwrap_or(1000) as usize;
    let envs = args.get(1).copied().unwrap_or(6) as usize;
    let secs = args.get(2).copied().unwrap_or(60);
    // The binary cargo built for this bench, or another one to compare (not a
    // FLIGHTDECK_* variable: the cockpit would read that as configuration).
    let bin = std::env::var("FD_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_flightdeck").to_string());
    let bin = bin.as_str();
    assert!(Command::new("tmux").arg("-V").output().is_ok(), "tmux is needed");

    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let port = common::serve(&server, services, envs);
    let run = Run { bin, port, services, envs };
    let cells = services * envs;
    // The busy runs read every cell every 10 s, from the start: a window
    // (2 s in, `secs` long) must reach the beat at 10 s to hold a sweep.
    assert!(!poller_only || secs >= 10, "the poller's window must be at least 10 s long to hold a sweep");
    if secs < 10 {
        println!("  (a window under 10 s holds no busy sweep: the busy figures below read nothing)");
    }
    if poller_only {
        println!("fleet: flightdeck's poller alone beside plain reqwest, {cells} cells every 10 s, {secs} s windows");
        for _ in 0..2 {
            let (_, two) = reference(port, services, envs, secs, Flavor::TwoWorkers);
            let (_, one) = reference(port, services, envs, secs, Flavor::OneThread);
            let (_, poller) = poller_alone(port, services, envs, secs);
            println!(
                "  plain reqwest {two:.2}% (one thread: {one:.2}%) · flightdeck's poller {poller:.2}% of one core ({:.2}×; {:.2}× one thread)",
                poller / two.max(f64::EPSILON),
                poller / one.max(f64::EPSILON)
            );
        }
        return;
    }
    println!("fleet: the release binary in tmux 200×60, {services} services × {envs} environments = {cells} cells");

    // Start-up from empty journals, then idle over the same window as the
    // runs with a journal: the reference for their CPU and memory.
    let (dir, config) = run.prepare("1h", false);
    let cockpit = start(run.bin, dir.path(), &config);
    let (first, full, started) = run.startup(&cockpit);
    let (used, share, _) = run.cpu_window(&cockpit, secs);
    let (empty_hwm, rss) = (cockpit.mem_mb("VmHWM"), cockpit.mem_mb("VmRSS"));
    cockpit.quit();
    println!("  start-up, empty journal:    first frame {first} ms, first full matrix {full} ms");
    println!("       by thread until the first full matrix: {started}");
    println!(
        "       CPU over {secs} s: {used:.2} s = {share:.2}% of one core · peak RSS (VmHWM) {empty_hwm:.1} MB, RSS {rss:.1} MB"
    );

    let mut busy_share = 0.0;
    for (name, every) in [("idle", "1h"), ("busy", "10s")] {
        let (dir, config) = run.prepare(every, true);
        let cockpit = start(run.bin, dir.path(), &config);
        let (first, full, _) = run.startup(&cockpit);
        let (used, share, threads) = run.cpu_window(&cockpit, secs);
        let (hwm, rss) = (cockpit.mem_mb("VmHWM"), cockpit.mem_mb("VmRSS"));
        let screen = cockpit.screen();
        let journal = flightdeck::journal::observations_path(&dir.path().join("d/flightdeck"));
        let lines = std::fs::read_to_string(&journal).map(|t| t.lines().count()).unwrap_or(0);
        cockpit.quit();
        busy_share = share;
        assert!(screen.contains("Environment matrix"), "the cockpit is drawing:\n{screen}");
        println!(
            "  {name:<4} (every = {every:>3}, {} journal events): first frame {first} ms, first full matrix {full} ms",
            cells * DEPTH
        );
        println!(
            "       CPU over {secs} s: {used:.2} s = {share:.2}% of one core · peak RSS (VmHWM) {hwm:.1} MB (empty journal, idle: {empty_hwm:.1} MB; the journal {:+.1} MB), RSS {rss:.1} MB · journal now {lines} lines",
            hwm - empty_hwm
        );
        if every == "10s" {
            println!("       by thread over the window: {threads}");
        }
    }
    // Right after the busy run, under the same load on the machine.
    let (used, share) = reference(port, services, envs, secs, Flavor::TwoWorkers);
    println!(
        "  reference for busy: plain reqwest, the same GETs every 10 s, 16 in flight: CPU over {secs} s: {used:.2} s = \
         {share:.2}% of one core · the cockpit busy {:.2}× it, {:+.2} points",
        busy_share / share.max(f64::EPSILON),
        busy_share - share
    );
    let (used, one) = reference(port, services, envs, secs, Flavor::OneThread);
    println!(
        "    the same on one thread (a current-thread runtime, as flightdeck's poller): {used:.2} s = {one:.2}% of one core \
         · the cockpit busy {:.2}× it",
        busy_share / one.max(f64::EPSILON)
    );
    let (used, poller_share) = poller_alone(port, services, envs, secs);
    println!(
        "    of which the poller: flightdeck's poller alone, the same config: CPU over {secs} s: {used:.2} s = \
         {poller_share:.2}% of one core ({:.2}× the reference)",
        poller_share / share.max(f64::EPSILON)
    );
}
