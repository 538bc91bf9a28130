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
    match File::open(path) {
        Ok(mut file) => read_records(&mut file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), LoadReport::default())),
        Err(e) => Err(e),
    }
}

fn read_records<T: DeserializeOwned>(file: &mut File) -> io::Result<(Vec<T>, LoadReport)> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut report = LoadReport::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<T>(text) {
            Ok(r) if complete => records.push(r),
            // A last line without its newline was cut mid-write: not acknowledged.
            Ok(_) | Err(_) if !complete => {
                report.skipped += 1;
                report.torn_tail = true;
            }
            _ => report.skipped += 1,
        }
    }
    Ok((records, report))
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
    fn missing_file_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let (loaded, _) = read::<ObservationEvent>(&dir.path().join("none.jsonl")).unwrap();
        assert!(loaded.is_empty());
    }
}
