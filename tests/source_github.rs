//! The `github` source against a real HTTP server on loopback serving the
//! shapes of GitHub's deployments API, and its errors.
//!
//! Each test starts its own axum server on 127.0.0.1:0 that records every
//! request (count, path, query, headers), builds the source the way the
//! program does (config text → validate → activate) and sweeps it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use flightdeck::config::PollerSettings;
use flightdeck::model::Reading;
use flightdeck::model::rollback::Artifact;
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{ActiveSource, FetchError, HttpContext};
use serde_json::{Value, json};

const TOKEN_A_VAR: &str = "FDTEST_GITHUB_TOKEN_A";
const TOKEN_A: &str = "ghp_alphaTOKEN0123456789abcdefghijklmn";
const TOKEN_B_VAR: &str = "FDTEST_GITHUB_TOKEN_B";
const TOKEN_B: &str = "ghp_bravoTOKEN9876543210zyxwvutsrqpon";

/// Every test calls this first. The variables are set once per process.
fn tokens() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: edition 2024 marks set_var unsafe because another thread
        // may read the environment at the same time. Every test calls this
        // before it starts a server or a client, and `Once` makes the other
        // tests wait until it is done, so nothing reads while it writes.
        unsafe {
            std::env::set_var(TOKEN_A_VAR, TOKEN_A);
            std::env::set_var(TOKEN_B_VAR, TOKEN_B);
        }
    });
}

/// One request as the server saw it.
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

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn json_response(value: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], value.to_string()).into_response()
}

fn with_headers(mut resp: Response, headers: &[(&'static str, String)]) -> Response {
    for (k, v) in headers {
        resp.headers_mut().insert(*k, v.parse().unwrap());
    }
    resp
}

fn error(code: u16, message: &str, headers: &[(&'static str, String)]) -> Response {
    let mut resp = json_response(&json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": code.to_string(),
    }));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap();
    with_headers(resp, headers)
}

fn deployment(id: u64, git_ref: &str, sha: &str, created_at: &str, payload: Value) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/acme/payments/deployments/{id}"),
        "id": id, "node_id": format!("DE_{id}"), "task": "deploy",
        "original_environment": "production", "environment": "production",
        "description": null, "creator": {"login": "release-bot", "id": 7, "type": "Bot"},
        "sha": sha, "ref": git_ref, "payload": payload,
        "created_at": created_at, "updated_at": created_at,
        "statuses_url": format!("https://api.github.com/repos/acme/payments/deployments/{id}/statuses"),
        "repository_url": "https://api.github.com/repos/acme/payments",
        "transient_environment": false, "production_environment": true,
    })
}

fn status(id: u64, state: &str, created_at: &str) -> Value {
    json!({
        "id": id, "state": state, "description": "", "environment": "production",
        "creator": {"login": "release-bot"}, "created_at": created_at, "updated_at": created_at,
        "target_url": "", "log_url": "",
    })
}

/// A repository `acme/<name>` serving `deployments` and each one's statuses.
fn repo_api(
    name: &'static str,
    deployments: Vec<Value>,
    statuses: HashMap<u64, Vec<Value>>,
) -> impl Fn(&Request) -> Option<Response> + Send + Sync + 'static {
    let list = format!("/repos/acme/{name}/deployments");
    move |req: &Request| {
        if req.path == list {
            return Some(json_response(&Value::Array(deployments.clone())));
        }
        let id: u64 = req.path.strip_prefix(&format!("{list}/"))?.strip_suffix("/statuses")?.parse().ok()?;
        Some(match statuses.get(&id) {
            Some(s) => json_response(&Value::Array(s.clone())),
            None => error(404, "Not Found", &[]),
        })
    }
}

fn not_found() -> Response {
    error(404, "Not Found", &[])
}

/// One environment (`prod`, known to GitHub as `production`), the given
/// services, one `github` source on `addr`; `extra` goes inside the source.
fn config_for(addr: SocketAddr, services: &[&str], extra: &str) -> String {
    let services: String = services.iter().map(|s| format!("[[services]]\nname = \"{s}\"\n\n")).collect();
    format!(
        r#"
[[environments]]
name = "prod"

{services}
[[sources]]
name = "deploys"
kind = "github"
api_url = "http://{addr}"
repo = "acme/{{service}}"
environments_map = {{ prod = "production" }}
{extra}
"#
    )
}

fn config(addr: SocketAddr, extra: &str) -> String {
    config_for(addr, &["payments"], &format!("token_env = \"{TOKEN_A_VAR}\"\n{extra}"))
}

fn activate(text: &str) -> Vec<ActiveSource> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate")
}

/// Sweep every cell once; no error may carry a token.
async fn sweep(active: &[ActiveSource]) -> Vec<SourceUpdate> {
    let ctx = HttpContext::new().expect("http client");
    let updates = sweep_once(active, PollerSettings::default(), &ctx, |_, _| {}).await;
    for update in &updates {
        if let Err(e) = &update.result {
            for text in [e.to_string(), format!("{e:?}")] {
                assert!(!text.contains(TOKEN_A) && !text.contains(TOKEN_B), "a token in an error: {text}");
            }
        }
    }
    updates
}

/// The one cell's result.
async fn once(active: &[ActiveSource]) -> Result<Reading, FetchError> {
    let updates = sweep(active).await;
    assert_eq!(updates.len(), 1, "one cell");
    updates.into_iter().next().unwrap().result
}

/// Results by service name.
async fn by_service(active: &[ActiveSource]) -> HashMap<String, Result<Reading, FetchError>> {
    let names: Vec<String> = active[0].cells.iter().map(|c| c.service.to_string()).collect();
    let cells = active[0].cells.clone();
    sweep(active)
        .await
        .into_iter()
        .map(|u| {
            let i = cells.iter().position(|c| c.key == u.cell).unwrap();
            (names[i].clone(), u.result)
        })
        .collect()
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn picks_the_newest_successful_deployment_whatever_the_list_order() {
    tokens();
    // Oldest first: a walk in the API's order would stop at the inactive 101.
    let deployments = vec![
        deployment(101, "v1.3.0", "aaa111", "2026-11-20T10:00:00Z", json!({})),
        deployment(102, "v1.4.0", "bbb222", "2026-11-24T18:00:00Z", json!({})),
        deployment(103, "v1.5.0", "ccc333", "2026-11-24T18:30:00Z", json!({})),
    ];
    let statuses = HashMap::from([
        (101, vec![status(1, "success", "2026-11-20T10:05:00Z"), status(4, "inactive", "2026-11-24T18:05:00Z")]),
        (102, vec![status(2, "success", "2026-11-24T18:05:00Z"), status(6, "inactive", "2026-11-24T18:36:00Z")]),
        (103, vec![status(5, "in_progress", "2026-11-24T18:31:00Z"), status(7, "success", "2026-11-24T18:36:00Z")]),
    ]);
    let api = repo_api("payments", deployments, statuses);
    let server = serve(move |req| api(req).unwrap_or_else(not_found)).await;
    let active = activate(&config(server.addr, ""));
    assert_eq!(active[0].evidence, flightdeck::model::Evidence::Recorded, "recorded by default");

    let reading = once(&active).await.expect("a reading");
    assert_eq!(
        reading,
        Reading {
            version: Some("v1.5.0".into()),
            commit: Some("ccc333".into()),
            deployed_at: Some("2026-11-24T18:36:00Z".parse().unwrap()),
            attributes: attrs(&[("deployment", "103"), ("state", "success")]),
            // 102 ran before: replaced (inactive), deployed when it succeeded.
            previous: Some(Box::new(Artifact {
                version: "v1.4.0".into(),
                commit: Some("bbb222".into()),
                deployed_at: Some("2026-11-24T18:05:00Z".parse().unwrap()),
                reference: Some("deployment 102".into()),
                ..Artifact::default()
            })),
            ..Reading::default()
        }
    );

    let seen = server.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/repos/acme/payments/deployments",
            "/repos/acme/payments/deployments/103/statuses",
            "/repos/acme/payments/deployments/102/statuses",
        ],
        "101 is not needed"
    );
    assert_eq!(seen[0].param("environment").as_deref(), Some("production"), "environments_map applied");
    assert_eq!(seen[0].param("per_page").as_deref(), Some("100"));
    for req in &seen {
        assert_eq!(req.header("authorization"), Some(format!("Bearer {TOKEN_A}").as_str()));
        assert_eq!(req.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(req.header("x-github-api-version"), Some("2022-11-28"));
        assert!(req.header("user-agent").is_some_and(|ua| ua.starts_with("flightdeck/")), "{req:?}");
    }
}

#[tokio::test]
async fn a_newer_failed_or_in_progress_deployment_is_not_running() {
    tokens();
    let deployments = vec![
        deployment(102, "v1.4.0", "bbb222", "2026-11-24T18:00:00Z", json!({})),
        deployment(104, "v1.6.0", "ddd444", "2026-11-24T19:00:00Z", json!({})),
        deployment(103, "v1.5.0", "ccc333", "2026-11-24T18:30:00Z", json!({})),
    ];
    let statuses = HashMap::from([
        (102, vec![status(2, "success", "2026-11-24T18:05:00Z")]),
        // Succeeded, then failed its checks: the latest status counts. Listed out of order.
        (
            103,
            vec![
                status(9, "failure", "2026-11-24T18:40:00Z"),
                status(5, "in_progress", "2026-11-24T18:31:00Z"),
                status(8, "success", "2026-11-24T18:35:00Z"),
            ],
        ),
        (104, vec![status(11, "in_progress", "2026-11-24T19:01:00Z"), status(10, "queued", "2026-11-24T19:00:30Z")]),
    ]);
    let api = repo_api("payments", deployments, statuses);
    let server = serve(move |req| api(req).unwrap_or_else(not_found)).await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("v1.4.0"));
    assert_eq!(reading.commit.as_deref(), Some("bbb222"));
    assert_eq!(reading.deployed_at, Some("2026-11-24T18:05:00Z".parse().unwrap()));
    assert_eq!(reading.attribute("deployment"), Some("102"));
    assert_eq!(reading.attribute("newer_deployment"), Some("104 in_progress"));
    assert_eq!(server.hits(), 4, "the list and three deployments' statuses");
}

#[tokio::test]
async fn nothing_running_is_a_positive_no_deployment() {
    tokens();
    let failed = repo_api(
        "payments",
        vec![
            deployment(201, "v2.0.0", "eee555", "2026-11-24T18:00:00Z", json!({})),
            deployment(200, "v1.9.0", "fff666", "2026-11-23T18:00:00Z", json!({})),
            deployment(199, "v1.8.0", "ggg777", "2026-11-22T18:00:00Z", json!({})),
        ],
        HashMap::from([
            (201, vec![status(3, "error", "2026-11-24T18:01:00Z")]),
            // Taken down: inactive, and so is everything older.
            (200, vec![status(2, "success", "2026-11-23T18:01:00Z"), status(4, "inactive", "2026-11-24T17:00:00Z")]),
            (199, vec![status(1, "success", "2026-11-22T18:01:00Z")]),
        ]),
    );
    let empty = repo_api("ledger", Vec::new(), HashMap::new());
    let server = serve(move |req| failed(req).or_else(|| empty(req)).unwrap_or_else(not_found)).await;
    let text = config_for(server.addr, &["payments", "ledger"], &format!("token_env = \"{TOKEN_A_VAR}\""));
    let results = by_service(&activate(&text)).await;

    let payments = results["payments"].clone().expect("a reading");
    assert_eq!(payments.version, None, "{payments:?}");
    assert_eq!(payments.attribute("deployment"), Some("201"));
    assert_eq!(payments.attribute("state"), Some("error"));
    let ledger = results["ledger"].clone().expect("a reading");
    assert_eq!(ledger.version, None);
    assert_eq!(ledger.attribute("state"), Some("no deployments"));
    assert!(
        !server.seen().iter().any(|s| s.path.ends_with("/199/statuses")),
        "nothing older than an inactive deployment is read"
    );
}

#[tokio::test]
async fn previous_skips_redeploys_and_failed_deployments() {
    tokens();
    let deployments = vec![
        deployment(105, "v2.0.0", "e105", "2026-11-25T10:00:00Z", json!({})),
        // A redeploy of the running version: never a rollback target, no lookup.
        deployment(104, "v2.0.0", "e104", "2026-11-25T09:00:00Z", json!({})),
        deployment(103, "v1.9.0", "e103", "2026-11-25T08:00:00Z", json!({})),
        deployment(102, "v1.8.0", "e102", "2026-11-24T08:00:00Z", json!({})),
        deployment(101, "v1.7.0", "e101", "2026-11-23T08:00:00Z", json!({})),
    ];
    let statuses = HashMap::from([
        (105, vec![status(50, "success", "2026-11-25T10:02:00Z")]),
        (104, vec![status(40, "success", "2026-11-25T09:02:00Z"), status(41, "inactive", "2026-11-25T10:02:00Z")]),
        (103, vec![status(30, "in_progress", "2026-11-25T08:01:00Z"), status(31, "failure", "2026-11-25T08:03:00Z")]),
        (102, vec![status(20, "success", "2026-11-24T08:02:00Z"), status(21, "inactive", "2026-11-25T09:02:00Z")]),
        (101, vec![status(10, "success", "2026-11-23T08:02:00Z"), status(11, "inactive", "2026-11-24T08:02:00Z")]),
    ]);
    let api = repo_api("payments", deployments, statuses);
    let server = serve(move |req| api(req).unwrap_or_else(not_found)).await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("v2.0.0"));
    let previous = reading.previous.expect("a previous version");
    assert_eq!(previous.version, "v1.8.0", "103 failed: 102 is what ran before");
    assert_eq!(previous.commit.as_deref(), Some("e102"));
    assert_eq!(previous.reference.as_deref(), Some("deployment 102"));
    assert_eq!(previous.deployed_at, Some("2026-11-24T08:02:00Z".parse().unwrap()));
    assert!(previous.identifiable());
    let asked: Vec<String> = server.seen().into_iter().skip(1).map(|s| s.path).collect();
    let asked: Vec<&str> = asked.iter().map(|p| p.trim_start_matches("/repos/acme/payments/deployments/")).collect();
    assert_eq!(asked, ["105/statuses", "103/statuses", "102/statuses"]);
}

#[tokio::test]
async fn a_failing_older_lookup_keeps_the_running_deployment() {
    tokens();
    let server = serve(|req| match req.path.as_str() {
        "/repos/acme/payments/deployments" => json_response(&json!([
            deployment(103, "v1.5.0", "ccc333", "2026-11-24T18:30:00Z", json!({})),
            deployment(102, "v1.4.0", "bbb222", "2026-11-24T18:00:00Z", json!({})),
        ])),
        "/repos/acme/payments/deployments/103/statuses" => {
            json_response(&json!([status(7, "success", "2026-11-24T18:36:00Z")]))
        }
        _ => error(502, "Server Error", &[]),
    })
    .await;
    let reading = once(&activate(&config(server.addr, ""))).await.expect("the cell keeps its reading");
    assert_eq!(reading.version.as_deref(), Some("v1.5.0"));
    assert_eq!(reading.commit.as_deref(), Some("ccc333"));
    assert_eq!(reading.previous, None);
    assert_eq!(server.hits(), 3, "the older lookup was tried once");
}

#[tokio::test]
async fn version_from_a_payload_pointer_as_object_or_json_string() {
    tokens();
    let object = repo_api(
        "payments",
        vec![deployment(1, "main", "abc123", "2026-11-24T18:00:00Z", json!({"version": "1.4.0", "build": 812}))],
        HashMap::from([(1, vec![status(1, "success", "2026-11-24T18:01:00Z")])]),
    );
    let string = repo_api(
        "ledger",
        vec![deployment(2, "main", "def456", "2026-11-24T18:00:00Z", json!("{\"version\":\"2.0.1\"}"))],
        HashMap::from([(2, vec![status(2, "success", "2026-11-24T18:02:00Z")])]),
    );
    let server = serve(move |req| object(req).or_else(|| string(req)).unwrap_or_else(not_found)).await;
    let text = config_for(
        server.addr,
        &["payments", "ledger"],
        &format!("token_env = \"{TOKEN_A_VAR}\"\nversion_from = \"/version\""),
    );
    let results = by_service(&activate(&text)).await;
    let payments = results["payments"].clone().expect("object payload");
    assert_eq!(payments.version.as_deref(), Some("1.4.0"));
    assert_eq!(payments.commit.as_deref(), Some("abc123"));
    assert_eq!(payments.attribute("ref"), Some("main"));
    let ledger = results["ledger"].clone().expect("string payload");
    assert_eq!(ledger.version.as_deref(), Some("2.0.1"));

    // A pointer that finds nothing is a readable error naming it.
    let text = config_for(server.addr, &["payments"], "version_from = \"/app/version\"");
    let err = once(&activate(&text)).await.expect_err("no such value");
    assert_eq!(err.to_string(), "deployment 1 has no payload value at `/app/version`");
    // Without token_env no Authorization header goes out at all.
    assert!(server.seen().last().is_some_and(|s| s.header("authorization").is_none()));
}

#[tokio::test]
async fn link_pagination_is_followed_and_capped() {
    tokens();
    let ledger_pages = Arc::new(AtomicUsize::new(0));
    let pages = ledger_pages.clone();
    let server = serve(move |req| {
        let host = req.header("host").unwrap_or_default().to_string();
        match req.path.as_str() {
            // Page 1 holds only old history; the next page is at a URL the
            // client could not guess.
            "/repos/acme/payments/deployments" => with_headers(
                json_response(&json!([deployment(101, "v1.3.0", "aaa111", "2026-11-20T10:00:00Z", json!({}))])),
                &[(
                    "link",
                    format!(
                        "<http://{host}/repositories/42/deployments?environment=production&per_page=100&page=2>; rel=\"next\", \
                         <http://{host}/repositories/42/deployments?environment=production&per_page=100&page=2>; rel=\"last\""
                    ),
                )],
            ),
            "/repositories/42/deployments" => {
                json_response(&json!([deployment(103, "v1.5.0", "ccc333", "2026-11-24T18:30:00Z", json!({}))]))
            }
            "/repos/acme/payments/deployments/103/statuses" => {
                json_response(&json!([status(7, "success", "2026-11-24T18:36:00Z")]))
            }
            // Endless pages: the source stops after a few.
            "/repos/acme/ledger/deployments" | "/ledger/more" => {
                let n = pages.fetch_add(1, Ordering::SeqCst) + 1;
                with_headers(
                    json_response(&json!([])),
                    &[("link", format!("<http://{host}/ledger/more?page={}>; rel=\"next\"", n + 1))],
                )
            }
            _ => not_found(),
        }
    })
    .await;
    let text = config_for(server.addr, &["payments", "ledger"], &format!("token_env = \"{TOKEN_A_VAR}\""));
    let results = by_service(&activate(&text)).await;

    let payments = results["payments"].clone().expect("a reading");
    assert_eq!(payments.version.as_deref(), Some("v1.5.0"), "the newest is on page 2");
    let page2 = server.seen().into_iter().find(|s| s.path == "/repositories/42/deployments").expect("page 2 read");
    assert_eq!(page2.param("page").as_deref(), Some("2"));
    assert_eq!(page2.header("authorization"), Some(format!("Bearer {TOKEN_A}").as_str()));

    assert_eq!(results["ledger"].clone().expect("a reading").version, None);
    assert_eq!(ledger_pages.load(Ordering::SeqCst), 3, "pagination is capped");
}

#[tokio::test]
async fn unchanged_resources_are_answered_304_with_the_exact_etag() {
    tokens();
    const LIST_ETAG: &str = "W/\"5b0a1c-list\"";
    const STATUS_ETAG: &str = "\"st-103-v1\"";
    let not_modified = Arc::new(AtomicUsize::new(0));
    let counter = not_modified.clone();
    let reset = (now() + 3600).to_string();
    let server = serve(move |req| {
        let limits = [
            ("x-ratelimit-limit", "5000".to_string()),
            ("x-ratelimit-remaining", "4990".to_string()),
            ("x-ratelimit-reset", reset.clone()),
        ];
        let (etag, body) = match req.path.as_str() {
            "/repos/acme/payments/deployments" => {
                (LIST_ETAG, json!([deployment(103, "v1.5.0", "ccc333", "2026-11-24T18:30:00Z", json!({}))]))
            }
            "/repos/acme/payments/deployments/103/statuses" => {
                (STATUS_ETAG, json!([status(7, "success", "2026-11-24T18:36:00Z")]))
            }
            _ => return not_found(),
        };
        if req.header("if-none-match") == Some(etag) {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut resp = with_headers(StatusCode::NOT_MODIFIED.into_response(), &limits);
            resp.headers_mut().insert("etag", etag.parse().unwrap());
            return resp;
        }
        let mut resp = with_headers(json_response(&body), &limits);
        resp.headers_mut().insert("etag", etag.parse().unwrap());
        resp
    })
    .await;
    let active = activate(&config(server.addr, ""));

    let first = once(&active).await.expect("first reading");
    assert_eq!(first.version.as_deref(), Some("v1.5.0"));
    assert_eq!(not_modified.load(Ordering::SeqCst), 0);
    assert!(server.seen().iter().all(|s| s.header("if-none-match").is_none()), "nothing cached yet");

    let second = once(&active).await.expect("second reading");
    assert_eq!(second, first, "the cached bodies give the same reading");
    assert_eq!(not_modified.load(Ordering::SeqCst), 2, "both requests were answered 304");
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[2].header("if-none-match"), Some(LIST_ETAG), "sent back verbatim, W/ and quotes included");
    assert_eq!(seen[3].header("if-none-match"), Some(STATUS_ETAG));
}

#[tokio::test]
async fn the_etag_cache_is_per_token() {
    tokens();
    let server = serve(|req| {
        let etag = "\"same-for-everyone\"";
        if req.header("if-none-match") == Some(etag) {
            let mut resp = StatusCode::NOT_MODIFIED.into_response();
            resp.headers_mut().insert("etag", etag.parse().unwrap());
            return resp;
        }
        let body = match req.path.as_str() {
            "/repos/acme/payments/deployments" => {
                json!([deployment(103, "v1.5.0", "ccc333", "2026-11-24T18:30:00Z", json!({}))])
            }
            "/repos/acme/payments/deployments/103/statuses" => json!([status(7, "success", "2026-11-24T18:36:00Z")]),
            _ => return not_found(),
        };
        with_headers(json_response(&body), &[("etag", etag.to_string())])
    })
    .await;
    let token_a = activate(&config(server.addr, ""));
    let token_b = activate(&config(server.addr, "").replace(TOKEN_A_VAR, TOKEN_B_VAR));

    once(&token_a).await.expect("token A, first");
    once(&token_a).await.expect("token A, second");
    let seen = server.seen();
    assert!(seen[2..4].iter().all(|s| s.header("if-none-match").is_some()), "token A reuses its cache");

    let b = once(&token_b).await.expect("token B");
    assert_eq!(b.version.as_deref(), Some("v1.5.0"));
    let seen = server.seen();
    assert_eq!(seen.len(), 6);
    for req in &seen[4..] {
        assert_eq!(req.header("authorization"), Some(format!("Bearer {TOKEN_B}").as_str()));
        assert_eq!(req.header("if-none-match"), None, "token B does not reuse token A's cache");
    }
}

#[tokio::test]
async fn a_low_budget_holds_requests_back_without_sending_them() {
    tokens();
    let remaining = Arc::new(AtomicU64::new(4000));
    let left = remaining.clone();
    let reset_at = now() + 600;
    let deployments = repo_api(
        "payments",
        vec![deployment(1, "v1.0.0", "abc", "2026-11-24T18:00:00Z", json!({}))],
        HashMap::from([(1, vec![status(1, "success", "2026-11-24T18:01:00Z")])]),
    );
    let ledger = repo_api(
        "ledger",
        vec![deployment(2, "v2.0.0", "def", "2026-11-24T18:00:00Z", json!({}))],
        HashMap::from([(2, vec![status(2, "success", "2026-11-24T18:01:00Z")])]),
    );
    let server = serve(move |req| {
        let resp = deployments(req).or_else(|| ledger(req)).unwrap_or_else(not_found);
        with_headers(
            resp,
            &[
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", left.load(Ordering::SeqCst).to_string()),
                ("x-ratelimit-used", "1000".into()),
                ("x-ratelimit-reset", reset_at.to_string()),
                ("x-ratelimit-resource", "core".into()),
            ],
        )
    })
    .await;
    let text = config_for(server.addr, &["payments", "ledger"], &format!("token_env = \"{TOKEN_A_VAR}\""));
    let active = activate(&text);

    let results = by_service(&active).await;
    assert!(results.values().all(Result::is_ok), "plenty left: {results:?}");
    assert_eq!(server.hits(), 4);

    // Under 5% of the limit: what is in flight finishes, then the source
    // stops asking, for every cell of the token.
    remaining.store(100, Ordering::SeqCst);
    let _ = by_service(&active).await;
    let after_low = server.hits();
    assert!(after_low <= 6, "at most the two list requests went out: {after_low}");

    let results = by_service(&active).await;
    assert_eq!(server.hits(), after_low, "no request reached the server");
    for (service, result) in results {
        let err = result.expect_err("held back");
        assert!(matches!(err, FetchError::HeldBack { .. }), "{service}: {err:?}");
        let wait = err.retry_after().expect("a wait");
        assert!(wait <= Duration::from_secs(600) && wait >= Duration::from_secs(590), "{wait:?}");
        assert!(err.to_string().contains("no request sent"), "{err}");
        assert!(!err.to_string().contains("HTTP"), "nothing was asked of the server: {err}");
    }
}

#[tokio::test]
async fn a_spent_rate_limit_waits_until_the_reset() {
    tokens();
    let reset_at = now() + 900;
    let server = serve(move |_| {
        error(
            403,
            "API rate limit exceeded for user ID 1.",
            &[
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset_at.to_string()),
            ],
        )
    })
    .await;
    let active = activate(&config(server.addr, ""));
    let err = once(&active).await.expect_err("rate limited");
    let FetchError::RateLimited { code, retry_after: Some(wait), .. } = &err else {
        panic!("expected RateLimited with a wait, got {err:?}");
    };
    assert_eq!(*code, 403);
    assert!(*wait <= Duration::from_secs(900) && *wait >= Duration::from_secs(890), "{wait:?}");
    assert!(err.to_string().contains("API rate limit exceeded"), "{err}");

    let again = once(&active).await.expect_err("still limited");
    assert!(matches!(again, FetchError::HeldBack { .. }), "{again:?}");
    assert_eq!(server.hits(), 1, "nothing is sent before the reset");
}

#[tokio::test]
async fn forbidden_or_unauthorized_without_rate_limit_signs_is_auth() {
    tokens();
    let server = serve(|req| match req.path.as_str() {
        "/repos/acme/payments/deployments" => error(403, "Resource not accessible by personal access token", &[]),
        _ => error(401, "Bad credentials", &[]),
    })
    .await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("403");
    assert_eq!(err, FetchError::Auth { code: 403, detail: "Resource not accessible by personal access token".into() });
    assert!(err.to_string().contains("check the token"), "{err}");

    let text = config(server.addr, "").replace("acme/{service}", "acme/other");
    let err = once(&activate(&text)).await.expect_err("401");
    assert_eq!(err, FetchError::Auth { code: 401, detail: "Bad credentials".into() });
    assert_eq!(err.to_string(), "HTTP 401 unauthorized: check the token Bad credentials");
}

#[tokio::test]
async fn too_many_requests_and_secondary_limits_say_when_to_come_back() {
    tokens();
    let server = serve(|req| match req.path.as_str() {
        "/repos/acme/payments/deployments" => error(429, "slow down", &[("retry-after", "42".into())]),
        // A secondary limit without any hint: at least a minute.
        _ => error(403, "You have exceeded a secondary rate limit. Please wait a few minutes.", &[]),
    })
    .await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("429");
    assert!(matches!(err, FetchError::RateLimited { code: 429, .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));

    let text = config(server.addr, "").replace("acme/{service}", "acme/other");
    let err = once(&activate(&text)).await.expect_err("secondary");
    assert!(matches!(err, FetchError::RateLimited { code: 403, .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn an_unknown_repository_is_404_not_found_or_no_access() {
    tokens();
    let server = serve(|_| not_found()).await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("404");
    assert!(matches!(err, FetchError::Status { code: 404, .. }), "{err:?}");
    assert_eq!(err.to_string(), "HTTP 404 repository acme/payments not found (or no access)");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    tokens();
    let server =
        serve(|_| ([(header::CONTENT_TYPE, "application/json")], "[{\"id\": 1, \"sha\": ").into_response()).await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("malformed");
    assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
}

#[test]
fn a_missing_token_variable_is_a_config_error_naming_it() {
    tokens();
    let text = config_for("127.0.0.1:9".parse().unwrap(), &["payments"], "token_env = \"FDTEST_GITHUB_SURELY_UNSET\"");
    let err = flightdeck::setup::from_toml_str(&text, "test.toml").expect_err("a config error").to_string();
    assert!(err.contains("`sources[0].token_env`"), "{err}");
    assert!(err.contains("environment variable FDTEST_GITHUB_SURELY_UNSET is not set"), "{err}");

    let text = config_for("127.0.0.1:9".parse().unwrap(), &["payments"], "version_from = \"tag\"\nrepo_url = \"x\"");
    let err = flightdeck::setup::from_toml_str(&text, "test.toml").expect_err("unknown key").to_string();
    assert!(err.contains("repo_url"), "unknown keys are named: {err}");
}

#[tokio::test]
async fn the_token_never_reaches_an_error_even_from_an_echoing_server() {
    tokens();
    // A debug endpoint that echoes the request's Authorization header.
    let server = serve(|req| {
        let auth = req.header("authorization").unwrap_or_default().to_string();
        let code = if req.path.contains("payments") { 500 } else { 401 };
        (StatusCode::from_u16(code).unwrap(), format!("debug: authorization={auth}")).into_response()
    })
    .await;
    for repo in ["acme/{service}", "acme/other"] {
        let text = config(server.addr, "").replace("acme/{service}", repo);
        let err = once(&activate(&text)).await.expect_err("an error");
        // `sweep` already asserts that no token is in the text.
        assert!(err.to_string().contains("[redacted]"), "{err}");
    }
    assert!(server.seen().iter().all(|s| s.header("authorization") == Some(&format!("Bearer {TOKEN_A}"))));
}

#[tokio::test]
async fn a_redirect_to_another_port_is_not_followed_with_the_token() {
    tokens();
    let elsewhere = serve(|_| json_response(&json!([]))).await;
    let target = format!("http://{}/repos/acme/payments/deployments", elsewhere.addr);
    let server = serve(move |_| (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()).await;
    let err = once(&activate(&config(server.addr, ""))).await.expect_err("not followed");
    assert!(err.to_string().contains("redirect to another host not followed"), "{err}");
    assert_eq!(server.hits(), 1);
    assert_eq!(elsewhere.hits(), 0, "the other server saw no request at all");
    assert!(elsewhere.seen().iter().all(|s| s.header("authorization").is_none()));
}
