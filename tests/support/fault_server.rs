//! A hostile version endpoint on loopback, shared by `tests/fault_storm.rs`
//! and `benches/soak.rs` (included with `#[path]`).
//!
//! It speaks just enough HTTP/1.1 by hand (one request per connection,
//! `Connection: close`) to misbehave in ways a framework would not allow:
//! stalls, drips, resets, truncated and oversized bodies, invalid UTF-8.
//! Paths are `/{service}/{env}`; the fault is chosen by the service name
//! (a `-N` suffix is ignored, so a fleet can have many of each). Until
//! `storm` is set every cell answers a good reading; then each service
//! misbehaves in its own way, except `good`.

#![allow(dead_code)] // each includer uses its own part

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// What `limited` asks for in its `Retry-After` header, in seconds.
pub const RETRY_AFTER_SECS: u64 = 5;
/// Size of the `huge` bodies.
pub const HUGE_BODY: usize = 50 * 1024 * 1024;

/// The good reading's version in round `round` (the soak changes rounds).
pub fn good_version(round: u64) -> String {
    format!("2.4.{round}")
}

/// Every fault, by the service name that triggers it (`errors` first: its
/// dev cell is the one selected at start).
pub const FAULTS: &[&str] =
    &["errors", "good", "slow", "reset", "limited", "malformed", "truncated", "huge", "badutf8", "hostile", "wide"];

/// Services whose storm answers are errors: their last good value must stay.
pub const FAILING: &[&str] = &["slow", "reset", "errors", "limited", "malformed", "truncated", "huge", "badutf8"];

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    pub service: String,
    pub env: String,
    pub storm: bool,
}

#[derive(Default)]
pub struct Shared {
    /// Misbehave (true) or answer good readings (false).
    pub storm: AtomicBool,
    /// The good version is `2.4.<round>`.
    pub round: AtomicU64,
    /// Connections currently open at the server.
    pub open: AtomicU64,
    pub hits: Mutex<Vec<Hit>>,
}

impl Shared {
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub struct FaultServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
}

impl FaultServer {
    /// Bind 127.0.0.1:0 and serve on the current tokio runtime.
    pub async fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared { round: AtomicU64::new(1), ..Shared::default() });
        let s = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { continue };
                let s = s.clone();
                tokio::spawn(async move {
                    s.open.fetch_add(1, Ordering::SeqCst);
                    // Every answer is bounded in time, whatever the client does.
                    let _ = tokio::time::timeout(Duration::from_secs(20), handle(sock, &s)).await;
                    s.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        FaultServer { addr, shared }
    }

    pub fn set_storm(&self, on: bool) {
        self.shared.storm.store(on, Ordering::SeqCst);
    }
}

/// The fault a service name selects: its name without a `-N` suffix.
pub fn fault_of(service: &str) -> &str {
    match service.rsplit_once('-') {
        Some((head, n)) if n.chars().all(|c| c.is_ascii_digit()) => head,
        _ => service,
    }
}

async fn read_head(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 16 * 1024 {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

async fn respond(sock: &mut TcpStream, status: &str, content_type: &str, extra: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body).await;
    let _ = sock.shutdown().await;
}

async fn handle(mut sock: TcpStream, shared: &Shared) {
    let Some(head) = read_head(&mut sock).await else { return };
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut parts = path.trim_start_matches('/').split('/');
    let service = parts.next().unwrap_or_default().to_string();
    let env = parts.next().unwrap_or_default().to_string();
    let storm = shared.storm.load(Ordering::SeqCst);
    shared.hits.lock().unwrap_or_else(|e| e.into_inner()).push(Hit {
        at: Instant::now(),
        service: service.clone(),
        env: env.clone(),
        storm,
    });
    let fault = fault_of(&service);
    let dev = env == "dev";
    if !storm || fault == "good" {
        let round = shared.round.load(Ordering::SeqCst);
        let body = format!(r#"{{"version":"{}","build":"77","commit":"4f2a9c1","health":"UP"}}"#, good_version(round));
        respond(&mut sock, "200 OK", "application/json", "", body.as_bytes()).await;
        return;
    }
    match fault {
        "slow" if dev => {
            // Headers at once, then the body a byte at a time.
            let body = br#"{"version":"9.9.9-slow"}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            for b in body {
                tokio::time::sleep(Duration::from_millis(400)).await;
                if sock.write_all(&[*b]).await.is_err() {
                    return;
                }
            }
        }
        "slow" => {
            // Nothing at all for ten seconds.
            tokio::time::sleep(Duration::from_secs(10)).await;
            respond(&mut sock, "200 OK", "application/json", "", br#"{"version":"9.9.9-slow"}"#).await;
        }
        "reset" if dev => {
            // An abortive close: the client sees a TCP reset.
            let _ = sock.set_zero_linger();
            drop(sock);
        }
        "reset" => {
            // Headers promised, then a reset mid-body.
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"vers")
                .await;
            let _ = sock.set_zero_linger();
            drop(sock);
        }
        "errors" => {
            let n = shared.hits.lock().map(|h| h.len()).unwrap_or_default();
            let status = ["500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable"][n % 3];
            // An error page carrying raw terminal sequences.
            let body = b"upstream \x1b]0;pwned\x07 on \x1b[2J\x1b[31mfire\x1b[0m \xe2\x80\xae\xc2\x9b2J";
            respond(&mut sock, status, "text/plain", "", body).await;
        }
        "limited" => {
            let extra = format!("retry-after: {RETRY_AFTER_SECS}\r\n");
            respond(&mut sock, "429 Too Many Requests", "text/plain", &extra, b"slow down").await;
        }
        "malformed" if dev => {
            respond(&mut sock, "200 OK", "application/json", "", br#"{"version": "2.5"#).await;
        }
        "malformed" => {
            respond(&mut sock, "200 OK", "application/json", "", br#"{"version": ["2", "5"], "build": {}}"#).await;
        }
        "truncated" => {
            // Promises 400 bytes, sends 20 and closes.
            let _ = sock
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n{\"version\":\"2.5.0\",\"b",
                )
                .await;
            let _ = sock.shutdown().await;
        }
        "huge" => {
            // 50 MB of JSON-ish bytes; dev says how long, prod streams chunked.
            let head = if dev {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {HUGE_BODY}\r\nconnection: close\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                    .to_string()
            };
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b'7'; 64 * 1024];
            let mut sent = 0;
            while sent < HUGE_BODY {
                let result = if dev {
                    sock.write_all(&block).await
                } else {
                    let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
                    chunk.extend_from_slice(&block);
                    chunk.extend_from_slice(b"\r\n");
                    sock.write_all(&chunk).await
                };
                if result.is_err() {
                    return; // the client gave up, as it should
                }
                sent += block.len();
            }
            if !dev {
                let _ = sock.write_all(b"0\r\n\r\n").await;
            }
            let _ = sock.shutdown().await;
        }
        "badutf8" if dev => {
            respond(&mut sock, "200 OK", "text/plain", "", b"2.5.0-\xff\xfe\xc3\x28").await;
        }
        "badutf8" => {
            respond(&mut sock, "200 OK", "application/json", "", b"{\"version\":\"2.5.0-\xff\xfe\"}").await;
        }
        "hostile" if dev => {
            // JSON escapes that decode to OSC, CSI clear screen, BEL, bidi override, C1 CSI.
            let body = br#"{"version":"3.1.0\u001b]0;pwned\u0007\u001b[2J\u202e-rc1","build":"9\u009b2J","commit":"\u001b]8;;http://evil\u001b\\abc"}"#;
            respond(&mut sock, "200 OK", "application/json", "", body).await;
        }
        "hostile" => {
            // The same as raw bytes in a plain-text version.
            respond(&mut sock, "200 OK", "text/plain", "", b"\x1b]0;pwned\x073.1.0\x1b[2J\xe2\x80\xae-rc1\x07").await;
        }
        "wide" if dev => {
            respond(
                &mut sock,
                "200 OK",
                "application/json",
                "",
                "{\"version\":\"3.2.0-测试版🚀🚀\",\"build\":\"宽\"}".as_bytes(),
            )
            .await;
        }
        "wide" => {
            let body = format!("{{\"version\":\"3.3.0-{}\",\"build\":\"{}\"}}", "界".repeat(5000), "🚀".repeat(300));
            respond(&mut sock, "200 OK", "application/json", "", body.as_bytes()).await;
        }
        _ => respond(&mut sock, "404 Not Found", "text/plain", "", b"no such fault").await,
    }
}
