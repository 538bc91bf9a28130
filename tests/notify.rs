//! `[[notify]]` against real HTTP servers on loopback: the Slack and
//! flightdeck bodies as a receiver parses them, retries after a 500, a 429
//! waited out, a 400 given up on and shown as failing, one message per
//! event (and in team mode from the leader only), a bounded queue, and the
//! webhook URL — a secret — never in an error, a delivery or a log line.
//!
//! Each test starts its own axum server on 127.0.0.1:0 that records every
//! POST (path, JSON body, arrival time) and answers as the test scripts.
//! The config is read the way the program reads it (TOML → validate); the
//! URLs come through the environment lookup `Notifier::spawn_with` takes.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use flightdeck::analysis::rollback::Level;
use flightdeck::analysis::verdict::Verdict;
use flightdeck::journal::release::Decision;
use flightdeck::model::Window;
use flightdeck::notify::notice::{DecisionFact, ProgressFact, SignOffFact, TriggerFact};
use flightdeck::notify::{Delivery, Health, Notifier, NotifyConfig, Outcome, SendPolicy, Snapshot};
use flightdeck::sources::HttpContext;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The secret part of a Slack-like webhook URL.
const SECRET: &str = "SECRETxyz0123456789";

/// One POST as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    content_type: Option<String>,
    body: Value,
    at: Instant,
}

struct Hooks {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hooks {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn on(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Serve every path; `answer(path, n)` answers the `n`th POST (from 0) to `path`.
async fn serve(answer: impl Fn(&str, usize) -> Response + Send + Sync + 'static) -> Hooks {
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let answer = Arc::new(answer);
    let s = seen.clone();
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (s, answer) = (s.clone(), answer.clone());
        async move {
            let path = uri.path().to_string();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(String::from);
            let n = {
                let mut seen = s.lock().unwrap();
                let n = seen.iter().filter(|r| r.path == path).count();
                seen.push(Seen { path: path.clone(), content_type, body, at: Instant::now() });
                n
            };
            answer(&path, n)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("test server") });
    Hooks { addr, seen }
}

/// Slack's answers: `200 ok`, or an error as plain text.
fn slack(code: u16, text: &str) -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "text/plain")], text.to_string()).into_response();
    *resp.status_mut() = StatusCode::from_u16(code).unwrap();
    resp
}

fn ok() -> Response {
    slack(200, "ok")
}

/// The config's `[[notify]]` tables, read and validated as the program does.
fn notify_config(tables: &str) -> Vec<NotifyConfig> {
    let text = format!("[[environments]]\nname = \"prod\"\n[[services]]\nname = \"payments\"\n{tables}",);
    flightdeck::setup::from_toml_str(&text, "test").expect("valid config").notify
}

/// Short waits, so that the tests do not sit out real backoffs.
fn quick() -> SendPolicy {
    SendPolicy {
        first_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        min_gap: Duration::from_millis(10),
        ..SendPolicy::default()
    }
}

fn spawn(configs: &[NotifyConfig], env: &[(&str, String)], policy: SendPolicy) -> Notifier {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let ctx = HttpContext::new().expect("HTTP client");
    Notifier::spawn_with(configs, &ctx, move |var| env.get(var).cloned(), policy)
}

async fn next(notifier: &mut Notifier) -> Delivery {
    tokio::time::timeout(Duration::from_secs(20), notifier.delivered())
        .await
        .expect("a delivery within 20 s")
        .expect("the delivery channel is open")
}

/// Minutes after the window opens at 18:00.
fn t(minutes: i64) -> Timestamp {
    let start: Timestamp = "2026-11-24T18:00:00Z".parse().unwrap();
    start + SignedDuration::from_secs(minutes * 60)
}

/// GO, in the window, nothing firing, nothing recorded.
fn snap(minutes: i64) -> Snapshot {
    Snapshot {
        at: t(minutes),
        release: "2026.11".into(),
        window: Some(Window { start: t(0), end: t(120) }),
        verdict: Verdict::Go,
        blocker_count: 0,
        blockers: vec![],
        unread: false,
        triggers: vec![TriggerFact {
            service: "payments".into(),
            environment: "prod".into(),
            trigger: "error_rate".into(),
            level: Level::Ok,
            value: Some("0.01".into()),
            baseline: Some("0.004".into()),
            threshold: Some(0.04),
            measurement: "error_rate 0.01 (baseline 0.004, fires ≥ 0.04)".into(),
        }],
        decisions: vec![],
        signoffs: vec![],
        progress: vec![ProgressFact { environment: "prod".into(), at_target: 1, planned: 2 }],
    }
}

fn no_go(mut s: Snapshot) -> Snapshot {
    s.verdict = Verdict::NoGo;
    s.blocker_count = 1;
    s.blockers = vec!["payments is not at 1.4.0 in prod (runs 1.3.2)".into()];
    s
}

const SLACK_PATH: &str = "/services/T000/B000/SECRETxyz0123456789";

#[tokio::test]
async fn slack_and_webhook_bodies_are_received_and_parsed_one_message_per_event() {
    let hooks = serve(|_, _| ok()).await;
    let configs = notify_config(
        r#"
[[notify]]
name = "release-channel"
kind = "slack"
url_env = "SLACK_WEBHOOK_URL"
on = ["verdict", "trigger", "decision", "signoff", "status"]

[[notify]]
name = "audit"
kind = "webhook"
url_env = "AUDIT_HOOK"

[[notify]]
name = "approvals"
kind = "webhook"
url_env = "APPROVALS_HOOK"
on = ["decision"]
"#,
    );
    let env = [
        ("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH)),
        ("AUDIT_HOOK", hooks.url("/audit")),
        ("APPROVALS_HOOK", hooks.url("/approvals")),
    ];
    let mut notifier = spawn(&configs, &env, quick());
    // Before the window: nothing to say yet.
    assert_eq!(notifier.observe(snap(-5), true), 0);
    // The verdict changes: one message to each webhook that asked for it.
    assert_eq!(notifier.observe(no_go(snap(-4)), true), 2);
    let mut told = Vec::new();
    for _ in 0..2 {
        let d = next(&mut notifier).await;
        assert_eq!(d.outcome, Outcome::Sent { tries: 1 }, "{d:?}");
        told.push(d.describe());
    }
    told.sort();
    assert_eq!(
        told,
        [
            "told audit: 2026.11: verdict GO → NO-GO (1 blocker)",
            "told release-channel: 2026.11: verdict GO → NO-GO (1 blocker)"
        ]
    );

    let slack = hooks.on(SLACK_PATH);
    assert_eq!(slack.len(), 1, "one message per event: {slack:?}");
    assert_eq!(slack[0].content_type.as_deref(), Some("application/json"));
    let body = &slack[0].body;
    assert_eq!(
        body["text"],
        "2026.11: verdict GO → NO-GO (1 blocker)\n• payments is not at 1.4.0 in prod (runs 1.3.2)"
    );
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "section");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[0]["text"]["text"], "2026.11: verdict GO → NO-GO (1 blocker)");
    assert_eq!(blocks[1]["text"]["text"], "• payments is not at 1.4.0 in prod (runs 1.3.2)");
    assert_eq!(blocks.last().unwrap()["type"], "context");

    let audit = hooks.on("/audit");
    assert_eq!(audit.len(), 1);
    let body = &audit[0].body;
    assert_eq!(body["schema"], 1);
    assert_eq!(body["event"], "verdict");
    assert_eq!(body["release"], "2026.11");
    assert_eq!(body["at"], "2026-11-24T17:56:00Z");
    assert_eq!(body["summary"], "2026.11: verdict GO → NO-GO (1 blocker)");
    assert_eq!(body["details"]["from"], "go");
    assert_eq!(body["details"]["to"], "no-go");
    assert_eq!(body["details"]["blockers"], 1);
    assert_eq!(body["details"]["top_blockers"][0], "payments is not at 1.4.0 in prod (runs 1.3.2)");
    assert!(hooks.on("/approvals").is_empty(), "approvals asked for decisions only");

    // A decision: the three of them hear it, once.
    let mut decided = no_go(snap(-3));
    decided.decisions.push(DecisionFact {
        id: "d1".into(),
        at: t(-3),
        by: "carol".into(),
        decision: Decision::NoGo,
        reason: "payments not in prod".into(),
    });
    assert_eq!(notifier.observe(decided, true), 3);
    for _ in 0..3 {
        assert!(matches!(next(&mut notifier).await.outcome, Outcome::Sent { .. }));
    }
    let approvals = hooks.on("/approvals");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].body["event"], "decision");
    assert_eq!(approvals[0].body["details"]["decision"], "no-go");
    assert_eq!(approvals[0].body["details"]["by"], "carol");
    assert_eq!(approvals[0].body["details"]["reason"], "payments not in prod");
    assert_eq!(hooks.seen().len(), 5, "one message per event and webhook");
    // Nothing new: nothing sent.
    let mut again = no_go(snap(-2));
    again.decisions = hooks_decision();
    assert_eq!(notifier.observe(again, true), 0);
}

fn hooks_decision() -> Vec<DecisionFact> {
    vec![DecisionFact {
        id: "d1".into(),
        at: t(-3),
        by: "carol".into(),
        decision: Decision::NoGo,
        reason: "payments not in prod".into(),
    }]
}

fn one_slack_webhook() -> Vec<NotifyConfig> {
    notify_config(
        r#"
[[notify]]
name = "release-channel"
kind = "slack"
url_env = "SLACK_WEBHOOK_URL"
"#,
    )
}

#[tokio::test]
async fn a_500_is_tried_again_with_backoff_until_it_goes_through() {
    let hooks = serve(|_, n| if n < 2 { slack(500, "internal_error") } else { ok() }).await;
    let mut notifier = spawn(&one_slack_webhook(), &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))], quick());
    let health = notifier.health();
    notifier.observe(snap(10), true);
    let d = next(&mut notifier).await;
    assert_eq!(d.outcome, Outcome::Sent { tries: 3 });
    assert_eq!(d.event.as_str(), "status");
    let seen = hooks.seen();
    assert_eq!(seen.len(), 3);
    // 50 ms, then 100 ms: the backoff doubles.
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(50), "{:?}", seen[1].at - seen[0].at);
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(100), "{:?}", seen[2].at - seen[1].at);
    // The same message each time.
    assert_eq!(seen[0].body, seen[2].body);
    let status = health.borrow()[0].clone();
    assert_eq!(status.health, Health::Ok);
    assert!(status.last_sent.is_some());
}

#[tokio::test]
async fn a_server_error_every_time_gives_up_after_five_tries() {
    let hooks = serve(|_, _| slack(503, "service_unavailable")).await;
    let mut notifier = spawn(&one_slack_webhook(), &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))], quick());
    notifier.observe(snap(10), true);
    let d = next(&mut notifier).await;
    let Outcome::GaveUp { why } = &d.outcome else { panic!("{d:?}") };
    assert_eq!(why, "HTTP 503 Service Unavailable: service_unavailable (gave up after 5 tries)");
    assert_eq!(hooks.seen().len(), 5);
    assert!(matches!(&notifier.health().borrow()[0].health, Health::Failing { why: w, .. } if w == why));
}

#[tokio::test]
async fn a_429_waits_its_retry_after() {
    let hooks = serve(|_, n| {
        if n == 0 {
            let mut resp = slack(429, "rate_limited");
            resp.headers_mut().insert(header::RETRY_AFTER, "1".parse().unwrap());
            resp
        } else {
            ok()
        }
    })
    .await;
    // The backoff alone would try again after 50 ms.
    let mut notifier = spawn(&one_slack_webhook(), &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))], quick());
    notifier.observe(snap(10), true);
    let d = next(&mut notifier).await;
    assert_eq!(d.outcome, Outcome::Sent { tries: 2 });
    let seen = hooks.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_millis(950), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

#[tokio::test]
async fn invalid_payload_gives_up_at_once_and_the_webhook_shows_failing_until_one_goes_through() {
    let hooks = serve(|_, n| if n == 0 { slack(400, "invalid_payload") } else { ok() }).await;
    let mut notifier = spawn(&one_slack_webhook(), &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))], quick());
    let mut health = notifier.health();
    notifier.observe(snap(10), true);
    let d = next(&mut notifier).await;
    assert_eq!(d.outcome, Outcome::GaveUp { why: "HTTP 400 Bad Request: invalid_payload".into() });
    assert_eq!(d.describe(), "could not tell release-channel (status): HTTP 400 Bad Request: invalid_payload");
    assert_eq!(hooks.seen().len(), 1, "a 400 is not tried again");
    let status = health.borrow_and_update()[0].clone();
    match &status.health {
        Health::Failing { why, .. } => assert_eq!(why, "HTTP 400 Bad Request: invalid_payload"),
        other => panic!("{other:?}"),
    }
    assert_eq!(status.last_sent, None);
    // The next one goes through: healthy again.
    notifier.observe(no_go(snap(11)), true);
    assert!(matches!(next(&mut notifier).await.outcome, Outcome::Sent { tries: 1 }));
    assert_eq!(health.borrow()[0].health, Health::Ok);
}

#[tokio::test]
async fn an_archived_channel_gives_up_with_slacks_reason_cleaned_and_capped() {
    let hostile = format!("channel_is_archived\u{1b}[2J\u{1b}]0;pwned\u{7} {}", "x".repeat(5000));
    let hooks = serve(move |_, _| slack(410, &hostile)).await;
    let mut notifier = spawn(&one_slack_webhook(), &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))], quick());
    notifier.observe(snap(10), true);
    let d = next(&mut notifier).await;
    let Outcome::GaveUp { why } = &d.outcome else { panic!("{d:?}") };
    assert!(why.starts_with("HTTP 410 Gone: channel_is_archived"), "{why}");
    assert!(!why.contains('\u{1b}') && !why.contains("pwned") && why.chars().count() < 200, "{why}");
    assert_eq!(hooks.seen().len(), 1);
}

/// Log lines written while a test runs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn the_url_is_never_in_an_error_a_delivery_or_a_log_line() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // This test's runtime has one thread: every task logs through it.
    let _guard = tracing::subscriber::set_default(subscriber);

    // A server that echoes the path it was asked, as some do.
    let hooks = serve(|path, _| slack(404, &format!("no_service: nothing at {path}"))).await;
    // And a webhook nobody answers (a closed port).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let configs = notify_config(
        r#"
[[notify]]
name = "release-channel"
kind = "slack"
url_env = "SLACK_WEBHOOK_URL"

[[notify]]
name = "audit"
kind = "webhook"
url_env = "AUDIT_HOOK"
"#,
    );
    let gone = format!("http://{closed}/hooks/{SECRET}?token={SECRET}");
    let env = [("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH)), ("AUDIT_HOOK", gone)];
    let mut notifier = spawn(&configs, &env, SendPolicy { tries: 2, ..quick() });
    notifier.observe(snap(10), true);
    let mut texts = Vec::new();
    for _ in 0..2 {
        let d = next(&mut notifier).await;
        assert!(matches!(d.outcome, Outcome::GaveUp { .. }), "{d:?}");
        texts.push(d.describe());
        texts.push(format!("{d:?}"));
    }
    for status in notifier.health().borrow().iter() {
        match &status.health {
            Health::Failing { why, .. } => texts.push(why.clone()),
            Health::Ok => panic!("{} should be failing", status.name),
        }
        texts.push(format!("{status:?}"));
    }
    let log = logs.text();
    assert!(log.contains("notification not delivered"), "the log was captured: {log}");
    texts.push(log);
    let all = texts.join("\n");
    assert!(all.contains("HTTP 404 Not Found: no_service"), "{all}");
    assert!(all.contains("could not tell audit (status):"), "{all}");
    assert!(!all.contains(SECRET), "the secret leaked:\n{all}");
    assert!(!all.contains("/services/T000/B000/SECRET"), "{all}");
    assert!(!all.contains(&format!("{closed}/hooks")), "{all}");
    // The bodies sent carry no secret either.
    assert!(hooks.seen().iter().all(|s| !s.body.to_string().contains(SECRET)));
}

#[tokio::test]
async fn a_webhook_without_its_variable_is_failing_from_the_start_and_sends_nothing() {
    let hooks = serve(|_, _| ok()).await;
    let mut notifier = spawn(&one_slack_webhook(), &[], quick());
    match &notifier.health().borrow()[0].health {
        Health::Failing { why, .. } => assert!(why.contains("SLACK_WEBHOOK_URL is not set"), "{why}"),
        Health::Ok => panic!("a webhook without a URL is not healthy"),
    }
    notifier.observe(snap(10), true);
    let d = next(&mut notifier).await;
    assert!(matches!(&d.outcome, Outcome::GaveUp { why } if why.contains("is not set")), "{d:?}");
    assert!(hooks.seen().is_empty());
}

#[tokio::test]
async fn in_team_mode_only_the_leader_sends_and_a_new_leader_announces_no_past() {
    let hooks = serve(|_, _| ok()).await;
    let configs = one_slack_webhook();
    let env = [("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))];
    let mut leader = spawn(&configs, &env, quick());
    let mut follower = spawn(&configs, &env, quick());
    let mut decided = no_go(snap(11));
    decided.decisions = hooks_decision();
    decided.decisions[0].at = t(11);
    let mut firing = decided.clone();
    firing.at = t(12);
    firing.triggers[0].level = Level::Firing;
    firing.triggers[0].measurement = "error_rate 0.3 (baseline 0.004, fires ≥ 0.04)".into();
    // Both seats see the same judgements; only the leader sends.
    for s in [snap(10), no_go(snap(11)), decided, firing.clone()] {
        leader.observe(s.clone(), true);
        assert_eq!(follower.observe(s, false), 0);
    }
    let mut events = Vec::new();
    for _ in 0..4 {
        let d = next(&mut leader).await;
        assert!(matches!(d.outcome, Outcome::Sent { .. }));
        events.push(d.event.as_str());
    }
    assert_eq!(events, ["status", "verdict", "decision", "trigger"]);
    assert!(follower.try_delivered().is_none());
    // The leader goes; the follower leads from here on: a new sign-off
    // is told, once, and nothing from before.
    drop(leader);
    let mut signed = firing;
    signed.at = t(13);
    signed.signoffs.push(SignOffFact {
        id: "s1".into(),
        at: t(13),
        by: "alice".into(),
        role: "qa".into(),
        revoked: false,
        note: None,
    });
    assert_eq!(follower.observe(signed, true), 1);
    let d = next(&mut follower).await;
    assert_eq!(d.describe(), "told release-channel: 2026.11: qa signed off by alice");
    let seen: Vec<String> = hooks.seen().iter().map(|s| s.body["text"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(seen.len(), 5, "each event once: {seen:#?}");
    assert_eq!(seen.iter().filter(|t| t.contains("signed off")).count(), 1);
}

#[tokio::test]
async fn status_updates_go_out_every_status_every_during_the_window() {
    let hooks = serve(|_, _| ok()).await;
    let configs = notify_config(
        r#"
[[notify]]
name = "release-channel"
kind = "webhook"
url_env = "HOOK"
on = ["status"]
status_every = "15m"
"#,
    );
    let mut notifier = spawn(&configs, &[("HOOK", hooks.url("/hook"))], quick());
    notifier.observe(snap(-10), true);
    // The window opens: the start announcement goes with `status`.
    assert_eq!(notifier.observe(snap(0), true), 1);
    // The clock moves, nothing else does: one status per 15 minutes.
    let mut sent = 0;
    for minute in 1..=46 {
        sent += notifier.tick(t(minute), true);
    }
    assert_eq!(sent, 3, "at 18:15, 18:30 and 18:45");
    for _ in 0..4 {
        assert!(matches!(next(&mut notifier).await.outcome, Outcome::Sent { .. }));
    }
    let bodies: Vec<Value> = hooks.seen().into_iter().map(|s| s.body).collect();
    assert_eq!(bodies[0]["event"], "deployment");
    assert_eq!(bodies[0]["details"]["phase"], "started");
    let at: Vec<&str> = bodies[1..].iter().map(|b| b["at"].as_str().unwrap()).collect();
    assert_eq!(at, ["2026-11-24T18:15:00Z", "2026-11-24T18:30:00Z", "2026-11-24T18:45:00Z"]);
    assert!(bodies[1..].iter().all(|b| b["event"] == "status"));
    assert_eq!(bodies[1]["details"]["since"], "2026-11-24T18:00:00Z");
    assert_eq!(bodies[1]["details"]["progress"][0]["environment"], "prod");
    // After the window: quiet.
    assert_eq!(notifier.tick(t(130), true) + notifier.tick(t(160), true), 0);
}

#[tokio::test]
async fn a_long_queue_drops_the_oldest_status_updates_and_counts_them() {
    let hooks = serve(|_, _| ok()).await;
    let mut notifier = spawn(
        &one_slack_webhook(),
        &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))],
        SendPolicy { queue_len: 2, ..quick() },
    );
    // Five status updates queued before the sending task gets to run
    // (this runtime has one thread): two fit.
    let base = snap(10);
    for i in 0..5 {
        let mut notice = flightdeck::notify::Notices::status(None, &base);
        notice.summary = format!("status {i}");
        assert_eq!(notifier.send(&notice), 1);
    }
    assert_eq!(notifier.health().borrow()[0].dropped, 3);
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let d = next(&mut notifier).await;
        outcomes.push((d.summary.clone(), matches!(d.outcome, Outcome::Sent { .. })));
    }
    assert_eq!(
        outcomes,
        [
            ("status 0".to_string(), false),
            ("status 1".to_string(), false),
            ("status 2".to_string(), false),
            ("status 3".to_string(), true),
            ("status 4".to_string(), true),
        ]
    );
    assert_eq!(hooks.seen().len(), 2);
}

#[tokio::test]
async fn one_message_a_second_per_webhook() {
    let hooks = serve(|_, _| ok()).await;
    let mut notifier =
        spawn(&one_slack_webhook(), &[("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))], SendPolicy::default());
    let base = snap(10);
    for _ in 0..3 {
        notifier.send(&flightdeck::notify::Notices::status(None, &base));
    }
    for _ in 0..3 {
        assert!(matches!(next(&mut notifier).await.outcome, Outcome::Sent { tries: 1 }));
    }
    let seen = hooks.seen();
    assert_eq!(seen.len(), 3);
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(950), "two messages {gap:?} apart");
    }
}

#[test]
fn config_problems_name_their_key_and_never_repeat_a_pasted_url() {
    let pasted = format!("https://hooks.slack.com/services/T000/B000/{SECRET}");
    let text = format!(
        r#"
[[environments]]
name = "prod"
[[services]]
name = "payments"

[[notify]]
name = "release-channel"
kind = "slack"
url_env = "{pasted}"
on = ["verdict", "deploy"]
status_every = "10s"
"#
    );
    let err = flightdeck::setup::from_toml_str(&text, "flightdeck.toml").expect_err("refused");
    let keys: Vec<&str> = err.0.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["notify[0].url_env", "notify[0].on", "notify[0].status_every"]);
    let shown = err.to_string();
    assert!(shown.contains("flightdeck.toml: `notify[0].url_env`: this looks like the webhook URL itself"), "{shown}");
    assert!(shown.contains("unknown event `deploy`"), "{shown}");
    assert!(!shown.contains(SECRET) && !shown.contains("hooks.slack.com"), "{shown}");

    // A URL under a key of its own: an unknown key, its value not shown.
    let text = format!(
        "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"payments\"\n\
         [[notify]]\nname = \"x\"\nkind = \"slack\"\nurl = \"{pasted}\"\n"
    );
    let err = flightdeck::setup::from_toml_str(&text, "flightdeck.toml").expect_err("refused").to_string();
    assert!(err.contains("unknown field `url`"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}

#[test]
fn in_team_mode_notifications_need_a_leading_seat() {
    let text = |poll: &str| {
        format!(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"payments\"\n\
             [team]\ndatabase_url_env = \"FLIGHTDECK_DATABASE_URL\"\npoll = \"{poll}\"\n\
             [[notify]]\nname = \"release-channel\"\nkind = \"slack\"\nurl_env = \"SLACK_WEBHOOK_URL\"\n"
        )
    };
    let config = flightdeck::setup::from_toml_str(&text("leader"), "test").expect("one seat sends");
    assert_eq!(config.notify.len(), 1);
    let err = flightdeck::setup::from_toml_str(&text("each"), "test").expect_err("every seat would send");
    assert_eq!(err.0.len(), 1, "{err}");
    assert_eq!(err.0[0].key, "team.poll");
    assert!(err.0[0].message.contains("[[notify]] needs one seat to send"), "{err}");
}
