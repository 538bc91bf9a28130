//! Crash test of the release journal. A child process (this test binary,
//! re-executed as the writer, see `main`) appends events as fast as it can
//! and acknowledges each one on stdout once `append` has returned; the test
//! SIGKILLs it at random moments, many rounds on the same file, and after
//! each kill checks that every acknowledged event is in the file, that the
//! file loads, and that nothing is duplicated, garbled or missing in between.
#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flightdeck::journal::release::{EventStore, FileStore, ReleaseAction, ReleaseEvent};
use jiff::Timestamp;
use libtest_mimic::Trial;

/// Set to the journal's path in the child: "be the writer".
const WRITER_PATH: &str = "FD_JOURNAL_WRITER";
const WRITER_ROUND: &str = "FD_JOURNAL_WRITER_ROUND";
const WRITER_NAME: &str = "crash-writer";
const ROUNDS: usize = 20;
/// A round kills its writer by then at the latest, whatever `KillAt` says,
/// so a disk with slow fsyncs keeps the test short.
const ROUND_AT_MOST: Duration = Duration::from_millis(500);
const SIGKILL: i32 = 9;

/// Writer mode: this test binary run again with the writer's variables set
/// (see `main`). Appends until killed
/// (or until its stdout is gone, so an orphan does not run on).
fn writer(path: std::ffi::OsString) {
    let round = std::env::var(WRITER_ROUND).unwrap();
    let mut store = FileStore::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    for seq in 0usize.. {
        // Lines of varying length, so writes cross page boundaries anywhere.
        let note = Some("n".repeat(seq * 37 % 1500));
        let action = ReleaseAction::Tick { item: format!("r{round}-{seq}"), note };
        let event = ReleaseEvent::new(WRITER_NAME, Timestamp::now(), action);
        store.append(&event).unwrap();
        writeln!(out, "ack {}", event.id).unwrap();
        out.flush().unwrap();
        assert!(started.elapsed() < Duration::from_secs(60), "never killed");
    }
}

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// After reading this many acks (the child keeps going meanwhile), or
    /// at `ROUND_AT_MOST`.
    Acks(usize),
    /// This long after spawning, whatever the child is doing: starting,
    /// opening the file, mid-write, mid-fsync, printing an ack.
    After(Duration),
}

struct Round {
    acked: Vec<String>,
    kill_at: KillAt,
}

/// Spawn the writer, kill it at `kill_at`, and return every id it acknowledged.
fn run_round(path: &Path, round: usize, kill_at: KillAt) -> Round {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .env(WRITER_PATH, path)
        .env(WRITER_ROUND, round.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // Only whole lines: an ack cut short by the kill does not count.
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(id) = line.strip_suffix('\n').and_then(ack_id)
                && tx.send(id.to_owned()).is_err()
            {
                break;
            }
            line.clear();
        }
    });

    let mut acked = Vec::new();
    let deadline = Instant::now() + ROUND_AT_MOST;
    match kill_at {
        KillAt::Acks(n) => {
            while acked.len() < n {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(id) => acked.push(id),
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break, // Died: reported below.
                }
            }
        }
        KillAt::After(pause) => std::thread::sleep(pause.min(ROUND_AT_MOST)),
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // Acks still in the pipe were printed after `append` returned: they count.
    reader.join().unwrap();
    acked.extend(rx.try_iter());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.signal(), Some(SIGKILL), "round {round}: the writer ended by itself: {status}\n{stderr}");
    Round { acked, kill_at }
}

/// Load with a fresh store and check everything acknowledged so far.
fn check(path: &Path, rounds: &[Round]) -> (usize, usize, bool) {
    let mut store = FileStore::open(path).unwrap();
    let events = store.load().unwrap_or_else(|e| panic!("after {} rounds: {e}", rounds.len()));
    let report = store.report().clone();
    assert_eq!(report.duplicates, 0);
    let position: HashMap<&str, usize> = events.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
    assert_eq!(position.len(), events.len(), "no duplicate ids");

    // Every acknowledged event is there, in the order it was acknowledged.
    for (round, r) in rounds.iter().enumerate() {
        let mut last = None;
        for id in &r.acked {
            let Some(&at) = position.get(id.as_str()) else {
                panic!("round {round} ({:?}): acknowledged {id} lost after {} acks", r.kill_at, r.acked.len());
            };
            assert!(last < Some(at), "round {round}: {id} out of order");
            last = Some(at);
        }
    }
    // Well-formed, and each round's events are 0, 1, 2, … with no gap: only
    // the last, unacknowledged one may be missing, never one in between.
    let mut next_seq: HashMap<usize, usize> = HashMap::new();
    for e in &events {
        assert_eq!(e.by, WRITER_NAME);
        let ReleaseAction::Tick { item, note } = &e.action else { panic!("not a tick: {e:?}") };
        let (round, seq) = item.strip_prefix('r').and_then(|s| s.split_once('-')).unwrap();
        let (round, seq): (usize, usize) = (round.parse().unwrap(), seq.parse().unwrap());
        assert_eq!(note.as_deref().map(str::len), Some(seq * 37 % 1500), "{item}");
        let expected = next_seq.entry(round).or_default();
        assert_eq!(seq, *expected, "round {round}: events out of sequence");
        *expected += 1;
    }
    for (round, r) in rounds.iter().enumerate() {
        let written = next_seq.get(&round).copied().unwrap_or(0);
        assert!(
            written >= r.acked.len() && written <= r.acked.len() + 1,
            "round {round} ({:?}): {written} written, {} acked",
            r.kill_at,
            r.acked.len()
        );
    }
    // Every line but torn ones parses.
    let text = std::fs::read(path).unwrap();
    let lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    assert_eq!(lines, events.len() + report.skipped + usize::from(report.torn_tail));
    (events.len(), report.skipped, report.torn_tail)
}

/// Half a line, as a crash mid-write by some other writer would leave.
fn tear(path: &Path) {
    let line = serde_json::to_string(&ReleaseEvent::new(
        "someone",
        Timestamp::now(),
        ReleaseAction::Note { item: None, text: "never acknowledged".into() },
    ))
    .unwrap();
    // Any round may have been killed before its writer created the file.
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = OpenOptions::new().append(true).create(true).open(path).unwrap();
    file.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
}

fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("releases/crash.jsonl");
    let started = Instant::now();
    let mut rounds = Vec::new();
    let mut torn_by_hand = 0;
    let mut torn_after_kill = 0;
    for round in 0..ROUNDS {
        if round == ROUNDS / 3 || round == 2 * ROUNDS / 3 {
            tear(&path);
            torn_by_hand += 1;
        }
        let kill_at = if fastrand::u8(..4) == 0 {
            KillAt::After(Duration::from_millis(fastrand::u64(0..80)))
        } else {
            KillAt::Acks(fastrand::usize(1..=400))
        };
        rounds.push(run_round(&path, round, kill_at));
        let (events, skipped, torn_tail) = check(&path, &rounds);
        torn_after_kill += usize::from(torn_tail);
        // Torn lines come from the hand-made tears and, rarely, from a kill
        // that cut a write short; the next append ends each one.
        assert!(skipped <= torn_by_hand + round, "{skipped} lines skipped");
        eprintln!(
            "round {round:2}: {:?} → {} acked, {events} events in the file, {skipped} skipped, torn tail: {torn_tail}",
            rounds[round].kill_at,
            rounds[round].acked.len(),
        );
    }
    let acked: usize = rounds.iter().map(|r| r.acked.len()).sum();
    eprintln!("{ROUNDS} rounds, {acked} acks, {torn_after_kill} kills left a torn tail, {:.1?}", started.elapsed());
    assert!(acked > 0);
}

fn appends_go_on_after_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.jsonl");
    let tick =
        |item: &str| ReleaseEvent::new("ana", Timestamp::now(), ReleaseAction::Tick { item: item.into(), note: None });
    let (before, after) = (tick("before"), tick("after"));
    let mut store = FileStore::open(&path).unwrap();
    store.append(&before).unwrap();
    tear(&path);
    tear(&path); // Two crashes in a row leave one longer fragment.

    let mut other = FileStore::open(&path).unwrap();
    assert_eq!(other.load().unwrap(), vec![before.clone()]);
    assert!(other.report().torn_tail);
    store.append(&after).unwrap();
    assert_eq!(other.poll().unwrap(), vec![after.clone()]);

    let mut fresh = FileStore::open(&path).unwrap();
    assert_eq!(fresh.load().unwrap(), vec![before, after]);
    assert_eq!(fresh.report().skipped, 1);
    assert!(!fresh.report().torn_tail);
    let ids: HashSet<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<ReleaseEvent>(l).ok())
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 2);
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
    let tests = vec![
        Trial::test("every_acknowledged_event_survives_sigkill", || {
            every_acknowledged_event_survives_sigkill();
            Ok(())
        }),
        Trial::test("appends_go_on_after_a_torn_write", || {
            appends_go_on_after_a_torn_write();
            Ok(())
        }),
    ];
    libtest_mimic::run(&args, tests).exit_code()
}
