//! What ships: the commits between two refs of a service's repository, as
//! the GitHub or GitLab compare API lists them, with their PR/MR numbers,
//! authors and ticket keys; whether a commit is in `mainline` (the
//! `not_merged_back` finding); and a release-notes draft.
//!
//! - [`ChangesClient::compare`] — `base...head` of a repository, every page,
//!   cached by (repo, base, head): a compare of two full commit ids is never
//!   asked again; one with a branch or tag is revalidated with its `ETag`
//!   (a `304` costs no rate limit).
//! - [`ChangesClient::is_in_mainline`] / [`ChangesClient::contains`] — one
//!   light compare `container...sha`; [`Changes::head_is_in_base`] is the
//!   pure judgement on the answer.
//! - [`notes::draft`] — Markdown in the shape of the seeds' release-notes
//!   template, grouped by conventional-commit prefix or PR label.
//!
//! The HTTP part is the sources' own: the same client (redirects stay on
//! the API's host), the same `FetchError`s and the same rate-limit budget
//! per token and host (`sources::github::shared_budget`). Every text taken
//! from a commit is cleaned ([`crate::sanitize`]) before it is kept.

mod client;
pub mod config;
pub(crate) mod decode;
pub mod notes;

use serde::Serialize;

pub use client::{ChangesClient, RequestCounts};
pub use config::{ChangesConfig, ChangesKind, ChangesProblem, ChangesSettings, ProblemKey};

/// The commits in `head` that are not in `base`, and how the two relate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Changes {
    /// Which API answered: it says how a PR/MR is written (`#12`, `!12`).
    pub kind: ChangesKind,
    /// `owner/name` (GitHub) or the project path or id (GitLab).
    pub repo: String,
    pub base: String,
    pub head: String,
    /// What GitHub said; GitLab says nothing (`None`) unless both refs are
    /// the same (`identical`).
    pub status: Option<CompareStatus>,
    /// Commits in `head` not in `base`.
    pub ahead_by: u64,
    /// Commits in `base` not in `head` (GitHub only).
    pub behind_by: Option<u64>,
    /// How many commits the API says the range holds.
    pub total_commits: u64,
    /// `commits` is not the whole range: more than the pages read, or a
    /// GitLab compare that timed out.
    pub truncated: bool,
    /// In the API's order (oldest first).
    pub commits: Vec<Commit>,
}

impl Changes {
    /// Whether `base` contains `head`: GitHub's `behind` or `identical`
    /// (`ahead`/`diverged`: it does not); without a status, no commit of
    /// `head` is missing from `base`. Compare `main...sha` and this says
    /// whether `sha` is in `main`.
    pub fn head_is_in_base(&self) -> bool {
        match self.status {
            Some(CompareStatus::Behind | CompareStatus::Identical) => true,
            Some(CompareStatus::Ahead | CompareStatus::Diverged) => false,
            None => self.ahead_by == 0,
        }
    }

    /// Every distinct ticket key, in order of first appearance.
    pub fn tickets(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for key in self.commits.iter().flat_map(|c| &c.tickets) {
            if !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
        keys
    }

    /// Every distinct PR/MR number, in order of first appearance.
    pub fn pull_requests(&self) -> Vec<u64> {
        let mut numbers = Vec::new();
        for n in self.commits.iter().filter_map(|c| c.pr) {
            if !numbers.contains(&n) {
                numbers.push(n);
            }
        }
        numbers
    }

    /// The commits that carry ticket `key`.
    pub fn commits_with_ticket<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Commit> + 'a {
        self.commits.iter().filter(move |c| c.tickets.iter().any(|t| t == key))
    }
}

/// How `head` relates to `base` (GitHub's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompareStatus {
    Ahead,
    Behind,
    Diverged,
    Identical,
}

impl CompareStatus {
    pub(crate) fn parse(raw: &str) -> Option<CompareStatus> {
        match raw {
            "ahead" => Some(CompareStatus::Ahead),
            "behind" => Some(CompareStatus::Behind),
            "diverged" => Some(CompareStatus::Diverged),
            "identical" => Some(CompareStatus::Identical),
            _ => None,
        }
    }
}

/// One commit, every text in it cleaned and capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Commit {
    /// Lower-case hex.
    pub sha: String,
    /// The git author's name (else the account's login).
    pub author: Option<String>,
    pub authored_at: Option<jiff::Timestamp>,
    /// The message's first line.
    pub subject: String,
    /// The PR (GitHub) or MR (GitLab) number: from the message (`Merge pull
    /// request #12`, `… (#12)`, `See merge request g/p!12`, `… (!12)`), or
    /// from the merge that brought the commit in.
    pub pr: Option<u64>,
    /// The PR/MR title: from a merge commit's body or a squash subject, or
    /// from the API ([`ChangesClient::with_pull_requests`]).
    pub pr_title: Option<String>,
    /// The PR/MR's labels (only after [`ChangesClient::with_pull_requests`]).
    pub labels: Vec<String>,
    /// Ticket keys found by `tickets` in the message and the PR title.
    pub tickets: Vec<String>,
    /// More than one parent.
    pub merge: bool,
    /// What it breaks: a `BREAKING CHANGE:` footer or a `type!:` header.
    pub breaking: Option<String>,
}

impl Commit {
    /// Its PR/MR as people write it: `#12` on GitHub, `!12` on GitLab.
    pub fn pr_ref(&self, kind: ChangesKind) -> Option<String> {
        self.pr.map(|n| pr_ref(kind, n))
    }

    /// The first seven characters of the sha.
    pub fn short_sha(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }
}

/// A PR/MR's title and labels, as its API gives them (cleaned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: Option<String>,
    pub labels: Vec<String>,
}

/// A PR/MR number as people write it: `#12` on GitHub, `!12` on GitLab.
pub fn pr_ref(kind: ChangesKind, number: u64) -> String {
    match kind {
        ChangesKind::Github => format!("#{number}"),
        ChangesKind::Gitlab => format!("!{number}"),
    }
}

/// Answer the engine's questions ([`crate::engine::Engine::asks`]) with
/// `client`, at most `concurrency` at once, in any order.
pub async fn answer_all(
    client: &ChangesClient,
    asks: Vec<crate::engine::shipping::Ask>,
    concurrency: usize,
) -> Vec<(crate::engine::shipping::Ask, crate::engine::shipping::Answer)> {
    use futures::StreamExt;
    futures::stream::iter(asks)
        .map(|ask| async move {
            let answer = answer(client, &ask).await;
            (ask, answer)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// One question's answer; an error is kept as its text (already without
/// the token).
pub async fn answer(client: &ChangesClient, ask: &crate::engine::shipping::Ask) -> crate::engine::shipping::Answer {
    use crate::engine::shipping::{Answer, Ask};
    match ask {
        Ask::Compare { repo, base, head } => {
            Answer::Compare(client.compare(repo, base, head).await.map(std::sync::Arc::new).map_err(|e| e.to_string()))
        }
        Ask::Mainline { repo, git_ref } => {
            Answer::Mainline(client.is_in_mainline(repo, git_ref).await.map_err(|e| e.to_string()))
        }
    }
}
