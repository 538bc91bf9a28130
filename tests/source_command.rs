//! The `command` source running real programs: small `#!/bin/sh` scripts
//! each test writes to its own temp dir, built the way the program does
//! (config text → activate → sweep).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flightdeck::model::{Evidence, Health, Reading, Role};
use flightdeck::poller::{SourceUpdate, sweep_once};
use flightdeck::sources::{FetchError, HttpContext};
use tempfile::TempDir;
use tokio::time::Instant;

/// Write an executable `#!/bin/sh` script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// One environment (`prod`), one service (`payments`) and a `command`
/// source; `options` are the source's own TOML lines.
fn config_text(options: &str) -> String {
    format!(
        r#"
[[environments]]
name = "prod"

[[services]]
name = "payments"

[[sources]]
name = "under-test"
kind = "command"
{options}
"#
    )
}

async fn sweep(text: &str) -> Vec<SourceUpdate> {
    let config = flightdeck::setup::from_toml_str(text, "test").unwrap_or_else(|e| panic!("config: {e}"));
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().expect("http client");
    sweep_once(&active, config.poller, &ctx, |_, _| {}).await
}

async fn fetch_one(options: &str) -> Result<Reading, FetchError> {
    let updates = sweep(&config_text(options)).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].role, Role::Deployment);
    updates.into_iter().next().unwrap().result
}

/// `program = "…"` as a TOML line (paths quoted as TOML literal strings).
fn program(path: &Path) -> String {
    format!("program = '{}'", path.display())
}

#[tokio::test]
async fn json_stdout_is_read_with_pointers() {
    let dir = TempDir::new().unwrap();
    let path = script(
        dir.path(),
        "deployed-version",
        r#"echo '{"release":{"version":"1.4.0","build":812},"git":"abc1234","ok":"UP"}'"#,
    );
    let options = format!(
        "{}\n[sources.fields]\nversion = \"/release/version\"\nbuild = \"/release/build\"\ncommit = \"/git\"\nhealth = \"/ok\"",
        program(&path)
    );
    let reading = fetch_one(&options).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("1.4.0"));
    assert_eq!(reading.build.as_deref(), Some("812"));
    assert_eq!(reading.commit.as_deref(), Some("abc1234"));
    assert_eq!(reading.health, Some(Health::Up));
}

#[tokio::test]
async fn plain_text_stdout_is_the_version() {
    let dir = TempDir::new().unwrap();
    let path = script(dir.path(), "v", "printf 'v2.0.1\\n'");
    assert_eq!(fetch_one(&program(&path)).await, Ok(Reading::version("v2.0.1")));
}

#[tokio::test]
async fn evidence_defaults_to_recorded() {
    let dir = TempDir::new().unwrap();
    let path = script(dir.path(), "v", "echo 1.0.0");
    let updates = sweep(&config_text(&program(&path))).await;
    assert_eq!(updates[0].evidence, Evidence::Recorded);
    let updates = sweep(&config_text(&format!("{}\nevidence = \"running\"", program(&path)))).await;
    assert_eq!(updates[0].evidence, Evidence::Running);
}

#[tokio::test]
async fn args_are_templated_per_argument_without_a_shell() {
    let dir = TempDir::new().unwrap();
    let witness = dir.path().join("still-here");
    std::fs::write(&witness, "").unwrap();
    // Echo back the argument count and the second argument, verbatim.
    let path = script(dir.path(), "echo-args", r#"printf '{"version":"%s","build":"%s"}' "$#" "$2""#);
    let hostile = format!("{{service}}; rm -rf {} $(touch pwned) `id` {{env}}", witness.display());
    let options = format!(
        "{}\nargs = [\"--service\", '{hostile}', \"--env\", \"{{env}}\"]\n[sources.fields]\nversion = \"/version\"\nbuild = \"/build\"",
        program(&path)
    );
    let reading = fetch_one(&options).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("4"), "four arguments, none split");
    assert_eq!(
        reading.build.as_deref(),
        Some(format!("payments; rm -rf {} $(touch pwned) `id` prod", witness.display()).as_str()),
        "one literal argument, placeholders filled"
    );
    assert!(witness.exists(), "nothing was run by a shell");
    assert!(!Path::new("pwned").exists() && !dir.path().join("pwned").exists());
}

#[tokio::test]
async fn env_is_passed_with_placeholders() {
    let dir = TempDir::new().unwrap();
    let path = script(dir.path(), "env", r#"printf '%s-%s' "$DEPLOY_DB" "$WHO""#);
    let options = format!("{}\nenv = {{ DEPLOY_DB = \"db1\", WHO = \"{{service}}@{{env}}\" }}", program(&path));
    assert_eq!(fetch_one(&options).await, Ok(Reading::version("db1-payments@prod")));
}

#[tokio::test]
async fn non_zero_exit_is_an_error_with_the_code_and_stderr() {
    let dir = TempDir::new().unwrap();
    let path = script(
        dir.path(),
        "fails",
        "echo 1.0.0\necho 'deploy-db: \\033[31mconnection refused\\033[0m' >&2\necho '  try again later' >&2\nexit 3",
    );
    let err = fetch_one(&program(&path)).await.expect_err("exit 3");
    assert_eq!(
        err.to_string(),
        format!("`{}` exited with code 3: deploy-db: connection refused try again later", path.display())
    );
}

#[tokio::test]
async fn a_long_stderr_is_cut_short_and_never_blocks() {
    let dir = TempDir::new().unwrap();
    // 2 MiB on stderr: more than a pipe holds, so it must be drained.
    let path = script(dir.path(), "chatty", "head -c 2097152 /dev/zero | tr '\\0' 'e' >&2\nexit 1");
    let started = Instant::now();
    let err = fetch_one(&format!("{}\ntimeout = \"10s\"", program(&path))).await.expect_err("exit 1");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let text = err.to_string();
    assert!(text.contains("exited with code 1: eeee"), "{text}");
    assert!(text.chars().count() < 400, "{} characters", text.chars().count());
}

#[tokio::test]
async fn a_hanging_program_is_killed_on_timeout() {
    let dir = TempDir::new().unwrap();
    let pid_file = dir.path().join("pid");
    // `exec` keeps the PID: the script becomes the sleep.
    let path = script(dir.path(), "hangs", &format!("echo $$ > '{}'\nexec sleep 30", pid_file.display()));
    let started = Instant::now();
    let result = fetch_one(&format!("{}\ntimeout = \"500ms\"", program(&path))).await;
    let elapsed = started.elapsed();
    assert_eq!(result, Err(FetchError::Timeout(Duration::from_millis(500))));
    assert!(elapsed < Duration::from_secs(3), "the sweep waited {elapsed:?}");

    let pid = std::fs::read_to_string(&pid_file).expect("the script ran").trim().to_string();
    let stat = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Gone, or a zombie waiting to be reaped: either way not running.
        match std::fs::read_to_string(&stat) {
            Err(_) => break,
            Ok(s) if s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')) => break,
            Ok(s) => {
                assert!(Instant::now() < deadline, "process {pid} still running: {s}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn oversized_stdout_is_too_large() {
    let dir = TempDir::new().unwrap();
    // Endless output: the source stops at 1 MiB and kills the program.
    let path = script(dir.path(), "floods", "exec yes 1.0.0");
    let started = Instant::now();
    let err = fetch_one(&format!("{}\ntimeout = \"10s\"", program(&path))).await.expect_err("too large");
    assert_eq!(err, FetchError::TooLarge { limit: flightdeck::sources::command::MAX_OUTPUT });
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_missing_absolute_program_is_a_config_error() {
    let err = flightdeck::setup::from_toml_str(&config_text("program = '/surely/not/here/deployed-version'"), "test")
        .expect_err("missing program")
        .to_string();
    assert!(err.contains("`sources[0].program`"), "{err}");
    assert!(err.contains("`/surely/not/here/deployed-version` does not exist"), "{err}");

    let dir = TempDir::new().unwrap();
    let plain = dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\necho 1\n").unwrap();
    let err = flightdeck::setup::from_toml_str(&config_text(&program(&plain)), "test").expect_err("no x bit");
    assert!(err.to_string().contains("is not executable"), "{err}");
}

#[tokio::test]
async fn a_program_not_on_path_is_a_readable_cell_error() {
    let err = fetch_one("program = 'flightdeck-surely-no-such-program'").await.expect_err("not found");
    assert_eq!(err.to_string(), "program not found: `flightdeck-surely-no-such-program` is not on PATH");
}

#[tokio::test]
async fn a_script_with_a_missing_interpreter_says_so() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bad-shebang");
    std::fs::write(&path, "#!/surely/not/an/interpreter\necho 1\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = fetch_one(&program(&path)).await.expect_err("no interpreter");
    assert!(err.to_string().contains("interpreter was not found"), "{err}");
}

#[tokio::test]
async fn empty_stdout_and_bad_json_are_field_errors_with_stderr() {
    let dir = TempDir::new().unwrap();
    let path = script(dir.path(), "silent", "echo 'no deployment record found' >&2");
    let err = fetch_one(&program(&path)).await.expect_err("no output");
    assert_eq!(
        err.to_string(),
        "the program printed nothing on stdout: no version (stderr: no deployment record found)"
    );

    let path = script(dir.path(), "nojson", "echo 1.4.0");
    let err = fetch_one(&format!("{}\n[sources.fields]\nversion = \"/version\"", program(&path)))
        .await
        .expect_err("fields need JSON");
    assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn control_sequences_in_output_arrive_cleaned() {
    let dir = TempDir::new().unwrap();
    let path = script(dir.path(), "escapes", "printf '1.4.0\\033[2J\\033]0;pwned\\007\\n'");
    assert_eq!(fetch_one(&program(&path)).await, Ok(Reading::version("1.4.0")));
}

#[test]
fn bad_options_are_config_errors_naming_the_key() {
    let check =
        |options: &str| flightdeck::setup::from_toml_str(&config_text(options), "test").expect_err("bad").to_string();
    let e = check("program = '/bin/sh'\nenv = { \"BAD-NAME\" = \"x\" }");
    assert!(e.contains("is not an environment variable name"), "{e}");
    let e = check("program = '/bin/sh'\nshell = true");
    assert!(e.contains("shell"), "{e}");
    let e = check("program = '/bin/sh'\ntoken_env = \"FLIGHTDECK_TEST_SURELY_UNSET_COMMAND_TOKEN\"");
    assert!(e.contains("FLIGHTDECK_TEST_SURELY_UNSET_COMMAND_TOKEN is not set"), "{e}");
    let e = check("program = '/bin/sh'\n[sources.fields]\nversion = \"version\"");
    assert!(e.contains("is not a JSON pointer"), "{e}");
    let e = check("program = ''");
    assert!(e.contains("the program is empty"), "{e}");
}

#[tokio::test]
async fn the_program_sees_only_the_basics_and_its_own_token() {
    let dir = tempfile::tempdir().unwrap();
    // Cargo sets CARGO_PKG_NAME for the test process: a stand-in for another
    // source's token that the program must not inherit.
    // It prints the variable's length: printing the token itself is refused.
    let path = script(dir.path(), "env.sh", "echo \"len${#CARGO_PKG_NAME}-${PATH:+path}\"");
    let reading = fetch_one(&program(&path)).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("len0-path"));
    // Named as this source's token_env, it is passed (and scrubbed from errors).
    let reading = fetch_one(&format!("{}\ntoken_env = \"CARGO_PKG_NAME\"", program(&path))).await.expect("a reading");
    assert_eq!(reading.version.as_deref(), Some("len10-path"));
    // A program answering with its token as the version is refused.
    let echo = script(dir.path(), "echo.sh", "echo \"$CARGO_PKG_NAME\"");
    let err = fetch_one(&format!("{}\ntoken_env = \"CARGO_PKG_NAME\"", program(&echo))).await.expect_err("a token");
    assert_eq!(err.to_string(), "the reading looks like the source's token");
}

/// Defect: a program printing its token in output that is not a version put
/// the whole token in `check` (every format), `report` and the cell. Every
/// text any source produces passes one scrub that knows every source's token.
#[test]
fn a_token_never_reaches_check_or_report_whatever_the_program_prints() {
    const TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJwxyz4242";
    const OTHER: &str = "glpat-another-sources-token-9876";
    let dir = TempDir::new().unwrap();
    // Not a version: two lines, the token in each, long enough to be cut.
    let leaky = script(
        dir.path(),
        "leaky",
        "echo \"token is $LEAKY_TOKEN and more text to make this line long\"; echo \"again $LEAKY_TOKEN\"",
    );
    // Prints another source's token (it reads it from a file it was given) as its version.
    let secret_file = dir.path().join("other");
    std::fs::write(&secret_file, OTHER).unwrap();
    let echo = script(dir.path(), "echo-other", &format!("cat '{}'", secret_file.display()));
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
data_dir = "{data}"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[[services]]
name = "cart"
[[sources]]
name = "leaky"
kind = "command"
program = '{leaky}'
token_env = "LEAKY_TOKEN"
services = ["payments"]
[[sources]]
name = "echoes-other"
kind = "command"
program = '{echo}'
services = ["cart"]
[[sources]]
name = "holds-other"
kind = "command"
program = '/bin/true'
token_env = "OTHER_TOKEN"
services = ["cart"]
[release]
name = "r1"
kind = "patch"
[release.targets]
payments = "1.0.0"
cart = "1.0.0"
"#,
            data = dir.path().join("data").display(),
            leaky = leaky.display(),
            echo = echo.display(),
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(args)
            .arg("--config")
            .arg(&config)
            .env("LEAKY_TOKEN", TOKEN)
            .env("OTHER_TOKEN", OTHER)
            .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
            .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
            .env("XDG_STATE_HOME", dir.path().join("xdg-state"))
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code(), text)
    };
    let pieces = [&TOKEN[..12], &OTHER[..12]];
    for args in [
        &["check", "--format", "text"][..],
        &["check", "--format", "json"],
        &["check", "--format", "markdown"],
        &["report", "--format", "markdown"],
        &["report", "--format", "json"],
    ] {
        let (code, text) = run(args);
        assert!(matches!(code, Some(0..=1)), "{args:?} exited {code:?}:\n{text}");
        for piece in pieces {
            assert!(!text.contains(piece), "{args:?} shows a token piece `{piece}`:\n{text}");
        }
        assert!(text.contains("does not look like a version"), "{args:?}: the leaky cell's error is gone:\n{text}");
        assert!(text.contains("the reading looks like the source's token"), "{args:?}:\n{text}");
    }
    // Nothing kept on disk holds it either (the observation journal).
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let kept = std::fs::read_to_string(&path).unwrap_or_default();
            for piece in pieces {
                assert!(!kept.contains(piece), "{} holds a token piece", path.display());
            }
        }
    }
}
