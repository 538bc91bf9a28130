//! A tmux session seen from a test: capture the screen, send keys, ask
//! tmux, wait for the screen to say something. Shared by the end-to-end
//! tests (included with `#[path]`).

use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tmux is absent: a developer's machine skips (and says so, naming
/// `what` did not run); CI fails, since the test must run there.
pub fn missing(what: &str) -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        panic!("tmux is required in CI for {what} (apt-get install tmux)");
    }
    eprintln!("SKIPPED: tmux not found; {what} did not run");
    true
}

pub struct Tmux {
    pub name: String,
}

impl Tmux {
    pub fn capture(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.name]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn send(&self, keys: &str) {
        Command::new("tmux").args(["send-keys", "-t", &self.name, keys]).status().unwrap();
    }

    pub fn display(&self, format: &str) -> String {
        let out = Command::new("tmux").args(["display-message", "-p", "-t", &self.name, format]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Capture until `cond` holds; panic with the last screen after `timeout`.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool, timeout: Duration) -> String {
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
}
