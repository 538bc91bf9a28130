//! The `argocd` source against a fake Argo CD API server on loopback.
//!
//! The fake behaves like Argo CD where it matters: `GET
//! /api/v1/applications/{name}` with a Bearer token; a wrong token is 401
//! (gRPC code 16); a missing app is "permission denied" (403, code 7) unless
//! `?project=` is passed, then 404 (code 5). Every request is recorded, so
//! tests can check the path, the query (never `refresh`) and the header.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flightdeck::model::{Health, Reading};
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{FetchError, HttpContext};

/// Cargo sets `CARGO_PKG_NAME` for every test process: a token variable that
/// exists without the test mutating its environment (`set_var` is unsafe
/// once threads run).
const TOKEN_ENV: &str = "CARGO_PKG_NAME";
const TOKEN: &str = env!("CARGO_PKG_NAME");

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    query: Option<String>,
    authorization: Option<String>,
}

#[derive(Default)]
struct FakeArgo {
    /// App name → (status, body). Anything else is a missing app.
    apps: HashMap<String, (StatusCode, String)>,
    /// The token the server accepts; `None` accepts any request.
    token: Option<String>,
    recorded: Mutex<Vec<Recorded>>,
}

impl FakeArgo {
    fn with_token() -> FakeArgo {
        FakeArgo { token: Some(TOKEN.into()), ..FakeArgo::default() }
    }

    fn app(mut self, name: &str, body: impl Into<String>) -> FakeArgo {
        self.apps.insert(name.into(), (StatusCode::OK, body.into()));
        self
    }

    fn answer(mut self, name: &str, status: StatusCode, body: impl Into<String>) -> FakeArgo {
        self.apps.insert(name.into(), (status, body.into()));
        self
    }
}

fn grpc_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = serde_json::json!({"error": message, "code": code, "message": message}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn application(
    State(fake): State<Arc<FakeArgo>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from);
    fake.recorded.lock().unwrap().push(Recorded {
        path: uri.path().to_string(),
        query: uri.query().map(String::from),
        authorization: authorization.clone(),
    });
    if let Some(token) = &fake.token
        && authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return grpc_error(StatusCode::UNAUTHORIZED, 16, "invalid session: token signature is invalid");
    }
    match fake.apps.get(&name) {
        Some((status, body)) => (*status, [(header::CONTENT_TYPE, "application/json")], body.clone()).into_response(),
        None if uri.query().is_some_and(|q| q.contains("project=")) => {
            grpc_error(StatusCode::NOT_FOUND, 5, &format!("applications.argoproj.io \"{name}\" not found"))
        }
        None => grpc_error(StatusCode::FORBIDDEN, 7, "permission denied"),
    }
}

/// Serve the fake on an ephemeral loopback port, also under `/argocd` (a
/// server behind a path prefix).
async fn serve(fake: FakeArgo) -> (SocketAddr, Arc<FakeArgo>) {
    let fake = Arc::new(fake);
    let app = Router::new()
        .route("/api/v1/applications/{name}", get(application))
        .route("/argocd/api/v1/applications/{name}", get(application))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server");
    });
    (addr, fake)
}

/// A config with `envs` and the service `payments`, and one argocd source.
fn config_text(api_url: &str, envs: &[&str], extra: &str) -> String {
    let environments: String = envs.iter().map(|e| format!("[[environments]]\nname = \"{e}\"\n")).collect();
    format!(
        r#"
{environments}
[[services]]
name = "payments"

[[sources]]
name = "argo"
kind = "argocd"
api_url = "{api_url}"
token_env = "{TOKEN_ENV}"
{extra}
"#
    )
}

async fn sweep(text: &str) -> Vec<SourceUpdate> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().expect("http client");
    let mut updates = sweep_once(&active, config.poller, &ctx, |_, _| {}).await;
    updates.sort_by_key(|u| u.cell.env);
    updates
}

/// One environment (`prod`), one cell: its result, after checking that no
/// request ever asked Argo CD to refresh.
async fn fetch_one(fake: FakeArgo, extra: &str) -> (Result<Reading, FetchError>, Arc<FakeArgo>) {
    let (addr, fake) = serve(fake).await;
    let updates = sweep(&config_text(&format!("http://{addr}"), &["prod"], extra)).await;
    assert_eq!(updates.len(), 1);
    assert_never_refreshed(&fake);
    (updates.into_iter().next().unwrap().result, fake)
}

fn assert_never_refreshed(fake: &FakeArgo) {
    for r in fake.recorded.lock().unwrap().iter() {
        let query = r.query.as_deref().unwrap_or("");
        assert!(!query.contains("refresh"), "a request asked for a refresh: {r:?}");
    }
}

fn recorded(fake: &FakeArgo) -> Vec<Recorded> {
    fake.recorded.lock().unwrap().clone()
}

/// An Application as `GET /api/v1/applications/{name}` returns it (trimmed).
fn application_json(image: &str, health: &str, history: &str, automated: bool) -> String {
    let sync_policy = if automated { r#"{"automated": {"prune": true, "selfHeal": true}}"# } else { "{}" };
    format!(
        r#"{{
  "metadata": {{"name": "payments-prod", "namespace": "argocd", "resourceVersion": "123"}},
  "spec": {{
    "project": "shop",
    "source": {{"repoURL": "https://git.example/shop/deploy.git", "path": "payments/prod", "targetRevision": "main"}},
    "destination": {{"server": "https://kubernetes.default.svc", "namespace": "prod"}},
    "syncPolicy": {sync_policy}
  }},
  "status": {{
    "sync": {{"status": "Synced", "revision": "4f2a9c1e0b7d9a8c"}},
    "health": {{"status": "{health}"}},
    "summary": {{"images": [{image}]}},
    "history": {history},
    "reconciledAt": "2026-11-24T18:06:00Z"
  }}
}}"#
    )
}

const HISTORY: &str = r#"[
  {"id": 3, "revision": "aaa1111", "deployedAt": "2026-11-01T10:00:00Z", "deployStartedAt": "2026-11-01T09:59:00Z"},
  {"id": 10, "revision": "4f2a9c1e0b7d9a8c", "deployedAt": "2026-11-24T18:05:00Z", "initiatedBy": {"automated": true}},
  {"id": 9, "revision": "bbb2222", "deployedAt": "2026-11-20T12:00:00Z"},
  {"id": 2, "revision": "zzz0000", "deployedAt": "2026-10-01T10:00:00Z"}
]"#;

fn standard_app() -> String {
    application_json(r#""registry.example/shop/payments:1.4.0@sha256:feedbeef""#, "Healthy", HISTORY, true)
}

#[tokio::test]
async fn image_tag_is_the_version_with_health_history_and_attributes() {
    let (result, fake) = fetch_one(FakeArgo::with_token().app("payments-prod", standard_app()), "").await;
    let reading = result.expect("a reading");
    assert_eq!(
        reading,
        Reading {
            version: Some("1.4.0".into()),
            build: None,
            commit: None,
            digest: Some("sha256:feedbeef".into()),
            deployed_at: Some("2026-11-24T18:05:00Z".parse().unwrap()),
            health: Some(Health::Up),
            metrics: Vec::new(),
            attributes: vec![
                ("sync".into(), "Synced".into()),
                ("revision".into(), "4f2a9c1e0b7d9a8c".into()),
                ("auto_sync".into(), "true".into()),
                ("history_revision".into(), "4f2a9c1e0b7d9a8c".into()),
                ("previous_revision".into(), "bbb2222".into()),
                ("previous_deployed_at".into(), "2026-11-20T12:00:00Z".into()),
            ],
            // History names revisions, never a tag: no rollback target for
            // the version 1.4.0 here (the journal gives one).
            previous: None,
        }
    );
    let requests = recorded(&fake);
    assert_eq!(requests.len(), 1, "one request per cell: {requests:?}");
    assert_eq!(requests[0].path, "/api/v1/applications/payments-prod");
    assert_eq!(requests[0].query, None, "no query at all without a project");
    assert_eq!(requests[0].authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
}

#[tokio::test]
async fn newest_history_is_the_max_id_whatever_the_order() {
    // ids 10 > 9 > 3 > 2, listed newest-last, and as strings: 10 must beat 9 numerically.
    let history = r#"[
      {"id": "9", "revision": "nine", "deployedAt": "2026-11-20T12:00:00Z"},
      {"id": "2", "revision": "two", "deployedAt": "2026-10-01T10:00:00Z"},
      {"id": "10", "revision": "ten", "deployedAt": "2026-11-24T18:05:00Z"}
    ]"#;
    let body = application_json(r#""payments:1.4.0""#, "Healthy", history, false);
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", body), "").await;
    let reading = result.expect("a reading");
    assert_eq!(reading.deployed_at, Some("2026-11-24T18:05:00Z".parse().unwrap()));
    assert_eq!(reading.attribute("history_revision"), Some("ten"));
    assert_eq!(reading.attribute("previous_revision"), Some("nine"));
}

#[tokio::test]
async fn revision_mode_reads_the_sync_revision() {
    let (result, _) =
        fetch_one(FakeArgo::with_token().app("payments-prod", standard_app()), "version_from = \"revision\"").await;
    let reading = result.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("4f2a9c1e0b7d9a8c"));
    assert_eq!(reading.digest.as_deref(), Some("sha256:feedbeef"));
    // The previous history entry (id 9) is the rollback target.
    assert_eq!(
        reading.previous.map(|p| *p),
        Some(flightdeck::model::rollback::Artifact {
            version: "bbb2222".into(),
            commit: Some("bbb2222".into()),
            deployed_at: Some("2026-11-20T12:00:00Z".parse().unwrap()),
            reference: Some("history id 9".into()),
            ..Default::default()
        })
    );
}

#[tokio::test]
async fn a_resync_of_the_running_revision_is_no_rollback_target() {
    // ids 10 and 11 both synced the running revision; 9 ran before them.
    let history = r#"[
      {"id": 11, "revision": "4f2a9c1e0b7d9a8c", "deployedAt": "2026-11-24T18:05:00Z"},
      {"id": 10, "revision": "4f2a9c1e0b7d9a8c", "deployedAt": "2026-11-23T09:00:00Z"},
      {"id": 9, "revision": "bbb2222", "deployedAt": "2026-11-20T12:00:00Z"}
    ]"#;
    let body = application_json(r#""registry.example/shop/payments:0.2""#, "Healthy", history, false);
    let (result, _) =
        fetch_one(FakeArgo::with_token().app("payments-prod", body.clone()), "version_from = \"revision\"").await;
    let reading = result.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("4f2a9c1e0b7d9a8c"));
    assert_eq!(reading.attribute("previous_revision"), Some("bbb2222"));
    let previous = reading.previous.expect("a previous");
    assert_eq!(
        (previous.version.as_str(), previous.reference.as_deref()),
        ("bbb2222", Some("history id 9")),
        "not id 10, a re-sync of what runs"
    );

    // The tag 0.2 has no rollback target in history at all.
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", body), "").await;
    let reading = result.expect("a reading");
    assert_eq!((reading.version.as_deref(), reading.previous), (Some("0.2"), None));
}

#[tokio::test]
async fn several_images_are_ambiguous_until_image_picks_one() {
    let images = r#""registry.example/shop/payments:1.4.0", "registry.example/shop/payments-migrations:1.4.0",
                    "envoyproxy/envoy:v1.30.1""#;
    let body = application_json(images, "Healthy", HISTORY, true);
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", body.clone()), "").await;
    let err = result.expect_err("ambiguous");
    assert!(matches!(err, FetchError::Field(_)), "{err:?}");
    assert!(err.to_string().starts_with("ambiguous: the app runs 3 images"), "{err}");
    assert!(err.to_string().contains("set `image`"), "{err}");

    let (result, _) =
        fetch_one(FakeArgo::with_token().app("payments-prod", body.clone()), "image = \"payments\"").await;
    assert_eq!(result.expect("picked by name").version.as_deref(), Some("1.4.0"));
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", body), "image = \"nothing-like-it\"").await;
    assert!(result.expect_err("no match").to_string().starts_with("no running image matches `nothing-like-it`"));
}

#[tokio::test]
async fn health_maps_every_argo_status() {
    let cases = [
        ("dev", "Healthy", Health::Up),
        ("qa", "Progressing", Health::Degraded),
        ("uat", "Suspended", Health::Degraded),
        ("stage", "Degraded", Health::Down),
        ("prod", "Missing", Health::Down),
        ("lab", "Unknown", Health::Unknown),
    ];
    let mut fake = FakeArgo::with_token();
    for (env, status, _) in cases {
        fake = fake.app(&format!("payments-{env}"), application_json(r#""payments:2.0.0""#, status, "[]", false));
    }
    let (addr, fake) = serve(fake).await;
    let envs: Vec<&str> = cases.iter().map(|(e, _, _)| *e).collect();
    let updates = sweep(&config_text(&format!("http://{addr}"), &envs, "")).await;
    assert_eq!(updates.len(), cases.len());
    for (update, (env, status, health)) in updates.iter().zip(cases) {
        let reading = update.result.as_ref().unwrap_or_else(|e| panic!("{env}: {e}"));
        assert_eq!(reading.health, Some(health), "{env}: Argo CD {status}");
        assert_eq!(reading.deployed_at, None, "no history, no deployed_at");
    }
    assert_eq!(recorded(&fake).len(), cases.len());
    assert_never_refreshed(&fake);
}

#[tokio::test]
async fn auto_sync_attribute_follows_the_sync_policy() {
    let manual = application_json(r#""payments:1.4.0""#, "Healthy", HISTORY, false);
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", manual), "").await;
    assert_eq!(result.expect("a reading").attribute("auto_sync"), Some("false"));
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", standard_app()), "").await;
    assert_eq!(result.expect("a reading").attribute("auto_sync"), Some("true"));
}

#[tokio::test]
async fn permission_denied_for_a_missing_app_is_a_clear_cell_error() {
    // No app at all: Argo CD answers 403 "permission denied", code 7.
    let (result, fake) = fetch_one(FakeArgo::with_token(), "").await;
    let err = result.expect_err("missing app");
    assert!(matches!(err, FetchError::Other(_)), "not an auth failure: {err:?}");
    assert_eq!(
        err.to_string(),
        "application payments-prod not found or not permitted (Argo CD answers 'permission denied' for missing \
         apps; set `project` to tell them apart)"
    );
    assert_eq!(recorded(&fake).len(), 1);
}

#[tokio::test]
async fn permission_denied_with_a_503_is_read_by_its_grpc_code() {
    // Seen in the wild: code 7 behind an HTTP 503.
    let denied = r#"{"error":"permission denied","code":7,"message":"permission denied"}"#;
    let fake = FakeArgo::with_token().answer("payments-prod", StatusCode::SERVICE_UNAVAILABLE, denied);
    let (result, _) = fetch_one(fake, "").await;
    let err = result.expect_err("denied");
    assert!(matches!(err, FetchError::Other(_)), "not a server error: {err:?}");
    assert_eq!(
        err.to_string(),
        "application payments-prod not found or not permitted (Argo CD answers 'permission denied' for missing \
         apps; set `project` to tell them apart)"
    );
    let fake = FakeArgo::with_token().answer("payments-prod", StatusCode::SERVICE_UNAVAILABLE, denied);
    let (result, _) = fetch_one(fake, "project = \"shop\"").await;
    let err = result.expect_err("denied");
    assert!(matches!(err, FetchError::Auth { code: 403, .. }), "{err:?}");
}

#[tokio::test]
async fn with_a_project_a_missing_app_is_404_and_a_present_one_reads() {
    let (result, fake) = fetch_one(FakeArgo::with_token(), "project = \"shop\"").await;
    let err = result.expect_err("missing app");
    assert!(matches!(err, FetchError::Status { code: 404, .. }), "{err:?}");
    assert_eq!(err.to_string(), "HTTP 404 application payments-prod not found in project shop");
    assert_eq!(recorded(&fake)[0].query.as_deref(), Some("project=shop"));

    let (result, fake) =
        fetch_one(FakeArgo::with_token().app("payments-prod", standard_app()), "project = \"shop\"").await;
    assert_eq!(result.expect("a reading").version.as_deref(), Some("1.4.0"));
    assert_eq!(recorded(&fake)[0].query.as_deref(), Some("project=shop"));
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_failure() {
    let fake =
        FakeArgo { token: Some("another-token".into()), ..FakeArgo::default() }.app("payments-prod", standard_app());
    let (result, fake) = fetch_one(fake, "").await;
    let err = result.expect_err("401");
    assert!(matches!(err, FetchError::Auth { code: 401, .. }), "{err:?}");
    assert!(!err.to_string().contains(&format!("Bearer {TOKEN}")), "the token never shows: {err}");
    assert_eq!(recorded(&fake)[0].authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
}

#[tokio::test]
async fn app_template_and_a_path_prefix_build_the_url() {
    let fake = FakeArgo::with_token().app("shop-payments-prod", standard_app());
    let (addr, fake) = serve(fake).await;
    let text = config_text(&format!("http://{addr}/argocd/"), &["prod"], "app = \"shop-{service}-{env}\"");
    let updates = sweep(&text).await;
    assert_eq!(updates[0].result.as_ref().expect("a reading").version.as_deref(), Some("1.4.0"));
    assert_eq!(recorded(&fake)[0].path, "/argocd/api/v1/applications/shop-payments-prod");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", r#"{"status": {"sync": "#), "").await;
    let err = result.expect_err("malformed");
    assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn an_oversized_body_is_too_large() {
    let huge = format!(r#"{{"padding": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let (result, _) = fetch_one(FakeArgo::with_token().app("payments-prod", huge), "").await;
    assert_eq!(result, Err(FetchError::TooLarge { limit: flightdeck::sources::fetch::MAX_BODY }));
}

#[tokio::test]
async fn a_server_error_keeps_its_status() {
    let fake = FakeArgo::with_token().answer("payments-prod", StatusCode::SERVICE_UNAVAILABLE, "upstream down");
    let (result, _) = fetch_one(fake, "").await;
    assert!(matches!(result, Err(FetchError::Status { code: 503, .. })), "{result:?}");
}

#[test]
fn a_missing_token_variable_fails_at_load_naming_it() {
    let text = config_text("http://127.0.0.1:9", &["prod"], "")
        .replace(TOKEN_ENV, "FLIGHTDECK_TEST_SURELY_UNSET_ARGOCD_TOKEN");
    let err = flightdeck::setup::from_toml_str(&text, "test").expect_err("unset variable").to_string();
    assert!(err.contains("token_env"), "{err}");
    assert!(err.contains("FLIGHTDECK_TEST_SURELY_UNSET_ARGOCD_TOKEN is not set"), "{err}");
}

#[test]
fn options_are_strict() {
    let check = |extra: &str| {
        flightdeck::setup::from_toml_str(&config_text("http://127.0.0.1:9", &["prod"], extra), "test")
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert!(check("").is_ok());
    assert!(check("refresh = \"hard\"").unwrap_err().contains("refresh"), "unknown keys are errors");
    assert!(check("version_from = \"tag\"").unwrap_err().contains("version_from"));
    assert!(check("app = \"{svc}\"").unwrap_err().contains("unknown placeholder {svc}"));
    assert!(check("project = \"\"").unwrap_err().contains("project"));
    let bad_url = config_text("ftp://argocd.example", &["prod"], "");
    assert!(flightdeck::setup::from_toml_str(&bad_url, "test").unwrap_err().to_string().contains("api_url"));
}
