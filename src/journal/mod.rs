//! Append-only journals in the data dir, one JSON object per line.
//!
//! The observation journal records each change a source reports for a
//! cell (old → new, when, which source), so history, "first seen" and the
//! events pane survive restarts. A torn last line (a crash mid-write) is
//! ignored on load, and the next append starts on a fresh line.
//!
//! The release journal ([`release`]) records what people do during a
//! release (ticks, notes, sign-offs, decisions) behind [`release::EventStore`].

pub(crate) mod memory;
pub mod release;
pub mod team;
pub mod team_seat;

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One change of what a source reports for a cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationEvent {
    pub at: Timestamp,
    pub service: String,
    pub environment: String,
    pub source: String,
    /// The version before, `None` when first seen.
    pub old: Option<String>,
    pub new: String,
    pub build: Option<String>,
    /// The build before (a rebuild keeps the version and changes this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_build: Option<String>,
}

/// What loading a journal found besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Lines that did not parse (the torn last line among them).
    pub skipped: usize,
    pub torn_tail: bool,
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct Jsonl {
    path: PathBuf,
    file: File,
    /// The file may end without a newline (torn write): start the next
    /// append with one.
    needs_newline: bool,
}

impl Jsonl {
    /// Open (creating it and its directory) and load every record.
    pub fn open<T: DeserializeOwned>(path: &Path) -> io::Result<(Jsonl, Vec<T>, LoadReport)> {
        let mut journal = Jsonl::open_append(path)?;
        let (records, report) = read_records(&mut journal.file)?;
        Ok((journal, records, report))
    }

    /// Every record from the start, one line at a time: a long journal is
    /// folded as it is read and never lives in memory whole (96,000
    /// observation events were 40 MB as a `Vec`).
    pub(crate) fn records<T: DeserializeOwned>(&mut self) -> io::Result<Records<BufReader<&mut File>, T>> {
        self.file.seek(SeekFrom::Start(0))?;
        Ok(Records::new(BufReader::new(&mut self.file)))
    }

    /// Open (creating it and its directory) for appending only.
    pub(crate) fn open_append(path: &Path) -> io::Result<Jsonl> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let needs_newline = ends_without_newline(&mut file)?;
        Ok(Jsonl { path: path.to_path_buf(), file, needs_newline })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append records, each as one line written with a single `write`.
    pub fn append<T: Serialize>(&mut self, records: &[T]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(128 * records.len());
        if self.needs_newline {
            buf.push(b'\n');
        }
        for r in records {
            serde_json::to_writer(&mut buf, r).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        self.file.write_all(&buf)?;
        self.needs_newline = false;
        Ok(())
    }
}

/// Load a journal without opening it for writing (absent file: empty).
pub fn read<T: DeserializeOwned>(path: &Path) -> io::Result<(Vec<T>, LoadReport)> {
    let mut loaded = Vec::new();
    let report = read_each(path, |records| loaded.extend(records))?;
    Ok((loaded, report))
}

/// [`read`], folded as it is read: `take` is handed the records one at a
/// time, so a long journal never lives in memory whole (absent file: no
/// records). A read error ends the records and is returned after `take`.
pub(crate) fn read_each<T: DeserializeOwned>(
    path: &Path,
    take: impl FnOnce(&mut Records<BufReader<File>, T>),
) -> io::Result<LoadReport> {
    match File::open(path) {
        Ok(file) => {
            let mut records = Records::new(BufReader::new(file));
            take(&mut records);
            records.finish()
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(LoadReport::default()),
        Err(e) => Err(e),
    }
}

fn read_records<T: DeserializeOwned>(file: &mut File) -> io::Result<(Vec<T>, LoadReport)> {
    file.seek(SeekFrom::Start(0))?;
    let mut records = Records::new(BufReader::new(file));
    let loaded = records.by_ref().collect();
    Ok((loaded, records.finish()?))
}

/// The records of a journal as they are read, one line at a time; lines
/// that do not parse are counted in the report. A read error ends the
/// records: [`Records::finish`] returns it.
pub(crate) struct Records<R, T> {
    reader: R,
    line: Vec<u8>,
    report: LoadReport,
    error: Option<io::Error>,
    record: PhantomData<fn() -> T>,
}

impl<R: BufRead, T: DeserializeOwned> Records<R, T> {
    fn new(reader: R) -> Records<R, T> {
        Records { reader, line: Vec::new(), report: LoadReport::default(), error: None, record: PhantomData }
    }

    /// After the last record: what reading found besides the records, or
    /// the error that ended them.
    pub(crate) fn finish(self) -> io::Result<LoadReport> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.report),
        }
    }
}

impl<R: BufRead, T: DeserializeOwned> Iterator for Records<R, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while self.error.is_none() {
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => self.error = Some(e),
            }
            let complete = self.line.last() == Some(&b'\n');
            let text = self.line.trim_ascii();
            if self.error.is_some() || text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<T>(text) {
                Ok(r) if complete => return Some(r),
                // A last line without its newline was cut mid-write: not acknowledged.
                Ok(_) | Err(_) if !complete => {
                    self.report.skipped += 1;
                    self.report.torn_tail = true;
                }
                _ => self.report.skipped += 1,
            }
        }
        None
    }
}

fn ends_without_newline(file: &mut File) -> io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The observation journal's file in a data dir.
pub fn observations_path(data_dir: &Path) -> PathBuf {
    data_dir.join("observations.jsonl")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> ObservationEvent {
        ObservationEvent {
            at: Timestamp::from_second(1_800_000_000 + i64::from(n)).unwrap(),
            service: "payments".into(),
            environment: "prod".into(),
            source: "endpoints".into(),
            old: None,
            new: format!("1.{n}.0"),
            build: None,
            old_build: None,
        }
    }

    /// Events 1 to 3 as journal lines, each followed by `after(n)`.
    fn three_events(after: impl Fn(u32) -> &'static str) -> String {
        (1..=3).map(|n| serde_json::to_string(&event(n)).unwrap() + after(n)).collect()
    }

    #[test]
    fn survives_reopen_and_tolerates_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j/observations.jsonl");
        let (mut j, loaded, _) = Jsonl::open::<ObservationEvent>(&path).unwrap();
        assert!(loaded.is_empty());
        j.append(&[event(1), event(2)]).unwrap();
        drop(j);
        // A crash mid-write leaves half a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"at":"2027-01-15T08:00:00Z","serv"#).unwrap();
        drop(f);
        let (mut j, loaded, report) = Jsonl::open::<ObservationEvent>(&path).unwrap();
        assert_eq!(loaded, vec![event(1), event(2)]);
        assert!(report.torn_tail);
        j.append(&[event(3)]).unwrap();
        drop(j);
        let (loaded, report) = read::<ObservationEvent>(&path).unwrap();
        assert_eq!(loaded, vec![event(1), event(2), event(3)]);
        assert_eq!(report.skipped, 1, "the torn line stays skipped, not glued to the next record");
    }

    #[test]
    fn read_each_hands_over_what_read_loads_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.jsonl");
        std::fs::write(&path, three_events(|n| if n == 2 { "\nnot a record\n" } else { "\n" })).unwrap();
        let mut seen = Vec::new();
        let report = read_each::<ObservationEvent>(&path, |events| seen.extend(events)).unwrap();
        let (loaded, whole) = read::<ObservationEvent>(&path).unwrap();
        assert_eq!(seen, vec![event(1), event(2), event(3)]);
        assert_eq!(seen, loaded);
        assert_eq!((report.skipped, report.torn_tail), (1, false));
        assert_eq!((whole.skipped, whole.torn_tail), (1, false));
        // No journal yet: no records, no error.
        let mut none = 0;
        read_each::<ObservationEvent>(&dir.path().join("absent.jsonl"), |events| none = events.count()).unwrap();
        assert_eq!(none, 0);
        // A directory where the journal should be: the error, with nothing handed over.
        let err = read_each::<ObservationEvent>(dir.path(), |events| none = events.count());
        assert!(err.is_err(), "reading a directory is an error: {err:?}");
        assert_eq!(none, 0);
    }

    #[test]
    fn a_complete_last_line_without_newline_is_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.jsonl");
        let line = serde_json::to_string(&event(1)).unwrap();
        std::fs::write(&path, line).unwrap();
        let (loaded, report) = read::<ObservationEvent>(&path).unwrap();
        assert!(loaded.is_empty());
        assert!(report.torn_tail);
    }

    #[test]
    fn records_stream_what_open_loads_and_appends_go_on_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.jsonl");
        let mut text = three_events(|_| "\nnot json\n\n");
        text += r#"{"at":"2027-01-15T08:00:00Z","serv"#;
        std::fs::write(&path, text).unwrap();

        let mut j = Jsonl::open_append(&path).unwrap();
        let mut records = j.records::<ObservationEvent>().unwrap();
        assert_eq!(records.next(), Some(event(1)), "one line at a time");
        assert_eq!(records.by_ref().collect::<Vec<_>>(), vec![event(2), event(3)]);
        let report = records.finish().unwrap();
        assert_eq!(report, LoadReport { skipped: 4, torn_tail: true });
        j.append(&[event(4)]).unwrap();
        drop(j);
        let (loaded, report) = read::<ObservationEvent>(&path).unwrap();
        assert_eq!(loaded, vec![event(1), event(2), event(3), event(4)]);
        assert_eq!(report, LoadReport { skipped: 4, torn_tail: false });
    }

    /// Reads `ok` bytes, then fails.
    struct Failing<'a> {
        ok: &'a [u8],
    }

    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ok.is_empty() {
                return Err(io::Error::other("disk gone"));
            }
            self.ok.read(buf)
        }
    }

    #[test]
    fn a_read_error_ends_the_records_and_is_returned() {
        let line = serde_json::to_string(&event(1)).unwrap() + "\n";
        let mut records = Records::<_, ObservationEvent>::new(BufReader::new(Failing { ok: line.as_bytes() }));
        assert_eq!(records.next(), Some(event(1)));
        assert_eq!(records.next(), None);
        assert_eq!(records.next(), None, "stays ended");
        assert_eq!(records.finish().unwrap_err().to_string(), "disk gone");
    }

    /// A journal longer than the events kept is folded as it is read:
    /// every cell gets its history (at most `HISTORY_LEN` versions), and
    /// only the latest `EVENTS_KEPT` events stay.
    #[test]
    fn a_long_journal_restores_histories_and_keeps_the_latest_events() {
        use crate::analysis::HISTORY_LEN;
        use crate::engine::{EVENTS_KEPT, Engine};
        use crate::model::CellKey;

        let config = crate::setup::from_toml_str(
            r#"
[[environments]]
name = "qa"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[[services]]
name = "search"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
"#,
            "test",
        )
        .unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let mut engine = Engine::for_config(&config, &active, None);

        let versions = HISTORY_LEN + 300;
        let mut text = String::new();
        let mut n = 0;
        for v in 0..versions {
            for (service, environment) in [("payments", "qa"), ("search", "prod"), ("gone", "qa")] {
                n += 1;
                let e = ObservationEvent {
                    service: service.into(),
                    environment: environment.into(),
                    new: format!("1.{v}.0"),
                    ..event(n)
                };
                text += &serde_json::to_string(&e).unwrap();
                text += "\n";
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("observations.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut journal = Jsonl::open_append(&path).unwrap();
        let mut records = journal.records::<ObservationEvent>().unwrap();
        engine.restore(&mut records);
        assert_eq!(records.finish().unwrap(), LoadReport::default());

        assert!(versions * 2 > EVENTS_KEPT);
        assert_eq!(engine.events.len(), EVENTS_KEPT);
        let last = engine.events.back().unwrap();
        assert_eq!((last.service.as_str(), last.new.clone()), ("search", format!("1.{}.0", versions - 1)));
        assert!(engine.events.iter().all(|e| e.service != "gone"), "a service no longer configured is left out");
        for key in [CellKey { service: 0, env: 0 }, CellKey { service: 1, env: 1 }] {
            let history = &engine.matrix().get(key).observations[0].history;
            assert_eq!(history.len(), HISTORY_LEN);
            assert_eq!(history.last().unwrap().version().to_string(), format!("1.{}.0", versions - 1));
            assert_eq!(history[0].version().to_string(), format!("1.{}.0", versions - HISTORY_LEN));
        }
        for key in [CellKey { service: 0, env: 1 }, CellKey { service: 1, env: 0 }] {
            assert!(engine.matrix().get(key).observations.is_empty(), "no event for {key:?}");
        }
    }

    #[test]
    fn missing_file_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (loaded, _) = read::<ObservationEvent>(&dir.path().join("none.jsonl")).unwrap();
        assert!(loaded.is_empty());
    }
}
