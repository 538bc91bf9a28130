//! One-shot commands retry a transient failure (issue 11, defect 9): a
//! connection refused, reset or timed out once, a 502/503/504, a 429 with a
//! short Retry-After. A loopback server that fails each cell's first
//! requests in one of those ways, then answers; and one that never does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flightdeck::poller::{Retry, SourceUpdate, sweep_retrying};
use flightdeck::sources::{FetchError, HttpContext};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Requests seen per path.
type Hits = Arc<Mutex<HashMap<String, u32>>>;

async fn read_path(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf).split_whitespace().nth(1).map(str::to_string)
}

async fn respond(sock: &mut TcpStream, status: &str, extra: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body.as_bytes()).await;
    let _ = sock.shutdown().await;
}

/// `/{fault}/{env}`: the first `n` requests of a path fail as `fault` says
/// (`n` is the digit ending the fault's name, e.g. `s503x2`), then it answers
/// version 1.0.0. `never503` always fails.
async fn serve() -> (SocketAddr, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits: Hits = Arc::default();
    let seen = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let seen = seen.clone();
            tokio::spawn(async move {
                let Some(path) = read_path(&mut sock).await else { return };
                let n = {
                    let mut map = seen.lock().unwrap();
                    let n = map.entry(path.clone()).or_default();
                    *n += 1;
                    *n
                };
                let fault = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
                let (kind, times) = match fault.rsplit_once('x') {
                    Some((kind, times)) => (kind.to_string(), times.parse::<u32>().unwrap_or(0)),
                    None => (fault.clone(), u32::MAX),
                };
                if n > times {
                    respond(&mut sock, "200 OK", "", r#"{"version":"1.0.0"}"#).await;
                    return;
                }
                match kind.as_str() {
                    "s503" | "never503" => respond(&mut sock, "503 Service Unavailable", "", "{}").await,
                    "s502" => respond(&mut sock, "502 Bad Gateway", "", "{}").await,
                    "s429" => respond(&mut sock, "429 Too Many Requests", "retry-after: 1\r\n", "{}").await,
                    "s429long" => respond(&mut sock, "429 Too Many Requests", "retry-after: 120\r\n", "{}").await,
                    "s500" => respond(&mut sock, "500 Internal Server Error", "", "{}").await,
                    // Close without a word: "connection closed before message completed".
                    "reset" => drop(sock),
                    // Say nothing until the client gives up.
                    "hang" => tokio::time::sleep(Duration::from_secs(30)).await,
                    other => panic!("unknown fault {other}"),
                }
            });
        }
    });
    (addr, hits)
}

fn config(addr: SocketAddr, services: &[&str]) -> String {
    let mut text = String::from("[[environments]]\nname = \"prod\"\n");
    for s in services {
        text.push_str(&format!("[[services]]\nname = \"{s}\"\n"));
    }
    text.push_str(&format!(
        "[[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://{addr}/{{service}}/{{env}}\"\ntimeout = \"1s\"\n"
    ));
    text
}

async fn sweep(addr: SocketAddr, services: &[&str], retry: Retry) -> HashMap<String, SourceUpdate> {
    let config = flightdeck::setup::from_toml_str(&config(addr, services), "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let ctx = HttpContext::new().unwrap();
    let updates = sweep_retrying(&active, config.poller, &ctx, retry, |_, _| {}).await;
    updates.into_iter().map(|u| (services[u.cell.service].to_string(), u)).collect()
}

fn hits_of(hits: &Hits, service: &str) -> u32 {
    hits.lock().unwrap().get(&format!("/{service}/prod")).copied().unwrap_or(0)
}

#[tokio::test]
async fn transient_failures_are_retried_until_an_answer() {
    let (addr, hits) = serve().await;
    let services = ["s503x2", "s502x1", "s429x1", "resetx1", "hangx1"];
    let updates = sweep(addr, &services, Retry::new(2, Duration::from_secs(20))).await;
    for service in services {
        let update = &updates[service];
        assert_eq!(
            update.result.as_ref().map(|r| r.version.clone()),
            Ok(Some("1.0.0".to_string())),
            "{service} was not retried to an answer"
        );
    }
    assert_eq!(hits_of(&hits, "s503x2"), 3);
    assert_eq!(hits_of(&hits, "s502x1"), 2);
    assert_eq!(hits_of(&hits, "resetx1"), 2);
    assert_eq!(hits_of(&hits, "hangx1"), 2);
}

#[tokio::test]
async fn without_retries_one_failure_stands() {
    let (addr, hits) = serve().await;
    let updates = sweep(addr, &["s503x1", "resetx1"], Retry::new(0, Duration::from_secs(20))).await;
    assert!(matches!(updates["s503x1"].result, Err(FetchError::Status { code: 503, .. })));
    assert!(matches!(updates["resetx1"].result, Err(FetchError::Dropped(_))), "{:?}", updates["resetx1"].result);
    assert_eq!(hits_of(&hits, "s503x1"), 1);
    assert_eq!(hits_of(&hits, "resetx1"), 1);
}

#[tokio::test]
async fn lasting_and_permanent_failures_report_the_last_error() {
    let (addr, hits) = serve().await;
    let services = ["never503", "s500x1", "s429longx1"];
    let updates = sweep(addr, &services, Retry::new(2, Duration::from_secs(20))).await;
    // Tried 1 + 2 times, then the last 503 stands.
    assert!(matches!(updates["never503"].result, Err(FetchError::Status { code: 503, .. })));
    assert_eq!(hits_of(&hits, "never503"), 3);
    // A 500 is not transient; a 429 asking two minutes is not short.
    assert!(matches!(updates["s500x1"].result, Err(FetchError::Status { code: 500, .. })));
    assert_eq!(hits_of(&hits, "s500x1"), 1);
    assert!(matches!(updates["s429longx1"].result, Err(FetchError::RateLimited { code: 429, .. })));
    assert_eq!(hits_of(&hits, "s429longx1"), 1);
}

#[tokio::test]
async fn retries_stay_inside_the_deadline() {
    let (addr, hits) = serve().await;
    let started = tokio::time::Instant::now();
    // Each attempt hangs for the whole 1 s timeout; a 1.5 s deadline leaves
    // room for one retry at most, cut short to what is left.
    let updates = sweep(addr, &["hangx5"], Retry::new(5, Duration::from_millis(1500))).await;
    assert!(matches!(updates["hangx5"].result, Err(FetchError::Timeout(_))));
    assert!(hits_of(&hits, "hangx5") <= 2, "{} attempts", hits_of(&hits, "hangx5"));
    // Five retries of a 1 s hang would take over 6 s; the deadline ends them.
    assert!(started.elapsed() < Duration::from_millis(4000), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_connection_refused_once_is_retried() {
    // A port with nobody listening, then a listener on it a moment later.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(80)).await;
        let listener = TcpListener::bind(addr).await.unwrap();
        let (mut sock, _) = listener.accept().await.unwrap();
        read_path(&mut sock).await;
        respond(&mut sock, "200 OK", "", r#"{"version":"2.0.0"}"#).await;
    });
    let updates = sweep(addr, &["payments"], Retry::new(2, Duration::from_secs(10))).await;
    assert_eq!(updates["payments"].result.as_ref().ok().and_then(|r| r.version.as_deref()), Some("2.0.0"));
    later.await.unwrap();
}

/// `check` itself: with the defaults a cell that fails once reads; with
/// `--retries 0` the same failure holds the gate.
#[test]
fn check_retries_by_default_and_takes_the_flags() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, _hits) = rt.block_on(serve());
    let dir = tempfile::tempdir().unwrap();
    let run = |services: &[&str], args: &[&str]| {
        let path = dir.path().join("config.toml");
        // A release that plans the service: an unread cell holds the gate.
        let release =
            format!("[release]\nname = \"r\"\nkind = \"patch\"\n[release.targets]\n{} = \"1.0.0\"\n", services[0]);
        let text = format!("data_dir = \"{}\"\n{}{release}", dir.path().display(), config(addr, services));
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["check", "--format", "json", "--config"])
            .arg(&path)
            .args(args)
            .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code(), json, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let version = |json: &serde_json::Value| json.pointer("/cells/0/version").cloned();
    // Each run its own service, so the server's count starts afresh.
    let blocked_by = |json: &serde_json::Value, service: &str| {
        json["blockers"].as_array().is_some_and(|all| all.iter().any(|b| b.to_string().contains(service)))
    };
    let (code, json, err) = run(&["s503x1"], &[]);
    assert_eq!(version(&json), Some(serde_json::json!("1.0.0")), "{json:#}\n{err}");
    assert!(!blocked_by(&json, "s503x1"), "{json:#}");
    assert_eq!(code, Some(1), "the patch checklist still holds: {err}");
    let (code, json, err) = run(&["s502x1"], &["--retries", "0"]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(version(&json), Some(serde_json::Value::Null), "{json:#}");
    assert!(blocked_by(&json, "s502x1"), "the unread cell must hold the gate: {json:#}");
    // Bad flags: a clear message, exit 2.
    for bad in [&["--retries", "lots"][..], &["--deadline", "0s"], &["--deadline", "soon"]] {
        let (code, _, err) = run(&["s503x1"], bad);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(err.contains(bad[0]), "{bad:?}: {err}");
    }
}
