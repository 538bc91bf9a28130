//! Team mode against a real PostgreSQL (Debian's `postgresql` package),
//! started by the test in a temporary directory (`initdb` + `pg_ctl`, as the
//! `postgres` user when the tests run as root: the server refuses root), on
//! a free port, with password (SCRAM) authentication over TCP.
//!
//! Ignored in a plain `cargo test` (they need the server); `cargo test --
//! --ignored` runs them and fails without it (`.ci/run` installs it first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flightdeck::journal::release::{EventStore, ReleaseAction, ReleaseEvent};

#[path = "support/pg.rs"]
mod pg;
#[path = "support/tmux.rs"]
mod tmux;
use flightdeck::journal::team::{DatabaseUrl, TeamDb, TeamStore};
use pg::{OWNER, PASSWORD, Server, pg_bin};

const RELEASE: &str = "2026.11.1";

impl Server {
    fn store(&self, role: &str) -> TeamStore {
        TeamStore::new(TeamDb::new(DatabaseUrl::parse(&self.url(role)).unwrap()).unwrap(), RELEASE)
    }

    /// `team init` as the owner, then the printed grants for alice and bob.
    fn init(&self, config: &Path) -> String {
        let (code, out, err) = flightdeck(config, &self.url(OWNER), &["team", "init"]);
        assert_eq!(code, Some(0), "{out}{err}");
        let grants: String = out
            .lines()
            .filter(|l| l.starts_with("GRANT"))
            .map(|l| l.replace("flightdeck_seat", "alice, bob"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(grants.contains("INSERT"), "{out}");
        self.psql_in("flightdeck", &grants);
        out
    }
}

/// A config for the team (a patch release: its sign-offs are tech-lead
/// and product-owner), `[team.signers]` naming alice alone for tech-lead.
fn config(dir: &Path) -> PathBuf {
    let path = dir.join("team.toml");
    std::fs::write(
        &path,
        format!(
            r#"
data_dir = "{data}"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "{RELEASE}"
kind = "patch"
[release.targets]
payments = "1.4.1"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{{env}}/{{service}}"
timeout = "1s"
[team]
database_url_env = "FD_TEST_DATABASE_URL"
[team.signers]
tech-lead = ["alice"]
"#,
            data = dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

fn flightdeck(config: &Path, url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("FD_TEST_DATABASE_URL", url)
        .env("XDG_CONFIG_HOME", config.parent().unwrap().join("xdg"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Poll `store` until `cond` holds over everything it has read.
fn wait_until(store: &mut TeamStore, seen: &mut Vec<ReleaseEvent>, cond: impl Fn(&[ReleaseEvent]) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        seen.extend(store.poll().unwrap());
        if cond(seen) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never seen; have {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs postgresql: cargo test -- --ignored (.ci/run does)"]
fn team_mode_on_a_real_postgresql() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let config = config(work.path());

    // A misspelt role in [team.signers] would leave the real one open: refused.
    let typo = work.path().join("typo.toml");
    std::fs::write(&typo, std::fs::read_to_string(&config).unwrap().replace("tech-lead = [", "tech-laed = [")).unwrap();
    let (code, _, err) = flightdeck(&typo, &server.url(OWNER), &["team", "init"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tech-laed") && err.contains("tech-lead"), "{err}");

    // init is idempotent, names the schema version, prints the grants.
    let first = server.init(&config);
    assert!(first.contains("schema at version 3"), "{first}");
    let again = server.init(&config);
    assert!(again.contains("schema at version 3"), "{again}");
    let (code, status, err) = flightdeck(&config, &server.url(OWNER), &["team", "status"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(status.contains("schema version 3"), "{status}");

    // Two seats: what one records, the other reads, with the database's actor.
    let mut alice = server.store("alice");
    let mut bob = server.store("bob");
    assert!(alice.load().unwrap().is_empty());
    let mut bob_seen = bob.load().unwrap();
    assert_eq!(alice.actor().unwrap().as_deref(), Some("alice"));
    // The client claims to be "mallory": the database says who wrote it.
    let tick = ReleaseEvent::new(
        "mallory",
        jiff::Timestamp::now(),
        ReleaseAction::Tick { item: "scope-frozen".into(), note: None },
    );
    alice.append(&tick).unwrap();
    let took = wait_until(&mut bob, &mut bob_seen, |s| s.iter().any(|e| e.id == tick.id));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let seen = bob_seen.iter().find(|e| e.id == tick.id).unwrap();
    assert_eq!(seen.by, "alice");
    assert_eq!(seen.action, tick.action);
    // The same event again (a retried append) is one row.
    alice.append(&tick).unwrap();
    assert_eq!(server.psql_in("flightdeck", "SELECT count(*) FROM flightdeck_release_events").trim(), "1");

    // The runtime roles can neither change nor remove a row, nor choose its
    // order, and a temporary table cannot stand in for the signers.
    let bob_url = server.url("bob");
    let as_bob = |sql: &str| {
        let out = Command::new(pg_bin("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &bob_url, "-c", sql])
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for sql in [
        "DELETE FROM flightdeck_release_events",
        "UPDATE flightdeck_release_events SET actor = 'bob'",
        "INSERT INTO flightdeck_release_events (seq, release, id, at, actor, action) \
         VALUES (9000000000, '2026.11.1', 'x1', now(), '', '{\"action\":\"tick\",\"item\":\"scope-frozen\"}')",
        "DELETE FROM flightdeck_signers",
    ] {
        let (ok, err) = as_bob(sql);
        assert!(!ok && err.contains("permission denied"), "{sql}: {err}");
    }
    let (ok, err) = as_bob(
        "CREATE TEMP TABLE flightdeck_signers (role text, db_role text); \
         INSERT INTO flightdeck_signers VALUES ('tech-lead', 'bob'); \
         INSERT INTO flightdeck_release_events (release, id, at, actor, action) \
         VALUES ('2026.11.1', 'x2', now(), '', '{\"action\":\"sign_off\",\"role\":\"tech-lead\",\"note\":null}')",
    );
    assert!(!ok && err.contains("bob may not sign off for tech-lead"), "a temp table stood in for the signers: {err}");
    // Text a seat writes by hand is data: no control sequence comes back.
    let (ok, err) = as_bob(
        "INSERT INTO flightdeck_release_events (release, id, at, actor, action) \
         VALUES ('2026.11.1', 'esc1', now(), '', jsonb_build_object('action', 'note', 'item', null, \
         'text', E'\\x1b]0;pwned\\x07hello \\x1b[31mred'))",
    );
    assert!(ok, "{err}");
    let note = server.store("alice").load().unwrap().into_iter().find(|e| e.id == "esc1").expect("the note");
    match &note.action {
        ReleaseAction::Note { text, .. } => {
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
            assert!(text.contains("hello") && text.contains("red"), "{text:?}");
        }
        other => panic!("{other:?}"),
    }

    // Signers: the database refuses bob as tech-lead; alice may; anyone may
    // sign for a role [team.signers] does not list.
    let (code, out, err) = flightdeck(&config, &server.url("bob"), &["sign", "tech-lead"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("bob may not sign off for tech-lead"), "{err}");
    let refused = ReleaseEvent::new(
        "bob",
        jiff::Timestamp::now(),
        ReleaseAction::SignOff { role: "tech-lead".into(), note: None },
    );
    assert!(matches!(bob.append(&refused), Err(flightdeck::journal::release::JournalError::Refused(_))));
    let (code, out, err) = flightdeck(&config, &server.url("alice"), &["sign", "tech-lead", "--note", "staging ok"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("signed off as tech-lead by alice"), "{out}");
    let (code, out, err) = flightdeck(&config, &server.url("bob"), &["sign", "product-owner"]);
    assert_eq!(code, Some(0), "{out}{err}");
    // Bad input: exit 2, nothing written.
    let (code, _, err) = flightdeck(&config, &server.url("bob"), &["tick", "no-such-item"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no item `no-such-item`"), "{err}");
    let (code, _, err) = flightdeck(&config, &server.url("bob"), &["decide", "go", "--reason", "  "]);
    assert_eq!(code, Some(2), "{err}");

    // Ten processes at once: every seat reads every note, in one order.
    let children: Vec<_> = (0..10)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_flightdeck"))
                .args(["note", &format!("note {i}"), "--config"])
                .arg(&config)
                .env("FD_TEST_DATABASE_URL", server.url(if i % 2 == 0 { "alice" } else { "bob" }))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let notes = |events: &[ReleaseEvent]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match &e.action {
                ReleaseAction::Note { text, .. } if text.starts_with("note ") => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    let mut alice_seen = alice.load().unwrap();
    wait_until(&mut bob, &mut bob_seen, |s| notes(s).len() == 10);
    wait_until(&mut alice, &mut alice_seen, |s| notes(s).len() == 10);
    assert_eq!(notes(&alice_seen), notes(&bob_seen), "the same order everywhere");
    let fresh = server.store("bob").load().unwrap();
    assert_eq!(fresh.iter().map(|e| &e.id).collect::<Vec<_>>(), bob_seen.iter().map(|e| &e.id).collect::<Vec<_>>());

    // check reads the team's journal: the sign-offs and who made them.
    let (_, json, err) = flightdeck(&config, &server.url("bob"), &["check", "--format", "json", "--retries", "0"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {err}"));
    let signoffs = json["checklist"]["phases"].to_string();
    assert!(signoffs.contains("alice") && signoffs.contains("tech-lead"), "{signoffs}");

    // import: a file journal into the database, once.
    let file = flightdeck::journal::release::release_path(&work.path().join("data"), RELEASE);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut text = String::new();
    for i in 0..3 {
        let e = ReleaseEvent::new(
            "file-user",
            jiff::Timestamp::now(),
            ReleaseAction::Note { item: None, text: format!("from the file {i}") },
        );
        text.push_str(&serde_json::to_string(&e).unwrap());
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = flightdeck(&config, &server.url("alice"), &["team", "import"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("imported 3 of 3"), "{out}");
    let (code, out, err) = flightdeck(&config, &server.url("alice"), &["team", "import"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("imported 0 of 3") && out.contains("3 already there"), "{out}");

    // The password never shows: not in a wrong-password error, not in output.
    let wrong = server.url("alice").replace(&PASSWORD.replace('!', "%21"), "Wr0ng-Secret-77");
    let (code, out, err) = flightdeck(&config, &wrong, &["tick", "scope-frozen"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("team store alice@127.0.0.1"), "{err}");
    for text in [&out, &err, &first, &status] {
        assert!(!text.contains("Wr0ng-Secret") && !text.contains("pw-Zq7"), "{text}");
    }

    // PostgreSQL stopped: an action is refused (exit 2), nothing is shown
    // as recorded; restarted: the seat reads on, nothing acknowledged lost.
    server.pg_ctl("stop");
    let (code, out, err) = flightdeck(&config, &server.url("alice"), &["tick", "release-notes"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("NOT RECORDED") || err.contains("unreachable"), "{err}");
    assert!(!out.contains("recorded"), "{out}");
    assert!(bob.poll().is_err(), "a stopped server is an error, not an empty poll");
    server.pg_ctl("start");
    let start = Instant::now();
    let after = loop {
        match server.store("bob").load() {
            Ok(events) => break events,
            Err(e) => assert!(start.elapsed() < Duration::from_secs(10), "{e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(after.iter().all(|e| !matches!(&e.action, ReleaseAction::Tick { item, .. } if item == "release-notes")));
    assert_eq!(after.len(), bob_seen.len() + 3, "every acknowledged event is there, and the import");
}

/// A cockpit in a detached tmux session, as `role`.
fn seat(name: &str, config: &Path, url: &str) -> tmux::Tmux {
    tmux::require("the two-seat team test");
    let name = format!("fd-team-{name}-{}", std::process::id());
    let script = format!(
        "env FD_TEST_DATABASE_URL='{url}' XDG_CONFIG_HOME={xdg} XDG_STATE_HOME={xdg}/state TERM=xterm-256color {bin} --config {config}; \
         echo EXIT=$?; sleep 60",
        xdg = config.parent().unwrap().join(format!("xdg-{name}")).display(),
        bin = env!("CARGO_BIN_EXE_flightdeck"),
        config = config.display(),
    );
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-s", &name, "-x", "200", "-y", "50", "sh", "-c", &script])
        .env_remove("TMUX")
        .status()
        .unwrap();
    assert!(status.success(), "tmux new-session failed");
    tmux::Tmux { name }
}

impl Drop for tmux::Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).status();
    }
}

/// Two cockpits on one database: a tick made with the keys on alice's seat
/// shows on bob's, by alice, and each seat acts as its database role.
#[test]
#[ignore = "needs postgresql and tmux: cargo test -- --ignored (.ci/run does)"]
fn two_seats_in_tmux_share_one_journal() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let config = config(work.path());
    server.init(&config);
    let alice = seat("alice", &config, &server.url("alice"));
    let bob = seat("bob", &config, &server.url("bob"));
    for s in [&alice, &bob] {
        s.wait_for("the checklist", |s| s.contains("Checklist · patch · 2026.11.1"), Duration::from_secs(30));
    }
    for _ in 0..3 {
        alice.send("Tab");
    }
    alice.wait_for("alice's checklist", |s| s.contains("[ ] Scope frozen"), Duration::from_secs(15));
    alice.send("Space");
    let ticked_by_alice = |s: &str| s.lines().any(|l| l.contains("[x] Scope frozen") && l.contains("alice"));
    let screen = alice.wait_for("the tick on alice's seat", ticked_by_alice, Duration::from_secs(15));
    assert!(screen.contains("recorded: ticked “Scope frozen"), "{screen}");
    for _ in 0..3 {
        bob.send("Tab");
    }
    bob.wait_for("alice's tick on bob's seat", ticked_by_alice, Duration::from_secs(5));
    // Bob is refused as tech-lead by the database, and his seat says why.
    let refused = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["sign", "tech-lead", "--config"])
        .arg(&config)
        .env("FD_TEST_DATABASE_URL", server.url("bob"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    for s in [&alice, &bob] {
        s.send("q");
        s.wait_for("exit", |s| s.contains("EXIT=0"), Duration::from_secs(10));
        assert_eq!(s.display("#{alternate_on}"), "0", "the terminal is restored");
    }
    let events = server.store("alice").load().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].by, "alice");
}

/// A version endpoint on loopback that counts the requests it answers and
/// serves the version the test sets.
struct Endpoint {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    version: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Endpoint {
    fn start(version: &str) -> Endpoint {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let version = std::sync::Arc::new(std::sync::Mutex::new(version.to_string()));
        let (h, v) = (hits.clone(), version.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = format!("{{\"version\":\"{}\"}}", v.lock().unwrap());
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Endpoint { port, hits, version }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The team config with the endpoint as its only source, polled every second.
fn leader_config(dir: &Path, endpoint: &Endpoint) -> PathBuf {
    let path = config(dir);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "http://127.0.0.1:9/{env}/{service}",
            &format!("http://127.0.0.1:{}/{{env}}/{{service}}", endpoint.port),
        )
        .replace("timeout = \"1s\"", "timeout = \"1s\"\nevery = \"1s\"");
    std::fs::write(&path, text).unwrap();
    path
}

/// The pid of the flightdeck a tmux seat runs.
fn seat_pid(seat: &tmux::Tmux) -> String {
    let shell = seat.display("#{pane_pid}");
    let out = Command::new("pgrep").args(["-P", &shell, "-f", "flightdeck"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no flightdeck under {shell}"))
        .to_string()
}

/// Requests the endpoint answered over `window`.
fn rate(endpoint: &Endpoint, window: Duration) -> usize {
    let before = endpoint.hits();
    std::thread::sleep(window);
    endpoint.hits() - before
}

/// One poll load: ten seats, one polls; its SIGKILL hands the lead to
/// another within 10 s, the history goes on, and the request rate stays
/// one seat's; a PostgreSQL restart is survived by every seat.
#[test]
#[ignore = "needs postgresql and tmux: cargo test -- --ignored (.ci/run does)"]
fn one_seat_polls_for_the_team_and_another_takes_over() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::start("1.3.8");
    let config = leader_config(work.path(), &endpoint);
    server.init(&config);
    // Ten seats, five people's roles twice over.
    let seats: Vec<tmux::Tmux> = (0..10)
        .map(|i| {
            let role = if i % 2 == 0 { "alice" } else { "bob" };
            seat(&format!("{role}{i}"), &config, &server.url(role))
        })
        .collect();
    let leading = |s: &str| s.contains("· leading");
    let following = |s: &str| s.contains("· following ");
    for s in &seats {
        s.wait_for("the version on every seat", |s| s.contains("1.3.8"), Duration::from_secs(30));
        s.wait_for("a role", |s| leading(s) || following(s), Duration::from_secs(10));
    }
    let screens: Vec<String> = seats.iter().map(|s| s.capture()).collect();
    assert_eq!(screens.iter().filter(|s| leading(s)).count(), 1, "one leader: {screens:#?}");
    // One seat's load: every second, one cell (ten seats polling would be ~10/s).
    let per_5s = rate(&endpoint, Duration::from_secs(5));
    assert!((3..=7).contains(&per_5s), "{per_5s} requests in 5 s: not one seat's");

    // A pipeline ticks an item headless: every seat shows it within 1 s of
    // the command's exit (NOTIFY wakes them; the table is read in order).
    let open_item = |s: &str| s.contains("◦ Scope frozen");
    for s in &seats {
        s.wait_for("the open item", open_item, Duration::from_secs(5));
    }
    let (code, out, err) = flightdeck(&config, &server.url("bob"), &["tick", "scope-frozen", "--note", "ci run 42"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let ticked = Instant::now();
    // Round-robin over the seats: each one's time is when it was first seen
    // with the item ticked (a capture takes a few ms).
    let mut seen: Vec<Option<Duration>> = vec![None; seats.len()];
    while seen.iter().any(Option::is_none) {
        assert!(ticked.elapsed() < Duration::from_secs(5), "the headless tick never reached every seat: {seen:?}");
        for (i, s) in seats.iter().enumerate() {
            if seen[i].is_none() && !open_item(&s.capture()) {
                seen[i] = Some(ticked.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let fan_out = seen.iter().flatten().max().copied().unwrap_or_default();
    assert!(fan_out < Duration::from_secs(1), "the tick took {fan_out:?} to reach ten seats");

    // The leader is killed (SIGKILL: nothing can say goodbye).
    let leader = seats.iter().position(|s| leading(&s.capture())).unwrap();
    let killed = Command::new("kill").args(["-KILL", &seat_pid(&seats[leader])]).status().unwrap();
    assert!(killed.success());
    let killed_at = Instant::now();
    let others: Vec<&tmux::Tmux> = seats.iter().enumerate().filter(|(i, _)| *i != leader).map(|(_, s)| s).collect();
    let mut new_leader = None;
    while new_leader.is_none() {
        assert!(killed_at.elapsed() < Duration::from_secs(10), "nobody took the lead within 10 s");
        new_leader = others.iter().find(|s| leading(&s.capture()));
        std::thread::sleep(Duration::from_millis(100));
    }
    // A new version while the new leader polls: every seat shows it, and the
    // shared history holds the change (no gap across the takeover).
    *endpoint.version.lock().unwrap() = "1.3.9".into();
    for s in &others {
        s.wait_for("the new version on the seats left", |s| s.contains("1.3.9"), Duration::from_secs(10));
    }
    let history =
        server.psql_in("flightdeck", "SELECT event->>'old', event->>'new' FROM flightdeck_observations ORDER BY seq");
    let logs = std::fs::read_dir(work.path().join("data"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().contains("log"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    assert!(history.contains("|1.3.8") && history.contains("1.3.8|1.3.9"), "{history}\n{logs}");
    let per_5s = rate(&endpoint, Duration::from_secs(5));
    assert!((3..=7).contains(&per_5s), "{per_5s} requests in 5 s after the takeover: not one seat's");
    let (code, status, err) = flightdeck(&config, &server.url("bob"), &["team", "status"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(status.contains(&format!("release {RELEASE}: led by")), "{status}");
    assert!(status.contains("9 seat(s) connected"), "{status}");
    // A pipeline's check reads the team's cells: its own copy of the config
    // points at a closed port, and still sees what the leader polled.
    let gate = work.path().join("gate.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&gate, text.replace(&format!("127.0.0.1:{}", endpoint.port), "127.0.0.1:9")).unwrap();
    let (_, json, err) = flightdeck(&gate, &server.url("bob"), &["check", "--format", "json", "--retries", "0"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(json.to_string().contains("1.3.9"), "check did not read the team's cells: {json}");
    assert!(!err.contains("asking the sources directly"), "{err}");

    // PostgreSQL restarted mid-window: the seats say so, keep the last
    // state, and come back by themselves with one leader.
    server.pg_ctl("stop");
    for s in &others {
        let screen = s.wait_for("the outage said", |s| s.contains("team store unreachable"), Duration::from_secs(10));
        assert!(screen.contains("1.3.9"), "the last state stays on screen: {screen}");
    }
    server.pg_ctl("start");
    for s in &others {
        s.wait_for("the seat back", |s| leading(s) || following(s), Duration::from_secs(15));
    }
    std::thread::sleep(Duration::from_secs(3));
    let screens: Vec<String> = others.iter().map(|s| s.capture()).collect();
    assert_eq!(screens.iter().filter(|s| leading(s)).count(), 1, "one leader again: {screens:#?}");
    for s in &others {
        s.send("q");
        s.wait_for("exit", |s| s.contains("EXIT=0"), Duration::from_secs(10));
    }
}
