//! A real PostgreSQL (Debian's `postgresql` package) of the test's or
//! bench's own: `initdb` in a temporary directory, `pg_ctl` on a free
//! loopback port, as the `postgres` user when we run as root (the server
//! refuses root), with password (SCRAM) authentication over TCP and trust
//! on its own socket directory for the owner's `psql`.
//!
//! Shared by `tests/team_pg.rs` and `benches/team.rs` (each includes it
//! with `#[path]`).

#![allow(dead_code)] // each includer uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The owner role (`initdb -U`), and every role's password.
pub const OWNER: &str = "fdowner";
pub const PASSWORD: &str = "pw-Zq7!team";

/// The server's programs: Debian keeps them out of PATH.
pub fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|d| d.ok()).map(|d| d.path().join("bin").join(name)).filter(|p| p.is_file()).collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is required (apt-get install postgresql): no {name} under /usr/lib/postgresql/*/bin")
    })
}

pub fn root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

/// Run a server program as `postgres` when we are root.
pub fn as_server_user(program: &Path) -> Command {
    if root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A PostgreSQL server of our own, stopped when dropped.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Server settings beyond the port and address (`-c name=value ...`),
    /// kept for every `pg_ctl start`.
    settings: String,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Start with extra server settings, e.g. `["max_connections=400"]`.
    pub fn start_with(settings: &[&str]) -> Server {
        let initdb = pg_bin("initdb");
        let dir = tempfile::tempdir().unwrap();
        if root() {
            ok(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).output().unwrap(), "chown");
        }
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if root() {
            ok(Command::new("chown").args(["postgres:postgres"]).arg(&pwfile).output().unwrap(), "chown");
        }
        ok(
            as_server_user(&initdb)
                .arg("-D")
                .arg(&data)
                .args(["-U", OWNER, "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile"])
                .arg(&pwfile)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", initdb.display())),
            "initdb",
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let settings = settings.iter().map(|s| format!(" -c {s}")).collect();
        let server = Server { dir, port, settings };
        server.pg_ctl("start");
        server.psql("CREATE DATABASE flightdeck");
        server.psql(&format!(
            "CREATE ROLE alice LOGIN PASSWORD '{PASSWORD}'; CREATE ROLE bob LOGIN PASSWORD '{PASSWORD}';"
        ));
        server
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn pg_ctl(&self, what: &str) {
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1{}", self.port, self.dir.path().display(), self.settings);
        let mut cmd = as_server_user(&pg_bin("pg_ctl"));
        cmd.arg("-D").arg(&data).arg("-l").arg(&log).args(["-o", &options, "-w", "-t", "30"]);
        if what == "stop" {
            cmd.args(["-m", "immediate"]);
        }
        let out = cmd.arg(what).output().unwrap();
        if what != "stop" {
            ok(out, &format!("pg_ctl {what} (log: {})", std::fs::read_to_string(&log).unwrap_or_default()));
        }
    }

    /// SQL as the owner, over the local socket (trust).
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let out = Command::new(pg_bin("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", OWNER, "-d", db, "-c", sql])
            .output()
            .unwrap();
        String::from_utf8_lossy(&ok(out, sql).stdout).into_owned()
    }

    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// The `flightdeck` database's URL for `role` (TCP, password).
    pub fn url(&self, role: &str) -> String {
        format!("postgres://{role}:{}@127.0.0.1:{}/flightdeck", PASSWORD.replace('!', "%21"), self.port)
    }

    /// The postmaster's pid (first line of `postmaster.pid`).
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.pg_ctl("stop");
    }
}
