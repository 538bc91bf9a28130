//! `flightdeck check` against each release failure mode, end to end.
//!
//! Every test serves a fleet from an axum server on 127.0.0.1:0 (on a tokio
//! runtime owned by the test, so it keeps serving while the real binary runs
//! as a separate process), writes a config pointing at it, runs
//! `flightdeck check` in a sandbox (XDG dirs and HOME in a temp dir, every
//! `FLIGHTDECK_*` variable removed) and checks the exact findings, verdict
//! and exit code.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tempfile::TempDir;

const ENVS: [&str; 4] = ["dev", "qa", "uat", "prod"];
/// The planned services and their targets; `search` is not in the release.
const TARGETS: [(&str, &str); 3] = [("payments", "1.4.0"), ("checkout", "2.1.0"), ("ledger", "3.0.0")];
const SEARCH: &str = "2.3.0";
const RUNNING_SOURCE: &str = "version-endpoints";
const RECORDED_SOURCE: &str = "deploy-records";

// ---------------------------------------------------------------------------
// The fleet server

/// What the server answers for one cell.
#[derive(Debug, Clone)]
enum Canned {
    Json(Value),
    Status(u16, String),
}

type Cells = HashMap<(String, String), Canned>;

#[derive(Clone, Default)]
struct Served {
    /// `/{env}/{service}`: the services' own version endpoints.
    running: Arc<Mutex<Cells>>,
    /// `/records/{env}/{service}`: a deployment record.
    records: Arc<Mutex<Cells>>,
}

/// A loopback HTTP server on its own runtime; stops when dropped.
struct Server {
    addr: SocketAddr,
    served: Served,
    _rt: tokio::runtime::Runtime,
}

fn answer(cells: &Mutex<Cells>, env: String, service: String) -> Response {
    let canned = cells.lock().unwrap().get(&(env, service)).cloned();
    match canned {
        Some(Canned::Json(v)) => ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response(),
        Some(Canned::Status(code, body)) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        None => (StatusCode::NOT_FOUND, "no such cell").into_response(),
    }
}

impl Server {
    fn start(running: Cells) -> Server {
        Server::start_with_records(running, Cells::new())
    }

    fn start_with_records(running: Cells, records: Cells) -> Server {
        let served = Served { running: Arc::new(Mutex::new(running)), records: Arc::new(Mutex::new(records)) };
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let app = Router::new()
            .route(
                "/{env}/{service}",
                get(|State(s): State<Served>, UrlPath((env, service)): UrlPath<(String, String)>| async move {
                    answer(&s.running, env, service)
                }),
            )
            .route(
                "/records/{env}/{service}",
                get(|State(s): State<Served>, UrlPath((env, service)): UrlPath<(String, String)>| async move {
                    answer(&s.records, env, service)
                }),
            )
            // A Prometheus-shaped query API whose every query matches two
            // series (a query someone forgot to aggregate).
            .route("/prom/api/v1/query", get(|| async { ([(header::CONTENT_TYPE, "application/json")], two_series()) }))
            .with_state(served.clone());
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await.expect("test server") });
        Server { addr, served, _rt: rt }
    }

    /// Change what the endpoint answers for one cell.
    fn set(&self, env: &str, service: &str, canned: Canned) {
        self.served.running.lock().unwrap().insert(key(env, service), canned);
    }
}

/// A Prometheus instant-query answer with two series: a cell has one
/// value per metric, so flightdeck must refuse it.
fn two_series() -> String {
    let at = Timestamp::now().as_second();
    json!({
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"instance": "a"}, "value": [at, "0.001"]},
                {"metric": {"instance": "b"}, "value": [at, "0.002"]},
            ],
        },
    })
    .to_string()
}

fn key(env: &str, service: &str) -> (String, String) {
    (env.to_string(), service.to_string())
}

fn ago(days: i64) -> Timestamp {
    Timestamp::now().checked_sub(SignedDuration::from_hours(24 * days)).unwrap()
}

/// A commit id that depends only on the version: one version, one artifact.
fn commit_of(version: &str) -> String {
    let digits: String = version.chars().filter(char::is_ascii_digit).collect();
    format!("{digits:e<40}")
}

/// A healthy version endpoint: build and commit follow the version,
/// deployed yesterday.
fn up(version: &str) -> Value {
    json!({
        "version": version,
        "build": format!("b-{version}"),
        "commit": commit_of(version),
        "deployed_at": ago(1).to_string(),
        "health": "UP",
    })
}

fn ok(version: &str) -> Canned {
    Canned::Json(up(version))
}

/// `up(version)` with some fields replaced (`null` removes one).
fn with(version: &str, changes: Value) -> Canned {
    let mut v = up(version);
    for (k, x) in changes.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    Canned::Json(v)
}

/// Every planned service at its target and `search` at 2.3.0, everywhere.
fn all_good() -> Cells {
    let mut cells = Cells::new();
    for env in ENVS {
        for (service, target) in TARGETS {
            cells.insert(key(env, service), ok(target));
        }
        cells.insert(key(env, "search"), ok(SEARCH));
    }
    cells
}

/// The release reached uat, but `ledger` was silently skipped there; prod
/// still runs the previous release everywhere (not reached).
fn skipped_in_uat() -> Cells {
    let mut cells = all_good();
    cells.insert(key("uat", "ledger"), ok("2.9.0"));
    cells.insert(key("prod", "payments"), ok("1.3.2"));
    cells.insert(key("prod", "checkout"), ok("2.0.0"));
    cells.insert(key("prod", "ledger"), ok("2.9.0"));
    cells
}

// ---------------------------------------------------------------------------
// The config

#[derive(Default)]
struct Setup<'a> {
    /// Extra lines in `[release]` (a window).
    release: &'a str,
    /// Extra TOML at the end (more sources).
    extra: &'a str,
}

fn config_text(addr: SocketAddr, setup: &Setup<'_>) -> String {
    let targets: String = TARGETS.iter().map(|(s, v)| format!("{s} = \"{v}\"\n")).collect();
    format!(
        r#"
[[environments]]
name = "dev"

[[environments]]
name = "qa"

[[environments]]
name = "uat"

[[environments]]
name = "prod"
stale_after = "30d"

[[services]]
name = "payments"

[[services]]
name = "checkout"

[[services]]
name = "ledger"

[[services]]
name = "search"

[release]
name = "2026.11"
{release}

[release.targets]
{targets}
[[sources]]
name = "{RUNNING_SOURCE}"
kind = "http"
url = "http://{addr}/{{env}}/{{service}}"
timeout = "3s"
{extra}
"#,
        release = setup.release,
        extra = setup.extra,
    )
}

/// A second source: a deployment record for payments in prod.
fn recorded_source(addr: SocketAddr) -> String {
    format!(
        r#"
[[sources]]
name = "{RECORDED_SOURCE}"
kind = "http"
url = "http://{addr}/records/{{env}}/{{service}}"
evidence = "recorded"
services = ["payments"]
environments = ["prod"]
"#
    )
}

// ---------------------------------------------------------------------------
// The binary, sandboxed

struct Sandbox {
    dir: TempDir,
}

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    raw_stdout: Vec<u8>,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            raw_stdout: out.stdout,
        }
    }
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Where flightdeck keeps its journal: `ProjectDirs::from("", "",
    /// "flightdeck").data_dir()`, i.e. `$XDG_DATA_HOME/flightdeck`.
    fn journal(&self) -> PathBuf {
        self.path("xdg-data").join("flightdeck").join("observations.jsonl")
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn config(&self, addr: SocketAddr, setup: &Setup<'_>) -> PathBuf {
        self.write("flightdeck.toml", &config_text(addr, setup))
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        cmd.args(args)
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("XDG_DATA_HOME", self.path("xdg-data"))
            .env("XDG_STATE_HOME", self.path("xdg-state"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FLIGHTDECK_") {
                cmd.env_remove(key);
            }
        }
        Run::from(cmd.output().expect("run flightdeck"))
    }

    /// `check --format FORMAT --config FILE` plus `more` arguments.
    fn check(&self, config: &Path, format: &str, more: &[&str]) -> Run {
        let mut args = vec!["check", "--format", format, "--config", config.to_str().unwrap()];
        args.extend_from_slice(more);
        self.run(&args)
    }

    fn check_json(&self, config: &Path, more: &[&str]) -> (Run, Value) {
        let run = self.check(config, "json", more);
        let report: Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {run:#?}"));
        (run, report)
    }
}

// ---------------------------------------------------------------------------
// Reading the report

type FindingKey = (String, String, String, String);

/// The findings as sorted (kind, severity, service, environment) tuples.
fn findings(report: &Value) -> Vec<FindingKey> {
    let mut out: Vec<FindingKey> = report["findings"]
        .as_array()
        .expect("findings is an array")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_else(|| panic!("finding.{k} is a string: {f}")).to_string();
            (s("kind"), s("severity"), s("service"), s("environment"))
        })
        .collect();
    out.sort();
    out
}

fn expect(list: &[(&str, &str, &str, &str)]) -> Vec<FindingKey> {
    let mut out: Vec<FindingKey> =
        list.iter().map(|(k, s, svc, e)| (k.to_string(), s.to_string(), svc.to_string(), e.to_string())).collect();
    out.sort();
    out
}

fn assert_findings(report: &Value, list: &[(&str, &str, &str, &str)]) {
    assert_eq!(findings(report), expect(list), "findings differ; report:\n{report:#}");
}

fn finding<'a>(report: &'a Value, kind: &str, service: &str, env: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["service"] == service && f["environment"] == env)
        .unwrap_or_else(|| panic!("no {kind} finding on {service}/{env}: {report:#}"))
}

fn message<'a>(report: &'a Value, kind: &str, service: &str, env: &str) -> &'a str {
    finding(report, kind, service, env)["message"].as_str().expect("message is a string")
}

fn cell<'a>(report: &'a Value, service: &str, env: &str) -> &'a Value {
    report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == service && c["environment"] == env)
        .unwrap_or_else(|| panic!("no cell {service}/{env}: {report:#}"))
}

fn assert_verdict(run: &Run, report: &Value, verdict: &str, code: i32) {
    assert_eq!(report["verdict"], verdict, "{report:#}");
    assert_eq!(run.code, Some(code), "exit code; stderr: {}", run.stderr);
}

/// Blocker reasons, in order.
fn blocker_reasons(report: &Value) -> Vec<String> {
    report["blockers"].as_array().unwrap().iter().map(|b| b["reason"].as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------------------
// Scenarios

#[test]
fn all_good_is_go_with_the_full_contract() {
    let server = Server::start(all_good());
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[]);
    assert_verdict(&run, &report, "go", 0);
    assert_eq!(report["schema"], 1);
    assert_eq!(report["blockers"], json!([]));
    assert!(report["generated_at"].as_str().is_some_and(|t| t.parse::<Timestamp>().is_ok()), "{report:#}");
    assert_eq!(report["release"], json!({"name": "2026.11", "kind": null, "window": null}));

    let contract: BTreeSet<&str> = [
        "service",
        "environment",
        "version",
        "build",
        "commit",
        "digest",
        "health",
        "deployed_at",
        "evidence",
        "source",
        "fetched_at",
        "error",
    ]
    .into();
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), ENVS.len() * 4, "one entry per cell: {report:#}");
    let mut seen = BTreeSet::new();
    for c in cells {
        let keys: BTreeSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, contract, "{c:#}");
        assert_eq!(c["evidence"], "running", "{c:#}");
        assert_eq!(c["source"], RUNNING_SOURCE, "{c:#}");
        assert_eq!(c["health"], "up", "{c:#}");
        assert_eq!(c["error"], Value::Null, "{c:#}");
        assert_eq!(c["digest"], Value::Null, "{c:#}");
        assert!(c["fetched_at"].as_str().is_some_and(|t| t.parse::<Timestamp>().is_ok()), "{c:#}");
        assert!(c["deployed_at"].as_str().is_some_and(|t| t.parse::<Timestamp>().is_ok()), "{c:#}");
        let version = c["version"].as_str().unwrap();
        assert_eq!(c["build"], format!("b-{version}"), "{c:#}");
        assert_eq!(c["commit"], commit_of(version), "{c:#}");
        assert!(seen.insert((c["service"].as_str().unwrap(), c["environment"].as_str().unwrap())), "duplicate {c:#}");
    }
    assert_eq!(cell(&report, "ledger", "prod")["version"], "3.0.0");
    assert_eq!(cell(&report, "search", "dev")["version"], SEARCH);
}

#[test]
fn a_service_skipped_in_a_reached_environment_is_missing() {
    let server = Server::start(skipped_in_uat());
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("missing", "high", "ledger", "uat")]);
    let msg = message(&report, "missing", "ledger", "uat");
    for needle in ["3.0.0", "2.9.0", "uat"] {
        assert!(msg.contains(needle), "message should name {needle}: {msg}");
    }
    assert_verdict(&run, &report, "no-go", 1);
    assert_eq!(report["blockers"], json!([{"reason": "finding", "message": msg}]));
}

#[test]
fn a_service_newer_than_its_target_is_not_missing() {
    let mut cells = all_good();
    for env in ENVS {
        cells.insert(key(env, "payments"), ok("1.4.1"));
    }
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[]);
    assert_verdict(&run, &report, "go", 0);
    assert_eq!(cell(&report, "payments", "prod")["version"], "1.4.1");
}

#[test]
fn a_hotfix_only_in_prod_is_ahead() {
    let mut cells = all_good();
    cells.insert(key("prod", "search"), ok("2.3.1"));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("ahead", "high", "search", "prod")]);
    let msg = message(&report, "ahead", "search", "prod");
    for needle in ["2.3.1", "2.3.0", "uat"] {
        assert!(msg.contains(needle), "message should name {needle}: {msg}");
    }
    assert_verdict(&run, &report, "no-go", 1);
    assert_eq!(blocker_reasons(&report), ["finding"]);

    // Asking only about prod still compares prod with uat: the hotfix shows.
    let (run, report) = sandbox.check_json(&config, &["--env", "prod"]);
    assert_findings(&report, &[("ahead", "high", "search", "prod")]);
    assert_verdict(&run, &report, "no-go", 1);
    let envs: BTreeSet<&str> =
        report["cells"].as_array().unwrap().iter().map(|c| c["environment"].as_str().unwrap()).collect();
    assert_eq!(envs, BTreeSet::from(["prod"]), "{report:#}");
}

#[test]
fn same_version_with_another_build_is_a_build_mismatch_on_the_later_environment() {
    let mut cells = all_good();
    cells.insert(key("prod", "payments"), with("1.4.0", json!({"build": "b-1.4.0-rebuilt"})));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("build_mismatch", "high", "payments", "prod")]);
    let msg = message(&report, "build_mismatch", "payments", "prod");
    for needle in ["b-1.4.0-rebuilt", "b-1.4.0", "uat", "prod"] {
        assert!(msg.contains(needle), "message should name {needle}: {msg}");
    }
    assert_verdict(&run, &report, "no-go", 1);
}

#[test]
fn short_and_full_sha_of_one_commit_are_the_same_artifact() {
    let full = "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
    let mut cells = all_good();
    for env in ENVS {
        let commit = if env == "uat" { &full[..7] } else { full };
        cells.insert(key(env, "payments"), with("1.4.0", json!({"build": null, "commit": commit})));
    }
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[]);
    assert_verdict(&run, &report, "go", 0);
    assert_eq!(cell(&report, "payments", "uat")["commit"], &full[..7]);
    assert_eq!(cell(&report, "payments", "uat")["build"], Value::Null);
}

#[test]
fn a_record_that_disagrees_with_the_running_service_is_a_conflict() {
    let mut cells = all_good();
    cells.insert(key("prod", "payments"), ok("1.3.2"));
    let records = Cells::from([(key("prod", "payments"), ok("1.4.0"))]);
    let server = Server::start_with_records(cells, records);
    let sandbox = Sandbox::new();
    let extra = recorded_source(server.addr);
    let config = sandbox.config(server.addr, &Setup { extra: &extra, ..Setup::default() });
    let (run, report) = sandbox.check_json(&config, &[]);
    // prod is reached (checkout and ledger run their targets there), so the
    // running 1.3.2 is also missing the target.
    assert_findings(&report, &[("conflict", "high", "payments", "prod"), ("missing", "high", "payments", "prod")]);
    let msg = message(&report, "conflict", "payments", "prod");
    for needle in [RUNNING_SOURCE, RECORDED_SOURCE, "1.3.2", "1.4.0"] {
        assert!(msg.contains(needle), "message should name {needle}: {msg}");
    }
    assert_verdict(&run, &report, "no-go", 1);
    // The cell shows the strongest evidence: what the service itself says.
    let shown = cell(&report, "payments", "prod");
    assert_eq!(shown["version"], "1.3.2", "{shown:#}");
    assert_eq!(shown["source"], RUNNING_SOURCE, "{shown:#}");
    assert_eq!(shown["evidence"], "running", "{shown:#}");
    // Still one entry per cell, however many sources read it.
    assert_eq!(report["cells"].as_array().unwrap().len(), 16);
}

#[test]
fn health_down_is_unhealthy() {
    let mut cells = all_good();
    cells.insert(key("prod", "checkout"), with("2.1.0", json!({"health": "DOWN"})));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("unhealthy", "high", "checkout", "prod")]);
    assert_eq!(cell(&report, "checkout", "prod")["health"], "down");
    assert_verdict(&run, &report, "no-go", 1);
}

#[test]
fn a_failing_endpoint_is_unreachable_and_holds_a_planned_cell() {
    let mut cells = all_good();
    cells.insert(key("qa", "ledger"), Canned::Status(500, "boom".into()));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("unreachable", "medium", "ledger", "qa")]);
    assert!(message(&report, "unreachable", "ledger", "qa").contains("HTTP 500"), "{report:#}");
    let failed = cell(&report, "ledger", "qa");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("HTTP 500")), "{failed:#}");
    assert_eq!(failed["version"], Value::Null, "{failed:#}");
    assert_eq!(failed["source"], RUNNING_SOURCE, "{failed:#}");
    // The finding is medium, but ledger is planned: nobody can say whether
    // it runs its target in qa, so the call holds.
    assert_verdict(&run, &report, "hold", 1);
    assert_eq!(blocker_reasons(&report), ["unread"]);
    let why = report["blockers"][0]["message"].as_str().unwrap();
    assert!(why.contains("cannot tell whether ledger runs 3.0.0 in qa") && why.contains("HTTP 500"), "{why}");

    // An unplanned service failing is only the medium finding: no blocker.
    let mut cells = all_good();
    cells.insert(key("qa", "search"), Canned::Status(500, "boom".into()));
    let server = Server::start(cells);
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("unreachable", "medium", "search", "qa")]);
    assert_verdict(&run, &report, "go", 0);
    assert_eq!(report["blockers"], json!([]));
}

#[test]
fn an_old_deployment_is_stale_by_deployed_at_or_by_first_seen_in_the_journal() {
    let mut cells = all_good();
    cells.insert(key("prod", "payments"), with("1.4.0", json!({"deployed_at": ago(200).to_string()})));
    cells.insert(key("prod", "checkout"), with("2.1.0", json!({"deployed_at": null})));
    // No deployed_at and no journal entry: nothing to go by, not stale.
    cells.insert(key("prod", "ledger"), with("3.0.0", json!({"deployed_at": null})));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let first_seen = json!({
        "at": ago(60).to_string(),
        "service": "checkout",
        "environment": "prod",
        "source": RUNNING_SOURCE,
        "old": null,
        "new": "2.1.0",
        "build": "b-2.1.0",
    });
    sandbox.write("xdg-data/flightdeck/observations.jsonl", &format!("{first_seen}\n"));
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[("stale", "medium", "payments", "prod"), ("stale", "medium", "checkout", "prod")]);
    let deployed = message(&report, "stale", "payments", "prod");
    assert!(deployed.contains("deployed") && deployed.contains("1.4.0"), "{deployed}");
    let seen = message(&report, "stale", "checkout", "prod");
    assert!(seen.contains("first seen") && seen.contains("2.1.0"), "{seen}");
    assert_verdict(&run, &report, "go", 0);
}

#[test]
fn a_window_in_the_past_is_no_go_without_any_finding() {
    let server = Server::start(all_good());
    let sandbox = Sandbox::new();
    let window = r#"window = { start = "2020-01-07T18:00:00Z", end = "2020-01-07T20:00:00Z" }"#;
    let config = sandbox.config(server.addr, &Setup { release: window, ..Setup::default() });
    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[]);
    assert_verdict(&run, &report, "no-go", 1);
    assert_eq!(blocker_reasons(&report), ["window"]);
    assert_eq!(
        report["release"]["window"],
        json!({"start": "2020-01-07T18:00:00Z", "end": "2020-01-07T20:00:00Z"}),
        "{report:#}"
    );
}

#[test]
fn env_flag_limits_the_evaluation() {
    let server = Server::start(skipped_in_uat());
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (run, report) = sandbox.check_json(&config, &["--env", "dev", "--env", "prod"]);
    assert_findings(&report, &[]);
    assert_verdict(&run, &report, "go", 0);
    let envs: BTreeSet<&str> =
        report["cells"].as_array().unwrap().iter().map(|c| c["environment"].as_str().unwrap()).collect();
    assert_eq!(envs, BTreeSet::from(["dev", "prod"]), "{report:#}");
    assert_eq!(report["cells"].as_array().unwrap().len(), 8);

    let run = sandbox.check(&config, "json", &["--env", "nope"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("nope"), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[test]
fn bad_input_exits_2() {
    let sandbox = Sandbox::new();
    let good = sandbox.write("good.toml", &config_text("127.0.0.1:9".parse().unwrap(), &Setup::default()));

    let run = sandbox.run(&["check", "--frobnicate", "--config", good.to_str().unwrap()]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--frobnicate"), "{run:#?}");

    let run = sandbox.check(&good, "yaml", &[]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("yaml"), "{run:#?}");

    let bad_text = config_text("127.0.0.1:9".parse().unwrap(), &Setup::default())
        .replace("/{env}/{service}", "/{environment}/{service}");
    let bad = sandbox.write("bad.toml", &bad_text);
    let run = sandbox.check(&bad, "json", &[]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains(bad.to_str().unwrap()), "stderr should name the file: {run:#?}");
    assert!(run.stderr.contains("{environment}"), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");

    let run = sandbox.run(&["check", "--format", "json"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("no config"), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[test]
fn text_and_markdown_agree_with_json() {
    let server = Server::start(skipped_in_uat());
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let (json_run, _) = sandbox.check_json(&config, &[]);

    let md = sandbox.check(&config, "markdown", &[]);
    assert_eq!(md.code, json_run.code, "{md:#?}");
    assert!(md.stdout.lines().any(|l| l.starts_with("| severity |")), "{}", md.stdout);
    assert!(md.stdout.contains("**Verdict: NO-GO"), "{}", md.stdout);
    assert!(md.stdout.lines().any(|l| l.contains("`missing`") && l.contains("ledger")), "{}", md.stdout);

    let text = sandbox.check(&config, "text", &[]);
    assert_eq!(text.code, json_run.code, "{text:#?}");
    assert!(text.stdout.contains("verdict: NO-GO"), "{}", text.stdout);
    assert!(text.stdout.contains("ledger is not at 3.0.0 in uat (runs 2.9.0)"), "{}", text.stdout);
}

#[test]
fn hostile_values_never_reach_the_output() {
    let evil = "1.4.0\u{1b}[2J\u{1b}]0;x\u{7}\u{202e}";
    let mut cells = all_good();
    cells.insert(
        key("prod", "payments"),
        Canned::Json(json!({
            "version": evil,
            "build": format!("b\u{1b}[31m{evil}"),
            "commit": format!("\u{202e}{evil}"),
            "health": format!("UP{evil}"),
        })),
    );
    cells.insert(key("uat", "payments"), Canned::Status(500, format!("on fire {evil}\u{1b}[0m")));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let clean = |s: &str| !s.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}']);
    for format in ["json", "text", "markdown"] {
        let run = sandbox.check(&config, format, &[]);
        assert!(run.code == Some(0) || run.code == Some(1), "{format}: {run:#?}");
        assert!(!run.raw_stdout.contains(&0x1b), "{format}: ESC in stdout:\n{}", run.stdout);
        assert!(!run.raw_stdout.contains(&0x07), "{format}: BEL in stdout:\n{}", run.stdout);
        assert!(clean(&run.stdout), "{format}: control or bidi character in stdout:\n{}", run.stdout);
        assert!(clean(&run.stderr), "{format}: control or bidi character in stderr:\n{}", run.stderr);
        if format == "json" {
            // JSON would escape controls as `\u001b`: check the decoded strings too.
            let report: Value = serde_json::from_str(&run.stdout).unwrap();
            let mut strings = Vec::new();
            collect_strings(&report, &mut strings);
            for s in strings {
                assert!(clean(&s), "control or bidi character in {s:?}");
            }
            let shown = cell(&report, "payments", "prod");
            assert!(shown["version"].as_str().is_some_and(|v| v.starts_with("1.4.0")), "{shown:#}");
        }
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            collect_strings(x, out);
        }),
        _ => {}
    }
}

#[test]
fn no_progress_on_stderr_when_it_is_not_a_terminal() {
    let server = Server::start(all_good());
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    for format in ["json", "text", "markdown"] {
        let run = sandbox.check(&config, format, &[]);
        assert_eq!(run.code, Some(0), "{format}: {run:#?}");
        assert_eq!(run.stderr, "", "{format}: stderr should be empty");
        assert!(!run.stdout.is_empty(), "{format}");
    }
}

#[test]
fn the_journal_records_first_sightings_then_changes() {
    let mut cells = all_good();
    cells.insert(key("dev", "search"), Canned::Status(503, String::new()));
    let server = Server::start(cells);
    let sandbox = Sandbox::new();
    let config = sandbox.config(server.addr, &Setup::default());
    let run = sandbox.check(&config, "json", &[]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stderr, "");

    let read = || -> Vec<Value> {
        let text = std::fs::read_to_string(sandbox.journal()).expect("the journal exists after a check");
        assert!(text.ends_with('\n'), "every line complete: {text}");
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    };
    let first = read();
    let mut expected = BTreeSet::new();
    for env in ENVS {
        for (service, target) in TARGETS.iter().copied().chain([("search", SEARCH)]) {
            if (env, service) != ("dev", "search") {
                expected.insert((env.to_string(), service.to_string(), target.to_string()));
            }
        }
    }
    let got: BTreeSet<(String, String, String)> = first
        .iter()
        .map(|e| {
            assert_eq!(e["old"], Value::Null, "first sighting: {e}");
            assert_eq!(e["source"], RUNNING_SOURCE, "{e}");
            assert!(e["at"].as_str().is_some_and(|t| t.parse::<Timestamp>().is_ok()), "{e}");
            let new = e["new"].as_str().unwrap();
            assert_eq!(e["build"], format!("b-{new}"), "{e}");
            (e["environment"].as_str().unwrap().into(), e["service"].as_str().unwrap().into(), new.into())
        })
        .collect();
    assert_eq!(first.len(), 15, "one line per cell read successfully: {first:#?}");
    assert_eq!(got, expected);

    // A second run: the same fleet adds nothing, a new version adds one line.
    server.set("prod", "search", ok("2.3.1"));
    let run = sandbox.check(&config, "json", &[]);
    assert_eq!(run.code, Some(1), "prod search is now ahead of uat: {run:#?}");
    let second = read();
    assert_eq!(&second[..first.len()], &first[..], "append-only");
    assert_eq!(second.len(), first.len() + 1, "{second:#?}");
    let last = &second[first.len()];
    assert_eq!(
        (&last["service"], &last["environment"], &last["old"], &last["new"], &last["build"]),
        (&json!("search"), &json!("prod"), &json!("2.3.0"), &json!("2.3.1"), &json!("b-2.3.1")),
        "{last}"
    );
}

#[test]
fn a_prometheus_query_returning_two_series_reaches_the_output_and_blocks_go() {
    let server = Server::start(all_good());
    let sandbox = Sandbox::new();
    let prom = format!(
        r#"
[[sources]]
name = "prom"
kind = "prometheus"
api_url = "http://{addr}/prom"
services = ["payments"]
environments = ["prod"]
[sources.queries]
error_rate = 'sum(rate(errors{{job="{{service}}"}}[5m]))'

[[rollback.triggers]]
metric = "error_rate"
above = 0.05
environments = ["prod"]
"#,
        addr = server.addr
    );
    let config = sandbox.config(server.addr, &Setup { extra: &prom, ..Setup::default() });
    let expected = "error_rate: query returned 2 series; aggregate it with sum() or max()";

    let (run, report) = sandbox.check_json(&config, &[]);
    assert_findings(&report, &[]);
    let trigger = report["rollback"]["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "error_rate" && t["service"] == "payments" && t["environment"] == "prod")
        .unwrap_or_else(|| panic!("no error_rate trigger for payments in prod: {report:#}"));
    assert_eq!(trigger["error"], expected, "{trigger:#}");
    assert_eq!(trigger["state"], "no-data", "{trigger:#}");
    assert_eq!(trigger["live"], Value::Null, "{trigger:#}");
    assert!(!trigger["note"].as_str().unwrap().contains("no metrics source has read"), "{trigger:#}");
    // The cells prom does not read have no error; their triggers say so.
    let other = report["rollback"]["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "error_rate" && t["service"] == "checkout")
        .unwrap();
    assert_eq!(other["error"], Value::Null, "{other:#}");
    assert_verdict(&run, &report, "hold", 1);
    assert_eq!(blocker_reasons(&report), ["trigger_error"]);
    assert_eq!(
        report["blockers"][0]["message"],
        format!("cannot tell whether rollback trigger error_rate fires: payments in prod: {expected}")
    );

    let text = sandbox.check(&config, "text", &[]);
    assert_eq!(text.code, Some(1), "{text:#?}");
    assert!(text.stdout.contains("verdict: HOLD (1 blocker)"), "{}", text.stdout);
    let line = text
        .stdout
        .lines()
        .find(|l| l.contains("NO DATA") && l.contains("payments in prod: error_rate"))
        .unwrap_or_else(|| panic!("no trigger line: {}", text.stdout));
    assert!(line.ends_with(&format!("error: {expected}")), "{line}");
    assert!(!line.contains("no metrics source has read"), "{line}");

    let md = sandbox.check(&config, "markdown", &[]);
    assert_eq!(md.code, Some(1), "{md:#?}");
    assert!(
        md.stdout.contains(&format!("| error_rate | payments | prod | NO DATA | — | — | — | {expected} |")),
        "{}",
        md.stdout
    );
}
