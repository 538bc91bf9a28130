//! End-to-end: the real binary in a real terminal (tmux). Skips with a
//! message when tmux is absent on a developer machine; fails in CI.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Session {
    name: String,
    dir: tempfile::TempDir,
}

impl Session {
    /// Start `flightdeck ARGS` in a detached tmux session of 140×40, in a
    /// shell that reports the exit code and the terminal mode afterwards.
    fn start(tag: &str, args: &str) -> Option<Session> {
        if Command::new("tmux").arg("-V").output().is_err() {
            if std::env::var_os("CI").is_some() {
                panic!("tmux is required in CI for the end-to-end tests (apt-get install tmux)");
            }
            eprintln!("SKIPPED: tmux not found; the end-to-end terminal test did not run");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let name = format!("fd-e2e-{tag}-{}", std::process::id());
        let bin = env!("CARGO_BIN_EXE_flightdeck");
        let d = dir.path().display();
        let script = format!(
            "env -u NO_COLOR XDG_CONFIG_HOME={d}/config XDG_DATA_HOME={d}/data XDG_STATE_HOME={d}/state TERM=xterm-256color \
             {bin} {args}; echo \"EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; sleep 60"
        );
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "140", "-y", "40", "sh", "-c", &script])
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Some(Session { name, dir })
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.name]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &str) {
        Command::new("tmux").args(["send-keys", "-t", &self.name, keys]).status().unwrap();
    }

    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if cond(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen was:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn display(&self, format: &str) -> String {
        let out = Command::new("tmux").args(["display-message", "-p", "-t", &self.name, format]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
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
    // The shell prints the exit code, then the terminal's canonical-mode flag.
    let screen = session.wait_for(
        "the terminal mode after exit",
        |s| s.lines().any(|l| l.trim() == "icanon" || l.trim() == "-icanon"),
        Duration::from_secs(10),
    );
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.lines().any(|l| l.trim() == "icanon"), "raw mode left on:\n{screen}");
    assert_eq!(session.display("#{alternate_on}"), "0", "still in the alternate screen");
}

#[test]
fn demo_runs_shows_help_and_quits_cleanly() {
    // No config anywhere: plain `flightdeck` runs the demo and says so.
    let Some(session) = Session::start("quit", "") else { return };
    let screen = session.wait_for("the matrix", matrix_ready, Duration::from_secs(30));
    assert!(screen.contains("DEMO (no config found)"), "{screen}");
    assert!(screen.contains("Release progress"), "{screen}");
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
fn detail_filter_and_sigterm_restore_the_terminal() {
    let Some(session) = Session::start("term", "demo --speed 4") else { return };
    session.wait_for("the matrix", matrix_ready, Duration::from_secs(30));

    // Open the detail of the first cell, close it.
    session.send("Enter");
    let screen = session.wait_for("the detail popup", |s| s.contains("Cell detail"), Duration::from_secs(15));
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
    let screen = session.wait_for("the filter", |s| s.contains("1 of 12 services"), Duration::from_secs(15));
    assert!(screen.contains("gateway") && !screen.contains("payments  "), "{screen}");

    let pid = session.flightdeck_pid();
    assert!(!pid.is_empty(), "flightdeck is not running");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let screen = session.wait_for("exit after SIGTERM", |s| s.contains("EXIT="), Duration::from_secs(10));
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_restored(&session);
}
