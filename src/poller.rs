//! The poller: one tokio task per source, each cell on its source's beat.
//!
//! A cell is fetched every `every`, on its source's beat: the cells that
//! read well are due together, at the same instants `every` apart (not each
//! `every` after its own last answer, which would scatter them over the
//! interval as answers come back at different times, one wake-up per cell
//! instead of one per sweep). `every` is from request to request: an answer
//! that comes late is asked again at the next beat, however soon that is.
//! After failures a cell waits longer, exponentially with jitter, up to
//! `max_backoff`, then rejoins the beat. The global bound on fetches in
//! flight is split evenly between sources, and each fetch has the source's
//! timeout, so a slow or hanging source only ever holds its own share and
//! its own cells: it never delays the others.
//! Results go to the app loop by value over a bounded channel.
//!
//! A fetch is only started when its source has room for it: cells waiting
//! for a slot stay in the schedule, not as thousands of parked requests
//! (a sweep of 6,000 cells keeps at most `share` requests alive per source).
//!
//! The poller runs on a thread of its own ([`PollerThread`]), one tokio
//! runtime with one thread: its tasks, the HTTP connections they open and
//! their timers. Requests, answers and the bookkeeping between them then
//! do not hop between threads, which on a two-worker runtime (an answer
//! read on one worker waking the task on the other) cost a third more CPU;
//! and the cockpit's drawing, on its own thread, never delays a request.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::PollerSettings;
use crate::model::{CellKey, Evidence, Reading, Role};
use crate::sources::{ActiveSource, FetchError, Fetched, HttpContext};

/// The longest a source may ask us to wait (`Retry-After`, a reset time).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// One fetch's outcome, sent by value to the app loop.
#[derive(Debug, Clone)]
pub struct SourceUpdate {
    pub source: Arc<str>,
    pub evidence: Evidence,
    pub role: Role,
    pub cell: CellKey,
    pub attempted_at: Timestamp,
    pub result: Result<Reading, FetchError>,
}

/// The runtime the poller's work runs on: one thread, timers and I/O.
/// The headless commands sweep on it too.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().thread_name("poller-blocking").enable_all().build()
}

/// The poller's thread: [`runtime`] run on a thread named `poller`, for
/// [`Poller`]s to spawn their tasks on. It lives until its last clone (a
/// running `Poller` holds one) is dropped. The connections the poller's
/// requests open live on it, and so does anything a source starts lazily
/// (a Kubernetes client), so one thread serves every `Poller` a cockpit
/// starts: a connection pool shared with other runtimes must not outlive
/// the runtime its connections run on.
#[derive(Clone, Debug)]
pub struct PollerThread {
    handle: tokio::runtime::Handle,
    /// Dropped with the last clone, which ends the thread.
    _stop: Arc<tokio::sync::oneshot::Sender<()>>,
}

impl PollerThread {
    /// Start the thread and its runtime.
    pub fn start() -> std::io::Result<PollerThread> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started, handle) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new().name("poller".into()).spawn(move || {
            // Built here, so that the runtime is never dropped on a thread
            // that is itself running async code (tokio forbids it).
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            };
            if started.send(Ok(rt.handle().clone())).is_err() {
                return;
            }
            // `Err` once the last `PollerThread` is dropped: time to stop.
            let _ = rt.block_on(stopped);
            // A blocking lookup still running (DNS) is not waited for.
            rt.shutdown_background();
        })?;
        let handle = handle
            .recv()
            .map_err(|_| std::io::Error::other("the poller thread ended before its runtime started"))??;
        Ok(PollerThread { handle, _stop: Arc::new(stop) })
    }
}

/// Handle to the running poller tasks; dropping it stops them.
pub struct Poller {
    refresh: watch::Sender<u64>,
    tasks: Vec<JoinHandle<()>>,
    /// Keeps the thread the tasks run on.
    _thread: PollerThread,
}

impl Poller {
    /// Start one task per source on `thread`. Updates go to `tx`.
    pub fn spawn(
        thread: &PollerThread,
        sources: Vec<ActiveSource>,
        settings: PollerSettings,
        ctx: HttpContext,
        tx: mpsc::Sender<SourceUpdate>,
    ) -> Poller {
        let (refresh, _) = watch::channel(0u64);
        let share = fair_share(settings.concurrency, with_cells(&sources));
        let tasks = sources
            .into_iter()
            .map(|source| {
                let task = SourceTask {
                    source,
                    ctx: ctx.clone(),
                    // Each source its own share of the bound: a slow or
                    // hanging source can only ever hold its own slots.
                    share,
                    tx: tx.clone(),
                    refresh: refresh.subscribe(),
                    max_backoff: settings.max_backoff,
                };
                thread.handle.spawn(task.run())
            })
            .collect();
        Poller { refresh, tasks, _thread: thread.clone() }
    }

    /// Fetch every cell now, failing ones included.
    pub fn refresh_now(&self) {
        self.refresh.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct SourceTask {
    source: ActiveSource,
    ctx: HttpContext,
    /// Most fetches of this source in flight at once.
    share: usize,
    tx: mpsc::Sender<SourceUpdate>,
    refresh: watch::Receiver<u64>,
    max_backoff: Duration,
}

impl SourceTask {
    async fn run(mut self) {
        let start = Instant::now();
        // The source's beat: `start`, then every `every`; "refresh now" starts it anew.
        let mut beat = start;
        let n = self.source.cells.len();
        // Cells not in flight, by when they are next due.
        let mut due: BinaryHeap<Reverse<(Instant, usize)>> = (0..n).map(|i| Reverse((start, i))).collect();
        let mut failures = vec![0u32; n];
        // When a source asked us to wait (Retry-After, a rate-limit reset),
        // not even "refresh now" asks earlier.
        let mut not_before: Vec<Option<Instant>> = vec![None; n];
        let (source, ctx, share) = (&self.source, &self.ctx, self.share);
        // Start what is due, earliest first, while there is room; the rest
        // waits in `due` until a fetch finishes.
        let start_due = |running: &mut FuturesUnordered<_>, due: &mut BinaryHeap<Reverse<(Instant, usize)>>| {
            let now = Instant::now();
            while running.len() < share {
                match due.peek() {
                    Some(Reverse((at, _))) if *at <= now => {}
                    _ => break,
                }
                let Some(Reverse((_, i))) = due.pop() else { break };
                running.push(fetch_cell(source, i, ctx));
            }
        };
        let mut running = FuturesUnordered::new();
        let mut answered = Vec::new();
        loop {
            start_due(&mut running, &mut due);
            // A timer only when a due cell could start: at capacity, the
            // next finished fetch wakes the loop (else it would spin).
            let next_due = (running.len() < self.share).then(|| due.peek().map(|Reverse((at, _))| *at)).flatten();
            tokio::select! {
                Some(first) = running.next(), if !running.is_empty() => {
                    // The requests waiting for the slots these answers freed go
                    // out before any answer's body is read: polling the fetches
                    // sends them, and hands over whatever else has come meanwhile
                    // (up to a gulp: when more than that are ready at once, the
                    // last requests may go out after this gulp is read).
                    answered.push(first);
                    while answered.len() < gulp(share) {
                        start_due(&mut running, &mut due);
                        match futures::poll!(running.next()) {
                            std::task::Poll::Ready(Some(more)) => answered.push(more),
                            _ => break,
                        }
                    }
                    for attempt in answered.drain(..) {
                        let (i, update) = finish(&self.source, attempt);
                        let asked = update.result.as_ref().err().and_then(FetchError::retry_after).map(|d| d.min(MAX_RETRY_AFTER));
                        not_before[i] = asked.and_then(|d| Instant::now().checked_add(d));
                        let now = Instant::now();
                        let next = match update.result {
                            Ok(_) => {
                                failures[i] = 0;
                                next_beat(beat, self.source.every, now)
                            }
                            Err(ref e) => {
                                failures[i] = failures[i].saturating_add(1);
                                let wait = backoff(self.source.every, failures[i], self.max_backoff, fastrand::f64());
                                // A source that says when to come back is obeyed, even past
                                // max_backoff, up to an hour: a header is not trusted further.
                                let wait = e.retry_after().map_or(wait, |asked| asked.min(MAX_RETRY_AFTER).max(wait));
                                now.checked_add(wait).unwrap_or(now + MAX_RETRY_AFTER)
                            }
                        };
                        due.push(Reverse((next, i)));
                        if self.tx.send(update).await.is_err() {
                            return; // the app loop is gone
                        }
                    }
                }
                () = sleep_until(next_due), if next_due.is_some() => {}
                changed = self.refresh.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = Instant::now();
                    beat = now;
                    let waiting: Vec<usize> = due.drain().map(|Reverse((_, i))| i).collect();
                    due.extend(waiting.into_iter().map(|i| Reverse((not_before[i].map_or(now, |t| t.max(now)), i))));
                }
            }
        }
    }
}

/// The first beat after `now` of a source whose beat started at `beat` and
/// comes every `every`: where a cell that has just read well is due next.
/// A fetch that took less than `every` lands on the beat after the one it
/// started on; a cell back from a backoff joins the next beat.
fn next_beat(beat: Instant, every: Duration, now: Instant) -> Instant {
    let every_ns = every.as_nanos().max(1);
    let beats = now.saturating_duration_since(beat).as_nanos() / every_ns + 1;
    u64::try_from(beats * every_ns)
        .ok()
        .and_then(|ns| beat.checked_add(Duration::from_nanos(ns)))
        .unwrap_or_else(|| now.checked_add(every).unwrap_or(now + MAX_RETRY_AFTER))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One fetch's outcome, its body (if it brought one) not yet read.
struct Attempt {
    i: usize,
    attempted_at: Timestamp,
    result: Result<Fetched, FetchError>,
}

/// Fetch one cell under the source's timeout. The caller keeps the bound:
/// it only starts a fetch when its source has a slot free.
async fn fetch_cell(source: &ActiveSource, i: usize, ctx: &HttpContext) -> Attempt {
    fetch_cell_within(source, i, ctx, source.timeout).await
}

async fn fetch_cell_within(source: &ActiveSource, i: usize, ctx: &HttpContext, timeout: Duration) -> Attempt {
    let future = source.source.fetch(ctx, &source.cells[i]);
    let attempted_at = Timestamp::now();
    let result = match tokio::time::timeout(timeout, future).await {
        Ok(Err(FetchError::Timeout(_))) | Err(_) => Err(FetchError::Timeout(timeout)),
        Ok(result) => result,
    };
    Attempt { i, attempted_at, result }
}

/// An attempt as the update the app loop gets: its body read by its
/// source, then no token of any source in it (whatever a server echoed
/// back) and no control sequence in an error's text (a server's words, a
/// config string) on its way to the screen or the log.
fn finish(source: &ActiveSource, attempt: Attempt) -> (usize, SourceUpdate) {
    let Attempt { i, attempted_at, result } = attempt;
    let cell = &source.cells[i];
    let result = cleaned(source, result.and_then(|fetched| fetched.read_with(&*source.source)));
    if let Err(e) = &result {
        tracing::debug!(source = %source.name, service = %cell.service, env = %cell.env, error = %e, "fetch failed");
    }
    let update = SourceUpdate {
        source: source.name.clone(),
        evidence: source.evidence,
        role: source.role,
        cell: cell.key,
        attempted_at,
        result,
    };
    (i, update)
}

fn cleaned(source: &ActiveSource, result: Result<Reading, FetchError>) -> Result<Reading, FetchError> {
    source.secrets.scrub_result(result).map_err(|e| e.map_text(|text| crate::sanitize::clean(&text)))
}

/// Fetches each source may have in flight: the global bound split evenly
/// over the sources that have cells to read, at least one each (so the
/// total stays within the bound unless there are more sources than the bound).
pub(crate) fn fair_share(concurrency: usize, sources: usize) -> usize {
    (concurrency / sources.max(1)).max(1)
}

/// Sources with cells to read: one with none (its services all filtered
/// out) takes no share of the bound.
fn with_cells(sources: &[ActiveSource]) -> usize {
    sources.iter().filter(|s| !s.cells.is_empty()).count()
}

/// Wait before retrying a cell after `failures` consecutive failures:
/// `every × 2^(failures-1)`, capped, with ±20% jitter (`unit` in 0..1).
pub fn backoff(every: Duration, failures: u32, max: Duration, unit: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = every.saturating_mul(1u32 << exp).min(max.max(every));
    base.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
}

/// How a one-shot command (`check`, `report`) retries a cell whose fetch
/// failed for a reason that may pass ([`FetchError::is_transient`]): up to
/// `retries` more times, waiting `first_wait`, then twice that, … (±20%),
/// or the short `Retry-After` a server asked for, and only while the retry
/// can start and finish before `deadline` (counted from the sweep's start;
/// a retry's timeout is cut to the time left). Then the last error stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub retries: u32,
    pub deadline: Duration,
    pub first_wait: Duration,
}

impl Retry {
    /// Every cell is fetched once, as the cockpit's schedule does.
    pub(crate) const NONE: Retry = Retry { retries: 0, deadline: Duration::MAX, first_wait: Duration::ZERO };

    pub const fn new(retries: u32, deadline: Duration) -> Retry {
        Retry { retries, deadline, first_wait: Duration::from_millis(250) }
    }

    /// The wait before retry number `attempt` (1-based), `unit` in 0..1 for jitter.
    fn wait(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.first_wait.saturating_mul(1u32 << attempt.saturating_sub(1).min(8));
        base.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
    }
}

/// Shortest time worth a retry: less than this left before the deadline
/// and the last error stands.
const MIN_RETRY_WINDOW: Duration = Duration::from_millis(100);

/// Fetch a cell, retrying transient failures as `retry` says. Only a
/// fetch fails transiently (a body that does not decode stays wrong), so
/// the body is read after, by the caller.
async fn fetch_cell_retrying(
    source: &ActiveSource,
    i: usize,
    ctx: &HttpContext,
    retry: Retry,
    until: Option<Instant>,
) -> Attempt {
    let mut done = fetch_cell(source, i, ctx).await;
    let mut attempt = 0;
    loop {
        let Err(e) = &done.result else { return done };
        if attempt >= retry.retries || !e.is_transient() {
            return done;
        }
        attempt += 1;
        let wait = e.retry_after().unwrap_or_else(|| retry.wait(attempt, fastrand::f64()));
        let start = Instant::now() + wait;
        let left = until.map_or(source.timeout, |until| until.saturating_duration_since(start));
        if left < MIN_RETRY_WINDOW {
            return done;
        }
        // As the update would say it: no token, no control sequence.
        if let Err(said) = cleaned(source, Err(e.clone())) {
            tracing::debug!(source = %source.name, service = %source.cells[i].service, env = %source.cells[i].env,
                attempt, wait_ms = wait.as_millis() as u64, error = %said, "retrying a transient failure");
        }
        tokio::time::sleep(wait).await;
        done = fetch_cell_within(source, i, ctx, source.timeout.min(left)).await;
    }
}

/// Fetch every cell of every source once (for the headless commands),
/// calling `progress(done, total)` as results come in.
pub async fn sweep_once(
    sources: &[ActiveSource],
    settings: PollerSettings,
    ctx: &HttpContext,
    progress: impl FnMut(usize, usize),
) -> Vec<SourceUpdate> {
    sweep_retrying(sources, settings, ctx, Retry::NONE, progress).await
}

/// As [`sweep_once`], retrying transient failures as `retry` says.
pub async fn sweep_retrying(
    sources: &[ActiveSource],
    settings: PollerSettings,
    ctx: &HttpContext,
    retry: Retry,
    mut progress: impl FnMut(usize, usize),
) -> Vec<SourceUpdate> {
    let until = Instant::now().checked_add(retry.deadline);
    let share = fair_share(settings.concurrency, with_cells(sources));
    let total: usize = sources.iter().map(|s| s.cells.len()).sum();
    // Each source its own share, in flight at once, all in one set; a
    // fetch (and its request) is only made when a slot of its source is
    // free. Answers are taken in gulps: each one taken starts the next
    // fetch of its source, the set is polled again (which sends those
    // requests) and whatever else has come meanwhile is taken too; the
    // bodies are read after (the request started for a gulp's last answer
    // goes out once they are).
    let mut waiting: Vec<std::ops::Range<usize>> = sources.iter().map(|s| 0..s.cells.len()).collect();
    let mut running = FuturesUnordered::new();
    let mut start_next = |s: usize, running: &mut FuturesUnordered<_>| {
        if let Some(i) = waiting[s].next() {
            running.push(fetch_cell_retrying(&sources[s], i, ctx, retry, until).map(move |attempt| (s, attempt)));
        }
    };
    for s in 0..sources.len() {
        for _ in 0..share {
            start_next(s, &mut running);
        }
    }
    let gulp = gulp(settings.concurrency);
    let mut answered = Vec::with_capacity(gulp);
    let mut updates = Vec::with_capacity(total);
    while let Some(first) = running.next().await {
        start_next(first.0, &mut running);
        answered.push(first);
        while answered.len() < gulp {
            match futures::poll!(running.next()) {
                std::task::Poll::Ready(Some(more)) => {
                    start_next(more.0, &mut running);
                    answered.push(more);
                }
                _ => break,
            }
        }
        for (s, attempt) in answered.drain(..) {
            updates.push(finish(&sources[s], attempt).1);
            progress(updates.len(), total);
        }
    }
    updates
}

/// Most answers read in one go: enough that a burst of answers is read
/// after its requests went out, few enough that progress keeps moving.
const GULP: usize = 64;

/// Answers read in one go with `in_flight` fetches at once: at most twice
/// that (and [`GULP`]), so the bodies waiting to be read (up to
/// [`MAX_BODY`](crate::sources::fetch::MAX_BODY) each) stay within a small
/// multiple of what is in flight anyway.
fn gulp(in_flight: usize) -> usize {
    in_flight.saturating_mul(2).clamp(1, GULP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        let every = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        assert_eq!(backoff(every, 1, max, 0.5), Duration::from_secs(10));
        assert_eq!(backoff(every, 2, max, 0.5), Duration::from_secs(20));
        assert_eq!(backoff(every, 3, max, 0.5), Duration::from_secs(40));
        assert_eq!(backoff(every, 10, max, 0.5), max);
        assert_eq!(backoff(every, 1000, max, 0.5), max);
    }

    #[test]
    fn backoff_jitter_stays_within_twenty_percent() {
        let every = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        assert_eq!(backoff(every, 2, max, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(every, 2, max, 1.0), Duration::from_secs(24));
    }

    #[test]
    fn a_gulp_is_twice_what_is_in_flight_at_most_sixty_four() {
        assert_eq!(gulp(0), 1);
        assert_eq!(gulp(1), 2);
        assert_eq!(gulp(16), 32);
        assert_eq!(gulp(64), GULP);
        assert_eq!(gulp(usize::MAX), GULP);
    }

    #[test]
    fn fair_share_splits_the_bound() {
        assert_eq!(fair_share(16, 1), 16);
        assert_eq!(fair_share(16, 3), 5);
        assert_eq!(fair_share(2, 5), 1);
        assert_eq!(fair_share(16, 0), 16);
    }

    /// Requests in flight now, and the most ever at once.
    type InFlight = Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>;

    /// Run `work` counted as in flight in `counts`.
    async fn counted<T>(counts: &InFlight, work: impl std::future::Future<Output = T>) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        let in_flight = counts.0.fetch_add(1, SeqCst) + 1;
        counts.1.fetch_max(in_flight, SeqCst);
        let done = work.await;
        counts.0.fetch_sub(1, SeqCst);
        done
    }

    /// A loopback server that answers after `delay` and records the most
    /// requests it ever had in flight at once.
    async fn counting_server(delay: Duration) -> (std::net::SocketAddr, InFlight) {
        use axum::extract::State;
        let counts = InFlight::default();
        let handler = move |State(counts): State<InFlight>| async move {
            counted(&counts, tokio::time::sleep(delay)).await;
            "1.0.0"
        };
        let app = axum::Router::new().route("/{env}/{service}", axum::routing::get(handler)).with_state(counts.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, counts)
    }

    fn fleet_config(addr: std::net::SocketAddr, services: usize, concurrency: usize) -> crate::config::Config {
        let mut text = String::from("[[environments]]\nname = \"qa\"\n[[environments]]\nname = \"prod\"\n");
        for i in 0..services {
            text.push_str(&format!("[[services]]\nname = \"s{i}\"\n"));
        }
        text.push_str(&format!(
            "[poller]\nconcurrency = {concurrency}\n[[sources]]\nname = \"e\"\nkind = \"http\"\nurl = \"http://{addr}/{{env}}/{{service}}\"\nevery = \"100ms\"\n"
        ));
        crate::setup::from_toml_str(&text, "test").unwrap()
    }

    /// A source that hands back bodies and writes down, in order, when each
    /// cell's request went out and when its body was read.
    struct Diary(Arc<std::sync::Mutex<Vec<String>>>);

    impl crate::sources::Source for Diary {
        fn default_evidence(&self) -> Evidence {
            Evidence::Running
        }

        fn fetch(
            &self,
            _: &HttpContext,
            cell: &crate::sources::CellTarget,
        ) -> futures::future::BoxFuture<'static, Result<Fetched, FetchError>> {
            let (diary, service) = (self.0.clone(), cell.service.clone());
            Box::pin(async move {
                diary.lock().unwrap().push(format!("sent {service}"));
                // The answer comes later, as a server's would.
                tokio::task::yield_now().await;
                Ok(Fetched::Body(crate::sources::fetch::Response {
                    status: reqwest::StatusCode::OK,
                    content_type: Some("text/plain".into()),
                    headers: reqwest::header::HeaderMap::new(),
                    body: service.as_bytes().to_vec(),
                }))
            })
        }

        fn read(&self, body: crate::sources::fetch::Response) -> Result<Reading, FetchError> {
            let service = String::from_utf8_lossy(&body.body).into_owned();
            self.0.lock().unwrap().push(format!("read {service}"));
            Ok(Reading::version(format!("1.0.0-{service}")))
        }
    }

    /// `n` cells in prod, of services named `{prefix}0`, `{prefix}1`, …
    fn prod_cells(prefix: &str, n: usize) -> Vec<crate::sources::CellTarget> {
        (0..n)
            .map(|n| crate::sources::CellTarget {
                key: CellKey { service: n, env: 0 },
                service: Arc::from(format!("{prefix}{n}")),
                env: Arc::from("prod"),
            })
            .collect()
    }

    /// Three cells of one `Diary` source, one fetch at a time.
    fn diary_source(diary: &Arc<std::sync::Mutex<Vec<String>>>) -> ActiveSource {
        let cells = prod_cells("s", 3);
        ActiveSource {
            name: Arc::from("diary"),
            evidence: Evidence::Running,
            role: Role::Deployment,
            every: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
            cells,
            source: Arc::new(Diary(diary.clone())),
            secrets: crate::sources::auth::Secrets::default(),
        }
    }

    /// Each cell's body is read only after the next cell's request went out.
    fn next_request_before_the_read(diary: &[String]) {
        let at =
            |what: &str| diary.iter().position(|e| e == what).unwrap_or_else(|| panic!("no `{what}` in {diary:?}"));
        for n in 0..2 {
            assert!(at(&format!("sent s{}", n + 1)) < at(&format!("read s{n}")), "{diary:?}");
        }
        assert_eq!(diary.len(), 6, "each cell sent and read once: {diary:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_poller_sends_the_next_request_before_it_reads_a_body() {
        let diary = Arc::default();
        let (tx, mut rx) = mpsc::channel(16);
        let settings = PollerSettings { concurrency: 1, max_backoff: Duration::from_secs(60) };
        let thread = PollerThread::start().unwrap();
        let _poller = Poller::spawn(&thread, vec![diary_source(&diary)], settings, HttpContext::new().unwrap(), tx);
        let mut versions = Vec::new();
        for _ in 0..3 {
            let update = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
            versions.push(update.result.unwrap().version.unwrap());
        }
        assert_eq!(versions, ["1.0.0-s0", "1.0.0-s1", "1.0.0-s2"]);
        next_request_before_the_read(&diary.lock().unwrap());
    }

    /// A source that answers with the name of the thread its fetch ran on.
    struct WhereAmI;

    impl crate::sources::Source for WhereAmI {
        fn default_evidence(&self) -> Evidence {
            Evidence::Running
        }

        fn fetch(
            &self,
            _: &HttpContext,
            _: &crate::sources::CellTarget,
        ) -> futures::future::BoxFuture<'static, Result<Fetched, FetchError>> {
            Box::pin(async {
                let name = std::thread::current().name().unwrap_or("unnamed").to_string();
                Ok(Fetched::Reading(Reading::version(name)))
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_poller_runs_on_its_own_thread() {
        let mut source = diary_source(&Arc::default());
        source.source = Arc::new(WhereAmI);
        let (tx, mut rx) = mpsc::channel(16);
        let settings = PollerSettings { concurrency: 4, max_backoff: Duration::from_secs(60) };
        let thread = PollerThread::start().unwrap();
        let _poller = Poller::spawn(&thread, vec![source], settings, HttpContext::new().unwrap(), tx);
        for _ in 0..3 {
            let update = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
            assert_eq!(update.result.unwrap().version.as_deref(), Some("poller"), "not on this test's threads");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_poller_started_again_on_the_same_thread_keeps_the_connections_it_had() {
        // As team mode does when a seat stops leading and leads again: the
        // connections the first poller opened live on the thread, not the
        // poller, so the next one reads through them (no new handshakes).
        // Were each poller's runtime its own, they would end with it (six
        // connections here), and a pool shared with a runtime that is gone
        // can fail a request ("runtime dropped the dispatch task").
        use axum::serve::ListenerExt;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        let app = axum::Router::new().route("/{env}/{service}", axum::routing::get(|| async { "1.0.0" }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = listener.tap_io(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut config = fleet_config(addr, 3, 2);
        // One read of each cell per poller: none in flight when it is dropped.
        config.sources[0].every = Duration::from_secs(3600);
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let thread = PollerThread::start().unwrap();
        let ctx = HttpContext::new().unwrap();
        for round in 0..3 {
            let (tx, mut rx) = mpsc::channel(64);
            let poller = Poller::spawn(&thread, active.clone(), config.poller, ctx.clone(), tx);
            for _ in 0..6 {
                let update = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
                assert!(update.result.is_ok(), "round {round}: {:?}", update.result);
            }
            drop(poller);
        }
        let accepted = accepted.load(Ordering::SeqCst);
        assert!(accepted <= 2, "three pollers, two fetches at a time: {accepted} connections opened");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sweep_sends_the_next_request_before_it_reads_a_body() {
        let diary = Arc::default();
        let settings = PollerSettings { concurrency: 1, max_backoff: Duration::from_secs(60) };
        let updates = sweep_once(&[diary_source(&diary)], settings, &HttpContext::new().unwrap(), |_, _| {}).await;
        let versions: Vec<_> = updates.into_iter().map(|u| u.result.unwrap().version.unwrap()).collect();
        assert_eq!(versions, ["1.0.0-s0", "1.0.0-s1", "1.0.0-s2"]);
        next_request_before_the_read(&diary.lock().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sweep_keeps_the_bound_and_reads_every_cell() {
        let (addr, counts) = counting_server(Duration::from_millis(20)).await;
        let config = fleet_config(addr, 20, 3);
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let ctx = HttpContext::new().unwrap();
        let mut seen = Vec::new();
        let updates = sweep_once(&active, config.poller, &ctx, |done, total| seen.push((done, total))).await;
        assert_eq!(updates.len(), 40);
        assert!(updates.iter().all(|u| u.result.is_ok()));
        assert_eq!(seen.last(), Some(&(40, 40)));
        assert_eq!(
            counts.1.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "at most the bound in flight, and all of it used"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sweep_of_several_sources_keeps_each_ones_share_and_reads_each_cell_once() {
        // Two sources on servers of their own, one slow and one quick, and
        // between them one with no cells (it takes no share): each keeps
        // its own share in flight (a slot freed by one must not start a
        // fetch of another), and every cell is read once, under its own
        // source's name.
        use std::collections::BTreeSet;
        let (slow_addr, slow) = counting_server(Duration::from_millis(30)).await;
        let (quick_addr, quick) = counting_server(Duration::from_millis(15)).await;
        let named = |config: crate::config::Config, name: &str| {
            let mut active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
            let mut source = active.remove(0);
            source.name = Arc::from(name);
            source
        };
        let a = named(fleet_config(slow_addr, 10, 6), "slow");
        let b = named(fleet_config(quick_addr, 4, 6), "quick");
        let mut empty = a.clone();
        empty.name = Arc::from("empty");
        empty.cells.clear();
        let expected: BTreeSet<(String, CellKey)> =
            [&a, &b].iter().flat_map(|s| s.cells.iter().map(|c| (s.name.to_string(), c.key))).collect();
        let sources = [a, empty, b];
        // Six at once over the two sources with cells: three each.
        let settings = PollerSettings { concurrency: 6, max_backoff: Duration::from_secs(60) };
        let mut seen = Vec::new();
        let updates =
            sweep_once(&sources, settings, &HttpContext::new().unwrap(), |done, total| seen.push((done, total))).await;
        assert!(updates.iter().all(|u| u.result.is_ok()), "{updates:?}");
        let read: Vec<(String, CellKey)> = updates.iter().map(|u| (u.source.to_string(), u.cell)).collect();
        assert_eq!(read.len(), 28, "each cell once: {read:?}");
        assert_eq!(read.iter().cloned().collect::<BTreeSet<_>>(), expected);
        assert_eq!(seen, (1..=28).map(|done| (done, 28)).collect::<Vec<_>>());
        use std::sync::atomic::Ordering::SeqCst;
        assert_eq!(slow.1.load(SeqCst), 3, "the slow source: its share in flight, no more");
        assert_eq!(quick.1.load(SeqCst), 3, "the quick source: its share in flight, no more");
    }

    /// A source whose answers all come at once, one turn after their
    /// requests, counting how many of its fetches are in flight.
    struct Tally(InFlight);

    impl crate::sources::Source for Tally {
        fn default_evidence(&self) -> Evidence {
            Evidence::Running
        }

        fn fetch(
            &self,
            _: &HttpContext,
            cell: &crate::sources::CellTarget,
        ) -> futures::future::BoxFuture<'static, Result<Fetched, FetchError>> {
            let (counts, service) = (self.0.clone(), cell.service.clone());
            Box::pin(async move {
                counted(&counts, tokio::task::yield_now()).await;
                Ok(Fetched::Reading(Reading::version(service.to_string())))
            })
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn answers_taken_in_gulps_start_the_next_fetch_of_their_own_source() {
        // Every answer of a turn is ready together, so they are taken in
        // gulps; each one must start its own source's next fetch.
        let tallied = |name: &str, cells: usize| {
            let counts = InFlight::default();
            let mut source = diary_source(&Arc::default());
            source.name = Arc::from(name);
            source.source = Arc::new(Tally(counts.clone()));
            source.cells = prod_cells(name, cells);
            (source, counts)
        };
        let (a, a_counts) = tallied("a", 30);
        let (empty, _) = tallied("empty", 0);
        let (b, b_counts) = tallied("b", 7);
        let settings = PollerSettings { concurrency: 9, max_backoff: Duration::from_secs(60) };
        let updates = sweep_once(&[a, empty, b], settings, &HttpContext::new().unwrap(), |_, _| {}).await;
        let mut read: Vec<String> =
            updates.into_iter().map(|u| format!("{} {}", u.source, u.result.unwrap().version.unwrap())).collect();
        read.sort();
        let mut expected: Vec<String> =
            (0..30).map(|n| format!("a a{n}")).chain((0..7).map(|n| format!("b b{n}"))).collect();
        expected.sort();
        assert_eq!(read, expected, "each cell once, under its own source");
        use std::sync::atomic::Ordering::SeqCst;
        assert_eq!(a_counts.1.load(SeqCst), 4, "four each: nine over the two sources with cells");
        assert_eq!(b_counts.1.load(SeqCst), 4, "four each: nine over the two sources with cells");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_poller_keeps_the_bound_while_everything_is_due() {
        // 40 cells due every 100 ms, each fetch taking 20 ms, 4 at a time:
        // always more due than room.
        let (addr, counts) = counting_server(Duration::from_millis(20)).await;
        let config = fleet_config(addr, 20, 4);
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        let _poller =
            Poller::spawn(&PollerThread::start().unwrap(), active, config.poller, HttpContext::new().unwrap(), tx);
        let mut cells = std::collections::HashSet::new();
        let mut updates = 0;
        let deadline = Instant::now() + Duration::from_millis(800);
        while let Ok(Some(u)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            assert!(u.result.is_ok(), "{:?}", u.result);
            cells.insert(u.cell);
            updates += 1;
        }
        assert_eq!(cells.len(), 40, "every cell read");
        assert!(updates >= 80, "cells read again on schedule: {updates} updates");
        assert_eq!(counts.1.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[test]
    fn a_cell_that_read_well_is_due_on_the_next_beat() {
        let beat = Instant::now();
        let every = Duration::from_secs(10);
        let at = |ms: u64| beat + Duration::from_millis(ms);
        // Answered 0.3 s or 9.9 s into the beat: due on the next one.
        assert_eq!(next_beat(beat, every, at(300)), at(10_000));
        assert_eq!(next_beat(beat, every, at(9_900)), at(10_000));
        // Exactly on a beat: the one after.
        assert_eq!(next_beat(beat, every, at(10_000)), at(20_000));
        // Back from a backoff 37.2 s in: the beat at 40 s.
        assert_eq!(next_beat(beat, every, at(37_200)), at(40_000));
        // Before the beat started (a refresh moved it): its first beat after.
        assert_eq!(next_beat(at(5_000), every, at(4_000)), at(15_000));
        // However long the cockpit has run, no overflow.
        assert_eq!(next_beat(beat, Duration::from_millis(100), at(86_400_000 * 400 + 50)), at(86_400_000 * 400 + 100));
        // An `every` past what an instant can hold: the longest wait there is, no panic.
        let huge = Duration::from_secs(u64::MAX / 2);
        assert_eq!(next_beat(beat, huge, at(1)), at(1) + MAX_RETRY_AFTER);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cells_that_answer_at_different_speeds_are_read_again_together() {
        use axum::extract::{Path, State};
        // Service sN answers after N × 40 ms; the server notes when each request arrives.
        type Arrivals = Arc<std::sync::Mutex<Vec<(usize, Instant)>>>;
        let arrivals = Arrivals::default();
        let handler = |State(arrivals): State<Arrivals>, Path((_env, service)): Path<(String, String)>| async move {
            let n: usize = service.trim_start_matches('s').parse().unwrap();
            arrivals.lock().unwrap().push((n, Instant::now()));
            tokio::time::sleep(Duration::from_millis(40 * n as u64)).await;
            "1.0.0"
        };
        let app =
            axum::Router::new().route("/{env}/{service}", axum::routing::get(handler)).with_state(arrivals.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut config = fleet_config(addr, 4, 16);
        config.sources[0].every = Duration::from_millis(400);
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let (tx, mut rx) = mpsc::channel(64);
        let _poller =
            Poller::spawn(&PollerThread::start().unwrap(), active, config.poller, HttpContext::new().unwrap(), tx);
        // Two rounds of 8 cells: the first answers spread over 120 ms.
        for _ in 0..16 {
            let update = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
            assert!(update.result.is_ok(), "{:?}", update.result);
        }
        let arrivals = arrivals.lock().unwrap().clone();
        let second: Vec<Instant> = arrivals[8..16].iter().map(|(_, at)| *at).collect();
        let spread = *second.iter().max().unwrap() - *second.iter().min().unwrap();
        assert!(
            spread < Duration::from_millis(60),
            "the second round's requests arrive together, not as the first round's answers came back: {spread:?}"
        );
        let gap = *second.iter().min().unwrap() - arrivals[0].1;
        // The first round's requests also opened connections: a margin for that.
        assert!(gap >= Duration::from_millis(300), "a beat is `every` long: the second round came after {gap:?}");
    }

    #[test]
    fn backoff_never_below_every_when_max_is_small() {
        let every = Duration::from_secs(60);
        assert_eq!(backoff(every, 5, Duration::from_secs(10), 0.5), every);
    }
}
