//! The `command` source: for systems flightdeck does not speak to directly,
//! run a configured program per cell and read what it prints.
//!
//! ```toml
//! [[sources]]
//! name = "deploy-db"
//! kind = "command"
//! program = "/usr/local/bin/deployed-version"
//! args = ["--service", "{service}", "--env", "{env}"]
//! # env = { DEPLOY_DB_URL = "https://deploy-db.internal" }   # extra variables
//! # token_env = "DEPLOY_DB_TOKEN"   # must be set; the program gets it (and PATH, HOME, LANG…, nothing else)
//! # [sources.fields]                # JSON pointers, as for `http`
//! # version = "/version"
//! ```
//!
//! There is no shell: the program is started directly and each argument is
//! templated on its own (`{service}`, `{env}`), so a value can never turn
//! into shell syntax. stdout is JSON read with pointers, or a single line
//! that is the version (capped at 1 MiB); stderr is kept for error
//! messages. The program inherits flightdeck's environment plus `env`; it
//! runs in its own process group, killed with everything it started when
//! the fetch ends or times out, and when the cockpit leaves by any way
//! (see [`crate::children`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::auth::{self, Token};
use super::fetch::{self, FetchError, HttpContext};
use super::http::{self as http_source, Fields, parse_options};
use super::{CellTarget, Fetched, OptionError, Source};
use crate::model::SourceSpec;
use crate::model::{Evidence, Reading};
use crate::sanitize;

/// Largest stdout read from the program; more is an error.
pub const MAX_OUTPUT: usize = fetch::MAX_BODY;
/// Bytes of stderr kept for error messages (the rest is read and dropped,
/// so a chatty program never blocks on a full pipe).
const STDERR_KEEP: usize = 8 * 1024;
/// Characters of stderr shown in a cell's error.
const STDERR_SHOWN: usize = 200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    program: String,
    #[serde(default)]
    args: Vec<String>,
    fields: Option<Fields>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    token_env: Option<String>,
}

pub(crate) struct CommandSource {
    program: Arc<str>,
    args: Arc<[String]>,
    env: Arc<[(String, String)]>,
    /// `Some` when configured: stdout must then be JSON.
    fields: Option<Fields>,
    /// Kept only to scrub it from error messages, should the program print it.
    token: Option<Token>,
    /// The variable `token_env` names: the one secret the program may see.
    token_env: Option<String>,
}

/// What a program inherits from flightdeck's environment: the basics a
/// program needs, never other sources' tokens.
const INHERITED: &[&str] = &["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"];

impl CommandSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let mut errors = Vec::new();
        if let Err(m) = check_program(&options.program) {
            errors.push(OptionError::new("program", m));
        }
        for name in options.env.keys() {
            if !valid_env_name(name) {
                errors.push(OptionError::new(
                    format!("env.{name}"),
                    format!("`{}` is not an environment variable name", sanitize::clean_to(name, 40)),
                ));
            }
        }
        if let Some(fields) = &options.fields {
            errors.extend(fields.problems());
        }
        let token = auth::from_env(options.token_env.as_deref()).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Arc::new(CommandSource {
            program: Arc::from(options.program.as_str()),
            args: options.args.into(),
            env: options.env.into_iter().collect(),
            fields: options.fields,
            token,
            token_env: options.token_env,
        }))
    }
}

/// Check what can be checked before running: an absolute path must exist
/// and be an executable file. Other names are looked up on `PATH` (or
/// relative to the working directory) when run.
fn check_program(program: &str) -> Result<(), String> {
    if program.trim().is_empty() {
        return Err("the program is empty".into());
    }
    if program.contains('\0') {
        return Err("the program contains a NUL byte".into());
    }
    let path = Path::new(program);
    if !path.is_absolute() {
        return Ok(());
    }
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("`{program}` does not exist"),
        _ => format!("`{program}`: {e}"),
    })?;
    if !meta.is_file() {
        return Err(format!("`{program}` is not a file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("`{program}` is not executable (chmod +x)"));
        }
    }
    Ok(())
}

fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Source for CommandSource {
    fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// What a program reports is most often a deployment record; say
    /// `evidence = "running"` (or another level) when it asks the service.
    fn default_evidence(&self) -> Evidence {
        Evidence::Recorded
    }

    fn fetch(&self, _ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        let mut command = tokio::process::Command::new(&*self.program);
        let inherited = INHERITED.iter().copied().chain(self.token_env.as_deref());
        command
            .env_clear()
            .envs(inherited.filter_map(|k| std::env::var_os(k).map(|v| (k, v))))
            .args(self.args.iter().map(|a| super::render(a, &cell.service, &cell.env)))
            .envs(self.env.iter().map(|(k, v)| (k, super::render(v, &cell.service, &cell.env))))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so ending it ends what it started too.
            .process_group(0)
            // The poller drops this future on timeout: the program goes with it.
            .kill_on_drop(true);
        let program = self.program.clone();
        let fields = self.fields.clone();
        let token = self.token.clone();
        async move {
            let output = run(command, &program).await.map_err(|e| scrub_error(e, token.as_ref()))?;
            let stderr = snippet(&output.stderr, token.as_ref());
            if !output.status.success() {
                return Err(FetchError::Other(exit_message(&program, output.status, &stderr)));
            }
            decode_output(&output.stdout, fields.as_ref()).map_err(|e| with_stderr(e, &stderr))
        }
        .map(|read| read.map(Fetched::Reading))
        .boxed()
    }
}

/// What a finished program left behind.
#[derive(Debug)]
struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Start the program, read stdout (capped) and stderr (a prefix kept)
/// together, then reap it. Dropping this future kills the program.
async fn run(mut command: tokio::process::Command, program: &str) -> Result<Output, FetchError> {
    let mut child = spawn(&mut command).await.map_err(|e| spawn_error(program, &e))?;
    // Registered while it runs; dropped (done, failed, timed out, or the
    // cockpit leaving) it kills the whole group: no orphan is left behind.
    let _group = child.id().and_then(crate::children::ProcessGroup::register);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // `try_join` stops at an oversized stdout without waiting for stderr to
    // end; the child is then dropped, and killed, on return.
    let (stdout, stderr) = futures::future::try_join(
        async {
            match stdout {
                Some(pipe) => read_capped(pipe, MAX_OUTPUT).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match stderr {
                Some(pipe) => read_prefix(pipe, STDERR_KEEP).await,
                None => Ok(Vec::new()),
            }
        },
    )
    .await?;
    let status = child.wait().await.map_err(|e| FetchError::Other(format!("waiting for `{program}` failed: {e}")))?;
    Ok(Output { status, stdout, stderr })
}

/// Spawn, retrying briefly while the file is busy: a program being
/// replaced (a deploy of the tool itself) or a script just written.
async fn spawn(command: &mut tokio::process::Command) -> std::io::Result<tokio::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 5 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * tries)).await;
            }
            other => return other,
        }
    }
}

async fn read_capped(mut pipe: impl AsyncRead + Unpin, limit: usize) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = pipe.read(&mut buf).await.map_err(read_error)?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(FetchError::TooLarge { limit });
        }
        out.extend_from_slice(&buf[..n]);
    }
}

async fn read_prefix(mut pipe: impl AsyncRead + Unpin, keep: usize) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = pipe.read(&mut buf).await.map_err(read_error)?;
        if n == 0 {
            return Ok(out);
        }
        let room = keep.saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
    }
}

fn read_error(e: std::io::Error) -> FetchError {
    FetchError::Other(format!("reading the program's output failed: {}", sanitize::clean_to(&e.to_string(), 80)))
}

fn spawn_error(program: &str, e: &std::io::Error) -> FetchError {
    let shown = sanitize::clean_to(program, 120);
    FetchError::Other(match e.kind() {
        // A script whose `#!` interpreter is missing also fails with "not found".
        std::io::ErrorKind::NotFound if program.contains('/') && Path::new(program).exists() => {
            format!("cannot run `{shown}`: its interpreter was not found (check the #! line)")
        }
        std::io::ErrorKind::NotFound if program.contains('/') => format!("program not found: `{shown}`"),
        std::io::ErrorKind::NotFound => format!("program not found: `{shown}` is not on PATH"),
        std::io::ErrorKind::PermissionDenied => format!("cannot run `{shown}`: permission denied (is it executable?)"),
        _ => format!("cannot run `{shown}`: {}", sanitize::clean_to(&e.to_string(), 80)),
    })
}

fn exit_message(program: &str, status: ExitStatus, stderr: &str) -> String {
    let shown = sanitize::clean_to(program, 120);
    let how = match status.code() {
        Some(code) => format!("`{shown}` exited with code {code}"),
        None => match signal_of(status) {
            Some(signal) => format!("`{shown}` was killed by signal {signal}"),
            None => format!("`{shown}` failed ({status})"),
        },
    };
    if stderr.is_empty() { how } else { format!("{how}: {stderr}") }
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn signal_of(_: ExitStatus) -> Option<i32> {
    None
}

/// A short, clean, token-free line from the program's stderr.
fn snippet(stderr: &[u8], token: Option<&Token>) -> String {
    let redact = |text: String| token.map_or_else(|| text.clone(), |t| t.redact(text.clone()));
    let text = redact(String::from_utf8_lossy(stderr).into_owned());
    // Cleaning collapses whitespace; a token has none, but be sure.
    redact(sanitize::clean_to(&text, STDERR_SHOWN))
}

/// Scrub the token out of an error's text (the program could print it).
fn scrub_error(err: FetchError, token: Option<&Token>) -> FetchError {
    match token {
        Some(token) => token.scrub(err),
        None => err,
    }
}

/// Add what the program said on stderr to a decoding error.
fn with_stderr(err: FetchError, stderr: &str) -> FetchError {
    if stderr.is_empty() {
        return err;
    }
    match err {
        FetchError::Field(m) => FetchError::Field(format!("{m} (stderr: {stderr})")),
        FetchError::Malformed(m) => FetchError::Malformed(format!("{m} (stderr: {stderr})")),
        other => other,
    }
}

/// Decode what the program printed. Pure. With `fields` configured stdout
/// must be JSON; without, JSON is read with the `http` source's default
/// pointers and anything else is taken as a plain-text version.
pub fn decode_output(stdout: &[u8], fields: Option<&Fields>) -> Result<Reading, FetchError> {
    if stdout.trim_ascii().is_empty() {
        return Err(FetchError::Field("the program printed nothing on stdout: no version".into()));
    }
    match fields {
        Some(fields) => http_source::decode(stdout, Some("application/json"), fields),
        None => http_source::decode(stdout, None, &Fields::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Health;

    #[test]
    fn plain_text_stdout_is_the_version() {
        assert_eq!(decode_output(b"1.4.0\n", None), Ok(Reading::version("1.4.0")));
    }

    #[test]
    fn json_stdout_is_read_with_pointers() {
        let fields = Fields { version: "/app/version".into(), health: Some("/app/ok".into()), ..Fields::default() };
        let r = decode_output(br#"{"app":{"version":"2.0.0","ok":true},"build":"77"}"#, Some(&fields)).unwrap();
        assert_eq!(r.version.as_deref(), Some("2.0.0"));
        assert_eq!(r.build.as_deref(), Some("77"));
        assert_eq!(r.health, Some(Health::Up));
        // Default pointers without `fields`.
        let r = decode_output(br#"{"version":"3.1.0","commit":"abc"}"#, None).unwrap();
        assert_eq!((r.version.as_deref(), r.commit.as_deref()), (Some("3.1.0"), Some("abc")));
    }

    #[test]
    fn configured_fields_require_json() {
        let err = decode_output(b"1.4.0", Some(&Fields::default())).unwrap_err();
        assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn empty_stdout_says_so() {
        let err = decode_output(b" \n", None).unwrap_err();
        assert_eq!(err.to_string(), "the program printed nothing on stdout: no version");
    }

    #[test]
    fn placeholders_are_rendered_per_argument() {
        let cell = CellTarget {
            key: crate::model::CellKey { service: 0, env: 0 },
            service: "payments".into(),
            env: "prod".into(),
        };
        assert_eq!(super::super::render("--svc={service}@{env}", &cell.service, &cell.env), "--svc=payments@prod");
        assert_eq!(super::super::render(r#"{"a":{service}}"#, &cell.service, &cell.env), r#"{"a":payments}"#);
        assert_eq!(super::super::render("{svc}", &cell.service, &cell.env), "{svc}");
    }

    #[test]
    fn stderr_snippets_are_short_clean_and_token_free() {
        let s = snippet(
            b"error: \x1b[31mbad\x1b[0m token s3cr3t-value\n\n  retry later",
            Some(&Token::for_test("s3cr3t-value")),
        );
        assert_eq!(s, "error: bad token [redacted] retry later");
        assert_eq!(snippet(b"  plain\n", None), "plain");
        assert!(snippet(&vec![b'e'; 10_000], None).chars().count() <= STDERR_SHOWN + 1);
    }

    #[test]
    fn program_checks() {
        assert!(check_program("").is_err());
        assert!(check_program("deployed-version").is_ok(), "looked up on PATH when run");
        assert!(check_program("/surely/not/here/deployed-version").unwrap_err().contains("does not exist"));
        assert!(check_program("/").unwrap_err().contains("not a file"));
        assert!(check_program("/bin/sh").is_ok());
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("DEPLOY_DB_URL"));
        assert!(valid_env_name("_x1"));
        assert!(!valid_env_name("1X"));
        assert!(!valid_env_name("A-B"));
        assert!(!valid_env_name(""));
    }

    proptest::proptest! {
        #[test]
        fn decode_output_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode_output(&body, None);
            let _ = decode_output(&body, Some(&Fields::default()));
        }
    }
}
