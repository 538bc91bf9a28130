//! Every problem with a file's keys in one run, not only the first: serde
//! stops at the first unknown key or bad value, so each one it meets is
//! reported, taken out of the table, and the rest read again.

use serde::de::DeserializeOwned;

use super::ConfigError;

/// More problems than this in one file: stop looking (each costs a re-read).
const MOST: usize = 100;

/// The problems found in the files' keys, and what was taken out to find
/// them all.
#[derive(Debug, Default)]
pub(crate) struct FileProblems {
    pub errors: Vec<ConfigError>,
    /// Keys taken out of the layers (`environments`, `sources[0].every`):
    /// later checks see the rest, and their complaints about these keys
    /// only repeat a problem already reported.
    removed: Vec<String>,
    /// A problem that could not be taken out (an `[[environments]]` entry
    /// without a name): the layers cannot be read as a whole.
    pub incomplete: bool,
}

impl FileProblems {
    /// Whether a later complaint about `key` is about a key already reported.
    pub(crate) fn covers(&self, key: &str) -> bool {
        self.removed
            .iter()
            .any(|r| key.strip_prefix(r.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '['])))
    }

    pub(crate) fn extend(&mut self, other: FileProblems) {
        self.errors.extend(other.errors);
        self.removed.extend(other.removed);
        self.incomplete |= other.incomplete;
    }
}

/// Read `table` as `T`, taking out of it every key serde complains about.
/// `origin` names the file; `prefix` is put before the keys taken out
/// (`release.` for a release file read without its `[release]` header).
pub(crate) fn read_all<T: DeserializeOwned>(table: &mut toml::Table, origin: &str, prefix: &str) -> FileProblems {
    let mut problems = FileProblems::default();
    for _ in 0..MOST {
        let value = super::datetimes_to_strings(toml::Value::Table(table.clone()));
        let Err(e) = serde_path_to_error::deserialize::<_, T>(value) else {
            return problems;
        };
        let key = super::tidy_path(&e.path().to_string());
        // The bare message: `Display` adds a newline and "in `key`" without indices.
        let message = with_suggestion(e.inner().message().trim(), &[]);
        problems.errors.push(ConfigError { origin: origin.to_string(), key: key.clone(), message });
        let steps: Option<Vec<Step>> = e.path().iter().map(Step::from_segment).collect();
        if !steps.is_some_and(|steps| take_out(table, &steps)) {
            problems.incomplete = true;
            return problems;
        }
        problems.removed.push(format!("{prefix}{key}"));
    }
    problems.incomplete = true;
    problems
}

/// One step of a path serde reports.
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn from_segment(segment: &serde_path_to_error::Segment) -> Option<Step> {
        match segment {
            serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
            _ => None,
        }
    }
}

/// Remove the key `path` ends at. A path ending in a list entry is left
/// alone: removing the entry would shift the indices of the ones after it.
fn take_out(table: &mut toml::Table, path: &[Step]) -> bool {
    let Some((Step::Key(last), parents)) = path.split_last() else { return false };
    let mut current = table;
    let mut steps = parents.iter();
    while let Some(step) = steps.next() {
        let value = match step {
            Step::Key(k) => current.get_mut(k),
            Step::Index(_) => return false,
        };
        // A list of tables: the next step is the entry.
        let value = match (value, steps.as_slice().first()) {
            (Some(toml::Value::Array(list)), Some(Step::Index(i))) => {
                steps.next();
                list.get_mut(*i)
            }
            (value, _) => value,
        };
        match value {
            Some(toml::Value::Table(t)) => current = t,
            _ => return false,
        }
    }
    current.remove(last).is_some()
}

/// serde's complaints about keys and values, which stop its reading.
pub(crate) fn stops_serde(message: &str) -> bool {
    ["unknown field", "unknown variant", "invalid type", "invalid value", "invalid length"]
        .iter()
        .any(|p| message.starts_with(p))
}

/// serde's "unknown field `tokn_env`, expected one of `repo`, `token_env`"
/// with "; did you mean `token_env`?" when one of the expected names, or of
/// `also` (keys read elsewhere, like a source's `every`), is close.
pub(crate) fn with_suggestion(message: &str, also: &[&str]) -> String {
    let suggestion = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split_once('`'))
        .and_then(|(word, rest)| {
            let (_, expected) = rest.split_once("expected")?;
            closest(word, expected.split('`').skip(1).step_by(2).chain(also.iter().copied()))
        });
    match suggestion {
        Some(name) => format!("{message}; did you mean `{name}`?"),
        None => message.to_string(),
    }
}

/// The candidate nearest to `word`, if it is near enough to be a typo: at
/// most one edit in three characters (and at least one allowed).
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let most = (word.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= most)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counted in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            row.push(substitute.min(previous[j + 1] + 1).min(row[j] + 1));
        }
        previous = row;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn problems_in(text: &str) -> (toml::Table, FileProblems) {
        let mut table: toml::Table = toml::from_str(text).unwrap();
        let problems = read_all::<Settings>(&mut table, "test.toml", "");
        (table, problems)
    }

    fn keys(problems: &FileProblems) -> Vec<&str> {
        problems.errors.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn every_unknown_key_at_every_depth_is_found() {
        let (table, problems) = problems_in(
            r#"
colour = "blue"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
stale_afer = "30d"
[release]
name = "r"
windw = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[poller]
concurency = 3
"#,
        );
        assert_eq!(keys(&problems), ["colour", "environments[1].stale_afer", "release.windw", "poller.concurency"]);
        assert!(!problems.incomplete);
        let messages: Vec<&str> = problems.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(messages[1].ends_with("did you mean `stale_after`?"), "{messages:?}");
        assert!(messages[2].ends_with("did you mean `window`?"), "{messages:?}");
        assert!(messages[3].ends_with("did you mean `concurrency`?"), "{messages:?}");
        assert!(!messages[0].contains("did you mean"), "nothing is close to `colour`: {messages:?}");
        // The rest is kept, and now reads.
        assert_eq!(table["environments"].as_array().map(Vec::len), Some(2));
        assert!(table["release"].get("name").is_some() && table["release"].get("windw").is_none());
        assert!(problems.covers("release.windw") && problems.covers("poller.concurency"));
        assert!(!problems.covers("release.window") && !problems.covers("poller"));
    }

    #[test]
    fn bad_values_are_reported_with_the_unknown_keys() {
        let (_, problems) = problems_in(
            r#"
[[environments]]
name = "prod"
stale_after = "soon"
[release]
name = "r"
kind = "mayor"
[poller]
concurrency = "many"
extra = 1
"#,
        );
        assert_eq!(
            keys(&problems),
            ["environments[0].stale_after", "release.kind", "poller.concurrency", "poller.extra"]
        );
        assert!(problems.errors[1].message.ends_with("did you mean `major`?"), "{:?}", problems.errors);
    }

    #[test]
    fn a_list_entry_missing_its_name_stops_the_search() {
        let (_, problems) = problems_in("[[environments]]\nstale_after = \"1d\"\n[[services]]\nnam = \"x\"\n");
        assert_eq!(keys(&problems), ["environments[0]"]);
        assert!(problems.errors[0].message.contains("missing field `name`"));
        assert!(problems.incomplete, "the entry cannot be taken out without renumbering the rest");
    }

    #[test]
    fn a_table_missing_a_required_key_is_taken_out_whole() {
        let (table, problems) = problems_in("[release]\nkind = \"minor\"\n");
        assert_eq!(keys(&problems), ["release"]);
        assert!(!problems.incomplete);
        assert!(table.get("release").is_none());
    }

    #[test]
    fn suggestions_only_for_near_names() {
        assert_eq!(
            with_suggestion("unknown field `tokn_env`, expected one of `repo`, `token_env`", &[]),
            "unknown field `tokn_env`, expected one of `repo`, `token_env`; did you mean `token_env`?"
        );
        assert_eq!(
            with_suggestion("unknown field `x`, expected `name` or `owner`", &[]),
            "unknown field `x`, expected `name` or `owner`"
        );
        assert_eq!(
            with_suggestion("invalid type: integer `3`, expected a string", &[]),
            "invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            with_suggestion("unknown field `evry`, expected `url` or `fields`", &["every", "timeout"]),
            "unknown field `evry`, expected `url` or `fields`; did you mean `every`?"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
