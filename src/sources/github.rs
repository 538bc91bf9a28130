//! The `github` source: what GitHub's deployment records say runs in each
//! environment (evidence `recorded`).
//!
//! ```toml
//! [[sources]]
//! name = "deployments"
//! kind = "github"
//! repo = "acme/{service}"            # or per service: repos = { payments = "acme/pay" }
//! token_env = "GITHUB_TOKEN"         # optional: without it GitHub allows 60 requests/h
//! # api_url = "https://ghe.example/api/v3"
//! # environments_map = { prod = "production" }
//! # version_from = "ref"             # "ref" | "sha" | a JSON pointer into the payload
//! ```
//!
//! A cell lists the environment's deployments (following `Link: rel="next"`
//! for a few pages), sorts them newest first by `created_at` then `id`, and
//! walks them reading each one's latest status: the running deployment is
//! the newest whose latest status is `success`. An `inactive` one was
//! replaced, and so was everything older: the walk stops there and the cell
//! reads "no deployment". Its `deployed_at` is its first `success` status:
//! when it went out, however many statuses were posted since.
//!
//! `previous` (the rollback target) is the next older deployment of the same
//! environment with another version whose latest status is `success` or
//! `inactive` (GitHub marks the one a newer success replaced `inactive`;
//! failed ones are skipped): its version, sha, the time of its first
//! `success` status and `deployment <id>`. Finding it reads the statuses of
//! at most [`MAX_PREVIOUS_LOOKUPS`] more deployments (older ones with the
//! running version need none); past that, or if a lookup fails, the reading
//! stands with no `previous`.
//!
//! Every request is conditional once its `ETag` is known (a 304 costs no
//! rate limit), and the source slows down by itself before the rate limit
//! is spent, so a fleet of cells never runs a token dry.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, HeaderValue, IF_NONE_MATCH};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::budget;
use super::fetch::{self, FetchError, HttpContext, Response};
use super::http::parse_options;
use super::{CellTarget, Fetched, OptionError, Source, auth};
use crate::model::SourceSpec;
use crate::model::rollback::Artifact;
use crate::model::{Evidence, Reading};
use crate::sanitize;

pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";
pub(crate) const API_VERSION: &str = "2022-11-28";
pub(crate) const MEDIA_TYPE: &str = "application/vnd.github+json";
/// Pages of 100 deployments read per cell; GitHub lists newest first, so
/// more than this is history nobody polls for.
const MAX_PAGES: usize = 3;
/// Deployments whose statuses are read before giving up on finding one running.
pub(crate) const MAX_STATUS_LOOKUPS: usize = 10;
/// Older deployments whose statuses are read, after the running one, to find
/// what ran before it; past this the reading has no `previous`.
pub(crate) const MAX_PREVIOUS_LOOKUPS: usize = 5;
/// A secondary rate limit without any hint: GitHub says wait at least a minute.
const SECONDARY_WAIT: Duration = Duration::from_secs(60);
/// Bounds of the ETag cache (entries, bytes of bodies), at least; more for
/// a bigger fleet.
const CACHE_ENTRIES: usize = 256;
const CACHE_BYTES: usize = 8 * 1024 * 1024;
/// URLs a cell reads each poll, as the cache is sized: its list, the
/// running deployment's statuses, the previous one's, and one spare. A
/// cache smaller than what a sweep reads has dropped each URL by the time
/// it comes round again (the least recently used goes first), and every
/// request counts against the rate limit.
const CACHE_URLS_PER_CELL: usize = 4;
/// Bytes of cached bodies per cell (compacted: a page of 100 deployments
/// takes some 20 KiB).
const CACHE_BYTES_PER_CELL: usize = 32 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    repo: Option<String>,
    #[serde(default)]
    repos: BTreeMap<String, String>,
    api_url: Option<String>,
    token_env: Option<String>,
    #[serde(default)]
    environments_map: BTreeMap<String, String>,
    version_from: Option<String>,
}

/// Where a reading's version comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionFrom {
    /// The deployed ref (a tag such as `v1.4.0`, or a branch).
    Ref,
    /// The deployed commit SHA.
    Sha,
    /// A JSON pointer into the deployment's `payload`.
    Pointer(String),
}

impl VersionFrom {
    pub fn parse(raw: &str) -> Result<VersionFrom, String> {
        match raw {
            "ref" => Ok(VersionFrom::Ref),
            "sha" => Ok(VersionFrom::Sha),
            p if p.starts_with('/') => {
                super::http::check_pointer(p)?;
                Ok(VersionFrom::Pointer(p.to_string()))
            }
            other => Err(format!(
                "`{other}` is not \"ref\", \"sha\" or a JSON pointer into the deployment payload (e.g. \"/version\")"
            )),
        }
    }
}

pub(crate) struct GithubSource {
    inner: Arc<Inner>,
}

struct Inner {
    /// API base without a trailing slash.
    api: String,
    origin: url::Origin,
    repo: Option<String>,
    repos: BTreeMap<String, String>,
    environments_map: BTreeMap<String, String>,
    version_from: VersionFrom,
    /// `Bearer …`, marked sensitive so no debug output shows it.
    authorization: Option<HeaderValue>,
    /// Kept only to scrub it out of error texts.
    token: Option<auth::Token>,
    /// The token's cache key (never the token); `None` without a token.
    token_key: Option<u64>,
    cache: Mutex<EtagCache>,
    /// The rate-limit budget of this token on this host, shared by its
    /// cells and by everyone else sending it there ([`shared_budget`]).
    rate: Arc<Mutex<RateState>>,
}

impl GithubSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let mut errors = Vec::new();

        let api = parse_api_url(options.api_url.as_deref().unwrap_or(DEFAULT_API_URL))
            .map_err(|m| errors.push(OptionError::new("api_url", m)))
            .ok();
        if let Some(repo) = &options.repo
            && let Err(m) = check_repo_template(repo)
        {
            errors.push(OptionError::new("repo", m));
        }
        for (service, repo) in &options.repos {
            if !valid_repo(repo) {
                errors.push(OptionError::new(
                    format!("repos.{service}"),
                    format!("`{repo}` is not a repository: write \"owner/name\""),
                ));
            }
        }
        if options.repo.is_none() && options.repos.is_empty() {
            errors.push(OptionError::new(
                "repo",
                "missing: set `repo` (e.g. \"acme/{service}\") or `repos = { service = \"owner/name\" }`",
            ));
        }
        for (env, name) in &options.environments_map {
            if name.trim().is_empty() {
                errors.push(OptionError::new(format!("environments_map.{env}"), "empty GitHub environment name"));
            }
        }
        let version_from = VersionFrom::parse(options.version_from.as_deref().unwrap_or("ref"))
            .map_err(|m| errors.push(OptionError::new("version_from", m)))
            .ok();
        let token = auth::from_env(options.token_env.as_deref()).map_err(|e| errors.push(e)).ok().flatten();
        let authorization = token.as_ref().and_then(|t| {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                .map_err(|_| {
                    let var = options.token_env.as_deref().unwrap_or_default();
                    errors.push(OptionError::new(
                        "token_env",
                        format!("the token in {var} has characters not allowed in an HTTP header"),
                    ));
                })
                .ok()?;
            value.set_sensitive(true);
            Some(value)
        });

        let (Some((api, origin)), Some(version_from), true) = (api, version_from, errors.is_empty()) else {
            return Err(errors);
        };
        let rate = shared_budget(&origin, token.as_ref().map(auth::Token::cache_key));
        Ok(Arc::new(GithubSource {
            inner: Arc::new(Inner {
                api,
                origin,
                repo: options.repo,
                repos: options.repos,
                environments_map: options.environments_map,
                version_from,
                authorization,
                token_key: token.as_ref().map(auth::Token::cache_key),
                token,
                cache: Mutex::new(EtagCache::for_cells(spec.services.len() * spec.environments.len())),
                rate,
            }),
        }))
    }
}

impl Source for GithubSource {
    fn token(&self) -> Option<&auth::Token> {
        self.inner.token.as_ref()
    }

    fn budget(&self) -> Option<budget::Probe> {
        Some(budget::Probe::new(self.inner.rate.clone()))
    }

    fn default_evidence(&self) -> Evidence {
        Evidence::Recorded
    }

    fn fetch(&self, ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        let inner = self.inner.clone();
        let client = ctx.client.clone();
        let cell = cell.clone();
        async move {
            let result = inner.read_cell(&client, &cell.service, &cell.env).await;
            result.map_err(|e| match &inner.token {
                Some(token) => token.scrub(e),
                None => e,
            })
        }
        .map(|read| read.map(Fetched::Reading))
        .boxed()
    }
}

/// `owner/name` with GitHub's characters.
pub(crate) fn valid_repo(repo: &str) -> bool {
    let part = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    repo.split_once('/').is_some_and(|(owner, name)| part(owner) && part(name))
}

/// The API base and its origin (pagination links must stay on it).
fn parse_api_url(raw: &str) -> Result<(String, url::Origin), String> {
    let url = super::parse_api_url(raw)?;
    Ok((url.as_str().trim_end_matches('/').to_string(), url.origin()))
}

fn check_repo_template(template: &str) -> Result<(), String> {
    super::check_placeholders(template, "repository template")?;
    if valid_repo(&super::render(template, "svc", "env")) {
        Ok(())
    } else {
        Err(format!("`{template}` is not a repository template: write \"owner/{{service}}\""))
    }
}

impl Inner {
    fn repo_for(&self, service: &str, env: &str) -> Result<String, FetchError> {
        if let Some(repo) = self.repos.get(service) {
            return Ok(repo.clone());
        }
        let template = self.repo.as_deref().ok_or_else(|| {
            FetchError::Field(format!("no repository for service {service}: add it to `repos` or set `repo`"))
        })?;
        let repo = super::render(template, service, env);
        if valid_repo(&repo) {
            Ok(repo)
        } else {
            Err(FetchError::Field(format!("`{}` is not a repository", sanitize::clean_to(&repo, 80))))
        }
    }

    fn endpoint(&self, path: &str, query: &[(&str, &str)]) -> Result<url::Url, FetchError> {
        let mut url = url::Url::parse(&format!("{}/{path}", self.api))
            .map_err(|e| FetchError::Other(format!("cannot build the request URL: {e}")))?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    async fn read_cell(&self, client: &reqwest::Client, service: &str, env: &str) -> Result<Reading, FetchError> {
        let repo = self.repo_for(service, env)?;
        let gh_env = self.environments_map.get(env).map_or(env, String::as_str);
        let list =
            self.endpoint(&format!("repos/{repo}/deployments"), &[("environment", gh_env), ("per_page", "100")])?;
        let mut deployments = Vec::new();
        for body in self.get_pages(client, list, &Missing::Repo(&repo), compact_deployments).await? {
            deployments.extend(decode_deployments(&body)?);
        }
        let deployments = newest_first(deployments, gh_env);

        // By index into `deployments`; positions `decide` never asked for stay `None`.
        let mut latest: Vec<Option<DeploymentStatus>> = Vec::new();
        loop {
            let i = match decide(&deployments, &latest, &self.version_from) {
                Decision::Done(result) => return result,
                Decision::NeedStatuses(i) => i,
                Decision::NeedOlder(i, reading) => match self.statuses(client, &repo, deployments[i].id).await {
                    Ok(status) => {
                        set_status(&mut latest, i, status);
                        continue;
                    }
                    // Only the rollback target is missing: the running deployment stands.
                    Err(e) => {
                        let e = match &self.token {
                            Some(token) => token.scrub(e),
                            None => e,
                        };
                        tracing::debug!(repo = %repo, deployment = deployments[i].id, error = %e,
                            "statuses of an older deployment not read: no previous");
                        return Ok(reading);
                    }
                },
            };
            let status = self.statuses(client, &repo, deployments[i].id).await?;
            set_status(&mut latest, i, status);
        }
    }

    /// The latest status of deployment `id`.
    async fn statuses(
        &self,
        client: &reqwest::Client,
        repo: &str,
        id: u64,
    ) -> Result<Option<DeploymentStatus>, FetchError> {
        let id = id.to_string();
        let url = self.endpoint(&format!("repos/{repo}/deployments/{id}/statuses"), &[("per_page", "100")])?;
        let mut statuses = Vec::new();
        for body in self.get_pages(client, url, &Missing::Deployment(&id), compact_statuses).await? {
            statuses.extend(decode_statuses(&body)?);
        }
        Ok(latest_status(statuses))
    }

    /// GET `url` and the pages its `Link: rel="next"` headers lead to, up
    /// to [`MAX_PAGES`], each body as `compact` leaves it.
    async fn get_pages(
        &self,
        client: &reqwest::Client,
        url: url::Url,
        missing: &Missing<'_>,
        compact: Compact,
    ) -> Result<Vec<Arc<[u8]>>, FetchError> {
        let mut bodies = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            if bodies.len() == MAX_PAGES {
                break;
            }
            let page = self.get(client, url, missing, compact).await?;
            bodies.push(page.body);
            next = page.next;
        }
        Ok(bodies)
    }

    /// One conditional GET under the rate-limit budget. A new body is
    /// compacted (`compact`: what is read of it) before it is cached: the
    /// cache holds a fleet's sweep in a few megabytes.
    async fn get(
        &self,
        client: &reqwest::Client,
        url: url::Url,
        missing: &Missing<'_>,
        compact: Compact,
    ) -> Result<Page, FetchError> {
        let now = Timestamp::now().as_second();
        if let Some(held) = super::lock(&self.rate).hold(now) {
            return Err(held);
        }
        let key = (self.token_key, url.as_str().to_string());
        let cached = super::lock(&self.cache).get(&key);
        let mut request =
            client.get(url.clone()).header(ACCEPT, MEDIA_TYPE).header("X-GitHub-Api-Version", API_VERSION);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        if let Some(entry) = &cached {
            request = request.header(IF_NONE_MATCH, entry.etag.clone());
        }
        let resp = fetch::get_capped(request, fetch::MAX_BODY).await?;
        let now = Timestamp::now().as_second();
        super::lock(&self.rate).observe(&resp, now);

        if resp.status == reqwest::StatusCode::NOT_MODIFIED {
            return match cached {
                Some(entry) => Ok(Page { body: entry.body, next: entry.next }),
                None => Err(FetchError::Other("HTTP 304 Not Modified to an unconditional request".into())),
            };
        }
        if !resp.status.is_success() {
            let err = classify(&resp, now, missing);
            if let Some(wait) = err.retry_after() {
                super::lock(&self.rate).block_until(now.saturating_add(wait.as_secs() as i64));
            }
            return Err(err);
        }
        let next = match resp.header("link").and_then(next_link) {
            Some(link) => Some(self.same_origin(&url, link)?),
            None => None,
        };
        let etag = resp.headers.get(ETAG).cloned();
        let body: Arc<[u8]> = match compact(&resp.body) {
            Some(compacted) => Arc::from(compacted),
            None => Arc::from(resp.body),
        };
        if let Some(etag) = etag {
            super::lock(&self.cache).put(key, etag, body.clone(), next.clone());
        }
        Ok(Page { body, next })
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
}

struct Page {
    body: Arc<[u8]>,
    next: Option<url::Url>,
}

/// A body with only what is read of it; `None` if it does not decode (it
/// is kept as it came, for the decoder to say what is wrong).
type Compact = fn(&[u8]) -> Option<Vec<u8>>;

/// What a 404 means for the request that got it.
pub(crate) enum Missing<'a> {
    Repo(&'a str),
    Deployment(&'a str),
}

// ---------------------------------------------------------------------------
// Decoding: pure functions of the bytes.

/// One deployment record, as far as flightdeck reads it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Deployment {
    pub id: u64,
    #[serde(default)]
    pub sha: String,
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// One status of a deployment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DeploymentStatus {
    pub id: u64,
    pub state: String,
    #[serde(default)]
    pub created_at: Option<String>,
    /// Not in the API: when the deployment's first `success` status was
    /// created, set by [`latest_status`]: when it went out. The latest status
    /// may be `inactive` (when it was replaced) or a later `success` (a
    /// status re-posted, say by a check), neither of which says that.
    #[serde(skip)]
    pub succeeded_at: Option<Timestamp>,
}

fn malformed(e: &serde_json::Error) -> FetchError {
    FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100))
}

/// Decode a page of `GET /repos/{o}/{r}/deployments`.
pub fn decode_deployments(body: &[u8]) -> Result<Vec<Deployment>, FetchError> {
    serde_json::from_slice(body).map_err(|e| malformed(&e))
}

/// Decode a page of `GET /repos/{o}/{r}/deployments/{id}/statuses`.
pub fn decode_statuses(body: &[u8]) -> Result<Vec<DeploymentStatus>, FetchError> {
    serde_json::from_slice(body).map_err(|e| malformed(&e))
}

/// A page of deployments with only the fields decoded: GitHub's records
/// also carry their creator, URLs and more, several times the size.
fn compact_deployments(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::to_vec(&decode_deployments(body).ok()?).ok()
}

/// A page of statuses with only the fields decoded.
fn compact_statuses(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::to_vec(&decode_statuses(body).ok()?).ok()
}

fn timestamp(raw: Option<&str>) -> Option<Timestamp> {
    raw.and_then(|s| s.trim().parse().ok())
}

/// The deployments of `environment`, newest first by `created_at` then `id`
/// (the API's order is not trusted; an unreadable time sorts oldest).
pub fn newest_first(mut deployments: Vec<Deployment>, environment: &str) -> Vec<Deployment> {
    deployments.retain(|d| d.environment.as_deref().is_none_or(|e| e == environment));
    deployments.sort_by_cached_key(|d| std::cmp::Reverse((timestamp(d.created_at.as_deref()), d.id)));
    deployments
}

/// The latest status by `created_at` then `id` (it says what state the
/// deployment is in), with `succeeded_at` set to the earliest `success`
/// (when it went out). The API lists statuses newest first; the order is not
/// trusted either way.
pub fn latest_status(statuses: Vec<DeploymentStatus>) -> Option<DeploymentStatus> {
    let succeeded_at =
        statuses.iter().filter(|s| s.state == "success").filter_map(|s| timestamp(s.created_at.as_deref())).min();
    let mut latest = statuses.into_iter().max_by_key(|s| (timestamp(s.created_at.as_deref()), s.id))?;
    latest.succeeded_at = succeeded_at;
    Some(latest)
}

/// Record the latest status of `deployments[i]`; positions skipped on the
/// way (never asked for by [`decide`]) are left `None`.
fn set_status(latest: &mut Vec<Option<DeploymentStatus>>, i: usize, status: Option<DeploymentStatus>) {
    if latest.len() <= i {
        latest.resize(i + 1, None);
    }
    latest[i] = status;
}

/// The next step of finding the running deployment, then the one before it.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Read the statuses of `deployments[i]` and ask again.
    NeedStatuses(usize),
    /// What runs is settled: this reading, without `previous` yet. Read the
    /// statuses of the older `deployments[i]` and ask again to find what ran
    /// before; if they cannot be read, the reading stands as it is.
    NeedOlder(usize, Reading),
    Done(Result<Reading, FetchError>),
}

/// Given deployments newest first and the latest status of those asked for
/// so far (by index; `None`: no status), decide what runs and what ran
/// before it, or which statuses to read next. Statuses are asked for in
/// index order, so a position below `latest.len()` was asked for or skipped.
pub fn decide(deployments: &[Deployment], latest: &[Option<DeploymentStatus>], version_from: &VersionFrom) -> Decision {
    let mut running_at = None;
    for i in 0..deployments.len() {
        let Some(status) = latest.get(i) else {
            if i >= MAX_STATUS_LOOKUPS {
                return Decision::Done(Err(FetchError::Field(format!(
                    "none of the newest {MAX_STATUS_LOOKUPS} deployments succeeded ({} listed)",
                    deployments.len()
                ))));
            }
            return Decision::NeedStatuses(i);
        };
        match status.as_ref().map(|s| s.state.as_str()) {
            Some("success") => {
                running_at = Some(i);
                break;
            }
            // Replaced by a newer deployment, as was everything older.
            Some("inactive") => break,
            _ => {}
        }
    }
    let Some(i) = running_at else {
        return Decision::Done(Ok(not_running(
            deployments.first().map(|d| (d, latest.first().and_then(Option::as_ref))),
        )));
    };
    let newer = (i > 0).then(|| (&deployments[0], latest[0].as_ref()));
    let reading = match running(&deployments[i], latest[i].as_ref(), version_from, newer) {
        Ok(reading) => reading,
        Err(e) => return Decision::Done(Err(e)),
    };
    match previous(deployments, latest, i, reading.version.as_deref(), version_from) {
        Older::Need(j) => Decision::NeedOlder(j, reading),
        Older::Found(previous) => Decision::Done(Ok(Reading { previous: previous.map(Box::new), ..reading })),
    }
}

/// Where the search for the previous deployment stands.
enum Older {
    Need(usize),
    Found(Option<Artifact>),
}

/// What ran before `deployments[running]`: the next older deployment with
/// another version whose latest status is `success` or `inactive` (a newer
/// success marks the one it replaces `inactive`); failed, errored or
/// unfinished ones are skipped. Older deployments of the running version (a
/// redeploy) need no lookup; after [`MAX_PREVIOUS_LOOKUPS`] lookups, none.
fn previous(
    deployments: &[Deployment],
    latest: &[Option<DeploymentStatus>],
    running: usize,
    current: Option<&str>,
    version_from: &VersionFrom,
) -> Older {
    let mut lookups = 0;
    for (j, older) in deployments.iter().enumerate().skip(running + 1) {
        let version = version_of(older, version_from);
        if version.is_some() && version.as_deref() == current {
            continue;
        }
        let Some(status) = latest.get(j) else {
            return if lookups < MAX_PREVIOUS_LOOKUPS { Older::Need(j) } else { Older::Found(None) };
        };
        lookups += 1;
        let Some(status) = status.as_ref().filter(|s| matches!(s.state.as_str(), "success" | "inactive")) else {
            continue;
        };
        // It ran, but without a version it cannot be named: no rollback
        // target rather than an older one that did not run last.
        let Some(version) = version else {
            return Older::Found(None);
        };
        let deployed_at = status
            .succeeded_at
            .or_else(|| (status.state == "success").then(|| timestamp(status.created_at.as_deref())).flatten());
        return Older::Found(Some(Artifact {
            version,
            commit: Some(sanitize::clean(&older.sha)).filter(|s| !s.is_empty()),
            deployed_at,
            reference: Some(format!("deployment {}", older.id)),
            ..Artifact::default()
        }));
    }
    Older::Found(None)
}

/// A deployment's version as `version_from` says; `None` if empty or absent.
fn version_of(deployment: &Deployment, version_from: &VersionFrom) -> Option<String> {
    match version_from {
        VersionFrom::Ref => Some(sanitize::clean(&deployment.git_ref)),
        VersionFrom::Sha => Some(sanitize::clean(&deployment.sha)),
        VersionFrom::Pointer(p) => payload_value(&deployment.payload, p),
    }
    .filter(|v| !v.is_empty())
}

fn state_of(status: Option<&DeploymentStatus>) -> String {
    status.map_or_else(|| "no status".to_string(), |s| sanitize::clean_to(&s.state, 40))
}

/// The reading of a running deployment.
fn running(
    deployment: &Deployment,
    status: Option<&DeploymentStatus>,
    version_from: &VersionFrom,
    newer: Option<(&Deployment, Option<&DeploymentStatus>)>,
) -> Result<Reading, FetchError> {
    let version = version_of(deployment, version_from).ok_or_else(|| match version_from {
        VersionFrom::Pointer(p) => {
            FetchError::Field(format!("deployment {} has no payload value at `{}`", deployment.id, sanitize::clean(p)))
        }
        VersionFrom::Ref => FetchError::Field(format!("deployment {} has no ref", deployment.id)),
        VersionFrom::Sha => FetchError::Field(format!("deployment {} has no sha", deployment.id)),
    })?;
    let mut attributes =
        vec![("deployment".to_string(), deployment.id.to_string()), ("state".into(), "success".into())];
    if *version_from != VersionFrom::Ref && !deployment.git_ref.is_empty() {
        attributes.push(("ref".into(), sanitize::clean(&deployment.git_ref)));
    }
    if let Some((newest, state)) = newer {
        attributes.push(("newer_deployment".into(), format!("{} {}", newest.id, state_of(state))));
    }
    Ok(Reading {
        version: Some(version),
        commit: Some(sanitize::clean(&deployment.sha)).filter(|s| !s.is_empty()),
        // When it first succeeded; a later `success` status is no new deployment.
        deployed_at: status
            .and_then(|s| s.succeeded_at)
            .or_else(|| timestamp(status.and_then(|s| s.created_at.as_deref()))),
        attributes,
        ..Reading::default()
    })
}

/// Nothing runs: a positive report of no deployment (`version: None`).
fn not_running(newest: Option<(&Deployment, Option<&DeploymentStatus>)>) -> Reading {
    let attributes = match newest {
        Some((d, status)) => vec![("deployment".to_string(), d.id.to_string()), ("state".into(), state_of(status))],
        None => vec![("state".to_string(), "no deployments".to_string())],
    };
    Reading { attributes, ..Reading::default() }
}

/// A scalar at `pointer` in a payload that is an object or a JSON string holding one.
pub fn payload_value(payload: &Value, pointer: &str) -> Option<String> {
    let parsed;
    let payload = match payload {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        other => other,
    };
    match payload.pointer(pointer)? {
        Value::String(s) => Some(sanitize::clean(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The URL of `rel="next"` in a `Link` header, if any.
pub fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let link = &after[..close];
        let params_end = after[close + 1..].find('<').map_or(after.len(), |i| close + 1 + i);
        let is_next = after[close + 1..params_end].split([';', ',']).any(|param| {
            param.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim().trim_matches('"').split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(link.trim());
        }
        rest = &after[params_end..];
    }
    None
}

/// The `message` of a GitHub error body.
fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let message = sanitize::clean_to(value.get("message")?.as_str()?, 120);
    (!message.is_empty()).then_some(message)
}

/// Classify a failed response: the shared rules, plus GitHub's reset time,
/// its secondary limits (403 saying so, or 429 without a hint: wait ≥ 60 s),
/// and readable 404s.
pub(crate) fn classify(resp: &Response, now: i64, missing: &Missing<'_>) -> FetchError {
    let reset = resp.header("x-ratelimit-reset").and_then(|r| r.trim().parse::<i64>().ok());
    let spent = resp.header_u64("x-ratelimit-remaining") == Some(0);
    let reset_wait = reset.filter(|_| spent).map(|at| fetch::secs_until(at, now));
    let message = error_message(&resp.body);
    match fetch::classify_status(resp, reset_wait) {
        FetchError::RateLimited { code, retry_after, detail } => FetchError::RateLimited {
            code,
            retry_after: Some(retry_after.unwrap_or(SECONDARY_WAIT)),
            detail: message.unwrap_or(detail),
        },
        FetchError::Auth { code: 403, detail }
            if message.as_deref().is_some_and(|m| m.to_ascii_lowercase().contains("rate limit")) =>
        {
            FetchError::RateLimited { code: 403, retry_after: Some(SECONDARY_WAIT), detail: message.unwrap_or(detail) }
        }
        FetchError::Auth { code, detail } => FetchError::Auth { code, detail: message.unwrap_or(detail) },
        FetchError::Status { code: 404, .. } => FetchError::Status {
            code: 404,
            detail: match missing {
                Missing::Repo(repo) => format!("repository {repo} not found (or no access)"),
                Missing::Deployment(id) => format!("deployment {id} not found"),
            },
        },
        FetchError::Status { code, detail } => match message {
            Some(m) => FetchError::Status {
                code,
                detail: format!("{}: {m}", resp.status.canonical_reason().unwrap_or("error")),
            },
            None => FetchError::Status { code, detail },
        },
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Rate limits and the ETag cache: the source's state, shared by its cells.

/// What the last responses said about this token's budget, and what was
/// spent of it lately.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RateState {
    limit: Option<u64>,
    remaining: Option<u64>,
    /// Epoch seconds when the budget refills.
    reset: Option<i64>,
    /// Epoch seconds before which nothing is sent (a limit was hit).
    blocked_until: Option<i64>,
    /// Requests go with a token: a `304` to a conditional one costs nothing
    /// (GitHub counts it without one).
    authorized: bool,
    /// The responses that counted, lately: the rate the budget is spent at.
    spending: budget::Spending,
}

impl RateState {
    /// Read GitHub's `x-ratelimit-*` headers, or GitLab's `ratelimit-*`
    /// (both give the reset in epoch seconds), and count the response.
    pub(crate) fn observe(&mut self, resp: &Response, now: i64) {
        self.spending.record(now, resp.status != reqwest::StatusCode::NOT_MODIFIED || !self.authorized);
        let prefix = if resp.header("x-ratelimit-remaining").is_some() { "x-ratelimit" } else { "ratelimit" };
        let Some(remaining) = resp.header_u64(&format!("{prefix}-remaining")) else {
            return;
        };
        let reset = resp.header(&format!("{prefix}-reset")).and_then(|r| r.trim().parse::<i64>().ok());
        // Responses finish out of order: within one window keep the lowest count.
        let same_window = reset.is_some() && reset == self.reset && self.reset.is_some_and(|r| r > now);
        self.remaining =
            Some(if same_window { self.remaining.map_or(remaining, |r| r.min(remaining)) } else { remaining });
        self.limit = resp.header_u64(&format!("{prefix}-limit")).or(self.limit);
        self.reset = reset;
    }

    pub(crate) fn block_until(&mut self, until: i64) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Why not to send a request now, if there is a reason.
    pub(crate) fn hold(&self, now: i64) -> Option<FetchError> {
        if let Some(until) = self.blocked_until
            && until > now
        {
            return Some(FetchError::HeldBack {
                retry_after: fetch::secs_until(until, now),
                reason: "waiting for the rate limit to reset (no request sent)".into(),
            });
        }
        let (Some(remaining), Some(reset)) = (self.remaining, self.reset) else {
            return None;
        };
        let limit = self.limit.unwrap_or(remaining).max(1);
        (remaining < budget::low_water(limit) && reset > now).then(|| FetchError::HeldBack {
            retry_after: fetch::secs_until(reset, now),
            reason: format!("{remaining} of {limit} requests left until the rate limit resets (no request sent)"),
        })
    }

    /// The budget as the server last said it, with the rate it was spent
    /// at lately by sources polling every `period`; `None` until a response
    /// gave the limit, what is left and the reset.
    pub(crate) fn budget(&self, now: i64, period: Duration) -> Option<budget::Budget> {
        Some(budget::Budget {
            limit: self.limit?,
            remaining: self.remaining?,
            reset: self.reset?,
            needed_per_hour: self.spending.per_hour(now, period),
        })
    }
}

/// The rate-limit budget of one token (or none) on one API host, shared by
/// every source and the changes client that send it there: one budget, as
/// the server keeps one. A budget lives while someone holds it, so a source
/// built again later (a test, a reload) starts from what the server says.
pub(crate) fn shared_budget(origin: &url::Origin, token_key: Option<u64>) -> Arc<Mutex<RateState>> {
    type Budgets = HashMap<(String, Option<u64>), std::sync::Weak<Mutex<RateState>>>;
    static BUDGETS: std::sync::OnceLock<Mutex<Budgets>> = std::sync::OnceLock::new();
    let mut budgets = super::lock(BUDGETS.get_or_init(Mutex::default));
    budgets.retain(|_, budget| budget.strong_count() > 0);
    let key = (origin.ascii_serialization(), token_key);
    if let Some(budget) = budgets.get(&key).and_then(std::sync::Weak::upgrade) {
        return budget;
    }
    let budget = Arc::new(Mutex::new(RateState { authorized: token_key.is_some(), ..RateState::default() }));
    budgets.insert(key, Arc::downgrade(&budget));
    budget
}

#[derive(Debug, Clone)]
struct CacheEntry {
    etag: HeaderValue,
    body: Arc<[u8]>,
    next: Option<url::Url>,
    used: u64,
}

/// Bodies by (token cache key, URL), with their ETags; least recently used
/// entries go first when over its bounds.
#[derive(Debug)]
struct EtagCache {
    entries: HashMap<(Option<u64>, String), CacheEntry>,
    bytes: usize,
    tick: u64,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for EtagCache {
    fn default() -> EtagCache {
        EtagCache::for_cells(0)
    }
}

impl EtagCache {
    /// A cache that holds what a sweep of `cells` reads.
    fn for_cells(cells: usize) -> EtagCache {
        EtagCache {
            entries: HashMap::new(),
            bytes: 0,
            tick: 0,
            max_entries: CACHE_ENTRIES.max(cells.saturating_mul(CACHE_URLS_PER_CELL)),
            max_bytes: CACHE_BYTES.max(cells.saturating_mul(CACHE_BYTES_PER_CELL)),
        }
    }

    fn get(&mut self, key: &(Option<u64>, String)) -> Option<CacheEntry> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|e| {
            e.used = tick;
            e.clone()
        })
    }

    fn put(&mut self, key: (Option<u64>, String), etag: HeaderValue, body: Arc<[u8]>, next: Option<url::Url>) {
        self.tick += 1;
        self.bytes += body.len();
        if let Some(old) = self.entries.insert(key, CacheEntry { etag, body, next, used: self.tick }) {
            self.bytes -= old.body.len();
        }
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else {
                break;
            };
            if let Some(gone) = self.entries.remove(&oldest) {
                self.bytes -= gone.body.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENTS: &str = r#"[
      {"url":"https://api.github.com/repos/acme/payments/deployments/101","id":101,"node_id":"DE_1",
       "task":"deploy","original_environment":"production","environment":"production",
       "description":null,"creator":{"login":"octocat","id":1},"sha":"aaa111","ref":"v1.3.0",
       "payload":{},"created_at":"2026-11-20T10:00:00Z","updated_at":"2026-11-20T10:05:00Z",
       "statuses_url":"https://api.github.com/repos/acme/payments/deployments/101/statuses",
       "repository_url":"https://api.github.com/repos/acme/payments","transient_environment":false,
       "production_environment":true},
      {"id":103,"sha":"ccc333","ref":"v1.5.0","environment":"production",
       "payload":"{\"version\":\"1.5.0-build.7\"}","created_at":"2026-11-24T18:30:00Z"},
      {"id":102,"sha":"bbb222","ref":"v1.4.0","environment":"production",
       "payload":{"version":"1.4.0","build":812},"created_at":"2026-11-24T18:00:00Z"}
    ]"#;

    fn deployments() -> Vec<Deployment> {
        newest_first(decode_deployments(DEPLOYMENTS.as_bytes()).unwrap(), "production")
    }

    fn status(id: u64, state: &str, at: &str) -> DeploymentStatus {
        DeploymentStatus { id, state: state.into(), created_at: Some(at.into()), succeeded_at: None }
    }

    /// The running deployment's reading, whether or not the search for the previous one goes on.
    fn settled(decision: Decision) -> Reading {
        match decision {
            Decision::Done(Ok(r)) | Decision::NeedOlder(_, r) => r,
            other => panic!("not settled: {other:?}"),
        }
    }

    fn ts(at: &str) -> Timestamp {
        at.parse().unwrap()
    }

    #[test]
    fn deployments_sort_newest_first_whatever_the_list_order() {
        let ids: Vec<u64> = deployments().iter().map(|d| d.id).collect();
        assert_eq!(ids, [103, 102, 101]);
    }

    #[test]
    fn same_time_sorts_by_id_and_other_environments_are_dropped() {
        let body = br#"[{"id":5,"created_at":"2026-01-01T00:00:00Z","environment":"prod"},
                        {"id":7,"created_at":"2026-01-01T00:00:00Z","environment":"prod"},
                        {"id":9,"created_at":"2026-01-02T00:00:00Z","environment":"staging"},
                        {"id":8,"created_at":"not a time","environment":"prod"}]"#;
        let ids: Vec<u64> = newest_first(decode_deployments(body).unwrap(), "prod").iter().map(|d| d.id).collect();
        assert_eq!(ids, [7, 5, 8]);
    }

    #[test]
    fn latest_status_is_by_time_then_id() {
        let statuses = decode_statuses(
            br#"[{"id":1,"state":"in_progress","created_at":"2026-11-24T18:00:00Z"},
                 {"id":3,"state":"success","created_at":"2026-11-24T18:02:00Z"},
                 {"id":2,"state":"queued","created_at":"2026-11-24T17:59:00Z"}]"#,
        )
        .unwrap();
        assert_eq!(latest_status(statuses).unwrap().id, 3);
        assert_eq!(latest_status(Vec::new()), None);
    }

    #[test]
    fn decide_walks_newest_first_until_a_success() {
        let deps = deployments();
        assert_eq!(decide(&deps, &[], &VersionFrom::Ref), Decision::NeedStatuses(0));
        let failed = Some(status(9, "failure", "2026-11-24T18:31:00Z"));
        assert_eq!(decide(&deps, std::slice::from_ref(&failed), &VersionFrom::Ref), Decision::NeedStatuses(1));
        let ok = Some(status(8, "success", "2026-11-24T18:05:00Z"));
        let Decision::NeedOlder(2, r) = decide(&deps, &[failed, ok], &VersionFrom::Ref) else {
            panic!("running found, the older 101 asked for")
        };
        assert_eq!(r.previous, None, "not known yet");
        assert_eq!(r.version.as_deref(), Some("v1.4.0"));
        assert_eq!(r.commit.as_deref(), Some("bbb222"));
        assert_eq!(r.deployed_at, Some("2026-11-24T18:05:00Z".parse().unwrap()));
        assert_eq!(r.attribute("deployment"), Some("102"));
        assert_eq!(r.attribute("state"), Some("success"));
        assert_eq!(r.attribute("newer_deployment"), Some("103 failure"));
    }

    #[test]
    fn latest_status_keeps_when_it_succeeded() {
        let latest = latest_status(vec![
            status(1, "success", "2026-11-24T18:05:00Z"),
            status(2, "inactive", "2026-11-24T18:36:00Z"),
        ])
        .unwrap();
        assert_eq!((latest.id, latest.succeeded_at), (2, Some(ts("2026-11-24T18:05:00Z"))));
        let failed = latest_status(vec![status(3, "failure", "2026-11-24T18:05:00Z")]).unwrap();
        assert_eq!(failed.succeeded_at, None);
    }

    /// Five `success` statuses, 2014 to 2018, newest first as the API lists them.
    const FIVE_SUCCESSES: &str = r#"[
      {"url":"https://api.github.com/repos/octocat/example/deployments/42/statuses/5","id":5,"node_id":"DES_5",
       "state":"success","creator":{"login":"octocat","id":1},"description":"Deployment finished successfully.",
       "environment":"production","target_url":"https://example.com/deployment/42/output",
       "log_url":"https://example.com/deployment/42/output","created_at":"2018-04-14T09:00:00Z",
       "updated_at":"2018-04-14T09:00:00Z",
       "deployment_url":"https://api.github.com/repos/octocat/example/deployments/42",
       "repository_url":"https://api.github.com/repos/octocat/example"},
      {"id":4,"state":"success","environment":"production","created_at":"2017-04-14T09:00:00Z"},
      {"id":3,"state":"success","environment":"production","created_at":"2016-04-14T09:00:00Z"},
      {"id":2,"state":"success","environment":"production","created_at":"2015-04-14T09:00:00Z"},
      {"id":1,"state":"success","environment":"production","created_at":"2014-04-14T09:00:00Z"}
    ]"#;

    #[test]
    fn deployed_at_is_the_first_success_not_the_newest() {
        let latest = latest_status(decode_statuses(FIVE_SUCCESSES.as_bytes()).unwrap()).unwrap();
        assert_eq!((latest.id, latest.state.as_str()), (5, "success"), "the state is the newest status's");
        assert_eq!(latest.succeeded_at, Some(ts("2014-04-14T09:00:00Z")));
        let deps = newest_first(
            decode_deployments(
                br#"[{"id":42,"sha":"a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d","ref":"v1.0.0",
                      "environment":"production","created_at":"2014-04-14T08:55:00Z"}]"#,
            )
            .unwrap(),
            "production",
        );
        let Decision::Done(Ok(r)) = decide(&deps, &[Some(latest)], &VersionFrom::Ref) else { panic!("done") };
        assert_eq!(r.version.as_deref(), Some("v1.0.0"));
        assert_eq!(r.deployed_at, Some(ts("2014-04-14T09:00:00Z")), "when it first succeeded, not 2018");
    }

    #[test]
    fn previous_deployed_at_is_its_first_success_too() {
        let deps = deployments();
        let ok = Some(status(7, "success", "2026-11-24T18:36:00Z"));
        // 102 succeeded at 18:05, its success was re-posted at 18:20, then 103 replaced it.
        let replaced = latest_status(vec![
            status(6, "inactive", "2026-11-24T18:36:00Z"),
            status(4, "success", "2026-11-24T18:20:00Z"),
            status(2, "success", "2026-11-24T18:05:00Z"),
        ]);
        let Decision::Done(Ok(r)) = decide(&deps, &[ok, replaced], &VersionFrom::Ref) else { panic!("done") };
        let previous = r.previous.expect("a previous");
        assert_eq!(previous.version, "v1.4.0");
        assert_eq!(previous.deployed_at, Some(ts("2026-11-24T18:05:00Z")));
    }

    #[test]
    fn previous_is_the_next_older_good_deployment_of_another_version() {
        let deps = deployments();
        let ok = Some(status(7, "success", "2026-11-24T18:36:00Z"));
        let Decision::NeedOlder(1, _) = decide(&deps, std::slice::from_ref(&ok), &VersionFrom::Ref) else {
            panic!("the next older one is asked for")
        };
        let replaced = Some(DeploymentStatus {
            succeeded_at: Some(ts("2026-11-24T18:05:00Z")),
            ..status(6, "inactive", "2026-11-24T18:36:00Z")
        });
        let Decision::Done(Ok(r)) = decide(&deps, &[ok, replaced], &VersionFrom::Ref) else { panic!("done") };
        assert_eq!(r.version.as_deref(), Some("v1.5.0"));
        assert_eq!(
            r.previous.map(|p| *p),
            Some(Artifact {
                version: "v1.4.0".into(),
                commit: Some("bbb222".into()),
                deployed_at: Some(ts("2026-11-24T18:05:00Z")),
                reference: Some("deployment 102".into()),
                ..Artifact::default()
            }),
            "deployed when it succeeded, not when it was replaced"
        );
    }

    #[test]
    fn previous_skips_failed_ones_and_redeploys_of_the_running_version() {
        let mut deps = deployments();
        // 104: v1.5.0 again (a redeploy) is newest; 103 (v1.5.0) is an older copy of it.
        deps.insert(0, Deployment { id: 104, ..deps[0].clone() });
        let ok = Some(status(9, "success", "2026-11-25T09:00:00Z"));
        let Decision::NeedOlder(2, _) = decide(&deps, std::slice::from_ref(&ok), &VersionFrom::Ref) else {
            panic!("103 has the running version: no lookup, 102 is next")
        };
        let failed = Some(status(8, "failure", "2026-11-24T18:05:00Z"));
        let latest = [ok.clone(), None, failed];
        let Decision::NeedOlder(3, _) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("102 failed") };
        let succeeded = Some(status(1, "success", "2026-11-20T10:05:00Z"));
        let latest = [ok.clone(), None, latest[2].clone(), succeeded];
        let Decision::Done(Ok(r)) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("done") };
        let previous = r.previous.expect("a previous");
        assert_eq!(previous.version, "v1.3.0");
        assert_eq!(previous.reference.as_deref(), Some("deployment 101"));
        assert_eq!(previous.deployed_at, Some(ts("2026-11-20T10:05:00Z")), "its own success status");
        // Nothing older that ran: none, and no error.
        let latest = [ok, None, Some(status(8, "failure", "2026-11-24T18:05:00Z")), Some(status(1, "error", "x"))];
        let Decision::Done(Ok(r)) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("done") };
        assert_eq!((r.version.as_deref(), r.previous), (Some("v1.5.0"), None));
    }

    #[test]
    fn previous_lookups_are_capped_without_an_error() {
        let deps: Vec<Deployment> = (0..20)
            .map(|i| Deployment {
                id: 100 - i,
                sha: format!("sha{i}"),
                git_ref: format!("v{i}"),
                payload: Value::Null,
                environment: None,
                created_at: None,
            })
            .collect();
        let mut latest = vec![Some(status(1, "success", "2026-01-01T00:00:00Z"))];
        for n in 1..=MAX_PREVIOUS_LOOKUPS {
            let Decision::NeedOlder(j, _) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("lookup {n}") };
            assert_eq!(j, n);
            latest.push(Some(status(2, "error", "2026-01-01T00:00:00Z")));
        }
        let Decision::Done(Ok(r)) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("capped") };
        assert_eq!((r.version.as_deref(), r.previous), (Some("v0"), None));
    }

    #[test]
    fn an_older_one_without_a_version_is_not_skipped_past() {
        let deps = deployments();
        let pointer = VersionFrom::Pointer("/version".into());
        // 103 runs 1.5.0-build.7; 102 has payload version 1.4.0; 101 has none.
        let ok = Some(status(7, "success", "2026-11-24T18:36:00Z"));
        let failed = Some(status(6, "failure", "2026-11-24T18:05:00Z"));
        let inactive = Some(status(5, "inactive", "2026-11-24T18:05:00Z"));
        let Decision::Done(Ok(r)) = decide(&deps, &[ok, failed, inactive], &pointer) else { panic!("done") };
        assert_eq!(r.version.as_deref(), Some("1.5.0-build.7"));
        assert_eq!(r.previous, None, "101 ran last but cannot be named");
    }

    #[test]
    fn an_inactive_deployment_ends_the_walk_with_no_deployment() {
        let deps = deployments();
        let latest =
            [Some(status(9, "error", "2026-11-24T18:31:00Z")), Some(status(8, "inactive", "2026-11-24T18:31:00Z"))];
        let Decision::Done(Ok(r)) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("done") };
        assert_eq!(r.version, None);
        assert_eq!(r.attribute("deployment"), Some("103"));
        assert_eq!(r.attribute("state"), Some("error"));
    }

    #[test]
    fn no_deployments_is_a_positive_none() {
        let Decision::Done(Ok(r)) = decide(&[], &[], &VersionFrom::Ref) else { panic!("done") };
        assert_eq!(r.version, None);
        assert_eq!(r.attribute("state"), Some("no deployments"));
    }

    #[test]
    fn decide_gives_up_after_the_lookup_cap() {
        let deps: Vec<Deployment> = (0..20)
            .map(|i| Deployment {
                id: 100 - i,
                sha: String::new(),
                git_ref: String::new(),
                payload: Value::Null,
                environment: None,
                created_at: None,
            })
            .collect();
        let latest = vec![Some(status(1, "failure", "2026-01-01T00:00:00Z")); MAX_STATUS_LOOKUPS];
        let Decision::Done(Err(e)) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!("an error") };
        assert!(e.to_string().contains("none of the newest 10 deployments succeeded"), "{e}");
    }

    #[test]
    fn version_from_payload_object_or_string_and_sha() {
        let deps = deployments();
        let ok = Some(status(1, "success", "2026-11-24T18:35:00Z"));
        let pointer = VersionFrom::Pointer("/version".into());
        let r = settled(decide(&deps, std::slice::from_ref(&ok), &pointer));
        assert_eq!(r.version.as_deref(), Some("1.5.0-build.7"), "payload given as a JSON string");
        assert_eq!(r.attribute("ref"), Some("v1.5.0"));
        assert_eq!(payload_value(&deps[1].payload, "/version").as_deref(), Some("1.4.0"));
        assert_eq!(payload_value(&deps[1].payload, "/build").as_deref(), Some("812"));
        assert_eq!(payload_value(&deps[2].payload, "/version"), None);
        let r = settled(decide(&deps, &[ok], &VersionFrom::Sha));
        assert_eq!(r.version.as_deref(), Some("ccc333"));
    }

    #[test]
    fn missing_payload_value_names_the_pointer() {
        let deps = deployments();
        let latest = [None, None, Some(status(1, "success", "2026-11-20T10:05:00Z"))];
        let Decision::Done(Err(e)) = decide(&deps, &latest, &VersionFrom::Pointer("/version".into())) else {
            panic!("an error")
        };
        assert_eq!(e.to_string(), "deployment 101 has no payload value at `/version`");
    }

    #[test]
    fn strings_from_the_api_are_cleaned() {
        let body = br#"[{"id":1,"sha":"abc\u001b[2J","ref":"v1\u202e.0\u0007","created_at":"2026-01-01T00:00:00Z"}]"#;
        let deps = newest_first(decode_deployments(body).unwrap(), "prod");
        let latest = [Some(status(1, "success", "2026-01-01T00:00:00Z"))];
        let Decision::Done(Ok(r)) = decide(&deps, &latest, &VersionFrom::Ref) else { panic!() };
        assert_eq!(r.version.as_deref(), Some("v1.0"));
        assert_eq!(r.commit.as_deref(), Some("abc"));
    }

    #[test]
    fn compacted_bodies_decode_the_same_and_are_smaller() {
        let compact = compact_deployments(DEPLOYMENTS.as_bytes()).expect("compacted");
        assert_eq!(decode_deployments(&compact).unwrap(), decode_deployments(DEPLOYMENTS.as_bytes()).unwrap());
        assert!(compact.len() * 2 < DEPLOYMENTS.len(), "{} of {} bytes", compact.len(), DEPLOYMENTS.len());
        let compact = compact_statuses(FIVE_SUCCESSES.as_bytes()).expect("compacted");
        assert_eq!(decode_statuses(&compact).unwrap(), decode_statuses(FIVE_SUCCESSES.as_bytes()).unwrap());
        assert!(compact.len() * 2 < FIVE_SUCCESSES.len(), "{} of {} bytes", compact.len(), FIVE_SUCCESSES.len());
        assert_eq!(compact_deployments(b"[{\"id\":1"), None, "left for the decoder to refuse");
    }

    #[test]
    fn malformed_bodies_are_malformed() {
        assert!(matches!(decode_deployments(b"[{\"id\":1"), Err(FetchError::Malformed(_))));
        assert!(matches!(decode_deployments(br#"{"message":"x"}"#), Err(FetchError::Malformed(_))));
        assert!(matches!(decode_statuses(b"<html>"), Err(FetchError::Malformed(_))));
    }

    #[test]
    fn link_header_next() {
        let h = r#"<https://api.github.com/repositories/1/deployments?page=2&per_page=100>; rel="next", <https://api.github.com/repositories/1/deployments?page=5>; rel="last""#;
        assert_eq!(next_link(h), Some("https://api.github.com/repositories/1/deployments?page=2&per_page=100"));
        let h = r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#;
        assert_eq!(next_link(h), None);
        assert_eq!(next_link(r#"<https://x/?a=1,2>; rel="prev next""#), Some("https://x/?a=1,2"));
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link("<unclosed; rel=next"), None);
    }

    #[test]
    fn options_are_checked() {
        assert!(VersionFrom::parse("tag").unwrap_err().contains("JSON pointer"));
        assert_eq!(VersionFrom::parse("/a/b"), Ok(VersionFrom::Pointer("/a/b".into())));
        assert!(VersionFrom::parse("/ver~2sion").unwrap_err().contains("~2"));
        assert_eq!(VersionFrom::parse("/a~1b~0"), Ok(VersionFrom::Pointer("/a~1b~0".into())));
        assert!(check_repo_template("acme/{service}").is_ok());
        assert!(check_repo_template("acme/{service}-{env}").is_ok());
        assert!(check_repo_template("acme/{svc}").unwrap_err().contains("unknown placeholder"));
        assert!(check_repo_template("{service}").is_err());
        assert!(check_repo_template("a/b/c").is_err());
        assert!(valid_repo("acme/payments.api") && !valid_repo("acme/..") && !valid_repo("acme/"));
        assert!(parse_api_url("https://ghe.example/api/v3/").unwrap().0 == "https://ghe.example/api/v3");
        assert!(parse_api_url("https://user:pw@x/").is_err());
        assert!(parse_api_url("ftp://x/").is_err());
    }

    fn response(code: u16, headers: &[(&'static str, &str)], body: &str) -> Response {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Response {
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            content_type: Some("application/json".into()),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn classify_rate_limits_auth_and_not_found() {
        let now = 1_800_000_000;
        let reset = (now + 900).to_string();
        let spent = response(
            403,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)],
            r#"{"message":"API rate limit exceeded"}"#,
        );
        let e = classify(&spent, now, &Missing::Repo("acme/x"));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(900)));
        let secondary = response(403, &[], r#"{"message":"You have exceeded a secondary rate limit."}"#);
        assert_eq!(classify(&secondary, now, &Missing::Repo("a/b")).retry_after(), Some(SECONDARY_WAIT));
        let bare_429 = response(429, &[], "slow down");
        assert_eq!(classify(&bare_429, now, &Missing::Repo("a/b")).retry_after(), Some(SECONDARY_WAIT));
        let with_retry = response(429, &[("retry-after", "17")], "");
        assert_eq!(classify(&with_retry, now, &Missing::Repo("a/b")).retry_after(), Some(Duration::from_secs(17)));
        let denied = response(403, &[], r#"{"message":"Resource not accessible by integration"}"#);
        assert_eq!(
            classify(&denied, now, &Missing::Repo("a/b")),
            FetchError::Auth { code: 403, detail: "Resource not accessible by integration".into() }
        );
        let missing = response(404, &[], r#"{"message":"Not Found"}"#);
        assert_eq!(
            classify(&missing, now, &Missing::Repo("acme/x")).to_string(),
            "HTTP 404 repository acme/x not found (or no access)"
        );
        let broken = response(500, &[], r#"{"message":"Server Error \u001b[31m"}"#);
        assert_eq!(
            classify(&broken, now, &Missing::Repo("a/b")).to_string(),
            "HTTP 500 Internal Server Error: Server Error"
        );
    }

    #[test]
    fn rate_state_holds_back_near_the_limit_and_after_a_hit() {
        let now = 1_800_000_000;
        let mut state = RateState::default();
        assert_eq!(state.hold(now), None);
        let reset = (now + 600).to_string();
        let plenty = response(
            200,
            &[("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "251"), ("x-ratelimit-reset", &reset)],
            "",
        );
        state.observe(&plenty, now);
        assert_eq!(state.hold(now), None);
        let low = response(
            200,
            &[("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "249"), ("x-ratelimit-reset", &reset)],
            "",
        );
        state.observe(&low, now);
        let held = state.hold(now).expect("held back");
        assert_eq!(held.retry_after(), Some(Duration::from_secs(600)));
        assert!(held.to_string().contains("249 of 5000 requests left"), "{held}");
        // A late response from earlier in the window does not raise the count.
        state.observe(&plenty, now);
        assert!(state.hold(now).is_some());
        // After the reset, requests go again.
        assert_eq!(state.hold(now + 601), None);

        let mut state = RateState::default();
        state.block_until(now + 60);
        assert_eq!(state.hold(now + 10).and_then(|e| e.retry_after()), Some(Duration::from_secs(50)));
        assert_eq!(state.hold(now + 60), None);
    }

    #[test]
    fn a_304_costs_nothing_only_with_a_token() {
        let now = 1_800_000_000;
        let reset = (now + 3600).to_string();
        let headers =
            [("x-ratelimit-limit", "5000"), ("x-ratelimit-remaining", "4000"), ("x-ratelimit-reset", reset.as_str())];
        let period = Duration::from_secs(30);
        for authorized in [true, false] {
            let mut state = RateState { authorized, ..RateState::default() };
            assert_eq!(state.budget(now, period), None, "nothing said yet");
            // The first sweep, then each second a 200 and a 304.
            state.observe(&response(200, &headers, ""), now);
            for t in 61..=120 {
                state.observe(&response(200, &headers, ""), now + t);
                state.observe(&response(304, &headers, ""), now + t);
            }
            let b = state.budget(now + 120, period).expect("a budget");
            assert_eq!((b.limit, b.remaining, b.reset), (5000, 4000, now + 3600));
            // (now+60, now+120]: 60 counted with a token, 120 without.
            assert_eq!(b.needed_per_hour, Some(if authorized { 3600 } else { 7200 }), "authorized: {authorized}");
        }
        let origin = url::Url::parse("https://api.github.example").unwrap().origin();
        assert!(super::super::lock(&shared_budget(&origin, Some(7))).authorized);
        assert!(!super::super::lock(&shared_budget(&origin, None)).authorized);
    }

    #[test]
    fn etag_cache_is_bounded_and_keyed_by_token() {
        let mut cache = EtagCache::default();
        let etag = HeaderValue::from_static("W/\"abc\"");
        let body: Arc<[u8]> = Arc::from(&b"[]"[..]);
        cache.put((Some(1), "u".into()), etag.clone(), body.clone(), None);
        assert!(cache.get(&(Some(1), "u".into())).is_some());
        assert!(cache.get(&(Some(2), "u".into())).is_none());
        assert!(cache.get(&(None, "u".into())).is_none());
        for i in 0..(CACHE_ENTRIES + 10) {
            cache.put((None, format!("u{i}")), etag.clone(), body.clone(), None);
        }
        assert_eq!(cache.entries.len(), CACHE_ENTRIES);
        assert_eq!(cache.bytes, CACHE_ENTRIES * 2);
        assert!(cache.get(&(None, format!("u{}", CACHE_ENTRIES + 9))).is_some(), "the newest stays");
        let big: Arc<[u8]> = Arc::from(vec![0u8; 1024 * 1024]);
        for i in 0..12 {
            cache.put((None, format!("big{i}")), etag.clone(), big.clone(), None);
        }
        assert!(cache.bytes <= CACHE_BYTES);
        // A fleet's sweep fits: 200 cells, 3 URLs each, all kept.
        let mut cache = EtagCache::for_cells(200);
        for i in 0..600 {
            cache.put((None, format!("u{i}")), etag.clone(), body.clone(), None);
        }
        assert!((0..600).all(|i| cache.get(&(None, format!("u{i}"))).is_some()), "nothing dropped");
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_deployments(&body);
            let _ = decode_statuses(&body);
            let _ = next_link(&String::from_utf8_lossy(&body));
        }
    }
}
