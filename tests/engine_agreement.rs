//! `check --format json` and the cockpit agree on the same fleet.
//!
//! One set of source updates is fed to both front ends: the cockpit's
//! [`AppState`] (analysed after every update, as the app loop does) and a
//! fresh [`Engine`] evaluated once and printed as `check`'s JSON. Their
//! verdicts, blockers, findings and rollback must be the same. Then the
//! same end to end: the real `flightdeck check` binary and a cockpit state
//! fed by `poller::sweep_once` read one loopback fleet server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flightdeck::analysis::verdict::Verdict;
use flightdeck::app::AppState;
use flightdeck::config::Config;
use flightdeck::engine::{Engine, Evaluation, Scope};
use flightdeck::model::{CellKey, Evidence, Health, Metric, MetricValue, Reading, Role};
use flightdeck::poller::SourceUpdate;
use flightdeck::report::View;
use flightdeck::sources::{ActiveSource, FetchError};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// The fleet

/// `ADDR` is the fleet server (`127.0.0.1:9` when nothing is fetched).
const CONFIG: &str = r#"
[[environments]]
name = "dev"
[[environments]]
name = "qa"
[[environments]]
name = "prod"

[[services]]
name = "payments"
rollback = "deployctl rollback {service} --env {env} --to {previous}"
[[services]]
name = "checkout"
rollback = "https://runbooks.example/{service}/rollback"
[[services]]
name = "ledger"
[[services]]
name = "search"

[release]
name = "2026.11"
kind = "minor"
[release.targets]
payments = "1.4.0"
checkout = "2.1.0"
ledger = "3.0.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://ADDR/{env}/{service}"
timeout = "3s"

[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://ADDR/prom"
timeout = "3s"
[sources.queries]
error_rate = 'error_rate{service="{service}",env="{env}"}'

[[rollback.triggers]]
metric = "error_rate"
above = 0.05
"#;

const ENVS: [&str; 3] = ["dev", "qa", "prod"];
const SERVICES: [&str; 4] = ["payments", "checkout", "ledger", "search"];

/// What a version endpoint answers.
#[derive(Debug, Clone, Copy)]
enum Deploy {
    Up(&'static str),
    Down(&'static str),
    /// 404: the service is not there (search in qa).
    NotFound,
}

/// ledger was skipped in qa and prod (missing), payments got a hotfix in
/// prod that never passed qa (ahead), checkout is down in prod (unhealthy,
/// its health trigger fires), search does not answer in qa (unreachable),
/// and payments' error rate in prod is over its threshold (firing).
fn deployment(env: &str, service: &str) -> Deploy {
    match (env, service) {
        (_, "payments") if env == "prod" => Deploy::Up("1.4.1"),
        (_, "payments") => Deploy::Up("1.4.0"),
        ("prod", "checkout") => Deploy::Down("2.1.0"),
        (_, "checkout") => Deploy::Up("2.1.0"),
        ("dev", "ledger") => Deploy::Up("3.0.0"),
        (_, "ledger") => Deploy::Up("2.9.0"),
        ("qa", "search") => Deploy::NotFound,
        _ => Deploy::Up("2.3.0"),
    }
}

fn error_rate(env: &str, service: &str) -> f64 {
    if (env, service) == ("prod", "payments") { 0.2 } else { 0.001 }
}

const DEPLOYED_AT: &str = "2026-11-23T18:00:00Z";
const NOT_FOUND: &str = "no such cell";

fn build_of(version: &str) -> String {
    format!("b-{version}")
}

fn commit_of(version: &str) -> String {
    let digits: String = version.chars().filter(char::is_ascii_digit).collect();
    format!("{digits:e<40}")
}

fn config(addr: &str) -> (String, Config, Vec<ActiveSource>) {
    let text = CONFIG.replace("ADDR", addr);
    let config = flightdeck::setup::from_toml_str(&text, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    (text, config, active)
}

/// The release's checklist, as `check` resolves it (the built-in `minor`).
fn template(config: &Config) -> Option<flightdeck::checklist::Template> {
    let template = flightdeck::checklist::resolve(&config.fleet, None).unwrap();
    assert_eq!(template.as_ref().map(|t| t.name.as_str()), Some("minor"));
    template
}

// ---------------------------------------------------------------------------
// The two front ends

/// The cockpit: its initial state, every update applied and analysed as it
/// arrives (the app loop re-analyses while updates come in), then at `now`.
fn cockpit(config: &Config, active: &[ActiveSource], updates: &[SourceUpdate], now: Timestamp) -> AppState {
    let mut state = flightdeck::app::initial_state(config, active, now);
    state.engine.template = template(config);
    for u in updates {
        state.engine.apply(u.clone());
        state.now = u.attempted_at;
        state.reanalyze();
    }
    state.now = now;
    state.reanalyze();
    state
}

/// `check`: a fresh engine, the updates, one evaluation of every environment.
fn check(config: &Config, active: &[ActiveSource], updates: &[SourceUpdate], now: Timestamp) -> (Engine, Evaluation) {
    let mut engine = Engine::for_config(config, active, template(config));
    for u in updates {
        engine.apply(u.clone());
    }
    let scope = Scope::all(&engine.fleet);
    let eval = engine.evaluate(now, &scope);
    (engine, eval)
}

fn check_json(engine: &Engine, eval: &Evaluation) -> Value {
    let text = flightdeck::report::json(View::new(engine, eval));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("check's JSON does not parse ({e}): {text}"))
}

// ---------------------------------------------------------------------------
// What is compared

type Blockers = Vec<(String, String)>;
/// (kind, severity, service, environment, message), in report order.
type Findings = Vec<(String, String, String, String, String)>;

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string: {v}")).to_string()
}

fn json_blockers(report: &Value) -> Blockers {
    let list = report["blockers"].as_array().unwrap_or_else(|| panic!("no blockers list: {report:#}"));
    list.iter().map(|b| (text(b, "reason"), text(b, "message"))).collect()
}

fn json_findings(report: &Value) -> Findings {
    let list = report["findings"].as_array().unwrap_or_else(|| panic!("no findings list: {report:#}"));
    list.iter()
        .map(|f| (text(f, "kind"), text(f, "severity"), text(f, "service"), text(f, "environment"), text(f, "message")))
        .collect()
}

fn state_blockers(state: &AppState) -> Blockers {
    state
        .eval
        .judgement
        .blockers
        .iter()
        .map(|b| {
            let reason = serde_json::to_value(b.reason).unwrap();
            (reason.as_str().unwrap().to_string(), b.message.clone())
        })
        .collect()
}

fn state_findings(state: &AppState) -> Findings {
    let fleet = &state.engine.fleet;
    state
        .eval
        .findings
        .iter()
        .map(|f| {
            (
                f.kind.as_str().to_string(),
                f.severity.as_str().to_string(),
                fleet.services[f.cell.service].name.to_string(),
                fleet.environments[f.cell.env].name.to_string(),
                f.message.clone(),
            )
        })
        .collect()
}

/// The verdict, blockers and findings of the cockpit and of `check`'s JSON
/// are the same; returns them for assertions on what they are.
fn assert_same_judgement(state: &AppState, report: &Value) -> (String, Blockers, Findings) {
    let verdict = state.eval.judgement.verdict.as_str().to_string();
    assert_eq!(report["verdict"], verdict.as_str(), "verdict; check said:\n{report:#}");
    let blockers = state_blockers(state);
    assert_eq!(json_blockers(report), blockers, "blockers differ; check said:\n{report:#}");
    let findings = state_findings(state);
    assert_eq!(json_findings(report), findings, "findings differ; check said:\n{report:#}");
    (verdict, blockers, findings)
}

// ---------------------------------------------------------------------------
// One set of updates, built by hand

fn now() -> Timestamp {
    "2026-11-24T18:42:00Z".parse().unwrap()
}

fn cell(config: &Config, env: &str, service: &str) -> CellKey {
    CellKey { service: config.fleet.service_idx(service).unwrap(), env: config.fleet.env_idx(env).unwrap() }
}

fn not_found() -> FetchError {
    FetchError::Status { code: 404, detail: NOT_FOUND.into() }
}

fn deployment_reading(d: Deploy) -> Result<Reading, FetchError> {
    let (version, health) = match d {
        Deploy::Up(v) => (v, Health::Up),
        Deploy::Down(v) => (v, Health::Down),
        Deploy::NotFound => return Err(not_found()),
    };
    Ok(Reading {
        version: Some(version.into()),
        build: Some(build_of(version)),
        commit: Some(commit_of(version)),
        deployed_at: Some(DEPLOYED_AT.parse().unwrap()),
        health: Some(health),
        ..Reading::default()
    })
}

/// What a sweep of both sources reads, in cell order, a second apart.
fn updates(config: &Config) -> Vec<SourceUpdate> {
    let start = now() - SignedDuration::from_mins(1);
    let mut out = Vec::new();
    for env in ENVS {
        for service in SERVICES {
            out.push(SourceUpdate {
                source: Arc::from("endpoints"),
                evidence: Evidence::Running,
                role: Role::Deployment,
                cell: cell(config, env, service),
                attempted_at: start + SignedDuration::from_secs(out.len() as i64),
                result: deployment_reading(deployment(env, service)),
            });
            let rate = Metric::new("error_rate", MetricValue::Number(error_rate(env, service)));
            out.push(SourceUpdate {
                source: Arc::from("metrics"),
                evidence: Evidence::Declared,
                role: Role::Metrics,
                cell: cell(config, env, service),
                attempted_at: start + SignedDuration::from_secs(out.len() as i64),
                result: Ok(Reading { metrics: vec![rate], ..Reading::default() }),
            });
        }
    }
    out
}

fn finding(kind: &str, service: &str, env: &str, message: &str) -> (String, String, String, String, String) {
    let severity = if kind == "unreachable" || kind == "stale" { "medium" } else { "high" };
    (kind.into(), severity.into(), service.into(), env.into(), message.into())
}

/// The findings of the fleet above, search in qa failing with `error`:
/// what both front ends must report.
fn expected_findings(error: &str) -> Findings {
    vec![
        finding("ahead", "payments", "prod", "payments runs 1.4.1 in prod, newer than 1.4.0 in qa: it never passed qa"),
        finding("unhealthy", "checkout", "prod", "checkout in prod reports health down (endpoints)"),
        finding("missing", "ledger", "prod", "ledger is not at 3.0.0 in prod (runs 2.9.0)"),
        finding("missing", "ledger", "qa", "ledger is not at 3.0.0 in qa (runs 2.9.0)"),
        finding("unreachable", "search", "qa", &format!("search in qa unreachable (endpoints: {error}); never read")),
    ]
}

#[test]
fn check_json_and_the_cockpit_agree_on_one_set_of_updates() {
    let (_, config, active) = config("127.0.0.1:9");
    let all = updates(&config);
    assert_eq!(all.len(), 24, "12 cells, 2 sources");

    // Two thirds through the first sweep (dev and qa read), then after it.
    for n in [all.len() * 2 / 3, all.len()] {
        let fed = &all[..n];
        let state = cockpit(&config, &active, fed, now());
        let (engine, eval) = check(&config, &active, fed, now());
        let report = check_json(&engine, &eval);
        let (verdict, blockers, findings) = assert_same_judgement(&state, &report);
        assert_eq!(
            serde_json::to_value(&state.eval.rollback).unwrap(),
            report["rollback"],
            "rollback differs after {n} updates; check said:\n{report:#}"
        );
        assert_eq!(state.eval.checklist, eval.checklist, "checklist differs after {n} updates");

        let first_sweep = ("unread".to_string(), "first sweep not complete: not every cell has been read yet".into());
        if n < all.len() {
            // dev and qa read (ledger missing, search not answering): prod not yet.
            assert!(blockers.contains(&first_sweep), "{blockers:?}");
            assert_eq!(findings.len(), 2, "{findings:?}");
            assert_eq!(findings[0], finding("missing", "ledger", "qa", "ledger is not at 3.0.0 in qa (runs 2.9.0)"));
            let (kind, _, service, env, message) = &findings[1];
            assert_eq!((kind.as_str(), service.as_str(), env.as_str()), ("unreachable", "search", "qa"));
            assert_eq!(message, &format!("search in qa unreachable (endpoints: {}); never read", not_found()));
            assert_eq!(verdict, "no-go");
            assert_eq!(&blockers[0], &("finding".to_string(), findings[0].4.clone()));
            continue;
        }
        assert!(!blockers.contains(&first_sweep), "{blockers:?}");
        assert_eq!(verdict, "no-go");
        let expected = expected_findings(&not_found().to_string());
        assert_eq!(findings, expected);
        // Triggers first, then the high findings, then the checklist's.
        assert_eq!(
            blockers[..6].to_vec(),
            vec![
                (
                    "trigger".to_string(),
                    "rollback trigger firing: payments in prod: error_rate 0.2 (fires ≥ 0.05)".to_string()
                ),
                ("trigger".into(), "rollback trigger firing: checkout in prod: health down".into()),
                ("finding".into(), expected[0].4.clone()),
                ("finding".into(), expected[1].4.clone()),
                ("finding".into(), expected[2].4.clone()),
                ("finding".into(), expected[3].4.clone()),
            ]
        );
        assert!(blockers[6..].iter().all(|(reason, _)| reason == "pending"), "{blockers:?}");
        assert!(blockers.len() > 6, "the minor checklist's pending items hold too: {blockers:?}");
        let firing: Vec<(&str, &str, &str)> = report["rollback"]["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["state"] == "firing")
            .map(|t| (t["service"].as_str().unwrap(), t["environment"].as_str().unwrap(), t["name"].as_str().unwrap()))
            .collect();
        assert_eq!(firing, vec![("payments", "prod", "error_rate"), ("checkout", "prod", "health")]);
        assert!(state.bell, "the cockpit rang for the firing triggers");
        assert_eq!(state.eval.judgement.verdict, Verdict::NoGo);
    }

    // A control: the comparison sees the values. A cockpit that missed
    // payments' error rate in prod disagrees with check on the blockers and
    // the rollback triggers.
    let payments_in_prod = cell(&config, "prod", "payments");
    let missed: Vec<SourceUpdate> =
        all.iter().filter(|u| !(u.role == Role::Metrics && u.cell == payments_in_prod)).cloned().collect();
    assert_eq!(missed.len(), all.len() - 1);
    let behind = cockpit(&config, &active, &missed, now());
    let (engine, eval) = check(&config, &active, &all, now());
    let report = check_json(&engine, &eval);
    assert_ne!(state_blockers(&behind), json_blockers(&report));
    assert_ne!(serde_json::to_value(&behind.eval.rollback).unwrap(), report["rollback"]);
    assert_eq!(state_findings(&behind), json_findings(&report), "findings do not read metrics");
}

// ---------------------------------------------------------------------------
// End to end: a loopback fleet server, the real binary, sweep_once

/// The fleet above over HTTP: version endpoints at `/{env}/{service}`, a
/// Prometheus query API at `/prom/api/v1/query`. Stops when dropped.
struct Server {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

fn endpoint(env: &str, service: &str) -> Response {
    let (version, health) = match deployment(env, service) {
        Deploy::Up(v) => (v, "UP"),
        Deploy::Down(v) => (v, "DOWN"),
        Deploy::NotFound => return (StatusCode::NOT_FOUND, NOT_FOUND).into_response(),
    };
    let body = json!({
        "version": version,
        "build": build_of(version),
        "commit": commit_of(version),
        "deployed_at": DEPLOYED_AT,
        "health": health,
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The label value of `name="…"` in a rendered query.
fn label<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    let start = query.find(&format!("{name}=\""))? + name.len() + 2;
    let len = query[start..].find('"')?;
    Some(&query[start..start + len])
}

fn prometheus(params: &HashMap<String, String>) -> Response {
    let query = params.get("query").map(String::as_str).unwrap_or("");
    let (Some(service), Some(env)) = (label(query, "service"), label(query, "env")) else {
        let body = json!({"status": "error", "errorType": "bad_data", "error": format!("unknown query {query}")});
        return (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    };
    let at = Timestamp::now().as_second();
    let body = json!({
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"service": service, "env": env}, "value": [at, error_rate(env, service).to_string()]}],
        },
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

impl Server {
    fn start() -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let app = Router::new()
            .route("/prom/api/v1/query", get(|Query(p): Query<HashMap<String, String>>| async move { prometheus(&p) }))
            .route(
                "/{env}/{service}",
                get(|UrlPath((env, service)): UrlPath<(String, String)>| async move { endpoint(&env, &service) }),
            );
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await.expect("test server") });
        Server { addr, _rt: rt }
    }
}

/// `flightdeck check --format json --config FILE` in a sandbox: XDG dirs and
/// HOME in `dir`, every `FLIGHTDECK_*` variable removed.
fn run_check(dir: &Path, config: &Path) -> (Option<i32>, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.args(["check", "--format", "json", "--config", config.to_str().unwrap()])
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FLIGHTDECK_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd.output().expect("run flightdeck");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code(), report)
}

/// A trigger row without its baseline time: each sweep measures its
/// baseline an hour before its own now.
fn without_baseline_time(mut rollback: Value) -> Value {
    for t in rollback["triggers"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("baseline_at");
    }
    rollback
}

#[test]
fn the_check_binary_and_a_swept_cockpit_agree_on_a_served_fleet() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (text, config, active) = config(&server.addr.to_string());
    let path = dir.path().join("flightdeck.toml");
    std::fs::write(&path, &text).unwrap();

    let (code, report) = run_check(dir.path(), &path);

    // The cockpit's side: the same config, its sources swept once.
    let ctx = flightdeck::sources::HttpContext::new().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let swept = rt.block_on(flightdeck::poller::sweep_once(&active, config.poller, &ctx, |_, _| {}));
    assert_eq!(swept.len(), 24, "12 cells, 2 sources");
    let failed: Vec<(String, CellKey, String)> = swept
        .iter()
        .filter_map(|u| Some((u.source.to_string(), u.cell, u.result.as_ref().err()?.to_string())))
        .collect();
    let search_in_qa = cell(&config, "qa", "search");
    assert_eq!(failed.len(), 1, "only search in qa fails: {failed:?}");
    assert_eq!((failed[0].0.as_str(), failed[0].1), ("endpoints", search_in_qa), "{failed:?}");
    assert!(failed[0].2.starts_with("HTTP 404"), "{failed:?}");
    let state = cockpit(&config, &active, &swept, Timestamp::now());

    let (verdict, blockers, findings) = assert_same_judgement(&state, &report);
    assert_eq!(code, Some(i32::from(state.eval.judgement.verdict.exit_code())), "exit code");
    assert_eq!(verdict, "no-go");
    assert_eq!(code, Some(1));
    // The served fleet's findings: those above, search failing as swept.
    assert_eq!(findings, expected_findings(&failed[0].2));
    assert_eq!(
        blockers[..2].to_vec(),
        vec![
            (
                "trigger".to_string(),
                "rollback trigger firing: payments in prod: error_rate 0.2 (baseline 0.2, fires ≥ 0.05)".to_string()
            ),
            ("trigger".into(), "rollback trigger firing: checkout in prod: health down".into()),
        ]
    );
    // Rollback too, but for when each sweep measured its baselines.
    assert_eq!(
        without_baseline_time(serde_json::to_value(&state.eval.rollback).unwrap()),
        without_baseline_time(report["rollback"].clone()),
        "rollback differs; check said:\n{report:#}"
    );
}
