//! Shared by the fleet benches: a loopback version-endpoint server for
//! `services × environments` cells with some drift in it, and the config
//! (and observation journal) that points a cockpit at it.
//!
//! Every response body is built once, before the server starts, so the
//! server does as little as a server can per request: it is not what the
//! benches measure.

#![allow(dead_code)] // each bench uses its own part

/// The allocator the shipped binary uses (`src/main.rs`): what a bench
/// measures in process is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};

/// Environment names in promotion order; the last is `prod`.
pub fn env_names(envs: usize) -> Vec<String> {
    const NAMES: [&str; 6] = ["dev", "qa", "stage", "uat", "preprod", "prod"];
    if envs == NAMES.len() {
        return NAMES.iter().map(|s| s.to_string()).collect();
    }
    (0..envs).map(|e| if e + 1 == envs { "prod".to_string() } else { format!("env{e}") }).collect()
}

pub fn service_name(n: usize) -> String {
    format!("svc-{n:04}")
}

/// The release target of service `n`.
pub fn target(n: usize) -> String {
    format!("1.{}.0", n % 7 + 1)
}

/// What service `n` reports in environment `e` of `envs`: mostly its
/// target, with drift so that every kind of finding shows up at scale
/// (about 8% of services have one).
pub struct Reported {
    pub version: String,
    pub build: String,
    pub commit: String,
    pub health: &'static str,
    pub deployed_at: Timestamp,
}

pub fn reported(n: usize, e: usize, envs: usize, now: Timestamp) -> Reported {
    let minor = n % 7 + 1;
    let prod = e + 1 == envs;
    let mut version = target(n);
    let mut build = (n * 10 + minor).to_string();
    let mut health = "UP";
    let mut deployed_at = now - SignedDuration::from_hours(48);
    if prod && n % 20 == 3 {
        // Skipped in prod: missing.
        version = format!("1.{}.0", minor - 1);
        build = (n * 10 + minor - 1).to_string();
    }
    if prod && n % 50 == 7 {
        // Rebuilt for prod: build_mismatch.
        build = format!("{}", n * 10 + minor + 5000);
    }
    if prod && n % 97 == 5 {
        // A hotfix only in prod: ahead.
        version = format!("1.{minor}.1");
    }
    if e == 2 % envs && n % 101 == 11 {
        health = "DOWN";
    }
    if e == 0 && n % 89 == 13 {
        // Nobody deployed to dev for months: stale.
        deployed_at = now - SignedDuration::from_hours(24 * 90);
    }
    let commit = format!("{:07x}", (n * 7919 + minor) % 0xfff_ffff);
    Reported { version, build, commit, health, deployed_at }
}

fn body(r: &Reported) -> String {
    serde_json::json!({
        "version": r.version,
        "build": r.build,
        "commit": r.commit,
        "health": r.health,
        "deployed_at": r.deployed_at.to_string(),
    })
    .to_string()
}

struct Bodies {
    envs: Vec<String>,
    /// `[service * envs + env]`
    bodies: Vec<axum::body::Bytes>,
}

async fn version(State(b): State<Arc<Bodies>>, Path((env, service)): Path<(String, String)>) -> Response {
    let e = b.envs.iter().position(|n| *n == env);
    let n = service.strip_prefix("svc-").and_then(|s| s.parse::<usize>().ok());
    match (e, n) {
        (Some(e), Some(n)) if n * b.envs.len() + e < b.bodies.len() => {
            ([(header::CONTENT_TYPE, "application/json")], b.bodies[n * b.envs.len() + e].clone()).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Start the fleet's server on a loopback port of `rt`; returns the port.
pub fn serve(rt: &tokio::runtime::Runtime, services: usize, envs: usize) -> u16 {
    let now = Timestamp::now();
    let names = env_names(envs);
    let bodies = (0..services)
        .flat_map(|n| (0..envs).map(move |e| (n, e)))
        .map(|(n, e)| axum::body::Bytes::from(body(&reported(n, e, envs, now))))
        .collect();
    let state = Arc::new(Bodies { envs: names, bodies });
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let app = Router::new().route("/{env}/{service}", get(version)).with_state(state);
    rt.spawn(async move { axum::serve(listener, app).await });
    port
}

/// A cockpit config for the fleet: one `http` source reading every cell,
/// polled `every`, a release with a target per service, a checklist
/// (`kind = "minor"`) and a window open now.
pub fn config(port: u16, services: usize, envs: usize, every: &str, concurrency: usize) -> String {
    let now = Timestamp::now();
    let mut out = String::new();
    for name in env_names(envs) {
        out.push_str(&format!("[[environments]]\nname = \"{name}\"\nstale_after = \"30d\"\n"));
    }
    for n in 0..services {
        out.push_str(&format!("[[services]]\nname = \"{}\"\n", service_name(n)));
    }
    let start = now - SignedDuration::from_hours(1);
    let end = now + SignedDuration::from_hours(2);
    out.push_str(&format!(
        "[release]\nname = \"bench\"\nkind = \"minor\"\nwindow = {{ start = \"{start}\", end = \"{end}\" }}\n[release.targets]\n"
    ));
    for n in 0..services {
        out.push_str(&format!("{} = \"{}\"\n", service_name(n), target(n)));
    }
    out.push_str(&format!(
        "[[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/{{env}}/{{service}}\"\nevery = \"{every}\"\ntimeout = \"10s\"\n[poller]\nconcurrency = {concurrency}\n"
    ));
    out
}

/// An observation journal in which every cell already went through
/// `depth` versions (oldest first, a day apart), the last one what the
/// server reports now: a cockpit that loads it starts with full histories.
pub fn journal(services: usize, envs: usize, depth: usize) -> String {
    let now = Timestamp::now();
    let names = env_names(envs);
    let mut out = String::with_capacity(services * envs * depth * 160);
    for n in 0..services {
        for (e, env) in names.iter().enumerate() {
            let current = reported(n, e, envs, now);
            let mut old: Option<(String, String)> = None;
            for k in 0..depth {
                let back = (depth - 1 - k) as i64;
                let (version, build) = if back == 0 {
                    (current.version.clone(), current.build.clone())
                } else {
                    (format!("0.{}.{back}", n % 7), format!("{}", n * 100 + k))
                };
                let event = flightdeck::journal::ObservationEvent {
                    at: now - SignedDuration::from_hours(24 * back + 1),
                    service: service_name(n),
                    environment: env.clone(),
                    source: "endpoints".into(),
                    old: old.as_ref().map(|(v, _)| v.clone()),
                    new: version.clone(),
                    build: Some(build.clone()),
                    old_build: old.as_ref().map(|(_, b)| b.clone()),
                };
                out.push_str(&serde_json::to_string(&event).expect("an event serializes"));
                out.push('\n');
                old = Some((version, build));
            }
        }
    }
    out
}
