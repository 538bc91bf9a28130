//! Why a fetch produced no reading: data every front end shows (a cell's
//! error, a trigger's), not a network type.

use std::time::Duration;

/// The longest `Retry-After` a one-shot command waits out before retrying.
pub(crate) const SHORT_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Why a fetch produced no reading. Every string is already sanitized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum FetchError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection was reset or closed before the answer was complete.
    #[error("connection dropped: {0}")]
    Dropped(String),
    #[error("TLS failure: {0}")]
    Tls(String),
    #[error("HTTP {code}{}", detail_suffix(.detail))]
    Status { code: u16, detail: String },
    #[error("response body larger than {} KiB", .limit / 1024)]
    TooLarge { limit: usize },
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    Field(String),
    /// 401, or 403 that is not a rate limit: the credentials are wrong.
    #[error("HTTP {code} {}: check the token{}", auth_word(*.code), detail_suffix(.detail))]
    Auth { code: u16, detail: String },
    /// 429, or 403 with the rate limit spent: wait before asking again.
    #[error("rate limited (HTTP {code}){}{}", retry_suffix(.retry_after), detail_suffix(.detail))]
    RateLimited { code: u16, retry_after: Option<Duration>, detail: String },
    /// No request was sent: the source is keeping its rate limit from
    /// running dry, or waiting out a limit it already hit.
    #[error("holding back for {}: {reason}", humantime::format_duration(Duration::from_secs(.retry_after.as_secs())))]
    HeldBack { retry_after: Duration, reason: String },
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// The same error with `f` applied to every text it carries (to take a
    /// token out of a server's echo, say).
    pub(crate) fn map_text(self, f: impl Fn(String) -> String) -> FetchError {
        match self {
            FetchError::Connect(s) => FetchError::Connect(f(s)),
            FetchError::Dropped(s) => FetchError::Dropped(f(s)),
            FetchError::Tls(s) => FetchError::Tls(f(s)),
            FetchError::Status { code, detail } => FetchError::Status { code, detail: f(detail) },
            FetchError::Malformed(s) => FetchError::Malformed(f(s)),
            FetchError::Field(s) => FetchError::Field(f(s)),
            FetchError::Auth { code, detail } => FetchError::Auth { code, detail: f(detail) },
            FetchError::RateLimited { code, retry_after, detail } => {
                FetchError::RateLimited { code, retry_after, detail: f(detail) }
            }
            FetchError::HeldBack { retry_after, reason } => FetchError::HeldBack { retry_after, reason: f(reason) },
            FetchError::Other(s) => FetchError::Other(f(s)),
            other @ (FetchError::Timeout(_) | FetchError::TooLarge { .. }) => other,
        }
    }

    /// Whether asking again soon may well succeed: a connection refused,
    /// reset or timed out, a gateway error (502, 503, 504), or a 429 that
    /// asks to wait at most [`SHORT_RETRY_AFTER`]. The one-shot commands
    /// retry these; the cockpit keeps its own schedule.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout(_) | FetchError::Connect(_) | FetchError::Dropped(_) => true,
            FetchError::Status { code, .. } => matches!(code, 502..=504),
            FetchError::RateLimited { code: 429, retry_after: Some(wait), .. } => *wait <= SHORT_RETRY_AFTER,
            _ => false,
        }
    }

    /// How long the source asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::RateLimited { retry_after, .. } => *retry_after,
            FetchError::HeldBack { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

fn auth_word(code: u16) -> &'static str {
    if code == 401 { "unauthorized" } else { "forbidden" }
}

fn retry_suffix(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry in {}", humantime::format_duration(Duration::from_secs(d.as_secs()))),
        None => String::new(),
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(" {detail}") }
}
