//! A GitHub deployments API for a fleet, on loopback: repositories
//! `acme/svc-NNNN`, one GitHub environment per flightdeck environment, each
//! cell with its deployments and their statuses in GitHub's shapes. It
//! counts every request, and the ones GitHub would count against the rate
//! limit: all but a `304 Not Modified` to a request with a token. It can
//! send `ETag`s (and answer `If-None-Match` with a 304) and the
//! `x-ratelimit-*` headers of a budget it keeps, as GitHub does.
//! Shared by `tests/github_budget.rs` and `benches/github_budget.rs`
//! (included with `#[path]`).
#![allow(dead_code)] // each includer uses its own part

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// How the server answers.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Send `ETag`s and answer a matching `If-None-Match` with a 304.
    pub etags: bool,
    /// Keep a budget of this many counted requests per hour and send its
    /// `x-ratelimit-*` headers (past it: 403, as GitHub).
    pub limit: Option<u64>,
}

struct Deployment {
    id: u64,
    version: String,
    created_at: String,
    /// (id, state, created_at), oldest first.
    statuses: Vec<(u64, &'static str, String)>,
}

pub struct Fleet {
    pub services: usize,
    pub envs: Vec<String>,
    mode: Mode,
    /// Epoch seconds when the budget refills (an hour after the start).
    reset: i64,
    /// `[service * envs + env]`, oldest deployment first.
    cells: Mutex<Vec<Vec<Deployment>>>,
    /// Bodies and ETags by URL, as built; cleared by a deploy.
    built: Mutex<HashMap<String, (Arc<str>, String)>>,
    next_status: AtomicU64,
    pub requests: AtomicU64,
    /// Requests GitHub counts against the budget.
    pub counted: AtomicU64,
    pub not_modified: AtomicU64,
    /// Bytes of the bodies sent with a 200.
    pub body_bytes: AtomicU64,
}

pub fn service_name(n: usize) -> String {
    format!("svc-{n:04}")
}

fn stamp(minute: u64) -> String {
    let t = jiff::Timestamp::from_second(1_790_000_000 + minute as i64 * 60).expect("a time");
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Fleet {
    /// Every cell has run `history` versions (each replaced: `inactive`),
    /// then `v1.0.0` (replaced too), and runs `v1.1.0` (`success`).
    fn new(services: usize, envs: &[&str], history: usize, mode: Mode) -> Fleet {
        let now = jiff::Timestamp::now().as_second();
        let n = services * envs.len();
        let cells = (0..n)
            .map(|cell| {
                let versions = (0..history).map(|h| format!("v0.{h}.0")).chain(["v1.0.0".into(), "v1.1.0".into()]);
                let last = history + 1;
                versions
                    .enumerate()
                    .map(|(k, version)| {
                        let id = (cell as u64 + 1) * 1000 + k as u64 + 1;
                        let minute = 10 * k as u64;
                        let mut statuses = vec![(id * 10, "success", stamp(minute + 1))];
                        if k < last {
                            statuses.push((id * 10 + 1, "inactive", stamp(minute + 11)));
                        }
                        Deployment { id, version, created_at: stamp(minute), statuses }
                    })
                    .collect()
            })
            .collect();
        Fleet {
            services,
            envs: envs.iter().map(|e| e.to_string()).collect(),
            mode,
            reset: now + 3600,
            cells: Mutex::new(cells),
            built: Mutex::default(),
            next_status: AtomicU64::new(1),
            requests: AtomicU64::new(0),
            counted: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
        }
    }

    pub fn cells(&self) -> usize {
        self.services * self.envs.len()
    }

    /// Cell `cell` deploys `version`: its running deployment is marked
    /// `inactive`, the new one succeeds. Between sweeps: a body built
    /// meanwhile could be kept as it was.
    pub fn deploy(&self, cell: usize, version: &str) {
        self.built.lock().unwrap().clear();
        let mut cells = self.cells.lock().unwrap();
        let deployments = &mut cells[cell];
        let minute = 100_000 + self.next_status.fetch_add(1, Ordering::SeqCst);
        let id = (cell as u64 + 1) * 1000 + deployments.len() as u64 + 1;
        if let Some(running) = deployments.last_mut() {
            let status = running.id * 10 + running.statuses.len() as u64;
            running.statuses.push((status, "inactive", stamp(minute + 1)));
        }
        deployments.push(Deployment {
            id,
            version: version.into(),
            created_at: stamp(minute),
            statuses: vec![(id * 10, "success", stamp(minute + 1))],
        });
    }

    /// The body at `path`, if there is one.
    fn body(&self, path: &str, query: &str) -> Option<Value> {
        let rest = path.strip_prefix("/repos/acme/svc-")?;
        let (service, rest) = rest.split_once('/')?;
        let service: usize = service.parse().ok()?;
        let cells = self.cells.lock().unwrap();
        if rest == "deployments" {
            let env = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "environment")?.1;
            let e = self.envs.iter().position(|name| *name == env)?;
            let cell = cells.get(service * self.envs.len() + e)?;
            // One page of at most 100, newest first (no `Link`: older ones are not read).
            let list = cell.iter().rev().take(100).map(|d| deployment(service, &env, d)).collect();
            return Some(Value::Array(list));
        }
        let id: u64 = rest.strip_prefix("deployments/")?.strip_suffix("/statuses")?.parse().ok()?;
        let cell = usize::try_from(id / 1000).ok()?.checked_sub(1)?;
        let env = self.envs.get(cell % self.envs.len())?;
        let d = cells.get(cell)?.iter().find(|d| d.id == id)?;
        Some(Value::Array(d.statuses.iter().rev().map(|(id, state, at)| status(*id, state, env, at)).collect()))
    }

    /// The body at `uri` and its ETag, built once until a deploy changes them.
    fn built(&self, uri: &Uri) -> Option<(Arc<str>, String)> {
        let key = uri.to_string();
        if let Some(hit) = self.built.lock().unwrap().get(&key) {
            return Some(hit.clone());
        }
        let body = self.body(uri.path(), uri.query().unwrap_or(""))?.to_string();
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        let built = (Arc::from(body), format!("W/\"{:016x}\"", h.finish()));
        self.built.lock().unwrap().insert(key, built.clone());
        Some(built)
    }

    fn answer(&self, uri: &Uri, headers: &HeaderMap) -> Response {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let authorized = headers.contains_key(header::AUTHORIZATION);
        if let Some(limit) = self.mode.limit
            && self.counted.load(Ordering::SeqCst) >= limit
        {
            let body = json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest"});
            return self.with_budget(StatusCode::FORBIDDEN, body.to_string(), None);
        }
        let Some((body, etag)) = self.built(uri) else {
            self.counted.fetch_add(1, Ordering::SeqCst);
            return self.with_budget(StatusCode::NOT_FOUND, json!({"message": "Not Found"}).to_string(), None);
        };
        let etag = self.mode.etags.then_some(etag);
        let matches = etag
            .as_deref()
            .is_some_and(|etag| headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag));
        if matches {
            self.not_modified.fetch_add(1, Ordering::SeqCst);
            if !authorized {
                self.counted.fetch_add(1, Ordering::SeqCst);
            }
            return self.with_budget(StatusCode::NOT_MODIFIED, String::new(), etag);
        }
        self.counted.fetch_add(1, Ordering::SeqCst);
        self.body_bytes.fetch_add(body.len() as u64, Ordering::SeqCst);
        self.with_budget(StatusCode::OK, body.to_string(), etag)
    }

    fn with_budget(&self, status: StatusCode, body: impl Into<axum::body::Body>, etag: Option<String>) -> Response {
        let mut resp = (status, body.into()).into_response();
        let h = resp.headers_mut();
        if status != StatusCode::NOT_MODIFIED {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        }
        if let Some(etag) = etag {
            h.insert(header::ETAG, etag.parse().unwrap());
        }
        if let Some(limit) = self.mode.limit {
            let used = self.counted.load(Ordering::SeqCst).min(limit);
            h.insert("x-ratelimit-limit", limit.into());
            h.insert("x-ratelimit-remaining", (limit - used).into());
            h.insert("x-ratelimit-used", used.into());
            h.insert("x-ratelimit-reset", self.reset.into());
            h.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
        }
        resp
    }
}

fn deployment(service: usize, env: &str, d: &Deployment) -> Value {
    let repo = format!("https://api.github.com/repos/acme/{}", service_name(service));
    json!({
        "url": format!("{repo}/deployments/{}", d.id),
        "id": d.id, "node_id": format!("DE_kwDO{}", d.id), "task": "deploy",
        "original_environment": env, "environment": env,
        "description": null,
        "creator": {"login": "release-bot", "id": 7, "type": "Bot", "site_admin": false},
        "sha": format!("{:040x}", d.id * 7919), "ref": d.version, "payload": {},
        "created_at": d.created_at, "updated_at": d.created_at,
        "statuses_url": format!("{repo}/deployments/{}/statuses", d.id),
        "repository_url": repo,
        "transient_environment": false, "production_environment": env == "prod",
    })
}

fn status(id: u64, state: &str, env: &str, at: &str) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/acme/x/deployments/statuses/{id}"),
        "id": id, "node_id": format!("DES_kwDO{id}"), "state": state, "description": "",
        "environment": env, "creator": {"login": "release-bot", "id": 7, "type": "Bot"},
        "created_at": at, "updated_at": at, "target_url": "", "log_url": "", "environment_url": "",
    })
}

/// Start the fleet's server on a loopback port of the current runtime;
/// `history`: versions each cell ran before `v1.0.0`.
pub async fn serve(services: usize, envs: &[&str], history: usize, mode: Mode) -> (SocketAddr, Arc<Fleet>) {
    let fleet = Arc::new(Fleet::new(services, envs, history, mode));
    let app = Router::new()
        .fallback(|State(fleet): State<Arc<Fleet>>, uri: Uri, headers: HeaderMap| async move {
            fleet.answer(&uri, &headers)
        })
        .with_state(fleet.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, fleet)
}

/// A cockpit config: the fleet's services and environments, one `github`
/// source on `addr` polling every `every` with the token in `token_env`.
pub fn config(addr: SocketAddr, fleet: &Fleet, every: &str, token_env: &str) -> String {
    let mut out = String::new();
    for env in &fleet.envs {
        out.push_str(&format!("[[environments]]\nname = \"{env}\"\n"));
    }
    for n in 0..fleet.services {
        out.push_str(&format!("[[services]]\nname = \"{}\"\n", service_name(n)));
    }
    out.push_str(&format!(
        "[[sources]]\nname = \"deploys\"\nkind = \"github\"\napi_url = \"http://{addr}\"\nrepo = \"acme/{{service}}\"\ntoken_env = \"{token_env}\"\nevery = \"{every}\"\n"
    ));
    out
}
