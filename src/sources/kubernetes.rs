//! The `kubernetes` source: the image a Deployment runs and how its rollout
//! stands, one Deployment per cell (`running` evidence: the pod template's
//! image is what the cluster runs once the rollout is complete).
//!
//! ```toml
//! [[sources]]
//! name = "prod-cluster"
//! kind = "kubernetes"
//! context = "prod-eu"                # a kubeconfig context (or in_cluster = true)
//! # kubeconfig = "~/.kube/prod"      # default: $KUBECONFIG, else ~/.kube/config
//! namespace = "{env}"                # default
//! deployment = "{service}"           # default
//! # container = "app"                # default: the first container
//! environments = ["prod"]            # one source per cluster
//! ```
//!
//! The cluster is reached with the `kube` crate, through a kubeconfig
//! context (its credentials: token, client certificate or exec plugin) or
//! the pod's service account. One `GET /apis/apps/v1/namespaces/{ns}/deployments/{name}`
//! per cell, sent raw through the kube client and decoded by a pure function
//! over JSON. The client's own retries are off: the poller owns backoff and
//! obeys `Retry-After`. TLS is always verified, even when the kubeconfig says
//! `insecure-skip-tls-verify`.
//!
//! `previous` (the rollback target, what `kubectl rollout undo` goes back
//! to) comes from the Deployment's ReplicaSets: one more
//! `GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector=…` (the
//! Deployment's `spec.selector.matchLabels`), kept to those whose
//! `ownerReferences` name the Deployment, and of those the one with the
//! highest `deployment.kubernetes.io/revision` below the Deployment's own
//! whose image (of the same container) differs from the running one: its
//! tag, its digest if pinned, and `revision N`. That list failing never
//! fails the cell: the reading stands without `previous` (a 403 says so in
//! the attribute `previous`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Deserialize;
use serde_json::Value;

use super::auth;
use super::fetch::{self, FetchError, HttpContext};
use super::http::parse_options;
use super::{CellTarget, Fetched, OptionError, Source};
use crate::model::SourceSpec;
use crate::model::rollback::Artifact;
use crate::model::{Evidence, Health, Reading};
use crate::sanitize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    context: Option<String>,
    kubeconfig: Option<String>,
    in_cluster: Option<bool>,
    namespace: Option<String>,
    /// Not `name`: that key is the source's own name.
    deployment: Option<String>,
    container: Option<String>,
    token_env: Option<String>,
}

/// How to reach the cluster, settled when the source is built.
enum Target {
    Kubeconfig { kubeconfig: Box<Kubeconfig>, context: String },
    InCluster(Box<kube::Config>),
}

/// What every cell's fetch shares: one client per source, made on first use
/// (a kube client needs a running tokio runtime; building a source does not).
struct Cluster {
    target: Target,
    /// `Bearer <token>` from `token_env`, replacing the kubeconfig's credentials.
    authorization: Option<HeaderValue>,
    client: tokio::sync::OnceCell<kube::Client>,
}

pub(crate) struct KubernetesSource {
    /// The `token_env` token, only to take it out of error texts.
    token: Option<auth::Token>,
    cluster: Arc<Cluster>,
    namespace: NameTemplate,
    deployment: NameTemplate,
    container: Option<String>,
}

impl KubernetesSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let mut errors = Vec::new();
        let target = target(&options).map_err(|e| errors.push(e)).ok();
        let namespace = NameTemplate::parse(options.namespace.as_deref().unwrap_or("{env}"))
            .map_err(|m| errors.push(OptionError::new("namespace", m)))
            .ok();
        let deployment = NameTemplate::parse(options.deployment.as_deref().unwrap_or("{service}"))
            .map_err(|m| errors.push(OptionError::new("deployment", m)))
            .ok();
        if options.container.as_deref().is_some_and(|c| c.trim().is_empty()) {
            errors.push(OptionError::new("container", "must not be empty (leave it out for the first container)"));
        }
        let (kept, authorization) = match auth::bearer_from_env(options.token_env.as_deref()) {
            Ok(pair) => pair,
            Err(e) => {
                errors.push(e);
                (None, None)
            }
        };
        match (target, namespace, deployment) {
            (Some(target), Some(namespace), Some(deployment)) if errors.is_empty() => Ok(Arc::new(KubernetesSource {
                token: kept,
                cluster: Arc::new(Cluster { target, authorization, client: tokio::sync::OnceCell::new() }),
                namespace,
                deployment,
                container: options.container.map(|c| c.trim().to_string()),
            })),
            _ => Err(errors),
        }
    }
}

/// Settle how to reach the cluster: the kubeconfig is read and the context
/// checked now, so a wrong context fails at start-up, naming it.
fn target(options: &Options) -> Result<Target, OptionError> {
    if options.in_cluster == Some(true) {
        if options.context.is_some() || options.kubeconfig.is_some() {
            return Err(OptionError::new(
                "in_cluster",
                "in_cluster = true reads the pod's service account: leave out `context` and `kubeconfig`",
            ));
        }
        let config = kube::Config::incluster().map_err(|e| {
            OptionError::new(
                "in_cluster",
                format!("not running inside a cluster: {}", sanitize::clean_to(&e.to_string(), 160)),
            )
        })?;
        return Ok(Target::InCluster(Box::new(config)));
    }
    let Some(context) = options.context.as_deref().map(str::trim) else {
        return Err(OptionError::new(
            "context",
            "name the kubeconfig context to read (see `kubectl config get-contexts`), or set in_cluster = true",
        ));
    };
    if context.is_empty() {
        return Err(OptionError::new("context", "must not be empty"));
    }
    if context.contains("{env}") || context.contains("{service}") {
        return Err(OptionError::new(
            "context",
            "placeholders are not supported here: configure one source per cluster and scope it with `environments`",
        ));
    }
    let (kubeconfig, from) = match options.kubeconfig.as_deref() {
        Some(path) => {
            let path = expand_home(path);
            let shown = path.display().to_string();
            (Kubeconfig::read_from(&path), shown)
        }
        None => (Kubeconfig::read(), "the default kubeconfig ($KUBECONFIG, else ~/.kube/config)".to_string()),
    };
    let kubeconfig = kubeconfig
        .map_err(|e| OptionError::new("kubeconfig", format!("cannot read {from}: {}", kubeconfig_error(&e))))?;
    check_context(&kubeconfig, context).map_err(|m| OptionError::new("context", format!("{m} in {from}")))?;
    Ok(Target::Kubeconfig { kubeconfig: Box::new(kubeconfig), context: context.to_string() })
}

/// The context exists and names a cluster with a server address.
fn check_context(kubeconfig: &Kubeconfig, context: &str) -> Result<(), String> {
    let Some(found) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        return Err(format!("context `{context}` not found (contexts: {})", sanitize::clean_to(&known, 200)));
    };
    let Some(cluster_name) = found.context.as_ref().map(|c| c.cluster.as_str()) else {
        return Err(format!("context `{context}` is empty"));
    };
    let cluster = kubeconfig.clusters.iter().find(|c| c.name == cluster_name).and_then(|c| c.cluster.as_ref());
    match cluster {
        None => Err(format!("context `{context}` names cluster `{cluster_name}`, which is not defined")),
        Some(c) if c.server.as_deref().is_none_or(|s| s.trim().is_empty()) => {
            Err(format!("context `{context}`: cluster `{cluster_name}` has no server address"))
        }
        Some(_) => Ok(()),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => directories::BaseDirs::new().map_or_else(|| PathBuf::from(path), |b| b.home_dir().join(rest)),
        None => PathBuf::from(path),
    }
}

impl Cluster {
    /// The cluster's client, made once. It is made in a task of its own:
    /// a fetch that times out while a credential plugin runs must not throw
    /// the plugin's work away (and run it again on the next try, forever
    /// when the plugin is slower than the timeout); the next fetch finds it
    /// made, or waits for the one being made.
    async fn client(self: &Arc<Cluster>) -> Result<kube::Client, FetchError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let cluster = self.clone();
        tokio::spawn(async move { cluster.client.get_or_try_init(|| cluster.connect()).await.cloned() })
            .await
            .map_err(|e| FetchError::Other(format!("setting up the Kubernetes client failed: {e}")))?
    }

    async fn connect(&self) -> Result<kube::Client, FetchError> {
        let mut config = match &self.target {
            Target::Kubeconfig { kubeconfig, context } => {
                let options = KubeConfigOptions { context: Some(context.clone()), ..KubeConfigOptions::default() };
                kube::Config::from_custom_kubeconfig((**kubeconfig).clone(), &options).await.map_err(|e| {
                    FetchError::Other(format!("kubeconfig context `{context}`: {}", kubeconfig_error(&e)))
                })?
            }
            Target::InCluster(config) => (**config).clone(),
        };
        // The poller retries, with backoff and Retry-After; two layers of
        // retries would hide rate limits and multiply the load.
        config.default_retry = false;
        // TLS is always verified, whatever `insecure-skip-tls-verify` says.
        config.accept_invalid_certs = false;
        if let Some(value) = &self.authorization {
            config.auth_info = kube::config::AuthInfo::default();
            config.headers.push((AUTHORIZATION, value.clone()));
        }
        let cannot = |e: &dyn std::fmt::Display| {
            FetchError::Other(format!(
                "cannot set up the Kubernetes client: {}",
                sanitize::clean_to(&e.to_string(), 160)
            ))
        };
        // A credential plugin (`exec`: `aws eks get-token`, `gke-gcloud-auth-plugin`)
        // runs here, and may take seconds: off the poller's thread, where
        // every other source's cells are read.
        tokio::task::spawn_blocking(move || kube::Client::try_from(config).map_err(|e| cannot(&error_chain(&e))))
            .await
            .map_err(|e| cannot(&e))?
    }
}

impl Source for KubernetesSource {
    fn default_evidence(&self) -> Evidence {
        Evidence::Running
    }

    fn token(&self) -> Option<&auth::Token> {
        self.token.as_ref()
    }

    fn fetch(&self, _ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        let namespace = self.namespace.render_name(&cell.service, &cell.env).map_err(|m| (m, "namespace"));
        let name = self.deployment.render_name(&cell.service, &cell.env).map_err(|m| (m, "deployment"));
        let cluster = self.cluster.clone();
        let container = self.container.clone();
        let token = self.token.clone();
        async move {
            let bad = |(message, key): (String, &str)| FetchError::Other(format!("{message} (set `{key}`)"));
            let namespace = namespace.map_err(bad)?;
            let name = name.map_err(bad)?;
            let client = cluster.client().await?;
            let resp = get(&client, &format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")).await?;
            if !resp.status.is_success() {
                return Err(classify_error(&resp, &namespace, &name, jiff::Timestamp::now()));
            }
            let deployment = parse_json(&resp.body)?;
            let mut reading = decode(&deployment, container.as_deref())?;
            if let Some(selector) = replicaset_selector(&deployment) {
                let history =
                    History { namespace: &namespace, name: &name, selector: &selector, token: token.as_ref() };
                read_previous(&client, &history, &deployment, container.as_deref(), &mut reading).await;
            }
            Ok(reading)
        }
        .map(|read| read.map(Fetched::Reading))
        .boxed()
    }
}

/// A raw GET through the kube client, its body read under [`fetch::MAX_BODY`].
async fn get(client: &kube::Client, path: &str) -> Result<fetch::Response, FetchError> {
    let request = http::Request::get(path)
        .header(ACCEPT, "application/json")
        .body(kube::client::Body::empty())
        .map_err(|e| FetchError::Other(sanitize::clean_to(&e.to_string(), 120)))?;
    let resp = client.send(request).await.map_err(|e| transport_error(&e))?;
    read_capped(resp, fetch::MAX_BODY).await
}

/// Where a Deployment's ReplicaSets are listed.
struct History<'a> {
    namespace: &'a str,
    name: &'a str,
    /// `k=v,k2=v2`, not yet URL-encoded.
    selector: &'a str,
    /// The `token_env` token, kept out of the log.
    token: Option<&'a auth::Token>,
}

/// Fill `reading.previous` from the Deployment's ReplicaSets. Only the
/// rollback target depends on it: a failure leaves the reading as it is.
async fn read_previous(
    client: &kube::Client,
    history: &History<'_>,
    deployment: &Value,
    container: Option<&str>,
    reading: &mut Reading,
) {
    let History { namespace, name, selector, token } = *history;
    let selector: String = url::form_urlencoded::byte_serialize(selector.as_bytes()).collect();
    let result = get(client, &format!("/apis/apps/v1/namespaces/{namespace}/replicasets?labelSelector={selector}"))
        .await
        .and_then(|resp| {
            if resp.status.is_success() {
                decode_previous(&resp.body, deployment, container)
            } else {
                Err(classify_error(&resp, namespace, name, jiff::Timestamp::now()))
            }
        });
    match result {
        Ok(previous) => reading.previous = previous.map(Box::new),
        Err(e) => {
            let e = match token {
                Some(token) => token.scrub(e),
                None => e,
            };
            tracing::debug!(namespace, deployment = name, error = %e, "replicasets not listed: no previous");
            if matches!(e, FetchError::Auth { code: 403, .. }) {
                reading.attributes.push(("previous".into(), "cannot list replicasets: forbidden".into()));
            }
        }
    }
}

/// Bytes kept from an error response's body.
const ERROR_SNIPPET: usize = 4096;

/// Read a kube response the way [`fetch::get_capped`] reads a reqwest one.
async fn read_capped(resp: http::Response<kube::client::Body>, limit: usize) -> Result<fetch::Response, FetchError> {
    let (parts, body) = resp.into_parts();
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|s| s.to_ascii_lowercase());
    let is_error = !parts.status.is_success();
    let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if !is_error && declared.is_some_and(|len| len > limit as u64) {
        return Err(FetchError::TooLarge { limit });
    }
    // axum's body adapter turns any http-body into a stream of chunks.
    let mut stream = axum::body::Body::new(body).into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            FetchError::Other(format!("reading the body failed: {}", sanitize::clean_to(&e.to_string(), 120)))
        })?;
        if is_error {
            bytes.extend_from_slice(&chunk[..chunk.len().min(ERROR_SNIPPET.saturating_sub(bytes.len()))]);
            if bytes.len() >= ERROR_SNIPPET {
                break;
            }
            continue;
        }
        if bytes.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(fetch::Response { status: parts.status, content_type, headers: parts.headers, body: bytes })
}

/// A kubeconfig problem, told without quoting the file: a YAML error may
/// show the lines around it, and those can hold a token.
fn kubeconfig_error(err: &kube::config::KubeconfigError) -> String {
    match err {
        kube::config::KubeconfigError::Parse(_) => {
            "not a valid kubeconfig (YAML error; details withheld because the file holds credentials: \
             try `kubectl config view`)"
                .into()
        }
        other => sanitize::clean_to(&error_chain(other), 200),
    }
}

/// The whole cause of an error, outermost first.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Describe a failure to get any response, by its class, with its root cause.
fn transport_error(err: &kube::Error) -> FetchError {
    let text = sanitize::clean_to(&error_chain(err), 200);
    if let kube::Error::Auth(_) = err {
        return FetchError::Other(format!("kubeconfig credentials failed: {text}"));
    }
    let mut root: &dyn std::error::Error = err;
    while let Some(next) = root.source() {
        root = next;
    }
    let root = sanitize::clean_to(&root.to_string(), 120);
    let lower = text.to_ascii_lowercase();
    if lower.contains("timed out") || lower.contains("deadline") {
        FetchError::Timeout(Duration::ZERO)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        FetchError::Tls(root)
    } else if lower.contains("connect") || lower.contains("dns") {
        FetchError::Connect(root)
    } else {
        FetchError::Other(text)
    }
}

/// Turn an error response into a cell error. Pure. The API server answers
/// with a `Status` object: `{"kind": "Status", "reason", "code", "message"}`.
pub fn classify_error(resp: &fetch::Response, namespace: &str, name: &str, now: jiff::Timestamp) -> FetchError {
    let code = resp.status.as_u16();
    let status = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .filter(|v| v.get("kind").and_then(Value::as_str) == Some("Status"));
    let field =
        |k: &str| status.as_ref().and_then(|s| s.get(k)).and_then(Value::as_str).map(|s| sanitize::clean_to(s, 200));
    let (reason, message) = (field("reason").unwrap_or_default(), field("message").unwrap_or_default());
    match code {
        429 => FetchError::RateLimited { code, retry_after: fetch::retry_after(resp, now), detail: message },
        401 | 403 => FetchError::Auth { code, detail: message },
        404 if status.is_some() => FetchError::Other(format!("deployment {name} not found in namespace {namespace}")),
        _ if status.is_some() => FetchError::Status {
            code,
            detail: match (reason.is_empty(), message.is_empty()) {
                (false, false) => format!("{reason}: {message}"),
                (true, false) => message,
                _ => reason,
            },
        },
        _ => fetch::status_error(resp),
    }
}

/// Decode a Deployment's JSON bytes. Pure.
pub fn decode_body(body: &[u8], container: Option<&str>) -> Result<Reading, FetchError> {
    decode(&parse_json(body)?, container)
}

fn parse_json(body: &[u8]) -> Result<Value, FetchError> {
    serde_json::from_slice(body).map_err(|e| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100)))
}

const REVISION: &str = "deployment.kubernetes.io/revision";

/// An object's `deployment.kubernetes.io/revision` annotation as a number.
fn revision_of(object: &Value) -> Option<u64> {
    object.pointer("/metadata/annotations")?.get(REVISION)?.as_str()?.trim().parse().ok()
}

/// The image of a pod template's chosen container: the one named
/// `container`, else the first, as [`decode`] chooses.
fn template_image<'a>(object: &'a Value, container: Option<&str>) -> Option<&'a str> {
    let containers = object.pointer("/spec/template/spec/containers")?.as_array()?;
    let chosen = match container {
        Some(wanted) => containers.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(wanted))?,
        None => containers.first()?,
    };
    chosen.get("image")?.as_str().map(str::trim).filter(|i| !i.is_empty())
}

/// The label selector (`k=v,k2=v2`, not yet URL-encoded) that lists a
/// Deployment's ReplicaSets: its `spec.selector.matchLabels`. `None` when
/// there is nothing to compare with (no revision annotation) or no labels
/// to select by (a selector of `matchExpressions` only): no request then.
pub(crate) fn replicaset_selector(deployment: &Value) -> Option<String> {
    revision_of(deployment)?;
    let labels = deployment.pointer("/spec/selector/matchLabels")?.as_object()?;
    let pairs: Option<Vec<String>> = labels.iter().map(|(k, v)| Some(format!("{k}={}", v.as_str()?))).collect();
    pairs.filter(|p| !p.is_empty()).map(|p| p.join(","))
}

/// What ran before: from a ReplicaSet list (`GET …/replicasets`), those
/// owned by `deployment` (`ownerReferences`: kind Deployment, its uid, or
/// its name when the uid is unknown), the highest revision below the
/// Deployment's own whose chosen container runs another image. Pure.
pub(crate) fn decode_previous(
    body: &[u8],
    deployment: &Value,
    container: Option<&str>,
) -> Result<Option<Artifact>, FetchError> {
    let list = parse_json(body)?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| FetchError::Malformed("expected a ReplicaSetList with `items`".into()))?;
    let (Some(current_revision), Some(current_image)) =
        (revision_of(deployment), template_image(deployment, container))
    else {
        return Ok(None);
    };
    let uid = deployment.pointer("/metadata/uid").and_then(Value::as_str);
    let name = deployment.pointer("/metadata/name").and_then(Value::as_str);
    let owned = |rs: &&Value| {
        rs.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten().any(|owner| {
            let field = |k: &str| owner.get(k).and_then(Value::as_str);
            field("kind") == Some("Deployment")
                && match uid {
                    Some(uid) => field("uid") == Some(uid),
                    None => name.is_some() && field("name") == name,
                }
        })
    };
    let older = items
        .iter()
        .filter(owned)
        .filter_map(|rs| Some((revision_of(rs)?, rs)))
        .filter(|(revision, rs)| *revision < current_revision && template_image(rs, container) != Some(current_image))
        .max_by_key(|(revision, _)| *revision);
    let Some((revision, rs)) = older else {
        return Ok(None);
    };
    // It ran last, but without the container its image cannot be named.
    let Some(image) = template_image(rs, container).map(ImageRef::parse) else {
        return Ok(None);
    };
    Ok(Some(Artifact {
        version: image.version().unwrap_or_else(|_| image.reference.clone()),
        digest: image.digest,
        reference: Some(format!("revision {revision}")),
        ..Artifact::default()
    }))
}

/// How a rollout stands, as `kubectl rollout status` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    Complete,
    Progressing,
    /// The Progressing condition says `ProgressDeadlineExceeded`.
    Failed,
}

impl Rollout {
    pub fn as_str(self) -> &'static str {
        match self {
            Rollout::Complete => "complete",
            Rollout::Progressing => "progressing",
            Rollout::Failed => "failed",
        }
    }
}

fn int_at(value: &Value, pointer: &str) -> Option<i64> {
    value.pointer(pointer).and_then(Value::as_i64)
}

/// kubectl's rule: the controller has seen the latest spec; the Progressing
/// condition has not timed out; every replica is updated, no old replica is
/// left, and every updated replica is available.
pub fn rollout(deployment: &Value) -> Rollout {
    let generation = int_at(deployment, "/metadata/generation").unwrap_or(0);
    let observed = int_at(deployment, "/status/observedGeneration").unwrap_or(0);
    if generation > observed {
        return Rollout::Progressing;
    }
    let timed_out = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Progressing"))
        .and_then(|c| c.get("reason"))
        .and_then(Value::as_str)
        == Some("ProgressDeadlineExceeded");
    if timed_out {
        return Rollout::Failed;
    }
    let count = |field: &str| int_at(deployment, &format!("/status/{field}")).unwrap_or(0);
    let (replicas, updated, available) = (count("replicas"), count("updatedReplicas"), count("availableReplicas"));
    if int_at(deployment, "/spec/replicas").is_some_and(|want| updated < want)
        || replicas > updated
        || available < updated
    {
        return Rollout::Progressing;
    }
    Rollout::Complete
}

/// Decode a Deployment into a reading. Pure: JSON in, reading out.
pub fn decode(deployment: &Value, container: Option<&str>) -> Result<Reading, FetchError> {
    if !deployment.is_object() {
        return Err(FetchError::Malformed("expected a Deployment object".into()));
    }
    let containers = deployment.pointer("/spec/template/spec/containers").and_then(Value::as_array);
    let (Some(containers), Some(first)) = (containers, containers.and_then(|c| c.first())) else {
        return Err(FetchError::Field("no containers in spec.template.spec.containers".into()));
    };
    let name_of = |c: &Value| c.get("name").and_then(Value::as_str).map(sanitize::clean).unwrap_or_default();
    let chosen = match container {
        Some(wanted) => {
            containers.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(wanted)).ok_or_else(|| {
                let names: Vec<String> = containers.iter().map(name_of).collect();
                FetchError::Field(format!(
                    "no container `{}` in this deployment (containers: {})",
                    sanitize::clean_to(wanted, 80),
                    sanitize::clean_to(&names.join(", "), 160)
                ))
            })?
        }
        None => first,
    };
    let raw_image = chosen
        .get("image")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| FetchError::Field(format!("container `{}` has no image", name_of(chosen))))?;
    let image = ImageRef::parse(raw_image);
    let version = image.version().map_err(FetchError::Field)?;

    let rollout = rollout(deployment);
    // The API server defaults spec.replicas to 1; status counts are left out when zero.
    let desired = int_at(deployment, "/spec/replicas").unwrap_or(1);
    let ready = int_at(deployment, "/status/readyReplicas").unwrap_or(0);
    let health = match rollout {
        Rollout::Failed => Health::Down,
        _ if desired > 0 && ready == 0 => Health::Down,
        Rollout::Progressing => Health::Degraded,
        // Scaled to zero: nothing serves, but nothing failed either.
        Rollout::Complete if desired == 0 => Health::Degraded,
        Rollout::Complete if ready >= desired => Health::Up,
        Rollout::Complete => Health::Degraded,
    };

    let mut attributes = vec![
        ("rollout".to_string(), rollout.as_str().to_string()),
        ("replicas".to_string(), format!("{ready}/{desired}")),
    ];
    if let Some(revision) = deployment
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("deployment.kubernetes.io/revision"))
        .and_then(Value::as_str)
        .map(sanitize::clean)
        .filter(|r| !r.is_empty())
    {
        attributes.push(("revision".into(), revision));
    }
    attributes.push(("container".into(), name_of(chosen)));

    Ok(Reading {
        version: Some(version),
        build: None,
        commit: None,
        digest: image.digest,
        deployed_at: None,
        health: Some(health),
        metrics: Vec::new(),
        attributes,
        previous: None,
    })
}

/// A container image reference, `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The whole reference, clean.
    pub reference: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:…` when the reference pins one.
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(raw: &str) -> ImageRef {
        let raw = raw.trim();
        let (name, digest) = match raw.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (raw, None),
        };
        // A ':' before the last '/' is a registry port, not a tag.
        let last = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last..].rfind(':') {
            Some(i) => (&name[..last + i], Some(&name[last + i + 1..])),
            None => (name, None),
        };
        let clean = |s: &str| Some(sanitize::clean(s)).filter(|s| !s.is_empty());
        ImageRef {
            reference: sanitize::clean(raw),
            repository: sanitize::clean(repository),
            tag: tag.and_then(clean),
            digest: digest.and_then(clean).filter(|d| d.contains(':')),
        }
    }

    /// Whether this is the repository `wanted`, written whole or as its
    /// trailing path (`payments` for `registry.example/shop/payments`).
    pub fn is_named(&self, wanted: &str) -> bool {
        self.repository == wanted || self.repository.strip_suffix(wanted).is_some_and(|head| head.ends_with('/'))
    }

    /// The tag; with no tag, the short digest. An image with neither runs
    /// whatever `latest` was when its node pulled it: no version to report.
    pub fn version(&self) -> Result<String, String> {
        if let Some(tag) = &self.tag {
            return Ok(tag.clone());
        }
        match self.digest.as_deref().and_then(|d| d.split_once(':')) {
            Some((algorithm, hex)) => Ok(format!("{algorithm}:{}", hex.chars().take(12).collect::<String>())),
            None => Err(format!(
                "image has no tag: {} (it runs whatever `latest` was when pulled; pin a tag or a digest)",
                self.reference
            )),
        }
    }
}

/// An object name with `{service}` and `{env}` placeholders: a namespace, a
/// Deployment, an Argo CD Application. Literal parts are checked when the
/// config loads; the rendered name when it is used.
#[derive(Debug, Clone)]
pub(crate) struct NameTemplate(String);

impl NameTemplate {
    pub fn parse(raw: &str) -> Result<NameTemplate, String> {
        if raw.trim().is_empty() {
            return Err("must not be empty".into());
        }
        let mut rest = raw;
        let mut literal = String::new();
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| format!("invalid name template `{raw}`: unclosed '{{'"))?;
            let placeholder = &after[..close];
            if placeholder != "service" && placeholder != "env" {
                return Err(format!(
                    "invalid name template `{raw}`: unknown placeholder {{{placeholder}}} (use {{service}} and {{env}})"
                ));
            }
            rest = &after[close + 1..];
        }
        literal.push_str(rest);
        if let Some(bad) =
            literal.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
        {
            return Err(format!(
                "invalid name template `{raw}`: `{bad}` is not allowed in a Kubernetes name \
                 (lowercase letters, digits, '-' and '.')"
            ));
        }
        Ok(NameTemplate(raw.to_string()))
    }

    pub fn render(&self, service: &str, env: &str) -> String {
        self.0.replace("{service}", service).replace("{env}", env)
    }

    /// Render, and check the result is a valid Kubernetes object name
    /// (an RFC 1123 subdomain), so it can go into a URL path as it is.
    pub(crate) fn render_name(&self, service: &str, env: &str) -> Result<String, String> {
        let name = self.render(service, env);
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if name.len() <= 253 && name.chars().all(allowed) && edge(name.chars().next()) && edge(name.chars().last()) {
            Ok(name)
        } else {
            Err(format!(
                "`{}` is not a valid Kubernetes name (lowercase letters, digits, '-' and '.')",
                sanitize::clean_to(&name, 80)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "payments", "namespace": "prod", "generation": 7,
                "annotations": {"deployment.kubernetes.io/revision": "12"}
            },
            "spec": {
                "replicas": 3,
                "template": {"spec": {"containers": [
                    {"name": "app", "image": "registry.example/shop/payments:1.4.0@sha256:0123456789abcdef0123"},
                    {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1"}
                ]}}
            },
            "status": {
                "observedGeneration": 7, "replicas": 3, "updatedReplicas": 3,
                "readyReplicas": 3, "availableReplicas": 3,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
                ]
            }
        })
    }

    fn set(value: &mut Value, pointer: &str, to: Value) {
        *value.pointer_mut(pointer).unwrap() = to;
    }

    #[test]
    fn complete_rollout_reads_tag_digest_and_attributes() {
        let r = decode(&deployment(), None).unwrap();
        assert_eq!(r.version.as_deref(), Some("1.4.0"));
        assert_eq!(r.digest.as_deref(), Some("sha256:0123456789abcdef0123"));
        assert_eq!(r.health, Some(Health::Up));
        assert_eq!(r.attribute("rollout"), Some("complete"));
        assert_eq!(r.attribute("replicas"), Some("3/3"));
        assert_eq!(r.attribute("revision"), Some("12"));
        assert_eq!(r.attribute("container"), Some("app"));
    }

    #[test]
    fn named_container() {
        let r = decode(&deployment(), Some("envoy")).unwrap();
        assert_eq!((r.version.as_deref(), r.digest.as_deref()), (Some("v1.30.1"), None));
        let err = decode(&deployment(), Some("sidecar")).unwrap_err();
        assert_eq!(err.to_string(), "no container `sidecar` in this deployment (containers: app, envoy)");
    }

    #[test]
    fn rollout_follows_kubectl() {
        let mut d = deployment();
        assert_eq!(rollout(&d), Rollout::Complete);
        set(&mut d, "/metadata/generation", 8.into());
        assert_eq!(rollout(&d), Rollout::Progressing, "spec change not yet observed");
        set(&mut d, "/status/observedGeneration", 8.into());
        set(&mut d, "/status/updatedReplicas", 1.into());
        assert_eq!(rollout(&d), Rollout::Progressing, "1 of 3 updated");
        set(&mut d, "/status/updatedReplicas", 3.into());
        set(&mut d, "/status/replicas", 4.into());
        assert_eq!(rollout(&d), Rollout::Progressing, "an old replica still terminating");
        set(&mut d, "/status/replicas", 3.into());
        set(&mut d, "/status/availableReplicas", 2.into());
        assert_eq!(rollout(&d), Rollout::Progressing, "an updated replica not yet available");
        set(&mut d, "/status/conditions/1/reason", "ProgressDeadlineExceeded".into());
        assert_eq!(rollout(&d), Rollout::Failed);
        let r = decode(&d, None).unwrap();
        assert_eq!((r.attribute("rollout"), r.health), (Some("failed"), Some(Health::Down)));
    }

    #[test]
    fn health_from_rollout_and_readiness() {
        let mut d = deployment();
        set(&mut d, "/status/updatedReplicas", 1.into());
        set(&mut d, "/status/readyReplicas", 2.into());
        assert_eq!(decode(&d, None).unwrap().health, Some(Health::Degraded), "progressing");
        set(&mut d, "/status/readyReplicas", 0.into());
        assert_eq!(decode(&d, None).unwrap().health, Some(Health::Down), "0 ready of 3");
        let mut d = deployment();
        d["status"].as_object_mut().unwrap().remove("readyReplicas");
        assert_eq!(decode(&d, None).unwrap().attribute("replicas"), Some("0/3"), "absent counts are zero");
        let mut d = deployment();
        set(&mut d, "/status/readyReplicas", 2.into());
        assert_eq!(decode(&d, None).unwrap().health, Some(Health::Degraded), "complete but a pod went unready");
        let mut d = deployment();
        set(&mut d, "/spec/replicas", 0.into());
        for field in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"] {
            set(&mut d, &format!("/status/{field}"), 0.into());
        }
        let r = decode(&d, None).unwrap();
        assert_eq!((r.attribute("rollout"), r.health), (Some("complete"), Some(Health::Degraded)), "scaled to zero");
    }

    /// A ReplicaSet of `deployment()` (uid `d-uid`) at `revision` running `image` in container `app`.
    fn replicaset(name: &str, revision: &str, image: &str) -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": name, "namespace": "prod",
                "labels": {"app": "payments", "pod-template-hash": name},
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "payments",
                                     "uid": "d-uid", "controller": true}]
            },
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": image},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.30.1"}
            ]}}}
        })
    }

    fn owned_deployment() -> Value {
        let mut d = deployment();
        d["metadata"]["uid"] = "d-uid".into();
        d["spec"]["selector"] = serde_json::json!({"matchLabels": {"app": "payments", "tier": "web"}});
        d
    }

    fn list(items: Vec<Value>) -> Vec<u8> {
        serde_json::json!({"kind": "ReplicaSetList", "apiVersion": "apps/v1", "metadata": {}, "items": items})
            .to_string()
            .into_bytes()
    }

    const CURRENT: &str = "registry.example/shop/payments:1.4.0@sha256:0123456789abcdef0123";

    #[test]
    fn previous_is_the_highest_older_revision_with_another_image() {
        let body = list(vec![
            replicaset("p-12", "12", CURRENT),
            replicaset("p-9", "9", "registry.example/shop/payments:1.2.0"),
            // Same image, other settings (an env change): not a rollback of the version.
            replicaset("p-11", "11", CURRENT),
            replicaset("p-10", "10", "registry.example/shop/payments:1.3.2@sha256:feedbeef00"),
            replicaset("p-13", "13", "registry.example/shop/payments:1.5.0"),
        ]);
        let previous = decode_previous(&body, &owned_deployment(), None).unwrap().expect("a previous");
        assert_eq!(
            previous,
            Artifact {
                version: "1.3.2".into(),
                digest: Some("sha256:feedbeef00".into()),
                reference: Some("revision 10".into()),
                ..Artifact::default()
            }
        );
        let p = decode_previous(&list(vec![replicaset("p-9", "9", "payments:1.2.0")]), &owned_deployment(), None);
        assert_eq!(p.unwrap().map(|a| (a.version, a.digest)), Some(("1.2.0".into(), None)));
    }

    #[test]
    fn previous_only_from_replicasets_the_deployment_owns() {
        let mut foreign = replicaset("other-10", "10", "registry.example/shop/other:9.9.9");
        foreign["metadata"]["ownerReferences"][0]["uid"] = "someone-else".into();
        let mut by_hand = replicaset("hand-11", "11", "registry.example/shop/payments:0.0.1");
        by_hand["metadata"].as_object_mut().unwrap().remove("ownerReferences");
        let body = list(vec![foreign.clone(), by_hand, replicaset("p-8", "8", "payments:1.1.0")]);
        let previous = decode_previous(&body, &owned_deployment(), None).unwrap().expect("a previous");
        assert_eq!((previous.version.as_str(), previous.reference.as_deref()), ("1.1.0", Some("revision 8")));
        // Without a uid on the Deployment, the owner's name decides.
        let mut no_uid = owned_deployment();
        no_uid["metadata"].as_object_mut().unwrap().remove("uid");
        foreign["metadata"]["ownerReferences"][0]["name"] = "other".into();
        let body = list(vec![foreign, replicaset("p-8", "8", "payments:1.1.0")]);
        assert_eq!(decode_previous(&body, &no_uid, None).unwrap().map(|a| a.version), Some("1.1.0".into()));
    }

    #[test]
    fn previous_follows_the_chosen_container() {
        let mut rs = replicaset("p-10", "10", CURRENT);
        rs["spec"]["template"]["spec"]["containers"][1]["image"] = "envoyproxy/envoy:v1.29.0".into();
        let body = list(vec![rs]);
        assert_eq!(decode_previous(&body, &owned_deployment(), None).unwrap(), None, "app's image is the same");
        let envoy = decode_previous(&body, &owned_deployment(), Some("envoy")).unwrap().expect("envoy changed");
        assert_eq!(envoy.version, "v1.29.0");
    }

    #[test]
    fn no_previous_without_history() {
        let d = owned_deployment();
        assert_eq!(decode_previous(&list(vec![]), &d, None).unwrap(), None);
        assert_eq!(decode_previous(&list(vec![replicaset("p-12", "12", CURRENT)]), &d, None).unwrap(), None);
        let mut no_revision = d.clone();
        no_revision["metadata"].as_object_mut().unwrap().remove("annotations");
        let body = list(vec![replicaset("p-9", "9", "payments:1.2.0")]);
        assert_eq!(decode_previous(&body, &no_revision, None).unwrap(), None);
        assert!(matches!(decode_previous(b"{\"items\": 3}", &d, None), Err(FetchError::Malformed(_))));
        assert!(matches!(decode_previous(b"<html>", &d, None), Err(FetchError::Malformed(_))));
    }

    #[test]
    fn replicasets_are_selected_by_the_deployments_match_labels() {
        assert_eq!(replicaset_selector(&owned_deployment()).as_deref(), Some("app=payments,tier=web"));
        let mut d = owned_deployment();
        d["spec"]["selector"] = serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]});
        assert_eq!(replicaset_selector(&d), None, "nothing to select by");
        let mut d = owned_deployment();
        d["metadata"].as_object_mut().unwrap().remove("annotations");
        assert_eq!(replicaset_selector(&d), None, "no revision to compare with");
    }

    #[test]
    fn image_references() {
        let i = ImageRef::parse("registry.example:5000/shop/payments");
        assert_eq!((i.repository.as_str(), i.tag.as_deref()), ("registry.example:5000/shop/payments", None));
        assert_eq!(
            i.version().unwrap_err(),
            "image has no tag: registry.example:5000/shop/payments (it runs whatever `latest` was when pulled; pin a tag or a digest)"
        );
        let i = ImageRef::parse("payments@sha256:0123456789abcdef0123");
        assert_eq!(i.version().unwrap(), "sha256:0123456789ab", "digest only: the short digest is the version");
        let i = ImageRef::parse("registry.example:5000/shop/payments:2.0.0-rc.1");
        assert_eq!(
            (i.repository.as_str(), i.tag.as_deref()),
            ("registry.example:5000/shop/payments", Some("2.0.0-rc.1"))
        );
        assert!(i.is_named("payments") && i.is_named("shop/payments") && !i.is_named("ments"));
        assert_eq!(ImageRef::parse("nginx:latest").version().unwrap(), "latest", "an explicit tag is a tag");
    }

    #[test]
    fn image_without_tag_is_an_error_unless_pinned() {
        let mut d = deployment();
        set(&mut d, "/spec/template/spec/containers/0/image", "registry.example/shop/payments".into());
        let err = decode(&d, None).unwrap_err();
        assert!(err.to_string().starts_with("image has no tag: registry.example/shop/payments"), "{err}");
    }

    #[test]
    fn malformed_and_odd_shapes() {
        assert!(matches!(decode_body(b"{\"spec\":", None), Err(FetchError::Malformed(_))));
        assert!(matches!(decode(&Value::Array(vec![]), None), Err(FetchError::Malformed(_))));
        let err = decode(&serde_json::json!({"spec": {}}), None).unwrap_err();
        assert_eq!(err.to_string(), "no containers in spec.template.spec.containers");
    }

    #[test]
    fn control_sequences_never_survive() {
        let mut d = deployment();
        set(&mut d, "/spec/template/spec/containers/0/image", "payments:1.4.0\u{1b}[2J\u{202e}".into());
        set(&mut d, "/metadata/annotations/deployment.kubernetes.io~1revision", "1\u{7}2".into());
        let r = decode(&d, None).unwrap();
        assert_eq!((r.version.as_deref(), r.attribute("revision")), (Some("1.4.0"), Some("12")));
    }

    fn response(code: u16, body: &str, headers: &[(&'static str, &str)]) -> fetch::Response {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        fetch::Response {
            status: http::StatusCode::from_u16(code).unwrap(),
            content_type: Some("application/json".into()),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    fn status(code: u16, reason: &str, message: &str) -> String {
        serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "code": code})
        .to_string()
    }

    #[test]
    fn status_objects_become_readable_errors() {
        let now = jiff::Timestamp::now();
        let nf = status(404, "NotFound", r#"deployments.apps "payments" not found"#);
        let err = classify_error(&response(404, &nf, &[]), "prod", "payments", now);
        assert_eq!(err.to_string(), "deployment payments not found in namespace prod");

        let forbidden =
            status(403, "Forbidden", r#"deployments.apps "payments" is forbidden: User "ci" cannot get resource"#);
        let err = classify_error(&response(403, &forbidden, &[]), "prod", "payments", now);
        assert!(matches!(err, FetchError::Auth { code: 403, .. }), "{err:?}");
        assert!(err.to_string().contains(r#"User "ci" cannot get"#), "{err}");

        let err = classify_error(&response(401, &status(401, "Unauthorized", "Unauthorized"), &[]), "p", "n", now);
        assert!(matches!(err, FetchError::Auth { code: 401, .. }), "{err:?}");

        let busy = status(429, "TooManyRequests", "too many requests, please try again later");
        let err = classify_error(&response(429, &busy, &[("retry-after", "7")]), "p", "n", now);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

        let err = classify_error(&response(500, &status(500, "InternalError", "etcd is sad"), &[]), "p", "n", now);
        assert_eq!(err.to_string(), "HTTP 500 InternalError: etcd is sad");
        let err = classify_error(&response(502, "<html>bad gateway</html>", &[]), "p", "n", now);
        assert!(matches!(err, FetchError::Status { code: 502, .. }), "{err:?}");
    }

    #[test]
    fn name_templates() {
        let t = NameTemplate::parse("{service}-{env}").unwrap();
        assert_eq!(t.render_name("payments", "prod").unwrap(), "payments-prod");
        assert!(t.render_name("Payments_API", "prod").unwrap_err().contains("not a valid Kubernetes name"));
        assert!(NameTemplate::parse("{svc}").unwrap_err().contains("unknown placeholder {svc}"));
        assert!(NameTemplate::parse("{service").unwrap_err().contains("unclosed"));
        assert!(NameTemplate::parse("Shop-{service}").unwrap_err().contains("`S` is not allowed"));
        assert!(NameTemplate::parse(" ").is_err());
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_body(&body, None);
            let _ = decode_body(&body, Some("app"));
            let _ = decode_previous(&body, &serde_json::json!({}), None);
        }

        #[test]
        fn image_parse_never_panics(raw in ".{0,80}") {
            let _ = ImageRef::parse(&raw).version();
        }
    }
}
