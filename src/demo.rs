//! The demo fleet: an in-process loopback HTTP server whose twelve services
//! move through a scripted release across four environments, polled
//! through the real `http` source.
//!
//! The script (times in script seconds; `--speed` scales them):
//! - dev runs every target from the start; qa, uat and prod follow in waves
//!   at 10 s, 70 s and 140 s, one service every 5 s;
//! - `inventory` is silently skipped in uat;
//! - `accounts` carries a hotfix only in prod (2.3.1 over 2.3.0);
//! - `cart` 3.2.0 is rebuilt for prod: same version, build 1192 vs 1187;
//! - `search` in qa flaps (HTTP 500 every other 15 s);
//! - `notifications` in prod hangs from 150 s to 240 s;
//! - `reports` has not been deployed to prod for seven months;
//! - `shipping` in prod reports health DOWN from 170 s to 230 s;
//! - `pricing` in prod: the deployment record says 1.8.0 at 185 s, the
//!   service only runs it from 260 s ("merged" taken for "deployed");
//! - `gateway` answers in plain text.
//!
//! What ships comes from a small GitHub compare look-alike on the same
//! server (`/gh/repos/demo/{service}/compare/{base}...{head}`), read through
//! the real `[changes]` client: every service's release has a handful of
//! conventional commits with PR numbers and ticket keys, and the `accounts`
//! hotfix running in prod was never merged back into `main`.
//!
//! Metrics come from a small Prometheus look-alike on the same server
//! (`/prom/api/v1/query`), polled through the real `prometheus` source:
//! - `checkout` in prod: its error rate jumps to 40× its baseline from
//!   200 s to 260 s (the `error_rate` trigger fires, then clears);
//! - `catalog` in prod: p95 latency +33% from its deploy on (WARN);
//! - `gateway` in dev gets no traffic: its error rate is NaN (shown as such).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::config::{Config, ConfigErrors};

pub const ENVIRONMENTS: [&str; 4] = ["dev", "qa", "uat", "prod"];

struct DemoService {
    name: &'static str,
    previous: (&'static str, u32),
    /// `None`: not part of the release.
    target: Option<(&'static str, u32)>,
}

const fn svc(name: &'static str, previous: (&'static str, u32), target: Option<(&'static str, u32)>) -> DemoService {
    DemoService { name, previous, target }
}

const SERVICES: [DemoService; 12] = [
    svc("payments", ("1.3.2", 801), Some(("1.4.0", 812))),
    svc("checkout", ("2.7.1", 455), Some(("2.8.0", 470))),
    svc("cart", ("3.1.4", 1180), Some(("3.2.0", 1187))),
    svc("catalog", ("5.0.3", 320), Some(("5.1.0", 331))),
    svc("search", ("0.9.8", 98), Some(("0.10.0", 104))),
    svc("accounts", ("2.3.0", 640), None),
    svc("notifications", ("1.12.0", 212), Some(("1.13.0", 219))),
    svc("shipping", ("4.2.0", 77), Some(("4.3.0", 81))),
    svc("inventory", ("7.4.1", 903), Some(("7.5.0", 911))),
    svc("pricing", ("1.7.2", 150), Some(("1.8.0", 156))),
    svc("gateway", ("5.0.1", 66), Some(("5.1.0", 70))),
    svc("reports", ("0.4.0", 12), None),
];

/// Script second at which each wave starts, per environment.
const WAVES: [f64; 4] = [-3600.0, 10.0, 70.0, 140.0];
/// Days since the previous version was deployed, per environment.
const PREVIOUS_AGE_DAYS: [i64; 4] = [6, 9, 13, 21];

/// What the demo server answers for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Json(serde_json::Value),
    Text(String),
    Status(u16),
    Hang,
}

/// The release the script plays, as seen at script time `t` (seconds).
pub(crate) struct Script {
    pub started_at: Timestamp,
    /// Script seconds per real second.
    pub speed: f64,
}

impl Script {
    fn deploy_time(idx: usize, env: usize) -> f64 {
        WAVES[env] + 5.0 * idx as f64
    }

    /// (version, build, deployed_at) that `service` runs in `env` at `t`.
    fn running(&self, idx: usize, env: usize, t: f64) -> (&'static str, u32, Timestamp) {
        let s = &SERVICES[idx];
        let previous_at = |days: i64| self.started_at - SignedDuration::from_hours(24 * days);
        let at = |secs: f64| self.started_at + SignedDuration::from_secs_f64(secs / self.speed);
        match (s.name, ENVIRONMENTS[env]) {
            ("accounts", "prod") => ("2.3.1", 652, previous_at(2)),
            ("reports", "prod") => (s.previous.0, s.previous.1, previous_at(212)),
            ("inventory", "uat") => (s.previous.0, s.previous.1, previous_at(PREVIOUS_AGE_DAYS[env])),
            ("pricing", "prod") if t >= 260.0 => (s.target.map_or("", |v| v.0), 156, at(260.0)),
            ("pricing", "prod") => (s.previous.0, s.previous.1, previous_at(PREVIOUS_AGE_DAYS[env])),
            _ => match s.target {
                Some((version, build)) if t >= Self::deploy_time(idx, env) => {
                    let build = if s.name == "cart" && ENVIRONMENTS[env] == "prod" { 1192 } else { build };
                    (version, build, at(Self::deploy_time(idx, env)))
                }
                _ => (s.previous.0, s.previous.1, previous_at(PREVIOUS_AGE_DAYS[env])),
            },
        }
    }

    /// The service's own version endpoint.
    pub(crate) fn version_endpoint(&self, service: &str, env: &str, t: f64) -> Answer {
        let (Some(idx), Some(e)) =
            (SERVICES.iter().position(|s| s.name == service), ENVIRONMENTS.iter().position(|x| *x == env))
        else {
            return Answer::Status(404);
        };
        match (service, env) {
            ("search", "qa") if (t / 15.0).floor() as i64 % 2 == 1 => return Answer::Status(500),
            ("notifications", "prod") if (150.0..240.0).contains(&t) => return Answer::Hang,
            _ => {}
        }
        let (version, build, deployed_at) = self.running(idx, e, t);
        if service == "gateway" {
            return Answer::Text(format!("{version}\n"));
        }
        let health = if service == "shipping" && env == "prod" && (170.0..230.0).contains(&t) { "DOWN" } else { "UP" };
        Answer::Json(json!({
            "version": version,
            "build": build.to_string(),
            "commit": commit_of(service, version, build),
            "deployed_at": deployed_at.to_string(),
            "health": health,
        }))
    }

    /// A deployment record (what the pipeline says it deployed).
    pub fn record(&self, service: &str, env: &str, t: f64) -> Answer {
        let (Some(idx), Some(e)) =
            (SERVICES.iter().position(|s| s.name == service), ENVIRONMENTS.iter().position(|x| *x == env))
        else {
            return Answer::Status(404);
        };
        let (version, build, deployed_at) = if service == "pricing" && env == "prod" && t >= 185.0 {
            ("1.8.0", 156, self.started_at + SignedDuration::from_secs_f64(185.0 / self.speed))
        } else {
            self.running(idx, e, t)
        };
        Answer::Json(json!({
            "ref": version,
            "sha": commit_of(service, version, build),
            "status": "success",
            "created_at": deployed_at.to_string(),
        }))
    }
}

/// Error rate and p95 latency (ms) of a cell at script time `t`; `baseline`
/// asks for the values before the window. `None`: not a demo service.
pub(crate) fn metrics_at(service: &str, env: &str, t: f64, baseline: bool) -> Option<(f64, f64)> {
    let idx = SERVICES.iter().position(|s| s.name == service)?;
    let e = ENVIRONMENTS.iter().position(|x| *x == env)?;
    let base_rate = 0.002 + 0.0005 * (idx % 3) as f64;
    let base_p95 = 110.0 + 10.0 * (idx % 4) as f64;
    if baseline {
        return Some((base_rate, base_p95));
    }
    let deployed = t >= Script::deploy_time(idx, e);
    let rate = match (service, env) {
        ("gateway", "dev") => f64::NAN,
        ("checkout", "prod") if (200.0..260.0).contains(&t) => base_rate * 40.0,
        _ => base_rate,
    };
    let p95 = match (service, env) {
        ("catalog", "prod") if deployed => base_p95 * 1.33,
        _ => base_p95,
    };
    Some((rate, p95))
}

/// What the release team did before the demo starts: the pre-deployment
/// and staging work ticked, two of three sign-offs given, a note.
pub(crate) fn release_history(now: Timestamp) -> Vec<crate::journal::release::ReleaseEvent> {
    use crate::journal::release::{ReleaseAction, ReleaseEvent};
    let ago = |mins: i64| now - SignedDuration::from_mins(mins);
    let tick = |item: &str, note: Option<&str>| ReleaseAction::Tick { item: item.into(), note: note.map(String::from) };
    vec![
        ReleaseEvent::new("ana", ago(26 * 60), tick("scope-frozen", Some("tagged 2026.11 in all ten repos"))),
        ReleaseEvent::new("lea", ago(25 * 60), tick("release-notes", None)),
        ReleaseEvent::new("raj", ago(25 * 60), tick("rollback-plan", Some("runbook v7, owners per service"))),
        ReleaseEvent::new("raj", ago(25 * 60), tick("rollback-tested", Some("rehearsed on uat with payments 1.3.2"))),
        ReleaseEvent::new("mei", ago(24 * 60 + 30), ReleaseAction::SignOff { role: "qa-lead".into(), note: None }),
        ReleaseEvent::new("mei", ago(5 * 60), tick("regression-suite", Some("1843 passed, 0 failed"))),
        ReleaseEvent::new("ana", ago(5 * 60), tick("stakeholders-notified", None)),
        ReleaseEvent::new("raj", ago(4 * 60 + 10), ReleaseAction::SignOff { role: "tech-lead".into(), note: None }),
        ReleaseEvent::new("raj", ago(15), tick("monitoring-ready", Some("release dashboard + pager on"))),
        ReleaseEvent::new(
            "ana",
            ago(20),
            ReleaseAction::Note { item: None, text: "inventory owners paged: uat deploy not seen yet".into() },
        ),
    ]
}

/// The demo's git history of a service: its previous version, its target
/// (the release's commits in between), and `accounts`' prod hotfix, which
/// sits on a branch of its own.
impl Script {
    /// Where `git_ref` (a build's commit, or `v{version}`) is in `service`'s
    /// history: 0 the previous version, 1 the target, 2 the hotfix.
    fn point(service: &DemoService, git_ref: &str) -> Option<u8> {
        let hotfix = service.name == "accounts";
        let mut points = vec![(0u8, service.previous)];
        if let Some(target) = service.target {
            points.push((1, target));
            if service.name == "cart" {
                points.push((1, (target.0, 1192)));
            }
        }
        if hotfix {
            points.push((2, ("2.3.1", 652)));
        }
        points.into_iter().find_map(|(p, (version, build))| {
            (git_ref == commit_of(service.name, version, build) || git_ref == format!("v{version}")).then_some(p)
        })
    }

    /// GitHub's compare of `base...head` for `demo/{service}`; `main` as
    /// the base asks whether `head` is in the mainline.
    pub(crate) fn compare(&self, service: &str, base: &str, head: &str) -> Answer {
        let Some(s) = SERVICES.iter().find(|s| s.name == service) else { return Answer::Status(404) };
        let Some(to) = Self::point(s, head) else { return Answer::Status(404) };
        let commits = |from: u8, to: u8| -> Vec<serde_json::Value> {
            match (from, to) {
                (0, 1) => release_commits(s),
                (0, 2) | (1, 2) => vec![demo_commit(
                    s.name,
                    0,
                    "fix(accounts): stop double-charging retried payouts (hotfix, ACC-77)",
                    None,
                )],
                _ => Vec::new(),
            }
        };
        let (status, list) = if base == "main" {
            // Everything released is in main; the hotfix branch is not.
            if to == 2 { ("diverged", commits(0, 2)) } else { ("behind", Vec::new()) }
        } else {
            let Some(from) = Self::point(s, base) else { return Answer::Status(404) };
            match from.cmp(&to) {
                std::cmp::Ordering::Equal => ("identical", Vec::new()),
                std::cmp::Ordering::Less => ("ahead", commits(from, to)),
                std::cmp::Ordering::Greater => ("behind", Vec::new()),
            }
        };
        Answer::Json(json!({
            "status": status,
            "ahead_by": list.len(),
            "behind_by": if status == "behind" || status == "diverged" { 2 } else { 0 },
            "total_commits": list.len(),
            "commits": list,
        }))
    }
}

/// The commits of a service's release: a few conventional commits with a
/// PR number and a ticket key each, the same on every run.
fn release_commits(service: &DemoService) -> Vec<serde_json::Value> {
    const KINDS: [(&str, &str); 8] = [
        ("feat", "add a preview of the next statement"),
        ("fix", "retry the upstream call once on a reset"),
        ("perf", "cache the currency table for a minute"),
        ("feat", "export as CSV from the list view"),
        ("fix", "keep the cursor when the page reloads"),
        ("refactor", "split the client into read and write halves"),
        ("docs", "explain the new rate limits"),
        ("chore", "bump the HTTP client"),
    ];
    let seed = commit_of(service.name, "commits", 0);
    let n = 3 + usize::from_str_radix(&seed[..2], 16).unwrap_or(0) % 6;
    (0..n)
        .map(|i| {
            let (kind, what) = KINDS[(i + service.name.len()) % KINDS.len()];
            let subject = format!("{kind}({}): {what}", service.name);
            demo_commit(service.name, i + 1, &subject, Some(1200 + 7 * i as u64 + service.name.len() as u64))
        })
        .collect()
}

/// One commit as GitHub's compare lists it.
fn demo_commit(service: &str, i: usize, subject: &str, pr: Option<u64>) -> serde_json::Value {
    let key: String = service.chars().take(3).collect::<String>().to_uppercase();
    let subject = match pr {
        Some(pr) => format!("{subject} (#{pr})"),
        None => subject.to_string(),
    };
    let sha = format!("{}{}", commit_of(service, "sha", i as u32), "0".repeat(33));
    let authors = ["Ana Lima", "Bo Chen", "Carol Diaz", "Dev Patel"];
    json!({
        "sha": sha,
        "commit": {
            "message": format!("{subject}\n\nRefs: {key}-{}", 100 + i),
            "author": { "name": authors[i % authors.len()], "date": "2026-11-20T10:00:00Z" }
        },
        "parents": [{ "sha": "0".repeat(40) }]
    })
}

/// A stable fake commit id for a build.
fn commit_of(service: &str, version: &str, build: u32) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in service.bytes().chain(version.bytes()).chain(build.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:07x}", h & 0xfff_ffff)
}

struct Clock {
    script: Script,
    started: Instant,
    speed: f64,
}

impl Clock {
    fn t(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.speed
    }
}

async fn version_handler(State(clock): State<Arc<Clock>>, Path((env, service)): Path<(String, String)>) -> Response {
    answer(clock.script.version_endpoint(&service, &env, clock.t())).await
}

async fn record_handler(State(clock): State<Arc<Clock>>, Path((env, service)): Path<(String, String)>) -> Response {
    answer(clock.script.record(&service, &env, clock.t())).await
}

async fn compare_handler(State(clock): State<Arc<Clock>>, Path((service, range)): Path<(String, String)>) -> Response {
    match range.split_once("...") {
        Some((base, head)) => answer(clock.script.compare(&service, base, head)).await,
        None => answer(Answer::Status(404)).await,
    }
}

/// A Prometheus instant query, as far as the demo's own queries go:
/// `demo_error_rate{service="x",env="y"}` and `demo_p95_ms{…}`, now or at
/// `time` (a baseline before the window).
async fn prom_handler(
    State(clock): State<Arc<Clock>>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let query = params.get("query").map(String::as_str).unwrap_or("");
    let label = |name: &str| {
        let start = query.find(&format!("{name}=\""))? + name.len() + 2;
        let len = query[start..].find('"')?;
        Some(query[start..start + len].to_string())
    };
    let started = clock.script.started_at.as_millisecond() as f64 / 1000.0;
    let at: Option<f64> = params.get("time").and_then(|t| t.parse().ok());
    let baseline = at.is_some_and(|at| at < started);
    let value = match (label("service"), label("env")) {
        (Some(service), Some(env)) => metrics_at(&service, &env, clock.t(), baseline),
        _ => None,
    };
    let value = value.map(|(rate, p95)| if query.starts_with("demo_p95_ms") { p95 } else { rate });
    let now = at.unwrap_or_else(|| Timestamp::now().as_millisecond() as f64 / 1000.0);
    let result = match value {
        Some(v) => json!([{"metric": {}, "value": [now, if v.is_nan() { "NaN".to_string() } else { format!("{v}") }]}]),
        None => json!([]),
    };
    axum::Json(json!({"status": "success", "data": {"resultType": "vector", "result": result}})).into_response()
}

async fn answer(answer: Answer) -> Response {
    match answer {
        Answer::Json(v) => axum::Json(v).into_response(),
        Answer::Text(t) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], t).into_response(),
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "demo: scripted failure").into_response()
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            (StatusCode::GATEWAY_TIMEOUT, "demo: gave up hanging").into_response()
        }
    }
}

/// A running demo fleet: the config that polls its server.
pub(crate) struct Demo {
    pub config: Config,
    server: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

/// The variable the demo's `[[notify]]` names; the cockpit is handed its
/// URL directly (the demo's own loopback webhook), never the environment.
pub(crate) const WEBHOOK_VAR: &str = "FLIGHTDECK_DEMO_WEBHOOK";

impl Demo {
    /// The demo webhook's URL, by the variable its config names.
    pub(crate) fn webhook_urls(&self) -> std::collections::HashMap<String, String> {
        std::collections::HashMap::from([(WEBHOOK_VAR.to_string(), format!("http://{}/hooks/release", self.addr))])
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Start the demo server on loopback; `speed` scales the script's clock.
pub async fn start(speed: f64) -> anyhow::Result<Demo> {
    let now = Timestamp::now();
    let speed = speed.max(0.01);
    let clock = Arc::new(Clock { script: Script { started_at: now, speed }, started: Instant::now(), speed });
    let app = axum::Router::new()
        .route("/v/{env}/{service}", get(version_handler))
        .route("/records/{env}/{service}", get(record_handler))
        .route("/prom/api/v1/query", get(prom_handler))
        .route("/gh/repos/demo/{service}/compare/{range}", get(compare_handler))
        // The release channel's webhook: takes flightdeck's JSON, says ok.
        .route("/hooks/release", axum::routing::post(|| async { "ok" }))
        .with_state(clock);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo server stopped");
        }
    });
    let config =
        config_for(addr, now, speed).map_err(|e| anyhow::anyhow!("the built-in demo config is invalid: {e}"))?;
    Ok(Demo { config, server, addr })
}

/// The demo's configuration, as TOML a user could have written.
pub(crate) fn config_toml(addr: SocketAddr, now: Timestamp, speed: f64) -> String {
    let every = (2.0 / speed.max(0.01)).max(0.5);
    let start = now - SignedDuration::from_mins(10);
    let end = now + SignedDuration::from_mins(50);
    let mut out = String::new();
    for env in ENVIRONMENTS {
        out.push_str(&format!("[[environments]]\nname = \"{env}\"\n"));
        if env != "dev" {
            out.push_str("stale_after = \"30d\"\n");
        }
    }
    for s in &SERVICES {
        out.push_str(&format!(
            "[[services]]\nname = \"{}\"\nowner = \"team-{}\"\nrepo = \"demo/{}\"\nrollback = \"deployctl rollback {} --env {{env}} --to {{previous}}\"\n",
            s.name, s.name, s.name, s.name
        ));
    }
    out.push_str(&format!(
        "[release]\nname = \"2026.11\"\nkind = \"minor\"\nwindow = {{ start = \"{start}\", end = \"{end}\" }}\n[release.targets]\n"
    ));
    for s in &SERVICES {
        if let Some((v, _)) = s.target {
            out.push_str(&format!("{} = \"{v}\"\n", s.name));
        }
    }
    out.push_str("[release.migrations]\npayments = \"reversible\"\ncatalog = \"irreversible\"\n");
    // The demo has no journal across runs: a version it watched for a
    // minute (of script time) before the release replaced it counts as known-good.
    out.push_str(&format!("[rollback]\nknown_good_after = \"{}ms\"\n", (60_000.0 / speed.max(0.01)) as u64));
    out.push_str(&format!(
        r#"[[sources]]
name = "version-endpoints"
kind = "http"
url = "http://{addr}/v/{{env}}/{{service}}"
every = "{every_ms}ms"
timeout = "1500ms"
evidence = "running"

[[sources]]
name = "deploy-records"
kind = "http"
url = "http://{addr}/records/{{env}}/{{service}}"
every = "{records_ms}ms"
timeout = "1500ms"
evidence = "recorded"
environments = ["prod"]
# Only some teams record their deployments.
services = ["payments", "checkout", "cart", "pricing"]
[sources.fields]
version = "/ref"
commit = "/sha"
deployed_at = "/created_at"

[[notify]]
name = "release-channel"
kind = "webhook"
url_env = "{webhook_var}"
on = ["verdict", "trigger", "decision", "signoff", "status", "deployment"]
status_every = "1m"

[changes]
kind = "github"
api_url = "http://{addr}/gh"
tag = "v{{version}}"
mainline = "main"
tickets = "[A-Z]+-[0-9]+"
ticket_url = "https://tickets.example/browse/{{ticket}}"

[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://{addr}/prom"
every = "{every_ms}ms"
timeout = "1500ms"
[sources.queries]
error_rate = 'demo_error_rate{{service="{{service}}",env="{{env}}"}}'
p95_latency = 'demo_p95_ms{{service="{{service}}",env="{{env}}"}}'
"#,
        every_ms = (every * 1000.0) as u64,
        webhook_var = WEBHOOK_VAR,
        records_ms = (every * 2500.0) as u64,
    ));
    out
}

pub fn config_for(addr: SocketAddr, now: Timestamp, speed: f64) -> Result<Config, ConfigErrors> {
    crate::setup::from_toml_str(&config_toml(addr, now, speed), "built-in demo config")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script { started_at: Timestamp::from_second(1_800_000_000).unwrap(), speed: 1.0 }
    }

    fn version_at(s: &Script, service: &str, env: &str, t: f64) -> Option<String> {
        match s.version_endpoint(service, env, t) {
            Answer::Json(v) => v["version"].as_str().map(String::from),
            Answer::Text(t) => Some(t.trim().to_string()),
            _ => None,
        }
    }

    #[test]
    fn the_release_moves_through_the_waves() {
        let s = script();
        assert_eq!(version_at(&s, "payments", "dev", 0.0).as_deref(), Some("1.4.0"));
        assert_eq!(version_at(&s, "payments", "prod", 0.0).as_deref(), Some("1.3.2"));
        assert_eq!(version_at(&s, "payments", "prod", 300.0).as_deref(), Some("1.4.0"));
        assert_eq!(version_at(&s, "gateway", "prod", 300.0).as_deref(), Some("5.1.0"));
    }

    #[test]
    fn the_script_has_its_failure_modes() {
        let s = script();
        assert_eq!(version_at(&s, "inventory", "uat", 300.0).as_deref(), Some("7.4.1"), "skipped in uat");
        assert_eq!(version_at(&s, "accounts", "prod", 0.0).as_deref(), Some("2.3.1"), "hotfix only in prod");
        assert_eq!(version_at(&s, "accounts", "uat", 0.0).as_deref(), Some("2.3.0"));
        assert_eq!(s.version_endpoint("search", "qa", 20.0), Answer::Status(500));
        assert_ne!(s.version_endpoint("search", "qa", 35.0), Answer::Status(500));
        assert_eq!(s.version_endpoint("notifications", "prod", 200.0), Answer::Hang);
        let Answer::Json(cart_uat) = s.version_endpoint("cart", "uat", 300.0) else { panic!() };
        let Answer::Json(cart_prod) = s.version_endpoint("cart", "prod", 300.0) else { panic!() };
        assert_eq!(cart_uat["version"], cart_prod["version"]);
        assert_ne!(cart_uat["build"], cart_prod["build"]);
        let Answer::Json(ship) = s.version_endpoint("shipping", "prod", 200.0) else { panic!() };
        assert_eq!(ship["health"], "DOWN");
        let Answer::Json(rec) = s.record("pricing", "prod", 200.0) else { panic!() };
        assert_eq!(rec["ref"], "1.8.0");
        assert_eq!(version_at(&s, "pricing", "prod", 200.0).as_deref(), Some("1.7.2"));
    }

    /// Play the script without a network: every cell of every source read
    /// every 2 script seconds through the real decoder, findings collected.
    #[test]
    fn the_demo_shows_every_finding_kind() {
        use crate::analysis::findings::FindingKind;
        let started_at = Timestamp::from_second(1_800_000_000).unwrap();
        let script = Script { started_at, speed: 1.0 };
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let config = config_for(addr, started_at, 1.0).unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let mut state = crate::app::initial_state(&config, &active, started_at);
        let fields = |name: &str| {
            if name == "deploy-records" {
                crate::sources::http::Fields {
                    version: "/ref".into(),
                    build: None,
                    commit: Some("/sha".into()),
                    digest: None,
                    deployed_at: Some("/created_at".into()),
                    health: None,
                }
            } else {
                crate::sources::http::Fields::default()
            }
        };
        let mut seen = std::collections::BTreeSet::new();
        for step in 0..150 {
            let t = f64::from(step) * 2.0;
            let now = started_at + SignedDuration::from_secs_f64(t);
            for source in &active {
                for cell in &source.cells {
                    let answer = if &*source.name == "deploy-records" {
                        script.record(&cell.service, &cell.env, t)
                    } else {
                        script.version_endpoint(&cell.service, &cell.env, t)
                    };
                    let result = match answer {
                        Answer::Json(v) => crate::sources::http::decode(
                            v.to_string().as_bytes(),
                            Some("application/json"),
                            &fields(&source.name),
                        ),
                        Answer::Text(text) => {
                            crate::sources::http::decode(text.as_bytes(), Some("text/plain"), &fields(&source.name))
                        }
                        Answer::Status(code) => Err(crate::sources::FetchError::Status { code, detail: String::new() }),
                        Answer::Hang => Err(crate::sources::FetchError::Timeout(Duration::from_millis(1500))),
                    };
                    state.engine.apply(crate::poller::SourceUpdate {
                        source: source.name.clone(),
                        evidence: source.evidence,
                        role: source.role,
                        cell: cell.key,
                        attempted_at: now,
                        result,
                    });
                }
            }
            // What ships: the engine's questions, answered by the script's
            // compare look-alike through the real decoder.
            for ask in state.engine.asks() {
                let (repo, base, head) = match &ask {
                    crate::engine::shipping::Ask::Compare { repo, base, head } => (repo, base.as_str(), head.as_str()),
                    crate::engine::shipping::Ask::Mainline { repo, git_ref } => (repo, "main", git_ref.as_str()),
                };
                let service = repo.trim_start_matches("demo/");
                let decoded = match script.compare(service, base, head) {
                    Answer::Json(v) => crate::changes::decode::github_changes(
                        repo,
                        base,
                        head,
                        &[v.to_string()],
                        crate::changes::decode::Reading { kind: crate::changes::ChangesKind::Github, tickets: None },
                    ),
                    other => panic!("the demo cannot compare {ask:?}: {other:?}"),
                };
                let answer = match (&ask, decoded) {
                    (crate::engine::shipping::Ask::Compare { .. }, c) => {
                        crate::engine::shipping::Answer::Compare(c.map(Arc::new).map_err(|e| e.to_string()))
                    }
                    (crate::engine::shipping::Ask::Mainline { .. }, c) => crate::engine::shipping::Answer::Mainline(
                        c.map(|c| c.head_is_in_base()).map_err(|e| e.to_string()),
                    ),
                };
                state.engine.take_answer(ask, answer);
            }
            state.now = now;
            state.reanalyze();
            seen.extend(state.eval.findings.iter().map(|f| f.kind));
        }
        // The accounts hotfix is the one commit not merged back.
        let unmerged: Vec<_> = state
            .eval
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::NotMergedBack)
            .map(|f| f.message.clone())
            .collect();
        assert_eq!(unmerged.len(), 1, "{unmerged:?}");
        assert!(unmerged[0].starts_with("accounts 2.3.1 in prod runs "), "{unmerged:?}");
        // And the release's changes are known per cell: prod gains from uat.
        let counted = (0..state.engine.fleet.services.len())
            .filter(|&s| state.eval.incoming(crate::model::CellKey { service: s, env: 3 }).is_some())
            .count();
        assert!(counted > 0, "no cell counts its incoming commits");
        let missing: Vec<_> = FindingKind::ALL.iter().filter(|k| !seen.contains(k)).collect();
        assert!(missing.is_empty(), "the demo never shows {missing:?}");
        // At the end of the script the release is through, but its problems stay.
        let kinds: std::collections::BTreeSet<_> = state.eval.findings.iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&FindingKind::Missing) && kinds.contains(&FindingKind::BuildMismatch), "{kinds:?}");
    }

    #[test]
    fn the_demo_config_is_valid() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let config = config_for(addr, Timestamp::from_second(1_800_000_000).unwrap(), 1.0).unwrap();
        assert_eq!(config.fleet.services.len(), 12);
        assert_eq!(config.fleet.environments.len(), 4);
        assert_eq!(config.sources.len(), 3);
        assert_eq!(config.fleet.release.as_ref().unwrap().targets.len(), 10);
        assert_eq!(config.fleet.rollback.known_good_after, Duration::from_secs(60));
    }

    #[test]
    fn the_checkout_error_rate_trigger_fires_and_clears() {
        use crate::analysis::rollback::{Level, evaluate_rule};
        use crate::model::{MetricBaseline, MetricValue, rollback::RollbackPolicy};
        let rule = RollbackPolicy::default_triggers()[0].rule;
        let level = |t: f64| {
            let (live, _) = metrics_at("checkout", "prod", t, false).unwrap();
            let (base, _) = metrics_at("checkout", "prod", t, true).unwrap();
            let baseline = MetricBaseline {
                at: Timestamp::from_second(1_800_000_000).unwrap(),
                value: Some(MetricValue::Number(base)),
                error: None,
            };
            evaluate_rule(rule, MetricValue::Number(live), Some(&baseline)).level
        };
        assert_eq!([level(150.0), level(210.0), level(270.0)], [Level::Ok, Level::Firing, Level::Ok]);
        // No traffic in dev for gateway: NaN, never 0.
        assert!(metrics_at("gateway", "dev", 10.0, false).unwrap().0.is_nan());
    }
}
