//! The `gitlab` source against a real HTTP server on loopback serving the
//! shapes of GitLab's deployments API (v4), and its errors.
//!
//! Each test starts its own axum server on 127.0.0.1:0 that records every
//! request (count, path, query, headers), builds the source the way the
//! program does (config text → validate → activate) and sweeps it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use flightdeck::config::PollerSettings;
use flightdeck::model::rollback::Artifact;
use flightdeck::model::{Evidence, Reading};
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{ActiveSource, FetchError, HttpContext};
use serde_json::{Value, json};

const TOKEN_VAR: &str = "FDTEST_GITLAB_TOKEN";
const TOKEN: &str = "glpat-TESTtoken0123456789abcd";

/// Every test calls this first. The variable is set once per process.
fn token() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: edition 2024 marks set_var unsafe because another thread
        // may read the environment at the same time. Every test calls this
        // before it starts a server or a client, and `Once` makes the other
        // tests wait until it is done, so nothing reads while it writes.
        unsafe { std::env::set_var(TOKEN_VAR, TOKEN) };
    });
}

/// One request as the server saw it (the path still percent-encoded).
#[derive(Debug, Clone)]
struct Request {
    path: String,
    query: String,
    headers: HeaderMap,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serve `handler` for every path on an ephemeral loopback port.
async fn serve(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    let (h, s) = (hits.clone(), seen.clone());
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (h, s, f) = (h.clone(), s.clone(), handler.clone());
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            let req = Request { path: uri.path().to_string(), query: uri.query().unwrap_or("").to_string(), headers };
            s.lock().unwrap().push(req.clone());
            f(&req)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("test server") });
    Server { addr, hits, seen }
}

fn json_response(value: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

fn status_json(code: u16, value: &Value) -> Response {
    (StatusCode::from_u16(code).unwrap(), json_response(value)).into_response()
}

/// A deployment as GitLab lists it; `deployable: None` is a null job.
fn deployment(id: u64, git_ref: &str, sha: &str, status: &str, updated_at: &str, finished_at: Option<&str>) -> Value {
    let deployable = match finished_at {
        Some(at) => json!({
            "id": id * 10, "status": "success", "stage": "deploy", "name": "deploy-production",
            "ref": git_ref, "tag": true, "created_at": updated_at, "started_at": updated_at, "finished_at": at,
            "pipeline": {"id": id * 100, "sha": sha, "ref": git_ref, "status": "success"},
        }),
        None => Value::Null,
    };
    json!({
        "id": id, "iid": id - 40, "ref": git_ref, "sha": sha, "status": status,
        "created_at": "2026-11-01T00:00:00.000Z", "updated_at": updated_at,
        "user": {"id": 1, "username": "release-bot", "state": "active"},
        "environment": {"id": 9, "name": "production", "external_url": "https://pay.example"},
        "deployable": deployable,
    })
}

/// One environment (`prod`, known to GitLab as `production`), one service,
/// one `gitlab` source with the API under `/api/v4` as on a self-managed
/// instance; `extra` goes inside the source.
fn config(addr: SocketAddr, extra: &str) -> String {
    format!(
        r#"
[[environments]]
name = "prod"

[[services]]
name = "payments"

[[sources]]
name = "gitlab-deploys"
kind = "gitlab"
api_url = "http://{addr}/api/v4"
project = "acme/{{service}}"
token_env = "{TOKEN_VAR}"
environments_map = {{ prod = "production" }}
{extra}
"#
    )
}

fn activate(text: &str) -> Vec<ActiveSource> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate")
}

/// Sweep the one cell once; no error may carry the token.
async fn once(active: &[ActiveSource]) -> Result<Reading, FetchError> {
    let ctx = HttpContext::new().expect("http client");
    let updates: Vec<SourceUpdate> = sweep_once(active, PollerSettings::default(), &ctx, |_, _| {}).await;
    assert_eq!(updates.len(), 1, "one cell");
    let result = updates.into_iter().next().unwrap().result;
    if let Err(e) = &result {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(TOKEN), "the token in an error: {text}");
        }
    }
    result
}

const LIST: &str = "/api/v4/projects/acme%2Fpayments/deployments";

/// A GitLab that honours the filters and the sort the way the real one does
/// (ascending unless told otherwise) over `all` deployments.
fn honest_gitlab(all: Vec<Value>) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |req| {
        if req.path != LIST {
            return status_json(404, &json!({"message": "404 Project Not Found"}));
        }
        let mut rows: Vec<Value> = all
            .iter()
            .filter(|d| req.param("status").is_none_or(|s| d["status"] == s.as_str()))
            .filter(|d| req.param("environment").is_none_or(|e| d["environment"]["name"] == e.as_str()))
            .cloned()
            .collect();
        rows.sort_by_key(|d| d["id"].as_u64());
        if req.param("sort").as_deref() == Some("desc") {
            rows.reverse();
        }
        let per_page: usize = req.param("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
        rows.truncate(per_page);
        json_response(&Value::Array(rows))
    }
}

#[tokio::test]
async fn newest_success_with_the_documented_query_and_header() {
    token();
    let server = serve(honest_gitlab(vec![
        deployment(41, "v1.3.0", "aaa111", "success", "2026-11-20T10:05:00.000Z", Some("2026-11-20T10:04:00.000Z")),
        deployment(42, "v1.4.0", "bbb222", "success", "2026-11-24T18:06:00.000Z", Some("2026-11-24T18:05:30.000Z")),
        deployment(43, "v1.5.0", "ccc333", "failed", "2026-11-24T19:00:00.000Z", Some("2026-11-24T19:00:00.000Z")),
        deployment(44, "v1.6.0", "ddd444", "running", "2026-11-24T19:10:00.000Z", None),
    ]))
    .await;
    let active = activate(&config(server.addr, ""));
    assert_eq!(active[0].evidence, Evidence::Recorded, "recorded by default");
    let reading = once(&active).await.expect("a reading");
    assert_eq!(
        reading,
        Reading {
            version: Some("v1.4.0".into()),
            commit: Some("bbb222".into()),
            deployed_at: Some("2026-11-24T18:05:30Z".parse().unwrap()),
            attributes: [("deployment", "42"), ("iid", "2"), ("state", "success"), ("pipeline", "4200")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            // The older success on the same page, deployed when its job finished.
            previous: Some(Box::new(Artifact {
                version: "v1.3.0".into(),
                commit: Some("aaa111".into()),
                deployed_at: Some("2026-11-20T10:04:00Z".parse().unwrap()),
                reference: Some("deployment 1".into()),
                ..Artifact::default()
            })),
            ..Reading::default()
        }
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 1, "one page was enough");
    let req = &seen[0];
    assert_eq!(req.path, LIST, "the project path is URL-encoded");
    assert_eq!(req.param("environment").as_deref(), Some("production"));
    assert_eq!(req.param("status").as_deref(), Some("success"));
    assert_eq!(req.param("order_by").as_deref(), Some("id"));
    assert_eq!(req.param("sort").as_deref(), Some("desc"));
    assert_eq!(req.param("per_page").as_deref(), Some("20"));
    assert_eq!(req.header("private-token"), Some(TOKEN));
    assert_eq!(req.header("authorization"), None);
}

#[tokio::test]
async fn previous_skips_a_redeploy_and_failures_within_one_page() {
    token();
    let mut rows = vec![
        deployment(67, "v1.8.0", "s67", "success", "2026-11-22T10:00:00.000Z", None),
        deployment(68, "v1.9.0", "s68", "failed", "2026-11-23T10:00:00.000Z", None),
        deployment(69, "v2.0.0", "s69", "success", "2026-11-24T10:00:00.000Z", None),
        deployment(70, "v2.0.0", "s70", "success", "2026-11-25T10:00:00.000Z", None),
    ];
    // Older history than a page holds: never reached.
    rows.extend((41..67).map(|id| deployment(id, "v1.0.0", "old", "success", "2026-11-01T00:00:00.000Z", None)));
    let server = serve(honest_gitlab(rows)).await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("v2.0.0"));
    let previous = reading.previous.expect("a previous version");
    assert_eq!(previous.version, "v1.8.0", "69 is a redeploy of v2.0.0 and 68 failed");
    assert_eq!(previous.commit.as_deref(), Some("s67"));
    assert_eq!(previous.reference.as_deref(), Some("deployment 27"), "by iid");
    assert_eq!(previous.deployed_at, Some("2026-11-22T10:00:00Z".parse().unwrap()), "updated_at without a job");
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "the previous comes from the same page");
    assert_eq!(seen[0].param("per_page").as_deref(), Some("20"));
}

#[tokio::test]
async fn only_one_version_on_the_page_means_no_previous() {
    token();
    let server = serve(honest_gitlab(vec![
        deployment(44, "v1.6.0", "ddd444", "success", "2026-11-24T19:10:00.000Z", None),
        deployment(45, "v1.6.0", "ddd444", "success", "2026-11-24T20:10:00.000Z", None),
    ]))
    .await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("v1.6.0"));
    assert_eq!(reading.previous, None);
}

#[tokio::test]
async fn version_from_sha_and_a_null_deployable() {
    token();
    let server =
        serve(honest_gitlab(vec![deployment(45, "main", "eee555", "success", "2026-11-24T20:00:00.000Z", None)])).await;
    let reading = once(&activate(&config(server.addr, "version_from = \"sha\""))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("eee555"));
    assert_eq!(reading.attribute("ref"), Some("main"));
    assert_eq!(reading.deployed_at, Some("2026-11-24T20:00:00Z".parse().unwrap()), "updated_at without a job");
    assert_eq!(reading.attribute("pipeline"), None);
}

#[tokio::test]
async fn no_successful_deployment_is_a_positive_no_deployment() {
    token();
    let server =
        serve(honest_gitlab(vec![deployment(43, "v1.5.0", "ccc333", "failed", "2026-11-24T19:00:00.000Z", None)]))
            .await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("a reading");
    assert_eq!(reading.version, None);
    assert_eq!(reading.attribute("state"), Some("no successful deployment"));
}

#[tokio::test]
async fn x_next_page_is_followed_only_when_needed() {
    token();
    // A server that ignores the status filter: page 1 has only failures.
    let server = serve(|req| {
        let page = req.param("page").unwrap_or_else(|| "1".into());
        let (rows, next) = match page.as_str() {
            "1" => (
                json!([
                    deployment(50, "v2.0.0", "f50", "failed", "2026-11-24T19:00:00.000Z", None),
                    deployment(49, "v1.9.9", "f49", "canceled", "2026-11-24T18:00:00.000Z", None),
                ]),
                "2",
            ),
            "2" => (json!([deployment(48, "v1.9.0", "s48", "success", "2026-11-23T18:00:00.000Z", None)]), "3"),
            _ => (json!([]), ""),
        };
        let mut resp = json_response(&rows);
        resp.headers_mut().insert("x-next-page", next.parse().unwrap());
        resp.headers_mut().insert("x-page", page.parse().unwrap());
        resp
    })
    .await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("v1.9.0"));
    let pages: Vec<Option<String>> = server.seen().iter().map(|s| s.param("page")).collect();
    assert_eq!(pages, [None, Some("2".to_string())], "page 3 is not needed");
    assert!(server.seen().iter().all(|s| s.param("sort").as_deref() == Some("desc")));
}

#[tokio::test]
async fn bearer_auth_and_a_numeric_project_id() {
    token();
    let server = serve(|req| {
        if req.path == "/api/v4/projects/1234/deployments" {
            json_response(&json!([deployment(42, "v1.4.0", "bbb222", "success", "2026-11-24T18:06:00.000Z", None)]))
        } else {
            status_json(404, &json!({"message": "404 Project Not Found"}))
        }
    })
    .await;
    let extra = "auth = \"bearer\"\nprojects = { payments = \"1234\" }";
    let reading = once(&activate(&config(server.addr, extra))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("v1.4.0"));
    let seen = server.seen();
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    assert_eq!(seen[0].header("private-token"), None);
}

#[tokio::test]
async fn too_many_requests_with_retry_after_is_obeyed_by_every_cell() {
    token();
    let server =
        serve(|_| (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "30")], "Retry later\n").into_response())
            .await;
    let active = activate(&config(server.addr, ""));
    let err = once(&active).await.expect_err("429");
    assert_eq!(
        err,
        FetchError::RateLimited { code: 429, retry_after: Some(Duration::from_secs(30)), detail: "Retry later".into() }
    );
    let again = once(&active).await.expect_err("still waiting");
    assert!(matches!(again, FetchError::HeldBack { .. }), "{again:?}");
    assert!(again.retry_after().is_some_and(|d| d <= Duration::from_secs(30)));
    assert_eq!(server.hits(), 1, "nothing is sent while waiting");
}

#[tokio::test]
async fn too_many_requests_without_retry_after_leaves_the_wait_to_the_poller() {
    token();
    let server = serve(|_| (StatusCode::TOO_MANY_REQUESTS, "Retry later").into_response()).await;
    let active = activate(&config(server.addr, ""));
    let err = once(&active).await.expect_err("429");
    assert_eq!(err, FetchError::RateLimited { code: 429, retry_after: None, detail: "Retry later".into() });
    assert_eq!(err.to_string(), "rate limited (HTTP 429) Retry later");
    once(&active).await.expect_err("429 again");
    assert_eq!(server.hits(), 2, "no wait of our own: the poller's backoff decides");
}

#[tokio::test]
async fn a_spent_budget_waits_until_ratelimit_reset() {
    token();
    let reset_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 120;
    let server = serve(move |_| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [
                ("ratelimit-limit", "2000".to_string()),
                ("ratelimit-remaining", "0".to_string()),
                ("ratelimit-reset", reset_at.to_string()),
            ],
            "Retry later",
        )
            .into_response()
    })
    .await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("429");
    let wait = err.retry_after().expect("until the reset");
    assert!(wait <= Duration::from_secs(120) && wait >= Duration::from_secs(110), "{wait:?}");
}

#[tokio::test]
async fn message_and_error_bodies_become_readable_errors() {
    token();
    let server = serve(|req| match req.path.as_str() {
        "/api/v4/projects/acme%2Funauthorized/deployments" => status_json(401, &json!({"message": "401 Unauthorized"})),
        "/api/v4/projects/acme%2Fscope/deployments" => status_json(
            403,
            &json!({"error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "api read_api"}),
        ),
        "/api/v4/projects/acme%2Finvalid/deployments" => {
            status_json(400, &json!({"message": {"environment": ["is invalid"]}}))
        }
        _ => status_json(404, &json!({"message": "404 Project Not Found"})),
    })
    .await;
    let read = |project: &str| {
        let text = config(server.addr, "").replace("acme/{service}", project);
        async move { once(&activate(&text)).await.expect_err("an error") }
    };

    let err = read("acme/unauthorized").await;
    assert_eq!(err, FetchError::Auth { code: 401, detail: "401 Unauthorized".into() });
    assert_eq!(err.to_string(), "HTTP 401 unauthorized: check the token 401 Unauthorized");

    let err = read("acme/scope").await;
    assert!(matches!(err, FetchError::Auth { code: 403, .. }), "{err:?}");
    assert!(err.to_string().contains("insufficient_scope: The request requires higher privileges"), "{err}");

    let err = read("acme/invalid").await;
    assert_eq!(err.to_string(), r#"HTTP 400 Bad Request: {"environment":["is invalid"]}"#);

    let err = read("acme/secret").await;
    assert!(matches!(err, FetchError::Status { code: 404, .. }), "{err:?}");
    assert_eq!(err.to_string(), "HTTP 404 project acme/secret not found (or no access)");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    token();
    let server =
        serve(|_| ([(header::CONTENT_TYPE, "application/json")], "[{\"id\": 42, \"ref\":").into_response()).await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("malformed");
    assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn the_token_never_reaches_an_error_even_from_an_echoing_server() {
    token();
    let server = serve(|req| {
        let echoed = req.header("private-token").unwrap_or_default().to_string();
        (StatusCode::INTERNAL_SERVER_ERROR, format!("debug: PRIVATE-TOKEN={echoed}")).into_response()
    })
    .await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("500");
    assert!(err.to_string().contains("[redacted]"), "{err}");
}

#[tokio::test]
async fn a_redirect_to_another_port_is_not_followed_with_the_token() {
    token();
    let elsewhere = serve(|_| json_response(&json!([]))).await;
    let target = format!("http://{}{LIST}", elsewhere.addr);
    let server = serve(move |_| (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()).await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("not followed");
    assert!(err.to_string().contains("redirect to another host not followed"), "{err}");
    assert_eq!(elsewhere.hits(), 0, "the other server saw no request, so no PRIVATE-TOKEN");
}

#[test]
fn config_errors_name_the_key() {
    token();
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let cases: HashMap<&str, (String, &str)> = HashMap::from([
        (
            "missing variable",
            (
                config(addr, "").replace(TOKEN_VAR, "FDTEST_GITLAB_SURELY_UNSET"),
                "`sources[0].token_env`: environment variable FDTEST_GITLAB_SURELY_UNSET is not set",
            ),
        ),
        ("bad version_from", (config(addr, "version_from = \"/version\""), "`sources[0].version_from`")),
        ("bad auth", (config(addr, "auth = \"basic\""), "`sources[0].auth`")),
        ("bad project", (config(addr, "").replace("acme/{service}", "{service}"), "`sources[0].project`")),
        ("unknown key", (config(addr, "sort = \"asc\""), "sort")),
    ]);
    for (case, (text, expected)) in cases {
        let err = flightdeck::setup::from_toml_str(&text, "test.toml").expect_err(case).to_string();
        assert!(err.contains(expected), "{case}: {err}");
    }
}
