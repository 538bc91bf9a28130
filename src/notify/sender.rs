//! Sending: one task and one queue per webhook, so a slow or failing
//! webhook holds up nobody — not the cockpit (queuing never waits), not
//! another webhook.
//!
//! Per webhook: about one message a second (Slack's limit); a failed
//! POST is tried again after 1 s, 2 s, 4 s, 8 s (five tries in all);
//! `429` waits its `Retry-After`; any other `4xx` gives up at once with
//! the webhook's own reason (Slack answers in plain text:
//! `invalid_payload`, `channel_is_archived`, `no_service`). The queue is
//! bounded: past [`SendPolicy::queue_len`] the oldest status update goes
//! first (the next one says it all again), and the drops are counted.
//!
//! The URL is a secret: it is read from the environment variable the
//! config names and kept in [`WebhookUrl`], which never prints it. Every
//! text that leaves this module — health, deliveries, log lines — has been
//! through [`WebhookUrl::scrub`], which takes the URL, its path and its
//! query (and the long parts of them) out, also when a server echoes them.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, mpsc, watch};

use super::config::{NotifyConfig, NotifyEvent, NotifyKind};
use super::notice::{Notice, Notices, Snapshot, StatusClock};
use super::payload;
use crate::model::FetchError;
use crate::sanitize::clean_to;
use crate::sources::HttpContext;
use crate::sources::fetch;

/// Bytes kept of a webhook's answer (its error text is short).
const ANSWER_LIMIT: usize = 4096;
/// Deliveries kept for the events pane until the loop takes them.
const DELIVERIES_KEPT: usize = 256;
/// Path segments and query values at least this long are taken out of
/// texts too (the secret part of `…/services/T000/B000/XXXX`).
const SECRET_PART: usize = 8;

/// How hard and how fast a webhook is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// Tries per message, the first included.
    pub tries: u32,
    /// Wait before the second try; doubled for each next one.
    pub first_backoff: Duration,
    /// Longest wait between tries.
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured as given (longer: this long).
    pub longest_retry_after: Duration,
    /// Least time between two messages to one webhook.
    pub min_gap: Duration,
    /// Timeout of one POST.
    pub timeout: Duration,
    /// Messages waiting per webhook before the oldest status is dropped.
    pub queue_len: usize,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            tries: 5,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            longest_retry_after: Duration::from_secs(300),
            min_gap: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            queue_len: 64,
        }
    }
}

/// How a webhook is doing, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Its last message went through (or none has failed yet).
    Ok,
    /// Failing since `since` (the first failure in a row), and why: the
    /// last reason, URL-free.
    Failing { since: Timestamp, why: String },
}

/// One webhook's state, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    pub name: String,
    pub kind: NotifyKind,
    pub health: Health,
    /// When a message last went through.
    pub last_sent: Option<Timestamp>,
    /// Messages dropped because its queue was too long.
    pub dropped: u64,
}

/// What became of one notice at one webhook, for the events pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The webhook's `name`.
    pub webhook: String,
    pub event: NotifyEvent,
    pub summary: String,
    /// When it was sent, given up or dropped.
    pub at: Timestamp,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the webhook, after this many tries.
    Sent { tries: u32 },
    /// Not delivered: why (URL-free).
    GaveUp { why: String },
    /// Taken out of a queue that was too long.
    Dropped,
}

impl Delivery {
    /// "told release-channel: 2026.11: verdict HOLD → GO", or why not.
    pub fn describe(&self) -> String {
        let text = match &self.outcome {
            Outcome::Sent { .. } => format!("told {}: {}", self.webhook, self.summary),
            Outcome::GaveUp { why } => format!("could not tell {} ({}): {why}", self.webhook, self.event),
            Outcome::Dropped => format!("not told {} (queue too long): {}", self.webhook, self.summary),
        };
        clean_to(&text, 300)
    }
}

/// A webhook URL: a secret. It prints as `[redacted]`, and
/// [`WebhookUrl::scrub`] takes it out of any text.
#[derive(Clone)]
pub struct WebhookUrl {
    url: reqwest::Url,
    /// Every form of it, or of a part of it, that may turn up in a text;
    /// longest first.
    secrets: Vec<String>,
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl([redacted])")
    }
}

impl WebhookUrl {
    /// The URL `var` holds (`value`: what the environment says). Errors
    /// name the variable, never the value.
    pub fn from_env(var: &str, value: Option<String>) -> Result<WebhookUrl, String> {
        let Some(raw) = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else {
            return Err(format!("the environment variable {var} is not set (it should hold the webhook URL)"));
        };
        let url = reqwest::Url::parse(&raw).map_err(|_| format!("{var} does not hold a URL"))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(format!("{var} holds a URL without a host")),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(format!(
                    "{var} holds an http:// URL to another host: a webhook URL is a secret and goes over https:// only"
                ));
            }
            _ => return Err(format!("{var} does not hold an https:// URL")),
        }
        let mut secrets = vec![raw.clone(), url.as_str().to_string()];
        let path = url.path();
        if path.len() > 1 {
            secrets.push(path.to_string());
        }
        if let Some(query) = url.query().filter(|q| !q.is_empty()) {
            secrets.push(format!("{path}?{query}"));
            secrets.push(query.to_string());
            secrets.extend(url.query_pairs().map(|(_, v)| v.into_owned()).filter(|v| v.len() >= SECRET_PART));
        }
        secrets.extend(path.split('/').filter(|s| s.len() >= SECRET_PART).map(str::to_string));
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Ok(WebhookUrl { url, secrets })
    }

    /// `text` without the URL or any of its secret parts (also a part cut
    /// short before a `…`), cleaned and capped.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            out = crate::sources::auth::Token::redact_secret(secret, out);
        }
        clean_to(&out, 300)
    }
}

/// One webhook's queue: the cockpit pushes (never waits), the task pops.
struct Queue {
    items: Mutex<VecDeque<Notice>>,
    wake: Notify,
}

impl Queue {
    /// Add a notice; the one dropped to keep within `max`, if any: the
    /// oldest status update, else the oldest notice.
    fn push(&self, notice: Notice, max: usize) -> Option<Notice> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.push_back(notice);
        let dropped = if items.len() > max.max(1) {
            let at = items.iter().position(Notice::is_status).unwrap_or(0);
            items.remove(at)
        } else {
            None
        };
        drop(items);
        self.wake.notify_one();
        dropped
    }

    async fn pop(&self) -> Notice {
        loop {
            if let Some(n) = self.items.lock().unwrap_or_else(PoisonError::into_inner).pop_front() {
                return n;
            }
            // A push between the check and here leaves a permit: no wake-up is lost.
            self.wake.notified().await;
        }
    }
}

/// The cockpit's side of one webhook.
struct Webhook {
    config: NotifyConfig,
    slot: usize,
    queue: Arc<Queue>,
    clock: StatusClock,
}

/// Notifications for every `[[notify]]`: what to say ([`Notices`]) and
/// the tasks that say it. See the module documentation of
/// [`crate::notify`] for how the cockpit drives it.
pub struct Notifier {
    webhooks: Vec<Webhook>,
    policy: SendPolicy,
    /// The last snapshot observed: what the next one is compared with.
    prev: Option<Snapshot>,
    health_tx: Arc<watch::Sender<Vec<WebhookStatus>>>,
    health: watch::Receiver<Vec<WebhookStatus>>,
    deliveries_tx: mpsc::Sender<Delivery>,
    deliveries: mpsc::Receiver<Delivery>,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for Notifier {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Notifier {
    /// Start one task per webhook, each URL read from the environment
    /// variable its `url_env` names. Call inside a tokio runtime. A URL
    /// that is missing or wrong does not stop anything: that webhook is
    /// `Failing` from the start, and says why.
    pub fn spawn(configs: &[NotifyConfig], ctx: &HttpContext) -> Notifier {
        Notifier::spawn_with(configs, ctx, |var| std::env::var(var).ok(), SendPolicy::default())
    }

    /// As [`Notifier::spawn`], with the environment read through `env`
    /// and the given policy (tests use short waits).
    pub fn spawn_with(
        configs: &[NotifyConfig],
        ctx: &HttpContext,
        env: impl Fn(&str) -> Option<String>,
        policy: SendPolicy,
    ) -> Notifier {
        let started = Timestamp::now();
        let urls: Vec<Result<WebhookUrl, String>> =
            configs.iter().map(|c| WebhookUrl::from_env(&c.url_env, env(&c.url_env))).collect();
        let statuses = configs
            .iter()
            .zip(&urls)
            .map(|(c, url)| WebhookStatus {
                name: c.name.clone(),
                kind: c.kind,
                health: match url {
                    Ok(_) => Health::Ok,
                    Err(why) => Health::Failing { since: started, why: why.clone() },
                },
                last_sent: None,
                dropped: 0,
            })
            .collect();
        let (health_tx, health) = watch::channel(statuses);
        let health_tx = Arc::new(health_tx);
        let (deliveries_tx, deliveries) = mpsc::channel(DELIVERIES_KEPT);
        let mut webhooks = Vec::new();
        let mut tasks = Vec::new();
        for (slot, (config, url)) in configs.iter().zip(urls).enumerate() {
            if let Err(why) = &url {
                tracing::warn!(webhook = %config.name, why = %why, "webhook cannot be used");
            }
            let queue = Arc::new(Queue { items: Mutex::new(VecDeque::new()), wake: Notify::new() });
            let task = Task {
                slot,
                name: config.name.clone(),
                kind: config.kind,
                url,
                queue: queue.clone(),
                client: ctx.client.clone(),
                policy,
                health: health_tx.clone(),
                deliveries: deliveries_tx.clone(),
            };
            tasks.push(tokio::spawn(task.run()).abort_handle());
            webhooks.push(Webhook {
                config: config.clone(),
                slot,
                queue,
                clock: StatusClock::new(config.status_every),
            });
        }
        Notifier { webhooks, policy, prev: None, health_tx, health, deliveries_tx, deliveries, tasks }
    }

    /// Whether any webhook is configured.
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty()
    }

    /// Take in the judgement at one time: work out what changed since the
    /// last snapshot ([`Notices::between`]) and which status updates are
    /// due, and queue each notice for every webhook whose `on` asks for
    /// it. With `sending` false (a team seat that does not lead) nothing
    /// is queued, but the snapshot and the status clocks move on, so a
    /// seat that takes the lead announces nothing of the past. Until the
    /// first sweep is complete nothing is taken in: the first snapshot is
    /// a settled one. Never waits. Returns how many messages were queued.
    pub fn observe(&mut self, snapshot: Snapshot, sending: bool) -> usize {
        if self.prev.is_none() && snapshot.unread {
            return 0;
        }
        let notices = Notices::between(self.prev.as_ref(), &snapshot);
        let mut queued = 0;
        for i in 0..self.webhooks.len() {
            let mut outgoing: Vec<Notice> = Vec::new();
            let webhook = &mut self.webhooks[i];
            for notice in notices.iter().filter(|n| webhook.config.wants(n.event)) {
                if notice.is_status() {
                    webhook.clock.sent(&snapshot);
                }
                outgoing.push(notice.clone());
            }
            if webhook.config.wants(NotifyEvent::Status)
                && let Some(status) = webhook.clock.due(&snapshot)
            {
                outgoing.push(status);
            }
            if sending {
                for notice in outgoing {
                    self.enqueue(i, notice);
                    queued += 1;
                }
            }
        }
        self.prev = Some(snapshot);
        queued
    }

    /// The clock moved with nothing new judged: status updates falling
    /// due at `now` go out (the last snapshot, as of `now`). Call it on
    /// the cockpit's tick.
    pub fn tick(&mut self, now: Timestamp, sending: bool) -> usize {
        match &self.prev {
            Some(prev) if prev.at < now => {
                let mut moved = prev.clone();
                moved.at = now;
                self.observe(moved, sending)
            }
            _ => 0,
        }
    }

    /// Queue one notice for every webhook whose `on` asks for its event
    /// (a test message, say). Returns how many queued it.
    pub fn send(&mut self, notice: &Notice) -> usize {
        let wanted: Vec<usize> =
            (0..self.webhooks.len()).filter(|&i| self.webhooks[i].config.wants(notice.event)).collect();
        for &i in &wanted {
            self.enqueue(i, notice.clone());
        }
        wanted.len()
    }

    fn enqueue(&mut self, i: usize, notice: Notice) {
        let webhook = &self.webhooks[i];
        let Some(dropped) = webhook.queue.push(notice, self.policy.queue_len) else { return };
        let slot = webhook.slot;
        let name = webhook.config.name.clone();
        self.health_tx.send_modify(|all| {
            if let Some(s) = all.get_mut(slot) {
                s.dropped += 1;
            }
        });
        tracing::warn!(webhook = %name, event = %dropped.event, "notification dropped: the webhook's queue is too long");
        // The events pane is told when it has room; the count above is kept anyway.
        let _ = self.deliveries_tx.try_send(Delivery {
            webhook: name,
            event: dropped.event,
            summary: dropped.summary,
            at: Timestamp::now(),
            outcome: Outcome::Dropped,
        });
    }

    /// Every webhook's health, in config order; `changed()` wakes the
    /// status bar.
    pub fn health(&self) -> watch::Receiver<Vec<WebhookStatus>> {
        self.health.clone()
    }

    /// The next delivery (sent, given up, dropped), for the events pane.
    /// Cancel-safe: use it in `select!`.
    pub async fn delivered(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }

    /// A delivery already there, if any.
    pub fn try_delivered(&mut self) -> Option<Delivery> {
        self.deliveries.try_recv().ok()
    }
}

/// One webhook's sending task.
struct Task {
    slot: usize,
    name: String,
    kind: NotifyKind,
    url: Result<WebhookUrl, String>,
    queue: Arc<Queue>,
    client: reqwest::Client,
    policy: SendPolicy,
    health: Arc<watch::Sender<Vec<WebhookStatus>>>,
    deliveries: mpsc::Sender<Delivery>,
}

/// Why one try failed, and whether another may succeed.
enum Failure {
    /// Try again after this long (a `Retry-After`, else the backoff).
    Retry { why: String, after: Option<Duration> },
    /// Another try would fail the same way (a 4xx, a redirect).
    GiveUp(String),
}

impl Task {
    async fn run(self) {
        let mut last_sent: Option<tokio::time::Instant> = None;
        loop {
            let notice = self.queue.pop().await;
            let url = match &self.url {
                Ok(url) => url,
                Err(why) => {
                    self.report(&notice, Outcome::GaveUp { why: why.clone() });
                    continue;
                }
            };
            if let Some(last) = last_sent {
                tokio::time::sleep_until(last + self.policy.min_gap).await;
            }
            let body = payload::body(self.kind, &notice).to_string();
            let outcome = self.deliver(url, body).await;
            last_sent = Some(tokio::time::Instant::now());
            self.report(&notice, outcome);
        }
    }

    /// POST `body`, trying again as the policy says.
    async fn deliver(&self, url: &WebhookUrl, body: String) -> Outcome {
        let mut backoff = self.policy.first_backoff;
        let tries = self.policy.tries.max(1);
        for attempt in 1..=tries {
            let failure = match self.post(url, body.clone()).await {
                Ok(()) => return Outcome::Sent { tries: attempt },
                Err(failure) => failure,
            };
            let (why, after) = match failure {
                Failure::GiveUp(why) => return Outcome::GaveUp { why },
                Failure::Retry { why, after } => (why, after),
            };
            if attempt == tries {
                return Outcome::GaveUp { why: format!("{why} (gave up after {tries} tries)") };
            }
            let wait = after.map_or(backoff, |a| a.min(self.policy.longest_retry_after));
            tracing::info!(webhook = %self.name, attempt, wait_ms = wait.as_millis() as u64, why = %why, "webhook failed; trying again");
            self.failing(&why);
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
        Outcome::GaveUp { why: "no try was made".into() }
    }

    /// One POST.
    async fn post(&self, url: &WebhookUrl, body: String) -> Result<(), Failure> {
        let req = self
            .client
            .post(url.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.policy.timeout)
            .body(body);
        let resp = match fetch::get_capped(req, ANSWER_LIMIT).await {
            Ok(resp) => resp,
            Err(FetchError::Timeout(_)) => {
                let why = format!("timed out after {}", humantime::format_duration(self.policy.timeout));
                return Err(Failure::Retry { why, after: None });
            }
            Err(e) => return Err(Failure::Retry { why: url.scrub(&e.to_string()), after: None }),
        };
        let code = resp.status.as_u16();
        if resp.status.is_success() {
            return Ok(());
        }
        let answer = url.scrub(&clean_to(&String::from_utf8_lossy(&resp.body), 120));
        let reason = resp.status.canonical_reason().unwrap_or("");
        let why = match (reason.is_empty(), answer.is_empty()) {
            (_, true) => format!("HTTP {code} {reason}").trim_end().to_string(),
            (true, false) => format!("HTTP {code}: {answer}"),
            (false, false) => format!("HTTP {code} {reason}: {answer}"),
        };
        match code {
            429 => Err(Failure::Retry { why, after: fetch::retry_after(&resp, Timestamp::now()) }),
            408 | 500..=599 => Err(Failure::Retry { why, after: None }),
            300..=399 => Err(Failure::GiveUp(format!("{why} (a redirect is not followed to another host)"))),
            _ => Err(Failure::GiveUp(why)),
        }
    }

    /// Mark the webhook failing (keeping when it started to).
    fn failing(&self, why: &str) {
        let now = Timestamp::now();
        self.health.send_modify(|all| {
            if let Some(s) = all.get_mut(self.slot) {
                let since = match &s.health {
                    Health::Failing { since, .. } => *since,
                    Health::Ok => now,
                };
                s.health = Health::Failing { since, why: why.to_string() };
            }
        });
    }

    fn report(&self, notice: &Notice, outcome: Outcome) {
        let now = Timestamp::now();
        match &outcome {
            Outcome::Sent { tries } => {
                tracing::info!(webhook = %self.name, event = %notice.event, tries, "notification sent");
                self.health.send_modify(|all| {
                    if let Some(s) = all.get_mut(self.slot) {
                        s.health = Health::Ok;
                        s.last_sent = Some(now);
                    }
                });
            }
            Outcome::GaveUp { why } => {
                tracing::warn!(webhook = %self.name, event = %notice.event, why = %why, "notification not delivered");
                self.failing(why);
            }
            Outcome::Dropped => {}
        }
        // The events pane is told when it has room; health says it anyway.
        let _ = self.deliveries.try_send(Delivery {
            webhook: self.name.clone(),
            event: notice.event,
            summary: notice.summary.clone(),
            at: now,
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "https://hooks.slack.com/services/T000/B000/SECRETsecret123?token=abcdefgh12345";

    #[test]
    fn the_url_is_never_shown_nor_any_secret_part_of_it() {
        let url = WebhookUrl::from_env("SLACK_WEBHOOK_URL", Some(SECRET.into())).expect("valid");
        assert_eq!(format!("{url:?}"), "WebhookUrl([redacted])");
        for echo in [
            format!("error sending request for url ({SECRET})"),
            "no webhook at /services/T000/B000/SECRETsecret123".to_string(),
            "bad token abcdefgh12345".to_string(),
            "SECRETsecret123 is archived".to_string(),
            // Cut short by a cap, wherever the cut falls.
            "posting to https://hooks.slack.com/services/T000/B000/SECRETs…".to_string(),
        ] {
            let scrubbed = url.scrub(&echo);
            assert!(!scrubbed.contains("SECRET") && !scrubbed.contains("abcdefgh"), "{scrubbed}");
            assert!(scrubbed.contains("[redacted]"), "{scrubbed}");
        }
        assert_eq!(url.scrub("invalid_payload"), "invalid_payload");
    }

    #[test]
    fn a_missing_or_wrong_url_is_explained_without_its_value() {
        let err = |v: Option<&str>| WebhookUrl::from_env("HOOK", v.map(String::from)).expect_err("refused");
        assert!(err(None).contains("HOOK is not set"));
        assert!(err(Some("  ")).contains("HOOK is not set"));
        assert_eq!(err(Some("not a url SECRET")), "HOOK does not hold a URL");
        let plain = err(Some("http://hooks.example.com/SECRET"));
        assert!(plain.contains("https:// only") && !plain.contains("SECRET"), "{plain}");
        assert!(err(Some("ftp://h.example/SECRET")).contains("https://"));
        assert!(WebhookUrl::from_env("HOOK", Some("http://127.0.0.1:9/hook".into())).is_ok());
    }

    fn notice(status: bool, n: usize) -> Notice {
        use crate::analysis::verdict::Verdict;
        use crate::notify::notice::{Details, StatusDetails, VerdictDetails};
        let details = if status {
            Details::Status(StatusDetails {
                verdict: Verdict::Go,
                blockers: 0,
                top_blockers: vec![],
                progress: vec![],
                window: None,
                since: None,
                changes: vec![],
            })
        } else {
            Details::Verdict(VerdictDetails { from: Verdict::Hold, to: Verdict::Go, blockers: 0, top_blockers: vec![] })
        };
        Notice {
            event: if status { NotifyEvent::Status } else { NotifyEvent::Verdict },
            release: "r".into(),
            at: Timestamp::UNIX_EPOCH,
            summary: format!("n{n}"),
            lines: vec![],
            details,
        }
    }

    #[test]
    fn a_long_queue_drops_the_oldest_status_first() {
        let q = Queue { items: Mutex::new(VecDeque::new()), wake: Notify::new() };
        assert!(q.push(notice(false, 0), 3).is_none());
        assert!(q.push(notice(true, 1), 3).is_none());
        assert!(q.push(notice(true, 2), 3).is_none());
        assert_eq!(q.push(notice(false, 3), 3).map(|n| n.summary), Some("n1".into()));
        assert_eq!(q.push(notice(false, 4), 3).map(|n| n.summary), Some("n2".into()));
        // No status left: the oldest goes.
        assert_eq!(q.push(notice(false, 5), 3).map(|n| n.summary), Some("n0".into()));
        let left: Vec<String> = q.items.lock().unwrap().iter().map(|n| n.summary.clone()).collect();
        assert_eq!(left, ["n3", "n4", "n5"]);
    }
}
