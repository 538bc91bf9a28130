//! Team mode's one poll load: which seat polls, and how the others follow.
//!
//! - Every seat of a release competes for one session advisory lock (keyed
//!   by the release's name). The seat holding it *leads*: its poller runs,
//!   and every batch of answers is written to `flightdeck_cells` (the newest
//!   answer per source and cell) together with the observation changes it
//!   caused (`flightdeck_observations`), in one transaction on the very
//!   connection that holds the lock. A leader that loses that connection
//!   can write nothing more: its lock and its writes end together.
//! - The other seats *follow*: they poll no source (and need no token);
//!   they read the cells written since the last read (`rev`), woken by a
//!   NOTIFY and at the latest every [`FOLLOW_EVERY`], and apply them to
//!   their own engine, so every seat judges the same answers.
//! - A seat that can lead tries the lock every [`LEASE_EVERY`]: when the
//!   leader's session ends (quit, SIGKILL, lost network, a database
//!   restart), the server frees the lock and another seat leads within
//!   that time. The new leader's engine already holds the shared state, so
//!   the observation history goes on without a gap.
//! - The history (observations) is read once at start; afterwards each
//!   seat derives the same changes from the same cells.
//!
//! The seat runs as a task on the cockpit's runtime and talks to the loop
//! by channels: [`SeatNews`] out, [`LeaderBatch`] in.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener};
use sqlx::{Connection, PgConnection, Row};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ObservationEvent;
use super::team::DatabaseUrl;
use crate::engine::shipping::{Answer, Ask, StoredAnswer};
use crate::model::{CellKey, Evidence, FetchError, Reading, Role};
use crate::poller::SourceUpdate;

/// How often a seat that does not lead tries to take the lead, and a
/// leader checks that its session (and so its lock) is alive.
pub(crate) const LEASE_EVERY: Duration = Duration::from_secs(2);
/// How often a follower reads the cells when no NOTIFY woke it.
pub(crate) const FOLLOW_EVERY: Duration = Duration::from_millis(500);
/// How long a seat waits before connecting again (doubled after each
/// failure in a row, up to [`RECONNECT_AT_MOST`]).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);
const RECONNECT_AT_MOST: Duration = Duration::from_secs(30);
/// The longest a turn or a write may take: a half-open connection (the
/// server gone without a word) must not leave a seat "leading" for minutes.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most batches a leader writes in one transaction.
const BATCHES_PER_WRITE: usize = 64;

/// The NOTIFY channels: the release journal's (a trigger sends it) and
/// the cells' (the leader sends it with each write).
pub(crate) const JOURNAL_CHANNEL: &str = "flightdeck_release_events";
pub(crate) const CELLS_CHANNEL: &str = "flightdeck_cells";

/// What this seat is doing for the team, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatRole {
    /// Not connected yet.
    Connecting,
    /// This seat polls the sources for the team.
    Leading,
    /// Another seat polls; `None` while nobody holds the lead (a seat that
    /// can lead takes it within [`LEASE_EVERY`]).
    Following { leader: Option<String> },
    /// The team store cannot be reached (or refused a query): the last
    /// state stays on screen with its age; nothing new is read or written.
    Unreachable(String),
}

impl SeatRole {
    /// For the status bar: "leading", "following carol", "team store unreachable".
    pub fn label(&self) -> String {
        match self {
            SeatRole::Connecting => "connecting to the team store".into(),
            SeatRole::Leading => "leading".into(),
            SeatRole::Following { leader: Some(who) } => format!("following {who}"),
            SeatRole::Following { leader: None } => "following (no seat leads: waiting for one)".into(),
            SeatRole::Unreachable(_) => "team store unreachable".into(),
        }
    }
}

/// What the seat tells the loop.
#[derive(Debug)]
pub enum SeatNews {
    Role(SeatRole),
    /// The release's observation history, once, before any cell.
    History(Vec<ObservationEvent>),
    /// Answers the leader wrote (a follower applies them as its own).
    Cells(Vec<SourceUpdate>),
    /// Someone appended to the release journal: read it now.
    JournalHint,
    /// Compare answers the leader wrote (`[changes]`).
    Answers(Vec<(Ask, Answer)>),
}

/// What a leading loop hands the seat to write.
#[derive(Debug, Default)]
pub struct LeaderBatch {
    pub updates: Vec<SourceUpdate>,
    pub changes: Vec<ObservationEvent>,
    /// Compare answers (`[changes]`): what ships, for every seat.
    pub answers: Vec<(Ask, Answer)>,
}

/// The names behind the engine's indices, to write and read rows by name.
#[derive(Debug, Clone)]
pub struct Names {
    pub services: Vec<String>,
    pub environments: Vec<String>,
    pub sources: Vec<Arc<str>>,
}

impl Names {
    fn key(&self, service: &str, environment: &str) -> Option<CellKey> {
        let service = self.services.iter().position(|s| s == service)?;
        let env = self.environments.iter().position(|e| e == environment)?;
        Some(CellKey { service, env })
    }

    fn source(&self, name: &str) -> Option<Arc<str>> {
        self.sources.iter().find(|s| ***s == *name).cloned()
    }
}

/// One answer as a row's `state`.
#[derive(Debug, Serialize, Deserialize)]
struct CellState {
    evidence: Evidence,
    role: Role,
    attempted_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reading: Option<Reading>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<FetchError>,
}

impl CellState {
    fn of(update: &SourceUpdate) -> CellState {
        let (reading, error) = match &update.result {
            Ok(r) => (Some(r.clone()), None),
            Err(e) => (None, Some(e.clone())),
        };
        CellState { evidence: update.evidence, role: update.role, attempted_at: update.attempted_at, reading, error }
    }

    fn into_update(self, source: Arc<str>, cell: CellKey) -> SourceUpdate {
        let result = match (self.reading, self.error) {
            (Some(r), None) => Ok(r),
            (_, Some(e)) => Err(e),
            (None, None) => Err(FetchError::Other("the leader wrote an empty answer".into())),
        };
        SourceUpdate { source, evidence: self.evidence, role: self.role, cell, attempted_at: self.attempted_at, result }
    }
}

/// The two halves of the lock key: flightdeck's, and the release's.
fn lock_key(release: &str) -> (i32, i32) {
    // FNV-1a, kept positive: pg_locks shows the halves as oids.
    let mut h: u32 = 0x811c_9dc5;
    for b in release.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (0x666c_6463, (h & 0x7fff_ffff) as i32)
}

/// How a seat is set up.
#[derive(Debug, Clone)]
pub struct SeatSetup {
    pub url: DatabaseUrl,
    pub release: String,
    pub names: Names,
    /// Whether this seat may lead: it has every source's token (a seat
    /// without them follows only).
    pub can_lead: bool,
}

/// The loop's handle on its seat; dropping it ends the seat's tasks (and
/// with its connection, the lead).
pub struct Seat {
    pub news: mpsc::Receiver<SeatNews>,
    batches: mpsc::UnboundedSender<LeaderBatch>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Seat {
    /// Start the seat on the current runtime.
    pub fn spawn(setup: SeatSetup) -> Seat {
        let (news_tx, news) = mpsc::channel(256);
        let (batches, batches_rx) = mpsc::unbounded_channel();
        let (hint_tx, hint_rx) = mpsc::channel(8);
        let listen = tokio::spawn(listen(setup.url.clone(), setup.release.clone(), hint_tx, news_tx.clone()));
        let seat = tokio::spawn(run(setup, news_tx, batches_rx, hint_rx));
        Seat { news, batches, tasks: vec![seat, listen] }
    }

    /// Hand a leader's batch to be written; false when the seat is gone.
    pub fn write(&self, batch: LeaderBatch) -> bool {
        self.batches.send(batch).is_ok()
    }
}

/// Connection options; `name` tells the connections apart in
/// `pg_stat_activity` (`team status` counts the `flightdeck-seat` ones).
fn options(url: &DatabaseUrl, name: &str) -> Result<PgConnectOptions, String> {
    let options: PgConnectOptions = url.raw().parse().map_err(|e: sqlx::Error| url.scrub(&e.to_string()))?;
    Ok(options.application_name(name))
}

async fn connect(url: &DatabaseUrl) -> Result<PgConnection, String> {
    let options = options(url, "flightdeck-seat")?;
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(url.scrub(&e.to_string())),
        Err(_) => Err(format!("{}: no answer within 5 s", url.shown())),
    }
}

/// A query's failure, in words: an old schema says what to run.
fn explain(url: &DatabaseUrl, e: &sqlx::Error) -> String {
    if let sqlx::Error::Database(d) = e
        && d.code().as_deref() == Some("42P01")
    {
        return format!(
            "{}: the team schema is older than this flightdeck: run `flightdeck team init` with the owner role",
            url.shown()
        );
    }
    url.scrub(&e.to_string())
}

/// Forward NOTIFY hints: the journal's to the loop, the cells' to the seat.
/// The listener reconnects by itself; hints lost meanwhile are made up for
/// by the periodic reads (the tables are the truth).
async fn listen(url: DatabaseUrl, release: String, cells: mpsc::Sender<()>, news: mpsc::Sender<SeatNews>) {
    loop {
        let mut listener = match options(&url, "flightdeck-listen") {
            Ok(o) => match PgListener::connect_with(&sqlx::PgPool::connect_lazy_with(o)).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(error = %url.scrub(&e.to_string()), "team listener cannot connect");
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    continue;
                }
            },
            Err(_) => return,
        };
        if let Err(e) = listener.listen_all([JOURNAL_CHANNEL, CELLS_CHANNEL]).await {
            tracing::debug!(error = %url.scrub(&e.to_string()), "team listener cannot LISTEN");
            tokio::time::sleep(RECONNECT_AFTER).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) if n.payload() != release => {}
                Ok(n) if n.channel() == CELLS_CHANNEL => {
                    let _ = cells.try_send(());
                }
                Ok(_) => {
                    if news.send(SeatNews::JournalHint).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %url.scrub(&e.to_string()), "team listener lost its connection");
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    break;
                }
            }
        }
    }
}

/// The seat's state between turns.
struct SeatLoop {
    setup: SeatSetup,
    news: mpsc::Sender<SeatNews>,
    conn: Option<PgConnection>,
    role: Option<SeatRole>,
    /// The newest cell revision applied (a follower reads what is newer).
    last_rev: i64,
    /// The same for the compare answers.
    last_answer_rev: i64,
    history_sent: bool,
    next_lease: tokio::time::Instant,
    /// Failures in a row: the wait before connecting again grows with them.
    failures: u32,
}

impl SeatLoop {
    async fn tell(&mut self, role: SeatRole) -> bool {
        if self.role.as_ref() == Some(&role) {
            return true;
        }
        tracing::info!(role = %role.label(), "team seat");
        self.role = Some(role.clone());
        self.news.send(SeatNews::Role(role)).await.is_ok()
    }

    fn leading(&self) -> bool {
        self.role == Some(SeatRole::Leading)
    }

    /// The connection failed: drop it (and with it the lead), say why.
    async fn lost(&mut self, why: String) -> bool {
        tracing::warn!(error = %why, "team store");
        self.failures = self.failures.saturating_add(1);
        self.conn = None;
        self.last_rev = 0;
        self.last_answer_rev = 0;
        self.tell(SeatRole::Unreachable(why)).await
    }
}

async fn run(
    setup: SeatSetup,
    news: mpsc::Sender<SeatNews>,
    mut batches: mpsc::UnboundedReceiver<LeaderBatch>,
    mut hints: mpsc::Receiver<()>,
) {
    let mut seat = SeatLoop {
        setup,
        news,
        conn: None,
        role: None,
        last_rev: 0,
        last_answer_rev: 0,
        history_sent: false,
        next_lease: tokio::time::Instant::now(),
        failures: 0,
    };
    if !seat.tell(SeatRole::Connecting).await {
        return;
    }
    loop {
        if seat.conn.is_none() {
            if seat.failures > 0 {
                // After a failure (a refused connection, or a query the
                // store refused): wait, longer each time in a row. Batches
                // made meanwhile cannot be written by this seat: it leads no more.
                let backoff = RECONNECT_AFTER.saturating_mul(1 << seat.failures.min(5).saturating_sub(1));
                let wait = tokio::time::sleep(backoff.min(RECONNECT_AT_MOST));
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        () = &mut wait => break,
                        batch = batches.recv() => if batch.is_none() { return },
                    }
                }
            }
            match tokio::time::timeout(QUERY_TIMEOUT, connect(&seat.setup.url)).await {
                Ok(Ok(conn)) => {
                    seat.conn = Some(conn);
                    seat.next_lease = tokio::time::Instant::now();
                }
                Ok(Err(why)) => {
                    if !seat.lost(why).await {
                        return;
                    }
                    continue;
                }
                Err(_) => {
                    let why = format!("{}: no answer within {} s", seat.setup.url.shown(), QUERY_TIMEOUT.as_secs());
                    if !seat.lost(why).await {
                        return;
                    }
                    continue;
                }
            }
        }
        match tokio::time::timeout(QUERY_TIMEOUT, turn(&mut seat)).await {
            Ok(false) => return,
            Ok(true) if seat.conn.is_some() => seat.failures = 0,
            Ok(true) => {}
            Err(_) => {
                let why = format!("{}: no answer within {} s", seat.setup.url.shown(), QUERY_TIMEOUT.as_secs());
                if !seat.lost(why).await {
                    return;
                }
                continue;
            }
        }
        let wait = if seat.leading() { LEASE_EVERY } else { FOLLOW_EVERY };
        let due = seat.next_lease.min(tokio::time::Instant::now() + wait);
        tokio::select! {
            batch = batches.recv() => {
                let Some(first) = batch else { return };
                if !seat.leading() {
                    continue;
                }
                let mut all = vec![first];
                while all.len() < BATCHES_PER_WRITE {
                    match batches.try_recv() {
                        Ok(b) => all.push(b),
                        Err(_) => break,
                    }
                }
                let Some(conn) = seat.conn.as_mut() else { continue };
                let written =
                    tokio::time::timeout(QUERY_TIMEOUT, write(conn, &seat.setup.release, &seat.setup.names, all)).await;
                let why = match written {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(explain(&seat.setup.url, &e)),
                    Err(_) => Some(format!("{}: no answer within {} s", seat.setup.url.shown(), QUERY_TIMEOUT.as_secs())),
                };
                if let Some(why) = why
                    && !seat.lost(why).await
                {
                    return;
                }
            }
            Some(()) = hints.recv() => {}
            () = tokio::time::sleep_until(due) => {}
        }
    }
}

/// One turn on a live connection: the history once, the lease when due,
/// and (following) the cells written since the last read. False when the
/// loop is gone.
async fn turn(seat: &mut SeatLoop) -> bool {
    let Some(conn) = seat.conn.as_mut() else { return true };
    let release = seat.setup.release.clone();
    if !seat.history_sent {
        match read_history(conn, &release).await {
            Ok(history) => {
                seat.history_sent = true;
                if seat.news.send(SeatNews::History(history)).await.is_err() {
                    return false;
                }
            }
            Err(e) => {
                let why = explain(&seat.setup.url, &e);
                return seat.lost(why).await;
            }
        }
    }
    if tokio::time::Instant::now() >= seat.next_lease {
        seat.next_lease = tokio::time::Instant::now() + LEASE_EVERY;
        let (leading, can_lead) = (seat.leading(), seat.setup.can_lead);
        let Some(conn) = seat.conn.as_mut() else { return true };
        let lease = lease(conn, &release, leading, can_lead).await;
        match lease {
            Ok(role) => {
                // Taking the lead: read what the old leader wrote last first,
                // so nothing it committed is asked or written again.
                if role == SeatRole::Leading && !leading {
                    if !follow(seat, &release).await {
                        return false;
                    }
                    if seat.conn.is_none() {
                        return true;
                    }
                }
                if !seat.tell(role).await {
                    return false;
                }
            }
            Err(e) => {
                let why = explain(&seat.setup.url, &e);
                return seat.lost(why).await;
            }
        }
    }
    if seat.leading() {
        return true;
    }
    follow(seat, &release).await
}

/// Read the cells and compare answers written since the last read and hand
/// them to the loop. False when the loop is gone.
async fn follow(seat: &mut SeatLoop, release: &str) -> bool {
    let release = release.to_string();
    let Some(conn) = seat.conn.as_mut() else { return true };
    match read_cells(conn, &release, seat.last_rev, &seat.setup.names).await {
        Ok((rev, updates)) => {
            seat.last_rev = rev;
            if !updates.is_empty() && seat.news.send(SeatNews::Cells(updates)).await.is_err() {
                return false;
            }
        }
        Err(e) => {
            let why = explain(&seat.setup.url, &e);
            return seat.lost(why).await;
        }
    }
    let Some(conn) = seat.conn.as_mut() else { return true };
    match read_answers(conn, &release, seat.last_answer_rev).await {
        Ok((rev, answers)) => {
            seat.last_answer_rev = rev;
            answers.is_empty() || seat.news.send(SeatNews::Answers(answers)).await.is_ok()
        }
        Err(e) => {
            let why = explain(&seat.setup.url, &e);
            seat.lost(why).await
        }
    }
}

/// Compare answers written after `after`; the newest revision read.
async fn read_answers(
    conn: &mut PgConnection,
    release: &str,
    after: i64,
) -> Result<(i64, Vec<(Ask, Answer)>), sqlx::Error> {
    let rows =
        sqlx::query("SELECT rev, ask, answer FROM flightdeck_changes WHERE release = $1 AND rev > $2 ORDER BY rev")
            .bind(release)
            .bind(after)
            .fetch_all(&mut *conn)
            .await?;
    let mut last = after;
    let mut answers = Vec::with_capacity(rows.len());
    for row in rows {
        last = last.max(row.get::<i64, _>(0));
        let ask = serde_json::from_value::<Ask>(row.get(1));
        let answer = serde_json::from_value::<StoredAnswer>(row.get(2));
        match (ask, answer) {
            (Ok(ask), Ok(answer)) => {
                let answer = clean_answer(answer.into_answer(&ask));
                answers.push((ask, answer));
            }
            (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "team changes row that does not read: skipped"),
        }
    }
    Ok((last, answers))
}

/// A row could have been written by hand: its texts are cleaned again.
fn clean_answer(answer: Answer) -> Answer {
    let clean = |s: &mut String| *s = crate::sanitize::clean_to(s, 300);
    match answer {
        Answer::Compare(Ok(changes)) => {
            let mut c = crate::changes::Changes::clone(&changes);
            for commit in &mut c.commits {
                clean(&mut commit.subject);
                commit.author.iter_mut().for_each(clean);
                commit.pr_title.iter_mut().for_each(clean);
                commit.breaking.iter_mut().for_each(clean);
                commit.labels.iter_mut().for_each(clean);
                commit.tickets.iter_mut().for_each(clean);
            }
            Answer::Compare(Ok(Arc::new(c)))
        }
        Answer::Compare(Err(mut e)) => {
            clean(&mut e);
            Answer::Compare(Err(e))
        }
        Answer::Mainline(Err(mut e)) => {
            clean(&mut e);
            Answer::Mainline(Err(e))
        }
        other => other,
    }
}

/// The team's state for a one-shot command (`check`, `report`): the
/// observation history and the newest answer of every cell, as a follower
/// would apply them; `None` when no seat has written any cell yet.
pub(crate) async fn read_team_state(setup: &SeatSetup) -> Result<Option<TeamState>, String> {
    let mut conn = connect(&setup.url).await?;
    let history = read_history(&mut conn, &setup.release).await.map_err(|e| explain(&setup.url, &e))?;
    let (_, cells) =
        read_cells(&mut conn, &setup.release, 0, &setup.names).await.map_err(|e| explain(&setup.url, &e))?;
    let (_, answers) = read_answers(&mut conn, &setup.release, 0).await.map_err(|e| explain(&setup.url, &e))?;
    let _ = conn.close().await;
    Ok((!cells.is_empty()).then_some(TeamState { history, cells, answers }))
}

/// What the team store holds for a release, for a one-shot command.
pub(crate) struct TeamState {
    pub history: Vec<ObservationEvent>,
    pub cells: Vec<SourceUpdate>,
    pub answers: Vec<(Ask, Answer)>,
}

/// Keep, take or observe the lead.
async fn lease(conn: &mut PgConnection, release: &str, leading: bool, can_lead: bool) -> Result<SeatRole, sqlx::Error> {
    let (class, object) = lock_key(release);
    if leading {
        // The lock lives as long as this session: a live session still holds it.
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        return Ok(SeatRole::Leading);
    }
    if can_lead {
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(class)
            .bind(object)
            .fetch_one(&mut *conn)
            .await?;
        if taken {
            return Ok(SeatRole::Leading);
        }
    }
    Ok(SeatRole::Following { leader: leader_of(conn, release).await? })
}

/// The database role of the session holding `release`'s lead, if any.
pub(crate) async fn leader_of(conn: &mut PgConnection, release: &str) -> Result<Option<String>, sqlx::Error> {
    let (class, object) = lock_key(release);
    let leader: Option<String> = sqlx::query_scalar(
        "SELECT a.usename::text FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
           AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid \
           AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
         LIMIT 1",
    )
    .bind(class)
    .bind(object)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(leader.map(|l| crate::sanitize::clean_to(&l, 64)))
}

/// The release's observation history, in the order it was written.
async fn read_history(conn: &mut PgConnection, release: &str) -> Result<Vec<ObservationEvent>, sqlx::Error> {
    let rows = sqlx::query("SELECT event FROM flightdeck_observations WHERE release = $1 ORDER BY seq")
        .bind(release)
        .fetch_all(&mut *conn)
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let value: serde_json::Value = row.get(0);
        match serde_json::from_value::<ObservationEvent>(value) {
            Ok(mut e) => {
                clean_event(&mut e);
                events.push(e);
            }
            Err(e) => tracing::warn!(error = %e, "team observation row that does not read: skipped"),
        }
    }
    Ok(events)
}

/// Text from the database is data: whatever was written with psql, no
/// control sequence reaches a screen.
fn clean_event(e: &mut ObservationEvent) {
    let clean = |s: &mut String| *s = crate::sanitize::clean_to(s, 200);
    clean(&mut e.service);
    clean(&mut e.environment);
    clean(&mut e.source);
    clean(&mut e.new);
    e.old.iter_mut().for_each(clean);
    e.build.iter_mut().for_each(clean);
    e.old_build.iter_mut().for_each(clean);
}

/// Cells written after `after`, as updates; the newest revision read.
async fn read_cells(
    conn: &mut PgConnection,
    release: &str,
    after: i64,
    names: &Names,
) -> Result<(i64, Vec<SourceUpdate>), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT rev, service, environment, source, state FROM flightdeck_cells \
         WHERE release = $1 AND rev > $2 ORDER BY rev",
    )
    .bind(release)
    .bind(after)
    .fetch_all(&mut *conn)
    .await?;
    let mut last = after;
    let mut updates = Vec::with_capacity(rows.len());
    for row in rows {
        last = last.max(row.get::<i64, _>(0));
        let (service, environment, source): (String, String, String) = (row.get(1), row.get(2), row.get(3));
        // A cell or source this seat's config does not have: not ours to show.
        let (Some(cell), Some(source)) = (names.key(&service, &environment), names.source(&source)) else {
            continue;
        };
        match serde_json::from_value::<CellState>(row.get(4)) {
            Ok(state) => updates.push(clean_update(state.into_update(source, cell))),
            Err(e) => tracing::warn!(error = %e, service, environment, "team cell row that does not read: skipped"),
        }
    }
    Ok((last, updates))
}

/// The leader cleaned what its sources sent; a row could still have been
/// written by hand.
fn clean_update(mut update: SourceUpdate) -> SourceUpdate {
    let clean = |s: &mut String| *s = crate::sanitize::clean_to(s, 200);
    match &mut update.result {
        Ok(r) => {
            r.version.iter_mut().for_each(clean);
            r.build.iter_mut().for_each(clean);
            r.commit.iter_mut().for_each(clean);
            r.digest.iter_mut().for_each(clean);
            for m in &mut r.metrics {
                clean(&mut m.name);
                if let Some(b) = &mut m.baseline {
                    b.error.iter_mut().for_each(clean);
                }
            }
            for (k, v) in &mut r.attributes {
                clean(k);
                clean(v);
            }
            if let Some(p) = &mut r.previous {
                clean(&mut p.version);
                p.build.iter_mut().for_each(clean);
                p.commit.iter_mut().for_each(clean);
                p.digest.iter_mut().for_each(clean);
                p.reference.iter_mut().for_each(clean);
            }
        }
        Err(e) => *e = e.clone().map_text(|t| crate::sanitize::clean_to(&t, 300)),
    }
    update
}

/// Write a leader's batches in one transaction on the lock's connection,
/// then wake the followers.
async fn write(
    conn: &mut PgConnection,
    release: &str,
    names: &Names,
    batches: Vec<LeaderBatch>,
) -> Result<(), sqlx::Error> {
    // The newest answer per (cell, source): one row may change once per statement.
    let mut newest: std::collections::BTreeMap<(CellKey, Arc<str>), &SourceUpdate> = Default::default();
    for update in batches.iter().flat_map(|b| &b.updates) {
        newest.insert((update.cell, update.source.clone()), update);
    }
    let (mut services, mut envs, mut sources, mut states) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((cell, source), update) in newest {
        let (Some(service), Some(env)) = (names.services.get(cell.service), names.environments.get(cell.env)) else {
            continue;
        };
        match serde_json::to_value(CellState::of(update)) {
            Ok(state) => {
                services.push(service.clone());
                envs.push(env.clone());
                sources.push(source.to_string());
                states.push(state);
            }
            Err(e) => tracing::warn!(error = %e, service, env, "a cell's answer that cannot be written: skipped"),
        }
    }
    let changes: Vec<serde_json::Value> =
        batches.iter().flat_map(|b| &b.changes).filter_map(|c| serde_json::to_value(c).ok()).collect();
    let mut tx = conn.begin().await?;
    if !states.is_empty() {
        sqlx::query(
            "INSERT INTO flightdeck_cells (release, service, environment, source, state) \
             SELECT $1, s, e, src, st FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(s, e, src, st) \
             ON CONFLICT (release, service, environment, source) DO UPDATE SET state = EXCLUDED.state",
        )
        .bind(release)
        .bind(&services)
        .bind(&envs)
        .bind(&sources)
        .bind(&states)
        .execute(&mut *tx)
        .await?;
    }
    if !changes.is_empty() {
        sqlx::query(
            "INSERT INTO flightdeck_observations (release, event) SELECT $1, ev FROM UNNEST($2::jsonb[]) AS u(ev)",
        )
        .bind(release)
        .bind(&changes)
        .execute(&mut *tx)
        .await?;
    }
    let mut asks = Vec::new();
    let mut stored = Vec::new();
    for (ask, answer) in batches.iter().flat_map(|b| &b.answers) {
        if let (Ok(a), Ok(s)) = (serde_json::to_value(ask), serde_json::to_value(StoredAnswer::of(answer))) {
            asks.push(a);
            stored.push(s);
        }
    }
    if !asks.is_empty() {
        sqlx::query(
            "INSERT INTO flightdeck_changes (release, ask, answer) \
             SELECT $1, a, s FROM UNNEST($2::jsonb[], $3::jsonb[]) AS u(a, s) \
             ON CONFLICT (release, ask) DO UPDATE SET answer = EXCLUDED.answer",
        )
        .bind(release)
        .bind(&asks)
        .bind(&stored)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("SELECT pg_notify($1, $2)").bind(CELLS_CHANNEL).bind(release).execute(&mut *tx).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_survives_the_row() {
        let mut reading = Reading::version("1.2.3");
        reading.attributes.push(("sync".into(), "Synced".into()));
        let cell = CellKey { service: 1, env: 0 };
        let update = SourceUpdate {
            source: Arc::from("argo"),
            evidence: Evidence::Controller,
            role: Role::Deployment,
            cell,
            attempted_at: Timestamp::from_second(1_700_000_000).unwrap(),
            result: Ok(reading.clone()),
        };
        let json = serde_json::to_value(CellState::of(&update)).unwrap();
        let back: CellState = serde_json::from_value(json).unwrap();
        let back = back.into_update(Arc::from("argo"), cell);
        assert_eq!(back.result, Ok(reading));
        assert_eq!((back.evidence, back.attempted_at), (update.evidence, update.attempted_at));
        let failed = SourceUpdate { result: Err(FetchError::Status { code: 503, detail: "down".into() }), ..update };
        let json = serde_json::to_value(CellState::of(&failed)).unwrap();
        let back: CellState = serde_json::from_value(json).unwrap();
        assert_eq!(back.into_update(Arc::from("argo"), cell).result.unwrap_err().to_string(), "HTTP 503 down");
    }

    #[test]
    fn a_hand_written_row_is_cleaned() {
        let state: CellState = serde_json::from_value(serde_json::json!({
            "evidence": "running", "role": "deployment", "attempted_at": "2026-11-27T10:00:00Z",
            "reading": {"version": "1.0\u{1b}[2J", "build": null, "commit": null, "digest": null,
                        "deployed_at": null, "health": null, "metrics": [], "attributes": [], "previous": null}
        }))
        .unwrap();
        let cell = CellKey { service: 0, env: 0 };
        let update = clean_update(state.into_update(Arc::from("web"), cell));
        let version = update.result.unwrap().version.unwrap();
        assert!(!version.contains('\u{1b}'), "{version:?}");
    }

    #[test]
    fn each_release_has_its_own_lock() {
        assert_ne!(lock_key("2026.11"), lock_key("2026.12"));
        let (class, object) = lock_key("2026.11");
        assert!(class > 0 && object >= 0);
        assert_eq!(lock_key("2026.11"), (class, object), "the same release, the same lock in every seat");
    }

    #[test]
    fn one_seat_leads_unless_the_config_says_each() {
        let base =
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[team]\ndatabase_url_env = \"FD_URL\"\n";
        let poll =
            |extra: &str| crate::setup::from_toml_str(&format!("{base}{extra}"), "test").map(|c| c.team.unwrap().poll);
        assert_eq!(poll("").unwrap(), crate::config::TeamPoll::Leader);
        assert_eq!(poll("poll = \"leader\"\n").unwrap(), crate::config::TeamPoll::Leader);
        assert_eq!(poll("poll = \"each\"\n").unwrap(), crate::config::TeamPoll::Each);
        let err = poll("poll = \"sometimes\"\n").unwrap_err().to_string();
        assert!(err.contains("team.poll") && err.contains("`sometimes` is not \"leader\" or \"each\""), "{err}");
    }

    #[test]
    fn the_status_bar_says_who_leads() {
        assert_eq!(SeatRole::Leading.label(), "leading");
        assert_eq!(SeatRole::Following { leader: Some("carol".into()) }.label(), "following carol");
        assert_eq!(SeatRole::Unreachable("x".into()).label(), "team store unreachable");
    }
}
