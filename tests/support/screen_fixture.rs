//! The small fleet the screen snapshots draw (four services, three
//! environments, a release window open at 18:42), and the readings and
//! updates they feed it. Shared by the snapshot tests (included with `#[path]`).
#![allow(dead_code)] // each includer uses its own part

use std::sync::Arc;

use flightdeck::app::AppState;
use flightdeck::model::{CellKey, Evidence, Health, Reading};
use flightdeck::poller::SourceUpdate;
use flightdeck::sources::FetchError;
use jiff::Timestamp;

pub const CONFIG: &str = r#"
[[environments]]
name = "dev"
[[environments]]
name = "qa"
[[environments]]
name = "prod"
stale_after = "30d"

[[services]]
name = "payments"
rollback = "deployctl rollback {service} --env {env} --to {previous}"
[[services]]
name = "checkout"
rollback = "https://runbooks.example/{service}/rollback"
[[services]]
name = "search"
rollback = "deployctl rollback {service} --env {env} --to {previous}"
[[services]]
name = "ledger"

[release]
name = "2026.11"
kind = "minor"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[release.targets]
payments = "1.4.0"
checkout = "2.8.0"
search = "0.10.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
every = "10s"

[[sources]]
name = "records"
kind = "http"
url = "http://127.0.0.1:9/records/{env}/{service}"
evidence = "recorded"
environments = ["prod"]
"#;

pub fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// 18:42 inside the window.
pub fn now() -> Timestamp {
    at("2026-11-24T18:42:00Z")
}

pub fn state() -> AppState {
    let config = flightdeck::setup::from_toml_str(CONFIG, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    flightdeck::app::initial_state(&config, &active, now())
}

pub fn reading(version: &str, build: &str, health: Health) -> Reading {
    Reading {
        version: Some(version.into()),
        build: Some(build.into()),
        commit: Some("4f2a9c1".into()),
        digest: None,
        deployed_at: Some(at("2026-11-24T18:10:00Z")),
        health: Some(health),
        metrics: Vec::new(),
        attributes: Vec::new(),
        previous: None,
    }
}

pub fn update(
    source: &str,
    service: usize,
    env: usize,
    secs_ago: i64,
    result: Result<Reading, FetchError>,
) -> SourceUpdate {
    SourceUpdate {
        source: Arc::from(source),
        evidence: if source == "records" { Evidence::Recorded } else { Evidence::Running },
        role: flightdeck::model::Role::Deployment,
        cell: CellKey { service, env },
        attempted_at: now() - jiff::SignedDuration::from_secs(secs_ago),
        result,
    }
}
