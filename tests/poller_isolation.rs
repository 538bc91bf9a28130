//! One source's trouble never delays the others: a source whose every cell
//! hangs, with enough cells to use up the whole concurrency bound, runs
//! beside a healthy source that must keep its schedule.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_source_does_not_starve_a_healthy_one() {
    let fast_hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/slow/{env}/{service}",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "1.0.0"
            }),
        )
        .route(
            "/fast/{env}/{service}",
            get(|State(hits): State<Arc<AtomicUsize>>| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                "2.0.0"
            }),
        )
        .with_state(fast_hits.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // 2 environments × 8 services = 16 hanging cells against a bound of 4.
    let mut text = String::from("[[environments]]\nname = \"qa\"\n[[environments]]\nname = \"prod\"\n");
    for i in 0..8 {
        text.push_str(&format!("[[services]]\nname = \"s{i}\"\n"));
    }
    text.push_str(&format!(
        r#"[poller]
concurrency = 4
[[sources]]
name = "hanging"
kind = "http"
url = "http://{addr}/slow/{{env}}/{{service}}"
every = "100ms"
timeout = "10s"
[[sources]]
name = "healthy"
kind = "http"
url = "http://{addr}/fast/{{env}}/{{service}}"
every = "200ms"
timeout = "2s"
services = ["s0"]
environments = ["prod"]
"#
    ));
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let (tx, mut rx) = mpsc::channel(256);
    let ctx = flightdeck::sources::HttpContext::new().unwrap();
    let _poller = flightdeck::poller::Poller::spawn(
        &flightdeck::poller::PollerThread::start().unwrap(),
        active,
        config.poller,
        ctx,
        tx,
    );

    // The healthy source polls every 200 ms: in 1.5 s it must have been
    // read several times although every hanging fetch is still in flight.
    let mut healthy_updates = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(update)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        assert_eq!(&*update.source, "healthy", "no hanging fetch can have finished yet");
        assert_eq!(update.result.unwrap().version.as_deref(), Some("2.0.0"));
        healthy_updates += 1;
    }
    assert!(healthy_updates >= 4, "the healthy source was starved: {healthy_updates} updates");
    assert!(fast_hits.load(Ordering::SeqCst) >= 4);
}

/// A source asking to be left alone for 300 billion years neither kills
/// its task (an Instant overflow) nor makes it forget its other cells; and
/// "refresh now" does not override what the server asked for.
#[tokio::test]
async fn an_absurd_retry_after_does_not_kill_the_source() {
    let limited_hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/prod/limited",
            get(|State(hits): State<Arc<AtomicUsize>>| async move {
                hits.fetch_add(1, Ordering::SeqCst);
                (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "10000000000000000000")], "slow down")
            }),
        )
        .route("/prod/fine", get(|| async { "1.0.0" }))
        .with_state(limited_hits.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let text = format!(
        "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"limited\"\n[[services]]\nname = \"fine\"\n[[sources]]\nname = \"s\"\nkind = \"http\"\nurl = \"http://{addr}/{{env}}/{{service}}\"\nevery = \"100ms\"\n"
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let poller = flightdeck::poller::Poller::spawn(
        &flightdeck::poller::PollerThread::start().unwrap(),
        active,
        config.poller,
        flightdeck::sources::HttpContext::new().unwrap(),
        tx,
    );
    let mut limited = 0;
    let mut fine = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1200);
    let mut refreshed = false;
    while let Ok(Some(u)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        match u.result {
            Err(e) => {
                assert!(e.retry_after().is_some(), "{e:?}");
                limited += 1;
            }
            Ok(_) => fine += 1,
        }
        if !refreshed && limited > 0 {
            poller.refresh_now();
            refreshed = true;
        }
    }
    // The task lives on: the other cell keeps its 100 ms schedule.
    assert!(fine >= 5, "the source task stopped: {fine} updates");
    // Asked once, and neither the schedule nor `r` asked again.
    assert_eq!(limited, 1);
    assert_eq!(limited_hits.load(Ordering::SeqCst), 1);
}

/// A server that echoes the Authorization header into its error page:
/// the token never reaches the cell, whatever the kind.
#[tokio::test]
async fn an_echoed_token_is_redacted_for_every_kind() {
    let app = Router::new().route(
        "/api/v1/applications/{app}",
        get(|headers: axum::http::HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("proxy rejected {auth}"))
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // Cargo sets CARGO_PKG_NAME for tests: a token variable that is always there.
    let text = format!(
        "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[[sources]]\nname = \"argo\"\nkind = \"argocd\"\napi_url = \"http://{addr}\"\ntoken_env = \"CARGO_PKG_NAME\"\n"
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let ctx = flightdeck::sources::HttpContext::new().unwrap();
    let updates = flightdeck::poller::sweep_once(&active, config.poller, &ctx, |_, _| {}).await;
    let err = updates[0].result.clone().unwrap_err().to_string();
    let token = env!("CARGO_PKG_NAME");
    assert!(err.contains("proxy rejected Bearer [redacted]"), "{err}");
    assert!(!err.contains(&format!("Bearer {token}")), "{err}");
}

/// A body that reads (HTTP 200) is decoded after the fetch, by the source:
/// a token it echoes is still taken out of what reaches the cell, whether
/// the decode fails quoting it or the body is the token itself.
#[tokio::test]
async fn a_token_echoed_in_a_body_that_reads_never_reaches_the_cell() {
    let token = env!("CARGO_PKG_NAME");
    let app = Router::new()
        .route("/quoted", get(move || async move { format!("deployed by {token}\nsee the log") }))
        .route("/bare", get(move || async move { token.to_string() }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // The Argo CD source is there for its token: every source's token is
    // taken out of what any source sends back.
    let text = format!(
        "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"quoted\"\n[[services]]\nname = \"bare\"\n\
         [[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://{addr}/{{service}}\"\n\
         [[sources]]\nname = \"argo\"\nkind = \"argocd\"\napi_url = \"http://{addr}\"\ntoken_env = \"CARGO_PKG_NAME\"\n"
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let ctx = flightdeck::sources::HttpContext::new().unwrap();
    let updates = flightdeck::poller::sweep_once(&active, config.poller, &ctx, |_, _| {}).await;
    let error_of = |service: &str| {
        let update = updates
            .iter()
            .find(|u| {
                &*u.source == "endpoints" && active[0].cells.iter().any(|c| c.key == u.cell && &*c.service == service)
            })
            .unwrap_or_else(|| panic!("no update for {service}"));
        update.result.clone().unwrap_err().to_string()
    };
    let quoted = error_of("quoted");
    assert!(quoted.contains("deployed by [redacted]"), "{quoted}");
    assert!(!quoted.contains(token), "{quoted}");
    let bare = error_of("bare");
    assert!(bare.contains("looks like the source's token"), "{bare}");
}
