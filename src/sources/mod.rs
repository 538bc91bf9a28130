//! Sources: where observations come from. One module per kind; adding a
//! kind means writing its module and adding one line to [`KINDS`].
//!
//! A source turns one cell (service × environment) into a [`Reading`] or a
//! [`FetchError`]. Decoding is a pure function of the bytes; the network
//! part is thin. The poller owns scheduling, timeouts and backoff.
//!
//! A source that reads one response per cell may hand the poller the
//! response ([`Fetched::Body`]) and decode it in [`Source::read`]: the
//! poller then sends the requests waiting for free slots before it decodes
//! the answers that freed them. Work done between an answer and the next
//! request is paid for several times over (the threads that would have
//! sent it go to sleep and must be woken), so at thousands of cells a
//! sweep the decode costs less off that path than on it.

pub mod argocd;
pub(crate) mod auth;
pub mod budget;
pub mod command;
pub mod fetch;
pub mod github;
pub mod gitlab;
pub mod http;
pub mod kubernetes;
pub mod prometheus;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use fetch::{FetchError, HttpContext};

pub use crate::model::OptionError;
use crate::model::{CellKey, Evidence, Fleet, Reading, Role, SourceSpec};

/// One configured source, ready to fetch.
pub trait Source: Send + Sync + 'static {
    /// The evidence level this source gives when the config does not say.
    fn default_evidence(&self) -> Evidence;

    /// Whether this source reads deployments (the default) or metrics.
    fn role(&self) -> Role {
        Role::Deployment
    }

    /// The token this source sends, if any: the poller takes it out of
    /// every error text, whatever a server echoes back.
    fn token(&self) -> Option<&auth::Token> {
        None
    }

    /// The rate-limit budget this source spends, if it keeps one the
    /// cockpit can judge ([`budget`]).
    fn budget(&self) -> Option<budget::Probe> {
        None
    }

    /// Read one cell: a reading, or a response for [`Source::read`]. The
    /// poller wraps this in the source's timeout.
    fn fetch(&self, ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>>;

    /// Decode a response `fetch` handed back as [`Fetched::Body`]. Pure:
    /// bytes in, reading out. A source whose `fetch` never does keeps this
    /// default, which says so rather than guess.
    fn read(&self, _body: fetch::Response) -> Result<Reading, FetchError> {
        Err(FetchError::Other("this source does not read response bodies (a bug: please report it)".into()))
    }
}

/// What a fetch brought back.
#[derive(Debug)]
pub enum Fetched {
    /// The cell's reading, decoded.
    Reading(Reading),
    /// A successful response, for the source's [`Source::read`].
    Body(fetch::Response),
}

impl Fetched {
    /// The reading, decoding a body with `source`.
    pub fn read_with<S: Source + ?Sized>(self, source: &S) -> Result<Reading, FetchError> {
        match self {
            Fetched::Reading(reading) => Ok(reading),
            Fetched::Body(body) => source.read(body),
        }
    }
}

impl From<Reading> for Fetched {
    fn from(reading: Reading) -> Fetched {
        Fetched::Reading(reading)
    }
}

/// The cell a fetch is for, with the names templates need.
#[derive(Debug, Clone)]
pub struct CellTarget {
    pub key: CellKey,
    /// Shared with the fleet's names: a cell keeps no copy of its own.
    pub service: Arc<str>,
    pub env: Arc<str>,
}

/// Fill the exact placeholders `{service}` and `{env}` of a template;
/// other braces (PromQL, JSON) are left alone.
pub fn render(template: &str, service: &str, env: &str) -> String {
    template.replace("{service}", service).replace("{env}", env)
}

/// Check that a template uses only the `{service}` and `{env}` placeholders;
/// `what` names it in the message ("URL template", "project template").
pub(crate) fn check_placeholders(template: &str, what: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("invalid {what} `{template}`: unclosed '{{'"))?;
        let name = &after[..close];
        if name != "service" && name != "env" {
            return Err(format!(
                "invalid {what} `{template}`: unknown placeholder {{{name}}} (use {{service}} and {{env}})"
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// An API base URL: http(s), a host, no credentials, query or fragment.
pub(crate) fn parse_api_url(raw: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("invalid URL `{raw}`: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("invalid URL `{raw}`: scheme must be http or https"));
    }
    // As written: `http:///x` would otherwise parse with `x` as the host.
    http::check_authority(raw).map_err(|m| format!("invalid URL `{raw}`: {m}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid URL `{raw}`: no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("invalid URL `{raw}`: credentials belong in token_env, not in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("invalid URL `{raw}`: no query or fragment allowed"));
    }
    Ok(url)
}

/// A poisoned lock only means another fetch panicked; the data is still usable.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Constructor = fn(&SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>>;

/// The registry: kind name → constructor.
const KINDS: &[(&str, Constructor)] = &[
    ("http", http::HttpSource::build),
    ("github", github::GithubSource::build),
    ("gitlab", gitlab::GitlabSource::build),
    ("prometheus", prometheus::PrometheusSource::build),
    ("command", command::CommandSource::build),
    ("argocd", argocd::ArgoCdSource::build),
    ("kubernetes", kubernetes::KubernetesSource::build),
];

pub(crate) fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|(name, _)| *name).collect()
}

/// Build a source from its spec.
pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
    match KINDS.iter().find(|(name, _)| *name == spec.kind) {
        Some((_, construct)) => construct(spec),
        None => Err(vec![OptionError::new(
            "kind",
            format!("unknown source kind `{}` (known: {})", spec.kind, kind_names().join(", ")),
        )]),
    }
}

/// Team mode: a source this seat has no token for. It never sends a
/// request: the leading seat polls it for the team, and a seat with such a
/// source follows only.
pub(crate) struct Tokenless {
    kind: String,
}

impl Tokenless {
    pub(crate) fn new(spec: &SourceSpec) -> Tokenless {
        Tokenless { kind: spec.kind.clone() }
    }

    /// Whether `errors` say only that the token's variable is not set.
    pub(crate) fn only_missing_token(errors: &[OptionError]) -> bool {
        !errors.is_empty() && errors.iter().all(|e| e.key == "token_env" && e.message.ends_with("is not set"))
    }
}

impl Source for Tokenless {
    fn default_evidence(&self) -> Evidence {
        // Each kind's own default (see its `default_evidence`).
        match self.kind.as_str() {
            "argocd" => Evidence::Controller,
            "github" | "gitlab" | "command" => Evidence::Recorded,
            "prometheus" => Evidence::Declared,
            _ => Evidence::Running,
        }
    }

    fn role(&self) -> Role {
        if self.kind == "prometheus" { Role::Metrics } else { Role::Deployment }
    }

    fn fetch(&self, _: &HttpContext, _: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        Box::pin(async {
            Err(FetchError::Other("this seat has no token for this source: the leading seat polls it".into()))
        })
    }
}

/// A configured source with the cells it reads.
#[derive(Clone)]
pub struct ActiveSource {
    pub name: Arc<str>,
    pub evidence: Evidence,
    pub role: Role,
    pub every: std::time::Duration,
    pub timeout: std::time::Duration,
    pub cells: Vec<CellTarget>,
    pub source: Arc<dyn Source>,
    /// Every token of every configured source (shared): the poller takes
    /// them out of whatever this source sends back.
    pub secrets: auth::Secrets,
}

/// Build every configured source, then attach its cells (for tests and
/// benches, and the demo: the program itself builds each source once while
/// validating, see [`crate::setup`]).
pub fn activate(specs: &[SourceSpec], fleet: &Fleet) -> Result<Vec<ActiveSource>, String> {
    let built = specs
        .iter()
        .map(|spec| {
            build(spec).map_err(|errs| {
                errs.iter()
                    .map(|e| format!("source `{}`: `{}`: {}", spec.name, e.key, e.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(attach(specs, built, fleet))
}

/// Give each built source (in spec order) the cells it reads, and every
/// source the tokens of all, to scrub from what any of them returns.
pub(crate) fn attach(specs: &[SourceSpec], built: Vec<Arc<dyn Source>>, fleet: &Fleet) -> Vec<ActiveSource> {
    let mut active: Vec<ActiveSource> = specs
        .iter()
        .zip(built)
        .map(|(spec, source)| {
            let mut cells = Vec::with_capacity(spec.services.len() * spec.environments.len());
            for &service in &spec.services {
                for &env in &spec.environments {
                    cells.push(CellTarget {
                        key: CellKey { service, env },
                        service: Arc::clone(&fleet.services[service].name),
                        env: Arc::clone(&fleet.environments[env].name),
                    });
                }
            }
            ActiveSource {
                name: Arc::from(spec.name.as_str()),
                evidence: spec.evidence.unwrap_or_else(|| source.default_evidence()),
                role: source.role(),
                every: spec.every,
                timeout: spec.timeout,
                cells,
                source,
                secrets: auth::Secrets::default(),
            }
        })
        .collect();
    let secrets = auth::Secrets::new(active.iter().filter_map(|a| a.source.token().cloned()));
    for source in &mut active {
        source.secrets = secrets.clone();
    }
    active
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_taken_as_it_is_and_a_body_a_source_cannot_read_is_an_error() {
        let source = Tokenless { kind: "http".into() };
        let reading = Fetched::from(Reading::version("1.2.3")).read_with(&source).unwrap();
        assert_eq!(reading.version.as_deref(), Some("1.2.3"));
        let body = fetch::Response {
            status: reqwest::StatusCode::OK,
            content_type: None,
            headers: reqwest::header::HeaderMap::new(),
            body: b"1.2.3".to_vec(),
        };
        let err = Fetched::Body(body).read_with(&source).unwrap_err();
        assert!(err.to_string().contains("does not read response bodies"), "{err}");
    }
}
