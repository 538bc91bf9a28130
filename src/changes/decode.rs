//! Compare answers decoded: pure functions from the API's bytes to
//! [`Changes`], and the reading of commit messages (PR/MR numbers, ticket
//! keys, conventional-commit headers, breaking changes).
//!
//! Everything kept from a message is cleaned ([`sanitize`]) and capped: a
//! commit message is text from outside, and may hold escape sequences,
//! bidi overrides or ten kilobytes on one line.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::config::{ChangesKind, TicketPattern, is_object_id};
use super::{Changes, Commit, CompareStatus, PullRequest};
use crate::sanitize;
use crate::sources::FetchError;

/// Characters kept of a subject, a PR title or a breaking-change note.
pub(crate) const MAX_SUBJECT: usize = 200;
const MAX_NOTE: usize = 300;
const MAX_AUTHOR: usize = 80;
const MAX_LABEL: usize = 60;
const MAX_LABELS: usize = 20;
/// Characters of a message searched for ticket keys.
const MAX_SCAN: usize = 16 * 1024;
/// Ticket keys kept per commit; a key is at most this long.
const MAX_TICKETS: usize = 32;
const MAX_TICKET_LEN: usize = 64;

/// What reading a message needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading<'a> {
    pub kind: ChangesKind,
    pub tickets: Option<&'a TicketPattern>,
}

fn malformed(e: &serde_json::Error) -> FetchError {
    FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100))
}

// ---------------------------------------------------------------------------
// GitHub: GET /repos/{o}/{r}/compare/{base}...{head}

#[derive(Debug, Deserialize)]
struct GithubCompare {
    status: Option<String>,
    ahead_by: Option<u64>,
    behind_by: Option<u64>,
    total_commits: Option<u64>,
    commits: Option<Vec<GithubCommit>>,
}

#[derive(Debug, Deserialize)]
struct GithubCommit {
    sha: String,
    commit: Option<GitCommit>,
    author: Option<GithubUser>,
    parents: Option<Vec<Parent>>,
}

#[derive(Debug, Deserialize)]
struct GitCommit {
    message: Option<String>,
    author: Option<GitPerson>,
}

#[derive(Debug, Deserialize)]
struct GitPerson {
    name: Option<String>,
    date: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GithubUser {
    login: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Parent {
    sha: String,
}

/// A commit as either API gives it, before its message is read.
struct RawCommit {
    sha: String,
    author: Option<String>,
    date: Option<String>,
    message: String,
    parents: Vec<String>,
}

/// The pages of one GitHub compare, in order, into [`Changes`]. The first
/// page says the status and counts; commits are concatenated (a commit seen
/// twice is kept once). Fewer commits than `total_commits` (the pages were
/// capped) marks the answer `truncated`.
pub(crate) fn github_changes<B: AsRef<[u8]>>(
    repo: &str,
    base: &str,
    head: &str,
    pages: &[B],
    reading: Reading<'_>,
) -> Result<Changes, FetchError> {
    let mut first: Option<GithubCompare> = None;
    let mut raw = Vec::new();
    for page in pages {
        let mut decoded: GithubCompare = serde_json::from_slice(page.as_ref()).map_err(|e| malformed(&e))?;
        for c in decoded.commits.take().unwrap_or_default() {
            let git = c.commit.unwrap_or(GitCommit { message: None, author: None });
            let git_author = git.author.as_ref();
            raw.push(RawCommit {
                sha: c.sha,
                // The git author's name says who wrote it; the login, who pushed it.
                author: git_author.and_then(|a| a.name.clone()).or_else(|| c.author.and_then(|u| u.login)),
                date: git_author.and_then(|a| a.date.clone()),
                message: git.message.unwrap_or_default(),
                parents: c.parents.unwrap_or_default().into_iter().map(|p| p.sha).collect(),
            });
        }
        first.get_or_insert(decoded);
    }
    let Some(first) = first else {
        return Err(FetchError::Malformed("no compare page".into()));
    };
    let commits = commits(raw, reading)?;
    let ahead_by = first.ahead_by.unwrap_or(commits.len() as u64);
    let total_commits = first.total_commits.unwrap_or(ahead_by);
    Ok(Changes {
        kind: reading.kind,
        repo: repo.to_string(),
        base: base.to_string(),
        head: head.to_string(),
        status: first.status.as_deref().and_then(CompareStatus::parse),
        ahead_by,
        behind_by: first.behind_by,
        total_commits,
        truncated: (commits.len() as u64) < total_commits,
        commits,
    })
}

// ---------------------------------------------------------------------------
// GitLab: GET /projects/:id/repository/compare?from=&to=

#[derive(Debug, Deserialize)]
struct GitlabCompare {
    commits: Option<Vec<GitlabCommit>>,
    #[serde(default)]
    compare_timeout: Option<bool>,
    #[serde(default)]
    compare_same_ref: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct GitlabCommit {
    id: String,
    title: Option<String>,
    message: Option<String>,
    author_name: Option<String>,
    authored_date: Option<String>,
    created_at: Option<String>,
    parent_ids: Option<Vec<String>>,
}

/// A GitLab compare (one answer, no pages) into [`Changes`]. GitLab says no
/// status: `from` contains `to` exactly when no commit comes back (it
/// compares from the merge base). A compare that timed out is `truncated`.
pub(crate) fn gitlab_changes(
    repo: &str,
    base: &str,
    head: &str,
    body: &[u8],
    reading: Reading<'_>,
) -> Result<Changes, FetchError> {
    let decoded: GitlabCompare = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    let raw = decoded
        .commits
        .unwrap_or_default()
        .into_iter()
        .map(|c| RawCommit {
            sha: c.id,
            author: c.author_name,
            date: c.authored_date.or(c.created_at),
            message: c.message.or(c.title).unwrap_or_default(),
            parents: c.parent_ids.unwrap_or_default(),
        })
        .collect();
    let commits = commits(raw, reading)?;
    let same = decoded.compare_same_ref == Some(true) && commits.is_empty();
    Ok(Changes {
        kind: reading.kind,
        repo: repo.to_string(),
        base: base.to_string(),
        head: head.to_string(),
        status: same.then_some(CompareStatus::Identical),
        ahead_by: commits.len() as u64,
        behind_by: None,
        total_commits: commits.len() as u64,
        truncated: decoded.compare_timeout == Some(true),
        commits,
    })
}

// ---------------------------------------------------------------------------
// Pull and merge requests: titles and labels.

#[derive(Debug, Deserialize)]
struct GithubPull {
    number: u64,
    title: Option<String>,
    labels: Option<Vec<GithubLabel>>,
}

#[derive(Debug, Deserialize)]
struct GithubLabel {
    name: Option<String>,
}

/// `GET /repos/{o}/{r}/pulls/{n}`: its title and label names.
pub(crate) fn github_pull(body: &[u8]) -> Result<PullRequest, FetchError> {
    let pull: GithubPull = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    let labels = pull.labels.unwrap_or_default().into_iter().filter_map(|l| l.name);
    Ok(pull_request(pull.number, pull.title.as_deref(), labels))
}

#[derive(Debug, Deserialize)]
struct GitlabMerge {
    iid: u64,
    title: Option<String>,
    /// Names by default; objects with `with_labels_details=true`.
    labels: Option<Vec<Value>>,
}

/// `GET /projects/:id/merge_requests/:iid`: its title and label names.
pub(crate) fn gitlab_merge_request(body: &[u8]) -> Result<PullRequest, FetchError> {
    let mr: GitlabMerge = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    let labels = mr.labels.unwrap_or_default().into_iter().filter_map(|l| match l {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("name").and_then(Value::as_str).map(String::from),
        _ => None,
    });
    Ok(pull_request(mr.iid, mr.title.as_deref(), labels))
}

fn pull_request(number: u64, title: Option<&str>, labels: impl Iterator<Item = String>) -> PullRequest {
    let mut seen = HashSet::new();
    let labels = labels
        .map(|l| sanitize::clean_to(&l, MAX_LABEL))
        .filter(|l| !l.is_empty() && seen.insert(l.clone()))
        .take(MAX_LABELS)
        .collect();
    PullRequest { number, title: title.map(|t| sanitize::clean_to(t, MAX_SUBJECT)).filter(|t| !t.is_empty()), labels }
}

/// Give each commit of a PR its title (the API's wins over the one read
/// from a message), labels and the ticket keys of the title.
pub(crate) fn apply_pull_requests(changes: &mut Changes, pulls: &[PullRequest], tickets: Option<&TicketPattern>) {
    let by_number: HashMap<u64, &PullRequest> = pulls.iter().map(|p| (p.number, p)).collect();
    for commit in &mut changes.commits {
        let Some(pull) = commit.pr.and_then(|n| by_number.get(&n)) else { continue };
        if let Some(title) = &pull.title {
            commit.pr_title = Some(title.clone());
            add_tickets(&mut commit.tickets, title, tickets);
        }
        commit.labels.clone_from(&pull.labels);
    }
}

// ---------------------------------------------------------------------------
// Messages.

/// Read every commit, then give the commits a merged PR brought in its number.
fn commits(raw: Vec<RawCommit>, reading: Reading<'_>) -> Result<Vec<Commit>, FetchError> {
    let mut seen = HashSet::new();
    let mut commits = Vec::with_capacity(raw.len());
    let mut parents = Vec::with_capacity(raw.len());
    for r in raw {
        let sha = r.sha.trim().to_ascii_lowercase();
        if !is_object_id(&sha) {
            return Err(FetchError::Malformed(format!(
                "a commit's sha `{}` is not a git object id",
                sanitize::clean_to(&r.sha, 20)
            )));
        }
        if !seen.insert(sha.clone()) {
            continue;
        }
        let parent_shas: Vec<String> = r.parents.iter().map(|p| p.trim().to_ascii_lowercase()).collect();
        commits.push(read_message(sha, r.author.as_deref(), r.date.as_deref(), &r.message, parent_shas.len(), reading));
        parents.push(parent_shas);
    }
    attribute_merged_commits(&mut commits, &parents);
    Ok(commits)
}

/// One commit from its message: subject, PR/MR, breaking note, tickets.
fn read_message(
    sha: String,
    author: Option<&str>,
    date: Option<&str>,
    message: &str,
    parents: usize,
    reading: Reading<'_>,
) -> Commit {
    let message = message.trim_start();
    let (subject_raw, body) = message.split_once('\n').unwrap_or((message, ""));
    let subject = sanitize::clean_to(subject_raw, MAX_SUBJECT);
    let (pr, pr_title) = match reading.kind {
        ChangesKind::Github => github_pull_ref(subject_raw, body),
        ChangesKind::Gitlab => gitlab_merge_ref(subject_raw, body),
    };
    let header = pr_title.as_deref().unwrap_or(&subject);
    let breaking = breaking_note(header, body);
    let mut tickets = Vec::new();
    add_tickets(&mut tickets, &sanitize::clean_to(message, MAX_SCAN), reading.tickets);
    if let Some(title) = &pr_title {
        add_tickets(&mut tickets, title, reading.tickets);
    }
    Commit {
        sha,
        author: author.map(|a| sanitize::clean_to(a, MAX_AUTHOR)).filter(|a| !a.is_empty()),
        authored_at: date.and_then(|d| d.trim().parse().ok()),
        subject,
        pr,
        pr_title,
        labels: Vec::new(),
        tickets,
        merge: parents > 1,
        breaking,
    }
}

/// Ticket keys of `text` not yet in `keys`, cleaned, at most [`MAX_TICKETS`].
fn add_tickets(keys: &mut Vec<String>, text: &str, pattern: Option<&TicketPattern>) {
    let Some(pattern) = pattern else { return };
    for key in pattern.keys(text) {
        if keys.len() >= MAX_TICKETS {
            return;
        }
        let key = sanitize::clean_to(key, MAX_TICKET_LEN);
        if !key.is_empty() && !keys.contains(&key) {
            keys.push(key);
        }
    }
}

/// GitHub: `Merge pull request #12 from owner/branch` (the PR's title is the
/// body's first line), or a squash merge's `Title (#12)`.
fn github_pull_ref(subject: &str, body: &str) -> (Option<u64>, Option<String>) {
    let subject = subject.trim();
    if let Some(rest) = subject.strip_prefix("Merge pull request #")
        && let Some(number) = leading_number(rest)
    {
        return (Some(number), first_line(body, &[]));
    }
    match trailing_ref(subject, "(#") {
        Some((number, title)) => (Some(number), clean_title(title)),
        None => (None, None),
    }
}

/// GitLab: a merge commit's `See merge request group/project!12` (the MR's
/// title is the body's first line after `Merge branch '…' into '…'`), or a
/// subject ending in `(!12)`.
fn gitlab_merge_ref(subject: &str, body: &str) -> (Option<u64>, Option<String>) {
    let subject = subject.trim();
    let reference = body.rfind("See merge request ").and_then(|at| {
        let rest = &body[at + "See merge request ".len()..];
        let line = rest.lines().next().unwrap_or_default().trim();
        let (_, number) = line.rsplit_once('!')?;
        leading_number(number).filter(|_| !line.contains(char::is_whitespace))
    });
    if let Some(number) = reference {
        let title = if subject.starts_with("Merge branch ") {
            first_line(body, &["See merge request ", "Closes ", "Fixes ", "Resolves "])
        } else {
            clean_title(subject)
        };
        return (Some(number), title);
    }
    match trailing_ref(subject, "(!") {
        Some((number, title)) => (Some(number), clean_title(title)),
        None => (None, None),
    }
}

/// `Title (#12)` → (12, "Title"), with `open` being `(#` or `(!`.
fn trailing_ref<'a>(subject: &'a str, open: &str) -> Option<(u64, &'a str)> {
    let inner = subject.strip_suffix(')')?;
    let at = inner.rfind(open)?;
    let digits = &inner[at + open.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, inner[..at].trim_end()))
}

fn leading_number(text: &str) -> Option<u64> {
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    text[..end].parse().ok()
}

fn clean_title(text: &str) -> Option<String> {
    Some(sanitize::clean_to(text, MAX_SUBJECT)).filter(|t| !t.is_empty())
}

/// The first non-empty line of `body` not starting with one of `skip`.
fn first_line(body: &str, skip: &[&str]) -> Option<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !skip.iter().any(|s| l.starts_with(s)))
        .find_map(clean_title)
}

/// A conventional-commit header: `type(scope)!: description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conventional<'a> {
    /// Lower-cased (`feat`, `fix`, …).
    pub kind: String,
    pub scope: Option<&'a str>,
    pub breaking: bool,
    pub description: &'a str,
}

/// Read a conventional-commit header, if `header` is one.
pub(crate) fn conventional(header: &str) -> Option<Conventional<'_>> {
    let header = header.trim();
    let kind_end = header.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(header.len());
    if kind_end == 0 || kind_end > 20 {
        return None;
    }
    let mut rest = &header[kind_end..];
    let mut scope = None;
    if let Some(after) = rest.strip_prefix('(') {
        let close = after.find(')')?;
        let inner = after[..close].trim();
        if inner.is_empty() || close > 40 || inner.contains('(') {
            return None;
        }
        scope = Some(inner);
        rest = &after[close + 1..];
    }
    let breaking = rest.starts_with('!');
    if breaking {
        rest = &rest[1..];
    }
    let description = rest.strip_prefix(':')?;
    if !description.starts_with(char::is_whitespace) {
        return None;
    }
    let description = description.trim();
    if description.is_empty() {
        return None;
    }
    Some(Conventional { kind: header[..kind_end].to_ascii_lowercase(), scope, breaking, description })
}

/// What a breaking change breaks: the `BREAKING CHANGE:` footer's text, or
/// the description of a `type!:` header; `None` if neither.
fn breaking_note(header: &str, body: &str) -> Option<String> {
    // Lines are read cleaned: an escape sequence in front hides no footer.
    let mut lines = body.lines().map(|l| sanitize::clean_to(l, MAX_NOTE));
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("BREAKING CHANGE:").or_else(|| line.strip_prefix("BREAKING-CHANGE:")) else {
            continue;
        };
        // The footer runs to the next blank line.
        let mut note = rest.trim().to_string();
        for more in lines.by_ref().take_while(|l| !l.is_empty()) {
            if note.chars().count() > MAX_NOTE {
                break;
            }
            note.push(' ');
            note.push_str(&more);
        }
        let note = sanitize::clean_to(&note, MAX_NOTE);
        return Some(if note.is_empty() { sanitize::clean_to(header, MAX_NOTE) } else { note });
    }
    let header = conventional(header).filter(|c| c.breaking)?;
    Some(sanitize::clean_to(header.description, MAX_NOTE))
}

/// Commits a merge brought in (reachable from its second parent and not
/// from its first, within this compare) that carry no PR of their own get
/// the merge's PR number and title: a PR merged with a merge commit names
/// its number only on the merge. Merges are taken in list order (oldest
/// first), so a PR merged into another PR's branch keeps its own commits.
fn attribute_merged_commits(commits: &mut [Commit], parents: &[Vec<String>]) {
    let index: HashMap<&str, usize> = commits.iter().enumerate().map(|(i, c)| (c.sha.as_str(), i)).collect();
    let reach = |starts: &[String]| -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut stack: Vec<usize> = starts.iter().filter_map(|s| index.get(s.as_str()).copied()).collect();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(parents[i].iter().filter_map(|p| index.get(p.as_str()).copied()));
            }
        }
        seen
    };
    let mut claims: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, commit) in commits.iter().enumerate() {
        if commit.pr.is_none() || parents[i].len() < 2 {
            continue;
        }
        let mainline = reach(&parents[i][..1]);
        let mut brought: Vec<usize> = reach(&parents[i][1..]).difference(&mainline).copied().collect();
        brought.sort_unstable();
        claims.push((i, brought));
    }
    for (merge, brought) in claims {
        let (pr, title) = (commits[merge].pr, commits[merge].pr_title.clone());
        for j in brought {
            if commits[j].pr.is_none() {
                commits[j].pr = pr;
                commits[j].pr_title.clone_from(&title);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> Reading<'static> {
        Reading { kind: ChangesKind::Github, tickets: None }
    }

    fn read(kind: ChangesKind, message: &str, tickets: Option<&TicketPattern>) -> Commit {
        read_message("abcdef1".into(), Some("Ada"), None, message, 1, Reading { kind, tickets })
    }

    #[test]
    fn github_pull_request_numbers() {
        let c = read(ChangesKind::Github, "Merge pull request #42 from acme/refunds\n\nfeat(api): refunds", None);
        assert_eq!((c.pr, c.pr_title.as_deref()), (Some(42), Some("feat(api): refunds")));
        let c = read(ChangesKind::Github, "fix: rounding of cents (#17)\n\n* details", None);
        assert_eq!((c.pr, c.pr_title.as_deref()), (Some(17), Some("fix: rounding of cents")));
        let c = read(ChangesKind::Github, "Bump x (#a1)", None);
        assert_eq!(c.pr, None);
        let c = read(ChangesKind::Github, "plain commit #12 mentioned", None);
        assert_eq!(c.pr, None, "a mention is no PR");
        let c = read(ChangesKind::Github, "Merge branch 'main' into feature", None);
        assert_eq!(c.pr, None);
    }

    #[test]
    fn gitlab_merge_request_numbers() {
        let message =
            "Merge branch 'refunds' into 'main'\n\nfeat: refunds\n\nCloses #3\n\nSee merge request acme/payments!123";
        let c = read(ChangesKind::Gitlab, message, None);
        assert_eq!((c.pr, c.pr_title.as_deref()), (Some(123), Some("feat: refunds")));
        let c = read(ChangesKind::Gitlab, "fix: cents\n\nSee merge request group/sub/p!9", None);
        assert_eq!((c.pr, c.pr_title.as_deref()), (Some(9), Some("fix: cents")));
        let c = read(ChangesKind::Gitlab, "perf: cache rates (!77)", None);
        assert_eq!((c.pr, c.pr_title.as_deref()), (Some(77), Some("perf: cache rates")));
        let c = read(ChangesKind::Gitlab, "fix: cents (#17)", None);
        assert_eq!(c.pr, None, "(#17) is an issue on GitLab");
    }

    #[test]
    fn conventional_headers() {
        let c = conventional("feat(api)!: drop v1").unwrap();
        assert_eq!((c.kind.as_str(), c.scope, c.breaking, c.description), ("feat", Some("api"), true, "drop v1"));
        let c = conventional("Fix: cents").unwrap();
        assert_eq!((c.kind.as_str(), c.scope, c.breaking), ("fix", None, false));
        for not in ["Merge branch 'x'", "feat:no space", "feat: ", "feat(): x", "Update README", "v1.2: notes x"] {
            assert_eq!(conventional(not), None, "{not}");
        }
    }

    #[test]
    fn breaking_changes_from_bang_or_footer() {
        let c = read(ChangesKind::Github, "feat!: drop the v1 API", None);
        assert_eq!(c.breaking.as_deref(), Some("drop the v1 API"));
        let message = "refactor: config\n\nBody.\n\nBREAKING CHANGE: `retries` is now\n`retry.max`\n\nRefs: X";
        let c = read(ChangesKind::Github, message, None);
        assert_eq!(c.breaking.as_deref(), Some("`retries` is now `retry.max`"));
        let c = read(ChangesKind::Github, "fix: x\n\nBREAKING-CHANGE: y", None);
        assert_eq!(c.breaking.as_deref(), Some("y"));
        assert_eq!(read(ChangesKind::Github, "fix: breaking change in tests", None).breaking, None);
    }

    #[test]
    fn tickets_over_message_and_pr_title() {
        let pattern = TicketPattern::parse("[A-Z][A-Z0-9]+-[0-9]+").unwrap();
        let c = read(
            ChangesKind::Github,
            "Merge pull request #5 from a/b\n\nPAY-12: refunds\n\nAlso OPS-3, PAY-12 again",
            Some(&pattern),
        );
        assert_eq!(c.tickets, ["PAY-12", "OPS-3"]);
        let mut changes = Changes {
            kind: ChangesKind::Github,
            repo: "a/b".into(),
            base: "x".into(),
            head: "y".into(),
            status: None,
            ahead_by: 1,
            behind_by: None,
            total_commits: 1,
            truncated: false,
            commits: vec![read(ChangesKind::Github, "fix: cents (#9)", Some(&pattern))],
        };
        assert!(changes.commits[0].tickets.is_empty());
        let pulls = [PullRequest { number: 9, title: Some("LEDG-7 fix cents".into()), labels: vec!["bug".into()] }];
        apply_pull_requests(&mut changes, &pulls, Some(&pattern));
        let c = &changes.commits[0];
        assert_eq!(c.tickets, ["LEDG-7"], "from the PR's title");
        assert_eq!(c.labels, ["bug"]);
        assert_eq!(c.pr_title.as_deref(), Some("LEDG-7 fix cents"));
    }

    #[test]
    fn hostile_messages_are_cleaned_and_capped() {
        let pattern = TicketPattern::parse("[A-Z]+-[0-9]+").unwrap();
        let long = "x".repeat(10 * 1024);
        let message =
            format!("\u{1b}]0;pwned\u{7}fix: \u{202e}evil\u{1b}[2J {long} (#7)\n\n\u{1b}[31mPAY-1\u{1b}[0m\u{9b}2J");
        let raw = RawCommit {
            sha: " ABCDEF1234567\n".into(),
            author: Some("Eve\u{1b}[5m\u{202e}".into()),
            date: Some("\u{1b}[2J".into()),
            message,
            parents: Vec::new(),
        };
        let reading = Reading { kind: ChangesKind::Github, tickets: Some(&pattern) };
        let c = commits(vec![raw], reading).unwrap().remove(0);
        for text in [&c.subject, c.author.as_ref().unwrap()].into_iter().chain(c.tickets.iter()) {
            assert!(!text.chars().any(|ch| ch.is_control() || ('\u{202a}'..='\u{202e}').contains(&ch)), "{text:?}");
        }
        assert!(c.subject.starts_with("fix: evil xxx"), "{}", c.subject);
        assert!(c.subject.chars().count() <= MAX_SUBJECT + 1);
        assert_eq!(c.author.as_deref(), Some("Eve"));
        assert_eq!(c.sha, "abcdef1234567");
        assert_eq!(c.tickets, ["PAY-1"]);
        // The number is read on the whole subject, before it is cut.
        assert_eq!(c.pr, Some(7));
        assert!(c.pr_title.as_ref().is_some_and(|t| t.chars().count() <= MAX_SUBJECT + 1 && t.ends_with('…')));
    }

    #[test]
    fn a_merged_pr_gives_its_commits_its_number() {
        // main: m0 ── M(#5) ; the PR's branch: a1 ── a2 merged by M.
        let page = serde_json::json!({
            "status": "ahead", "ahead_by": 4, "behind_by": 0, "total_commits": 4,
            "commits": [
                {"sha": "a100000", "commit": {"message": "feat: part one"}, "parents": [{"sha": "0000001"}]},
                {"sha": "a200000", "commit": {"message": "test: part two"}, "parents": [{"sha": "a100000"}]},
                {"sha": "b000000", "commit": {"message": "docs: on main"}, "parents": [{"sha": "0000001"}]},
                {"sha": "c000000", "commit": {"message": "Merge pull request #5 from a/b\n\nRefunds"},
                 "parents": [{"sha": "b000000"}, {"sha": "a200000"}]}
            ]
        })
        .to_string();
        let changes = github_changes("a/b", "v1", "v2", &[page.as_bytes()], github()).unwrap();
        let prs: Vec<Option<u64>> = changes.commits.iter().map(|c| c.pr).collect();
        assert_eq!(prs, [Some(5), Some(5), None, Some(5)]);
        assert_eq!(changes.commits[0].pr_title.as_deref(), Some("Refunds"));
        assert!(changes.commits[3].merge && !changes.commits[0].merge);
        assert_eq!(changes.status, Some(CompareStatus::Ahead));
        assert!(!changes.truncated);
    }

    #[test]
    fn pages_concatenate_and_a_short_answer_is_truncated() {
        let page = |shas: &[&str]| {
            let commits: Vec<Value> = shas
                .iter()
                .map(|s| serde_json::json!({"sha": s, "commit": {"message": "x", "author": {"name": "A", "date": "2026-11-20T10:00:00Z"}}, "author": null, "parents": []}))
                .collect();
            serde_json::json!({"status": "ahead", "ahead_by": 3, "behind_by": 0, "total_commits": 3, "commits": commits})
                .to_string()
        };
        let (p1, p2) = (page(&["1111111", "2222222"]), page(&["2222222", "3333333"]));
        let changes = github_changes("a/b", "x", "y", &[p1.as_str(), p2.as_str()], github()).unwrap();
        assert_eq!(changes.commits.len(), 3, "a commit seen twice is kept once");
        assert!(!changes.truncated);
        assert_eq!(changes.commits[0].authored_at, Some("2026-11-20T10:00:00Z".parse().unwrap()));
        let changes = github_changes("a/b", "x", "y", &[p1.as_str()], github()).unwrap();
        assert!(changes.truncated);
    }

    #[test]
    fn malformed_answers() {
        assert!(matches!(github_changes("a/b", "x", "y", &[b"{" as &[u8]], github()), Err(FetchError::Malformed(_))));
        let bad_sha = br#"{"commits":[{"sha":"\u001b[2Jzz","commit":{"message":"x"}}]}"#;
        let err = github_changes("a/b", "x", "y", &[bad_sha as &[u8]], github()).unwrap_err();
        assert_eq!(err.to_string(), "malformed JSON: a commit's sha `zz` is not a git object id");
        let gl = Reading { kind: ChangesKind::Gitlab, tickets: None };
        assert!(matches!(gitlab_changes("a/b", "x", "y", b"[]", gl), Err(FetchError::Malformed(_))));
        let empty = gitlab_changes("a/b", "x", "y", br#"{"commits":[],"compare_same_ref":true}"#, gl).unwrap();
        assert_eq!(empty.status, Some(CompareStatus::Identical));
        assert!(empty.head_is_in_base());
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512), text in ".{0,300}") {
            let _ = github_changes("a/b", "x", "y", &[&body], github());
            let _ = gitlab_changes("a/b", "x", "y", &body, Reading { kind: ChangesKind::Gitlab, tickets: None });
            let _ = conventional(&text);
            let _ = read(ChangesKind::Github, &text, None);
            let _ = read(ChangesKind::Gitlab, &text, None);
        }
    }
}
