//! `flightdeck check` wall time at fleet scale: 300 services × 5
//! environments served by a loopback HTTP server, the real binary run
//! end to end (config load, one sweep, analysis, JSON out).
//!
//!   cargo bench --bench check_scale            # defaults: 300 × 5, 7 runs
//!   cargo bench --bench check_scale -- 1000 6  # services, environments
//!   cargo bench --bench check_scale -- 2000 10 # the 20,000 cells (goal ≤ 2 s)
//!
//! Prints min / median / max wall time over the runs, for the default
//! concurrency (16) and for 64, beside the reference: a plain reqwest
//! client in this process making the same GETs at the same concurrency
//! (no process start, no config, no analysis, no output).

use std::process::Command;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;

async fn version(Path((env, service)): Path<(String, String)>) -> axum::Json<serde_json::Value> {
    let n: u32 = service.trim_start_matches("svc-").parse().unwrap_or(0);
    let minor = if env == "prod" { n % 7 } else { n % 7 + 1 };
    axum::Json(serde_json::json!({
        "version": format!("1.{minor}.0"),
        "build": (n * 10 + minor).to_string(),
        "commit": format!("{:07x}", n * 7919 + minor),
        "health": "UP",
        "deployed_at": "2026-11-20T10:00:00Z",
    }))
}

fn config(port: u16, services: usize, envs: usize, concurrency: usize) -> String {
    let mut out = String::new();
    for e in 0..envs {
        let name = if e + 1 == envs { "prod".to_string() } else { format!("env{e}") };
        out.push_str(&format!("[[environments]]\nname = \"{name}\"\nstale_after = \"30d\"\n"));
    }
    for s in 0..services {
        out.push_str(&format!("[[services]]\nname = \"svc-{s}\"\n"));
    }
    out.push_str("[release]\nname = \"bench\"\n[release.targets]\n");
    for s in 0..services {
        out.push_str(&format!("svc-{s} = \"1.{}.0\"\n", s % 7 + 1));
    }
    out.push_str(&format!(
        "[[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/{{env}}/{{service}}\"\ntimeout = \"10s\"\n[poller]\nconcurrency = {concurrency}\n"
    ));
    out
}

/// The same GETs from a plain reqwest client, `concurrency` at a time,
/// bodies read and parsed as JSON: what the sweep inside `check` costs at
/// least.
fn reference(
    rt: &tokio::runtime::Runtime,
    port: u16,
    services: usize,
    envs: usize,
    concurrency: usize,
    runs: usize,
) -> Vec<Duration> {
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let urls: Vec<String> = (0..services)
        .flat_map(|s| {
            (0..envs).map(move |e| {
                let env = if e + 1 == envs { "prod".to_string() } else { format!("env{e}") };
                format!("http://127.0.0.1:{port}/{env}/svc-{s}")
            })
        })
        .collect();
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let read = rt.block_on(
                futures::stream::iter(urls.iter().cloned())
                    .map(|url| {
                        let client = client.clone();
                        async move {
                            let body = client.get(url).send().await.ok()?.bytes().await.ok()?;
                            serde_json::from_slice::<serde_json::Value>(&body).ok()
                        }
                    })
                    .buffer_unordered(concurrency)
                    .filter(|v| std::future::ready(v.is_some()))
                    .count(),
            );
            assert_eq!(read, services * envs);
            start.elapsed()
        })
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let services = args.first().copied().unwrap_or(300);
    let envs = args.get(1).copied().unwrap_or(5);
    let runs = 7;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route("/{env}/{service}", get(version));
    rt.spawn(async move { axum::serve(listener, app).await });

    let bin = env!("CARGO_BIN_EXE_flightdeck");
    println!("flightdeck check: {services} services × {envs} environments = {} cells, loopback HTTP", services * envs);
    for concurrency in [16, 64] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bench.toml");
        std::fs::write(&path, config(port, services, envs, concurrency)).unwrap();
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let out = Command::new(bin)
                .args(["check", "--format", "json", "--config", path.to_str().unwrap()])
                .env("XDG_CONFIG_HOME", dir.path().join("c"))
                .env("XDG_DATA_HOME", dir.path().join("d"))
                .env("XDG_STATE_HOME", dir.path().join("s"))
                .output()
                .unwrap();
            times.push(start.elapsed());
            let code = out.status.code();
            assert!(code == Some(0) || code == Some(1), "check failed: {}", String::from_utf8_lossy(&out.stderr));
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(json["cells"].as_array().map(Vec::len), Some(services * envs));
        }
        times.sort();
        let mut plain = reference(&rt, port, services, envs, concurrency, runs);
        plain.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  concurrency {concurrency:>3}: check min {:>7.1} ms  median {:>7.1} ms  max {:>7.1} ms  ({runs} runs)   plain reqwest GETs median {:>7.1} ms",
            ms(times[0]),
            ms(times[runs / 2]),
            ms(times[runs - 1]),
            ms(plain[runs / 2]),
        );
    }
}
