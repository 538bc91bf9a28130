//! The screen pictures in README.md and docs/ are the snapshot tests' own
//! screens, so they cannot go stale: each is marked with the snapshot it
//! shows, and this test fails when the text differs from that snapshot.
//!
//! ```text
//! <!-- snapshot: snapshots__whole_screen_no_go_100x30 -->
//! ```text
//! …the screen…
//! ```
//! <!-- /snapshot -->
//! ```
//!
//! `lines=A-B` after the name shows only those lines of it (1-based, inclusive).
//! `FD_UPDATE_DOCS=1 cargo test --test docs_pictures` rewrites the pictures
//! from the snapshots (after the snapshots themselves were reviewed and accepted).

use std::path::{Path, PathBuf};

const OPEN: &str = "<!-- snapshot: ";
const CLOSE: &str = "<!-- /snapshot -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A snapshot's screen: insta stores a `TestBackend` as one quoted Rust
/// string per row, after a `---` header.
fn snapshot_rows(name: &str) -> Vec<String> {
    let path = root().join("tests/snapshots").join(format!("{name}.snap"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = text.splitn(3, "---\n").nth(2).unwrap_or_else(|| panic!("{}: no insta header", path.display()));
    body.lines()
        .filter(|l| l.starts_with('"'))
        .map(|l| {
            let inner = l.strip_prefix('"').and_then(|l| l.strip_suffix('"')).unwrap_or(l);
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        })
        .collect()
}

/// One marked picture in a document.
#[derive(Debug)]
struct Picture {
    /// The marker line's index and the closing marker's.
    open: usize,
    close: usize,
    snapshot: String,
    lines: Option<(usize, usize)>,
}

fn pictures(doc: &Path, text: &str) -> Vec<Picture> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(rest) = lines[i].trim().strip_prefix(OPEN) {
            let spec = rest.strip_suffix("-->").unwrap_or(rest).trim();
            let mut words = spec.split_whitespace();
            let snapshot = words.next().unwrap_or_default().to_string();
            let lines_spec = words.find_map(|w| w.strip_prefix("lines=")).map(|r| {
                let (a, b) = r.split_once('-').unwrap_or_else(|| panic!("{}: lines=A-B, not {r}", doc.display()));
                (a.parse().unwrap(), b.parse().unwrap())
            });
            let close = (i + 1..lines.len())
                .find(|&j| lines[j].trim() == CLOSE)
                .unwrap_or_else(|| panic!("{}:{}: {OPEN}… without {CLOSE}", doc.display(), i + 1));
            found.push(Picture { open: i, close, snapshot, lines: lines_spec });
            i = close;
        }
        i += 1;
    }
    found
}

/// What the picture should hold between its markers.
fn expected(picture: &Picture) -> Vec<String> {
    let rows = snapshot_rows(&picture.snapshot);
    let rows = match picture.lines {
        Some((a, b)) => rows[a - 1..b.min(rows.len())].to_vec(),
        None => rows,
    };
    let mut block = vec!["```text".to_string()];
    block.extend(rows.into_iter().map(|r| r.trim_end().to_string()));
    block.push("```".to_string());
    block
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "md")).collect()
        })
        .unwrap_or_default();
    more.sort();
    docs.extend(more);
    docs
}

#[test]
fn every_screen_picture_in_the_docs_is_a_snapshot() {
    let update = std::env::var_os("FD_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    let mut total = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let found = pictures(&doc, &text);
        if found.is_empty() {
            continue;
        }
        total += found.len();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut out: Vec<String> = Vec::new();
        let mut at = 0;
        for p in &found {
            out.extend_from_slice(&lines[at..=p.open]);
            let want = expected(p);
            let have: Vec<String> = lines[p.open + 1..p.close].iter().map(|l| l.trim_end().to_string()).collect();
            if have != want {
                stale.push(format!("{}:{} ({})", doc.display(), p.open + 1, p.snapshot));
            }
            out.extend(want);
            at = p.close;
        }
        out.extend_from_slice(&lines[at..]);
        if update {
            std::fs::write(&doc, out.join("\n") + "\n").unwrap();
        }
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(!pictures(Path::new("README.md"), &readme).is_empty(), "the README shows no snapshot picture");
    assert!(total >= 2, "only {total} pictures marked in README.md and docs/");
    assert!(
        update || stale.is_empty(),
        "pictures that differ from their snapshots (review the snapshots, then \
         FD_UPDATE_DOCS=1 cargo test --test docs_pictures):\n{}",
        stale.join("\n")
    );
}

#[test]
fn a_picture_reads_its_snapshot_rows_unescaped() {
    let doc =
        "intro\n<!-- snapshot: snapshots__help_overlay lines=1-2 -->\n```text\nold\n```\n<!-- /snapshot -->\nend\n";
    let found = pictures(Path::new("x.md"), doc);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].open, found[0].close, found[0].lines), (1, 5, Some((1, 2))));
    let want = expected(&found[0]);
    assert_eq!(want.len(), 4, "two rows between the fences: {want:?}");
    assert!(want.iter().all(|l| !l.starts_with('"')), "{want:?}");
}
