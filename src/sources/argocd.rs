//! The `argocd` source: what an Argo CD Application says it runs, one app
//! per cell (`controller` evidence).
//!
//! ```toml
//! [[sources]]
//! name = "argocd"
//! kind = "argocd"
//! api_url = "https://argocd.example"
//! app = "{service}-{env}"            # default
//! project = "shop"                   # optional: a missing app then answers 404
//! token_env = "ARGOCD_TOKEN"
//! version_from = "image"             # default; or "revision"
//! # image = "payments"               # which image, when the app runs several
//! ```
//!
//! One `GET /api/v1/applications/{name}` per cell and never with `refresh=`
//! (that makes Argo CD reconcile the app on every poll). Argo CD has no
//! pagination and no ETag for this call.
//!
//! Argo CD answers "permission denied" (HTTP 403, gRPC code 7) for an app
//! that does not exist unless a `project` is given, so that nobody can probe
//! for app names. Without `project` that answer becomes a cell error naming
//! both possibilities; with it, a missing app is a plain 404. Errors are told
//! apart by the body's gRPC `code`, not the HTTP status, which is not always
//! 403 (a 503 with code 7 is seen in the wild).
//!
//! `previous` (the rollback target) is the newest older history entry with
//! another revision, only with `version_from = "revision"`: history names git
//! revisions, never an image tag, so in `image` mode it gives none and the
//! known-good comes from the journal.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::Value;

use super::auth;
use super::fetch::{self, FetchError, HttpContext};
use super::http::{UrlTemplate, parse_options};
use super::kubernetes::{ImageRef, NameTemplate};
use super::{CellTarget, Fetched, OptionError, Source};
use crate::model::SourceSpec;
use crate::model::rollback::Artifact;
use crate::model::{Evidence, Health, Reading};
use crate::sanitize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    api_url: String,
    app: Option<String>,
    project: Option<String>,
    token_env: Option<String>,
    version_from: Option<VersionFrom>,
    image: Option<String>,
}

/// Where the version of a cell comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionFrom {
    /// The tag of the running image (`status.summary.images`).
    #[default]
    Image,
    /// The revision Argo CD synced to (`status.sync.revision`): a Git SHA, or
    /// a chart version for a Helm repository source.
    Revision,
}

/// What [`decode`] needs besides the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    pub version_from: VersionFrom,
    /// Picks one image when the app runs several: a repository name
    /// (`payments`, `registry.example/shop/payments`) or a substring.
    pub image: Option<String>,
}

pub(crate) struct ArgoCdSource {
    api_url: UrlTemplate,
    app: NameTemplate,
    project: Option<String>,
    /// `Bearer <token>`, marked sensitive so no debug output shows it.
    authorization: Option<HeaderValue>,
    /// The token itself, only to take it out of error texts.
    token: Option<auth::Token>,
    decode: DecodeOptions,
}

impl ArgoCdSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let mut errors = Vec::new();
        let api_url = UrlTemplate::parse(&options.api_url)
            .and_then(|url| {
                if options.api_url.contains('?') || options.api_url.contains('#') {
                    Err("the Argo CD server URL takes no query or fragment (e.g. \"https://argocd.example\")".into())
                } else {
                    Ok(url)
                }
            })
            .map_err(|m| errors.push(OptionError::new("api_url", m)))
            .ok();
        let app = NameTemplate::parse(options.app.as_deref().unwrap_or("{service}-{env}"))
            .map_err(|m| errors.push(OptionError::new("app", m)))
            .ok();
        for (key, value) in [("project", &options.project), ("image", &options.image)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                errors.push(OptionError::new(key, "must not be empty (leave the key out instead)"));
            }
        }
        let (kept, authorization) = match auth::bearer_from_env(options.token_env.as_deref()) {
            Ok(pair) => pair,
            Err(e) => {
                errors.push(e);
                (None, None)
            }
        };
        match (api_url, app) {
            (Some(api_url), Some(app)) if errors.is_empty() => Ok(Arc::new(ArgoCdSource {
                token: kept,
                api_url,
                app,
                project: options.project.map(|p| p.trim().to_string()),
                authorization,
                decode: DecodeOptions {
                    version_from: options.version_from.unwrap_or_default(),
                    image: options.image.map(|i| i.trim().to_string()),
                },
            })),
            _ => Err(errors),
        }
    }

    /// `{api_url}/api/v1/applications/{name}[?project=P]`, never `refresh`.
    fn request(&self, ctx: &HttpContext, app: &str, cell: &CellTarget) -> Result<reqwest::RequestBuilder, FetchError> {
        let bad = |why: String| {
            let raw = self.api_url.render(&cell.service, &cell.env);
            FetchError::Other(format!("invalid api_url `{}`: {why}", sanitize::clean_to(&raw, 80)))
        };
        let mut url = self.api_url.url(&cell.service, &cell.env).map_err(|e| bad(e.to_string()))?;
        url.path_segments_mut().map_err(|()| bad("not a base URL".into()))?.pop_if_empty().extend([
            "api",
            "v1",
            "applications",
            app,
        ]);
        if let Some(project) = &self.project {
            url.query_pairs_mut().append_pair("project", project);
        }
        let mut request = ctx.client.get(url).header(ACCEPT, "application/json");
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        Ok(request)
    }
}

impl Source for ArgoCdSource {
    fn default_evidence(&self) -> Evidence {
        Evidence::Controller
    }

    fn token(&self) -> Option<&auth::Token> {
        self.token.as_ref()
    }

    fn fetch(&self, ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        let prepared = self
            .app
            .render_name(&cell.service, &cell.env)
            .map_err(|m| FetchError::Other(format!("{m} (set `app`)")))
            .and_then(|app| Ok((self.request(ctx, &app, cell)?, app)));
        let project = self.project.clone();
        async move {
            let (request, app) = prepared?;
            let resp = fetch::get_capped(request, fetch::MAX_BODY).await?;
            if !resp.status.is_success() {
                return Err(classify_error(&resp, &app, project.as_deref()));
            }
            // Decoded in `read`, once the poller has sent the next request.
            Ok(Fetched::Body(resp))
        }
        .boxed()
    }

    fn read(&self, body: fetch::Response) -> Result<Reading, FetchError> {
        decode(&body.body, &self.decode)
    }
}

/// gRPC status codes Argo CD puts in its error bodies.
const GRPC_NOT_FOUND: u64 = 5;
const GRPC_PERMISSION_DENIED: u64 = 7;
const GRPC_UNAUTHENTICATED: u64 = 16;

/// Turn an error response into a cell error. Pure. Argo CD's error bodies
/// are `{"error": …, "code": <gRPC code>, "message": …}`; the body's `code`
/// decides, whatever the HTTP status (a proxy or an older gateway may answer
/// "permission denied" with a 503), and reports the status that code means.
/// Without a code, the HTTP status decides.
pub fn classify_error(resp: &fetch::Response, app: &str, project: Option<&str>) -> FetchError {
    let general = fetch::classify_status(resp, None);
    if matches!(general, FetchError::RateLimited { .. }) {
        return general;
    }
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let grpc = body.as_ref().and_then(|b| b.get("code")).and_then(Value::as_u64);
    let app = sanitize::clean_to(app, 120);
    match (grpc, project) {
        (Some(GRPC_PERMISSION_DENIED), None) => FetchError::Other(format!(
            "application {app} not found or not permitted (Argo CD answers 'permission denied' for missing apps; \
             set `project` to tell them apart)"
        )),
        (Some(GRPC_PERMISSION_DENIED), Some(project)) => FetchError::Auth {
            code: 403,
            detail: format!(
                "(permission denied for application {app} in project {}: the token's account may not read it, \
                 or the app belongs to another project)",
                sanitize::clean_to(project, 80)
            ),
        },
        (Some(GRPC_NOT_FOUND), Some(project)) => FetchError::Status {
            code: 404,
            detail: format!("application {app} not found in project {}", sanitize::clean_to(project, 80)),
        },
        (Some(GRPC_NOT_FOUND), None) => {
            FetchError::Status { code: 404, detail: format!("application {app} not found") }
        }
        (Some(GRPC_UNAUTHENTICATED), _) => {
            FetchError::Auth { code: 401, detail: sanitize::clean_to(&String::from_utf8_lossy(&resp.body), 80) }
        }
        _ if resp.status == reqwest::StatusCode::NOT_FOUND => FetchError::Status {
            code: 404,
            detail: "Not Found: no Argo CD API at this address (check api_url: the Argo CD server, without /api)"
                .into(),
        },
        _ => general,
    }
}

/// Decode an Application into a reading. Pure: bytes in, reading out.
pub fn decode(body: &[u8], options: &DecodeOptions) -> Result<Reading, FetchError> {
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'<') {
        return Err(FetchError::Malformed(
            "got HTML instead of an Application: is api_url the Argo CD server (and not a login page)?".into(),
        ));
    }
    let app: Value =
        serde_json::from_slice(trimmed).map_err(|e| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100)))?;
    if !app.is_object() {
        return Err(FetchError::Malformed("expected an Application object".into()));
    }

    let sync = match text_at(&app, "/status/sync/status").as_deref() {
        Some(s @ ("Synced" | "OutOfSync" | "Unknown")) => s.to_string(),
        Some(other) if !other.is_empty() => other.to_string(),
        _ => "Unknown".to_string(),
    };
    let revision = revision_of(app.pointer("/status/sync"));
    let images = running_images(&app);
    let chosen = choose_image(&images, options.image.as_deref());

    let version = match options.version_from {
        VersionFrom::Image => {
            let image = chosen.as_ref().map_err(|m| FetchError::Field(m.clone()))?;
            image.version().map_err(FetchError::Field)?
        }
        VersionFrom::Revision => match &revision {
            Some(Revision::One(r)) => r.clone(),
            Some(Revision::Many(rs)) => {
                return Err(FetchError::Field(format!(
                    "multi-source application: {} revisions ({}); use version_from = \"image\"",
                    rs.len(),
                    rs.join(", ")
                )));
            }
            None => return Err(FetchError::Field("no sync revision (status.sync.revision) yet".into())),
        },
    };
    // In revision mode the digest is a bonus: only when one image is clear.
    let digest = chosen.ok().and_then(|image| image.digest);

    let health = text_at(&app, "/status/health/status").map(|s| match s.as_str() {
        "Healthy" => Health::Up,
        "Progressing" | "Suspended" => Health::Degraded,
        "Degraded" | "Missing" => Health::Down,
        _ => Health::Unknown,
    });

    let mut history = history(&app);
    // Newest first by id, whatever order the API used.
    history.sort_by_key(|h| std::cmp::Reverse(h.id));
    let newest = history.first();
    let previous = previous_entry(&history, revision.as_ref());

    let mut attributes = vec![("sync".to_string(), sync)];
    if let Some(r) = &revision {
        attributes.push(("revision".into(), r.to_string()));
    }
    attributes.push(("auto_sync".into(), auto_sync(&app).to_string()));
    if let Some(r) = newest.and_then(|h| h.revision.as_ref()) {
        attributes.push(("history_revision".into(), r.to_string()));
    }
    if let Some(p) = previous {
        if let Some(r) = &p.revision {
            attributes.push(("previous_revision".into(), r.to_string()));
        }
        if let Some(at) = p.deployed_at {
            attributes.push(("previous_deployed_at".into(), at.to_string()));
        }
    }

    Ok(Reading {
        version: Some(version),
        build: None,
        commit: None,
        digest,
        deployed_at: newest.and_then(|h| h.deployed_at),
        health,
        metrics: Vec::new(),
        attributes,
        previous: rollback_target(previous, options.version_from).map(Box::new),
    })
}

/// What ran before the newest history entry: the next older entry with
/// another revision than the one that runs (the newest entry's, and the one
/// Argo CD synced to). A re-sync of the same revision adds an entry but goes
/// back to nothing. An entry without a revision cannot be named: then none,
/// rather than an older entry that did not run last.
fn previous_entry<'a>(history: &'a [Deployed], synced: Option<&Revision>) -> Option<&'a Deployed> {
    let (newest, older) = history.split_first()?;
    let running = [newest.revision.as_ref(), synced];
    older
        .iter()
        .find(|h| h.revision.as_ref().is_none_or(|r| !running.contains(&Some(r))))
        .filter(|h| h.revision.is_some())
}

/// The rollback target of the same kind as the version: history names git
/// revisions only, so in `image` mode (the version is a tag) it names none
/// and the known-good comes from elsewhere (the journal). In `revision`
/// mode, the previous entry is what `argocd app rollback APP ID` goes back to.
fn rollback_target(previous: Option<&Deployed>, version_from: VersionFrom) -> Option<Artifact> {
    let previous = previous?;
    match (version_from, &previous.revision) {
        (VersionFrom::Revision, Some(Revision::One(revision))) => Some(Artifact {
            version: revision.clone(),
            commit: Some(revision.clone()),
            deployed_at: previous.deployed_at,
            reference: Some(format!("history id {}", previous.id)),
            ..Artifact::default()
        }),
        _ => None,
    }
}

/// A clean, non-empty string at `pointer`.
fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(sanitize::clean).filter(|s| !s.is_empty())
}

/// `revision` of a single-source app, `revisions` of a multi-source one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Revision {
    One(String),
    Many(Vec<String>),
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revision::One(r) => f.write_str(r),
            Revision::Many(rs) => f.write_str(&rs.join(", ")),
        }
    }
}

fn revision_of(holder: Option<&Value>) -> Option<Revision> {
    let holder = holder?;
    if let Some(r) = holder.get("revision").and_then(Value::as_str).map(sanitize::clean).filter(|r| !r.is_empty()) {
        return Some(Revision::One(r));
    }
    let many: Vec<String> = holder
        .get("revisions")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .map(sanitize::clean)
        .filter(|r| !r.is_empty())
        .collect();
    match many.len() {
        0 => None,
        1 => many.into_iter().next().map(Revision::One),
        _ => Some(Revision::Many(many)),
    }
}

/// `spec.syncPolicy.automated` present, and not switched off with
/// `enabled: false` (newer Argo CD versions have that field).
fn auto_sync(app: &Value) -> bool {
    match app.pointer("/spec/syncPolicy/automated") {
        None | Some(Value::Null) => false,
        Some(automated) => automated.get("enabled").and_then(Value::as_bool) != Some(false),
    }
}

/// `status.summary.images`, deduplicated, in the API's order.
fn running_images(app: &Value) -> Vec<String> {
    let mut images: Vec<String> = Vec::new();
    for raw in app.pointer("/status/summary/images").and_then(Value::as_array).into_iter().flatten() {
        if let Some(s) = raw.as_str().map(str::trim).filter(|s| !s.is_empty())
            && !images.iter().any(|i| i == s)
        {
            images.push(s.to_string());
        }
    }
    images
}

/// The one image that carries the version: the only one, or the one the
/// `image` option names (repository name first, then substring).
fn choose_image(images: &[String], wanted: Option<&str>) -> Result<ImageRef, String> {
    let list = |refs: &[&String]| {
        let shown: Vec<String> = refs.iter().take(5).map(|s| sanitize::clean_to(s, 100)).collect();
        let more = if refs.len() > 5 { format!(", … {} more", refs.len() - 5) } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    let all: Vec<&String> = images.iter().collect();
    let Some(wanted) = wanted else {
        return match all.as_slice() {
            [] => Err("Argo CD reports no running images (status.summary.images is empty); \
                       use version_from = \"revision\""
                .into()),
            [one] => Ok(ImageRef::parse(one)),
            several => Err(format!(
                "ambiguous: the app runs {} images ({}): set `image` to the one that carries the version",
                several.len(),
                list(several)
            )),
        };
    };
    let by_name: Vec<&String> = all.iter().copied().filter(|i| ImageRef::parse(i).is_named(wanted)).collect();
    let candidates =
        if by_name.is_empty() { all.iter().copied().filter(|i| i.contains(wanted)).collect() } else { by_name };
    match candidates.as_slice() {
        [one] => Ok(ImageRef::parse(one)),
        [] if all.is_empty() => Err("Argo CD reports no running images (status.summary.images is empty)".into()),
        [] => Err(format!("no running image matches `{}` (images: {})", sanitize::clean_to(wanted, 80), list(&all))),
        several => Err(format!(
            "ambiguous: {} running images match `{}` ({}): a rollout in progress, or make `image` more precise",
            several.len(),
            sanitize::clean_to(wanted, 80),
            list(several)
        )),
    }
}

/// One entry of `status.history`.
#[derive(Debug, Clone, PartialEq)]
struct Deployed {
    id: i64,
    revision: Option<Revision>,
    deployed_at: Option<jiff::Timestamp>,
}

fn history(app: &Value) -> Vec<Deployed> {
    app.pointer("/status/history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            // int64 may come as a JSON number or, proto3-style, as a string.
            let id = match entry.get("id")? {
                Value::Number(n) => n.as_i64()?,
                Value::String(s) => s.trim().parse().ok()?,
                _ => return None,
            };
            let deployed_at =
                entry.get("deployedAt").and_then(Value::as_str).and_then(|s| crate::model::time::parse_time(s).ok());
            Some(Deployed { id, revision: revision_of(Some(entry)), deployed_at })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> DecodeOptions {
        DecodeOptions::default()
    }

    fn revision() -> DecodeOptions {
        DecodeOptions { version_from: VersionFrom::Revision, image: None }
    }

    const APP: &str = r#"{
      "metadata": {"name": "payments-prod", "namespace": "argocd"},
      "spec": {"project": "shop", "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}},
      "status": {
        "sync": {"status": "Synced", "revision": "4f2a9c1e0b7d"},
        "health": {"status": "Healthy"},
        "summary": {"images": ["registry.example/shop/payments:1.4.0@sha256:feedbeef"]},
        "history": [
          {"id": 7, "revision": "aaa111", "deployedAt": "2026-11-20T10:00:00Z"},
          {"id": 9, "revision": "4f2a9c1e0b7d", "deployedAt": "2026-11-24T18:05:00Z"},
          {"id": 8, "revision": "bbb222", "deployedAt": "2026-11-22T09:00:00Z"}
        ]
      }
    }"#;

    #[test]
    fn image_tag_is_the_version_with_everything_else() {
        let r = decode(APP.as_bytes(), &image()).unwrap();
        assert_eq!(r.version.as_deref(), Some("1.4.0"));
        assert_eq!(r.digest.as_deref(), Some("sha256:feedbeef"));
        assert_eq!(r.health, Some(Health::Up));
        assert_eq!(r.deployed_at.unwrap().to_string(), "2026-11-24T18:05:00Z");
        assert_eq!(r.attribute("sync"), Some("Synced"));
        assert_eq!(r.attribute("revision"), Some("4f2a9c1e0b7d"));
        assert_eq!(r.attribute("auto_sync"), Some("true"));
        assert_eq!(r.attribute("history_revision"), Some("4f2a9c1e0b7d"));
        // The previous entry is id 8, not the one listed before the newest.
        assert_eq!(r.attribute("previous_revision"), Some("bbb222"));
        assert_eq!(r.attribute("previous_deployed_at"), Some("2026-11-22T09:00:00Z"));
        assert_eq!(r.commit, None, "the sync revision is the config repo's, not the service's commit");
        assert_eq!(r.previous, None, "history names revisions, not tags: no rollback target of the version's kind");
    }

    #[test]
    fn revision_mode_reads_the_sync_revision() {
        let r = decode(APP.as_bytes(), &revision()).unwrap();
        assert_eq!(r.version.as_deref(), Some("4f2a9c1e0b7d"));
        assert_eq!(r.digest.as_deref(), Some("sha256:feedbeef"), "one clear image still gives its digest");
        assert_eq!(
            r.previous.map(|p| *p),
            Some(Artifact {
                version: "bbb222".into(),
                commit: Some("bbb222".into()),
                deployed_at: Some("2026-11-22T09:00:00Z".parse().unwrap()),
                reference: Some("history id 8".into()),
                ..Artifact::default()
            })
        );
    }

    /// Argo CD's guestbook example as `GET /api/v1/applications/guestbook`
    /// returns it after a manual re-sync: two history entries, one revision.
    const GUESTBOOK: &str = r#"{
      "metadata": {
        "name": "guestbook", "namespace": "argocd", "uid": "5b1e6b2c-8f2e-4a51-9d57-2f0c3f7c9a10",
        "resourceVersion": "48211", "generation": 31, "creationTimestamp": "2026-11-20T08:12:44Z"
      },
      "spec": {
        "source": {
          "repoURL": "https://github.com/argoproj/argocd-example-apps.git",
          "path": "guestbook", "targetRevision": "HEAD"
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        "project": "default",
        "syncPolicy": {}
      },
      "status": {
        "resources": [
          {"version": "v1", "kind": "Service", "namespace": "default", "name": "guestbook-ui",
           "status": "Synced", "health": {"status": "Healthy"}},
          {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "default",
           "name": "guestbook-ui", "status": "Synced", "health": {"status": "Healthy"}}
        ],
        "sync": {
          "status": "Synced",
          "comparedTo": {
            "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git", "path": "guestbook",
                       "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"}
          },
          "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba"
        },
        "health": {"status": "Healthy"},
        "history": [
          {
            "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
            "deployedAt": "2026-11-20T08:13:05Z",
            "id": 0,
            "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git", "path": "guestbook",
                       "targetRevision": "HEAD"},
            "deployStartedAt": "2026-11-20T08:13:03Z",
            "initiatedBy": {"username": "admin"}
          },
          {
            "revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
            "deployedAt": "2026-11-24T16:40:12Z",
            "id": 1,
            "source": {"repoURL": "https://github.com/argoproj/argocd-example-apps.git", "path": "guestbook",
                       "targetRevision": "HEAD"},
            "deployStartedAt": "2026-11-24T16:40:10Z",
            "initiatedBy": {"username": "admin"}
          }
        ],
        "reconciledAt": "2026-11-24T18:02:31Z",
        "operationState": {
          "operation": {"sync": {"revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba"},
                        "initiatedBy": {"username": "admin"}, "retry": {}},
          "phase": "Succeeded",
          "message": "successfully synced (all tasks run)",
          "startedAt": "2026-11-24T16:40:10Z",
          "finishedAt": "2026-11-24T16:40:12Z"
        },
        "sourceType": "Directory",
        "summary": {"images": ["gcr.io/heptio-images/ks-guestbook-demo:0.2"]},
        "controllerNamespace": "argocd"
      }
    }"#;

    #[test]
    fn a_repeated_revision_is_no_rollback_target_for_an_image_tag() {
        let r = decode(GUESTBOOK.as_bytes(), &image()).unwrap();
        assert_eq!(r.version.as_deref(), Some("0.2"));
        assert_eq!(r.deployed_at, Some("2026-11-24T16:40:12Z".parse().unwrap()), "the newest entry, id 1");
        assert_eq!(r.attribute("history_revision"), Some("53e28ff20cc530b9ada2173fbbd64d48338583ba"));
        // History id 0 re-synced the very revision that runs: not what ran before.
        assert_eq!(r.attribute("previous_revision"), None);
        assert_eq!(r.attribute("previous_deployed_at"), None);
        assert_eq!(r.previous, None, "a SHA is no known-good for the tag 0.2: the journal decides");

        // Even an older entry of another revision names no tag: still none in image mode.
        let older = GUESTBOOK.replacen(
            r#""revision": "53e28ff20cc530b9ada2173fbbd64d48338583ba",
            "deployedAt": "2026-11-20T08:13:05Z""#,
            r#""revision": "6bed858de32a0e876ec49dad1a2e3c5840d3fb07",
            "deployedAt": "2026-11-20T08:13:05Z""#,
            1,
        );
        assert_ne!(older, GUESTBOOK);
        let r = decode(older.as_bytes(), &image()).unwrap();
        assert_eq!(r.attribute("previous_revision"), Some("6bed858de32a0e876ec49dad1a2e3c5840d3fb07"));
        assert_eq!((r.version.as_deref(), r.previous), (Some("0.2"), None));
    }

    #[test]
    fn revision_mode_skips_redeploys_of_the_running_revision() {
        // The same revision, synced twice (ids 12 and 11), after cc333 and aa111.
        let body = br#"{"status":{"sync":{"status":"Synced","revision":"dd444"},
            "summary":{"images":["payments:2.0.0"]},
            "history":[{"id":10,"revision":"cc333","deployedAt":"2026-11-22T09:00:00Z"},
                       {"id":12,"revision":"dd444","deployedAt":"2026-11-24T18:00:00Z"},
                       {"id":9,"revision":"aa111","deployedAt":"2026-11-20T09:00:00Z"},
                       {"id":11,"revision":"dd444","deployedAt":"2026-11-23T12:00:00Z"}]}}"#;
        let r = decode(body, &revision()).unwrap();
        assert_eq!(r.version.as_deref(), Some("dd444"));
        assert_eq!(r.attribute("previous_revision"), Some("cc333"));
        assert_eq!(
            r.previous.map(|p| *p),
            Some(Artifact {
                version: "cc333".into(),
                commit: Some("cc333".into()),
                deployed_at: Some("2026-11-22T09:00:00Z".parse().unwrap()),
                reference: Some("history id 10".into()),
                ..Artifact::default()
            })
        );

        // Only the running revision in history: nothing to go back to.
        let only = br#"{"status":{"sync":{"revision":"dd444"},
            "history":[{"id":1,"revision":"dd444"},{"id":2,"revision":"dd444"}]}}"#;
        let r = decode(only, &revision()).unwrap();
        assert_eq!(
            (r.version.as_deref(), r.previous.as_deref(), r.attribute("previous_revision")),
            (Some("dd444"), None, None)
        );

        // What ran before has no revision: none, rather than an older one that did not run last.
        let unnamed = br#"{"status":{"sync":{"revision":"dd444"},
            "history":[{"id":3,"revision":"dd444"},{"id":2},{"id":1,"revision":"aa111"}]}}"#;
        assert_eq!(decode(unnamed, &revision()).unwrap().previous, None);
    }

    #[test]
    fn health_mapping() {
        for (argo, health) in [
            ("Healthy", Health::Up),
            ("Progressing", Health::Degraded),
            ("Suspended", Health::Degraded),
            ("Degraded", Health::Down),
            ("Missing", Health::Down),
            ("Unknown", Health::Unknown),
            ("SomethingNew", Health::Unknown),
        ] {
            let body = APP.replace(r#""status": "Healthy""#, &format!(r#""status": "{argo}""#));
            assert_eq!(decode(body.as_bytes(), &image()).unwrap().health, Some(health), "{argo}");
        }
    }

    #[test]
    fn several_images_need_the_image_option() {
        let body = APP.replace(
            r#"["registry.example/shop/payments:1.4.0@sha256:feedbeef"]"#,
            r#"["registry.example/shop/payments:1.4.0", "registry.example/shop/payments-migrations:1.4.0",
                "docker.io/envoyproxy/envoy:v1.30.1"]"#,
        );
        let err = decode(body.as_bytes(), &image()).unwrap_err();
        assert!(err.to_string().starts_with("ambiguous: the app runs 3 images"), "{err}");
        // The repository name wins over a mere substring match.
        let pick = |wanted: &str| DecodeOptions { image: Some(wanted.into()), ..image() };
        assert_eq!(decode(body.as_bytes(), &pick("payments")).unwrap().version.as_deref(), Some("1.4.0"));
        assert_eq!(decode(body.as_bytes(), &pick("envoy")).unwrap().version.as_deref(), Some("v1.30.1"));
        let err = decode(body.as_bytes(), &pick("shop/pay")).unwrap_err();
        assert!(err.to_string().starts_with("ambiguous: 2 running images match `shop/pay`"), "{err}");
        let err = decode(body.as_bytes(), &pick("orders")).unwrap_err();
        assert!(err.to_string().starts_with("no running image matches `orders`"), "{err}");
        // Revision mode does not need a clear image; it just has no digest.
        let r = decode(body.as_bytes(), &revision()).unwrap();
        assert_eq!((r.version.as_deref(), r.digest), (Some("4f2a9c1e0b7d"), None));
    }

    #[test]
    fn no_images_is_a_clear_error_in_image_mode() {
        let body =
            APP.replace(r#""summary": {"images": ["registry.example/shop/payments:1.4.0@sha256:feedbeef"]},"#, "");
        let err = decode(body.as_bytes(), &image()).unwrap_err();
        assert!(err.to_string().contains("no running images"), "{err}");
    }

    #[test]
    fn auto_sync_follows_automated_and_its_enabled_flag() {
        let manual =
            APP.replace(r#""syncPolicy": {"automated": {"prune": true, "selfHeal": true}}"#, r#""syncPolicy": {}"#);
        assert_eq!(decode(manual.as_bytes(), &image()).unwrap().attribute("auto_sync"), Some("false"));
        let off = APP.replace(r#""prune": true"#, r#""enabled": false, "prune": true"#);
        assert_eq!(decode(off.as_bytes(), &image()).unwrap().attribute("auto_sync"), Some("false"));
        let null = APP.replace(r#"{"prune": true, "selfHeal": true}"#, "null");
        assert_eq!(decode(null.as_bytes(), &image()).unwrap().attribute("auto_sync"), Some("false"));
    }

    #[test]
    fn a_fresh_app_without_status_still_reads_in_image_mode_only_with_images() {
        let body = br#"{"metadata":{"name":"x"},"spec":{}}"#;
        assert!(decode(body, &image()).is_err());
        let err = decode(body, &revision()).unwrap_err();
        assert_eq!(err.to_string(), "no sync revision (status.sync.revision) yet");
    }

    #[test]
    fn history_ids_as_strings_and_multi_source_revisions() {
        let body = br#"{"status":{"sync":{"status":"OutOfSync","revisions":["abc","1.2.0"]},
            "summary":{"images":["payments:2.0.0"]},
            "history":[{"id":"12","revisions":["abc","1.2.0"],"deployedAt":"2026-11-24T18:00:00Z"},
                       {"id":"3","revisions":["old","1.1.0"]}]}}"#;
        let r = decode(body, &image()).unwrap();
        assert_eq!(r.attribute("sync"), Some("OutOfSync"));
        assert_eq!(r.attribute("revision"), Some("abc, 1.2.0"));
        assert_eq!(r.attribute("history_revision"), Some("abc, 1.2.0"));
        assert_eq!(r.attribute("previous_revision"), Some("old, 1.1.0"));
        assert_eq!(r.attribute("auto_sync"), Some("false"));
        let err = decode(body, &revision()).unwrap_err();
        assert!(err.to_string().starts_with("multi-source application: 2 revisions"), "{err}");
    }

    #[test]
    fn malformed_and_html_bodies() {
        assert!(matches!(decode(br#"{"status": "#, &image()), Err(FetchError::Malformed(_))));
        assert!(matches!(decode(b"[1,2]", &image()), Err(FetchError::Malformed(_))));
        let err = decode(b"<!doctype html><html>login</html>", &image()).unwrap_err();
        assert!(err.to_string().contains("api_url"), "{err}");
    }

    #[test]
    fn control_sequences_never_survive() {
        let body = APP.replace("1.4.0@", "1.4.0\\u001b[2J@").replace("\"Synced\"", "\"Synced\\u0007\"");
        let r = decode(body.as_bytes(), &image()).unwrap();
        assert_eq!(r.version.as_deref(), Some("1.4.0"));
        assert_eq!(r.attribute("sync"), Some("Synced"));
    }

    fn response(code: u16, body: &str) -> fetch::Response {
        fetch::Response {
            status: reqwest::StatusCode::from_u16(code).unwrap(),
            content_type: Some("application/json".into()),
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    const DENIED: &str = r#"{"error":"permission denied","code":7,"message":"permission denied"}"#;
    const NOT_FOUND: &str = r#"{"error":"applications.argoproj.io \"payments-prod\" not found","code":5,
        "message":"applications.argoproj.io \"payments-prod\" not found"}"#;

    #[test]
    fn permission_denied_without_project_says_it_may_be_missing() {
        let err = classify_error(&response(403, DENIED), "payments-prod", None);
        assert_eq!(
            err.to_string(),
            "application payments-prod not found or not permitted (Argo CD answers 'permission denied' for \
             missing apps; set `project` to tell them apart)"
        );
        let err = classify_error(&response(403, DENIED), "payments-prod", Some("shop"));
        assert!(matches!(err, FetchError::Auth { code: 403, .. }), "{err:?}");
        assert!(err.to_string().contains("project shop"), "{err}");
    }

    #[test]
    fn not_found_with_project_and_other_statuses() {
        let err = classify_error(&response(404, NOT_FOUND), "payments-prod", Some("shop"));
        assert_eq!(err.to_string(), "HTTP 404 application payments-prod not found in project shop");
        let err = classify_error(&response(404, "404 page not found"), "payments-prod", None);
        assert!(err.to_string().contains("check api_url"), "{err}");
        let unauth = r#"{"error":"invalid session: token is expired","code":16,"message":"invalid session"}"#;
        assert!(matches!(classify_error(&response(401, unauth), "a", None), FetchError::Auth { code: 401, .. }));
        // A 403 that is not Argo CD's own (a proxy, say) is an auth failure.
        assert!(matches!(classify_error(&response(403, "Forbidden"), "a", None), FetchError::Auth { code: 403, .. }));
        assert!(matches!(classify_error(&response(429, ""), "a", None), FetchError::RateLimited { .. }));
        assert!(matches!(classify_error(&response(503, ""), "a", None), FetchError::Status { code: 503, .. }));
    }

    #[test]
    fn the_body_code_decides_whatever_the_status() {
        // Permission denied, seen in the wild with a 503.
        let err = classify_error(&response(503, DENIED), "payments-prod", None);
        assert!(matches!(err, FetchError::Other(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "application payments-prod not found or not permitted (Argo CD answers 'permission denied' for \
             missing apps; set `project` to tell them apart)"
        );
        let err = classify_error(&response(503, DENIED), "payments-prod", Some("shop"));
        assert!(matches!(err, FetchError::Auth { code: 403, .. }), "{err:?}");
        assert!(err.to_string().contains("permission denied for application payments-prod in project shop"), "{err}");
        // Not found and unauthenticated by their codes too.
        let err = classify_error(&response(503, NOT_FOUND), "payments-prod", Some("shop"));
        assert_eq!(err.to_string(), "HTTP 404 application payments-prod not found in project shop");
        let err = classify_error(&response(500, NOT_FOUND), "payments-prod", None);
        assert_eq!(err.to_string(), "HTTP 404 application payments-prod not found");
        let err = classify_error(&response(404, DENIED), "payments-prod", None);
        assert!(err.to_string().starts_with("application payments-prod not found or not permitted"), "{err}");
        let unauth = r#"{"error":"invalid session: token is expired","code":16,"message":"invalid session"}"#;
        assert!(matches!(classify_error(&response(503, unauth), "a", None), FetchError::Auth { code: 401, .. }));
        // Without a code, the status decides.
        let err = classify_error(&response(503, r#"{"error":"upstream connect error"}"#), "payments-prod", None);
        assert!(matches!(err, FetchError::Status { code: 503, .. }), "{err:?}");
        let other = r#"{"error":"rpc error","code":14,"message":"unavailable"}"#;
        assert!(matches!(classify_error(&response(503, other), "a", None), FetchError::Status { code: 503, .. }));
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode(&body, &image());
            let _ = decode(&body, &revision());
        }
    }
}
