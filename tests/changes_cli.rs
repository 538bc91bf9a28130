//! `flightdeck changes`, `flightdeck where`, the release's changes in
//! `report`, and the `not_merged_back` finding in `check`, end to end: the
//! real binary against one loopback server that answers both the services'
//! version endpoints (an `http` source) and GitHub's compare and pulls API,
//! computed from git graphs held by the test (`support/git_server.rs`).
//!
//! The token is set in the child's environment only, and no output may
//! carry it — not even when the server echoes it back in an error.

#[path = "support/git_server.rs"]
mod git_server;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use git_server::{Graph, Request, Server, github_api, json_response, serve};
use serde_json::{Value, json};
use tempfile::TempDir;

const TOKEN_ENV: &str = "FLIGHTDECK_TEST_CHANGES_TOKEN";
const TOKEN: &str = "ghp_Sup3rS3cretChangesT0ken";

// ---------------------------------------------------------------------------
// The repositories

/// acme/payments: v1.4.0 runs in prod; the release (v1.4.1) brings four
/// commits; dev already runs v1.4.2 with one more. `hotfix` is a commit on
/// top of v1.4.0 that main never got.
struct Payments {
    graph: Graph,
    hotfix: String,
}

fn payments() -> Payments {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    let base = g.commit("feat: payouts (#10)", &[&root]);
    g.set_ref("v1.4.0", &base);
    let refunds = g.commit_by("feat(api): PAY-12 refunds (#12)", "Grace Hopper", &[&base]);
    // PR #14: title and label only the API knows.
    let retries = g.commit("Rework retries (#14)", &[&refunds]);
    let docs = g.commit("docs: README", &[&retries]);
    let deps = g.commit("Update dependencies", &[&docs]);
    g.set_ref("v1.4.1", &deps);
    let next = g.commit("feat: PAY-99 statements (#15)", &[&deps]);
    g.set_ref("v1.4.2", &next);
    g.set_ref("main", &next);
    g.pulls.insert(12, ("feat(api): PAY-12 refunds".into(), vec![]));
    g.pulls.insert(14, ("Retry LEDG-7 payouts".into(), vec!["kind/bug".into()]));
    g.pulls.insert(15, ("feat: PAY-99 statements".into(), vec![]));
    // A hotfix made in prod, on top of v1.4.0.
    let hotfix = g.commit("fix: PAY-31 urgent rounding in prod", &[&base]);
    Payments { graph: g, hotfix }
}

/// acme/checkout: v2.0.0, then 55 commits to v2.1.0.
fn checkout() -> Graph {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    g.set_ref("v2.0.0", &root);
    let tip = g.line(&root, 55, |i| format!("fix: checkout change {i}"));
    g.set_ref("v2.1.0", &tip);
    g.set_ref("main", &tip);
    g
}

// ---------------------------------------------------------------------------
// The fleet: dev, qa, prod × payments, checkout, ledger (no repo).

type Cells = HashMap<(String, String), Value>;

struct Fleet {
    server: Server,
    cells: Arc<Mutex<Cells>>,
    payments: Arc<Mutex<Graph>>,
    hotfix: String,
    dir: TempDir,
    _rt: tokio::runtime::Runtime,
}

#[derive(Clone, Copy)]
struct Setup {
    /// What checkout runs in prod (the target is 2.1.0).
    checkout_prod: &'static str,
    /// Checkout's target.
    checkout_target: &'static str,
    /// Prod's payments runs the hotfix commit.
    hotfix_in_prod: bool,
}

const PLAIN: Setup = Setup { checkout_prod: "2.1.0", checkout_target: "2.1.0", hotfix_in_prod: false };

fn cell(version: &str) -> Value {
    json!({"version": version, "health": "UP"})
}

impl Fleet {
    fn start(setup: Setup) -> Fleet {
        let Payments { graph, hotfix } = payments();
        let payments = Arc::new(Mutex::new(graph));
        let checkout = Arc::new(Mutex::new(checkout()));
        let mut cells = Cells::new();
        let mut put = |env: &str, service: &str, v: Value| cells.insert((env.into(), service.into()), v);
        put("dev", "payments", cell("1.4.2"));
        put("qa", "payments", cell("1.4.1"));
        put(
            "prod",
            "payments",
            if setup.hotfix_in_prod {
                json!({"version": "1.4.0-hf1", "commit": hotfix, "health": "UP"})
            } else {
                cell("1.4.0")
            },
        );
        for env in ["dev", "qa"] {
            put(env, "checkout", cell("2.1.0"));
        }
        put("prod", "checkout", cell(setup.checkout_prod));
        for env in ["dev", "qa", "prod"] {
            put(env, "ledger", cell("3.0.0"));
        }
        let cells = Arc::new(Mutex::new(cells));

        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let pay_api = github_api("acme/payments", payments.clone());
        let checkout_api = github_api("acme/checkout", checkout);
        let served = cells.clone();
        let server = rt.block_on(serve(move |req: &Request| {
            if let Some(rest) = req.path.strip_prefix("/cells/") {
                let Some((env, service)) = rest.split_once('/') else { return json_response(404, &json!({})) };
                return match served.lock().unwrap().get(&(env.to_string(), service.to_string())) {
                    Some(v) => json_response(200, v),
                    None => json_response(404, &json!({"message": "no such cell"})),
                };
            }
            if req.path.starts_with("/repos/acme/payments/") {
                return pay_api(req);
            }
            let resp = checkout_api(req);
            if resp.status() == StatusCode::NOT_FOUND {
                // A server that echoes the credentials it got: the client
                // must scrub them from the error it reports.
                let auth = req.header("authorization").unwrap_or_default().to_string();
                return json_response(404, &json!({"message": format!("No commit found for the ref (sent {auth})")}));
            }
            resp
        }));

        let dir = tempfile::tempdir().unwrap();
        let fleet = Fleet { server, cells, payments, hotfix, dir, _rt: rt };
        fleet.write_config("config.toml", &fleet.config_text(setup, true));
        fleet
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config_text(&self, setup: Setup, with_changes: bool) -> String {
        let addr = self.server.addr;
        let changes = if with_changes {
            format!(
                r#"
[changes]
kind = "github"
token_env = "{TOKEN_ENV}"
api_url = "http://{addr}"
tickets = "[A-Z][A-Z0-9]+-[0-9]+"
ticket_url = "https://jira.example.com/browse/{{ticket}}"
"#
            )
        } else {
            String::new()
        };
        format!(
            r#"
[[environments]]
name = "dev"

[[environments]]
name = "qa"

[[environments]]
name = "prod"

[[services]]
name = "payments"
repo = "acme/payments"

[[services]]
name = "checkout"
repo = "acme/checkout"

[[services]]
name = "ledger"

[release]
name = "2026.11"

[release.targets]
payments = "1.4.1"
checkout = "{checkout_target}"
ledger = "3.0.0"

[[sources]]
name = "version-endpoints"
kind = "http"
url = "http://{addr}/cells/{{env}}/{{service}}"
timeout = "3s"
{changes}
"#,
            checkout_target = setup.checkout_target,
        )
    }

    fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The binary in a sandbox (HOME and XDG dirs in the temp dir), the
    /// token in its environment; every output checked for the token.
    fn run(&self, args: &[&str]) -> Run {
        let config = self.path("config.toml");
        self.run_with(&config, args)
    }

    fn run_with(&self, config: &Path, args: &[&str]) -> Run {
        self.run_in(config, args, Some(TOKEN))
    }

    fn run_in(&self, config: &Path, args: &[&str], token: Option<&str>) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        cmd.args(args)
            .arg("--config")
            .arg(config)
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg-config"))
            .env("XDG_DATA_HOME", self.path("xdg-data"))
            .env("XDG_STATE_HOME", self.path("xdg-state"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FLIGHTDECK_") {
                cmd.env_remove(key);
            }
        }
        match token {
            Some(token) => cmd.env(TOKEN_ENV, token),
            None => cmd.env_remove(TOKEN_ENV),
        };
        let out = cmd.output().expect("run flightdeck");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "the token in the output: {run:#?}");
        run
    }

    fn json(&self, args: &[&str]) -> (Run, Value) {
        let run = self.run(args);
        let value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:#?}"));
        (run, value)
    }

    /// The requests the API got (not the version endpoints).
    fn api_requests(&self) -> Vec<Request> {
        self.server.seen().into_iter().filter(|r| r.path.starts_with("/repos/")).collect()
    }

    /// main gets a merge of the hotfix: merged back at last.
    fn merge_hotfix_back(&self) {
        let mut g = self.payments.lock().unwrap();
        let tip = g.refs["main"].clone();
        let merge = g.commit("Merge branch 'hotfix/1.4.0-hf1' into main", &[&tip, &self.hotfix]);
        g.set_ref("main", &merge);
    }
}

#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

fn sha_of(g: &Mutex<Graph>, subject: &str) -> String {
    let g = g.lock().unwrap();
    g.commits.iter().find(|c| c.message.starts_with(subject)).map(|c| c.sha.clone()).expect("commit")
}

// ---------------------------------------------------------------------------
// `flightdeck changes`

#[test]
fn changes_lists_each_service_from_prod_to_the_target() {
    let fleet = Fleet::start(PLAIN);
    let run = fleet.run(&["changes"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let out = &run.stdout;
    assert_eq!(out.lines().next(), Some("flightdeck changes · release 2026.11 · prod → target"), "{out}");
    assert_eq!(line_with(out, "payments "), "payments  prod 1.4.0 → target 1.4.1: 4 commits");
    assert_eq!(line_with(out, "checkout "), "checkout  prod 2.1.0 → target 2.1.0: no change");
    assert_eq!(line_with(out, "ledger "), "ledger    no repo (add `repo = \"owner/name\"` to its [[services]] entry)");
    // Each commit: short sha, PR, subject, author, tickets; oldest first.
    let refunds = sha_of(&fleet.payments, "feat(api): PAY-12");
    let commits: Vec<&str> = out.lines().filter(|l| l.starts_with("    ")).collect();
    assert_eq!(commits.len(), 4, "{out}");
    assert_eq!(
        commits[0],
        format!("    {}  #12  feat(api): PAY-12 refunds (#12) — Grace Hopper [PAY-12]", &refunds[..7])
    );
    assert!(commits[3].ends_with("      Update dependencies — Ada Lovelace"), "no PR, no ticket: {:?}", commits[3]);
    // The token went to the API, as a bearer token.
    let asked = fleet.api_requests();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
}

#[test]
fn changes_json_has_the_documented_shape() {
    let fleet = Fleet::start(PLAIN);
    let (run, doc) = fleet.json(&["changes", "--format", "json"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!((doc["schema"].as_u64(), &doc["from"], &doc["to"]), (Some(1), &json!("prod"), &json!("target")));
    assert_eq!(doc["release"], "2026.11");
    let services = doc["services"].as_array().unwrap();
    let names: Vec<&str> = services.iter().map(|s| s["service"].as_str().unwrap()).collect();
    assert_eq!(names, ["payments", "checkout", "ledger"]);

    let pay = &services[0];
    let keys: Vec<&str> = pay.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["service", "repo", "status", "from", "to", "total_commits", "truncated", "commits", "note", "error"]
    );
    assert_eq!(pay["status"], "changes");
    assert_eq!(pay["repo"], "acme/payments");
    assert_eq!(pay["from"], json!({"version": "1.4.0", "ref": "v1.4.0", "commit": null}));
    assert_eq!(pay["to"], json!({"version": "1.4.1", "ref": "v1.4.1", "commit": null}));
    assert_eq!((pay["total_commits"].as_u64(), &pay["truncated"]), (Some(4), &json!(false)));
    let first = &pay["commits"][0];
    assert_eq!(first["sha"], sha_of(&fleet.payments, "feat(api): PAY-12"));
    assert_eq!((&first["pr"], &first["pr_ref"]), (&json!(12), &json!("#12")));
    assert_eq!((&first["author"], &first["tickets"]), (&json!("Grace Hopper"), &json!(["PAY-12"])));
    assert_eq!(first["subject"], "feat(api): PAY-12 refunds (#12)");

    assert_eq!((&services[1]["status"], &services[1]["total_commits"]), (&json!("no_change"), &json!(0)));
    assert_eq!(services[2]["status"], "unknown");
    assert_eq!(services[2]["repo"], Value::Null);
    assert!(services[2]["note"].as_str().unwrap().starts_with("no repo"), "{doc:#}");
}

#[test]
fn changes_markdown_tables_the_services_and_links_the_tickets() {
    let fleet = Fleet::start(PLAIN);
    let run = fleet.run(&["changes", "--format", "markdown"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let md = &run.stdout;
    for line in [
        "## Release 2026.11",
        "### Changes: prod → target",
        "| service | prod | target | changes |",
        "| payments | 1.4.0 | 1.4.1 | 4 commits |",
        "| checkout | 2.1.0 | 2.1.0 | no change |",
        "#### payments: prod 1.4.0 → target 1.4.1 (4 commits)",
        "refunds (#12) — Grace Hopper · [PAY-12](https://jira.example.com/browse/PAY-12)",
    ] {
        assert!(md.contains(line), "missing {line:?} in:\n{md}");
    }
}

#[test]
fn notes_group_by_prefix_then_the_prs_label() {
    let fleet = Fleet::start(PLAIN);
    let run = fleet.run(&["changes", "--notes"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let notes = &run.stdout;
    for line in [
        "# Release 2026.11 - ",
        "- **payments** 1.4.0 → 1.4.1: 4 commits",
        "### Features\n\n- **payments** (api): PAY-12 refunds (#12, PAY-12)",
        // Only the API says #14 is "Retry LEDG-7 payouts", labelled a bug.
        "### Bug Fixes\n\n- **payments**: Retry LEDG-7 payouts (#14, LEDG-7)",
        "### Maintenance\n\n- **payments**: README",
        "### Uncategorised\n\n- **payments**: Update dependencies",
        "- [LEDG-7](https://jira.example.com/browse/LEDG-7): payments #14",
    ] {
        assert!(notes.contains(line), "missing {line:?} in:\n{notes}");
    }
    assert!(!notes.contains("checkout"), "no change, no notes: {notes}");
    let pulls: Vec<String> = fleet
        .api_requests()
        .iter()
        .filter_map(|r| r.path.strip_prefix("/repos/acme/payments/pulls/").map(String::from))
        .collect();
    assert_eq!(pulls, ["12", "14"], "each PR asked once");
    // --notes is Markdown: a format beside it is refused.
    let run = fleet.run(&["changes", "--notes", "--format", "json"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
}

#[test]
fn from_qa_to_prod_lists_what_only_prod_runs() {
    let fleet = Fleet::start(Setup { hotfix_in_prod: true, ..PLAIN });
    let run = fleet.run(&["changes", "--from", "qa", "--to", "prod"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let out = &run.stdout;
    assert_eq!(out.lines().next(), Some("flightdeck changes · release 2026.11 · qa → prod"), "{out}");
    assert_eq!(line_with(out, "payments "), "payments  qa 1.4.1 → prod 1.4.0-hf1: 1 commit");
    assert!(
        out.contains(&format!(
            "    {}  fix: PAY-31 urgent rounding in prod — Ada Lovelace [PAY-31]",
            &fleet.hotfix[..7]
        )),
        "{out}"
    );
    assert_eq!(line_with(out, "checkout "), "checkout  qa 2.1.0 → prod 2.1.0: no change");
    // The wanted range was asked (qa...prod), beside the engine's own (prod...qa).
    let asked: Vec<String> = fleet.api_requests().into_iter().map(|r| r.path).collect();
    assert!(asked.contains(&format!("/repos/acme/payments/compare/v1.4.1...{}", fleet.hotfix)), "{asked:#?}");
}

#[test]
fn an_unknown_environment_is_bad_input_before_any_sweep() {
    let fleet = Fleet::start(PLAIN);
    let run = fleet.run(&["changes", "--from", "staging"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(
        run.stderr.trim_end(),
        "flightdeck changes: --from: unknown environment `staging` (known: dev, qa, prod; or `target`)"
    );
    assert!(run.stdout.is_empty());
    assert_eq!(fleet.server.hits(), 0, "nothing was swept or asked");

    let run = fleet.run(&["changes", "--from", "qa", "--to", "prod", "--env", "qa"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("`prod` is not swept with --env qa"), "{run:#?}");
}

#[test]
fn without_changes_config_it_says_how_to_add_it() {
    let fleet = Fleet::start(PLAIN);
    let config = fleet.write_config("bare.toml", &fleet.config_text(PLAIN, false));
    for args in [&["changes"][..], &["where", "PAY-12"]] {
        let run = fleet.run_with(&config, args);
        assert_eq!(run.code, Some(2), "{run:#?}");
        assert!(run.stderr.contains("no [changes] in the config"), "{run:#?}");
        assert!(run.stderr.contains("[changes]\nkind = \"github\""), "shows what to add: {run:#?}");
        assert!(
            run.stderr.contains("repo = \\\"owner/name\\\"") || run.stderr.contains("repo = \"owner/name\""),
            "{run:#?}"
        );
    }
    assert_eq!(fleet.server.hits(), 0);

    // The token's variable unset: said by name, before the sweep.
    let run = fleet.run_in(&fleet.path("config.toml"), &["changes"], None);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains(TOKEN_ENV), "{run:#?}");
    assert_eq!(fleet.server.hits(), 0);
}

#[test]
fn a_compare_404_exits_1_with_its_reason_and_prints_the_rest() {
    // checkout's target 2.2.0 has no tag.
    let fleet = Fleet::start(Setup { checkout_target: "2.2.0", ..PLAIN });
    let run = fleet.run(&["changes"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(line_with(&run.stdout, "payments "), "payments  prod 1.4.0 → target 1.4.1: 4 commits");
    let line = line_with(&run.stdout, "checkout ");
    assert!(
        line.starts_with("checkout  prod 2.1.0 → target 2.2.0: compare failed: HTTP 404 cannot compare v2.1.0...v2.2.0 in acme/checkout: "),
        "{line}"
    );
    assert!(run.stderr.contains("checkout: changes not read"), "{run:#?}");
    // The server echoed the credentials: they were scrubbed (Fleet::run checks the token).
    assert!(line.contains("sent Bearer"), "the echo is there, without the token: {line}");

    let (run, doc) = fleet.json(&["changes", "--format", "json"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(doc["services"][1]["status"], "error");
    assert!(
        doc["services"][1]["error"].as_str().unwrap().starts_with("HTTP 404 cannot compare v2.1.0...v2.2.0"),
        "{doc:#}"
    );
    assert_eq!(doc["services"][0]["status"], "changes");
}

// ---------------------------------------------------------------------------
// `flightdeck where`

fn place<'a>(doc: &'a Value, service: usize, name: &str) -> &'a Value {
    doc["services"][service]["places"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {doc:#}"))
}

#[test]
fn where_finds_a_tickets_commits_and_the_environments_that_run_them() {
    let fleet = Fleet::start(PLAIN);
    let (run, doc) = fleet.json(&["where", "PAY-12", "--format", "json"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!((&doc["ticket"], &doc["found"]), (&json!("PAY-12"), &json!(true)));
    assert_eq!(doc["url"], "https://jira.example.com/browse/PAY-12");
    assert_eq!(doc["services"].as_array().unwrap().len(), 1, "{doc:#}");
    let pay = &doc["services"][0];
    assert_eq!((&pay["service"], &pay["repo"]), (&json!("payments"), &json!("acme/payments")));
    assert_eq!(pay["commits"][0]["sha"], sha_of(&fleet.payments, "feat(api): PAY-12"));
    let contains: Vec<(&str, &str)> = pay["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["contains"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(contains, [("dev", "yes"), ("qa", "yes"), ("prod", "no"), ("target", "yes")]);
    assert_eq!(place(&doc, 0, "prod")["version"], "1.4.0");
    assert_eq!(place(&doc, 0, "target")["running_since"], Value::Null);

    // PAY-99 is only in dev (1.4.2): not in qa, prod or the target.
    let run = fleet.run(&["where", "PAY-99"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let out = &run.stdout;
    assert_eq!(out.lines().next(), Some("PAY-99: 1 commit in payments"), "{out}");
    assert!(line_with(out, "  dev ").contains("1.4.2  contains it · runs there since "), "{out}");
    assert!(line_with(out, "  qa ").contains("1.4.1  not yet"), "{out}");
    assert!(line_with(out, "  target ").ends_with("1.4.1  not yet"), "{out}");
}

#[test]
fn where_says_since_when_from_the_cells_history() {
    let fleet = Fleet::start(PLAIN);
    let (_, first) = fleet.json(&["where", "PAY-12", "--format", "json"]);
    let since = place(&first, 0, "qa")["running_since"].as_str().expect("since").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A later run: the same version was first seen in the first run.
    let (_, again) = fleet.json(&["where", "PAY-12", "--format", "json"]);
    assert_eq!(place(&again, 0, "qa")["running_since"].as_str(), Some(since.as_str()), "{again:#}");
    // A new version there starts a new "since".
    fleet.cells.lock().unwrap().insert(("qa".into(), "payments".into()), cell("1.4.2"));
    let (_, moved) = fleet.json(&["where", "PAY-12", "--format", "json"]);
    let now = place(&moved, 0, "qa");
    assert_eq!((&now["version"], &now["contains"]), (&json!("1.4.2"), &json!("yes")));
    assert!(now["running_since"].as_str().unwrap() > since.as_str(), "{moved:#}");
}

#[test]
fn where_not_found_is_exit_1_and_a_key_that_cannot_match_is_exit_2() {
    let fleet = Fleet::start(PLAIN);
    let run = fleet.run(&["where", "NOPE-1"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stdout.lines().next(),
        Some("NOPE-1: in no compared range (adjacent environments and the last one → target, both ways)")
    );
    let (run, doc) = fleet.json(&["where", "NOPE-1", "--format", "json"]);
    assert_eq!((run.code, &doc["found"], &doc["services"]), (Some(1), &json!(false), &json!([])));

    let hits = fleet.server.hits();
    let run = fleet.run(&["where", "pay-12"]);
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(
        run.stderr.trim_end(),
        "flightdeck where: `pay-12` is not a ticket key: the [changes] `tickets` pattern `[A-Z][A-Z0-9]+-[0-9]+` \
         does not match it whole, so no commit can carry it (did you mean `PAY-12`?)"
    );
    assert_eq!(fleet.server.hits(), hits, "refused before the sweep");
}

// ---------------------------------------------------------------------------
// `report` and `check`

#[test]
fn report_includes_the_releases_changes_capped_per_service() {
    // checkout: 55 commits from prod to the target.
    let fleet = Fleet::start(Setup { checkout_prod: "2.0.0", checkout_target: "2.1.0", ..PLAIN });
    let run = fleet.run(&["report", "--format", "markdown"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    let md = &run.stdout;
    for line in [
        "### Changes: prod → target",
        "| payments | 1.4.0 | 1.4.1 | 4 commits |",
        "| checkout | 2.0.0 | 2.1.0 | 55 commits |",
        "#### checkout: prod 2.0.0 → target 2.1.0 (55 commits)",
        "fix: checkout change 49 — Ada Lovelace\n- … and 5 more\n",
    ] {
        assert!(md.contains(line), "missing {line:?} in:\n{md}");
    }
    assert!(!md.contains("checkout change 50"), "capped at 50: {md}");
    let changes = md.find("### Changes").unwrap();
    assert!(changes < md.find("### Timeline").unwrap(), "before the timeline");

    let run = fleet.run(&["report", "--format", "text"]);
    assert!(
        run.stdout.contains("\nchanges prod → target:\n  payments  prod 1.4.0 → target 1.4.1: 4 commits\n"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("\n      … and 5 more\n"), "{run:#?}");

    let run = fleet.run(&["report", "--format", "json"]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let release = &doc["release_changes"];
    assert_eq!((&release["from"], &release["to"]), (&json!("prod"), &json!("target")));
    let checkout = &release["services"][1];
    assert_eq!(checkout["service"], "checkout");
    assert_eq!((checkout["total_commits"].as_u64(), checkout["commits"].as_array().unwrap().len()), (Some(55), 50));
    assert_eq!(checkout["truncated"], true);
}

fn not_merged_back(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "not_merged_back")
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            (s("service"), s("environment"), s("message"))
        })
        .collect()
}

#[test]
fn a_hotfix_never_merged_back_is_a_finding_until_it_is() {
    let fleet = Fleet::start(Setup { hotfix_in_prod: true, ..PLAIN });
    let (_, doc) = fleet.json(&["check", "--format", "json"]);
    let short = &fleet.hotfix[..7];
    assert_eq!(
        not_merged_back(&doc),
        [(
            "payments".to_string(),
            "prod".to_string(),
            format!("payments 1.4.0-hf1 in prod runs {short}, which is not in main: the hotfix was never merged back")
        )]
    );
    let severity =
        doc["findings"].as_array().unwrap().iter().find(|f| f["kind"] == "not_merged_back").unwrap()["severity"]
            .clone();
    assert_eq!(severity, "medium");

    fleet.merge_hotfix_back();
    let (run, doc) = fleet.json(&["check", "--format", "json"]);
    assert_eq!(not_merged_back(&doc), [], "merged back by a merge commit: {run:#?}");
}

#[test]
fn released_tags_in_main_are_no_finding() {
    let fleet = Fleet::start(PLAIN);
    let (run, doc) = fleet.json(&["check", "--format", "json"]);
    assert_eq!(not_merged_back(&doc), [], "{run:#?}");
    // Every running ref was asked against main.
    let asked: Vec<String> = fleet.api_requests().into_iter().map(|r| r.path).collect();
    for tag in ["v1.4.0", "v1.4.1", "v1.4.2", "v2.1.0"] {
        assert!(asked.iter().any(|p| p.ends_with(&format!("/compare/main...{tag}"))), "{tag}: {asked:#?}");
    }
}

#[test]
fn where_finds_a_hotfix_ticket_that_only_prod_runs() {
    let fleet = Fleet::start(Setup { hotfix_in_prod: true, ..PLAIN });
    let (run, doc) = fleet.json(&["where", "PAY-31", "--format", "json"]);
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(doc["services"][0]["commits"][0]["sha"], fleet.hotfix.as_str());
    let contains: Vec<(&str, &str)> = doc["services"][0]["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["contains"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        contains,
        [("dev", "no"), ("qa", "no"), ("prod", "yes"), ("target", "no")],
        "the next release reverts it"
    );
    assert_eq!(place(&doc, 0, "prod")["ref"], fleet.hotfix.as_str(), "the cell's commit wins over the tag");
}
