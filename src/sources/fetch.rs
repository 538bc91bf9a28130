//! The thin network part shared by HTTP-based sources: one client, capped
//! bodies, and errors a person can read in a cell.

use std::error::Error as _;
use std::time::Duration;

use futures::StreamExt;

pub use crate::model::error::FetchError;
use crate::sanitize;

/// Largest response body read from a source; anything longer is an error.
pub const MAX_BODY: usize = 1024 * 1024;
/// Bytes kept from an error response's body, for its message.
const ERROR_SNIPPET: usize = 4096;

/// Shared HTTP client: TLS verified, bounded redirects, a user agent.
#[derive(Clone, Debug)]
pub struct HttpContext {
    pub client: reqwest::Client,
}

impl HttpContext {
    pub fn new() -> Result<HttpContext, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(HttpContext { client })
    }
}

/// Follow at most five redirects, and only within the same scheme, host and
/// port: sources send tokens in headers (`PRIVATE-TOKEN` among them) that
/// must never reach another host. A redirect elsewhere comes back as the
/// 3xx response itself and becomes a readable error.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("more than 5 redirects");
        }
        let same = attempt.previous().first().is_some_and(|first| {
            let next = attempt.url();
            first.scheme() == next.scheme()
                && first.host_str() == next.host_str()
                && first.port_or_known_default() == next.port_or_known_default()
        });
        if same { attempt.follow() } else { attempt.stop() }
    })
}

/// What came back, body already capped.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: reqwest::StatusCode,
    pub content_type: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    /// A header as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A header as an unsigned number.
    pub(crate) fn header_u64(&self, name: &str) -> Option<u64> {
        self.header(name).and_then(|v| v.trim().parse().ok())
    }
}

/// GET `url`, reading at most `limit` bytes of body.
pub(crate) async fn get_capped(req: reqwest::RequestBuilder, limit: usize) -> Result<Response, FetchError> {
    let mut resp = req.send().await.map_err(classify)?;
    let status = resp.status();
    let headers = std::mem::take(resp.headers_mut());
    let content_type =
        headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|s| s.to_ascii_lowercase());
    // An error response is reported by its status; only a snippet of its body is kept.
    let error_snippet = !status.is_success();
    if !error_snippet && resp.content_length().is_some_and(|len| len > limit as u64) {
        return Err(FetchError::TooLarge { limit });
    }
    // A declared length within the limit is the whole body (the framing
    // holds the server to it): read it in one piece.
    if !error_snippet && resp.content_length().is_some() {
        let body = resp.bytes().await.map_err(classify)?;
        return Ok(Response { status, content_type, headers, body: body.into() });
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(classify)?;
        if error_snippet {
            body.extend_from_slice(&chunk[..chunk.len().min(ERROR_SNIPPET.saturating_sub(body.len()))]);
            if body.len() >= ERROR_SNIPPET {
                break;
            }
            continue;
        }
        if body.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, content_type, headers, body })
}

/// Seconds from `now` until the epoch second `at` (a rate-limit reset), at least one.
pub(crate) fn secs_until(at: i64, now: i64) -> Duration {
    Duration::from_secs(at.saturating_sub(now).max(1) as u64)
}

/// `Retry-After` as seconds or an HTTP date, relative to `now`.
pub fn retry_after(resp: &Response, now: jiff::Timestamp) -> Option<Duration> {
    let raw = resp.header("retry-after")?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(raw).ok()?.timestamp();
    Some(Duration::from_secs(at.as_second().saturating_sub(now.as_second()).max(0) as u64))
}

/// Classify a non-success response the way every API source needs:
/// rate limits (429, or 403 with the limit spent or a `Retry-After`) apart
/// from authentication failures (401, other 403s), then other statuses.
/// `reset_wait` is the source's own reading of its rate-limit headers.
pub fn classify_status(resp: &Response, reset_wait: Option<Duration>) -> FetchError {
    let code = resp.status.as_u16();
    let snippet = sanitize::clean_to(&String::from_utf8_lossy(&resp.body), 80);
    let retry = retry_after(resp, jiff::Timestamp::now()).or(reset_wait);
    let spent = ["x-ratelimit-remaining", "ratelimit-remaining"].iter().any(|h| resp.header_u64(h) == Some(0));
    match code {
        429 => FetchError::RateLimited { code, retry_after: retry, detail: snippet },
        403 if spent || resp.header("retry-after").is_some() => {
            FetchError::RateLimited { code, retry_after: retry, detail: snippet }
        }
        401 | 403 => FetchError::Auth { code, detail: snippet },
        _ => status_error(resp),
    }
}

/// Turn a non-success response into an error with a short, clean snippet.
pub fn status_error(resp: &Response) -> FetchError {
    if resp.status.is_redirection() {
        let to = resp.header("location").map(|l| sanitize::clean_to(l, 80)).unwrap_or_default();
        return FetchError::Other(format!(
            "HTTP {} redirect to another host not followed (credentials stay on the configured host): {to}",
            resp.status.as_u16()
        ));
    }
    let reason = resp.status.canonical_reason().unwrap_or("");
    let snippet = sanitize::clean_to(&String::from_utf8_lossy(&resp.body), 80);
    let detail = match (reason.is_empty(), snippet.is_empty()) {
        (_, true) => reason.to_string(),
        (true, false) => snippet,
        (false, false) => format!("{reason}: {snippet}"),
    };
    FetchError::Status { code: resp.status.as_u16(), detail }
}

/// Describe a transport error by its class, with the root cause.
pub(crate) fn classify(err: reqwest::Error) -> FetchError {
    let mut root = String::new();
    let mut tls = false;
    let mut dropped = false;
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            tls = true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
            dropped |= matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof);
        }
        // hyper's "connection closed before message completed".
        dropped |= lower.contains("connection closed before message completed");
        root = text;
        source = s.source();
    }
    if root.is_empty() {
        root = err.to_string();
    }
    let root = sanitize::clean_to(&root, 120);
    if err.is_timeout() {
        FetchError::Timeout(Duration::ZERO)
    } else if tls {
        FetchError::Tls(root)
    } else if err.is_connect() {
        FetchError::Connect(root)
    } else if dropped {
        FetchError::Dropped(root)
    } else if err.is_body() || err.is_decode() {
        FetchError::Other(format!("reading the body failed: {root}"))
    } else {
        FetchError::Other(root)
    }
}
