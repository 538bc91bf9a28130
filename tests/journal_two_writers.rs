//! Two cockpits on one release journal: two child processes (this test
//! binary, re-executed as the writer, see `main`) append to the same file
//! at once while a reader in the test polls it. No event is lost, garbled
//! or interleaved, each writer's events keep their order, and the reader
//! sees every event within a second of its acknowledgement.
#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flightdeck::journal::release::{EventStore, FileStore, ReleaseAction, ReleaseEvent, release_path};
use jiff::Timestamp;
use libtest_mimic::Trial;

const WRITER_PATH: &str = "FD_JOURNAL_WRITER";
const WRITER_NAME: &str = "FD_JOURNAL_WRITER_NAME";
const PER_WRITER: usize = 300;
const POLL_EVERY: Duration = Duration::from_millis(20);
/// What "see each other's ticks within a second" allows.
const SEEN_WITHIN: Duration = Duration::from_secs(1);

/// Writer mode: this test binary run again with the writer's variables set
/// (see `main`). Starts appending
/// when the test says `go` on stdin, so that both writers run at once.
fn writer(path: std::ffi::OsString) {
    let name = std::env::var(WRITER_NAME).unwrap();
    let mut store = FileStore::open(Path::new(&path)).unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    assert_eq!(go, "go\n");
    let mut out = std::io::stdout().lock();
    for seq in 0..PER_WRITER {
        let action = ReleaseAction::Tick { item: format!("{name}-{seq}"), note: Some(format!("{name} was here")) };
        let event = ReleaseEvent::new(name.as_str(), Timestamp::now(), action);
        store.append(&event).unwrap();
        writeln!(out, "ack {}", event.id).unwrap();
        out.flush().unwrap();
    }
}

fn spawn_writer(path: &Path, name: &str, acks: mpsc::Sender<(String, Instant)>) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(WRITER_PATH, path)
        .env(WRITER_NAME, name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(id) = line.strip_suffix('\n').and_then(ack_id) {
                let _ = acks.send((id.to_owned(), Instant::now()));
            }
            line.clear();
        }
    });
    child
}

fn finish(mut child: Child, name: &str) {
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "writer {name}: {status}\n{stderr}");
}

fn two_writers_lose_nothing_and_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = release_path(dir.path(), "2026.11 / two cockpits");
    let mut reader = FileStore::open(&path).unwrap();
    assert!(reader.load().unwrap().is_empty());

    let (tx, acks) = mpsc::channel();
    let mut a = spawn_writer(&path, "ana", tx.clone());
    let mut b = spawn_writer(&path, "bo", tx);
    for child in [&mut a, &mut b] {
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }

    // Poll like a cockpit would (faster), noting when each event shows up.
    let started = Instant::now();
    let mut polled = Vec::new();
    let mut seen_at: HashMap<String, Instant> = HashMap::new();
    let mut polls = 0;
    while polled.len() < 2 * PER_WRITER && started.elapsed() < Duration::from_secs(15) {
        let events = reader.poll().unwrap();
        polls += 1;
        let now = Instant::now();
        for e in &events {
            assert!(seen_at.insert(e.id.clone(), now).is_none(), "{} polled twice", e.id);
        }
        polled.extend(events);
        std::thread::sleep(POLL_EVERY);
    }
    finish(a, "ana");
    finish(b, "bo");
    let elapsed = started.elapsed();
    let acked: Vec<(String, Instant)> = acks.iter().collect();

    // Exactly the 600 events, each writer's in its own order.
    assert_eq!(acked.len(), 2 * PER_WRITER, "acks");
    assert_eq!(polled.len(), 2 * PER_WRITER, "polled");
    assert_eq!(reader.report().duplicates, 0);
    let mut next: HashMap<&str, usize> = HashMap::new();
    for e in &polled {
        let ReleaseAction::Tick { item, note } = &e.action else { panic!("not a tick: {e:?}") };
        let expected = next.entry(e.by.as_str()).or_default();
        assert_eq!(item, &format!("{}-{expected}", e.by), "{} out of order", e.by);
        assert_eq!(note.as_deref(), Some(format!("{} was here", e.by).as_str()));
        *expected += 1;
    }
    assert_eq!(next, HashMap::from([("ana", PER_WRITER), ("bo", PER_WRITER)]));
    let ids: HashSet<&str> = polled.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), polled.len(), "no duplicate ids");
    assert!(acked.iter().all(|(id, _)| ids.contains(id.as_str())), "every ack polled");

    // A fresh load reads the same, and every line of the file is an event.
    let mut fresh = FileStore::open(&path).unwrap();
    assert_eq!(fresh.load().unwrap(), polled, "the poller saw the file's order");
    assert_eq!(fresh.report().skipped, 0);
    assert!(!fresh.report().torn_tail);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count(), 2 * PER_WRITER);
    for line in text.lines() {
        serde_json::from_str::<ReleaseEvent>(line).unwrap_or_else(|e| panic!("garbled line {line:?}: {e}"));
    }

    // Each event was seen by the reader within a second of its ack.
    let lag = |(id, acked_at): &(String, Instant)| seen_at[id].saturating_duration_since(*acked_at);
    let worst = acked.iter().map(lag).max().unwrap_or_default();
    let switches = polled.windows(2).filter(|w| w[0].by != w[1].by).count();
    eprintln!(
        "{} events in {elapsed:.1?}, {polls} polls, worst lag after ack {worst:.1?}, writers alternated {switches} times",
        polled.len()
    );
    assert!(worst <= SEEN_WITHIN, "an event took {worst:?} to be seen");
    assert!(switches > 0, "the writers never overlapped: the test proved nothing");
}

/// The id in an `ack <id>` line. The harness's `test writer_child ... `
/// (no newline) may come first on the line of the first ack.
fn ack_id(line: &str) -> Option<&str> {
    line.rfind("ack ").map(|at| &line[at + 4..])
}

/// A harness of its own (`harness = false`): the same binary is the test
/// run and, with the writer's variables set, the writer process it starts.
fn main() -> std::process::ExitCode {
    if let Some(path) = std::env::var_os(WRITER_PATH) {
        writer(path);
        return std::process::ExitCode::SUCCESS;
    }
    let args = libtest_mimic::Arguments::from_args();
    let tests = vec![Trial::test("two_writers_lose_nothing_and_see_each_other", || {
        two_writers_lose_nothing_and_see_each_other();
        Ok(())
    })];
    libtest_mimic::run(&args, tests).exit_code()
}
