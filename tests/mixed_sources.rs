//! A mixed-source scenario: service endpoints (running), GitHub deployment
//! records (recorded) and Argo CD (controller) read the same cells. When a
//! record claims a version the service does not run, `check` reports one
//! `conflict` naming the sources and versions, and the cell shows what runs.

use std::net::SocketAddr;
use std::process::Command;

use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

const SHA_OLD: &str = "1111111111111111111111111111111111111111";
const SHA_NEW: &str = "2222222222222222222222222222222222222222";

/// What runs: payments 1.3.2 in prod (the rollout of 1.4.0 never happened),
/// checkout 2.8.0 everywhere.
fn running(service: &str, env: &str) -> &'static str {
    match (service, env) {
        ("payments", "prod") => "1.3.2",
        ("payments", _) => "1.4.0",
        _ => "2.8.0",
    }
}

/// What the pipeline recorded: payments 1.4.0 deployed to prod, successfully.
fn recorded(service: &str, env: &str) -> &'static str {
    match (service, env) {
        ("payments", _) => "1.4.0",
        _ => running(service, env),
    }
}

fn server() -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let app = Router::new()
        // The services' own version endpoints.
        .route(
            "/v/{env}/{service}",
            get(|Path((env, service)): Path<(String, String)>| async move {
                axum::Json(json!({"version": running(&service, &env), "health": "UP"}))
            }),
        )
        // GitHub: deployments per environment, then each one's statuses.
        .route(
            "/repos/acme/{service}/deployments",
            get(
                |Path(service): Path<String>,
                 axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>,
                 headers: HeaderMap| async move {
                    assert_eq!(
                        headers.get("authorization").and_then(|v| v.to_str().ok()),
                        Some("Bearer gh-test-token")
                    );
                    let env = q.iter().find(|(k, _)| k == "environment").map(|(_, v)| v.clone()).unwrap_or_default();
                    let version = recorded(&service, &env);
                    let sha = if version == "1.3.2" { SHA_OLD } else { SHA_NEW };
                    axum::Json(json!([{
                        "id": 7, "sha": sha, "ref": version, "task": "deploy", "environment": env,
                        "payload": {}, "created_at": "2026-11-24T18:05:00Z", "updated_at": "2026-11-24T18:06:00Z",
                        "statuses_url": "", "creator": null
                    }]))
                },
            ),
        )
        .route(
            "/repos/acme/{service}/deployments/{id}/statuses",
            get(|| async {
                axum::Json(
                    json!([{"id": 70, "state": "success", "environment": "x", "created_at": "2026-11-24T18:06:00Z"}]),
                )
            }),
        )
        // Argo CD: one application per cell.
        .route(
            "/api/v1/applications/{app}",
            get(|Path(app): Path<String>, headers: HeaderMap| async move {
                assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer argo-test-token"));
                let (service, env) = app.rsplit_once('-').unwrap();
                let tag = running(service, env);
                axum::Json(json!({
                    "metadata": {"name": app},
                    "spec": {"syncPolicy": {"automated": {"prune": true}}},
                    "status": {
                        "sync": {"status": "Synced", "revision": "abc"},
                        "health": {"status": "Healthy"},
                        "summary": {"images": [format!("registry.example/acme/{service}:{tag}")]},
                        "history": [{"id": 3, "revision": "abc", "deployedAt": "2026-11-20T10:00:00Z"}]
                    }
                }))
            }),
        );
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    (rt, addr)
}

fn config(addr: SocketAddr) -> String {
    format!(
        r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"

[[services]]
name = "payments"
[[services]]
name = "checkout"

[release]
name = "2026.11"
[release.targets]
payments = "1.4.0"
checkout = "2.8.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://{addr}/v/{{env}}/{{service}}"

[[sources]]
name = "github"
kind = "github"
api_url = "http://{addr}"
repo = "acme/{{service}}"
token_env = "FD_MIXED_GH_TOKEN"

[[sources]]
name = "argocd"
kind = "argocd"
api_url = "http://{addr}"
token_env = "FD_MIXED_ARGO_TOKEN"
"#
    )
}

#[test]
fn a_record_claiming_a_version_the_service_does_not_run_is_one_conflict() {
    let (_rt, addr) = server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.toml");
    std::fs::write(&path, config(addr)).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FLIGHTDECK_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(["check", "--format", "json", "--config", path.to_str().unwrap()])
        .env("XDG_CONFIG_HOME", dir.path().join("c"))
        .env("XDG_DATA_HOME", dir.path().join("d"))
        .env("XDG_STATE_HOME", dir.path().join("s"))
        .env("FD_MIXED_GH_TOKEN", "gh-test-token")
        .env("FD_MIXED_ARGO_TOKEN", "argo-test-token")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));

    let findings: Vec<(&str, &str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["service"].as_str().unwrap(), f["environment"].as_str().unwrap()))
        .collect();
    // prod is reached (checkout runs its target there), so payments at 1.3.2
    // is also missing; the conflict is the record's lie.
    assert_eq!(findings, vec![("missing", "payments", "prod"), ("conflict", "payments", "prod")], "{report:#}");
    let conflict = report["findings"][1]["message"].as_str().unwrap();
    assert_eq!(
        conflict,
        "payments in prod: endpoints (running) and argocd (controller) say 1.3.2, github (recorded) says 1.4.0"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report["verdict"], "no-go");

    // The cell shows the strongest evidence: what the service runs.
    let cell = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "payments" && c["environment"] == "prod")
        .unwrap();
    assert_eq!(cell["version"], "1.3.2");
    assert_eq!(cell["source"], "endpoints");
    assert_eq!(cell["evidence"], "running");

    // Everywhere else the three sources agree: no other finding.
    assert_eq!(report["cells"].as_array().unwrap().len(), 4);
    // The tokens never appear in the output.
    assert!(!stdout.contains("gh-test-token") && !stdout.contains("argo-test-token"));
}
