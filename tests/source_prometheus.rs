//! The `prometheus` source against a loopback server serving the shapes the
//! Prometheus HTTP API documents (`/api/v1/query`), errors included.
//!
//! Each test starts its own axum server on 127.0.0.1:0 that answers by the
//! decoded `query` parameter, builds the source the way the program does
//! (config text → activate → sweep) and checks what comes out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flightdeck::analysis::Matrix;
use flightdeck::analysis::findings::{self, FindingKind};
use flightdeck::model::{MetricValue, Reading, Role};
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{FetchError, HttpContext};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    raw_query: String,
    query: String,
    time: Option<String>,
    authorization: Option<String>,
}

#[derive(Clone, Default)]
struct Fixture {
    /// Decoded PromQL → (HTTP status, body).
    answers: Arc<HashMap<String, (u16, String)>>,
    seen: Arc<Mutex<Vec<Request>>>,
}

async fn answer(
    State(f): State<Fixture>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let raw = raw.unwrap_or_default();
    let params: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let query = params.get("query").cloned().unwrap_or_default();
    f.seen.lock().unwrap().push(Request {
        path: uri.path().to_string(),
        raw_query: raw.clone(),
        query: query.clone(),
        time: params.get("time").cloned(),
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(String::from),
    });
    let (status, body) = f.answers.get(&query).cloned().unwrap_or_else(|| {
        (400, format!(r#"{{"status":"error","errorType":"bad_data","error":"test server does not know {query:?}"}}"#))
    });
    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Serve the answers (keyed by the PromQL the server should receive) under
/// `prefix` (`""` or a path like `/prom`).
async fn serve(prefix: &str, answers: &[(&str, u16, String)]) -> (SocketAddr, Fixture) {
    let fixture = Fixture {
        answers: Arc::new(answers.iter().map(|(q, s, b)| (q.to_string(), (*s, b.clone()))).collect()),
        seen: Arc::default(),
    };
    let app = Router::new().route(&format!("{prefix}/api/v1/query"), get(answer)).with_state(fixture.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("test server");
    });
    (addr, fixture)
}

/// A vector result with one series per value.
fn vector(values: &[&str]) -> String {
    let result: Vec<serde_json::Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| serde_json::json!({"metric": {"instance": format!("web-{i}")}, "value": [1714557600.123, v]}))
        .collect();
    serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}}).to_string()
}

fn ok(values: &[&str]) -> (u16, String) {
    (200, vector(values))
}

fn api_error(status: u16, kind: &str, message: &str) -> (u16, String) {
    (status, serde_json::json!({"status": "error", "errorType": kind, "error": message}).to_string())
}

/// One environment (`prod`), one service (`payments`, planned at 1.4.0),
/// and a `prometheus` source with `queries` (TOML lines) at `api_url`.
fn config_text(api_url: &str, queries: &str, extra: &str) -> String {
    format!(
        r#"
[[environments]]
name = "prod"

[[services]]
name = "payments"

[release]
name = "2026.11"
[release.targets]
payments = "1.4.0"

[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "{api_url}"
{extra}
[sources.queries]
{queries}
"#
    )
}

async fn sweep(text: &str) -> Vec<SourceUpdate> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().expect("http client");
    sweep_once(&active, config.poller, &ctx, |_, _| {}).await
}

/// Serve one query's answer and return the cell's result.
async fn fetch_one(promql: &str, answer: (u16, String)) -> Result<Reading, FetchError> {
    let (addr, _) = serve("", &[(promql, answer.0, answer.1)]).await;
    let queries = format!("error_rate = '{promql}'");
    let updates = sweep(&config_text(&format!("http://{addr}"), &queries, "")).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].role, Role::Metrics, "a prometheus source reads metrics");
    updates.into_iter().next().unwrap().result
}

fn metrics(reading: &Reading) -> Vec<(&str, MetricValue)> {
    reading.metrics.iter().map(|m| (m.name.as_str(), m.value)).collect()
}

const RATIO: &str = r#"sum(rate(http_requests_total{job="payments",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="payments"}[5m]))"#;

#[tokio::test]
async fn a_vector_with_one_sample_is_its_value() {
    let before = jiff::Timestamp::now();
    let reading = fetch_one(RATIO, ok(&["0.0123"])).await.expect("a reading");
    assert_eq!(metrics(&reading), vec![("error_rate", MetricValue::Number(0.0123))]);
    assert_eq!(reading.version, None, "metrics, not versions");
    // No window: the baseline is the same query an hour ago.
    let baseline = reading.metrics[0].baseline.as_ref().expect("a baseline");
    assert_eq!((baseline.value, &baseline.error), (Some(MetricValue::Number(0.0123)), &None));
    let ago = before.as_second() - baseline.at.as_second();
    assert!((3599..=3601).contains(&ago), "an hour before now: {ago}s");
}

#[tokio::test]
async fn nan_and_inf_are_kept_and_every_query_is_run_in_order() {
    // Names deliberately not in alphabetical order: metrics come back in the
    // order the config lists them.
    let (addr, fixture) = serve(
        "",
        &[("a_nan", 200, vector(&["NaN"])), ("b_inf", 200, vector(&["+Inf"])), ("c_zero", 200, vector(&["0"]))],
    )
    .await;
    let queries = "z_ratio = 'a_nan'\nb_latency = 'b_inf'\na_count = 'c_zero'";
    let updates = sweep(&config_text(&format!("http://{addr}"), queries, "")).await;
    let reading = updates[0].result.clone().expect("a reading");
    assert_eq!(
        metrics(&reading),
        vec![("z_ratio", MetricValue::NaN), ("b_latency", MetricValue::PosInf), ("a_count", MetricValue::Number(0.0))]
    );
    let seen = fixture.seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|s| s.time.is_none()).count(), 3, "one instant query per metric");
    assert_eq!(seen.iter().filter(|s| s.time.is_some()).count(), 3, "and one for each baseline");
}

#[tokio::test]
async fn an_empty_result_is_no_data_never_zero() {
    let reading = fetch_one(RATIO, ok(&[])).await.expect("a reading");
    assert_eq!(metrics(&reading), vec![("error_rate", MetricValue::NoData)]);
    assert_eq!(reading.metrics[0].value.as_f64(), None);
    assert_eq!(reading.metrics[0].value.to_string(), "no data");
}

#[tokio::test]
async fn several_series_are_an_error_naming_the_metric() {
    let err = fetch_one(RATIO, ok(&["0.1", "0.2", "0.3"])).await.expect_err("three series");
    assert_eq!(err.to_string(), "error_rate: query returned 3 series; aggregate it with sum() or max()");
}

#[tokio::test]
async fn a_scalar_result_is_accepted() {
    let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1714557600.5,"42.5"]}}"#;
    let reading = fetch_one("scalar(up)", (200, body.to_string())).await.expect("a reading");
    assert_eq!(metrics(&reading), vec![("error_rate", MetricValue::Number(42.5))]);
}

#[tokio::test]
async fn api_errors_become_readable_cell_errors() {
    for (status, kind, message) in [
        (400, "bad_data", "invalid parameter \"query\": 1:5: parse error: unexpected character: '@'"),
        (422, "execution", "query processing would load too many samples into memory in query execution"),
        (503, "timeout", "query timed out in expression evaluation"),
    ] {
        let err = fetch_one("up @@ 1", api_error(status, kind, message)).await.expect_err("an API error");
        assert_eq!(err.to_string(), format!("error_rate: {kind}: {message}"), "HTTP {status}");
    }
}

#[tokio::test]
async fn an_api_error_with_control_sequences_arrives_clean() {
    let err = fetch_one("up", api_error(400, "bad_data", "parse error \u{1b}[2J\u{202e}at char 5"))
        .await
        .expect_err("an API error");
    assert_eq!(err.to_string(), "error_rate: bad_data: parse error at char 5");
}

#[tokio::test]
async fn unauthorized_is_an_auth_error() {
    let err = fetch_one("up", (401, "Unauthorized".into())).await.expect_err("401");
    assert!(matches!(err, FetchError::Auth { code: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("check the token"), "{err}");
}

#[tokio::test]
async fn a_plain_error_page_is_reported_by_its_status() {
    let err = fetch_one("up", (502, "<html>Bad Gateway</html>".into())).await.expect_err("502");
    assert!(matches!(err, FetchError::Status { code: 502, .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let err = fetch_one("up", (200, r#"{"status":"success","data":{"#.into())).await.expect_err("malformed");
    assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
    assert!(err.to_string().starts_with("malformed JSON: error_rate:"), "{err}");
}

#[tokio::test]
async fn the_query_is_url_encoded_with_placeholders_substituted_and_promql_braces_untouched() {
    let expected = r#"sum(rate(http_requests_total{job="payments",env="prod",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="payments",env="prod"}[5m])) + 0 * count({__name__="up"})"#;
    let (addr, fixture) = serve("/prometheus", &[(expected, 200, vector(&["0.5"]))]).await;
    let template = r#"sum(rate(http_requests_total{job="{service}",env="{env}",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="{service}",env="{env}"}[5m])) + 0 * count({__name__="up"})"#;
    let queries = format!("error_rate = '{template}'");
    let updates = sweep(&config_text(&format!("http://{addr}/prometheus/"), &queries, "")).await;
    assert_eq!(metrics(updates[0].result.as_ref().expect("a reading")), vec![("error_rate", MetricValue::Number(0.5))]);

    let seen = fixture.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "live and baseline: {seen:?}");
    assert!(seen.iter().any(|s| s.time.is_some() && s.query == expected), "the baseline runs the same query");
    let seen = seen.iter().find(|s| s.time.is_none()).expect("the live query");
    assert_eq!(seen.path, "/prometheus/api/v1/query", "under the api_url's own path");
    assert_eq!(seen.query, expected, "decoded exactly as written, placeholders filled");
    assert_eq!(seen.time, None, "an instant query at the server's now");
    assert!(
        seen.raw_query.starts_with("query=sum%28rate%28http_requests_total%7Bjob%3D%22payments%22"),
        "{}",
        seen.raw_query
    );
    for c in ['{', '}', '"', ' ', '[', '=', '~'] {
        let value = &seen.raw_query["query=".len()..];
        assert!(!value.contains(c), "{c:?} is encoded in {}", seen.raw_query);
    }
    assert_eq!(seen.authorization, None, "no token configured, none sent");
}

#[tokio::test]
async fn the_token_is_sent_as_bearer_and_never_shown() {
    // A variable that is surely set, so the test needn't change the
    // environment (set_var is unsound while other threads run).
    let var = "PATH";
    let secret = std::env::var(var).expect("PATH is set");
    let (addr, fixture) =
        serve("", &[("up", 401, r#"{"status":"error","errorType":"auth","error":"no"}"#.into())]).await;
    let updates = sweep(&config_text(&format!("http://{addr}"), "up = 'up'", &format!("token_env = \"{var}\""))).await;
    let err = updates[0].result.clone().expect_err("401");
    assert!(!err.to_string().contains(&secret) && !format!("{err:?}").contains(&secret), "{err}");
    let seen = fixture.seen.lock().unwrap().clone();
    assert_eq!(seen[0].authorization.as_deref(), Some(format!("Bearer {}", secret.trim()).as_str()));
}

#[tokio::test]
async fn a_query_at_a_time_sends_time() {
    let (addr, fixture) = serve("", &[("up", 200, vector(&["1"]))]).await;
    let ctx = HttpContext::new().unwrap();
    let at: jiff::Timestamp = "2026-11-24T17:00:00Z".parse().unwrap();
    let value =
        flightdeck::sources::prometheus::instant_query(&ctx.client, &format!("http://{addr}"), None, "up", Some(at))
            .await;
    assert_eq!(value, Ok(MetricValue::Number(1.0)));
    assert_eq!(fixture.seen.lock().unwrap()[0].time.as_deref(), Some("1795539600.000"));
}

#[tokio::test]
async fn a_metrics_only_cell_is_never_taken_for_no_deployment() {
    let (addr, _) = serve("", &[(RATIO, 200, vector(&["0.01"]))]).await;
    let text = config_text(&format!("http://{addr}"), &format!("error_rate = '{RATIO}'"), "");
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let updates = sweep(&text).await;
    let mut matrix = Matrix::new(&config.fleet);
    for u in updates {
        assert!(u.result.is_ok(), "{:?}", u.result);
        matrix.get_mut(u.cell).unwrap().record_as(&u.source, u.evidence, u.role, u.attempted_at, u.result);
    }
    let found = findings::evaluate(&config.fleet, &matrix, jiff::Timestamp::now());
    assert!(found.iter().all(|f| f.kind != FindingKind::Missing), "{found:?}");
    let cell = matrix.get(flightdeck::model::CellKey { service: 0, env: 0 });
    assert_eq!(cell.version(), None);
    assert_eq!(cell.metrics().count(), 1, "the metrics are kept for the detail");
}

/// With a deployment source too, however fresh the metrics and whatever
/// evidence level they are given, the cell shows the deployment.
#[tokio::test]
async fn metrics_never_outrank_the_deployment_a_cell_shows() {
    let (addr, _) = serve("", &[(RATIO, 200, vector(&["0.01"]))]).await;
    let versions = Router::new().route("/version", get(|| async { "1.4.0" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, versions).await.unwrap() });
    let text = format!(
        "{}\n[[sources]]\nname = \"a-version\"\nkind = \"http\"\nurl = \"http://{http_addr}/version\"\nevidence = \"running\"\n",
        config_text(&format!("http://{addr}"), &format!("error_rate = '{RATIO}'"), "evidence = \"running\"")
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let mut updates = sweep(&text).await;
    // The metrics arrive last, so they are the freshest reading.
    updates.sort_by_key(|u| u.role == Role::Metrics);
    let mut matrix = Matrix::new(&config.fleet);
    for (i, u) in updates.into_iter().enumerate() {
        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(i as i64);
        matrix.get_mut(u.cell).unwrap().record_as(&u.source, u.evidence, u.role, at, u.result);
    }
    let cell = matrix.get(flightdeck::model::CellKey { service: 0, env: 0 });
    assert_eq!(cell.version(), Some("1.4.0"));
    assert_eq!(cell.shown().map(|o| &*o.source), Some("a-version"));
    let found = findings::evaluate(&config.fleet, &matrix, jiff::Timestamp::now());
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn bad_options_are_config_errors_naming_the_key() {
    let check = |queries: &str, extra: &str| {
        flightdeck::setup::from_toml_str(&config_text("http://prometheus:9090", queries, extra), "test")
            .expect_err("invalid")
            .to_string()
    };
    assert!(
        check("error_rate = ''", "").contains("queries.error_rate`: the query is empty"),
        "{}",
        check("error_rate = ''", "")
    );
    let bad_name = check("error-rate = 'up'", "");
    assert!(bad_name.contains("is not a metric name"), "{bad_name}");
    let typo = check(r#"error_rate = 'up{job="{servce}"}'"#, "");
    assert!(typo.contains("unknown placeholder {servce}"), "{typo}");
    let unknown = check("error_rate = 'up'", "step = \"1m\"");
    assert!(unknown.contains("step"), "{unknown}");
    let api = flightdeck::setup::from_toml_str(&config_text("http://p:9090/api/v1", "x = 'up'", ""), "test")
        .expect_err("invalid")
        .to_string();
    assert!(api.contains("without /api/v1"), "{api}");
    let unset = check("x = 'up'", "token_env = \"FLIGHTDECK_TEST_SURELY_UNSET_PROM_TOKEN\"");
    assert!(unset.contains("FLIGHTDECK_TEST_SURELY_UNSET_PROM_TOKEN is not set"), "{unset}");
    let none = flightdeck::setup::from_toml_str(
        &config_text("http://p:9090", "", "").replace("[sources.queries]", "queries = {}"),
        "test",
    )
    .expect_err("no queries")
    .to_string();
    assert!(none.contains("no queries"), "{none}");
}

/// A release whose window started `started` seconds ago (negative: starts
/// in the future), with a prometheus source at `api_url`.
fn windowed_config(api_url: &str, started: i64) -> String {
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(started);
    let end = start + jiff::SignedDuration::from_hours(2);
    format!(
        r#"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "2026.11"
window = {{ start = "{start}", end = "{end}" }}
[release.targets]
payments = "1.4.0"
[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "{api_url}"
[sources.queries]
error_rate = 'errors'
"#
    )
}

#[tokio::test]
async fn the_baseline_is_taken_at_the_windows_start_once() {
    let (addr, fixture) = serve("", &[("errors", 200, vector(&["0.002"]))]).await;
    let text = windowed_config(&format!("http://{addr}"), 600);
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let start = config.fleet.release.as_ref().unwrap().window.unwrap().start;
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().expect("http client");
    for _ in 0..3 {
        let updates = sweep_once(&active, config.poller, &ctx, |_, _| {}).await;
        let reading = updates[0].result.clone().expect("a reading");
        let baseline = reading.metrics[0].baseline.clone().expect("a baseline");
        assert_eq!(baseline.at, start);
        assert_eq!(baseline.value, Some(MetricValue::Number(0.002)));
    }
    let seen = fixture.seen.lock().unwrap().clone();
    let at_start: Vec<_> = seen.iter().filter_map(|s| s.time.clone()).collect();
    assert_eq!(at_start.len(), 1, "a fixed baseline is asked once, then kept: {at_start:?}");
    let secs: f64 = at_start[0].parse().unwrap();
    assert_eq!((secs * 1000.0).round() as i64, start.as_millisecond(), "time= is the window's start");
}

#[tokio::test]
async fn before_the_window_there_is_no_baseline_yet_and_a_failing_baseline_keeps_the_live_value() {
    let (addr, fixture) = serve("", &[("errors", 200, vector(&["0.002"]))]).await;
    let updates = sweep(&windowed_config(&format!("http://{addr}"), -3600)).await;
    let reading = updates[0].result.clone().expect("a reading");
    let baseline = reading.metrics[0].baseline.clone().expect("a baseline entry");
    assert_eq!(baseline.value, None);
    assert!(baseline.error.as_deref().is_some_and(|e| e.starts_with("measured from")), "{baseline:?}");
    assert!(fixture.seen.lock().unwrap().iter().all(|s| s.time.is_none()), "no query at a future time");

    // The server refuses the baseline's time (e.g. before its retention).
    let app = Router::new().route(
        "/api/v1/query",
        get(|RawQuery(raw): RawQuery| async move {
            if raw.unwrap_or_default().contains("time=") {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    r#"{"status":"error","errorType":"execution","error":"out of bounds"}"#,
                )
            } else {
                (
                    StatusCode::OK,
                    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let updates = sweep(&windowed_config(&format!("http://{addr}"), 600)).await;
    let reading = updates[0].result.clone().expect("the live value still counts");
    assert_eq!(reading.metrics[0].value, MetricValue::Number(0.5));
    let baseline = reading.metrics[0].baseline.clone().unwrap();
    assert_eq!(baseline.value, None);
    assert_eq!(baseline.error.as_deref(), Some("execution: out of bounds"));
}
