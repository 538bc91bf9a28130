//! The `gitlab` source: what GitLab's deployment records say runs in each
//! environment (evidence `recorded`).
//!
//! ```toml
//! [[sources]]
//! name = "gitlab-deployments"
//! kind = "gitlab"
//! project = "acme/{service}"        # a path (sent as acme%2Fpayments) or a numeric id
//! token_env = "GITLAB_TOKEN"        # sent as PRIVATE-TOKEN (auth = "bearer" for OAuth)
//! # api_url = "https://gitlab.example.com/api/v4"
//! # projects = { payments = "1234" }
//! # environments_map = { prod = "production" }
//! # version_from = "ref"            # "ref" | "sha"
//! ```
//!
//! A cell asks for the environment's successful deployments, newest first
//! (`sort=desc` always: GitLab's default is ascending), and reads the newest.
//! No successful deployment at all is a positive "no deployment".
//!
//! `previous` (the rollback target) comes from the same page of
//! [`PER_PAGE`] deployments: the next older successful one with another
//! version (a redeploy of the running version is skipped), with its sha,
//! when its job finished, and `deployment <iid>` (the id without an iid).
//! None on the page: no `previous`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use super::fetch::{self, FetchError, HttpContext, Response};
use super::github::{RateState, shared_budget};
use super::http::parse_options;
use super::{CellTarget, Fetched, OptionError, Source, auth};
use crate::model::SourceSpec;
use crate::model::rollback::Artifact;
use crate::model::{Evidence, Reading};
use crate::sanitize;

pub(crate) const DEFAULT_API_URL: &str = "https://gitlab.com/api/v4";
/// Deployments per page: the newest is the reading, the others are where
/// the previous version is looked for.
pub(crate) const PER_PAGE: &str = "20";
/// Pages read when the first has no usable deployment (only if the server
/// ignored a filter: with `status=success` the first row is the answer).
const MAX_PAGES: u32 = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    project: Option<String>,
    #[serde(default)]
    projects: BTreeMap<String, String>,
    api_url: Option<String>,
    token_env: Option<String>,
    #[serde(default)]
    auth: AuthScheme,
    #[serde(default)]
    environments_map: BTreeMap<String, String>,
    #[serde(default)]
    version_from: VersionFrom,
}

/// How the token is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AuthScheme {
    /// `PRIVATE-TOKEN: …` (personal, project and group access tokens).
    #[default]
    PrivateToken,
    /// `Authorization: Bearer …` (OAuth tokens).
    Bearer,
}

/// Where a reading's version comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionFrom {
    /// The deployed ref (a tag such as `v1.4.0`, or a branch).
    #[default]
    Ref,
    /// The deployed commit SHA.
    Sha,
}

pub(crate) struct GitlabSource {
    inner: Arc<Inner>,
}

struct Inner {
    /// API base without a trailing slash.
    api: String,
    project: Option<String>,
    projects: BTreeMap<String, String>,
    environments_map: BTreeMap<String, String>,
    version_from: VersionFrom,
    /// The auth header, its value marked sensitive.
    auth: Option<(HeaderName, HeaderValue)>,
    /// Kept only to scrub it out of error texts.
    token: Option<auth::Token>,
    /// The rate-limit budget of this token on this host: when GitLab said
    /// to come back, that holds for every cell of the token and everyone
    /// else sending it there ([`super::github::shared_budget`]).
    budget: Arc<Mutex<RateState>>,
}

impl GitlabSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let mut errors = Vec::new();
        let api = parse_api_url(options.api_url.as_deref().unwrap_or(DEFAULT_API_URL))
            .map_err(|m| errors.push(OptionError::new("api_url", m)))
            .ok();
        if let Some(project) = &options.project
            && let Err(m) = check_project_template(project)
        {
            errors.push(OptionError::new("project", m));
        }
        for (service, project) in &options.projects {
            if !valid_project(project) {
                errors.push(OptionError::new(
                    format!("projects.{service}"),
                    format!("`{project}` is not a project: write \"group/name\" or a numeric id"),
                ));
            }
        }
        if options.project.is_none() && options.projects.is_empty() {
            errors.push(OptionError::new(
                "project",
                "missing: set `project` (e.g. \"group/{service}\") or `projects = { service = \"group/name\" }`",
            ));
        }
        for (env, name) in &options.environments_map {
            if name.trim().is_empty() {
                errors.push(OptionError::new(format!("environments_map.{env}"), "empty GitLab environment name"));
            }
        }
        let token = auth::from_env(options.token_env.as_deref()).map_err(|e| errors.push(e)).ok().flatten();
        let auth = token.as_ref().and_then(|t| {
            let (name, raw) = match options.auth {
                AuthScheme::PrivateToken => (HeaderName::from_static("private-token"), t.expose().to_string()),
                AuthScheme::Bearer => (AUTHORIZATION, format!("Bearer {}", t.expose())),
            };
            let mut value = HeaderValue::from_str(&raw)
                .map_err(|_| {
                    let var = options.token_env.as_deref().unwrap_or_default();
                    errors.push(OptionError::new(
                        "token_env",
                        format!("the token in {var} has characters not allowed in an HTTP header"),
                    ));
                })
                .ok()?;
            value.set_sensitive(true);
            Some((name, value))
        });
        let (Some(api), true) = (api, errors.is_empty()) else {
            return Err(errors);
        };
        let origin = url::Url::parse(&api).map(|u| u.origin()).map_err(|e| {
            vec![OptionError::new("api_url", format!("invalid URL `{}`: {e}", sanitize::clean_to(&api, 80)))]
        })?;
        let budget = shared_budget(&origin, token.as_ref().map(auth::Token::cache_key));
        Ok(Arc::new(GitlabSource {
            inner: Arc::new(Inner {
                api,
                project: options.project,
                projects: options.projects,
                environments_map: options.environments_map,
                version_from: options.version_from,
                auth,
                token,
                budget,
            }),
        }))
    }
}

impl Source for GitlabSource {
    fn token(&self) -> Option<&auth::Token> {
        self.inner.token.as_ref()
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

/// A numeric id, or a path of one or more groups and the project name.
pub(crate) fn valid_project(project: &str) -> bool {
    if !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let mut parts = project.split('/');
    let ok = parts.clone().all(|s| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    ok && parts.nth(1).is_some()
}

fn parse_api_url(raw: &str) -> Result<String, String> {
    Ok(super::parse_api_url(raw)?.as_str().trim_end_matches('/').to_string())
}

fn check_project_template(template: &str) -> Result<(), String> {
    super::check_placeholders(template, "project template")?;
    if valid_project(&super::render(template, "svc", "env")) {
        Ok(())
    } else {
        Err(format!("`{template}` is not a project template: write \"group/{{service}}\" or a numeric id"))
    }
}

/// The `:id` of `/projects/:id`: a numeric id as is, a path URL-encoded
/// (`group/sub/name` → `group%2Fsub%2Fname`).
pub(crate) fn project_id(project: &str) -> String {
    let mut out = String::with_capacity(project.len() + 8);
    for b in project.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Inner {
    fn project_for(&self, service: &str, env: &str) -> Result<String, FetchError> {
        if let Some(project) = self.projects.get(service) {
            return Ok(project.clone());
        }
        let template = self.project.as_deref().ok_or_else(|| {
            FetchError::Field(format!("no project for service {service}: add it to `projects` or set `project`"))
        })?;
        let project = super::render(template, service, env);
        if valid_project(&project) {
            Ok(project)
        } else {
            Err(FetchError::Field(format!("`{}` is not a project", sanitize::clean_to(&project, 80))))
        }
    }

    async fn read_cell(&self, client: &reqwest::Client, service: &str, env: &str) -> Result<Reading, FetchError> {
        let project = self.project_for(service, env)?;
        let gl_env = self.environments_map.get(env).map_or(env, String::as_str);
        let mut page = 1u32;
        loop {
            let mut url = url::Url::parse(&format!("{}/projects/{}/deployments", self.api, project_id(&project)))
                .map_err(|e| FetchError::Other(format!("cannot build the request URL: {e}")))?;
            url.query_pairs_mut()
                .append_pair("environment", gl_env)
                .append_pair("status", "success")
                .append_pair("order_by", "id")
                .append_pair("sort", "desc")
                .append_pair("per_page", PER_PAGE);
            if page > 1 {
                url.query_pairs_mut().append_pair("page", &page.to_string());
            }
            let resp = self.get(client, url, &project).await?;
            let deployments = decode_deployments(&resp.body)?;
            if let Some(newest) = newest_success(&deployments, gl_env) {
                let previous = previous_success(&deployments, gl_env, newest, self.version_from);
                return Ok(Reading { previous: previous.map(Box::new), ..reading(newest, self.version_from) });
            }
            match next_page(&resp) {
                Some(next) if next > page && next <= MAX_PAGES => page = next,
                Some(next) if next > page => {
                    return Err(FetchError::Field(format!(
                        "no successful deployment in the first {MAX_PAGES} pages of {gl_env}'s deployments"
                    )));
                }
                _ => return Ok(no_deployment()),
            }
        }
    }

    async fn get(&self, client: &reqwest::Client, url: url::Url, project: &str) -> Result<Response, FetchError> {
        let now = Timestamp::now().as_second();
        if let Some(held) = super::lock(&self.budget).hold(now) {
            return Err(held);
        }
        let mut request = client.get(url).header(ACCEPT, "application/json");
        if let Some((name, value)) = &self.auth {
            request = request.header(name.clone(), value.clone());
        }
        let resp = fetch::get_capped(request, fetch::MAX_BODY).await?;
        let now = Timestamp::now().as_second();
        super::lock(&self.budget).observe(&resp, now);
        if resp.status.is_success() {
            return Ok(resp);
        }
        let err = classify(&resp, now, project);
        if let Some(wait) = err.retry_after() {
            super::lock(&self.budget).block_until(now.saturating_add(wait.as_secs() as i64));
        }
        Err(err)
    }
}

/// `x-next-page` as a number; empty or absent on the last page.
fn next_page(resp: &Response) -> Option<u32> {
    resp.header("x-next-page").and_then(|v| v.trim().parse().ok())
}

// ---------------------------------------------------------------------------
// Decoding: pure functions of the bytes.

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Deployment {
    pub id: u64,
    #[serde(default)]
    pub iid: Option<u64>,
    #[serde(rename = "ref", default)]
    pub git_ref: String,
    #[serde(default)]
    pub sha: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub environment: Option<EnvironmentRef>,
    /// The job that deployed; null for deployments created through the API.
    #[serde(default)]
    pub deployable: Option<Deployable>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EnvironmentRef {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Deployable {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub pipeline: Option<Pipeline>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pipeline {
    #[serde(default)]
    pub id: Option<u64>,
}

/// Decode a page of `GET /projects/:id/deployments`.
pub fn decode_deployments(body: &[u8]) -> Result<Vec<Deployment>, FetchError> {
    serde_json::from_slice(body).map_err(|e| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100)))
}

/// The newest successful deployment of `environment` on a page. The query
/// asked for exactly these, newest first; checking again costs nothing and
/// survives a server that ignores a filter.
pub fn newest_success<'a>(deployments: &'a [Deployment], environment: &str) -> Option<&'a Deployment> {
    successes(deployments, environment).max_by_key(|d| d.id)
}

/// The successful deployments of `environment` on a page.
fn successes<'a>(deployments: &'a [Deployment], environment: &str) -> impl Iterator<Item = &'a Deployment> {
    deployments
        .iter()
        .filter(|d| d.status.as_deref().is_none_or(|s| s == "success"))
        .filter(move |d| d.environment.as_ref().and_then(|e| e.name.as_deref()).is_none_or(|n| n == environment))
}

/// What ran before `current`: the newest successful deployment of
/// `environment` older than it (by id) whose version differs; a redeploy of
/// the same version is no rollback target.
pub fn previous_success(
    deployments: &[Deployment],
    environment: &str,
    current: &Deployment,
    version_from: VersionFrom,
) -> Option<Artifact> {
    let current_version = version_of(current, version_from);
    let (deployment, version) = successes(deployments, environment)
        .filter(|d| d.id < current.id)
        .map(|d| (d, version_of(d, version_from)))
        .filter(|(_, v)| !v.is_empty() && *v != current_version)
        .max_by_key(|(d, _)| d.id)?;
    Some(Artifact {
        version,
        commit: Some(sanitize::clean(&deployment.sha)).filter(|s| !s.is_empty()),
        deployed_at: deployed_at(deployment),
        reference: Some(format!("deployment {}", deployment.iid.unwrap_or(deployment.id))),
        ..Artifact::default()
    })
}

fn timestamp(raw: Option<&str>) -> Option<Timestamp> {
    raw.and_then(|s| s.trim().parse().ok())
}

fn version_of(deployment: &Deployment, version_from: VersionFrom) -> String {
    match version_from {
        VersionFrom::Ref => sanitize::clean(&deployment.git_ref),
        VersionFrom::Sha => sanitize::clean(&deployment.sha),
    }
}

/// When its job finished, else when the record last changed, else when it was created.
fn deployed_at(deployment: &Deployment) -> Option<Timestamp> {
    let finished = deployment.deployable.as_ref().and_then(|d| timestamp(d.finished_at.as_deref()));
    finished
        .or_else(|| timestamp(deployment.updated_at.as_deref()))
        .or_else(|| timestamp(deployment.created_at.as_deref()))
}

/// The reading of a successful deployment. `deployed_at` is when its job
/// finished, else when the record last changed, else when it was created.
pub fn reading(deployment: &Deployment, version_from: VersionFrom) -> Reading {
    let version = version_of(deployment, version_from);
    let deployed_at = deployed_at(deployment);
    let mut attributes = vec![("deployment".to_string(), deployment.id.to_string())];
    if let Some(iid) = deployment.iid {
        attributes.push(("iid".into(), iid.to_string()));
    }
    attributes.push(("state".into(), "success".into()));
    if version_from != VersionFrom::Ref && !deployment.git_ref.is_empty() {
        attributes.push(("ref".into(), sanitize::clean(&deployment.git_ref)));
    }
    if let Some(pipeline) = deployment.deployable.as_ref().and_then(|d| d.pipeline.as_ref()).and_then(|p| p.id) {
        attributes.push(("pipeline".into(), pipeline.to_string()));
    }
    Reading {
        version: Some(version).filter(|v| !v.is_empty()),
        commit: Some(sanitize::clean(&deployment.sha)).filter(|s| !s.is_empty()),
        deployed_at,
        attributes,
        ..Reading::default()
    }
}

/// No successful deployment in the environment: a positive `version: None`.
fn no_deployment() -> Reading {
    Reading { attributes: vec![("state".into(), "no successful deployment".into())], ..Reading::default() }
}

/// A GitLab error body's text: `{"message": "…"}` (a string, or an object
/// of field errors) or `{"error": "…", "error_description": "…"}`.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let text = match (value.get("message"), value.get("error")) {
        (Some(Value::String(m)), _) => m.clone(),
        (Some(m @ (Value::Object(_) | Value::Array(_))), _) => m.to_string(),
        (_, Some(Value::String(e))) => match value.get("error_description").and_then(Value::as_str) {
            Some(d) => format!("{e}: {d}"),
            None => e.clone(),
        },
        _ => return None,
    };
    let text = sanitize::clean_to(&text, 120);
    (!text.is_empty()).then_some(text)
}

/// Classify a failed response: the shared rules, GitLab's reset time when
/// the budget is spent, its error bodies, and the 404 of a hidden project.
/// A 429 without `Retry-After` or reset keeps `retry_after: None`, so the
/// poller's own backoff applies.
pub(crate) fn classify(resp: &Response, now: i64, project: &str) -> FetchError {
    let spent = resp.header_u64("ratelimit-remaining") == Some(0);
    let reset = resp.header("ratelimit-reset").and_then(|r| r.trim().parse::<i64>().ok());
    let reset_wait = reset.filter(|_| spent).map(|at| fetch::secs_until(at, now));
    let message = error_message(&resp.body);
    match fetch::classify_status(resp, reset_wait) {
        FetchError::Status { code: 404, .. } => {
            FetchError::Status { code: 404, detail: format!("project {project} not found (or no access)") }
        }
        FetchError::Auth { code, detail } => FetchError::Auth { code, detail: message.unwrap_or(detail) },
        FetchError::RateLimited { code, retry_after, detail } => {
            FetchError::RateLimited { code, retry_after, detail: message.unwrap_or(detail) }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"[
      {"id":42,"iid":7,"ref":"v1.4.0","sha":"bbb222","status":"success",
       "created_at":"2026-11-24T18:00:00.000Z","updated_at":"2026-11-24T18:06:00.000Z",
       "user":{"id":1,"username":"root"},"environment":{"id":9,"name":"production","external_url":null},
       "deployable":{"id":1001,"status":"success","stage":"deploy","name":"deploy-prod",
         "created_at":"2026-11-24T17:58:00.000Z","started_at":"2026-11-24T18:00:00.000Z",
         "finished_at":"2026-11-24T18:05:30.000Z","pipeline":{"id":555,"sha":"bbb222","status":"success"}}},
      {"id":40,"iid":6,"ref":"v1.3.0","sha":"aaa111","status":"success",
       "created_at":"2026-11-20T10:00:00.000Z","updated_at":"2026-11-20T10:05:00.000Z",
       "environment":{"id":9,"name":"production"},"deployable":null}
    ]"#;

    #[test]
    fn newest_success_with_its_job_time() {
        let deps = decode_deployments(PAGE.as_bytes()).unwrap();
        let newest = newest_success(&deps, "production").unwrap();
        let r = reading(newest, VersionFrom::Ref);
        assert_eq!(r.version.as_deref(), Some("v1.4.0"));
        assert_eq!(r.commit.as_deref(), Some("bbb222"));
        assert_eq!(r.deployed_at, Some("2026-11-24T18:05:30Z".parse().unwrap()));
        assert_eq!(r.attribute("deployment"), Some("42"));
        assert_eq!(r.attribute("iid"), Some("7"));
        assert_eq!(r.attribute("pipeline"), Some("555"));
        assert_eq!(reading(newest, VersionFrom::Sha).version.as_deref(), Some("bbb222"));
        assert_eq!(reading(newest, VersionFrom::Sha).attribute("ref"), Some("v1.4.0"));
    }

    #[test]
    fn previous_is_the_next_older_success_of_another_version() {
        let deps = decode_deployments(PAGE.as_bytes()).unwrap();
        let newest = newest_success(&deps, "production").unwrap();
        let previous = previous_success(&deps, "production", newest, VersionFrom::Ref).expect("a previous");
        assert_eq!(
            previous,
            Artifact {
                version: "v1.3.0".into(),
                commit: Some("aaa111".into()),
                deployed_at: Some("2026-11-20T10:05:00Z".parse().unwrap()),
                reference: Some("deployment 6".into()),
                ..Artifact::default()
            }
        );
        assert_eq!(previous_success(&deps, "production", &deps[1], VersionFrom::Ref), None, "nothing older");
    }

    #[test]
    fn previous_skips_redeploys_failures_and_other_environments() {
        let body = br#"[{"id":9,"ref":"v2","sha":"s9","status":"success","environment":{"name":"production"}},
                        {"id":8,"ref":"v2","sha":"s8","status":"success","environment":{"name":"production"}},
                        {"id":7,"ref":"v1.9","sha":"s7","status":"failed","environment":{"name":"production"}},
                        {"id":6,"ref":"v1.8","sha":"s6","status":"success","environment":{"name":"staging"}},
                        {"id":4,"ref":"v1.5","sha":"s4","status":"success","environment":{"name":"production"}},
                        {"id":5,"ref":"v1.7","sha":"s5","status":"success","environment":{"name":"production"}}]"#;
        let deps = decode_deployments(body).unwrap();
        let newest = newest_success(&deps, "production").unwrap();
        let previous = previous_success(&deps, "production", newest, VersionFrom::Ref).expect("a previous");
        assert_eq!(previous.version, "v1.7", "the highest older id, whatever the list order");
        assert_eq!(previous.reference.as_deref(), Some("deployment 5"), "no iid: the id");
        assert_eq!(previous.commit.as_deref(), Some("s5"));
        // By sha, the redeploy (8) is another version.
        let by_sha = previous_success(&deps, "production", newest, VersionFrom::Sha).expect("a previous");
        assert_eq!(by_sha.version, "s8");
    }

    #[test]
    fn null_deployable_falls_back_to_updated_then_created() {
        let deps = decode_deployments(PAGE.as_bytes()).unwrap();
        let r = reading(&deps[1], VersionFrom::Ref);
        assert_eq!(r.deployed_at, Some("2026-11-20T10:05:00Z".parse().unwrap()));
        assert_eq!(r.attribute("pipeline"), None);
        let only_created: Vec<Deployment> =
            decode_deployments(br#"[{"id":1,"ref":"v1","sha":"s","created_at":"2026-01-01T00:00:00Z"}]"#).unwrap();
        assert_eq!(
            reading(&only_created[0], VersionFrom::Ref).deployed_at,
            Some("2026-01-01T00:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn the_order_and_filters_are_checked_again() {
        let body = br#"[{"id":3,"ref":"v3","status":"failed","environment":{"name":"production"}},
                        {"id":1,"ref":"v1","status":"success","environment":{"name":"production"}},
                        {"id":2,"ref":"v2","status":"success","environment":{"name":"production"}},
                        {"id":9,"ref":"v9","status":"success","environment":{"name":"staging"}}]"#;
        let deps = decode_deployments(body).unwrap();
        assert_eq!(newest_success(&deps, "production").map(|d| d.id), Some(2));
        assert_eq!(newest_success(&[], "production"), None);
    }

    #[test]
    fn strings_are_cleaned_and_bad_json_is_malformed() {
        let deps = decode_deployments(br#"[{"id":1,"ref":"v1\u001b[31m.0","sha":"abc\u202e"}]"#).unwrap();
        let r = reading(&deps[0], VersionFrom::Ref);
        assert_eq!((r.version.as_deref(), r.commit.as_deref()), (Some("v1.0"), Some("abc")));
        assert!(matches!(decode_deployments(b"[{"), Err(FetchError::Malformed(_))));
        assert!(matches!(decode_deployments(br#"{"message":"x"}"#), Err(FetchError::Malformed(_))));
    }

    #[test]
    fn error_bodies_read() {
        assert_eq!(error_message(br#"{"message":"404 Project Not Found"}"#).as_deref(), Some("404 Project Not Found"));
        assert_eq!(
            error_message(br#"{"error":"insufficient_scope","error_description":"needs read_api"}"#).as_deref(),
            Some("insufficient_scope: needs read_api")
        );
        assert_eq!(error_message(br#"{"error":"invalid_token"}"#).as_deref(), Some("invalid_token"));
        assert_eq!(
            error_message(br#"{"message":{"environment":["is invalid"]}}"#).as_deref(),
            Some(r#"{"environment":["is invalid"]}"#)
        );
        assert_eq!(error_message(b"Retry later"), None);
        assert_eq!(error_message(br#"{"other":1}"#), None);
    }

    #[test]
    fn project_ids_and_templates() {
        assert_eq!(project_id("acme/payments"), "acme%2Fpayments");
        assert_eq!(project_id("acme/sub/pay.api"), "acme%2Fsub%2Fpay.api");
        assert_eq!(project_id("1234"), "1234");
        assert!(check_project_template("acme/{service}").is_ok());
        assert!(check_project_template("1234").is_ok());
        assert!(check_project_template("{service}").is_err(), "a bare name is neither a path nor an id");
        assert!(check_project_template("acme/{svc}").unwrap_err().contains("unknown placeholder"));
        assert!(!valid_project("acme//x") && !valid_project("acme/..") && valid_project("a/b/c"));
        assert_eq!(parse_api_url("https://gitlab.example.com/api/v4/").unwrap(), "https://gitlab.example.com/api/v4");
    }

    fn response(code: u16, headers: &[(&'static str, &str)], body: &str) -> Response {
        let mut map = reqwest::header::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Response {
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            content_type: None,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn classify_errors() {
        let now = 1_800_000_000;
        let e = classify(&response(404, &[], r#"{"message":"404 Project Not Found"}"#), now, "acme/secret");
        assert_eq!(e.to_string(), "HTTP 404 project acme/secret not found (or no access)");
        let e = classify(&response(401, &[], r#"{"message":"401 Unauthorized"}"#), now, "a/b");
        assert_eq!(e, FetchError::Auth { code: 401, detail: "401 Unauthorized".into() });
        let e = classify(&response(403, &[], r#"{"error":"insufficient_scope"}"#), now, "a/b");
        assert_eq!(e, FetchError::Auth { code: 403, detail: "insufficient_scope".into() });
        let e = classify(&response(429, &[], "Retry later\n"), now, "a/b");
        assert_eq!(e, FetchError::RateLimited { code: 429, retry_after: None, detail: "Retry later".into() });
        let e = classify(&response(429, &[("retry-after", "30")], "Retry later"), now, "a/b");
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
        let reset = (now + 45).to_string();
        let e = classify(&response(429, &[("ratelimit-remaining", "0"), ("ratelimit-reset", &reset)], ""), now, "a/b");
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(45)));
        let e = classify(&response(400, &[], r#"{"message":{"environment":["is invalid"]}}"#), now, "a/b");
        assert_eq!(e.to_string(), r#"HTTP 400 Bad Request: {"environment":["is invalid"]}"#);
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_deployments(&body);
            let _ = error_message(&body);
        }
    }
}
