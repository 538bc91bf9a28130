//! The thin network part shared by HTTP-based sources: one client, capped
//! bodies, and errors a person can read in a cell.

use std::error::Error as _;
use std::time::Duration;

use futures::StreamExt;

use crate::sanitize;

/// Largest response body read from a source; anything longer is an error.
pub const MAX_BODY: usize = 1024 * 1024;
/// Bytes kept from an error response's body, for its message.
const ERROR_SNIPPET: usize = 4096;

/// Why a fetch produced no reading. Every string is already sanitized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
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
    #[error("{0}")]
    Other(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(" {detail}") }
}

/// Shared HTTP client: TLS verified, bounded redirects, a user agent.
#[derive(Clone, Debug)]
pub struct HttpContext {
    pub client: reqwest::Client,
}

impl HttpContext {
    pub fn new() -> Result<HttpContext, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()?;
        Ok(HttpContext { client })
    }
}

/// What came back, body already capped.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: reqwest::StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// GET `url`, reading at most `limit` bytes of body.
pub async fn get_capped(req: reqwest::RequestBuilder, limit: usize) -> Result<Response, FetchError> {
    let resp = req.send().await.map_err(classify)?;
    let status = resp.status();
    let content_type =
        resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|s| s.to_ascii_lowercase());
    // An error response is reported by its status; only a snippet of its body is kept.
    let error_snippet = !status.is_success();
    if !error_snippet && resp.content_length().is_some_and(|len| len > limit as u64) {
        return Err(FetchError::TooLarge { limit });
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
    Ok(Response { status, content_type, body })
}

/// Turn a non-success response into an error with a short, clean snippet.
pub fn status_error(resp: &Response) -> FetchError {
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
pub fn classify(err: reqwest::Error) -> FetchError {
    let mut root = String::new();
    let mut tls = false;
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            tls = true;
        }
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
    } else if err.is_body() || err.is_decode() {
        FetchError::Other(format!("reading the body failed: {root}"))
    } else {
        FetchError::Other(root)
    }
}
