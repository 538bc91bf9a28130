//! The generic `http` source against a real HTTP server on loopback.
//!
//! Each test starts its own axum server on 127.0.0.1:0, builds the source
//! through the public API the way the program does (config text → validate
//! → activate → sweep or poller), and checks what comes out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flightdeck::model::{Health, Reading};
use flightdeck::poller::{Poller, SourceUpdate, sweep_once};
use flightdeck::sources::{FetchError, HttpContext};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Serve `app` on an ephemeral loopback port for the rest of the test.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server");
    });
    addr
}

/// A whole config with one environment (`prod`), one service (`payments`)
/// and one `http` source reading `url`; `extra` is appended inside the
/// source (more keys, or a `[sources.fields]` table).
fn config_text(url: &str, extra: &str) -> String {
    format!(
        r#"
[[environments]]
name = "prod"

[[services]]
name = "payments"

[[sources]]
name = "under-test"
kind = "http"
url = "{url}"
{extra}
"#
    )
}

/// Load `text`, activate its sources and sweep every cell once.
async fn sweep(text: &str) -> Vec<SourceUpdate> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().expect("http client");
    sweep_once(&active, config.poller, &ctx, |_, _| {}).await
}

/// Serve `app`, point the source at `path` on it, and return the one result.
async fn fetch_one(app: Router, path: &str, extra: &str) -> Result<Reading, FetchError> {
    let addr = serve(app).await;
    let updates = sweep(&config_text(&format!("http://{addr}{path}"), extra)).await;
    assert_eq!(updates.len(), 1, "one environment × one service is one cell");
    assert_eq!(&*updates[0].source, "under-test");
    updates.into_iter().next().unwrap().result
}

fn json(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tokio::test]
async fn json_with_all_fields_is_decoded_exactly() {
    let app = Router::new().route(
        "/{env}/{service}",
        get(|Path((env, service)): Path<(String, String)>| async move {
            assert_eq!((env.as_str(), service.as_str()), ("prod", "payments"), "placeholders rendered");
            json(
                r#"{"version":"1.4.0","build":812,"commit":"abc1234","digest":"sha256:feed",
                    "deployed_at":"2026-11-24T18:00:00Z","health":"UP"}"#,
            )
        }),
    );
    let reading = fetch_one(app, "/{env}/{service}", "").await.expect("a reading");
    assert_eq!(
        reading,
        Reading {
            version: Some("1.4.0".into()),
            build: Some("812".into()),
            commit: Some("abc1234".into()),
            digest: Some("sha256:feed".into()),
            deployed_at: Some("2026-11-24T18:00:00Z".parse().unwrap()),
            health: Some(Health::Up),
            metrics: Vec::new(),
            attributes: Vec::new(),
            previous: None,
        }
    );
}

#[tokio::test]
async fn custom_field_pointers_read_spring_actuator_shape() {
    let app = Router::new().route(
        "/{service}/actuator/info",
        get(|| async {
            json(
                r#"{"git":{"branch":"main","commit":{"id":"4f2a9c1","time":"2026-11-20T10:00:00Z"}},
                    "build":{"artifact":"payments","version":"2.3.0","time":"2026-11-20T10:05:00Z"},
                    "status":{"status":"UP"}}"#,
            )
        }),
    );
    let fields = r#"
[sources.fields]
version = "/build/version"
commit = "/git/commit/id"
deployed_at = "/build/time"
health = "/status"
"#;
    let reading = fetch_one(app, "/{service}/actuator/info", fields).await.expect("a reading");
    assert_eq!(
        reading,
        Reading {
            version: Some("2.3.0".into()),
            build: None,
            commit: Some("4f2a9c1".into()),
            digest: None,
            deployed_at: Some("2026-11-20T10:05:00Z".parse().unwrap()),
            health: Some(Health::Up),
            metrics: Vec::new(),
            attributes: Vec::new(),
            previous: None,
        }
    );
}

#[tokio::test]
async fn plain_text_body_is_the_version() {
    let app = Router::new().route(
        "/{env}/{service}/version",
        get(|| async { ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "v2.0.1\n") }),
    );
    let reading = fetch_one(app, "/{env}/{service}/version", "").await.expect("a reading");
    assert_eq!(reading, Reading::version("v2.0.1"));
}

#[tokio::test]
async fn json_missing_optional_fields_leaves_them_none() {
    let app = Router::new().route("/{env}/{service}", get(|| async { json(r#"{"version":"3.1.0"}"#) }));
    let reading = fetch_one(app, "/{env}/{service}", "").await.expect("a reading");
    assert_eq!(reading, Reading::version("3.1.0"));
    assert!(reading.build.is_none() && reading.commit.is_none() && reading.digest.is_none());
    assert!(reading.deployed_at.is_none() && reading.health.is_none());
}

#[tokio::test]
async fn json_missing_version_names_the_pointer() {
    let app = Router::new().route("/{env}/{service}", get(|| async { json(r#"{"build":"812","commit":"abc1234"}"#) }));
    let err = fetch_one(app.clone(), "/{env}/{service}", "").await.expect_err("no version");
    assert!(matches!(err, FetchError::Field(_)), "{err:?}");
    assert!(err.to_string().contains("`/version`"), "names the default pointer: {err}");

    let fields = "[sources.fields]\nversion = \"/app/version\"\n";
    let err = fetch_one(app, "/{env}/{service}", fields).await.expect_err("no version");
    assert!(err.to_string().contains("`/app/version`"), "names the configured pointer: {err}");
}

#[tokio::test]
async fn not_found_is_status_404() {
    // No route matches: axum answers 404 itself.
    let app = Router::new().route("/elsewhere", get(|| async { "1.0.0" }));
    let err = fetch_one(app, "/{env}/{service}", "").await.expect_err("404");
    assert!(matches!(err, FetchError::Status { code: 404, .. }), "{err:?}");
    assert!(err.to_string().starts_with("HTTP 404"), "{err}");
}

#[tokio::test]
async fn server_error_is_status_500_with_a_clean_snippet() {
    let app = Router::new().route(
        "/{env}/{service}",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "database \u{1b}[31mon fire\u{1b}[0m") }),
    );
    let err = fetch_one(app, "/{env}/{service}", "").await.expect_err("500");
    match &err {
        FetchError::Status { code, detail } => {
            assert_eq!(*code, 500);
            assert_eq!(detail, "Internal Server Error: database on fire");
        }
        other => panic!("expected Status 500, got {other:?}"),
    }
}

#[tokio::test]
async fn slow_endpoint_times_out_promptly() {
    let app = Router::new().route(
        "/{env}/{service}",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "1.0.0"
        }),
    );
    let started = Instant::now();
    let err = fetch_one(app, "/{env}/{service}", "timeout = \"300ms\"").await;
    let elapsed = started.elapsed();
    assert_eq!(err, Err(FetchError::Timeout(Duration::from_millis(300))));
    assert!(elapsed < Duration::from_secs(5), "the sweep waited {elapsed:?}");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let app = Router::new().route("/{env}/{service}", get(|| async { json(r#"{"version": "1.0"#) }));
    let err = fetch_one(app, "/{env}/{service}", "").await.expect_err("malformed");
    assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
    assert!(err.to_string().starts_with("malformed JSON:"), "{err}");
}

const TWO_MIB: usize = 2 * 1024 * 1024;

#[tokio::test]
async fn oversized_body_with_content_length_is_too_large() {
    let app = Router::new()
        .route("/{env}/{service}", get(|| async { ([(header::CONTENT_TYPE, "text/plain")], vec![b'x'; TWO_MIB]) }));
    let err = fetch_one(app, "/{env}/{service}", "").await.expect_err("too large");
    assert_eq!(err, FetchError::TooLarge { limit: flightdeck::sources::fetch::MAX_BODY });
}

#[tokio::test]
async fn oversized_streamed_body_without_length_is_too_large() {
    let app = Router::new().route(
        "/{env}/{service}",
        get(|| async {
            // 32 chunks of 64 KiB, no Content-Length: chunked transfer.
            let chunks =
                futures::stream::iter((0..32).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 64 * 1024]))));
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(chunks))
                .unwrap()
        }),
    );
    let err = fetch_one(app, "/{env}/{service}", "").await.expect_err("too large");
    assert_eq!(err, FetchError::TooLarge { limit: flightdeck::sources::fetch::MAX_BODY });
}

#[tokio::test]
async fn a_huge_error_page_is_reported_by_its_status() {
    let app = Router::new()
        .route("/{env}/{service}", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, vec![b'z'; TWO_MIB]) }));
    let err = fetch_one(app, "/{env}/{service}", "").await.expect_err("503");
    assert!(matches!(err, FetchError::Status { code: 503, .. }), "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_connect() {
    // Take a free port, then close it: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let updates = sweep(&config_text(&format!("http://127.0.0.1:{port}/{{env}}/{{service}}"), "")).await;
    assert_eq!(updates.len(), 1);
    let err = updates[0].result.clone().expect_err("refused");
    assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
    assert!(err.to_string().starts_with("cannot connect:"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn terminal_escapes_in_a_version_arrive_cleaned() {
    let app = Router::new().route(
        "/{env}/{service}",
        get(|| async {
            // JSON escapes: they decode to a real ESC, CSI, bidi override, BEL.
            json(r#"{"version":"1.4.0\u001b[31m-rc\u202e1\u0007","commit":"\u001b]0;pwned\u0007abc"}"#)
        }),
    );
    let reading = fetch_one(app, "/{env}/{service}", "").await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("1.4.0-rc1"));
    assert_eq!(reading.commit.as_deref(), Some("abc"));
    for text in [reading.version.unwrap(), reading.commit.unwrap()] {
        assert!(!text.chars().any(|c| c.is_control() || c == '\u{202e}'), "{text:?}");
    }
}

/// Two services in one environment; `bad` always answers 500.
fn poller_config(addr: SocketAddr, every: &str) -> flightdeck::config::Config {
    let text = format!(
        r#"
[[environments]]
name = "prod"

[[services]]
name = "good"

[[services]]
name = "bad"

[[sources]]
name = "under-test"
kind = "http"
url = "http://{addr}/{{env}}/{{service}}"
every = "{every}"
timeout = "1s"

[poller]
max_backoff = "10s"
"#
    );
    flightdeck::setup::from_toml_str(&text, "test").unwrap_or_else(|e| panic!("config: {e}"))
}

#[derive(Default)]
struct Hits {
    good: AtomicUsize,
    bad: AtomicUsize,
}

async fn counting_server() -> (SocketAddr, Arc<Hits>) {
    let hits = Arc::new(Hits::default());
    let app = Router::new()
        .route(
            "/{env}/{service}",
            get(|State(hits): State<Arc<Hits>>, Path((_env, service)): Path<(String, String)>| async move {
                if service == "bad" {
                    hits.bad.fetch_add(1, Ordering::SeqCst);
                    (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
                } else {
                    hits.good.fetch_add(1, Ordering::SeqCst);
                    json(r#"{"version":"1.0.0"}"#)
                }
            }),
        )
        .with_state(hits.clone());
    (serve(app).await, hits)
}

async fn next(rx: &mut mpsc::Receiver<SourceUpdate>) -> SourceUpdate {
    tokio::time::timeout(Duration::from_secs(2), rx.recv()).await.expect("an update in time").expect("poller running")
}

fn start_poller(config: &flightdeck::config::Config, tx: mpsc::Sender<SourceUpdate>) -> Poller {
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let thread = flightdeck::poller::PollerThread::start().expect("the poller's thread");
    Poller::spawn(&thread, active, config.poller, HttpContext::new().expect("http client"), tx)
}

#[tokio::test]
async fn poller_backs_off_failing_cells_and_keeps_polling_good_ones() {
    let (addr, hits) = counting_server().await;
    let config = poller_config(addr, "100ms");
    let good = config.fleet.service_idx("good").unwrap();
    let bad = config.fleet.service_idx("bad").unwrap();
    let (tx, mut rx) = mpsc::channel(1024);
    let poller = start_poller(&config, tx);

    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(poller);
    let (good_hits, bad_hits) = (hits.good.load(Ordering::SeqCst), hits.bad.load(Ordering::SeqCst));

    // Without backoff both would be near 15; with it, `bad` is fetched at
    // about 0, 0.1, 0.3, 0.7 and 1.5 s (±20%): at most 5 times.
    assert!(bad_hits >= 2, "the failing cell is retried: {bad_hits}");
    assert!(bad_hits <= 5, "the failing cell backs off: {bad_hits} fetches in 1.5 s");
    assert!(good_hits >= 6, "the good cell keeps its schedule: {good_hits} fetches in 1.5 s");
    assert!(good_hits >= 2 * bad_hits, "good {good_hits} vs bad {bad_hits}");

    let mut updates = Vec::new();
    while let Ok(update) = rx.try_recv() {
        updates.push(update);
    }
    let ok: Vec<_> = updates.iter().filter(|u| u.cell.service == good).collect();
    let failed: Vec<_> = updates.iter().filter(|u| u.cell.service == bad).collect();
    assert!(ok.len() >= 6, "updates for the good cell arrive: {}", ok.len());
    assert!(!failed.is_empty(), "updates for the failing cell arrive too");
    assert!(ok.iter().all(|u| u.result == Ok(Reading::version("1.0.0"))), "{ok:?}");
    assert!(failed.iter().all(|u| matches!(u.result, Err(FetchError::Status { code: 500, .. }))), "{failed:?}");
    assert!(updates.iter().all(|u| &*u.source == "under-test"));
}

#[tokio::test]
async fn refresh_now_fetches_every_cell_immediately() {
    let (addr, hits) = counting_server().await;
    // Polled hourly: any second fetch within the test is the refresh.
    let config = poller_config(addr, "1h");
    let (tx, mut rx) = mpsc::channel(64);
    let poller = start_poller(&config, tx);

    // The first round: both cells at once.
    next(&mut rx).await;
    next(&mut rx).await;
    assert_eq!((hits.good.load(Ordering::SeqCst), hits.bad.load(Ordering::SeqCst)), (1, 1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.try_recv().is_err(), "nothing more until the next hour");

    let asked = Instant::now();
    poller.refresh_now();
    next(&mut rx).await;
    next(&mut rx).await;
    assert!(asked.elapsed() < Duration::from_secs(1), "refresh took {:?}", asked.elapsed());
    // The failing cell is refreshed too, despite its backoff.
    assert_eq!((hits.good.load(Ordering::SeqCst), hits.bad.load(Ordering::SeqCst)), (2, 2));
}
