//! Soak: the real cockpit in tmux against the fault server of
//! `tests/fault_storm.rs`, for a long time, watching for leaks.
//!
//!   cargo bench --bench soak                          # 10 minutes
//!   cargo bench --bench soak -- --duration 2m --every 10s
//!   FLIGHTDECK_SOAK_DURATION=1h cargo bench --bench soak   # (arguments win)
//!
//! 22 services (two of each fault) × 4 environments = 88 cells polled every
//! 2 s; the server alternates a good minute (each one a new version, so
//! events and history keep coming) and a storm minute (stalls, drips,
//! resets, 5xx, 429 + Retry-After, malformed, truncated and 50 MB bodies,
//! invalid UTF-8, hostile and very wide versions). Every `--every` it
//! prints the cockpit's RSS, threads (/proc/PID/task), open file
//! descriptors (/proc/PID/fd), CPU and frames per second (from its log);
//! at the end, start vs end, and FAIL (exit 1) on growth or if it died.
//! Needs tmux (the cockpit needs a terminal).

#[path = "../tests/support/fault_server.rs"]
mod fault_server;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fault_server::{FAULTS, FaultServer};

const ENVIRONMENTS: &[&str] = &["dev", "qa", "uat", "prod"];
const PHASE: Duration = Duration::from_secs(60);

struct Options {
    duration: Duration,
    every: Duration,
}

fn options() -> Result<Options, String> {
    let mut options = Options { duration: Duration::from_secs(600), every: Duration::from_secs(30) };
    if let Ok(value) = std::env::var("FLIGHTDECK_SOAK_DURATION") {
        options.duration = humantime::parse_duration(&value).map_err(|e| format!("FLIGHTDECK_SOAK_DURATION: {e}"))?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--duration" => &mut options.duration,
            "--every" => &mut options.every,
            _ => continue, // `--bench` and whatever else cargo passes
        };
        let value = args.next().ok_or_else(|| format!("{arg} needs a value (e.g. 10m, 30s)"))?;
        *slot = humantime::parse_duration(&value).map_err(|e| format!("{arg} {value}: {e}"))?;
    }
    Ok(options)
}

fn config_text(addr: std::net::SocketAddr) -> String {
    let environments: String = ENVIRONMENTS.iter().map(|e| format!("[[environments]]\nname = \"{e}\"\n")).collect();
    let services: String =
        FAULTS.iter().flat_map(|f| (1..=2).map(move |n| format!("[[services]]\nname = \"{f}-{n}\"\n"))).collect();
    format!(
        r#"
{environments}
{services}
[[sources]]
name = "endpoints"
kind = "http"
url = "http://{addr}/{{service}}/{{env}}"
every = "2s"
timeout = "1s"

[poller]
max_backoff = "10s"
"#
    )
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kb: u64,
    threads: usize,
    fds: usize,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
}

fn sample(pid: u32, at: Duration) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.count();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is 3rd, utime 14th, stime 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cpu_ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Sample { at, rss_kb, threads, fds, cpu_ticks })
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The last `frames drawn` line of the log: frames per second in its period.
fn last_fps(log: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains("frames drawn frames="))?;
    let field = |name: &str| -> Option<f64> {
        line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{name}=")))?.parse().ok()
    };
    Some(field("frames")? / (field("period_ms")? / 1000.0))
}

struct Tmux(String);

impl Tmux {
    fn capture(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.0]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    fn pid(&self) -> Option<u32> {
        let out = Command::new("tmux").args(["display-message", "-p", "-t", &self.0, "#{pane_pid}"]).output().ok()?;
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = Command::new("pgrep").args(["-P", &shell]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok())
            .find(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "flightdeck"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("soak: SKIPPED: tmux not found (apt-get install tmux); the cockpit needs a terminal");
        return if std::env::var_os("CI").is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let server = rt.block_on(FaultServer::start());
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = tmp.path().to_path_buf();
    let config = dir.join("soak.toml");
    std::fs::write(&config, config_text(server.addr)).expect("write config");
    let log = dir.join("state/flightdeck/flightdeck.log");

    let name = format!("fd-soak-{}", std::process::id());
    let d = dir.display();
    let script = format!(
        "env -u NO_COLOR XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state TERM=xterm-256color \
         {bin} --config {config}; echo \"EXIT=$?\"; sleep 600",
        bin = env!("CARGO_BIN_EXE_flightdeck"),
        config = config.display(),
    );
    let started = Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "160", "-y", "50", "sh", "-c", &script])
        .env_remove("TMUX")
        .status();
    if !started.is_ok_and(|s| s.success()) {
        eprintln!("soak: tmux new-session failed");
        return ExitCode::FAILURE;
    }
    let tmux = Tmux(name);
    let launched = Instant::now();
    let pid = loop {
        if let Some(pid) = tmux.pid() {
            break pid;
        }
        if launched.elapsed() > Duration::from_secs(20) {
            eprintln!("soak: the cockpit did not start:\n{}", tmux.capture());
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let tick = ticks_per_second();
    let cells = FAULTS.len() * 2 * ENVIRONMENTS.len();
    println!(
        "soak: flightdeck pid {pid}, {cells} cells every 2s, good/storm phases of {}s, for {}, a sample every {}",
        PHASE.as_secs(),
        humantime::format_duration(options.duration),
        humantime::format_duration(options.every)
    );
    println!(
        "{:>6} {:>6} {:>9} {:>7} {:>4} {:>6} {:>6} {:>9} {:>5}",
        "t", "phase", "rss_kb", "threads", "fds", "cpu%", "fps", "requests", "open"
    );

    let mut samples: Vec<Sample> = Vec::new();
    let mut next_sample = options.every;
    let mut storm = false;
    let mut phase_started = Instant::now();
    let mut died = None;
    while launched.elapsed() < options.duration {
        std::thread::sleep(Duration::from_millis(250));
        if phase_started.elapsed() >= PHASE {
            storm = !storm;
            if !storm {
                server.shared.round.fetch_add(1, Ordering::SeqCst);
            }
            server.set_storm(storm);
            phase_started = Instant::now();
        }
        if launched.elapsed() < next_sample {
            continue;
        }
        next_sample += options.every;
        let Some(s) = sample(pid, launched.elapsed()) else {
            died = Some(launched.elapsed());
            break;
        };
        let cpu = samples
            .last()
            .map_or(0.0, |p| (s.cpu_ticks - p.cpu_ticks) as f64 / tick / (s.at - p.at).as_secs_f64() * 100.0);
        let fps = last_fps(&log).map_or("-".to_string(), |f| format!("{f:.1}"));
        println!(
            "{:>5}s {:>6} {:>9} {:>7} {:>4} {:>6.1} {:>6} {:>9} {:>5}",
            s.at.as_secs(),
            if storm { "storm" } else { "good" },
            s.rss_kb,
            s.threads,
            s.fds,
            cpu,
            fps,
            server.shared.hits.lock().map(|h| h.len()).unwrap_or_default(),
            server.shared.open.load(Ordering::SeqCst)
        );
        samples.push(s);
        // The server's log of hits is for the tests: keep the soak's own memory flat.
        if let Ok(mut hits) = server.shared.hits.lock()
            && hits.len() > 100_000
        {
            hits.clear();
        }
    }

    let screen = tmux.capture();
    if let Some(at) = died {
        eprintln!("soak: FAIL: the cockpit died after {}s:\n{screen}", at.as_secs());
        return ExitCode::FAILURE;
    }
    // Quit, and check it exits cleanly.
    let _ = Command::new("tmux").args(["send-keys", "-t", &tmux.0, "q"]).status();
    let quit = Instant::now();
    let exit = loop {
        let screen = tmux.capture();
        if let Some(line) = screen.lines().find(|l| l.starts_with("EXIT=")) {
            break line.trim().to_string();
        }
        if quit.elapsed() > Duration::from_secs(10) {
            break "no exit within 10 s of q".to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    };

    if samples.len() < 2 {
        eprintln!("soak: too short for a verdict ({} samples)", samples.len());
        return ExitCode::FAILURE;
    }
    // Compare the first samples after a warm-up (one good and one storm
    // phase: the allocator's first high-water mark, connection pools) with
    // the last ones.
    let warm_up = (2 * PHASE).min(options.duration / 3);
    let warm: Vec<Sample> = samples.iter().copied().filter(|s| s.at >= warm_up).collect();
    if warm.len() < 2 {
        eprintln!("soak: too short for a verdict ({} samples after the warm-up)", warm.len());
        return ExitCode::FAILURE;
    }
    let k = (warm.len() / 4).clamp(1, 3);
    let (first, last) = (&warm[..k], &warm[warm.len() - k..]);
    let max = |s: &[Sample], f: fn(&Sample) -> u64| s.iter().map(f).max().unwrap_or_default();
    let rss = (max(first, |s| s.rss_kb), max(last, |s| s.rss_kb));
    let threads = (max(first, |s| s.threads as u64), max(last, |s| s.threads as u64));
    let fds = (max(first, |s| s.fds as u64), max(last, |s| s.fds as u64));
    let peak_rss = max(&samples, |s| s.rss_kb);
    let total_cpu = (samples[samples.len() - 1].cpu_ticks - samples[0].cpu_ticks) as f64
        / tick
        / (samples[samples.len() - 1].at - samples[0].at).as_secs_f64()
        * 100.0;
    println!("{}", screen.lines().next().unwrap_or_default());
    println!("soak: {exit} after q");
    let start = samples[0];
    println!(
        "soak: at the first sample ({}s): RSS {} kB, threads {}, fds {}; after the {}s warm-up → end: RSS {} kB → {} kB \
         (peak {peak_rss} kB), threads {} → {}, fds {} → {}; CPU {total_cpu:.1}% of one core",
        start.at.as_secs(),
        start.rss_kb,
        start.threads,
        start.fds,
        warm_up.as_secs(),
        rss.0,
        rss.1,
        threads.0,
        threads.1,
        fds.0,
        fds.1
    );
    // Flat: within 20% (and 4 MB) of the start; no more threads; fds within
    // the fetches that may be in flight at one moment.
    let mut failures = Vec::new();
    if rss.1 > rss.0 + (rss.0 / 5).max(4096) {
        failures.push(format!("RSS grew from {} to {} kB", rss.0, rss.1));
    }
    if threads.1 > threads.0 {
        failures.push(format!("threads grew from {} to {}", threads.0, threads.1));
    }
    if fds.1 > fds.0 + 16 {
        failures.push(format!("file descriptors grew from {} to {}", fds.0, fds.1));
    }
    if exit != "EXIT=0" {
        failures.push(format!("quit: {exit}"));
    }
    drop(tmux);
    drop(rt);
    if failures.is_empty() {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!("soak: FAIL: {}", failures.join("; "));
        ExitCode::FAILURE
    }
}
