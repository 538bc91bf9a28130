//! The real binary's config commands, run in a sandbox: XDG dirs (and HOME)
//! inside a temp dir, every `FLIGHTDECK_*` variable removed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A private home for one test.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn config_home(&self) -> PathBuf {
        self.path("xdg-config")
    }

    /// Where flightdeck looks for the user's config.
    fn user_config(&self) -> PathBuf {
        self.config_home().join("flightdeck").join("config.toml")
    }

    /// Write `text` to `rel` inside the sandbox and return its path.
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        cmd.args(args)
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.config_home())
            .env("XDG_DATA_HOME", self.path("xdg-data"))
            .env("XDG_STATE_HOME", self.path("xdg-state"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FLIGHTDECK_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run flightdeck"))
    }

    fn check(&self, config: &Path) -> Run {
        self.run(&["config", "check", "--config", config.to_str().unwrap()])
    }
}

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

    /// Exit 2 with every `needle` in stderr.
    fn assert_usage_error(&self, needles: &[&str]) -> &Self {
        assert_eq!(self.code, Some(2), "expected exit 2: {self:#?}");
        for needle in needles {
            assert!(self.stderr.contains(needle), "stderr should mention {needle:?}: {self:#?}");
        }
        self
    }
}

/// A small valid config; the bad ones below are this with one thing wrong.
const VALID: &str = r#"
[[environments]]
name = "staging"

[[environments]]
name = "prod"

[[services]]
name = "payments"

[[services]]
name = "checkout"

[release]
name = "2026.11"
kind = "minor"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }

[release.targets]
payments = "1.4.0"

[[sources]]
name = "version-endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
every = "10s"
timeout = "3s"
"#;

/// Check that `text`, written to a file, is rejected naming the file and `key`.
fn rejects(text: &str, key: &str) -> Run {
    let sandbox = Sandbox::new();
    let file = sandbox.write("bad.toml", text);
    let run = sandbox.check(&file);
    run.assert_usage_error(&[file.to_str().unwrap(), key]);
    assert!(run.stdout.is_empty(), "nothing on stdout when the config is bad: {run:#?}");
    // One line per problem, each starting with where it is.
    for line in run.stderr.lines() {
        assert!(line.starts_with(file.to_str().unwrap()), "stray line {line:?}: {run:#?}");
    }
    run
}

#[test]
fn valid_config_is_ok() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("good.toml", VALID);
    let run = sandbox.check(&file);
    run.assert_ok();
    assert!(run.stdout.starts_with("ok:"), "{run:#?}");
    assert!(run.stdout.contains("2 environments, 2 services, 1 sources reading 4 cells"), "{run:#?}");
    assert!(run.stdout.contains("release 2026.11"), "{run:#?}");
    assert!(run.stdout.contains(file.to_str().unwrap()), "names the file it read: {run:#?}");
}

#[test]
fn unknown_top_level_key() {
    // At the top, before any table header: a top-level key.
    let run = rejects(&format!("colour = \"blue\"\n{VALID}"), "`colour`");
    assert!(run.stderr.contains("unknown field `colour`"), "{run:#?}");
    assert!(!run.stderr.contains("sources[0]"), "not inside a source: {run:#?}");
}

#[test]
fn unknown_key_in_an_http_source() {
    let text = VALID.replace("url = ", "urll = ");
    let run = rejects(&text, "urll");
    assert!(run.stderr.contains("sources[0]"), "locates the source: {run:#?}");
}

#[test]
fn bad_duration() {
    let run = rejects(&VALID.replace(r#"every = "10s""#, r#"every = "soon""#), "every");
    assert!(run.stderr.contains("sources[0].every"), "full key path: {run:#?}");
    assert!(run.stderr.contains("invalid duration `soon`"), "{run:#?}");
}

#[test]
fn a_database_url_pasted_into_the_config_is_refused_without_showing_it() {
    let text = format!("{VALID}\n[team]\ndatabase_url_env = \"postgres://carol:Sup3rSecret@db.example/fd\"\n");
    let run = rejects(&text, "team.database_url_env");
    assert!(run.stderr.contains("looks like the database URL itself"), "{run:#?}");
    assert!(!run.stderr.contains("Sup3rSecret") && !run.stderr.contains("carol"), "{run:#?}");
}

#[test]
fn a_bad_url_and_a_bad_pointer_are_reported_together() {
    let text = VALID.replace("http://127.0.0.1:9/", "http:///") + "[sources.fields]\nversion = \"/ver~2sion\"\n";
    let run = rejects(&text, "sources[0].url");
    assert!(run.stderr.contains("sources[0].fields.version"), "both in one run: {run:#?}");
}

#[test]
fn invalid_url_template() {
    let text = VALID.replace("{service}", "{svc}");
    let run = rejects(&text, "sources[0].url");
    assert!(run.stderr.contains("unknown placeholder {svc}"), "{run:#?}");
}

#[test]
fn duplicate_service_names() {
    let text = VALID.replace(r#"name = "checkout""#, r#"name = "payments""#);
    let run = rejects(&text, "services[1].name");
    assert!(run.stderr.contains("duplicate service `payments`"), "{run:#?}");
}

#[test]
fn release_target_for_unknown_service() {
    let text = VALID.replace(r#"payments = "1.4.0""#, "payments = \"1.4.0\"\nbilling = \"3.0.0\"");
    let run = rejects(&text, "release.targets.billing");
    assert!(run.stderr.contains("unknown service `billing`"), "{run:#?}");
}

#[test]
fn source_naming_an_unknown_environment() {
    let text = format!("{VALID}environments = [\"prod\", \"qa\"]\n");
    let run = rejects(&text, "sources[0].environments");
    assert!(run.stderr.contains("unknown environment `qa`"), "{run:#?}");
}

#[test]
fn window_ending_before_it_starts() {
    let text = VALID.replace(r#"end = "2026-11-24T20:00:00Z""#, r#"end = "2026-11-24T17:00:00Z""#);
    let run = rejects(&text, "release.window.end");
    assert!(run.stderr.contains("ends before it starts"), "{run:#?}");
}

#[test]
fn toml_syntax_error_gives_the_line() {
    let sandbox = Sandbox::new();
    // The first service's name lacks its closing quote.
    let text = VALID.replace(r#"name = "payments""#, r#"name = "payments"#);
    let line = text.lines().position(|l| l == r#"name = "payments"#).unwrap() + 1;
    let file = sandbox.write("broken.toml", &text);
    let run = sandbox.check(&file);
    run.assert_usage_error(&[file.to_str().unwrap(), "not valid TOML", &format!("(line {line})")]);
}

/// The commands `config init` says to run next, as words.
fn next_commands(init: &Run) -> Vec<Vec<String>> {
    let next: Vec<Vec<String>> = init
        .stdout
        .lines()
        .skip_while(|l| *l != "Next:")
        .skip(1)
        .map(|l| l.split('#').next().unwrap_or("").split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(next.len(), 2, "two commands to run next: {init:#?}");
    for command in &next {
        assert_eq!(command[0], "flightdeck", "{init:#?}");
    }
    next
}

#[test]
fn init_writes_a_config_that_checks_and_evaluates_and_refuses_to_overwrite() {
    let sandbox = Sandbox::new();
    let target = sandbox.path("nested/dir/flightdeck.toml");
    let target_str = target.to_str().unwrap();
    let run = sandbox.run(&["config", "init", "--path", target_str]);
    run.assert_ok();
    assert!(run.stdout.contains(target_str), "{run:#?}");
    let written = std::fs::read_to_string(&target).expect("init wrote the file");
    assert!(written.contains("# [[sources]]") && !written.contains("\n[[sources]]"), "sources are examples: {written}");

    // The two commands it prints, run as printed: both name the file.
    let next = next_commands(&run);
    assert_eq!(next[0][1..], ["config", "check", "--config", target_str]);
    assert_eq!(next[1][1..], ["check", "--config", target_str]);
    let checked = sandbox.run(&next[0][1..].iter().map(String::as_str).collect::<Vec<_>>());
    checked.assert_ok();
    assert!(checked.stdout.contains("2 environments, 2 services, 0 sources"), "{checked:#?}");
    assert!(checked.stdout.contains("checklist minor"), "{checked:#?}");
    let evaluated = sandbox.run(&next[1][1..].iter().map(String::as_str).collect::<Vec<_>>());
    // A verdict (go 0, no-go 1), not "could not evaluate" (2); the window
    // is the one written, ahead of now.
    assert!(matches!(evaluated.code, Some(0 | 1)), "{evaluated:#?}");
    assert!(evaluated.stdout.contains("verdict: "), "{evaluated:#?}");
    assert!(evaluated.stderr.is_empty(), "{evaluated:#?}");
    let window = written.lines().find(|l| l.starts_with("window = ")).expect("an active window line");
    let start = window.split('"').nth(1).unwrap();
    let start: std::time::SystemTime = humantime::parse_rfc3339(start).unwrap();
    let ahead = start.duration_since(std::time::SystemTime::now()).expect("the window opens after now");
    assert!(ahead <= std::time::Duration::from_secs(90 * 60), "within the next 90 minutes: {window}");
    assert!(evaluated.stdout.contains(&start_as_shown(&written)), "check evaluates the window written: {evaluated:#?}");

    std::fs::write(&target, "# edited by hand\n").unwrap();
    let again = sandbox.run(&["config", "init", "--path", target_str]);
    again.assert_usage_error(&[target_str, "already exists", "--force"]);
    assert!(again.stdout.is_empty(), "{again:#?}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "# edited by hand\n", "left untouched");

    sandbox.run(&["config", "init", "--path", target_str, "--force"]).assert_ok();
    let forced = std::fs::read_to_string(&target).unwrap();
    assert!(forced.starts_with("# flightdeck configuration"), "{forced}");
    sandbox.check(&target).assert_ok();
}

/// The window's start as `check` prints it: "2026-11-27 11:00".
fn start_as_shown(written: &str) -> String {
    let window = written.lines().find(|l| l.starts_with("window = ")).unwrap();
    let start = window.split('"').nth(1).unwrap();
    format!("window {} {}", &start[..10], &start[11..16])
}

#[test]
fn init_without_path_writes_the_user_config_and_says_to_run_plain_commands() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["config", "init"]);
    run.assert_ok();
    assert!(sandbox.user_config().is_file(), "wrote {}", sandbox.user_config().display());
    let next = next_commands(&run);
    assert_eq!(next, [vec!["flightdeck", "config", "check"], vec!["flightdeck", "check"]]);
    sandbox.run(&["config", "check"]).assert_ok();
    let evaluated = sandbox.run(&["check"]);
    assert!(matches!(evaluated.code, Some(0 | 1)) && evaluated.stdout.contains("verdict: "), "{evaluated:#?}");
    // The old flag still works.
    let other = sandbox.path("other.toml");
    sandbox.run(&["config", "init", "--to", other.to_str().unwrap()]).assert_ok();
    assert!(other.is_file());
}

#[test]
fn the_starter_records_a_tick_and_reports_it_in_each_format() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("fd.toml");
    let file = file.to_str().unwrap();
    sandbox.run(&["config", "init", "--path", file]).assert_ok();
    let tick =
        sandbox.command(&["tick", "scope-frozen", "--note", "tagged", "--config", file]).env("USER", "ana").output();
    Run::from(tick.expect("run flightdeck")).assert_ok();
    let report = |format: &str| {
        let run = sandbox.run(&["report", "--format", format, "--config", file]);
        run.assert_ok();
        run.stdout
    };
    let text = report("text");
    assert!(text.starts_with("release record: "), "{text}");
    assert!(text.contains("verdict: NO-GO"), "{text}");
    let timeline = text.split("timeline (UTC):").nth(1).unwrap_or_else(|| panic!("a timeline: {text}"));
    assert!(timeline.contains("ana ticked “Scope frozen") && timeline.contains(": tagged"), "{text}");
    assert!(!text.contains("**") && !text.contains("| "), "no Markdown in text: {text}");
    let markdown = report("markdown");
    assert!(markdown.starts_with("# Release record: ") && markdown.contains("ticked “Scope frozen"), "{markdown}");
    let json: serde_json::Value = serde_json::from_str(&report("json")).expect("json");
    assert_eq!(json["release_events"].as_array().map(Vec::len), Some(1), "{json:#}");
}

#[test]
fn config_path_shows_the_sandboxed_locations() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["config", "path"]);
    run.assert_ok();
    let user_config = sandbox.user_config();
    assert!(run.stdout.contains(user_config.to_str().unwrap()), "{run:#?}");
    assert!(run.stdout.contains("(not present)"), "{run:#?}");
    assert!(run.stdout.contains(sandbox.path("xdg-data").join("flightdeck").to_str().unwrap()), "{run:#?}");
    assert!(run.stdout.contains(sandbox.path("xdg-state").join("flightdeck").to_str().unwrap()), "{run:#?}");
}

#[test]
fn missing_config_file_is_named() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path("nope.toml");
    sandbox.check(&missing).assert_usage_error(&[missing.to_str().unwrap(), "no such file"]);
}

#[test]
fn no_config_at_all_says_how_to_make_one() {
    let sandbox = Sandbox::new();
    let user = sandbox.user_config();
    for args in [&["config", "check"][..], &["check"], &["report"], &["tick", "scope-frozen"], &["team", "status"]] {
        let run = sandbox.run(args);
        run.assert_usage_error(&[
            "no config found",
            user.to_str().unwrap(),
            "`flightdeck config init`",
            "--config FILE",
        ]);
        let command = if args[0] == "config" { "config check" } else { args[0] };
        assert!(run.stderr.starts_with(&format!("flightdeck {command}: ")), "names the command: {run:#?}");
    }
}

/// One file, many problems: unknown keys at three depths (one with no
/// near name), two in one source, a value of the wrong kind, and what
/// validation finds in the rest.
const MANY_PROBLEMS: &str = r#"
colour = "blue"

[[environments]]
name = "staging"

[[environments]]
name = "prod"
stale_afer = "30d"

[[services]]
name = "payments"

[[services]]
name = "payments"

[release]
name = "2026.11"
kind = "mayor"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }

[[sources]]
name = "gh"
kind = "github"
repo = "acme/{service}"
tokn_env = "GITHUB_TOKEN"
evry = "1m"

[poller]
concurency = 4
"#;

#[test]
fn config_check_lists_every_problem_in_one_run() {
    let run = rejects(MANY_PROBLEMS, "colour");
    let expected = [
        ("`colour`", "unknown field `colour`"),
        ("`environments[1].stale_afer`", "did you mean `stale_after`?"),
        ("`release.kind`", "did you mean `major`?"),
        ("`poller.concurency`", "did you mean `concurrency`?"),
        ("`services[1].name`", "duplicate service `payments`"),
        ("`sources[0].tokn_env`", "did you mean `token_env`?"),
        ("`sources[0].evry`", "did you mean `every`?"),
    ];
    for (key, says) in expected {
        let line =
            run.stderr.lines().find(|l| l.contains(key)).unwrap_or_else(|| panic!("no line for {key}: {run:#?}"));
        assert!(line.contains(says), "{key} should say {says:?}: {line}");
    }
    assert_eq!(run.stderr.lines().count(), expected.len(), "one line each, nothing repeated: {run:#?}");
    assert!(!run.stderr.lines().next().unwrap_or("").contains("did you mean"), "nothing is near `colour`: {run:#?}");
}

#[test]
fn problems_in_two_files_are_reported_together() {
    let sandbox = Sandbox::new();
    let user = sandbox.user_config();
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, format!("{VALID}\nmystery = 1\n")).unwrap();
    let over = sandbox.write("over.toml", "[release]\nname = \"x\"\nwindoww = 3\n");
    let run = sandbox.check(&over);
    run.assert_usage_error(&[user.to_str().unwrap(), "`mystery`", over.to_str().unwrap(), "`release.windoww`"]);
    assert!(run.stderr.contains("did you mean `window`?"), "{run:#?}");
}

#[test]
fn an_entry_without_its_name_stops_there_without_follow_on_problems() {
    let text = VALID.replace("[[services]]\nname = \"checkout\"", "[[services]]\nowner = \"team-checkout\"");
    let run = rejects(&format!("colour = 1\n{text}"), "services[1]");
    assert!(run.stderr.contains("missing field `name`"), "{run:#?}");
    assert!(run.stderr.contains("`colour`"), "the problem before it too: {run:#?}");
}

#[test]
fn user_config_is_picked_up_without_flag() {
    let sandbox = Sandbox::new();
    let user = sandbox.user_config();
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, VALID).unwrap();
    let run = sandbox.run(&["config", "check"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("ok:"), "{run:#?}");
    assert!(run.stdout.contains(user.to_str().unwrap()), "{run:#?}");
}

#[test]
fn bad_user_config_is_named() {
    let sandbox = Sandbox::new();
    let user = sandbox.user_config();
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, format!("{VALID}\nmystery = 1\n")).unwrap();
    sandbox.run(&["config", "check"]).assert_usage_error(&[user.to_str().unwrap(), "mystery"]);
}

#[test]
fn config_flag_layers_over_the_user_config() {
    let sandbox = Sandbox::new();
    let user = sandbox.user_config();
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, VALID).unwrap();
    let over = sandbox.write("over.toml", "[release]\nname = \"from-flag\"\n");
    let run = sandbox.check(&over);
    run.assert_ok();
    assert!(run.stdout.contains("release from-flag"), "{run:#?}");
}

#[test]
fn environment_variables_override_files() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("good.toml", VALID);
    let run = Run::from(
        sandbox
            .command(&["config", "check", "--config", file.to_str().unwrap()])
            .env("FLIGHTDECK_RELEASE__NAME", "from-env")
            .output()
            .unwrap(),
    );
    run.assert_ok();
    assert!(run.stdout.contains("release from-env"), "{run:#?}");
}

#[test]
fn a_bad_value_from_an_environment_variable_blames_the_variable() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("good.toml", VALID);
    let run = Run::from(
        sandbox
            .command(&["config", "check", "--config", file.to_str().unwrap()])
            .env("FLIGHTDECK_RELEASE__NAME", " ")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("environment (FLIGHTDECK_RELEASE__NAME)"), "{run:#?}");
    assert!(!run.stderr.contains(file.to_str().unwrap()), "not the file: {run:#?}");
}

#[test]
fn environment_values_stay_strings() {
    // "2026.10" must not become the number 2026.1: that is another release.
    let sandbox = Sandbox::new();
    let file = sandbox.write("good.toml", VALID);
    let run = Run::from(
        sandbox
            .command(&["config", "check", "--config", file.to_str().unwrap()])
            .env("FLIGHTDECK_RELEASE__NAME", "2026.10")
            .output()
            .unwrap(),
    );
    run.assert_ok();
    assert!(run.stdout.contains("release 2026.10,") || run.stdout.contains("release 2026.10 "), "{run:#?}");
}

#[test]
fn a_bad_environment_variable_is_named() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("good.toml", VALID);
    let run = Run::from(
        sandbox
            .command(&["config", "check", "--config", file.to_str().unwrap()])
            .env("FLIGHTDECK_POLLER__MAX_BACKOFF", "soon")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("FLIGHTDECK_POLLER__MAX_BACKOFF"), "names the variable: {run:#?}");
    assert!(run.stderr.contains("invalid duration `soon`"), "{run:#?}");
}

#[test]
fn cockpit_without_a_terminal_exits_2() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("good.toml", VALID);
    // stdout is a pipe here, never a terminal.
    sandbox.run(&[]).assert_usage_error(&["needs a terminal"]);
    sandbox.run(&["--config", file.to_str().unwrap()]).assert_usage_error(&["needs a terminal"]);
    sandbox.run(&["demo"]).assert_usage_error(&["needs a terminal"]);
}

const METRICS: &str = r#"
[[sources]]
name = "metrics"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
[sources.queries]
error_rate = 'sum(rate(errors{job="{service}"}[5m]))'
"#;

#[test]
fn rollback_settings_are_checked_and_located() {
    // A valid [rollback] first: the same file must pass before it is broken.
    let good = format!(
        "{VALID}{METRICS}[rollback]\nknown_good_after = \"30m\"\nbaseline = \"2h\"\n\
         [[rollback.triggers]]\nmetric = \"error_rate\"\nfactor = 10\nmin = 0.01\nenvironments = [\"prod\"]\n"
    );
    let sandbox = Sandbox::new();
    sandbox.check(&sandbox.write("good.toml", &good)).assert_ok();

    let run = rejects(&good.replace("metric = \"error_rate\"", "metric = \"errors\""), "rollback.triggers[0].metric");
    assert!(run.stderr.contains("no prometheus source has a query named `errors` (known: error_rate)"), "{run:#?}");
    let run = rejects(&good.replace("factor = 10", "factor = 0.5"), "rollback.triggers[0].factor");
    assert!(run.stderr.contains("use more than 1"), "{run:#?}");
    let run = rejects(&good.replace("min = 0.01", "above = 0.5"), "rollback.triggers[0].above");
    assert!(run.stderr.contains("not both"), "{run:#?}");
    let run = rejects(&good.replace("baseline = \"2h\"", "baseline = \"yesterday\""), "rollback.baseline");
    assert!(run.stderr.contains("invalid baseline `yesterday`"), "{run:#?}");
    let run = rejects(&good.replace("environments = [\"prod\"]", "environments = [\"live\"]"), "environments");
    assert!(run.stderr.contains("unknown environment `live`"), "{run:#?}");
    rejects(&good.replace("factor = 10", "factr = 10"), "factr");
    let run = rejects(&good.replace("min = 0.01", "min = 0"), "rollback.triggers[0].min");
    assert!(run.stderr.contains("must be above 0"), "{run:#?}");
    let run = rejects(&good.replace("baseline = \"2h\"", "baseline = \"2026-11-24T19:00:00Z\""), "rollback.baseline");
    assert!(run.stderr.contains("after the window opens"), "{run:#?}");
}

#[test]
fn rollback_methods_and_migrations_are_checked() {
    let text = VALID.replace(
        "name = \"payments\"\n",
        "name = \"payments\"\nrollback = \"deployctl rollback {service} --to {prev}\"\n",
    );
    let run = rejects(&text, "services[0].rollback");
    assert!(run.stderr.contains("unknown placeholder {prev}"), "{run:#?}");
    let text =
        VALID.replace("[release.targets]", "[release.migrations]\nbilling = \"irreversible\"\n[release.targets]");
    let run = rejects(&text, "release.migrations.billing");
    assert!(run.stderr.contains("unknown service `billing`"), "{run:#?}");
    let text = VALID.replace("[release.targets]", "[release.migrations]\npayments = \"maybe\"\n[release.targets]");
    rejects(&text, "migrations");
}

#[test]
fn a_url_template_without_host_is_rejected() {
    // `http:///{env}/…` parses as a URL whose host is the environment.
    let text = VALID.replace("http://127.0.0.1:9/{env}/{service}", "http:///{env}/{service}");
    let run = rejects(&text, "sources[0].url");
    assert!(run.stderr.contains("invalid URL template `http:///{env}/{service}`: no host after `http://`"), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
}

/// `VALID` with one more source (TOML lines, after `[[sources]]`).
fn with_source(lines: &str) -> String {
    format!("{VALID}\n[[sources]]\n{lines}\n")
}

/// `lines` (a source, `{url}` in it) is fine with a host, and rejected
/// naming `sources[1].api_url` with `http:///x`.
fn api_url_needs_a_host(kind: &str, lines: &str) {
    let sandbox = Sandbox::new();
    sandbox.check(&sandbox.write("good.toml", &with_source(&lines.replace("{url}", "http://x")))).assert_ok();
    let sandbox = Sandbox::new();
    let run = sandbox.check(&sandbox.write("bad.toml", &with_source(&lines.replace("{url}", "http:///x"))));
    assert_eq!(run.code, Some(2), "{kind}: `http:///x` must be rejected: {run:#?}");
    assert!(run.stderr.contains("sources[1].api_url"), "{kind}: {run:#?}");
    assert!(run.stderr.contains("`http:///x`: no host after `http://`"), "{kind}: {run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{kind}: {run:#?}");
}

#[test]
fn an_api_url_template_without_host_is_rejected() {
    api_url_needs_a_host("argocd", "name = \"argocd\"\nkind = \"argocd\"\napi_url = \"{url}\"");
    api_url_needs_a_host(
        "prometheus",
        "name = \"metrics\"\nkind = \"prometheus\"\napi_url = \"{url}\"\n[sources.queries]\nrps = 'x'",
    );
}

#[test]
fn a_github_or_gitlab_api_url_without_host_is_rejected() {
    api_url_needs_a_host("github", "name = \"gh\"\nkind = \"github\"\nrepo = \"acme/{service}\"\napi_url = \"{url}\"");
    api_url_needs_a_host(
        "gitlab",
        "name = \"gl\"\nkind = \"gitlab\"\nproject = \"acme/{service}\"\napi_url = \"{url}\"",
    );
}

#[test]
fn an_invalid_json_pointer_is_rejected_naming_the_key() {
    let text = format!("{VALID}[sources.fields]\nversion = \"/ver~2sion\"\n");
    let run = rejects(&text, "sources[0].fields.version");
    assert!(run.stderr.contains("`/ver~2sion` is not a JSON pointer: `~2` is not an escape"), "{run:#?}");
    let text = format!("{VALID}[sources.fields]\nversion = \"/a~1b\"\ncommit = \"/git/sha~\"\n");
    let run = rejects(&text, "sources[0].fields.commit");
    assert!(run.stderr.contains("`/git/sha~` is not a JSON pointer: it ends with a lone '~'"), "{run:#?}");
    // Escapes RFC 6901 allows are fine.
    let sandbox = Sandbox::new();
    let good = format!("{VALID}[sources.fields]\nversion = \"/a~1b/~0c\"\nbuild = \"\"\n");
    sandbox.check(&sandbox.write("good.toml", &good)).assert_ok();
}

#[test]
fn a_command_source_with_an_invalid_json_pointer_is_rejected() {
    let lines = "name = \"deploy-db\"\nkind = \"command\"\nprogram = \"deployed-version\"\n\
                 args = [\"{service}\", \"{env}\"]\n[sources.fields]\nversion = \"{pointer}\"";
    let sandbox = Sandbox::new();
    sandbox.check(&sandbox.write("good.toml", &with_source(&lines.replace("{pointer}", "/version")))).assert_ok();
    let run = rejects(&with_source(&lines.replace("{pointer}", "/ver~2sion")), "sources[1].fields.version");
    assert!(run.stderr.contains("`/ver~2sion` is not a JSON pointer: `~2` is not an escape"), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
}
