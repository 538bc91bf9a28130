//! A tmux session seen from a test: capture the screen, send keys, ask
//! tmux, wait for the screen to say something. Shared by the end-to-end
//! tests (included with `#[path]`).

use std::process::Command;
use std::time::{Duration, Instant};

/// Fail unless tmux is here. Every test that calls this is marked
/// `#[ignore = "needs tmux …"]`: a plain `cargo test` lists it as ignored,
/// never as passed; `cargo test -- --ignored` (what `.ci/run` does after
/// installing tmux) runs it, and then a missing tmux is a failure.
pub fn require(what: &str) {
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is required for {what} (apt-get install tmux)");
    }
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
