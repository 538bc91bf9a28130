//! The `prometheus` source against a real Prometheus server (the Debian
//! package `prometheus`), scraping an exporter the test controls.
//!
//! Ignored in a plain `cargo test` (they need the server); `cargo test --
//! --ignored` runs them and fails without it (`.ci/run` installs it first).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::routing::get;
use flightdeck::model::{MetricValue, Reading};
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{FetchError, HttpContext};
use tokio::time::Instant;

/// `prometheus` on `PATH`, or where Debian puts it.
fn find_prometheus() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|dir| dir.join("prometheus")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/bin/prometheus")]).find(|p| p.is_file())
}

/// The server, or a failure: these tests are ignored unless asked for.
fn require_prometheus() -> PathBuf {
    find_prometheus().unwrap_or_else(|| panic!("prometheus is required (apt-get install prometheus)"))
}

/// The exporter's counters, moved by the test.
#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    errors: AtomicU64,
}

/// `/metrics` in the Prometheus text format. Every scrape adds 3 errors,
/// so their rate is positive; the 200s stay put, so their rate is 0.
async fn metrics(State(c): State<Arc<Counters>>) -> impl axum::response::IntoResponse {
    let errors = c.errors.fetch_add(3, Ordering::SeqCst) + 3;
    let ok = c.ok.load(Ordering::SeqCst);
    let body = format!(
        "# HELP http_requests_total Requests served.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{{job=\"payments\",env=\"prod\",code=\"200\"}} {ok}\n\
         http_requests_total{{job=\"payments\",env=\"prod\",code=\"500\"}} {errors}\n"
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The Prometheus process; killed (and reaped) when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_prometheus(bin: &Path, dir: &Path, exporter: SocketAddr, port: u16) -> Server {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: exporter\n    honor_labels: true\n    scrape_interval: 1s\n    \
             static_configs:\n      - targets: ['{exporter}']\n"
        ),
    )
    .unwrap();
    let log = dir.join("prometheus.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start prometheus");
    Server { child, log }
}

async fn wait_ready(server: &mut Server, port: u16) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("prometheus exited ({status}):\n{}", server.log());
        }
        let ready = client.get(format!("http://127.0.0.1:{port}/-/ready")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "prometheus not ready in 15 s:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn config_text(port: u16) -> String {
    format!(
        r#"
[[environments]]
name = "prod"

[[services]]
name = "payments"

[[services]]
name = "ghost"

[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://127.0.0.1:{port}"
timeout = "5s"
[sources.queries]
error_rate = 'sum(rate(http_requests_total{{job="{{service}}",code=~"5.."}}[15s]))'
errors_total = 'sum(http_requests_total{{job="{{service}}",code="500"}})'
ok_ratio = 'sum(rate(http_requests_total{{job="{{service}}",code="200"}}[15s])) / sum(rate(http_requests_total{{job="{{service}}",code="200"}}[15s]))'
ok_total = 'sum(http_requests_total{{job="{{service}}",env="{{env}}",code="200"}})'

[[sources]]
name = "broken"
kind = "prometheus"
api_url = "http://127.0.0.1:{port}"
services = ["payments"]
[sources.queries]
error_rate = 'sum(rate(http_requests_total{{job="{{service}}"[15s]))'
"#
    )
}

fn result<'a>(updates: &'a [SourceUpdate], source: &str, service: usize) -> &'a Result<Reading, FetchError> {
    &updates.iter().find(|u| &*u.source == source && u.cell.service == service).expect("an update").result
}

fn value(reading: &Reading, name: &str) -> MetricValue {
    reading.metrics.iter().find(|m| m.name == name).map(|m| m.value).unwrap_or_else(|| panic!("no {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus: cargo test -- --ignored (.ci/run does)"]
async fn reads_real_values_from_a_real_prometheus() {
    let bin = require_prometheus();
    let started = Instant::now();
    let dir = tempfile::TempDir::new().unwrap();

    let counters = Arc::new(Counters::default());
    counters.ok.store(1000, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exporter = listener.local_addr().unwrap();
    let app = Router::new().route("/metrics", get(metrics)).with_state(counters.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let port = free_port();
    let mut server = start_prometheus(&bin, dir.path(), exporter, port);
    wait_ready(&mut server, port).await;

    let config = flightdeck::setup::from_toml_str(&config_text(port), "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().unwrap();
    let payments = config.fleet.service_idx("payments").unwrap();
    let ghost = config.fleet.service_idx("ghost").unwrap();

    // Until two scrapes are in, rates have no data: poll until they do.
    let deadline = Instant::now() + Duration::from_secs(20);
    let updates = loop {
        let updates = sweep_once(&active, config.poller, &ctx, |_, _| {}).await;
        let ready = match result(&updates, "metrics", payments) {
            Ok(r) => {
                value(r, "error_rate").as_f64().is_some_and(|v| v > 0.0) && value(r, "ok_ratio") == MetricValue::NaN
            }
            Err(e) => panic!("metrics for payments: {e}\n{}", server.log()),
        };
        if ready {
            break updates;
        }
        assert!(
            Instant::now() < deadline,
            "no rate after 20 s: {:?}\n{}",
            result(&updates, "metrics", payments),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let reading = result(&updates, "metrics", payments).as_ref().unwrap();
    assert_eq!(reading.version, None, "metrics, not versions");
    let names: Vec<&str> = reading.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["error_rate", "errors_total", "ok_ratio", "ok_total"]);
    // Each scrape adds 3 errors: at most about 3/s at a 1 s interval (less
    // while the 15 s window holds only a few samples).
    let rate = value(reading, "error_rate").as_f64().unwrap();
    assert!(rate > 0.0 && rate < 10.0, "error rate {rate}");
    let errors = value(reading, "errors_total").as_f64().unwrap();
    assert!(errors >= 6.0 && errors % 3.0 == 0.0, "errors_total {errors}");
    assert!(errors <= counters.errors.load(Ordering::SeqCst) as f64);
    // No 200s flow: 0 / 0 is NaN, kept as such.
    assert_eq!(value(reading, "ok_ratio"), MetricValue::NaN);
    assert_eq!(value(reading, "ok_total"), MetricValue::Number(1000.0), "with {{env}} filled in");

    // A job nobody exports: no data, never 0.
    let ghost_reading = result(&updates, "metrics", ghost).as_ref().expect("a reading for ghost");
    assert!(ghost_reading.metrics.iter().all(|m| m.value == MetricValue::NoData), "{ghost_reading:?}");
    assert_eq!(ghost_reading.metrics.len(), 4);

    // A query that does not parse: Prometheus's own bad_data, naming the metric.
    let err = result(&updates, "broken", payments).clone().expect_err("a bad query");
    let text = err.to_string();
    assert!(text.starts_with("error_rate: bad_data: "), "{text}");
    assert!(text.contains("parse error"), "{text}");

    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

/// Per-scrape steps of the trigger test's exporter, moved by the test.
#[derive(Default)]
struct Steps {
    ok_step: AtomicU64,
    err_step: AtomicU64,
    ok: AtomicU64,
    errors: AtomicU64,
}

async fn stepping_metrics(State(s): State<Arc<Steps>>) -> impl axum::response::IntoResponse {
    let ok = s.ok.fetch_add(s.ok_step.load(Ordering::SeqCst), Ordering::SeqCst);
    let errors = s.errors.fetch_add(s.err_step.load(Ordering::SeqCst), Ordering::SeqCst);
    let body = format!(
        "# TYPE http_requests_total counter\n\
         http_requests_total{{job=\"payments\",code=\"200\"}} {ok}\n\
         http_requests_total{{job=\"payments\",code=\"500\"}} {errors}\n"
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The error-rate trigger against a real Prometheus: OK while the exporter
/// serves no errors, FIRING within two scrape intervals of the errors
/// starting, OK again once they stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus: cargo test -- --ignored (.ci/run does)"]
async fn the_error_rate_trigger_fires_within_two_scrapes_and_clears() {
    use flightdeck::analysis::rollback::Level;
    let bin = require_prometheus();
    let dir = tempfile::TempDir::new().unwrap();
    let steps = Arc::new(Steps::default());
    steps.ok_step.store(100, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exporter = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/metrics", get(stepping_metrics))
        .route("/version", get(|| async { axum::Json(serde_json::json!({"version": "1.0.0", "health": "UP"})) }))
        .with_state(steps.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let port = free_port();
    let mut server = start_prometheus(&bin, dir.path(), exporter, port);
    wait_ready(&mut server, port).await;

    // The window starts once the exporter has a few scrapes in: the
    // baseline (at the window's start, `time=`) is a real, quiet 0.
    let promql = r#"sum(rate(http_requests_total{job="payments",code="500"}[3s])) / sum(rate(http_requests_total{job="payments"}[3s]))"#;
    let client = reqwest::Client::new();
    let api = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !matches!(
        flightdeck::sources::prometheus::instant_query(&client, &api, None, promql, None).await,
        Ok(MetricValue::Number(_))
    ) {
        assert!(Instant::now() < deadline, "no error rate after 15 s:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A second more of scrapes, and the window opened a second ago: the
    // baseline instant lies well inside scraped data.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    let end = start + jiff::SignedDuration::from_hours(1);
    let text = format!(
        r#"
[[environments]]
name = "prod"
[[services]]
name = "payments"
rollback = "deployctl rollback {{service}} --to {{previous}}"
[release]
name = "r"
window = {{ start = "{start}", end = "{end}" }}
[release.targets]
payments = "1.0.0"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://{exporter}/version"
[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://127.0.0.1:{port}"
timeout = "5s"
[sources.queries]
error_rate = 'sum(rate(http_requests_total{{job="{{service}}",code="500"}}[3s])) / sum(rate(http_requests_total{{job="{{service}}"}}[3s]))'
"#
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().unwrap();
    let mut state = flightdeck::app::initial_state(&config, &active, jiff::Timestamp::now());
    let level = |state: &flightdeck::app::AppState| {
        state.eval.rollback.triggers.iter().find(|t| &*t.name == "error_rate").map(|t| (t.state, (**t).clone()))
    };
    // Poll like the cockpit does (here every 200 ms) until `want`, or fail.
    async fn until(
        state: &mut flightdeck::app::AppState,
        active: &[flightdeck::sources::ActiveSource],
        config: &flightdeck::config::Config,
        ctx: &HttpContext,
        want: Level,
        within: Duration,
        level: &dyn Fn(&flightdeck::app::AppState) -> Option<(Level, flightdeck::analysis::rollback::TriggerState)>,
    ) -> Duration {
        let t0 = Instant::now();
        loop {
            for u in sweep_once(active, config.poller, ctx, |_, _| {}).await {
                state.engine.apply(u);
            }
            state.now = jiff::Timestamp::now();
            state.reanalyze();
            if level(state).is_some_and(|(l, _)| l == want) {
                return t0.elapsed();
            }
            assert!(t0.elapsed() < within, "not {want:?} after {within:?}: {:?}", level(state));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    until(&mut state, &active, &config, &ctx, Level::Ok, Duration::from_secs(15), &level).await;
    let (_, ok) = level(&state).unwrap();
    assert_eq!(ok.baseline, Some(MetricValue::Number(0.0)), "a quiet baseline: {ok:?}");
    assert_eq!(ok.baseline_at, Some(start), "taken at the window's start");
    assert_eq!(ok.threshold, Some(0.01), "10 × 0 has no meaning: the default minimum of 1% holds");
    assert!(state.eval.rollback.firing().next().is_none());

    // Errors start: 50 of every 150 requests fail.
    steps.err_step.store(50, Ordering::SeqCst);
    let scrape = Duration::from_secs(1);
    let took =
        until(&mut state, &active, &config, &ctx, Level::Firing, 2 * scrape + Duration::from_millis(500), &level).await;
    println!("FIRING {took:?} after the errors started (scrape interval {scrape:?})");
    assert_eq!(state.eval.judgement.verdict, flightdeck::analysis::verdict::Verdict::NoGo);
    assert!(state.bell, "a new firing rings the bell");
    let blocker = &state.eval.judgement.blockers[0].message;
    assert!(blocker.starts_with("rollback trigger firing: payments in prod: error_rate 0."), "{blocker}");

    // They stop: once the 3 s rate window has passed, the trigger clears.
    steps.err_step.store(0, Ordering::SeqCst);
    let took = until(&mut state, &active, &config, &ctx, Level::Ok, Duration::from_secs(3) + 3 * scrape, &level).await;
    println!("OK again {took:?} after the errors stopped");
    assert!(state.eval.rollback.firing().next().is_none());
    drop(server);
}
