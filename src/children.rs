//! Programs flightdeck starts (the `command` source) and how they end.
//!
//! Each program runs as the leader of its own process group, registered
//! here while it runs. When its fetch ends (done, timed out, dropped) the
//! whole group is killed, so a wrapper's own children go with it; on every
//! way out of the cockpit (quit, a signal, a panic, a start-up error)
//! [`end_all`] kills whatever is still registered, so nothing is left
//! running with PID 1 as its parent.

use std::collections::BTreeSet;
use std::sync::Mutex;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn running() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    // A poisoned lock only means a thread panicked while holding it; the
    // set is still right (insert and remove cannot half-happen).
    RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running program's process group: killed when this is dropped.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: i32,
}

impl ProcessGroup {
    /// Register the group led by `pid` (spawned with `process_group(0)`).
    pub(crate) fn register(pid: u32) -> Option<ProcessGroup> {
        let pgid = i32::try_from(pid).ok().filter(|&p| p > 0)?;
        running().insert(pgid);
        Some(ProcessGroup { pgid })
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        running().remove(&self.pgid);
        kill(self.pgid);
    }
}

fn kill(pgid: i32) {
    // ESRCH (the group is gone already) is the usual, fine answer.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

/// Kill every program still running (each with its process group). Safe
/// from a panic hook; returns how many groups were signalled.
pub(crate) fn end_all() -> usize {
    let groups: Vec<i32> = std::mem::take(&mut *running()).into_iter().collect();
    for &pgid in &groups {
        kill(pgid);
    }
    groups.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Running (a zombie left to an init that does not reap is gone too).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
    }

    #[test]
    fn dropping_the_group_kills_the_program_and_its_children() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 300 & echo $!; wait"])
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        let group = ProcessGroup::register(child.id()).unwrap();
        assert!(alive(grandchild));
        drop(group);
        let status = child.wait().unwrap();
        assert!(!status.success(), "the shell was killed");
        // The grandchild is reparented and reaped by init; wait until gone.
        let start = std::time::Instant::now();
        while alive(grandchild) && start.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!alive(grandchild), "the program's own child survived");
    }
}
