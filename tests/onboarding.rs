//! What a new user meets before any config: shell completions, the manual
//! page and the help of the headless commands, from the real binary.

use std::process::{Command, Output, Stdio};

fn flightdeck(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.args(args)
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FLIGHTDECK_") {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("run flightdeck")
}

/// stdout of a run that must succeed with nothing on stderr.
fn stdout_of(args: &[&str]) -> String {
    let out = flightdeck(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "flightdeck {args:?}: {stderr}");
    assert!(stderr.is_empty(), "flightdeck {args:?}: {stderr}");
    stdout
}

/// The subcommands a completion or a manual page must know.
const SUBCOMMANDS: &[&str] = &["demo", "check", "report", "config", "tick", "decide", "team", "completions", "man"];

#[test]
fn completions_for_each_shell_know_the_subcommands() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef flightdeck"), ("fish", "complete -c flightdeck")]
    {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: a {shell} completion script: {script}");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion should offer `{sub}`");
        }
        // Values too, not only names: report's formats.
        assert!(script.contains("markdown"), "{shell} completion should offer the format values");
    }
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error_listing_the_shells() {
    let out = flightdeck(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for shell in ["bash", "zsh", "fish"] {
        assert!(stderr.contains(shell), "lists {shell}: {stderr}");
    }
}

#[test]
fn man_prints_a_roff_manual_page() {
    let page = stdout_of(&["man"]);
    let th = page.lines().find(|l| l.starts_with(".TH ")).unwrap_or_else(|| panic!("no .TH line: {page}"));
    assert!(th.contains("flightdeck"), "{th}");
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"), "{page}");
    assert!(page.contains("release cockpit"), "the description: {page}");
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "the page should list `{sub}`");
    }
}

#[test]
fn report_help_shows_the_format_values_with_what_each_is_for() {
    let help = stdout_of(&["report", "--help"]);
    assert!(help.contains("--format <FORMAT>"), "{help}");
    for (value, says) in [("text", "Plain text"), ("markdown", "Markdown"), ("json", "JSON")] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("- {value}:")))
            .unwrap_or_else(|| panic!("no line for {value}: {help}"));
        assert!(line.contains(says), "{value}: {line}");
    }
    assert!(help.contains("[default: markdown]"), "{help}");
    // The short help lists the values too.
    let short = stdout_of(&["report", "-h"]);
    assert!(short.contains("[possible values: markdown, text, json]"), "{short}");
}

#[test]
fn check_help_shows_the_format_values_the_same_way() {
    let help = stdout_of(&["check", "--help"]);
    for value in ["text", "markdown", "json"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(&format!("- {value}:"))), "{value}: {help}");
    }
    assert!(help.contains("[default: text]"), "{help}");
}

#[test]
fn config_init_help_names_its_flags() {
    let help = stdout_of(&["config", "init", "--help"]);
    assert!(help.contains("--path <FILE>") && help.contains("--force"), "{help}");
}
