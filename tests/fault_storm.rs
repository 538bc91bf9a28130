//! Resilience: the real cockpit in tmux, polling a fault server on loopback
//! through the `http` source. First every cell answers a good reading; then
//! a storm: stalls, drips, resets, 5xx, 429 with `Retry-After`, malformed,
//! truncated and 50 MB bodies, invalid UTF-8, versions carrying terminal
//! control sequences, bidi overrides and very wide characters.
//!
//! Checked: the process stays up and keeps drawing (frames per second
//! during the storm, from the log), the last known values stay with their
//! age, `Retry-After` is obeyed even through `r` (refresh now), nothing
//! hostile reaches the terminal raw (every byte the program writes is
//! captured with `tmux pipe-pane`), and the terminal is restored on quit.
//!
//! Ignored in a plain `cargo test` (it needs tmux); `cargo test -- --ignored` runs it (.ci/run does).

#[path = "support/fault_server.rs"]
mod fault_server;
#[path = "support/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fault_server::{FAILING, FAULTS, FaultServer, RETRY_AFTER_SECS, fault_of, good_version};

const STORM: Duration = Duration::from_secs(25);
const MIN_FPS: f64 = 0.5;

struct Pane {
    tmux: tmux::Tmux,
    dir: PathBuf,
}

impl Pane {
    /// The cockpit's pid: the pane's shell's child, checked by name.
    fn flightdeck_pid(&self) -> u32 {
        let shell = self.display("#{pane_pid}");
        let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        let pids: Vec<u32> =
            String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.into_iter()
            .find(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "flightdeck"))
            .expect("flightdeck is running in the pane")
    }
}

impl std::ops::Deref for Pane {
    type Target = tmux::Tmux;
    fn deref(&self) -> &tmux::Tmux {
        &self.tmux
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).status();
    }
}

fn config_text(addr: std::net::SocketAddr) -> String {
    let services: String = FAULTS.iter().map(|s| format!("[[services]]\nname = \"{s}\"\n")).collect();
    let targets: String = FAULTS.iter().map(|s| format!("{s} = \"{}\"\n", good_version(1))).collect();
    format!(
        r#"
[[environments]]
name = "dev"

[[environments]]
name = "prod"

{services}
[release]
name = "storm"

[release.targets]
{targets}
[[sources]]
name = "endpoints"
kind = "http"
url = "http://{addr}/{{service}}/{{env}}"
every = "1s"
timeout = "1s"

[poller]
max_backoff = "3s"
"#
    )
}

/// The matrix row of `service` (the text after the left border).
fn row<'a>(screen: &'a str, service: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.trim_start_matches('│').split_whitespace().next() == Some(service))
        .unwrap_or_else(|| panic!("no row for {service}:\n{screen}"))
}

/// Ages shown with the failing mark (`25s⚠`), in seconds.
fn failing_ages(row: &str) -> Vec<u64> {
    row.match_indices("s⚠")
        .filter_map(|(i, _)| {
            let digits: String =
                row[..i].chars().rev().take_while(char::is_ascii_digit).collect::<Vec<_>>().into_iter().rev().collect();
            digits.parse().ok()
        })
        .collect()
}

/// Byte sequences that must never reach the terminal from a source.
fn hostile_sequences() -> Vec<(&'static str, Vec<u8>)> {
    let mut list = vec![
        ("OSC (ESC ])", b"\x1b]".to_vec()),
        ("DCS (ESC P)", b"\x1bP".to_vec()),
        ("APC (ESC _)", b"\x1b_".to_vec()),
        ("RIS (ESC c)", b"\x1bc".to_vec()),
        ("BEL", b"\x07".to_vec()),
        ("clear screen (CSI 2J)", b"\x1b[2J".to_vec()),
        ("U+202E right-to-left override", "\u{202e}".as_bytes().to_vec()),
        ("the OSC payload `pwned`", b"pwned".to_vec()),
    ];
    // C1 controls, UTF-8 encoded (U+0080..U+009F).
    for b in 0x80u8..=0x9f {
        list.push(("a C1 control", vec![0xc2, b]));
    }
    list
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `frames drawn` lines: (logged at, frames, period).
fn frame_periods(log: &str) -> Vec<(jiff::Timestamp, u64, Duration)> {
    log.lines()
        .filter(|l| l.contains("frames drawn frames="))
        .map(|l| {
            let at: jiff::Timestamp = l.split_whitespace().next().unwrap().parse().unwrap();
            let field = |name: &str| -> u64 {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{name}=")))
                    .unwrap_or_else(|| panic!("no {name} in {l}"))
                    .parse()
                    .unwrap()
            };
            (at, field("frames"), Duration::from_millis(field("period_ms")))
        })
        .collect()
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("state/flightdeck/flightdeck.log")).unwrap_or_default()
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn the_cockpit_rides_out_a_fault_storm() {
    tmux::require("the fault-storm terminal test");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = rt.block_on(FaultServer::start());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let config = dir.join("fd.toml");
    std::fs::write(&config, config_text(server.addr)).unwrap();
    let raw = dir.join("raw-output.bin");
    let go = dir.join("go");

    // The shell waits for `go`, so the pipe is in place before the first byte.
    let name = format!("fd-storm-{}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_flightdeck");
    let d = dir.display();
    let script = format!(
        "until [ -e {go} ]; do sleep 0.05; done; \
         env -u NO_COLOR XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state TERM=xterm-256color \
         {bin} --config {config}; echo \"EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60",
        go = go.display(),
        config = config.display(),
    );
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "140", "-y", "40", "sh", "-c", &script])
        .env_remove("TMUX")
        .status()
        .unwrap();
    assert!(status.success(), "tmux new-session failed");
    let pane = Pane { tmux: tmux::Tmux { name }, dir: dir.clone() };
    let pipe = format!("cat >> '{}'", raw.display());
    assert!(Command::new("tmux").args(["pipe-pane", "-o", "-t", &pane.name, &pipe]).status().unwrap().success());
    std::fs::write(&go, "").unwrap();

    // Good phase: every cell shows the good reading.
    let cells = FAULTS.len() * 2;
    let good = format!("{} #77", good_version(1));
    pane.wait_for(
        "every cell read once",
        |s| s.matches(&good).count() == cells && s.contains(&format!("{} of {} services", FAULTS.len(), FAULTS.len())),
        Duration::from_secs(30),
    );
    let pid = pane.flightdeck_pid();
    let alive = || Path::new(&format!("/proc/{pid}")).exists();

    // The storm.
    server.set_storm(true);
    let storm_started = Instant::now();
    let storm_started_at = jiff::Timestamp::now();
    let mut refreshes = 0;
    let mut popup_shown = false;
    while storm_started.elapsed() < STORM {
        assert!(alive(), "the cockpit died {:?} into the storm", storm_started.elapsed());
        let t = storm_started.elapsed().as_secs();
        // `r` asks for every cell now: Retry-After must still hold.
        if refreshes < 3 && t >= 4 + 5 * refreshes {
            pane.send("r");
            refreshes += 1;
        }
        // The detail popup of the first cell (`errors` in dev) shows its error.
        if !popup_shown && t >= 8 {
            pane.send("Enter");
            let screen = pane.wait_for("the detail popup", |s| s.contains("Cell detail"), Duration::from_secs(10));
            assert!(screen.contains("errors in dev"), "{screen}");
            assert!(!screen.contains("pwned"), "{screen}");
            pane.send("Escape");
            popup_shown = true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let storm_ended_at = jiff::Timestamp::now();
    let storm_secs = storm_started.elapsed().as_secs_f64();
    let screen = pane.wait_for("the popup closed", |s| !s.contains("Cell detail"), Duration::from_secs(10));
    assert!(alive(), "the cockpit died during the storm");
    server.set_storm(false);

    // Last known values stay, marked failing, with an age that grew through the storm.
    for service in FAILING {
        let line = row(&screen, service);
        assert_eq!(line.matches(&good).count(), 2, "last known value of {service} kept in dev and prod:\n{screen}");
        let ages = failing_ages(line);
        assert_eq!(ages.len(), 2, "{service}: both cells marked failing with an age:\n{screen}");
        // The last good reading came before the storm (or within its first
        // few seconds, for a cell fetched just before the switch).
        assert!(
            ages.iter().all(|&a| a + 6 >= STORM.as_secs()),
            "{service}: ages {ages:?} after {storm_secs:.0}s:\n{screen}"
        );
    }
    let line = row(&screen, "good");
    assert_eq!(line.matches(&good).count(), 2, "{screen}");
    assert!(failing_ages(line).is_empty(), "the good service is not failing:\n{screen}");
    // Hostile versions arrive cleaned; wide ones are cut to the cell.
    assert_eq!(row(&screen, "hostile").matches("3.1.0-rc1").count(), 2, "{screen}");
    assert!(row(&screen, "wide").contains("3.2.0-测试版"), "{screen}");
    assert!(row(&screen, "wide").contains("3.3.0-界界"), "{screen}");
    assert!(!screen.contains("pwned"), "{screen}");
    println!("screen at the end of the storm:\n{screen}");

    pane.send("q");
    let screen = pane.wait_for(
        "exit and the terminal mode",
        |s| s.lines().any(|l| l.trim() == "icanon" || l.trim() == "-icanon"),
        Duration::from_secs(15),
    );
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.lines().any(|l| l.trim() == "icanon"), "raw mode left on:\n{screen}");
    assert_eq!(pane.display("#{alternate_on}"), "0", "still in the alternate screen");

    // Nothing hostile reached the terminal raw.
    let bytes = std::fs::read(&raw).unwrap();
    assert!(bytes.len() > 10_000, "pipe-pane captured only {} bytes", bytes.len());
    assert!(find(&bytes, b"\x1b[?1049h").is_some(), "the capture holds the cockpit's output");
    for (what, seq) in hostile_sequences() {
        if let Some(at) = find(&bytes, &seq) {
            let from = at.saturating_sub(60);
            panic!(
                "{what} reached the terminal at byte {at} of {}: {:?}",
                bytes.len(),
                String::from_utf8_lossy(&bytes[from..(at + 60).min(bytes.len())])
            );
        }
    }

    // The server saw every fault, and Retry-After was obeyed per cell.
    let hits = server.shared.hits();
    let storm_hits: Vec<_> = hits.iter().filter(|h| h.storm).collect();
    for fault in FAULTS {
        let n = storm_hits.iter().filter(|h| fault_of(&h.service) == *fault).count();
        assert!(n >= 4, "{fault} was asked only {n} times in the storm");
    }
    let allowed = (storm_secs / RETRY_AFTER_SECS as f64).floor() as usize + 1;
    for env in ["dev", "prod"] {
        let times: Vec<_> =
            storm_hits.iter().filter(|h| h.service == "limited" && h.env == env).map(|h| h.at).collect();
        assert!(times.len() >= 2, "limited/{env}: retried after the wait ({} requests)", times.len());
        assert!(
            times.len() <= allowed,
            "limited/{env}: {} requests in {storm_secs:.1}s, Retry-After allows {allowed}",
            times.len()
        );
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= Duration::from_millis(RETRY_AFTER_SECS * 1000 - 50),
                "limited/{env}: asked again after {gap:?}"
            );
        }
        println!(
            "limited/{env}: {} requests in {storm_secs:.1}s of storm (Retry-After {RETRY_AFTER_SECS}s allows {allowed})",
            times.len()
        );
    }
    println!(
        "storm: {} requests in {storm_secs:.1}s, {} connections still open at the server",
        storm_hits.len(),
        server.shared.open.load(std::sync::atomic::Ordering::SeqCst)
    );

    // Frames per second during the storm, from the periods logged inside it.
    let log = read_log(&pane.dir);
    assert!(log.contains("frames drawn in total"), "no frame total in the log:\n{log}");
    let inside: Vec<_> = frame_periods(&log)
        .into_iter()
        .filter(|(at, _, period)| {
            let started = at.checked_sub(jiff::SignedDuration::try_from(*period).unwrap()).unwrap();
            started >= storm_started_at && *at <= storm_ended_at
        })
        .collect();
    assert!(!inside.is_empty(), "no whole frame period inside the storm:\n{log}");
    let frames: u64 = inside.iter().map(|(_, f, _)| f).sum();
    let secs: f64 = inside.iter().map(|(_, _, p)| p.as_secs_f64()).sum();
    let fps = frames as f64 / secs;
    println!("frames per second during the storm: {fps:.1} ({frames} frames in {secs:.1}s)");
    assert!(fps >= MIN_FPS, "the cockpit drew {fps:.2} frames per second during the storm");
    drop(rt);
}
