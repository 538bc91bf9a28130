//! The release journal: what people did during a release (ticks, untick,
//! notes, sign-offs, go / no-go decisions), who did it and when.
//!
//! It lives behind [`EventStore`] so that a shared backend for teams on
//! several machines can replace the file. The file backend, [`FileStore`],
//! keeps one JSON object per line in `releases/<release>.jsonl` in the data
//! dir ([`release_path`]):
//!
//! - An append is one `write_all` of the whole line (newline included) on a
//!   file opened for appending, under an exclusive advisory lock, followed by
//!   `sync_data` before it returns: once `append` returns, the event survives
//!   `kill -9` and power loss, and two writers never interleave their lines.
//! - A crash mid-write can leave a last line without its newline. Readers
//!   never take it as an event, and the next append (under the lock) first
//!   ends it with a newline, so the fragment stays one unparseable line that
//!   loaders skip and count, and the new event is not glued onto it.
//! - Readers only consume complete lines and remember where the last one
//!   ended, so `poll` sees other writers' events without re-reading the file
//!   and never sees half a line.
//! - Commands that only look (`check`, `report`) use [`read_events`]: the
//!   file opened read-only, same rules, so a read-only data dir is enough.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One thing a person did during a release. Who, when, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEvent {
    /// Unique per event (random 64-bit hex), so a reader can dedupe.
    pub id: String,
    pub at: Timestamp,
    /// The operator who did it.
    pub by: String,
    #[serde(flatten)]
    pub action: ReleaseAction,
}

/// What was done. Stored flat next to `id`, `at` and `by`, named by `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReleaseAction {
    Tick {
        item: String,
        note: Option<String>,
    },
    Untick {
        item: String,
        note: Option<String>,
    },
    /// A note on an item, or on the release when `item` is `None`.
    Note {
        item: Option<String>,
        text: String,
    },
    SignOff {
        role: String,
        note: Option<String>,
    },
    RevokeSignOff {
        role: String,
        note: Option<String>,
    },
    Decision {
        decision: Decision,
        reason: String,
    },
}

/// The go / no-go call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Go,
    NoGo,
}

impl ReleaseEvent {
    /// A new event with a fresh random id.
    pub fn new(by: impl Into<String>, at: Timestamp, action: ReleaseAction) -> ReleaseEvent {
        ReleaseEvent { id: format!("{:016x}", fastrand::u64(..)), at, by: by.into(), action }
    }
}

/// Where release events live. The file backend is the first; a shared
/// backend (a service several machines talk to) implements the same trait.
pub trait EventStore: Send {
    /// Every event so far, in order; a torn last line is ignored.
    fn load(&mut self) -> Result<Vec<ReleaseEvent>, JournalError>;
    /// Append one event; returns only once it is durable (fsync'd).
    fn append(&mut self, event: &ReleaseEvent) -> Result<(), JournalError>;
    /// Events appended (by anyone, this process included) since the last
    /// `load` or `poll`, in order.
    fn poll(&mut self) -> Result<Vec<ReleaseEvent>, JournalError>;
    /// Where it is, for messages (a path, a URL).
    fn location(&self) -> String;
    /// Who this store records actions as, when the store decides (team
    /// mode: the database role); `None`: the operator the seat names.
    fn actor(&mut self) -> Result<Option<String>, JournalError> {
        Ok(None)
    }
}

/// Why the release journal could not be read or written. The message names
/// the journal and what failed, ready for the status bar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    #[error("release journal {}: cannot {action}: {error}", path.display())]
    Io { path: PathBuf, action: &'static str, error: io::Error },
    #[error("release journal {}: cannot encode event {id}: {error}", path.display())]
    Encode { path: PathBuf, id: String, error: serde_json::Error },
    /// The file is shorter than what was already read from it.
    #[error("release journal {}: shrank from {read} to {len} bytes (truncated or replaced?)", path.display())]
    Shrunk { path: PathBuf, read: u64, len: u64 },
    /// The team store (PostgreSQL) failed or cannot be reached; the text
    /// never holds the database URL's password.
    #[error("team store {location}: {message}")]
    Team { location: String, message: String },
    /// The team store refused the action (not a listed signer, …).
    #[error("refused by the team store: {0}")]
    Refused(String),
}

/// What reading found besides events, since the last `load`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Complete lines that did not parse (a torn line, once a later append
    /// ended it; an action this version does not know).
    pub skipped: usize,
    /// Events whose id was already read (an append retried after an error).
    pub duplicates: usize,
    /// The file ends with a line without its newline, left unread: a torn
    /// write, or a write in progress.
    pub torn_tail: bool,
}

/// The journal file of a release in a data dir: `releases/<release name, made file-safe>.jsonl`.
pub fn release_path(data_dir: &Path, release: &str) -> PathBuf {
    data_dir.join("releases").join(format!("{}.jsonl", file_safe(release)))
}

/// Lowercase ASCII letters, digits, `.`, `_` and `-`, at most 64 of them.
/// A name that had to change gets a hash of the original, so that names
/// differing only in what was replaced (or in case, for case-insensitive
/// file systems) keep separate journals.
fn file_safe(release: &str) -> String {
    let mut safe = String::with_capacity(release.len());
    for c in release.chars() {
        match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => safe.push(c),
            _ if safe.ends_with('-') => {}
            _ => safe.push('-'),
        }
    }
    // No hidden files, no `.` or `..`, no trailing dot or dash.
    let mut safe: String = safe.trim_matches(['.', '-']).chars().take(64).collect();
    if safe.is_empty() || safe != release {
        if safe.is_empty() {
            safe.push_str("release");
        }
        safe.push_str(&format!("-{:08x}", fnv1a(release.as_bytes()) as u32));
    }
    safe
}

/// FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The release journal in a local file. Several processes may open the
/// same file: appends are serialized by an advisory lock, and each store's
/// `poll` sees the others' events, in the order they were appended.
///
/// When `append` fails the event may or may not be in the file (written but
/// not synced, say); appending the same event again is safe, as readers
/// skip an id they have already read.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    /// Opened for reading and appending.
    file: File,
    /// End of the last complete line read by `load` / `poll`.
    read_offset: u64,
    /// Ids returned since the last `load`.
    seen: HashSet<String>,
    report: ReadReport,
}

impl FileStore {
    /// Open the journal, creating it and its directory (durably) if missing.
    /// Nothing is read until `load` or `poll`.
    pub fn open(path: &Path) -> Result<FileStore, JournalError> {
        let fail = |action| {
            let path = path.to_path_buf();
            move |error| JournalError::Io { path, action, error }
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_dir_durably(dir).map_err(fail("create the directory"))?;
        let file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(fail("open"))?;
        // Make the file's name durable too, whoever created it: an event
        // acknowledged in a file whose entry is lost would be lost with it.
        sync_dir(dir).map_err(fail("sync the directory"))?;
        Ok(FileStore {
            path: path.to_path_buf(),
            file,
            read_offset: 0,
            seen: HashSet::new(),
            report: ReadReport::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What reading found besides events since the last `load`.
    pub fn report(&self) -> &ReadReport {
        &self.report
    }

    fn fail(&self, action: &'static str) -> impl FnOnce(io::Error) -> JournalError + use<> {
        let path = self.path.clone();
        move |error| JournalError::Io { path, action, error }
    }

    /// Read the complete lines from `read_offset` on.
    fn read_new(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        let len = self.file.metadata().map_err(self.fail("read the size of"))?.len();
        if len < self.read_offset {
            return Err(JournalError::Shrunk { path: self.path.clone(), read: self.read_offset, len });
        }
        let mut buf = Vec::new();
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.read_offset)).map_err(self.fail("seek in"))?;
        file.read_to_end(&mut buf).map_err(self.fail("read"))?;
        let (events, complete) = parse_complete_lines(&self.path, &buf, &mut self.seen, &mut self.report);
        self.read_offset += complete as u64;
        Ok(events)
    }
}

/// The events in the complete lines of `buf` (read from `path`), by the
/// rules every reader of the file follows: a last line without its newline
/// (a write in progress, or torn by a crash) is left unread and noted in
/// `report.torn_tail`; a complete line that does not parse is skipped and
/// counted; an id already in `seen` is a duplicate (a retried append),
/// counted and dropped. Returns the events and how many bytes of `buf` the
/// complete lines take.
fn parse_complete_lines(
    path: &Path,
    buf: &[u8],
    seen: &mut HashSet<String>,
    report: &mut ReadReport,
) -> (Vec<ReleaseEvent>, usize) {
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    report.torn_tail = complete < buf.len();
    let mut events = Vec::new();
    let mut skipped = 0;
    for line in buf[..complete].split(|&b| b == b'\n') {
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<ReleaseEvent>(text) {
            Ok(event) if seen.insert(event.id.clone()) => events.push(event),
            Ok(_) => report.duplicates += 1,
            Err(_) => skipped += 1,
        }
    }
    if skipped > 0 {
        tracing::warn!(path = %path.display(), skipped, "release journal lines skipped");
        report.skipped += skipped;
    }
    (events, complete)
}

/// Every event in the release journal at `path`, read without any write
/// access: for commands that only look (`check`, `report`), so a read-only
/// data dir still works. The file is opened read-only, never created,
/// locked or repaired; a missing file (or directory) is no events. The same
/// rules as [`FileStore`]'s `load` apply: a torn last line is left unread,
/// unparseable lines are skipped, a repeated id is read once.
pub(crate) fn read_events(path: &Path) -> Result<Vec<ReleaseEvent>, JournalError> {
    read_events_with_report(path).map(|(events, _)| events)
}

/// [`read_events`], with what reading found besides events (lines skipped,
/// duplicates, a torn tail), for a warning.
pub(crate) fn read_events_with_report(path: &Path) -> Result<(Vec<ReleaseEvent>, ReadReport), JournalError> {
    let fail = |action| {
        let path = path.to_path_buf();
        move |error| JournalError::Io { path, action, error }
    };
    let mut buf = Vec::new();
    match File::open(path) {
        Ok(mut file) => file.read_to_end(&mut buf).map_err(fail("read"))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), ReadReport::default())),
        Err(e) => return Err(fail("open")(e)),
    };
    let mut report = ReadReport::default();
    let (events, _) = parse_complete_lines(path, &buf, &mut HashSet::new(), &mut report);
    Ok((events, report))
}

impl EventStore for FileStore {
    fn load(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        self.read_offset = 0;
        self.seen.clear();
        self.report = ReadReport::default();
        self.read_new()
    }

    fn append(&mut self, event: &ReleaseEvent) -> Result<(), JournalError> {
        // A newline first, dropped below unless the file ends with a torn line.
        let mut line = Vec::with_capacity(256);
        line.push(b'\n');
        serde_json::to_writer(&mut line, event).map_err(|error| JournalError::Encode {
            path: self.path.clone(),
            id: event.id.clone(),
            error,
        })?;
        line.push(b'\n');

        let mut file = &self.file;
        // Held for one write and one fsync. The kernel drops it if this
        // process dies, so a crash never leaves the journal locked.
        file.lock().map_err(self.fail("lock"))?;
        let _unlock = Unlock(file);
        // Checked under the lock: another process may have appended since.
        let fresh_line = ends_with_newline(file).map_err(self.fail("read the end of"))?;
        let bytes = if fresh_line { &line[1..] } else { &line[..] };
        file.write_all(bytes).map_err(self.fail("append to"))?;
        file.sync_data().map_err(self.fail("sync"))?;
        Ok(())
    }

    fn poll(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        self.read_new()
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }
}

/// Releases the advisory lock however the append ends.
struct Unlock<'a>(&'a File);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        // Closing the file would release it too; nothing better to do here.
        let _ = self.0.unlock();
    }
}

/// Empty, or its last byte is a newline.
fn ends_with_newline(mut file: &File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// `create_dir_all`, syncing the parent of each directory it creates.
fn create_dir_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn tick(by: &str, item: &str) -> ReleaseEvent {
        ReleaseEvent::new(by, at("2026-11-24T18:42:00Z"), ReleaseAction::Tick { item: item.into(), note: None })
    }

    fn every_action() -> Vec<ReleaseAction> {
        vec![
            ReleaseAction::Tick { item: "smoke-tests".into(), note: None },
            ReleaseAction::Tick { item: "smoke-tests".into(), note: Some("green on\n\"eu\"".into()) },
            ReleaseAction::Untick { item: "smoke-tests".into(), note: Some("flaky".into()) },
            ReleaseAction::Note { item: None, text: "waiting on DBA".into() },
            ReleaseAction::Note { item: Some("db-migration".into()), text: "took 4 min".into() },
            ReleaseAction::SignOff { role: "qa".into(), note: None },
            ReleaseAction::RevokeSignOff { role: "qa".into(), note: Some("regression".into()) },
            ReleaseAction::Decision { decision: Decision::Go, reason: "all green".into() },
            ReleaseAction::Decision { decision: Decision::NoGo, reason: "p1 open".into() },
        ]
    }

    #[test]
    fn the_json_shape_is_stable() {
        let event = ReleaseEvent {
            id: "5f1c2a9e0b7d3c41".into(),
            at: at("2026-11-24T18:42:00Z"),
            by: "ana".into(),
            action: ReleaseAction::Tick { item: "smoke-tests".into(), note: None },
        };
        let line = r#"{"id":"5f1c2a9e0b7d3c41","at":"2026-11-24T18:42:00Z","by":"ana","action":"tick","item":"smoke-tests","note":null}"#;
        assert_eq!(serde_json::to_string(&event).unwrap(), line);
        assert_eq!(serde_json::from_str::<ReleaseEvent>(line).unwrap(), event);

        let decision = ReleaseEvent {
            action: ReleaseAction::Decision { decision: Decision::NoGo, reason: "p1 open".into() },
            ..event.clone()
        };
        assert_eq!(
            serde_json::to_string(&decision).unwrap(),
            r#"{"id":"5f1c2a9e0b7d3c41","at":"2026-11-24T18:42:00Z","by":"ana","action":"decision","decision":"no-go","reason":"p1 open"}"#
        );
        let revoke =
            ReleaseEvent { action: ReleaseAction::RevokeSignOff { role: "qa".into(), note: None }, ..event.clone() };
        assert!(serde_json::to_string(&revoke).unwrap().contains(r#""action":"revoke_sign_off","role":"qa""#));
        // Written by hand or by an older version: a missing optional field is `None`.
        let sparse =
            r#"{"id":"5f1c2a9e0b7d3c41","at":"2026-11-24T18:42:00Z","by":"ana","action":"tick","item":"smoke-tests"}"#;
        assert_eq!(serde_json::from_str::<ReleaseEvent>(sparse).unwrap(), event);
    }

    #[test]
    fn every_action_round_trips_through_json_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = release_path(dir.path(), "2026.11");
        let events: Vec<ReleaseEvent> =
            every_action().into_iter().map(|a| ReleaseEvent::new("ana", at("2026-11-24T18:42:00.5Z"), a)).collect();
        let mut store = FileStore::open(&path).unwrap();
        assert!(store.load().unwrap().is_empty());
        for event in &events {
            let line = serde_json::to_string(event).unwrap();
            assert_eq!(&serde_json::from_str::<ReleaseEvent>(&line).unwrap(), event);
            store.append(event).unwrap();
        }
        drop(store);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), events.len(), "one line per event, newlines in notes escaped");
        let mut store = FileStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), events);
        assert_eq!(store.report(), &ReadReport::default());
        assert_eq!(store.location(), path.display().to_string());
    }

    #[test]
    fn ids_are_random_hex() {
        let a = tick("ana", "x");
        let b = tick("ana", "x");
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 16);
        assert!(a.id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_torn_tail_is_ignored_and_the_next_append_is_not_glued_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let (one, two, three) = (tick("ana", "one"), tick("ana", "two"), tick("bo", "three"));
        let mut store = FileStore::open(&path).unwrap();
        store.append(&one).unwrap();
        store.append(&two).unwrap();
        drop(store);
        // A crash mid-write leaves half a line.
        let half = serde_json::to_string(&tick("cy", "lost")).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&half.as_bytes()[..half.len() / 2]).unwrap();
        drop(f);

        let mut store = FileStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), vec![one.clone(), two.clone()]);
        assert!(store.report().torn_tail);
        assert_eq!(store.report().skipped, 0, "the torn line is not read yet");
        store.append(&three).unwrap();
        assert_eq!(store.poll().unwrap(), vec![three.clone()]);
        assert_eq!(store.report().skipped, 1, "the torn line, ended by the append, is skipped");

        let mut fresh = FileStore::open(&path).unwrap();
        assert_eq!(fresh.load().unwrap(), vec![one, two, three]);
        assert_eq!(fresh.report(), &ReadReport { skipped: 1, duplicates: 0, torn_tail: false });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().nth(2), Some(&half[..half.len() / 2]), "the fragment stays on its own line");
    }

    #[test]
    fn poll_sees_appends_from_another_store_and_never_half_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = release_path(dir.path(), "2026.11");
        let mut reader = FileStore::open(&path).unwrap();
        let mut writer = FileStore::open(&path).unwrap();
        assert!(reader.load().unwrap().is_empty());
        assert!(writer.load().unwrap().is_empty());

        let (a, b, c) = (tick("ana", "a"), tick("bo", "b"), tick("ana", "c"));
        writer.append(&a).unwrap();
        reader.append(&b).unwrap();
        assert_eq!(reader.poll().unwrap(), vec![a.clone(), b.clone()], "its own appends too");
        assert_eq!(writer.poll().unwrap(), vec![a.clone(), b.clone()]);
        assert!(reader.poll().unwrap().is_empty());

        // A line being written shows up only once its newline is there.
        let line = serde_json::to_string(&c).unwrap();
        let (head, tail) = line.split_at(line.len() - 3);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(head.as_bytes()).unwrap();
        assert!(reader.poll().unwrap().is_empty());
        assert!(reader.report().torn_tail);
        f.write_all(tail.as_bytes()).unwrap();
        assert!(reader.poll().unwrap().is_empty(), "all of it but the newline");
        f.write_all(b"\n").unwrap();
        assert_eq!(reader.poll().unwrap(), vec![c.clone()]);
        assert!(!reader.report().torn_tail);

        assert_eq!(reader.load().unwrap(), vec![a, b, c], "load starts over");
    }

    #[test]
    fn a_retried_append_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let event = tick("ana", "a");
        let mut store = FileStore::open(&path).unwrap();
        store.append(&event).unwrap();
        store.append(&event).unwrap();
        assert_eq!(store.load().unwrap(), vec![event]);
        assert_eq!(store.report().duplicates, 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_truncated_file_is_an_error_not_silence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut store = FileStore::open(&path).unwrap();
        store.append(&tick("ana", "a")).unwrap();
        assert_eq!(store.poll().unwrap().len(), 1);
        std::fs::write(&path, "").unwrap();
        let err = store.poll().unwrap_err();
        assert!(matches!(err, JournalError::Shrunk { .. }));
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
        assert_eq!(store.load().unwrap(), vec![], "load starts over");
    }

    #[test]
    fn open_creates_the_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = release_path(&dir.path().join("data/dir"), "v1.2.3");
        assert_eq!(path, dir.path().join("data/dir/releases/v1.2.3.jsonl"));
        let mut store = FileStore::open(&path).unwrap();
        assert!(path.is_file());
        assert!(store.load().unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_file_and_what_failed() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let err = FileStore::open(&blocker.join("r.jsonl")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not-a-dir") && msg.contains("cannot create the directory"), "{msg}");
    }

    #[test]
    fn read_events_reads_what_load_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let (one, two) = (tick("ana", "one"), tick("bo", "two"));
        let mut store = FileStore::open(&path).unwrap();
        store.append(&one).unwrap();
        store.append(&two).unwrap();
        store.append(&one).unwrap(); // a retried append
        drop(store);
        // A line this version cannot read, then a crash mid-write.
        let half = serde_json::to_string(&tick("cy", "lost")).unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"id\":\"x\",\"action\":\"teleport\"}\n").unwrap();
        f.write_all(&half.as_bytes()[..half.len() / 2]).unwrap();
        drop(f);
        let before = std::fs::read(&path).unwrap();

        let (events, report) = read_events_with_report(&path).unwrap();
        assert_eq!(events, vec![one.clone(), two.clone()]);
        assert_eq!(report, ReadReport { skipped: 1, duplicates: 1, torn_tail: true });
        assert_eq!(read_events(&path).unwrap(), vec![one, two]);
        let mut store = FileStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), events, "the same rules as load");
        assert_eq!(store.report(), &report);
        assert_eq!(std::fs::read(&path).unwrap(), before, "reading never repairs the torn tail");
    }

    #[test]
    fn read_events_of_a_missing_journal_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = release_path(&data, "2026.11");
        assert_eq!(read_events(&path).unwrap(), vec![]);
        let (events, report) = read_events_with_report(&path).unwrap();
        assert_eq!((events, report), (vec![], ReadReport::default()));
        assert!(!path.exists(), "no file created");
        assert!(!data.exists(), "no directory created");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // An empty file is no events either, and stays empty.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        assert_eq!(read_events(&path).unwrap(), vec![]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn read_events_needs_no_write_access() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = release_path(&data, "2026.11");
        let events = vec![tick("ana", "a"), tick("bo", "b")];
        let mut store = FileStore::open(&path).unwrap();
        for event in &events {
            store.append(event).unwrap();
        }
        drop(store);
        let releases = path.parent().unwrap().to_path_buf();
        let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        mode(&path, 0o444);
        mode(&releases, 0o555);
        mode(&data, 0o555);
        let read = read_events(&path);
        let read_missing = read_events(&release_path(&data, "other"));
        let writer_open = FileStore::open(&path).map(drop);
        // As root (CI) permissions are not enforced: then this succeeds.
        let probe = releases.join("probe");
        let enforced = File::create(&probe).is_err();
        // Let the temp dir be removed whatever happened.
        let _ = std::fs::remove_file(&probe);
        mode(&data, 0o755);
        mode(&releases, 0o755);
        mode(&path, 0o644);
        assert_eq!(read.unwrap(), events);
        assert_eq!(read_missing.unwrap(), vec![]);
        assert!(!release_path(&data, "other").exists());
        if enforced {
            // The writer's open fails on the same file: the reader did not
            // need what it needs.
            let err = writer_open.unwrap_err();
            assert!(err.to_string().contains("cannot open"), "{err}");
        }
    }

    #[test]
    fn read_events_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: opens, but cannot be read.
        let path = dir.path().join("r.jsonl");
        std::fs::create_dir(&path).unwrap();
        let err = read_events(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("release journal {}: cannot ", path.display())), "{msg}");
    }

    #[test]
    fn release_paths_are_file_safe_and_distinct() {
        let data = Path::new("/data");
        let safe = |name: &str| {
            let path = release_path(data, name);
            assert_eq!(path.parent(), Some(Path::new("/data/releases")), "{name:?}");
            let file = path.file_name().unwrap().to_str().unwrap().to_owned();
            assert!(file.ends_with(".jsonl") && !file.starts_with('.'), "{file}");
            assert!(file.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{file}");
            assert!(file.len() <= 64 + 9 + 6, "{file}");
            file
        };
        let hotfix = safe("2026.11 / hotfix#2");
        assert!(hotfix.starts_with("2026.11-hotfix-2-"), "{hotfix}");
        assert_eq!(safe("2026.11"), "2026.11.jsonl");
        assert_eq!(safe("v2.3.0-rc_1"), "v2.3.0-rc_1.jsonl");
        let others =
            ["2026.11 - hotfix#2", "2026.11/hotfix/2", "2026.11 / Hotfix#2", "..", "", "../../etc/passwd", "ü", "ä"];
        let mut all: HashSet<String> = others.iter().map(|n| safe(n)).collect();
        all.insert(hotfix);
        assert_eq!(all.len(), others.len() + 1, "{all:?}");
        safe(&"x/".repeat(200));
        assert_eq!(safe("2026.11 / hotfix#2"), safe("2026.11 / hotfix#2"), "stable");
    }
}
