//! End-to-end: the real binary in a real terminal (tmux). Each test is
//! ignored in a plain `cargo test` (it needs tmux); `cargo test -- --ignored`
//! runs them, and `.ci/run` does after installing tmux.

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "support/tmux.rs"]
mod tmux;

struct Session {
    tmux: tmux::Tmux,
    /// Config, data and state dirs; shared by sessions that restart the cockpit.
    dir: Rc<tempfile::TempDir>,
}

impl Session {
    /// Start `flightdeck ARGS` in a detached tmux session of 140×40, in a
    /// shell that reports the exit code and the terminal mode afterwards.
    fn start(tag: &str, args: &str) -> Session {
        Session::start_in(tag, args, Rc::new(tempfile::tempdir().unwrap()), "")
    }

    /// Like `start`, in the dirs of `dir`, with `NAME=value` settings added.
    fn start_in(tag: &str, args: &str, dir: Rc<tempfile::TempDir>, env: &str) -> Session {
        Session::start_sized(tag, args, dir, env, (140, 40))
    }

    /// Like `start_in`, in a terminal of `width`×`height`.
    fn start_sized(tag: &str, args: &str, dir: Rc<tempfile::TempDir>, env: &str, size: (u16, u16)) -> Session {
        tmux::require("the end-to-end terminal test");
        let name = format!("fd-e2e-{tag}-{}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_flightdeck");
        let d = dir.path().display();
        let script = format!(
            "env -u NO_COLOR XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state TERM=xterm-256color {env} \
             {bin} {args}; echo \"EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60"
        );
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", &size.0.to_string(), "-y", &size.1.to_string()])
            .args(["sh", "-c", &script])
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Session { tmux: tmux::Tmux { name }, dir }
    }

    fn flightdeck_pid(&self) -> String {
        let shell = self.display("#{pane_pid}");
        let out = Command::new("pgrep").args(["-P", &shell]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string()
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.path().join("state/flightdeck")
    }
}

impl std::ops::Deref for Session {
    type Target = tmux::Tmux;
    fn deref(&self) -> &tmux::Tmux {
        &self.tmux
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).status();
    }
}

fn matrix_ready(screen: &str) -> bool {
    screen.contains("Environment matrix") && screen.contains("payments") && screen.contains("1.4.0 #812")
}

/// Terminal restored: out of the alternate screen and back in canonical mode.
fn assert_restored(session: &Session) {
    assert_restored_after_exit(session, 0);
}

/// As `assert_restored`, after the cockpit exited with `code`; returns the screen.
fn assert_restored_after_exit(session: &Session, code: i32) -> String {
    // The shell prints the exit code, then the terminal's canonical-mode flag.
    let screen = session.wait_for(
        "the terminal mode after exit",
        |s| s.lines().any(|l| l.trim() == "icanon" || l.trim() == "-icanon"),
        Duration::from_secs(10),
    );
    assert!(screen.lines().any(|l| l.trim() == format!("EXIT={code}")), "expected exit code {code}:\n{screen}");
    assert!(screen.lines().any(|l| l.trim() == "icanon"), "raw mode left on:\n{screen}");
    assert_eq!(session.display("#{alternate_on}"), "0", "still in the alternate screen");
    screen
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn demo_runs_shows_help_and_quits_cleanly() {
    // No config anywhere: plain `flightdeck` runs the demo and says so.
    let session = Session::start("quit", "");
    let screen = session.wait_for("the matrix", matrix_ready, Duration::from_secs(30));
    assert!(screen.contains("DEMO (no config found)"), "{screen}");
    assert!(screen.contains("Checklist · minor · 2026.11"), "{screen}");
    assert!(screen.contains("Rollback"), "{screen}");

    session.send("?");
    let screen =
        session.wait_for("the help overlay", |s| s.contains("refresh every cell now"), Duration::from_secs(15));
    assert!(screen.contains("filter services by name"), "{screen}");

    session.send("q");
    let screen = session.wait_for("exit", |s| s.contains("EXIT="), Duration::from_secs(10));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("ran its built-in demo"), "{screen}");
    assert_restored(&session);
    assert!(session.log_dir().join("flightdeck.log").exists(), "no log file in {}", session.log_dir().display());
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn detail_filter_and_sigterm_restore_the_terminal() {
    let session = Session::start("term", "demo --speed 4");
    session.wait_for("the matrix", matrix_ready, Duration::from_secs(30));

    // Open the detail of the first cell, close it.
    session.send("Enter");
    // A capture can land mid-frame: wait for the whole popup.
    let screen = session.wait_for(
        "the detail popup",
        |s| s.contains("Cell detail") && s.contains("fetched_at"),
        Duration::from_secs(15),
    );
    assert!(screen.contains("payments in dev"), "{screen}");
    assert!(screen.contains("fetched_at"), "{screen}");
    session.send("Escape");
    session.wait_for("the popup to close", |s| !s.contains("Cell detail"), Duration::from_secs(15));

    // Filter to one service.
    session.send("/");
    for c in ["g", "a", "t", "e"] {
        session.send(c);
    }
    session.send("Enter");
    // Kept (the prompt gone), the filter shows one matrix row; other panes
    // (rollback) still list every service.
    let screen = session.wait_for(
        "the filter",
        |s| s.contains("1 of 12 services") && !s.contains("filter: "),
        Duration::from_secs(15),
    );
    let matrix_row = |service: &str| screen.lines().any(|l| l.starts_with(&format!("│{service} ")));
    assert!(matrix_row("gateway") && !matrix_row("payments"), "{screen}");

    let pid = session.flightdeck_pid();
    assert!(!pid.is_empty(), "flightdeck is not running");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    // 128 + 15, as a shell reports a program ended by SIGTERM.
    session.wait_for("exit after SIGTERM", |s| s.contains("EXIT="), Duration::from_secs(10));
    assert_restored_after_exit(&session, 143);
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn a_panic_restores_the_terminal_and_is_readable() {
    // The test hook makes the loop panic 3 s after start (see src/app/mod.rs).
    let dir = Rc::new(tempfile::tempdir().unwrap());
    let session =
        Session::start_in("panic", "demo --speed 4", dir, "RUST_BACKTRACE=0 FLIGHTDECK_TEST_PANIC_AFTER=3000");
    let started = Instant::now();
    session.wait_for("the matrix", matrix_ready, Duration::from_secs(30));
    let drawn = started.elapsed();
    let screen = session.wait_for("exit after the panic", |s| s.contains("EXIT="), Duration::from_secs(15));
    assert!(started.elapsed() >= Duration::from_millis(2500), "exited before the hook's delay:\n{screen}");
    assert!(drawn < Duration::from_secs(3), "the matrix came {drawn:?} after start, after the panic");
    let screen = assert_restored_after_exit(&session, 101);
    // The message is on the normal screen, each line starting at column 0
    // (a terminal left raw would print it as a staircase).
    assert!(
        screen.lines().any(|l| l.starts_with("thread 'main'") && l.contains("panicked at src/app/mod.rs")),
        "no panic location:\n{screen}"
    );
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("FLIGHTDECK_TEST_PANIC_AFTER: deliberate panic after 3000 ms (test hook)")),
        "no panic message:\n{screen}"
    );
    // Nothing of the cockpit is left on the restored screen.
    assert!(!screen.contains("Environment matrix"), "{screen}");
}

/// The first item of the patch checklist, shown ticked by `tester`.
fn scope_frozen_ticked_by_tester(screen: &str) -> bool {
    screen.lines().any(|l| l.contains("[x] Scope frozen") && l.contains("tester"))
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn a_tick_survives_kill_9_and_a_restart() {
    let dir = Rc::new(tempfile::tempdir().unwrap());
    // A patch release whose window opens in two hours; its one source
    // points at a port where nothing listens (its cells show errors).
    let now = jiff::Timestamp::now();
    let start = now + jiff::SignedDuration::from_hours(2);
    let end = now + jiff::SignedDuration::from_hours(4);
    let config = dir.path().join("fd.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "2026.11.1"
kind = "patch"
window = {{ start = "{start}", end = "{end}" }}
[release.targets]
payments = "1.4.1"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{{env}}/{{service}}"
every = "5s"
timeout = "1s"
"#
        ),
    )
    .unwrap();
    let args = format!("--config {}", config.display());
    let env = "FLIGHTDECK_OPERATOR=tester";

    let first = Session::start_in("tick", &args, dir.clone(), env);
    first.wait_for("the checklist", |s| s.contains("Checklist · patch · 2026.11.1"), Duration::from_secs(30));
    for _ in 0..3 {
        first.send("Tab");
    }
    // Focused, the checklist shows its items; the first row is selected.
    let screen = first.wait_for(
        "the checklist pane focused",
        |s| s.contains("space tick") && s.contains("[ ] Scope frozen"),
        Duration::from_secs(15),
    );
    assert!(!scope_frozen_ticked_by_tester(&screen), "{screen}");
    first.send("Space");
    let screen = first.wait_for("the tick", scope_frozen_ticked_by_tester, Duration::from_secs(15));
    assert!(screen.contains("recorded: ticked “Scope frozen"), "{screen}");

    // Shown as done, so on disk: kill -9 gives it no chance to flush anything.
    let pid = first.flightdeck_pid();
    assert!(!pid.is_empty(), "flightdeck is not running");
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    first.wait_for("the kill", |s| s.contains("EXIT=137"), Duration::from_secs(10));
    drop(first);

    let journal = dir.path().join("data/flightdeck/releases/2026.11.1.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let ticks: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["action"] == "tick")
        .collect();
    assert_eq!(ticks.len(), 1, "{text}");
    assert_eq!(ticks[0]["item"], "scope-frozen", "{text}");
    assert_eq!(ticks[0]["by"], "tester", "{text}");

    let second = Session::start_in("tick-again", &args, dir.clone(), env);
    second.wait_for("the checklist", |s| s.contains("Checklist · patch · 2026.11.1"), Duration::from_secs(30));
    for _ in 0..3 {
        second.send("Tab");
    }
    let screen = second.wait_for("the tick after the restart", scope_frozen_ticked_by_tester, Duration::from_secs(15));
    assert!(screen.contains("1/"), "{screen}");
    second.send("q");
    second.wait_for("exit", |s| s.contains("EXIT="), Duration::from_secs(10));
    assert_restored(&second);
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn the_demo_rollback_banner_comes_goes_and_rings_once_per_firing() {
    // At 20× speed: shipping's health goes down in prod at 175 s (8.75 s),
    // checkout's error rate jumps at 200 s (10 s) and drops at 260 s (13 s).
    let session = Session::start("banner", "demo --speed 20");
    let raw = session.dir.path().join("raw-output");
    Command::new("tmux")
        .args(["pipe-pane", "-o", "-t", &session.name, &format!("cat >> {}", raw.display())])
        .status()
        .unwrap();
    let screen =
        session.wait_for("the rollback banner", |s| banner_of(s).contains("ROLLBACK TRIGGER"), Duration::from_secs(30));
    let banner = banner_of(&screen);
    assert!(banner.contains("NO-GO"), "{banner}");
    assert!(banner.contains("in prod:"), "names the environment: {banner}");
    assert!(banner.contains("$ deployctl rollback"), "names the rollback command: {banner}");
    session.wait_for(
        "checkout's error rate in the banner",
        |s| banner_of(s).contains("checkout in prod: error_rate"),
        Duration::from_secs(15),
    );
    let screen = session.wait_for(
        "the banner to go",
        |s| matrix_ready(s) && !banner_of(s).contains("ROLLBACK") && banner_of(s).contains("window closes"),
        Duration::from_secs(20),
    );
    assert!(screen.contains("Rollback · baseline at"), "{screen}");
    session.send("q");
    session.wait_for("exit", |s| s.contains("EXIT="), Duration::from_secs(10));
    let bytes = std::fs::read(&raw).unwrap_or_default();
    let bells = bytes.iter().filter(|&&b| b == 0x07).count();
    assert_eq!(bells, 2, "one bell for shipping's health, one for checkout's error rate");
}

/// The status bar, or the rollback banner's lines: the rows above the
/// matrix's border.
fn banner_of(screen: &str) -> String {
    screen.lines().take_while(|l| !l.starts_with('┌')).collect::<Vec<_>>().join("\n")
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn at_80x24_the_banner_reads_its_rollback_command_whole() {
    // The demo at 20× speed: shipping's health goes down in prod once 4.3.0
    // is there (8.75 s), after 4.2.0 ran long enough to be known-good.
    let dir = Rc::new(tempfile::tempdir().unwrap());
    let session = Session::start_sized("banner80", "demo --speed 20", dir, "", (80, 24));
    let screen = session.wait_for(
        "the rollback banner",
        |s| banner_of(s).contains("ROLLBACK TRIGGER") && banner_of(s).contains("$ deployctl"),
        Duration::from_secs(30),
    );
    let banner = banner_of(&screen);
    assert!(banner.lines().count() >= 2, "below 200 columns the banner takes a second line:\n{screen}");
    assert!(banner.lines().all(|l| l.chars().count() <= 80), "{banner}");
    // The service the banner names first, and the version it went back from.
    let previous = [("checkout", "2.7.1"), ("shipping", "4.2.0")];
    let (service, version) = previous
        .iter()
        .find(|(service, _)| banner.contains(&format!("TRIGGER: {service} in prod:")))
        .or_else(|| previous.iter().find(|(service, _)| banner.contains(&format!("TRIGGERS: {service} in prod:"))))
        .unwrap_or_else(|| panic!("a demo trigger in prod:\n{banner}"));
    // The command starts a line of its own and reads whole: nothing cut,
    // no placeholder left.
    let line = banner.lines().find(|l| l.contains("$ deployctl")).unwrap();
    let command = line.trim().split(" │ ").next().unwrap_or_default();
    assert_eq!(command, format!("$ deployctl rollback {service} --env prod --to {version}"), "{screen}");
    assert!(line.trim_start().starts_with("$ deployctl"), "{banner}");
    assert!(!banner.contains("<unknown>"), "{banner}");
    // `w` lists why, over the same screen; Esc closes it.
    session.send("w");
    session.wait_for(
        "the why view",
        |s| s.contains("Why NO-GO") && s.contains("Rollback triggers"),
        Duration::from_secs(10),
    );
    session.send("Escape");
    session.wait_for("the why view to close", |s| !s.contains("Why NO-GO"), Duration::from_secs(10));
    session.send("q");
    session.wait_for("exit", |s| s.contains("EXIT="), Duration::from_secs(10));
    assert_restored(&session);
}

/// A fleet read by a `command` source whose program records its PID and
/// that of a child of its own, then waits: it is still running whenever
/// the cockpit ends. Returns the config path and the PID file.
fn fleet_with_a_running_program(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let pids = dir.join("pids");
    let program = dir.join("slow-version");
    std::fs::write(
        &program,
        format!("#!/bin/sh\necho $$ >> {p}\nsleep 300 &\necho $! >> {p}\nwait\n", p = pids.display()),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.join("fd.toml");
    std::fs::write(
        &config,
        format!(
            r#"
data_dir = "{data}"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[[sources]]
name = "deploy-db"
kind = "command"
program = '{program}'
timeout = "10m"
"#,
            data = dir.join("fd-data").display(),
            program = program.display()
        ),
    )
    .unwrap();
    (config, pids)
}

/// The PIDs the program wrote (itself and its child), once both are there.
fn wait_for_pids(pids: &std::path::Path) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(pids).unwrap_or_default();
        let all: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if all.len() >= 2 {
            return all;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the program never started: {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Running: present and not a zombie (an init that does not reap leaves those).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

fn assert_all_ended(pids: &[u32], how: &str) {
    let start = Instant::now();
    while pids.iter().any(|&p| running(p)) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| running(p)).collect();
    assert!(left.is_empty(), "after {how}, programs still running: {left:?}");
}

/// Every way out of the cockpit restores the terminal (canonical mode, the
/// normal screen, no mouse reporting), ends the programs `command` sources
/// started (and their own children), and exits with the conventional status.
fn ends_cleanly(how: &str, leave: impl Fn(&Session), code: i32, env: &str) {
    let dir = Rc::new(tempfile::tempdir().unwrap());
    let (config, pids) = fleet_with_a_running_program(dir.path());
    let tag = how.replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let session = Session::start_in(&tag, &format!("--config {}", config.display()), dir.clone(), env);
    session.wait_for(
        "the matrix",
        |s| s.contains("Environment matrix") && s.contains("payments"),
        Duration::from_secs(30),
    );
    let started = wait_for_pids(&pids);
    assert!(started.iter().all(|&p| running(p)), "{started:?}");
    assert_eq!(session.display("#{mouse_any_flag}"), "1", "the cockpit asks for the mouse while it runs");
    leave(&session);
    session.wait_for(&format!("exit after {how}"), |s| s.contains("EXIT="), Duration::from_secs(15));
    assert_restored_after_exit(&session, code);
    assert_eq!(session.display("#{mouse_any_flag}"), "0", "mouse reporting left on after {how}");
    assert_all_ended(&started, how);
}

fn kill(session: &Session, signal: &str) {
    let pid = session.flightdeck_pid();
    assert!(!pid.is_empty(), "flightdeck is not running");
    assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn q_and_ctrl_c_restore_the_terminal_and_end_the_programs() {
    ends_cleanly("q", |s| s.send("q"), 0, "");
    ends_cleanly("Ctrl-C", |s| s.send("C-c"), 0, "");
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn every_ending_signal_restores_the_terminal_and_ends_the_programs() {
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129), ("QUIT", 131)] {
        ends_cleanly(&format!("SIG{signal}"), |s| kill(s, signal), code, "");
    }
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn a_panic_ends_the_programs_too() {
    ends_cleanly("a panic", |_| {}, 101, "RUST_BACKTRACE=0 FLIGHTDECK_TEST_PANIC_AFTER=8000");
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn a_start_up_error_after_the_first_frame_restores_the_terminal() {
    // The observation journal cannot be opened (a directory is in its
    // place): the cockpit has drawn its first frame and started its
    // sources by then, and must leave as cleanly as by `q`.
    let dir = Rc::new(tempfile::tempdir().unwrap());
    let (config, pids) = fleet_with_a_running_program(dir.path());
    std::fs::create_dir_all(dir.path().join("fd-data/observations.jsonl")).unwrap();
    let session = Session::start_in("startup", &format!("--config {}", config.display()), dir.clone(), "");
    session.wait_for("exit after the error", |s| s.contains("EXIT="), Duration::from_secs(30));
    let screen = assert_restored_after_exit(&session, 1);
    assert!(screen.contains("opening the observation journal"), "{screen}");
    assert_eq!(session.display("#{mouse_any_flag}"), "0", "mouse reporting left on");
    // (Whether the program had started by then is up to the scheduler: the
    // children on the other ways out are checked by the tests above.)
    drop(pids);
}

/// A commit line of the changes view: a short sha, then a conventional
/// subject (`78d419d feat(payments): …`), inside the popup's border.
fn lists_a_commit(screen: &str) -> bool {
    screen.lines().flat_map(|l| l.split('│')).any(|part| {
        let part = part.trim_start();
        part.len() > 9
            && part.as_bytes()[..7].iter().all(u8::is_ascii_hexdigit)
            && part.as_bytes()[7] == b' '
            && part.contains("):")
    })
}

/// The demo at `size`: what ships is there. `c` opens the changes view
/// (prod → target, with commits, the accounts hotfix first), the
/// `not_merged_back` finding for accounts is in the findings pane, and
/// the release channel's webhook answers show in the events pane.
fn what_ships_in_the_demo(tag: &str, size: (u16, u16)) {
    let dir = Rc::new(tempfile::tempdir().unwrap());
    // At 4× the prod wave starts 35 s in: until then prod gains the release.
    let session = Session::start_sized(tag, "demo --speed 4", dir, "", size);
    session.wait_for(
        "the matrix",
        |s| s.contains("Environment matrix") && s.contains("payments") && s.contains("1.4.0"),
        Duration::from_secs(30),
    );

    session.send("c");
    let screen = session.wait_for(
        "the changes view with commits and the hotfix",
        |s| s.contains("What ships") && lists_a_commit(s) && s.contains("⎇ accounts 2.3.1 in prod runs"),
        Duration::from_secs(20),
    );
    assert!(screen.contains("prod → target · release 2026.11:"), "{screen}");
    assert!(
        screen.lines().any(|l| l.contains("│payments ") && l.contains(" prod 1.3.2 → target 1.4.0: +")),
        "{screen}"
    );
    assert!(screen.lines().all(|l| l.chars().count() <= usize::from(size.0)), "{screen}");
    // It scrolls, and Esc closes it.
    session.send("PageDown");
    session.wait_for("the view scrolled", |s| s.contains(" above"), Duration::from_secs(10));
    session.send("Escape");
    session.wait_for("the view to close", |s| !s.contains("What ships"), Duration::from_secs(10));

    // The finding, found by its kind in the findings pane.
    session.send("Tab");
    session.send("/");
    for c in ["n", "o", "t"] {
        session.send(c);
    }
    session.send("Enter");
    let screen = session.wait_for(
        "the not_merged_back finding",
        // The filtered, focused pane has the room for the whole message: wait
        // for it (the unfiltered pane shows the finding cut short first).
        |s| {
            s.lines().any(|l| {
                l.contains("⎇ ") && l.contains("accounts 2.3.1 in prod runs") && l.contains("which is not in main")
            })
        },
        Duration::from_secs(15),
    );
    assert!(screen.contains("which is not in main"), "{screen}");
    // Cleared (the filter of findings is the events' too), then the events.
    session.send("Escape");
    session.send("Tab");
    let screen = session.wait_for(
        "a notification in the events pane",
        |s| s.contains("Events ·") && s.contains("✉ told release-channel"),
        Duration::from_secs(60),
    );
    assert!(!screen.contains("could not tell"), "{screen}");
    session.send("q");
    session.wait_for("exit", |s| s.contains("EXIT="), Duration::from_secs(10));
    assert_restored(&session);
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn at_80x24_the_demo_shows_what_ships_and_who_was_told() {
    what_ships_in_the_demo("ships80", (80, 24));
}

#[test]
#[ignore = "needs tmux: cargo test -- --ignored (.ci/run does)"]
fn at_100x30_the_demo_shows_what_ships_and_who_was_told() {
    what_ships_in_the_demo("ships100", (100, 30));
}
