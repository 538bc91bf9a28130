//! The checklist through the real binary: verdict rules (hold, no-go, go),
//! blackouts, recorded decisions, `check`'s `checklist` key, bad templates,
//! and `flightdeck report`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::routing::get;
use flightdeck::journal::release::{Decision, ReleaseAction, ReleaseEvent};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

struct World {
    _rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl World {
    /// Every service at its target everywhere, healthy: no findings.
    fn new() -> World {
        World::serving(false)
    }

    /// With `prod_behind`, prod still runs the previous versions (api 1.9.0,
    /// web 0.9.0): the release has not reached production yet.
    fn serving(prod_behind: bool) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let app = Router::new().route(
            "/{env}/{service}",
            get(move |UrlPath((env, service)): UrlPath<(String, String)>| async move {
                let v = match (service.as_str(), env.as_str()) {
                    ("api", "prod") if prod_behind => "1.9.0",
                    ("web", "prod") if prod_behind => "0.9.0",
                    ("api", _) => "2.0.0",
                    _ => "1.0.0",
                };
                axum::Json(json!({"version": v, "build": "7", "health": "UP"}))
            }),
        );
        let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        World { _rt: rt, addr, dir: tempfile::tempdir().unwrap() }
    }

    /// A patch release whose window starts `start_in` from now (negative:
    /// started); `None`: no window.
    fn config(&self, start_in: Option<SignedDuration>, extra_release: &str) -> PathBuf {
        let window = match start_in {
            Some(start_in) => {
                let start = Timestamp::now() + start_in;
                let end = start + SignedDuration::from_hours(2);
                format!("window = {{ start = \"{start}\", end = \"{end}\" }}")
            }
            None => String::new(),
        };
        let text = format!(
            r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
[[services]]
name = "web"
[[services]]
name = "api"
[release]
name = "2026.11-patch"
kind = "patch"
{window}
{extra_release}
[release.targets]
web = "1.0.0"
api = "2.0.0"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://{addr}/{{env}}/{{service}}"
"#,
            addr = self.addr
        );
        let path = self.dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("data/flightdeck/releases/2026.11-patch.jsonl")
    }

    fn record(&self, by: &str, action: ReleaseAction) {
        let path = self.journal();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let line = serde_json::to_string(&ReleaseEvent::new(by, Timestamp::now(), action)).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&line);
        text.push('\n');
        std::fs::write(&path, text).unwrap();
    }

    fn tick(&self, by: &str, items: &[&str]) {
        for item in items {
            self.record(by, ReleaseAction::Tick { item: item.to_string(), note: None });
        }
    }

    fn run(&self, config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FLIGHTDECK_")) {
            cmd.env_remove(k);
        }
        let out = cmd
            .args(args)
            .args(["--config", config.to_str().unwrap()])
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn check(&self, config: &Path) -> (Option<i32>, Value) {
        let (code, stdout, stderr) = self.run(config, &["check", "--format", "json"]);
        let json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
        (code, json)
    }
}

fn reasons(report: &Value) -> Vec<String> {
    let mut r: Vec<String> =
        report["blockers"].as_array().unwrap().iter().map(|b| b["reason"].as_str().unwrap().to_string()).collect();
    r.dedup();
    r
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checklist"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no item {id}"))
}

/// Manual items of the patch template due by T-0, and the two sign-offs.
const MANUAL_BY_T0: &[&str] =
    &["scope-frozen", "rollback-plan", "regression-suite", "stakeholders-notified", "monitoring-ready"];

#[test]
fn work_not_done_without_a_window_is_hold_and_before_the_window_is_no_go() {
    let w = World::new();
    // Before the window opens: no-go, the window says why.
    let config = w.config(Some(SignedDuration::from_hours(48)), "");
    let (code, report) = w.check(&config);
    assert_eq!(report["verdict"], "no-go", "{report:#}");
    assert_eq!(code, Some(1));
    assert_eq!(reasons(&report)[0], "window");
    // No window: nothing is ever due; required work not done holds.
    let config = w.config(None, "");
    let (code, report) = w.check(&config);
    assert_eq!(report["verdict"], "hold", "{report:#}");
    assert_eq!(code, Some(1), "hold exits 1");
    assert_eq!(reasons(&report), vec!["pending"]);
    assert!(report["findings"].as_array().unwrap().is_empty());
    assert_eq!(report["checklist"]["template"], "patch");
    // Live items are ticked by the cockpit, with the evidence.
    let staged = item(&report, "staging-deployed");
    assert_eq!(staged["status"], "done");
    assert_eq!(staged["condition"], "deployed(staging)");
    assert_eq!(staged["condition_value"]["value"], "true");
    assert!(staged["condition_value"]["evidence"].as_str().unwrap().contains("2/2"), "{staged:#}");
    // No window: the cockpit cannot tell; the item waits for a person.
    assert_eq!(item(&report, "window-open")["condition_value"]["value"], "unknown");
}

#[test]
fn past_due_items_and_a_missing_signoff_are_no_go() {
    let w = World::new();
    let config = w.config(Some(SignedDuration::from_mins(-30)), "");
    w.tick("ana", &["scope-frozen"]);
    let (code, report) = w.check(&config);
    assert_eq!(report["verdict"], "no-go", "{report:#}");
    assert_eq!(code, Some(1));
    let r = reasons(&report);
    assert!(r.contains(&"checklist".to_string()) && r.contains(&"signoff".to_string()), "{r:?}");
    let frozen = item(&report, "scope-frozen");
    assert_eq!(frozen["status"], "done");
    assert_eq!(frozen["ticked"]["by"], "ana");
    assert_eq!(item(&report, "rollback-plan")["overdue"], true);
    let messages: Vec<&str> =
        report["blockers"].as_array().unwrap().iter().map(|b| b["message"].as_str().unwrap()).collect();
    assert!(
        messages.iter().any(|m| m.contains("Rollback steps written down") && m.contains("tech-lead")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("sign-off from tech-lead missing")), "{messages:?}");
}

#[test]
fn everything_due_done_is_go_and_later_phases_do_not_block_yet() {
    let w = World::new();
    let config = w.config(Some(SignedDuration::from_mins(-10)), "");
    w.tick("ana", MANUAL_BY_T0);
    w.record("raj", ReleaseAction::SignOff { role: "tech-lead".into(), note: None });
    w.record("lea", ReleaseAction::SignOff { role: "product-owner".into(), note: Some("scope as agreed".into()) });
    let (code, report) = w.check(&config);
    assert_eq!(report["verdict"], "go", "{report:#}");
    assert_eq!(code, Some(0));
    // Verification is due at T+15m: not done, not blocking yet.
    assert_eq!(item(&report, "smoke-tests")["status"], "pending");
    assert_eq!(item(&report, "smoke-tests")["overdue"], false);
}

#[test]
fn the_call_is_go_during_the_window_before_production_is_deployed() {
    // 18:40 in the window: everything before it done and signed, prod not
    // deployed yet. The deployment is what the GO is for: it is not overdue.
    let w = World::serving(true);
    let config = w.config(Some(SignedDuration::from_mins(-40)), "");
    w.tick("ana", MANUAL_BY_T0);
    w.record("raj", ReleaseAction::SignOff { role: "tech-lead".into(), note: None });
    w.record("lea", ReleaseAction::SignOff { role: "product-owner".into(), note: None });
    let (code, report) = w.check(&config);
    assert_eq!(report["verdict"], "go", "{report:#}");
    assert_eq!(code, Some(0));
    let prod = item(&report, "prod-deployed");
    assert_eq!(prod["status"], "pending");
    assert_eq!(prod["overdue"], false);
}

#[test]
fn a_blackout_or_a_recorded_no_go_blocks() {
    let w = World::new();
    let now = Timestamp::now();
    let blackout = format!(
        "blackouts = [{{ start = \"{}\", end = \"{}\", reason = \"payments freeze\" }}]",
        now - SignedDuration::from_hours(1),
        now + SignedDuration::from_hours(1)
    );
    let config = w.config(Some(SignedDuration::from_mins(-10)), &blackout);
    w.tick("ana", MANUAL_BY_T0);
    w.record("raj", ReleaseAction::SignOff { role: "tech-lead".into(), note: None });
    w.record("lea", ReleaseAction::SignOff { role: "product-owner".into(), note: None });
    let (_, report) = w.check(&config);
    assert_eq!(report["verdict"], "no-go");
    assert_eq!(reasons(&report), vec!["blackout"]);
    assert!(report["blockers"][0]["message"].as_str().unwrap().contains("payments freeze"));

    let config = w.config(Some(SignedDuration::from_mins(-10)), "");
    w.record("ana", ReleaseAction::Decision { decision: Decision::NoGo, reason: "search latency".into() });
    let (_, report) = w.check(&config);
    assert_eq!(report["verdict"], "no-go");
    assert_eq!(reasons(&report), vec!["decision"]);
    assert_eq!(report["checklist"]["decision"]["by"], "ana");
    assert_eq!(report["checklist"]["decision"]["decision"], "no-go");
}

#[test]
fn a_bad_template_names_the_file_and_the_item() {
    let w = World::new();
    let bad = w.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        r#"name = "bad"
[[phases]]
id = "p"
title = "P"
due = "-1h"
[[phases.items]]
id = "deploy-uat"
title = "UAT deployed"
role = "devops"
condition = "deployed(uat)"
"#,
    )
    .unwrap();
    let config = w.config(Some(SignedDuration::from_hours(1)), &format!("template = \"{}\"", bad.display()));
    let (code, _, stderr) = w.run(&config, &["check"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(bad.to_str().unwrap()) && stderr.contains("item `deploy-uat`"), "{stderr}");
    assert!(stderr.contains("unknown environment `uat`"), "{stderr}");
    let (code, _, stderr) = w.run(&config, &["config", "check"]);
    assert_eq!(code, Some(2), "config check catches it too: {stderr}");
}

#[test]
fn report_is_the_record_with_who_and_when() {
    let w = World::new();
    let config = w.config(Some(SignedDuration::from_mins(-10)), "");
    w.tick("ana", &["scope-frozen"]);
    w.record("ana", ReleaseAction::Note { item: Some("scope-frozen".into()), text: "all tags pushed".into() });
    w.record("raj", ReleaseAction::SignOff { role: "tech-lead".into(), note: None });
    w.record("ana", ReleaseAction::Decision { decision: Decision::Go, reason: "all clear".into() });

    let (code, stdout, stderr) = w.run(&config, &["report"]);
    assert_eq!(code, Some(0), "{stderr}");
    for needle in [
        "# Release record: 2026.11-patch",
        "### Checklist",
        "### Timeline",
        "ana ticked “Scope frozen: every change in the release merged and tagged”",
        "ana noted on",
        "raj signed off as tech-lead",
        "**ana decided GO**: all clear",
        "### What is running",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }

    let (code, stdout, _) = w.run(&config, &["report", "--format", "json"]);
    assert_eq!(code, Some(0));
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["release_events"].as_array().unwrap().len(), 4);
    assert_eq!(json["release_events"][0]["action"], "tick");
    assert_eq!(json["release_events"][0]["by"], "ana");
    assert!(json["checklist"]["notes"].as_array().unwrap().iter().any(|n| n["text"] == "all tags pushed"));
    assert!(json["cells"].as_array().unwrap().len() == 4 && json["verdict"].is_string());
}

#[test]
fn the_report_timeline_reads_the_whole_journal_within_the_release() {
    let w = World::new();
    let config = w.config(Some(SignedDuration::from_mins(-10)), "");
    // 600 changes during the release, one a month before it.
    let path = w.dir.path().join("data/flightdeck/observations.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut text = String::new();
    let line = |at: Timestamp, n: usize| {
        serde_json::to_string(&json!({
            "at": at, "service": "web", "environment": "staging", "source": "endpoints",
            "old": format!("0.{n}.0"), "new": format!("0.{}.0", n + 1), "build": null
        }))
        .unwrap()
    };
    text.push_str(&line(Timestamp::now() - SignedDuration::from_hours(24 * 30), 9999));
    text.push('\n');
    for n in 0..600 {
        text.push_str(&line(Timestamp::now() - SignedDuration::from_secs(600 - n as i64), n));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let (code, stdout, stderr) = w.run(&config, &["report", "--format", "json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let changes = report["changes"].as_array().unwrap();
    // The 600 from the file, plus the change this sweep saw and journaled:
    // web in staging went from 0.600.0 (the journal's last) to 1.0.0.
    assert_eq!(changes.len(), 601);
    assert_eq!(changes[600]["new"], "1.0.0");
    assert!(!changes.iter().any(|c| c["old"] == "0.9999.0"), "a month-old change is not this release's");
    assert_eq!(changes[0]["old"], "0.0.0");
}

#[test]
fn a_plan_without_kind_window_or_template_keeps_todays_behaviour() {
    let w = World::new();
    let path = w.dir.path().join("plain.toml");
    std::fs::write(
        &path,
        format!(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[release]\nname = \"r\"\n[release.targets]\nweb = \"1.0.0\"\n[[sources]]\nname = \"e\"\nkind = \"http\"\nurl = \"http://{}/{{env}}/{{service}}\"\n",
            w.addr
        ),
    )
    .unwrap();
    let (code, report) = w.check(&path);
    assert_eq!(report["verdict"], "go");
    assert_eq!(code, Some(0));
    assert!(report["checklist"].is_null());
}

#[test]
fn check_json_has_a_rollback_key_and_the_rollback_ready_item_follows_it() {
    // prod still runs the previous versions: they are what a rollback after
    // the deployment goes back to; web has a method, api does not.
    let w = World::serving(true);
    let config = w.config(Some(SignedDuration::from_mins(-40)), "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[[services]]\nname = \"web\"\n",
        "[[services]]\nname = \"web\"\nrollback = \"deployctl rollback {service} --env {env} --to {previous}\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let (_, report) = w.check(&config);
    let rollback = &report["rollback"];
    assert!(rollback["baseline"].as_str().unwrap().starts_with("at "), "{rollback:#}");
    let service =
        |name: &str| rollback["services"].as_array().unwrap().iter().find(|s| s["service"] == name).cloned().unwrap();
    let web = service("web");
    assert_eq!(web["readiness"], "at-risk", "{web:#}");
    assert_eq!(web["reasons"][0], "rollback not rehearsed (checklist item rollback-tested not done)");
    // Once a person ticks the rehearsal, web is ready.
    w.tick("raj", &["rollback-tested"]);
    let (_, report) = w.check(&config);
    let rollback = &report["rollback"];
    let service =
        |name: &str| rollback["services"].as_array().unwrap().iter().find(|s| s["service"] == name).cloned().unwrap();
    let web = service("web");
    assert_eq!(web["readiness"], "ready", "{web:#}");
    let prod = &web["environments"][0];
    assert_eq!(prod["environment"], "prod");
    assert_eq!(prod["known_good"]["version"], "0.9.0");
    assert_eq!(prod["known_good"]["from"]["kind"], "running");
    assert_eq!(prod["method"]["kind"], "command");
    assert_eq!(prod["method"]["text"], "deployctl rollback web --env prod --to 0.9.0");
    let api = service("api");
    assert_eq!(api["readiness"], "not-ready");
    assert!(api["reasons"][0].as_str().unwrap().starts_with("no rollback method"), "{api:#}");
    // Staging runs the targets: health triggers there, none in prod yet.
    let triggers = rollback["triggers"].as_array().unwrap();
    assert!(!triggers.is_empty() && triggers.iter().all(|t| t["environment"] == "staging" && t["state"] == "ok"));
    // The patch template's optional rollback-ready item: not ready (api).
    let ready = item(&report, "rollback-ready");
    assert_eq!(ready["status"], "pending", "{ready:#}");
    // The text format lists readiness too.
    let (_, stdout, _) = w.run(&config, &["check", "--format", "text"]);
    assert!(stdout.contains("NOT READY api") && stdout.contains("READY     web prod: back to 0.9.0"), "{stdout}");
}

/// Run `flightdeck ARGS` as an unprivileged user where the tests run as root
/// (CI does), so file permissions are enforced.
fn as_unprivileged(w: &World, config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let root = std::process::Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]).arg(env!("CARGO_BIN_EXE_flightdeck"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_flightdeck"))
    };
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FLIGHTDECK_")) {
        cmd.env_remove(k);
    }
    let out = cmd
        .args(args)
        .args(["--config", config.to_str().unwrap()])
        .env("XDG_CONFIG_HOME", w.dir.path().join("config"))
        .env("XDG_DATA_HOME", w.dir.path().join("data"))
        .env("XDG_STATE_HOME", w.dir.path().join("state"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Defect: `check` and `report` opened the release journal for append just
/// to read it, so a data dir readable but not writable gave exit 2.
#[test]
fn check_and_report_evaluate_a_read_only_data_dir() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let config = w.config(None, "");
    w.tick("alice", &["scope-frozen"]);
    // Everything readable by anyone, writable by no one (the test dir too,
    // so the unprivileged user can reach it).
    let set = |path: &Path, mode: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    set(w.dir.path(), 0o755);
    set(&config, 0o644);
    let data = w.dir.path().join("data");
    let mut dirs = vec![data.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                set(&path, 0o444);
            }
        }
        set(&dir, 0o555);
    }
    let (code, stdout, stderr) = as_unprivileged(&w, &config, &["check", "--format", "json"]);
    assert_eq!(code, Some(1), "a full evaluation (hold: work not done), not exit 2: {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    assert_eq!(item(&report, "scope-frozen")["ticked"]["by"], "alice", "the journal's tick was read: {report:#}");
    assert_eq!(report["cells"].as_array().map(Vec::len), Some(4), "{report:#}");
    let (code, stdout, stderr) = as_unprivileged(&w, &config, &["report", "--format", "markdown"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("alice"), "the tick's author in the record:\n{stdout}");
    // At most a warning about the observation journal it could not write.
    assert!(stderr.lines().all(|l| l.contains("warning")), "{stderr}");
    // Nothing was changed on disk.
    let after = std::fs::read_to_string(w.journal()).unwrap();
    assert_eq!(after.lines().count(), 1);
    for dir in [data.clone(), w.dir.path().to_path_buf()] {
        set(&dir, 0o755);
    }
}
