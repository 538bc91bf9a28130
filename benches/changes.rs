//! What ships, at fleet scale, from loopback: 200 services × 4 environments,
//! a release touching 60 of them (their target differs from what prod runs;
//! the other 140 run their target everywhere), each service its own
//! repository behind a GitHub compare server in this process (ETags, `304
//! Not Modified`, paging with `Link`, a counter of answers by status).
//!
//!   cargo bench --bench changes                # 200 services, 60 touched, 4 environments, 21 runs
//!   cargo bench --bench changes -- 500 150 6 5 # services, touched, environments, runs
//!
//! Measured, each beside the same GETs made with plain reqwest (the limit;
//! a line in between parses each page as JSON, to show where a difference
//! goes):
//!
//! - **(a) the first full changes view**: a fresh `Engine` fed every cell's
//!   reading, then `Engine::asks` answered with `changes::answer_all`
//!   (concurrency 8, as the cockpit's worker) until no ask is left, through
//!   a fresh `ChangesClient` and HTTP client: wall time and requests.
//! - **(b) a refresh where nothing changed**: the versions re-read unchanged
//!   (what every poll does: `asks()` must return nothing, so no request);
//!   and a forced re-fetch of every range: a fresh engine asking everything
//!   again through the same `ChangesClient`, whose cache revalidates each
//!   answer with its `ETag` — `304`s, which GitHub does not count against
//!   the rate limit.
//!
//! Readings carry versions only, so every ref is a tag (`v1.4.0`) and every
//! answer is revalidated: the worst case. With commit ids in the readings a
//! compare of two ids is never asked again at all.
//!
//! Every response body is built once (on its first request, during the
//! warm-up) so the server does little per request; it runs on its own
//! runtime. CPU is the whole process's (server included), per run.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use flightdeck::engine::Engine;
use flightdeck::engine::shipping::Answer;
use flightdeck::model::{CellKey, Evidence, Reading, Role};
use flightdeck::poller::SourceUpdate;
use futures::StreamExt;

/// Questions answered at once (the cockpit's worker asks 8 at a time).
const CONCURRENCY: usize = 8;
/// Commits on main before the version prod runs.
const HISTORY: usize = 40;
/// Commits on main after the release's target (not released yet).
const UNRELEASED: usize = 2;

// ---------------------------------------------------------------------------
// The fleet and its repositories.

fn env_names(envs: usize) -> Vec<String> {
    const NAMES: [&str; 4] = ["dev", "qa", "stage", "prod"];
    if envs == NAMES.len() {
        return NAMES.iter().map(|s| s.to_string()).collect();
    }
    (0..envs).map(|e| if e + 1 == envs { "prod".to_string() } else { format!("env{e}") }).collect()
}

fn service_name(n: usize) -> String {
    format!("svc-{n:04}")
}

/// One service's repository: a line of commits on `main`, the tag of the
/// version prod runs, the tag of the release's target, then a few commits
/// not released yet.
#[derive(Debug, Clone)]
struct Repo {
    n: usize,
    prod_version: String,
    target_version: String,
    /// Positions on the line (commit 0 is the root).
    prod: usize,
    target: usize,
    tip: usize,
}

impl Repo {
    /// `commits`: what the release brings to prod (0: not in the release).
    fn new(n: usize, commits: usize) -> Repo {
        let (major, minor) = (1 + n % 3, 1 + n % 17);
        let prod_version = format!("{major}.{minor}.0");
        let (target_version, target) = if commits > 0 {
            (format!("{major}.{}.0", minor + 1), HISTORY + commits)
        } else {
            (prod_version.clone(), HISTORY)
        };
        Repo { n, prod_version, target_version, prod: HISTORY, target, tip: target + UNRELEASED }
    }

    fn touched(&self) -> bool {
        self.target != self.prod
    }

    /// What the release brings to prod.
    fn release_commits(&self) -> usize {
        self.target - self.prod
    }

    fn sha(&self, i: usize) -> String {
        let x = ((self.n as u64) << 32 | i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        format!("{x:016x}{:016x}{:08x}", x.rotate_left(29), i)
    }

    fn resolve(&self, git_ref: &str) -> Option<usize> {
        match git_ref {
            "main" => Some(self.tip),
            _ if git_ref == format!("v{}", self.target_version) => Some(self.target),
            _ if git_ref == format!("v{}", self.prod_version) => Some(self.prod),
            _ => (0..=self.tip).find(|&i| self.sha(i) == git_ref),
        }
    }

    fn message(&self, i: usize) -> String {
        let pr = 1000 + i;
        match i % 5 {
            0 => format!("feat(api): accept refund reasons (#{pr})\n\nCloses PAY-{i}."),
            1 => format!("fix: round totals half-even (#{pr})\n\nPAY-{}", i / 2),
            2 => format!("Merge pull request #{pr} from acme/perf-{i}\n\nperf: cache exchange rates OPS-{i}"),
            3 => format!("chore(deps): bump serde to 1.0.{i}"),
            _ => format!("refactor: split the ledger writer\n\nBREAKING CHANGE: the writer is async (ABC-{i})"),
        }
    }

    /// One commit as GitHub's compare lists it.
    fn commit(&self, i: usize) -> serde_json::Value {
        let date = format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + i / 1440 % 28, i / 60 % 24, i % 60);
        serde_json::json!({
            "sha": self.sha(i), "node_id": "C_kwDO",
            "commit": {
                "author": {"name": "Ada Lovelace", "email": "ada@example.com", "date": date},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": date},
                "message": self.message(i),
                "tree": {"sha": self.sha(i), "url": "https://api.github.example/t"},
                "url": "https://api.github.example/c", "comment_count": 0,
            },
            "author": {"login": "ada", "id": 1},
            "committer": {"login": "web-flow", "id": 2},
            "parents": [{"sha": self.sha(i.saturating_sub(1)), "url": "https://api.github.example/p"}],
            "url": "https://api.github.example/c", "html_url": "https://github.example/c",
        })
    }
}

/// What service `n` runs in environment `e` of `envs`: its target
/// everywhere but prod, which runs the version before it when touched.
fn running(repo: &Repo, e: usize, envs: usize) -> &str {
    if e + 1 == envs { &repo.prod_version } else { &repo.target_version }
}

fn config(port: u16, repos: &[Repo], envs: usize) -> String {
    let mut out = String::new();
    for name in env_names(envs) {
        out.push_str(&format!("[[environments]]\nname = \"{name}\"\n"));
    }
    for r in repos {
        out.push_str(&format!("[[services]]\nname = \"{0}\"\nrepo = \"acme/{0}\"\n", service_name(r.n)));
    }
    out.push_str("[release]\nname = \"bench\"\nkind = \"minor\"\n[release.targets]\n");
    for r in repos {
        out.push_str(&format!("{} = \"{}\"\n", service_name(r.n), r.target_version));
    }
    out.push_str(&format!(
        "[[sources]]\nname = \"endpoints\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/{{env}}/{{service}}\"\n\
         [changes]\nkind = \"github\"\napi_url = \"http://127.0.0.1:{port}\"\ntag = \"v{{version}}\"\n\
         mainline = \"main\"\ntickets = \"[A-Z][A-Z0-9]+-[0-9]+\"\n"
    ));
    out
}

/// Every cell's reading, as one sweep of the sources would hand them over.
fn readings(engine: &Engine, repos: &[Repo]) -> Vec<SourceUpdate> {
    let envs = engine.fleet.environments.len();
    let source: Arc<str> = Arc::from("endpoints");
    let now = jiff::Timestamp::now();
    (0..repos.len())
        .flat_map(|service| (0..envs).map(move |env| (service, env)))
        .map(|(service, env)| SourceUpdate {
            source: source.clone(),
            evidence: Evidence::Running,
            role: Role::Deployment,
            cell: CellKey { service, env },
            attempted_at: now,
            result: Ok(Reading::version(running(&repos[service], env, envs))),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The GitHub compare server.

/// A request as the server saw it: its URI and `If-None-Match`.
type Logged = (String, Option<String>);

/// Answers by status, and (while `recording`) each request's URI and
/// `If-None-Match`, to replay them with plain reqwest.
#[derive(Default)]
struct Counter {
    ok: AtomicU64,
    not_modified: AtomicU64,
    other: AtomicU64,
    recording: AtomicBool,
    log: Mutex<Vec<Logged>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counts {
    ok: u64,
    not_modified: u64,
    other: u64,
}

impl Counts {
    fn sent(&self) -> u64 {
        self.ok + self.not_modified + self.other
    }
    fn since(self, before: Counts) -> Counts {
        Counts {
            ok: self.ok - before.ok,
            not_modified: self.not_modified - before.not_modified,
            other: self.other - before.other,
        }
    }
}

impl Counter {
    fn counts(&self) -> Counts {
        Counts {
            ok: self.ok.load(Ordering::SeqCst),
            not_modified: self.not_modified.load(Ordering::SeqCst),
            other: self.other.load(Ordering::SeqCst),
        }
    }

    fn record(&self, on: bool) -> Vec<Logged> {
        self.recording.store(on, Ordering::SeqCst);
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// A page as served: its body, `ETag` and `Link`.
struct Page {
    body: Bytes,
    etag: String,
    link: Option<String>,
}

struct Server {
    repos: HashMap<String, Repo>,
    pages: Mutex<HashMap<String, Arc<Page>>>,
    counter: Arc<Counter>,
}

impl Server {
    /// `/repos/acme/{svc}/compare/{base}...{head}?per_page=&page=`, as GitHub.
    fn page(&self, uri: &Uri, host: &str) -> Option<Page> {
        let rest = uri.path().strip_prefix("/repos/acme/")?;
        let (name, spec) = rest.split_once("/compare/")?;
        let repo = self.repos.get(name)?;
        let (base, head) = spec.split_once("...")?;
        let (b, h) = (repo.resolve(base)?, repo.resolve(head)?);
        let param = |key: &str| {
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = param("per_page").unwrap_or(250).clamp(1, 250);
        let page = param("page").unwrap_or(1).max(1);
        let ahead: Vec<usize> = (b + 1..=h).collect();
        let behind = b.saturating_sub(h);
        let status = match (ahead.len(), behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        };
        let listed: Vec<serde_json::Value> =
            ahead.iter().skip((page - 1) * per_page).take(per_page).map(|&i| repo.commit(i)).collect();
        let body = serde_json::json!({
            "url": "https://api.github.example/compare", "html_url": "https://github.example/compare",
            "permalink_url": "https://github.example/p", "diff_url": "https://github.example/d",
            "patch_url": "https://github.example/p",
            "base_commit": {"sha": repo.sha(b)}, "merge_base_commit": {"sha": repo.sha(b.min(h))},
            "status": status, "ahead_by": ahead.len(), "behind_by": behind, "total_commits": ahead.len(),
            "commits": listed, "files": [],
        })
        .to_string();
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        let link = (page * per_page < ahead.len()).then(|| {
            let (path, last) = (uri.path(), ahead.len().div_ceil(per_page));
            format!(
                "<http://{host}{path}?per_page={per_page}&page={}>; rel=\"next\", <http://{host}{path}?per_page={per_page}&page={last}>; rel=\"last\"",
                page + 1
            )
        });
        Some(Page { body: Bytes::from(body), etag: format!("W/\"{:016x}\"", hasher.finish()), link })
    }
}

async fn answer(State(server): State<Arc<Server>>, uri: Uri, headers: HeaderMap) -> Response {
    let counter = &server.counter;
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if counter.recording.load(Ordering::SeqCst) {
        counter.log.lock().unwrap().push((uri.to_string(), if_none_match.map(str::to_string)));
    }
    let key = uri.to_string();
    let cached = server.pages.lock().unwrap().get(&key).cloned();
    let page = match cached {
        Some(page) => page,
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            match server.page(&uri, host) {
                Some(page) => {
                    let page = Arc::new(page);
                    server.pages.lock().unwrap().insert(key, page.clone());
                    page
                }
                None => {
                    counter.other.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#;
                    return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body).into_response();
                }
            }
        }
    };
    if if_none_match == Some(page.etag.as_str()) {
        counter.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, page.etag.clone())]).into_response();
    }
    counter.ok.fetch_add(1, Ordering::SeqCst);
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8".to_string()), (header::ETAG, page.etag.clone())],
        page.body.clone(),
    )
        .into_response();
    if let Some(link) = &page.link {
        resp.headers_mut().insert(header::LINK, link.parse().unwrap());
    }
    resp
}

fn serve(rt: &tokio::runtime::Runtime, repos: &[Repo]) -> (u16, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let server = Arc::new(Server {
        repos: repos.iter().map(|r| (service_name(r.n), r.clone())).collect(),
        pages: Mutex::new(HashMap::new()),
        counter: counter.clone(),
    });
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let app = Router::new().fallback(answer).with_state(server);
    rt.spawn(async move { axum::serve(listener, app).await });
    (port, counter)
}

// ---------------------------------------------------------------------------
// Timing.

/// utime + stime of this process, in seconds.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// One side's runs.
struct Side {
    name: &'static str,
    wall: Vec<Duration>,
    cpu: f64,
}

impl Side {
    fn new(name: &'static str) -> Side {
        Side { name, wall: Vec::new(), cpu: 0.0 }
    }

    fn time<T>(&mut self, work: impl FnOnce() -> T) -> T {
        let cpu = cpu_secs();
        let start = Instant::now();
        let out = work();
        self.wall.push(start.elapsed());
        self.cpu += cpu_secs() - cpu;
        out
    }

    fn sorted(&self) -> Vec<f64> {
        let mut ms: Vec<f64> = self.wall.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        ms
    }

    fn median(&self) -> f64 {
        let s = self.sorted();
        s[s.len() / 2]
    }

    fn line(&self) -> String {
        let s = self.sorted();
        format!(
            "    {:<44} min {:>6.1} ms  median {:>6.1} ms  max {:>6.1} ms  cpu {:>6.1} ms/run",
            self.name,
            s[0],
            s[s.len() / 2],
            s[s.len() - 1],
            self.cpu * 1e3 / self.wall.len() as f64
        )
    }

    /// This side's median over `limit`'s, and the median of the runs'
    /// ratios (each pair ran back to back, under the same load).
    fn ratio(&self, limit: &Side) -> String {
        let mut paired: Vec<f64> =
            self.wall.iter().zip(&limit.wall).map(|(o, l)| o.as_secs_f64() / l.as_secs_f64()).collect();
        paired.sort_by(f64::total_cmp);
        format!("{:.2}× (median of runs), medians {:.2}×", paired[paired.len() / 2], self.median() / limit.median())
    }
}

/// Replay recorded requests with plain reqwest: the pages of one compare
/// (one path) one after another, as the client reads them, at most
/// `CONCURRENCY` compares at once; each body read. Returns the statuses.
async fn replay(client: &reqwest::Client, port: u16, log: &[Logged], etags: bool, parse: bool) -> Counts {
    let mut groups: Vec<(&str, Vec<&Logged>)> = Vec::new();
    for logged in log {
        let path = logged.0.split('?').next().unwrap_or(&logged.0);
        match groups.iter_mut().find(|(p, _)| *p == path) {
            Some((_, pages)) => pages.push(logged),
            None => groups.push((path, vec![logged])),
        }
    }
    futures::stream::iter(groups)
        .map(|(_, pages)| async move {
            let mut counts = Counts::default();
            for (uri, etag) in pages {
                let mut request = client.get(format!("http://127.0.0.1:{port}{uri}"));
                if let Some(etag) = etag.as_deref().filter(|_| etags) {
                    request = request.header(header::IF_NONE_MATCH, etag);
                }
                let resp = request.send().await.expect("plain GET");
                let status = resp.status();
                let body = resp.bytes().await.expect("plain body");
                if parse && status.is_success() {
                    let page: serde_json::Value = serde_json::from_slice(&body).expect("a JSON page");
                    assert!(page["commits"].is_array());
                }
                match status.as_u16() {
                    200 => counts.ok += 1,
                    304 => counts.not_modified += 1,
                    _ => counts.other += 1,
                }
            }
            counts
        })
        .buffer_unordered(CONCURRENCY)
        .fold(Counts::default(), |a, c| async move {
            Counts { ok: a.ok + c.ok, not_modified: a.not_modified + c.not_modified, other: a.other + c.other }
        })
        .await
}

/// Ask and answer until nothing is left to ask; returns (asks, failed answers).
fn answer_everything(
    rt: &tokio::runtime::Runtime,
    engine: &mut Engine,
    client: &flightdeck::changes::ChangesClient,
) -> (usize, usize) {
    let (mut asked, mut failed) = (0, 0);
    loop {
        let asks = engine.asks();
        if asks.is_empty() {
            return (asked, failed);
        }
        asked += asks.len();
        for (ask, answer) in rt.block_on(flightdeck::changes::answer_all(client, asks, CONCURRENCY)) {
            failed += usize::from(matches!(answer, Answer::Compare(Err(_)) | Answer::Mainline(Err(_))));
            engine.take_answer(ask, answer);
        }
    }
}

/// The view is whole: every touched service's release range answered with
/// its commits, and each prod cell shows what it gains.
fn check_view(engine: &mut Engine, repos: &[Repo]) {
    let ranges = engine.release_ranges();
    let touched: Vec<&Repo> = repos.iter().filter(|r| r.touched()).collect();
    assert_eq!(ranges.len(), touched.len(), "one release range per touched service");
    for range in &ranges {
        let repo = &repos[range.service];
        match range.changes {
            Some(Ok(c)) => {
                assert_eq!(c.total_commits as usize, repo.release_commits(), "{}", repo.n);
                assert_eq!(c.commits.len(), repo.release_commits(), "every page read for {}", repo.n);
            }
            other => panic!("service {} not answered: {other:?}", repo.n),
        }
    }
    let prod = engine.fleet.environments.len() - 1;
    let scope = flightdeck::engine::Scope::all(&engine.fleet);
    let eval = engine.evaluate(jiff::Timestamp::now(), &scope);
    for repo in &touched {
        assert_eq!(eval.incoming(CellKey { service: repo.n, env: prod }), Some(repo.release_commits()));
    }
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let services = args.first().copied().unwrap_or(200);
    let touched = args.get(1).copied().unwrap_or(60).min(services);
    let envs = args.get(2).copied().unwrap_or(4).max(2);
    let runs = args.get(3).copied().unwrap_or(21).max(1);

    // The release's services are spread over the fleet. Most bring a
    // handful to a few dozen commits; one brings more than one page (100)
    // of them, one more than two.
    let mut commits = vec![0; services];
    for k in 0..touched {
        commits[k * services / touched] = match k {
            0 => 260,
            1 => 130,
            _ => 2 + (k * 13) % 39,
        };
    }
    let repos: Vec<Repo> = (0..services).map(|n| Repo::new(n, commits[n])).collect();
    let release_commits: usize = repos.iter().map(Repo::release_commits).sum();

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (port, counter) = serve(&server_rt, &repos);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let config = flightdeck::setup::from_toml_str(&config(port, &repos, envs), "bench").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    let changes = config.changes.clone().expect("[changes]");
    let new_engine = || Engine::for_config(&config, &active, None);
    let new_client = || {
        let ctx = rt.block_on(async { flightdeck::sources::HttpContext::new() }).unwrap();
        flightdeck::changes::ChangesClient::new(&changes, &ctx).unwrap()
    };
    let feed = |engine: &mut Engine| {
        for update in readings(engine, &repos) {
            engine.apply(update);
        }
    };

    println!(
        "changes: {services} services × {envs} environments, a release touching {touched} ({release_commits} commits), \
         loopback GitHub compare, {runs} runs each"
    );

    // Warm-up: every page built once on the server; the requests recorded.
    let mut engine = new_engine();
    feed(&mut engine);
    let client = new_client();
    counter.record(true);
    let (asks, failed) = answer_everything(&rt, &mut engine, &client);
    let first_log = counter.record(false);
    assert_eq!(failed, 0, "every ask answered");
    check_view(&mut engine, &repos);
    let requests = client.requests();
    let seen = counter.counts();
    assert_eq!(
        (requests.sent, requests.not_modified),
        (seen.sent(), seen.not_modified),
        "the client counts what the server saw"
    );
    assert_eq!(seen.other, 0, "no 404");

    // (a) The first full view, through a fresh engine, client and connection pool each run.
    let mut ours = Side::new("flightdeck Engine::asks + answer_all (8)");
    let mut parsed = Side::new("  plain reqwest, the same GETs + JSON parse");
    let mut plain = Side::new("plain reqwest, the same GETs (the limit)");
    let mut first_counts = Vec::new();
    for _ in 0..runs {
        let mut engine = new_engine();
        let client = new_client();
        let before = counter.counts();
        let (asked, failed) = ours.time(|| {
            feed(&mut engine);
            answer_everything(&rt, &mut engine, &client)
        });
        let seen = counter.counts().since(before);
        assert_eq!((asked, failed), (asks, 0));
        assert_eq!(client.requests().sent, seen.sent());
        first_counts.push(seen);
        let reqwest_client = reqwest::Client::new();
        let replayed = parsed.time(|| rt.block_on(replay(&reqwest_client, port, &first_log, false, true)));
        assert_eq!(replayed.sent(), seen.sent(), "the same GETs");
        let reqwest_client = reqwest::Client::new();
        let replayed = plain.time(|| rt.block_on(replay(&reqwest_client, port, &first_log, false, false)));
        assert_eq!(replayed.sent(), seen.sent(), "the same GETs");
    }
    let first = first_counts[0];
    assert!(first_counts.iter().all(|c| *c == first), "every run sent the same requests: {first_counts:?}");
    println!(
        "  (a) first full changes view: {asks} asks ({touched} release ranges, {} mainline checks) → {} requests: \
         {} counted (200), {} not modified (304)",
        asks - touched,
        first.sent(),
        first.ok,
        first.not_modified
    );
    println!("{}", ours.line());
    println!("{}", parsed.line());
    println!("{}", plain.line());
    println!("    ratio to the limit: {}", ours.ratio(&plain));

    // (b) A refresh where nothing changed.
    println!("  (b) refresh, nothing changed:");
    // Every poll re-reads the versions: the same readings, nothing new to ask.
    let mut reread = Side::new("");
    for _ in 0..runs {
        let before = (counter.counts(), client.requests());
        let asked = reread.time(|| {
            feed(&mut engine);
            engine.asks()
        });
        assert!(asked.is_empty(), "unchanged versions ask nothing: {asked:?}");
        assert_eq!((counter.counts(), client.requests()), before, "and send nothing");
    }
    println!(
        "    versions re-read unchanged ({} readings → asks()): 0 asks, 0 requests (first view: {asks} asks, {} requests) · median {:.2} ms",
        services * envs,
        first.sent(),
        reread.median()
    );

    // A forced re-fetch of every range: a fresh engine, the same client (its cache revalidates).
    let mut refetch = Side::new("flightdeck, fresh engine, same client");
    let mut app_client = Side::new("  flightdeck's HTTP client, the same GETs");
    let mut conditional = Side::new("plain reqwest, the same conditional GETs");
    let mut unconditional = Side::new("plain reqwest, the same GETs without ETags");
    let mut refetch_counts = Vec::new();
    let (mut conditional_counts, mut unconditional_counts) = (Counts::default(), Counts::default());
    let mut conditional_log = Vec::new();
    // The client's pool is warm by now: so are the plain clients' (after one untimed round).
    let (conditional_client, unconditional_client) = (reqwest::Client::new(), reqwest::Client::new());
    let app_http = rt.block_on(async { flightdeck::sources::HttpContext::new() }).unwrap().client;
    for run in 0..runs {
        let mut fresh = new_engine();
        feed(&mut fresh);
        let before = (counter.counts(), client.requests());
        counter.record(run == 0);
        let (asked, failed) = refetch.time(|| answer_everything(&rt, &mut fresh, &client));
        let log = counter.record(false);
        let seen = counter.counts().since(before.0);
        let said = client.requests();
        assert_eq!((asked, failed), (asks, 0));
        assert_eq!(
            (said.sent - before.1.sent, said.not_modified - before.1.not_modified),
            (seen.sent(), seen.not_modified),
            "the client counts what the server saw"
        );
        check_view(&mut fresh, &repos);
        refetch_counts.push(seen);
        if run == 0 {
            conditional_log = log;
            rt.block_on(replay(&conditional_client, port, &conditional_log, true, false));
            rt.block_on(replay(&app_http, port, &conditional_log, true, false));
            rt.block_on(replay(&unconditional_client, port, &first_log, false, false));
        }
        let through_app = app_client.time(|| rt.block_on(replay(&app_http, port, &conditional_log, true, false)));
        assert_eq!(through_app, seen, "the same conditional GETs, the same answers");
        conditional_counts =
            conditional.time(|| rt.block_on(replay(&conditional_client, port, &conditional_log, true, false)));
        unconditional_counts =
            unconditional.time(|| rt.block_on(replay(&unconditional_client, port, &first_log, false, false)));
    }
    let again = refetch_counts[0];
    assert!(refetch_counts.iter().all(|c| *c == again), "every run sent the same requests: {refetch_counts:?}");
    assert_eq!(conditional_counts, again, "the same conditional GETs, the same answers");
    println!(
        "    forced re-fetch of every range ({asks} asks): {} requests: {} counted (200), {} not modified (304)",
        again.sent(),
        again.ok,
        again.not_modified
    );
    println!("{}", refetch.line());
    println!("{}", app_client.line());
    println!("{}", conditional.line());
    println!("{}   ({} counted)", unconditional.line(), unconditional_counts.ok);
    println!(
        "    ratio to the same conditional GETs: {} · to re-reading without ETags: {}",
        refetch.ratio(&conditional),
        refetch.ratio(&unconditional)
    );
}
