//! `[[notify]]` as written and as checked: who is told, and about what.
//!
//! ```toml
//! [[notify]]
//! name = "release-channel"
//! kind = "slack"                   # Slack-compatible incoming webhook JSON; or "webhook" (flightdeck's own JSON)
//! url_env = "SLACK_WEBHOOK_URL"    # the URL is a secret: environment only
//! on = ["verdict", "trigger", "decision", "signoff", "status"]
//! status_every = "20m"             # a status update during the window (the seeds: every 15–30 min)
//! ```
//!
//! [`validate`] checks what can be checked without the environment and
//! reports every problem at once, each with its key. The URL is read from
//! the environment when the notifier starts ([`super::Notifier::spawn`]);
//! no message here ever repeats a value that looks like a URL.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::HumanDuration;

/// The default `status_every`: the seeds ask for an update every 15–30 minutes.
pub const DEFAULT_STATUS_EVERY: Duration = Duration::from_secs(20 * 60);
/// The shortest `status_every` accepted: more often is noise, not news.
pub const SHORTEST_STATUS_EVERY: Duration = Duration::from_secs(60);

/// One `[[notify]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// How the webhook is named in messages and the status bar.
    pub name: String,
    /// `"slack"` or `"webhook"`; read as text so a wrong value gets our own
    /// message (and is never echoed when it looks like a URL).
    pub kind: String,
    /// The environment variable holding the webhook URL (never the URL).
    pub url_env: Option<String>,
    /// The events to send; absent: all of them.
    pub on: Option<Vec<String>>,
    /// How often a status update goes out while the window is open.
    pub status_every: Option<HumanDuration>,
}

/// Which JSON a webhook takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyKind {
    /// A Slack-compatible incoming webhook (`{"text", "blocks"}`); Mattermost
    /// and many chat tools take the same.
    Slack,
    /// flightdeck's own JSON ([`super::payload::webhook`]).
    Webhook,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Slack => "slack",
            NotifyKind::Webhook => "webhook",
        }
    }
}

/// An event a webhook can ask for in `on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyEvent {
    /// The verdict changed (old → new, with the top blockers).
    Verdict,
    /// A rollback trigger started firing, or cleared.
    Trigger,
    /// A go / no-go decision was recorded.
    Decision,
    /// A sign-off was given (or revoked).
    Signoff,
    /// The periodic status update during the window; it also brings the
    /// deployment start / finished announcements.
    Status,
    /// The deployment start / finished announcements alone, without the
    /// periodic status.
    Deployment,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 6] = [
        NotifyEvent::Verdict,
        NotifyEvent::Trigger,
        NotifyEvent::Decision,
        NotifyEvent::Signoff,
        NotifyEvent::Status,
        NotifyEvent::Deployment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Verdict => "verdict",
            NotifyEvent::Trigger => "trigger",
            NotifyEvent::Decision => "decision",
            NotifyEvent::Signoff => "signoff",
            NotifyEvent::Status => "status",
            NotifyEvent::Deployment => "deployment",
        }
    }

    fn parse(raw: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|e| e.as_str() == raw.trim())
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[notify]]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub name: String,
    pub kind: NotifyKind,
    /// The environment variable holding the URL.
    pub url_env: String,
    /// The events it asked for, in a fixed order, no duplicates.
    pub on: Vec<NotifyEvent>,
    pub status_every: Duration,
}

impl NotifyConfig {
    /// Whether a notice of `event` goes to this webhook. The deployment
    /// announcements go with `status` too: they are the status updates
    /// the seeds ask for at the start and at the end.
    pub fn wants(&self, event: NotifyEvent) -> bool {
        self.on.contains(&event) || (event == NotifyEvent::Deployment && self.on.contains(&NotifyEvent::Status))
    }
}

/// Where a problem with a `[[notify]]` table is: `notify[index].key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyProblem {
    pub index: usize,
    /// The key in the table (`url_env`, `on`, …).
    pub key: &'static str,
    pub message: String,
}

impl NotifyProblem {
    fn new(index: usize, key: &'static str, message: impl Into<String>) -> NotifyProblem {
        NotifyProblem { index, key, message: message.into() }
    }

    /// The dotted key (`notify[0].url_env`).
    pub fn key_string(&self) -> String {
        format!("notify[{}].{}", self.index, self.key)
    }
}

impl fmt::Display for NotifyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key_string(), self.message)
    }
}

/// A value as a message may show it: never something that looks like a
/// URL (it may be a pasted secret), cleaned and short.
fn shown(raw: &str) -> String {
    if raw.contains("://") { "(a URL, not shown)".to_string() } else { crate::sanitize::clean_to(raw, 40) }
}

/// Check every `[[notify]]` table; every problem is reported, each with
/// its key. The environment is not read here.
pub fn validate(settings: &[NotifySettings]) -> Result<Vec<NotifyConfig>, Vec<NotifyProblem>> {
    let mut problems = Vec::new();
    let mut configs = Vec::new();
    let mut names = HashSet::new();
    for (i, raw) in settings.iter().enumerate() {
        let mut problem = |key, message: String| problems.push(NotifyProblem::new(i, key, message));
        let name = raw.name.trim();
        if name.contains("://") {
            problem("name", "this looks like a URL: the name only says which webhook it is (e.g. \"release-channel\"); the URL goes in the environment variable `url_env` names".into());
        } else if !crate::config::validate::valid_name(name) {
            problem(
                "name",
                format!("invalid notify name `{}`: names use letters, digits, '-' and '_' (at most 64)", shown(name)),
            );
        } else if !names.insert(name.to_string()) {
            problem("name", format!("duplicate notify name `{name}`"));
        }
        let kind = match raw.kind.trim() {
            "slack" => Some(NotifyKind::Slack),
            "webhook" => Some(NotifyKind::Webhook),
            other => {
                problem(
                    "kind",
                    format!(
                        "`{}` is not a notify kind: \"slack\" (Slack-compatible incoming webhook) or \"webhook\" (flightdeck's own JSON)",
                        shown(other)
                    ),
                );
                None
            }
        };
        let url_env = match raw.url_env.as_deref().map(str::trim) {
            None | Some("") => {
                problem("url_env", "missing: name the environment variable that holds the webhook URL".into());
                None
            }
            // A pasted URL is a secret: say so without repeating it.
            Some(v) if v.contains("://") => {
                problem(
                    "url_env",
                    "this looks like the webhook URL itself: it is a secret and never goes in a file; name the \
                     environment variable that holds it (e.g. SLACK_WEBHOOK_URL)"
                        .into(),
                );
                None
            }
            Some(v) if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                problem("url_env", format!("`{}` is not an environment variable name", shown(v)));
                None
            }
            Some(v) => Some(v.to_string()),
        };
        let on = match &raw.on {
            None => NotifyEvent::ALL.to_vec(),
            Some(list) => {
                let mut on = Vec::new();
                for event in list {
                    match NotifyEvent::parse(event) {
                        Some(e) => on.push(e),
                        None => problem(
                            "on",
                            format!(
                                "unknown event `{}` (known: {})",
                                shown(event),
                                NotifyEvent::ALL.map(NotifyEvent::as_str).join(", ")
                            ),
                        ),
                    }
                }
                if list.is_empty() {
                    problem(
                        "on",
                        "no events: list what to send, e.g. [\"verdict\", \"trigger\", \"decision\", \"signoff\", \"status\"], or remove the [[notify]] table".into(),
                    );
                }
                on.sort_unstable();
                on.dedup();
                on
            }
        };
        let status_every = raw.status_every.map_or(DEFAULT_STATUS_EVERY, |d| d.0);
        if status_every < SHORTEST_STATUS_EVERY {
            problem(
                "status_every",
                format!(
                    "a status every {} is too often for a channel: use 1m or more (the seeds: every 15–30 minutes)",
                    humantime::format_duration(status_every)
                ),
            );
        }
        if let (Some(kind), Some(url_env)) = (kind, url_env) {
            configs.push(NotifyConfig { name: name.to_string(), kind, url_env, on, status_every });
        }
    }
    if problems.is_empty() { Ok(configs) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<NotifySettings> {
        #[derive(Deserialize)]
        struct Top {
            notify: Vec<NotifySettings>,
        }
        toml::from_str::<Top>(text).expect("valid TOML").notify
    }

    #[test]
    fn the_contract_example_is_read_with_its_defaults() {
        let configs = validate(&parse(
            r#"
            [[notify]]
            name = "release-channel"
            kind = "slack"
            url_env = "SLACK_WEBHOOK_URL"
            on = ["verdict", "trigger", "decision", "signoff", "status"]
            status_every = "20m"

            [[notify]]
            name = "audit"
            kind = "webhook"
            url_env = "AUDIT_HOOK"
            "#,
        ))
        .expect("valid");
        assert_eq!(configs.len(), 2);
        assert_eq!(configs[0].kind, NotifyKind::Slack);
        assert_eq!(configs[0].url_env, "SLACK_WEBHOOK_URL");
        assert_eq!(configs[0].status_every, Duration::from_secs(1200));
        assert!(!configs[0].on.contains(&NotifyEvent::Deployment));
        // Status brings the announcements along.
        assert!(configs[0].wants(NotifyEvent::Deployment));
        // No `on`: every event; no `status_every`: 20 minutes.
        assert_eq!(configs[1].on, NotifyEvent::ALL.to_vec());
        assert_eq!(configs[1].status_every, DEFAULT_STATUS_EVERY);
    }

    #[test]
    fn every_problem_is_reported_with_its_key_and_a_pasted_url_is_never_repeated() {
        let secret = "https://hooks.slack.com/services/T000/B000/SECRETsecret";
        let problems = validate(&parse(&format!(
            r#"
            [[notify]]
            name = "ok-name"
            kind = "slak"
            url_env = "{secret}"
            on = ["verdict", "verdikt", "{secret}"]
            status_every = "30s"

            [[notify]]
            name = "ok-name"
            kind = "webhook"
            "#
        )))
        .expect_err("invalid");
        let keys: Vec<String> = problems.iter().map(NotifyProblem::key_string).collect();
        assert_eq!(
            keys,
            [
                "notify[0].kind",
                "notify[0].url_env",
                "notify[0].on",
                "notify[0].on",
                "notify[0].status_every",
                "notify[1].name",
                "notify[1].url_env"
            ]
        );
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let all = text.join("\n");
        assert!(all.contains("`slak` is not a notify kind"), "{all}");
        assert!(all.contains("looks like the webhook URL itself"), "{all}");
        assert!(all.contains("unknown event `verdikt`"), "{all}");
        assert!(all.contains("too often"), "{all}");
        assert!(all.contains("duplicate notify name `ok-name`"), "{all}");
        assert!(all.contains("missing: name the environment variable"), "{all}");
        assert!(!all.contains("hooks.slack.com") && !all.contains("SECRET"), "{all}");
    }

    #[test]
    fn an_empty_event_list_and_a_bad_variable_name_are_refused() {
        let problems = validate(&parse(
            r#"
            [[notify]]
            name = "x"
            kind = "slack"
            url_env = "SLACK WEBHOOK"
            on = []
            "#,
        ))
        .expect_err("invalid");
        let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(all[0].contains("`SLACK WEBHOOK` is not an environment variable name"), "{all:?}");
        assert!(all[1].starts_with("`notify[0].on`: no events"), "{all:?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<toml::Table>("name = \"x\"\nkind = \"slack\"\nurl = \"x\"")
            .map(toml::Value::Table)
            .and_then(|v| v.try_into::<NotifySettings>())
            .expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `url`"), "{err}");
    }
}
