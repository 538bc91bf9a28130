//! The compare client: thin HTTP over the sources' machinery (client,
//! capped bodies, error classes, rate-limit budget), a cache keyed by
//! (repo, base, head), and one request in flight per key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH};

use super::config::{ChangesConfig, ChangesKind, ChangesProblem, TicketPattern, check_ref_name, is_full_object_id};
use super::decode::{self, Reading};
use super::{Changes, PullRequest};
use crate::sanitize;
use crate::sources::auth::{self, Token};
use crate::sources::fetch::{self, FetchError, HttpContext};
use crate::sources::github::{self, RateState};
use crate::sources::{gitlab, lock};

/// Commits asked for per page of a GitHub compare (its maximum).
const PER_PAGE: usize = 100;
/// Pages read of one GitHub compare; past this the answer is `truncated`.
pub(crate) const MAX_PAGES: usize = 25;
/// Largest page read: a compare page also lists changed files and patches.
const MAX_PAGE_BODY: usize = 8 * 1024 * 1024;
/// Longest wait for one response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// PRs/MRs whose titles and labels are read for one set of changes.
const MAX_PULL_LOOKUPS: usize = 100;
/// Bounds of the compare cache (answers, and commits over all answers).
const CACHE_ENTRIES: usize = 1024;
const CACHE_COMMITS: usize = 100_000;
const PULL_CACHE_ENTRIES: usize = 4096;

type Key = (String, String, String);

/// Reads compares (and PR titles and labels) from GitHub or GitLab. Cheap to
/// clone: clones share the cache, the budget and the counters.
#[derive(Clone)]
pub struct ChangesClient {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ChangesKind,
    /// API base without a trailing slash.
    api: String,
    /// Pagination links must stay on it: the token goes with them.
    origin: url::Origin,
    mainline: String,
    tickets: Option<TicketPattern>,
    /// The auth header, its value marked sensitive.
    auth: Option<(HeaderName, HeaderValue)>,
    /// Kept only to scrub it out of error texts.
    token: Option<Token>,
    /// The budget of this token on this host, shared with the sources.
    rate: Arc<Mutex<RateState>>,
    client: reqwest::Client,
    cache: Mutex<CompareCache>,
    pulls: Mutex<HashMap<(String, u64), PullEntry>>,
    /// One fetch per key at a time: a second caller waits, then finds it cached.
    flights: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    sent: AtomicU64,
    not_modified: AtomicU64,
}

/// Requests this client sent: all of them, and those answered `304 Not
/// Modified` (which cost no rate limit on GitHub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    pub sent: u64,
    pub not_modified: u64,
}

impl RequestCounts {
    /// Requests that counted against the rate limit.
    pub fn counted(&self) -> u64 {
        self.sent - self.not_modified
    }
}

impl ChangesClient {
    /// A client for `config`, on the shared HTTP client. Reads the token
    /// from the variable `token_env` names: a missing or empty one is a
    /// problem naming it.
    pub fn new(config: &ChangesConfig, ctx: &HttpContext) -> Result<ChangesClient, ChangesProblem> {
        let problem = |message: String| ChangesProblem { key: super::ProblemKey::Changes("token_env"), message };
        let token = auth::from_env(config.token_env.as_deref()).map_err(|e| problem(e.message))?;
        let auth = match &token {
            None => None,
            Some(token) => Some(match config.kind {
                ChangesKind::Github => (AUTHORIZATION, token.bearer().map_err(problem)?),
                ChangesKind::Gitlab => {
                    let mut value = HeaderValue::from_str(token.expose()).map_err(|_| {
                        problem("the token holds characters that are not allowed in an HTTP header".into())
                    })?;
                    value.set_sensitive(true);
                    (HeaderName::from_static("private-token"), value)
                }
            }),
        };
        let origin = url::Url::parse(&config.api_url)
            .map_err(|e| ChangesProblem {
                key: super::ProblemKey::Changes("api_url"),
                message: format!("invalid URL `{}`: {e}", config.api_url),
            })?
            .origin();
        let rate = github::shared_budget(&origin, token.as_ref().map(Token::cache_key));
        Ok(ChangesClient {
            inner: Arc::new(Inner {
                kind: config.kind,
                api: config.api_url.trim_end_matches('/').to_string(),
                origin,
                mainline: config.mainline.clone(),
                tickets: config.tickets.clone(),
                auth,
                token,
                rate,
                client: ctx.client.clone(),
                cache: Mutex::new(CompareCache::default()),
                pulls: Mutex::new(HashMap::new()),
                flights: Mutex::new(HashMap::new()),
                sent: AtomicU64::new(0),
                not_modified: AtomicU64::new(0),
            }),
        })
    }

    /// The commits in `head` that are not in `base` (refs: tags, branches
    /// or commit ids), every page of them. Cached by (repo, base, head): two
    /// full commit ids are never asked again; otherwise the first page is
    /// asked with its `ETag`, and a `304` answers from the cache.
    pub async fn compare(&self, repo: &str, base: &str, head: &str) -> Result<Changes, FetchError> {
        let inner = &self.inner;
        let result = inner.compare(repo, base, head, Depth::Full).await;
        result.map(|c| Changes::clone(&c)).map_err(|e| inner.scrub(e))
    }

    /// Whether `container` (a branch, tag or commit) contains commit `sha`:
    /// one light compare `container...sha` ([`Changes::head_is_in_base`]).
    pub async fn contains(&self, repo: &str, container: &str, sha: &str) -> Result<bool, FetchError> {
        let inner = &self.inner;
        let result = inner.compare(repo, container, sha, Depth::Status).await;
        result.map(|c| c.head_is_in_base()).map_err(|e| inner.scrub(e))
    }

    /// Whether commit `sha` is in `mainline`: `false` is the
    /// `not_merged_back` finding (a hotfix that never reached the branch).
    pub async fn is_in_mainline(&self, repo: &str, sha: &str) -> Result<bool, FetchError> {
        self.contains(repo, &self.inner.mainline, sha).await
    }

    /// The mainline branch this client checks against.
    pub fn mainline(&self) -> &str {
        &self.inner.mainline
    }

    /// The title and labels of PR (GitHub) or MR (GitLab) `number`,
    /// revalidated with its `ETag` when asked again.
    pub async fn pull_request(&self, repo: &str, number: u64) -> Result<PullRequest, FetchError> {
        let inner = &self.inner;
        inner.pull_request(repo, number).await.map_err(|e| inner.scrub(e))
    }

    /// `changes` with each PR/MR's title (the API's), labels and the ticket
    /// keys of its title, for at most [`MAX_PULL_LOOKUPS`] PRs. A PR the API
    /// no longer knows (404) keeps what its commits said.
    pub async fn with_pull_requests(&self, mut changes: Changes) -> Result<Changes, FetchError> {
        let inner = &self.inner;
        let mut pulls = Vec::new();
        for number in changes.pull_requests().into_iter().take(MAX_PULL_LOOKUPS) {
            match inner.pull_request(&changes.repo, number).await {
                Ok(pull) => pulls.push(pull),
                Err(FetchError::Status { code: 404, .. }) => {}
                Err(e) => return Err(inner.scrub(e)),
            }
        }
        decode::apply_pull_requests(&mut changes, &pulls, inner.tickets.as_ref());
        Ok(changes)
    }

    /// The requests sent so far.
    pub fn requests(&self) -> RequestCounts {
        RequestCounts {
            sent: self.inner.sent.load(Ordering::Relaxed),
            not_modified: self.inner.not_modified.load(Ordering::Relaxed),
        }
    }
}

/// How much of a compare is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Every page of commits.
    Full,
    /// The status and counts (GitHub: one commit per page, one page).
    Status,
}

/// What a request was for, to say what a 404 means.
enum What<'a> {
    Compare { repo: &'a str, base: &'a str, head: &'a str },
    Pull { repo: &'a str, number: u64 },
}

enum Fetched {
    NotModified,
    Body { body: Vec<u8>, etag: Option<HeaderValue>, next: Option<url::Url> },
}

impl Inner {
    fn scrub(&self, err: FetchError) -> FetchError {
        match &self.token {
            Some(token) => token.scrub(err),
            None => err,
        }
    }

    fn reading(&self) -> Reading<'_> {
        Reading { kind: self.kind, tickets: self.tickets.as_ref() }
    }

    fn check_repo(&self, repo: &str) -> Result<(), FetchError> {
        let ok = match self.kind {
            ChangesKind::Github => github::valid_repo(repo),
            ChangesKind::Gitlab => gitlab::valid_project(repo),
        };
        if ok {
            Ok(())
        } else {
            Err(FetchError::Field(format!("`{}` is not a repository", sanitize::clean_to(repo, 80))))
        }
    }

    async fn compare(&self, repo: &str, base: &str, head: &str, depth: Depth) -> Result<Arc<Changes>, FetchError> {
        self.check_repo(repo)?;
        for git_ref in [base, head] {
            check_ref_name(git_ref).map_err(|m| {
                FetchError::Field(format!("`{}` is not a git ref: {m}", sanitize::clean_to(git_ref, 80)))
            })?;
        }
        let key: Key = (repo.to_string(), base.to_string(), head.to_string());
        let asked_at = Instant::now();
        let flight = self.flight(&key);
        let _one_at_a_time = flight.lock().await;

        let cached = lock(&self.cache).get(&key);
        let usable = cached.filter(|e| e.complete || depth == Depth::Status);
        if let Some(entry) = &usable {
            // Two commit ids name one answer forever; and an answer fetched
            // while this caller waited for the fetch in flight is fresh.
            let immutable = is_full_object_id(base) && is_full_object_id(head);
            if immutable || entry.fetched_at >= asked_at {
                return Ok(entry.changes.clone());
            }
        }
        // A status is answered by revalidating a complete answer, if there is one.
        let url = match (&usable, depth) {
            (Some(entry), Depth::Status) if entry.complete => entry.first_url.clone(),
            _ => self.compare_url(repo, base, head, depth)?,
        };
        let etag = usable.as_ref().filter(|e| e.first_url == url).and_then(|e| e.etag.clone());
        let what = What::Compare { repo, base, head };
        let (first, etag, mut next) = match self.get(url.clone(), etag.as_ref(), &what).await? {
            Fetched::NotModified => {
                lock(&self.cache).revalidated(&key);
                return usable
                    .map(|e| e.changes)
                    .ok_or_else(|| FetchError::Other("HTTP 304 Not Modified with nothing cached".into()));
            }
            Fetched::Body { body, etag, next } => (body, etag, next),
        };
        let changes = match self.kind {
            ChangesKind::Github => {
                let mut pages = vec![first];
                while depth == Depth::Full
                    && pages.len() < MAX_PAGES
                    && let Some(url) = next.take()
                {
                    match self.get(url, None, &what).await? {
                        Fetched::Body { body, next: after, .. } => {
                            pages.push(body);
                            next = after;
                        }
                        Fetched::NotModified => {
                            return Err(FetchError::Other("HTTP 304 Not Modified to an unconditional request".into()));
                        }
                    }
                }
                decode::github_changes(repo, base, head, &pages, self.reading())?
            }
            ChangesKind::Gitlab => decode::gitlab_changes(repo, base, head, &first, self.reading())?,
        };
        let changes = Arc::new(changes);
        let complete = depth == Depth::Full || !changes.truncated;
        let entry =
            Entry { changes: changes.clone(), complete, first_url: url, etag, fetched_at: Instant::now(), used: 0 };
        lock(&self.cache).put(key, entry);
        Ok(changes)
    }

    /// The per-key lock of one fetch; locks nobody holds are dropped.
    fn flight(&self, key: &Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = lock(&self.flights);
        flights.retain(|_, f| Arc::strong_count(f) > 1);
        flights.entry(key.clone()).or_default().clone()
    }

    fn compare_url(&self, repo: &str, base: &str, head: &str, depth: Depth) -> Result<url::Url, FetchError> {
        let raw = match self.kind {
            ChangesKind::Github => {
                let per_page = if depth == Depth::Full { PER_PAGE } else { 1 };
                format!(
                    "{}/repos/{repo}/compare/{}...{}?per_page={per_page}",
                    self.api,
                    encode_ref(base),
                    encode_ref(head)
                )
            }
            ChangesKind::Gitlab => {
                format!("{}/projects/{}/repository/compare", self.api, gitlab::project_id(repo))
            }
        };
        let mut url =
            url::Url::parse(&raw).map_err(|e| FetchError::Other(format!("cannot build the request URL: {e}")))?;
        if self.kind == ChangesKind::Gitlab {
            url.query_pairs_mut().append_pair("from", base).append_pair("to", head);
        }
        Ok(url)
    }

    async fn pull_request(&self, repo: &str, number: u64) -> Result<PullRequest, FetchError> {
        self.check_repo(repo)?;
        let raw = match self.kind {
            ChangesKind::Github => format!("{}/repos/{repo}/pulls/{number}", self.api),
            ChangesKind::Gitlab => {
                format!("{}/projects/{}/merge_requests/{number}", self.api, gitlab::project_id(repo))
            }
        };
        let url = url::Url::parse(&raw).map_err(|e| FetchError::Other(format!("cannot build the request URL: {e}")))?;
        let key = (repo.to_string(), number);
        let cached = lock(&self.pulls).get(&key).cloned();
        let etag = cached.as_ref().and_then(|e| e.etag.clone());
        match self.get(url, etag.as_ref(), &What::Pull { repo, number }).await? {
            Fetched::NotModified => cached
                .map(|e| e.pull)
                .ok_or_else(|| FetchError::Other("HTTP 304 Not Modified with nothing cached".into())),
            Fetched::Body { body, etag, .. } => {
                let pull = match self.kind {
                    ChangesKind::Github => decode::github_pull(&body)?,
                    ChangesKind::Gitlab => decode::gitlab_merge_request(&body)?,
                };
                let mut pulls = lock(&self.pulls);
                if pulls.len() >= PULL_CACHE_ENTRIES {
                    pulls.clear();
                }
                pulls.insert(key, PullEntry { pull: pull.clone(), etag });
                Ok(pull)
            }
        }
    }

    /// One conditional GET under the budget.
    async fn get(&self, url: url::Url, etag: Option<&HeaderValue>, what: &What<'_>) -> Result<Fetched, FetchError> {
        let now = Timestamp::now().as_second();
        if let Some(held) = lock(&self.rate).hold(now) {
            return Err(held);
        }
        let mut request = self.client.get(url.clone()).timeout(REQUEST_TIMEOUT);
        request = match self.kind {
            ChangesKind::Github => {
                request.header(ACCEPT, github::MEDIA_TYPE).header("X-GitHub-Api-Version", github::API_VERSION)
            }
            ChangesKind::Gitlab => request.header(ACCEPT, "application/json"),
        };
        if let Some((name, value)) = &self.auth {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag.clone());
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let resp = fetch::get_capped(request, MAX_PAGE_BODY).await.map_err(|e| match e {
            FetchError::Timeout(_) => FetchError::Timeout(REQUEST_TIMEOUT),
            other => other,
        })?;
        let now = Timestamp::now().as_second();
        lock(&self.rate).observe(&resp, now);
        if resp.status == reqwest::StatusCode::NOT_MODIFIED {
            if etag.is_none() {
                return Err(FetchError::Other("HTTP 304 Not Modified to an unconditional request".into()));
            }
            self.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(Fetched::NotModified);
        }
        if !resp.status.is_success() {
            let err = self.classify(&resp, now, what);
            if let Some(wait) = err.retry_after() {
                lock(&self.rate).block_until(now.saturating_add(wait.as_secs() as i64));
            }
            return Err(err);
        }
        let next = match resp.header("link").and_then(github::next_link) {
            Some(link) if self.kind == ChangesKind::Github => Some(self.same_origin(&url, link)?),
            _ => None,
        };
        Ok(Fetched::Body { etag: resp.headers.get(ETAG).cloned(), body: resp.body, next })
    }

    /// The next page's URL, only on the API's own origin: the token goes with it.
    fn same_origin(&self, base: &url::Url, link: &str) -> Result<url::Url, FetchError> {
        let next = base.join(link).map_err(|e| FetchError::Other(format!("bad Link header: {e}")))?;
        if next.origin() != self.origin {
            return Err(FetchError::Other(format!(
                "the next page is on another host ({}): not followed, the token stays on the API host",
                sanitize::clean_to(next.origin().ascii_serialization().as_str(), 80)
            )));
        }
        Ok(next)
    }

    /// The sources' classification (rate limits, auth, server messages),
    /// with a 404 that says what was not found.
    fn classify(&self, resp: &fetch::Response, now: i64, what: &What<'_>) -> FetchError {
        let repo = match what {
            What::Compare { repo, .. } | What::Pull { repo, .. } => *repo,
        };
        let err = match self.kind {
            ChangesKind::Github => github::classify(resp, now, &github::Missing::Repo(repo)),
            ChangesKind::Gitlab => gitlab::classify(resp, now, repo),
        };
        if !matches!(err, FetchError::Status { code: 404, .. }) {
            return err;
        }
        let said = gitlab::error_message(&resp.body).unwrap_or_default();
        let repo = sanitize::clean_to(repo, 80);
        let detail = match what {
            // GitLab names the project when it is the project that is missing.
            _ if self.kind == ChangesKind::Gitlab && said.contains("Project") => {
                format!("project {repo} not found (or no access)")
            }
            What::Compare { base, head, .. } => {
                let range = format!("{}...{}", sanitize::clean_to(base, 80), sanitize::clean_to(head, 80));
                let reason = match said.trim_start_matches("404 ") {
                    "" | "Not Found" | "Ref Not Found" | "Not found" => {
                        "a ref is unknown (no such tag, branch or commit), or the repository is not found (or no access)"
                            .to_string()
                    }
                    other => other.to_string(),
                };
                format!("cannot compare {range} in {repo}: {reason}")
            }
            What::Pull { number, .. } => match self.kind {
                ChangesKind::Github => format!("pull request #{number} not found in {repo}"),
                ChangesKind::Gitlab => format!("merge request !{number} not found in {repo}"),
            },
        };
        FetchError::Status { code: 404, detail }
    }
}

/// A ref in a URL path: `/` kept (GitHub reads `release/1.4` as one ref),
/// everything outside the unreserved set percent-encoded.
fn encode_ref(git_ref: &str) -> String {
    let mut out = String::with_capacity(git_ref.len());
    for b in git_ref.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone)]
struct PullEntry {
    pull: PullRequest,
    etag: Option<HeaderValue>,
}

#[derive(Debug, Clone)]
struct Entry {
    changes: Arc<Changes>,
    /// Every page was read (or a status-only answer already held them all).
    complete: bool,
    /// The first page's URL, which `etag` is for.
    first_url: url::Url,
    etag: Option<HeaderValue>,
    fetched_at: Instant,
    used: u64,
}

/// Answers by (repo, base, head); the least recently used go first when
/// over [`CACHE_ENTRIES`] answers or [`CACHE_COMMITS`] commits.
#[derive(Debug, Default)]
struct CompareCache {
    entries: HashMap<Key, Entry>,
    commits: usize,
    tick: u64,
}

impl CompareCache {
    fn get(&mut self, key: &Key) -> Option<Entry> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|e| {
            e.used = tick;
            e.clone()
        })
    }

    /// The server said the answer still holds: it is as fresh as a new one.
    fn revalidated(&mut self, key: &Key) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.fetched_at = Instant::now();
        }
    }

    fn put(&mut self, key: Key, mut entry: Entry) {
        self.tick += 1;
        entry.used = self.tick;
        self.commits += entry.changes.commits.len();
        if let Some(old) = self.entries.insert(key, entry) {
            self.commits -= old.changes.commits.len();
        }
        while self.entries.len() > CACHE_ENTRIES || (self.commits > CACHE_COMMITS && self.entries.len() > 1) {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(gone) = self.entries.remove(&oldest) {
                self.commits -= gone.changes.commits.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(commits: usize) -> Arc<Changes> {
        let commit = super::super::Commit {
            sha: "abcdef1".into(),
            author: None,
            authored_at: None,
            subject: "x".into(),
            pr: None,
            pr_title: None,
            labels: Vec::new(),
            tickets: Vec::new(),
            merge: false,
            breaking: None,
        };
        Arc::new(Changes {
            kind: ChangesKind::Github,
            repo: "a/b".into(),
            base: "x".into(),
            head: "y".into(),
            status: None,
            ahead_by: commits as u64,
            behind_by: None,
            total_commits: commits as u64,
            truncated: false,
            commits: vec![commit; commits],
        })
    }

    fn entry(commits: usize) -> Entry {
        Entry {
            changes: changes(commits),
            complete: true,
            first_url: url::Url::parse("http://x/").unwrap(),
            etag: None,
            fetched_at: Instant::now(),
            used: 0,
        }
    }

    fn key(i: usize) -> Key {
        ("a/b".into(), format!("v{i}"), "main".into())
    }

    #[test]
    fn the_cache_is_bounded_by_entries_and_commits() {
        let mut cache = CompareCache::default();
        for i in 0..(CACHE_ENTRIES + 5) {
            cache.put(key(i), entry(1));
        }
        assert_eq!(cache.entries.len(), CACHE_ENTRIES);
        assert_eq!(cache.commits, CACHE_ENTRIES);
        assert!(cache.get(&key(0)).is_none(), "the oldest went first");
        assert!(cache.get(&key(CACHE_ENTRIES + 4)).is_some());
        // Touching an entry keeps it.
        assert!(cache.get(&key(5)).is_some());
        cache.put(key(99_999), entry(CACHE_COMMITS));
        assert!(cache.commits <= CACHE_COMMITS, "{}", cache.commits);
        assert!(cache.get(&key(99_999)).is_some(), "the newest stays, however large");
        // Replacing an entry counts its commits once.
        let mut cache = CompareCache::default();
        cache.put(key(1), entry(3));
        cache.put(key(1), entry(2));
        assert_eq!(cache.commits, 2);
    }

    #[test]
    fn refs_are_encoded_for_the_path() {
        assert_eq!(encode_ref("release/1.4"), "release/1.4");
        assert_eq!(encode_ref("v1.0+build#7"), "v1.0%2Bbuild%237");
    }
}
