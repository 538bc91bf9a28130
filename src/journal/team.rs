//! Team mode's release journal: one PostgreSQL database shared by every
//! seat of a release (`[team]`).
//!
//! - Every action is a row of `flightdeck_release_events`; `append` returns
//!   once its transaction has committed, so a seat shows as recorded only
//!   what the database holds.
//! - The actor is the database role of the session that wrote the row: a
//!   trigger sets it from `session_user`, whatever the client sends, and
//!   refuses a sign-off for a role `[team.signers]` lists from a role it
//!   does not list (`flightdeck_signers`, written by `team init`).
//! - Seats read the table in order (`seq`). A row whose transaction commits
//!   after a later one was read is still found: each poll looks back over
//!   the last [`LOOKBACK`] sequence numbers and skips ids it already has.
//! - The schema is created and upgraded by versioned migrations
//!   (`src/journal/migrations`, run by `flightdeck team init` with the owner
//!   role). The runtime role needs only INSERT and SELECT.
//!
//! The store is used from the cockpit's journal thread and by the one-shot
//! commands: each keeps a small runtime of its own and blocks on it, so the
//! [`EventStore`] interface stays the file store's.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use super::release::{EventStore, JournalError, ReleaseAction, ReleaseEvent};

/// Sequence numbers a poll looks back over, for rows that committed late.
pub(crate) const LOOKBACK: i64 = 256;

/// The migrations, embedded in the binary.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/journal/migrations");

/// The database URL, kept only to connect and to take it (and its password)
/// out of every message.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: String,
    password: Option<String>,
    /// The password as written in the URL (percent-encoded), if it differs.
    password_as_written: Option<String>,
    /// `user@host:port/db`, for messages.
    shown: String,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.shown)
    }
}

impl DatabaseUrl {
    /// Read the URL from the variable `[team] database_url_env` names.
    pub(crate) fn from_env(var: &str) -> Result<DatabaseUrl, String> {
        let raw = std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        DatabaseUrl::parse(raw.trim()).map_err(|e| format!("environment variable {var}: {e}"))
    }

    pub fn parse(raw: &str) -> Result<DatabaseUrl, String> {
        let url = url::Url::parse(raw).map_err(|_| "not a postgres:// URL".to_string())?;
        if url.scheme() != "postgres" && url.scheme() != "postgresql" {
            return Err(format!("the scheme must be postgres://, not {}://", url.scheme()));
        }
        let password = url
            .password()
            .map(percent_decode)
            .or_else(|| url.query_pairs().find(|(k, _)| k == "password").map(|(_, v)| v.into_owned()));
        // TLS is verified: a database off this machine needs sslmode=verify-full.
        let loopback = match url.host() {
            None => true,
            // postgres:// is not a special scheme: its host is a plain string.
            Some(url::Host::Domain(d)) => {
                d == "localhost"
                    || d.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        };
        let sslmode = url.query_pairs().find(|(k, _)| k == "sslmode").map(|(_, v)| v.into_owned());
        if !loopback && sslmode.as_deref() != Some("verify-full") {
            return Err(format!(
                "a database on another host needs TLS that is verified: add ?sslmode=verify-full (and \
                 sslrootcert=… for a private CA); sslmode={} is not accepted",
                sslmode.as_deref().unwrap_or("prefer (the default)")
            ));
        }
        let shown = format!(
            "{}@{}:{}{}",
            if url.username().is_empty() { "(default user)" } else { url.username() },
            url.host_str().unwrap_or("(socket)"),
            url.port().unwrap_or(5432),
            url.path()
        );
        let password_as_written =
            url.password().map(str::to_string).filter(|written| Some(written) != password.as_ref());
        Ok(DatabaseUrl { url: raw.to_string(), password, password_as_written, shown })
    }

    /// The URL itself: only to connect with, never to show.
    pub(crate) fn raw(&self) -> &str {
        &self.url
    }

    /// Where, without the password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Take the URL and its password out of a text (also a password cut
    /// short before a `…`), then clean and cap it.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.url, &self.shown);
        // Both forms: a server or a library may echo either.
        for p in [&self.password, &self.password_as_written].into_iter().flatten().filter(|p| !p.is_empty()) {
            out = crate::sources::auth::Token::redact_secret(p, out);
        }
        crate::sanitize::clean_to(&out, 300)
    }
}

/// Clean every string in a JSON value (notes, reasons, item ids, roles).
fn clean_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = crate::sanitize::clean_to(s, 1000),
        serde_json::Value::Array(a) => a.iter_mut().for_each(clean_strings),
        serde_json::Value::Object(o) => o.values_mut().for_each(clean_strings),
        _ => {}
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(Ok(b)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A connection to the team database, on a small runtime of its own.
pub struct TeamDb {
    /// Made on first use, by the thread that uses it (never inside another
    /// runtime, where dropping it would panic).
    rt: Option<tokio::runtime::Runtime>,
    url: DatabaseUrl,
    pool: Option<PgPool>,
}

impl TeamDb {
    /// No I/O yet: the first use connects (so it can be made anywhere and
    /// used from the thread that owns it).
    pub fn new(url: DatabaseUrl) -> Result<TeamDb, JournalError> {
        Ok(TeamDb { rt: None, url, pool: None })
    }

    /// Run `work` on this store's runtime (made on first use).
    fn block_on<F: std::future::Future>(&mut self, work: F) -> Result<F::Output, JournalError> {
        if self.rt.is_none() {
            let rt =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| JournalError::Team {
                    location: self.url.shown.clone(),
                    message: format!("cannot start its runtime: {e}"),
                })?;
            self.rt = Some(rt);
        }
        match &self.rt {
            Some(rt) => Ok(rt.block_on(work)),
            None => Err(self.error("no runtime")),
        }
    }

    fn error(&self, e: impl std::fmt::Display) -> JournalError {
        let text = self.url.scrub(&e.to_string());
        JournalError::Team { location: self.url.shown.clone(), message: text }
    }

    fn pool(&mut self) -> Result<PgPool, JournalError> {
        if let Some(pool) = &self.pool {
            return Ok(pool.clone());
        }
        let options: PgConnectOptions = self.url.url.parse().map_err(|e| self.error(e))?;
        let options = options.application_name("flightdeck");
        let connect =
            PgPoolOptions::new().max_connections(2).acquire_timeout(Duration::from_secs(5)).connect_with(options);
        let pool = self.block_on(connect)?.map_err(|e| self.error(format!("unreachable: {e}")))?;
        self.pool = Some(pool.clone());
        Ok(pool)
    }

    /// Create or upgrade the schema (owner role), and write `[team.signers]`.
    pub fn init(&mut self, signers: &[(String, Vec<String>)]) -> Result<Vec<i64>, JournalError> {
        let pool = self.pool()?;
        let applied = self.block_on(async {
            MIGRATOR.run(&pool).await.map_err(|e| e.to_string())?;
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            sqlx::query("DELETE FROM flightdeck_signers").execute(&mut *tx).await.map_err(|e| e.to_string())?;
            for (role, db_roles) in signers {
                for db_role in db_roles {
                    sqlx::query("INSERT INTO flightdeck_signers (role, db_role) VALUES ($1, $2)")
                        .bind(role)
                        .bind(db_role)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            tx.commit().await.map_err(|e| e.to_string())?;
            let versions: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&pool)
                .await
                .map_err(|e| e.to_string())?
                .iter()
                .map(|r| r.get::<i64, _>(0))
                .collect();
            Ok::<_, String>(versions)
        })?;
        applied.map_err(|e| self.error(e))
    }

    /// The database role this seat acts as (`session_user`).
    pub(crate) fn whoami(&mut self) -> Result<String, JournalError> {
        let pool = self.pool()?;
        let row = self.block_on(sqlx::query("SELECT session_user::text").fetch_one(&pool))?;
        row.map(|r| r.get::<String, _>(0)).map_err(|e| self.error(e))
    }

    /// Schema version, events per release, and the seats connected now.
    pub fn status(&mut self) -> Result<TeamStatus, JournalError> {
        let pool = self.pool()?;
        let status = self.block_on(async {
            // The seats may read the view (schema 2 on); the owner also the
            // migrations' own table.
            let mut version: Option<i64> = sqlx::query_scalar("SELECT version FROM flightdeck_schema").fetch_one(&pool).await.ok();
            if version.is_none() {
                version = sqlx::query("SELECT max(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&pool)
                    .await
                    .ok()
                    .and_then(|r| r.get::<Option<i64>, _>(0));
            }
            let releases = sqlx::query(
                "SELECT release, count(*), max(recorded_at)::text FROM flightdeck_release_events GROUP BY release ORDER BY 1",
            )
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1), r.get::<Option<String>, _>(2).unwrap_or_default()))
            .collect();
            let seats = sqlx::query(
                // A seat is its cockpit's `flightdeck-seat` connection; another
                // role's connection shows no address or start time (they are null).
                "SELECT coalesce(usename::text, '?'), coalesce(client_addr::text, CASE WHEN backend_start IS NULL \
                 THEN '(hidden)' ELSE 'local' END), coalesce(backend_start::text, '(hidden)') FROM pg_stat_activity \
                 WHERE application_name = 'flightdeck-seat' AND datname = current_database() ORDER BY backend_start",
            )
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2)))
            .collect();
            // One poll load: who leads each release, and how old the newest
            // answer written is (the lag a following seat sees at most).
            let written: Vec<(String, f64)> = sqlx::query(
                "SELECT release, extract(epoch FROM now() - max(written_at))::float8 FROM flightdeck_cells GROUP BY release ORDER BY 1",
            )
            .fetch_all(&pool)
            .await
            .map(|rows| rows.iter().map(|r| (r.get::<String, _>(0), r.get::<f64, _>(1))).collect())
            .unwrap_or_default();
            let mut leaders = Vec::new();
            let mut conn = pool.acquire().await?;
            for (release, lag) in written {
                let leader = super::team_seat::leader_of(&mut conn, &release).await?;
                leaders.push((release, leader, lag));
            }
            Ok::<_, sqlx::Error>(TeamStatus { schema_version: version, releases, seats, leaders })
        })?;
        status.map_err(|e| self.error(e))
    }
}

/// What `flightdeck team status` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamStatus {
    pub schema_version: Option<i64>,
    /// (release, events, last recorded at)
    pub releases: Vec<(String, i64, String)>,
    /// (database role, client address, connected since)
    pub seats: Vec<(String, String, String)>,
    /// (release, the role of the seat leading it now, seconds since its
    /// newest answer was written)
    pub leaders: Vec<(String, Option<String>, f64)>,
}

/// One release's journal in the team database.
pub struct TeamStore {
    db: TeamDb,
    release: String,
    /// Highest sequence number read.
    last_seq: i64,
    /// Ids already returned (a poll looks back and must not repeat them).
    seen: HashSet<String>,
}

impl TeamStore {
    pub fn new(db: TeamDb, release: &str) -> TeamStore {
        TeamStore { db, release: release.to_string(), last_seq: 0, seen: HashSet::new() }
    }

    fn read_since(&mut self, after: i64) -> Result<Vec<ReleaseEvent>, JournalError> {
        let pool = self.db.pool()?;
        let rows = self.db.block_on(
            sqlx::query(
                "SELECT seq, id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, action \
                 FROM flightdeck_release_events \
                 WHERE release = $1 AND seq > $2 ORDER BY at, seq",
            )
            .bind(&self.release)
            .bind(after)
            .fetch_all(&pool),
        )?;
        let rows = rows.map_err(|e| self.db.error(e))?;
        let mut events = Vec::new();
        for row in rows {
            let seq: i64 = row.get(0);
            self.last_seq = self.last_seq.max(seq);
            let id: String = row.get(1);
            if !self.seen.insert(id.clone()) {
                continue;
            }
            let at: String = row.get(2);
            // Text from the database is data: whatever a seat wrote with
            // psql, no control sequence reaches a screen or a report.
            let actor = crate::sanitize::clean_to(&row.get::<String, _>(3), 64);
            let mut action: serde_json::Value = row.get(4);
            clean_strings(&mut action);
            let Ok(at) = at.parse::<jiff::Timestamp>() else {
                tracing::warn!(id, at, "team journal row with an unreadable time: skipped");
                continue;
            };
            match serde_json::from_value::<ReleaseAction>(action) {
                Ok(action) => events.push(ReleaseEvent { id, at, by: actor, action }),
                Err(e) => tracing::warn!(id, error = %e, "team journal row with an unknown action: skipped"),
            }
        }
        Ok(events)
    }
}

impl EventStore for TeamStore {
    fn load(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        self.last_seq = 0;
        self.seen.clear();
        self.read_since(0)
    }

    fn append(&mut self, event: &ReleaseEvent) -> Result<(), JournalError> {
        let pool = self.db.pool()?;
        let action = serde_json::to_value(&event.action).map_err(|e| self.db.error(e))?;
        let done = self.db.block_on(
            // `actor` is set by the database (session_user); a retried append
            // of the same event is one row.
            sqlx::query(
                "INSERT INTO flightdeck_release_events (release, id, at, actor, action) \
                 VALUES ($1, $2, $3::timestamptz, '', $4) ON CONFLICT (release, id) DO NOTHING",
            )
            .bind(&self.release)
            .bind(&event.id)
            .bind(event.at.to_string())
            .bind(action)
            .execute(&pool),
        )?;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {
                Err(JournalError::Refused(self.db.url.scrub(e.message())))
            }
            Err(e) => Err(self.db.error(e)),
        }
    }

    fn poll(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        self.read_since((self.last_seq - LOOKBACK).max(0))
    }

    fn location(&self) -> String {
        format!("team store {}", self.db.url.shown)
    }

    fn actor(&mut self) -> Result<Option<String>, JournalError> {
        self.db.whoami().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_on_another_host_needs_verified_tls() {
        let err = DatabaseUrl::parse("postgres://carol:pw@db.example/fd").unwrap_err();
        assert!(err.contains("sslmode=verify-full"), "{err}");
        let err = DatabaseUrl::parse("postgres://carol:pw@db.example/fd?sslmode=require").unwrap_err();
        assert!(err.contains("sslmode=require is not accepted"), "{err}");
        assert!(DatabaseUrl::parse("postgres://carol:pw@db.example/fd?sslmode=verify-full").is_ok());
        for local in ["postgres://c@127.0.0.1/fd", "postgres://c@localhost/fd", "postgres://c@[::1]/fd"] {
            assert!(DatabaseUrl::parse(local).is_ok(), "{local}");
        }
    }

    #[test]
    fn the_url_and_its_password_never_show() {
        let url =
            DatabaseUrl::parse("postgres://carol:s3cr%40t@db.example:6543/flightdeck?sslmode=verify-full").unwrap();
        assert_eq!(url.shown(), "carol@db.example:6543/flightdeck");
        assert_eq!(format!("{url:?}"), "DatabaseUrl(carol@db.example:6543/flightdeck)");
        let text = "error connecting to postgres://carol:s3cr%40t@db.example:6543/flightdeck?sslmode=verify-full: \
                    password s3cr@t wrong";
        let scrubbed = url.scrub(text);
        assert!(!scrubbed.contains("s3cr"), "{scrubbed}");
        // The password as written in the URL (percent-encoded) goes too.
        let echoed = url.scrub("bad password s3cr%40t for carol");
        assert!(!echoed.contains("s3cr"), "{echoed}");
        assert!(scrubbed.contains("carol@db.example:6543/flightdeck"), "{scrubbed}");
        assert!(DatabaseUrl::parse("mysql://x@y/z").unwrap_err().contains("postgres://"));
        // A password in the query is a password too; a cut one still goes.
        let q = DatabaseUrl::parse("postgres://carol@127.0.0.1/fd?password=hunter2-long").unwrap();
        assert_eq!(q.scrub("auth failed for hunter2-long"), "auth failed for [redacted]");
        assert_eq!(q.scrub("auth failed for hunter2…"), "auth failed for [redacted]…");
        assert!(DatabaseUrl::parse("not a url").is_err());
    }
}
