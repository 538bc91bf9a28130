//! The changes client against real HTTP servers on loopback that serve the
//! documented shapes of GitHub's compare (`/repos/{o}/{r}/compare/{base}...{head}`,
//! pages past 250 commits, 404 for an unknown ref, rate limits, ETags) and
//! GitLab's (`/projects/:id/repository/compare?from=&to=`), computed from a
//! small git graph held by the test, so "is X in main" is git's answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use flightdeck::changes::config::{ChangesConfig, validate};
use flightdeck::changes::notes::{self, Category, ServiceChanges};
use flightdeck::changes::{Changes, ChangesClient, CompareStatus};
use flightdeck::config::Settings;
use flightdeck::sources::{FetchError, HttpContext};
use serde_json::json;

/// Cargo sets `CARGO_PKG_NAME` for every test process: a token variable
/// that exists without the test mutating its environment.
const TOKEN_ENV: &str = "CARGO_PKG_NAME";
const TOKEN: &str = env!("CARGO_PKG_NAME");

#[path = "support/git_server.rs"]
mod git_server;

use git_server::*;

// ---------------------------------------------------------------------------
// The client, as the program builds it: [changes] from TOML, validated.

fn changes_config(kind: &str, api_url: &str, extra: &str) -> ChangesConfig {
    let text = format!(
        r#"
[[services]]
name = "payments"
repo = "acme/payments"

[changes]
kind = "{kind}"
token_env = "{TOKEN_ENV}"
api_url = "{api_url}"
tickets = "[A-Z][A-Z0-9]+-[0-9]+"
ticket_url = "https://jira.example.com/browse/{{ticket}}"
{extra}
"#
    );
    let settings: Settings = toml::from_str(&text).unwrap_or_else(|e| panic!("settings: {e}"));
    let changes = settings.changes.as_ref().expect("[changes]");
    validate(changes, &settings.services).unwrap_or_else(|p| panic!("{p:?}"))
}

fn github_client(addr: SocketAddr) -> ChangesClient {
    let config = changes_config("github", &format!("http://{addr}"), "");
    ChangesClient::new(&config, &HttpContext::new().unwrap()).expect("client")
}

fn gitlab_client(addr: SocketAddr) -> ChangesClient {
    let config = changes_config("gitlab", &format!("http://{addr}/api/v4"), "");
    ChangesClient::new(&config, &HttpContext::new().unwrap()).expect("client")
}

/// The error, checked for the token in both its forms.
fn no_token(err: FetchError) -> FetchError {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(TOKEN), "the token in an error: {text}");
    }
    err
}

/// main with a release line: v1.3.0, then `n` commits to v1.4.0.
fn release_graph(n: usize) -> (Graph, String, String) {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    g.set_ref("v1.3.0", &root);
    let tip = g.line(&root, n, |i| format!("fix: change {i} (#{})", 1000 + i));
    g.set_ref("v1.4.0", &tip);
    g.set_ref("main", &tip);
    (g, root, tip)
}

// ---------------------------------------------------------------------------
// GitHub compare

#[tokio::test]
async fn github_compare_reads_every_page_past_250_commits() {
    let (graph, _, _) = release_graph(260);
    let server = serve(github_api("acme/payments", Arc::new(Mutex::new(graph)))).await;
    let client = github_client(server.addr);

    let changes = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.map_err(no_token).expect("compare");
    assert_eq!(changes.commits.len(), 260, "past the 250 an unpaged compare stops at");
    assert_eq!((changes.total_commits, changes.ahead_by, changes.behind_by), (260, 260, Some(0)));
    assert_eq!(changes.status, Some(CompareStatus::Ahead));
    assert!(!changes.truncated);
    assert_eq!(changes.commits[0].subject, "fix: change 0 (#1000)");
    assert_eq!(changes.commits[259].subject, "fix: change 259 (#1259)");
    assert_eq!(changes.commits[259].pr, Some(1259));
    assert_eq!(changes.commits[0].author.as_deref(), Some("Ada Lovelace"));
    assert_eq!(changes.commits[0].authored_at, Some("2026-11-01T00:01:00Z".parse().unwrap()));

    let seen = server.seen();
    assert_eq!(seen.len(), 3, "100 + 100 + 60");
    assert_eq!(seen[0].path, "/repos/acme/payments/compare/v1.3.0...v1.4.0");
    assert_eq!(seen[0].param("per_page").as_deref(), Some("100"));
    assert_eq!(seen[1].param("page").as_deref(), Some("2"), "the Link header was followed");
    assert_eq!(seen[2].param("page").as_deref(), Some("3"));
    for req in &seen {
        assert_eq!(req.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(req.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(req.header("x-github-api-version"), Some("2022-11-28"));
        assert!(req.header("user-agent").is_some_and(|ua| ua.starts_with("flightdeck/")));
    }
    assert_eq!(client.requests().counted(), 3);
}

#[tokio::test]
async fn github_paging_stops_at_its_cap_and_says_the_list_is_cut() {
    let (graph, _, _) = release_graph(2600);
    let server = serve(github_api("acme/payments", Arc::new(Mutex::new(graph)))).await;
    let client = github_client(server.addr);
    let changes = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect("compare");
    assert_eq!(server.hits(), 25, "at most 25 pages");
    assert_eq!(changes.commits.len(), 2500);
    assert_eq!(changes.total_commits, 2600);
    assert!(changes.truncated, "fewer listed than the range holds");
}

#[tokio::test]
async fn an_unknown_ref_is_a_404_that_says_so() {
    let (graph, _, _) = release_graph(3);
    let graph = Arc::new(Mutex::new(graph));
    let server = serve(github_api("acme/payments", graph.clone())).await;
    let client = github_client(server.addr);
    let err = no_token(client.compare("acme/payments", "v9.9.9", "v1.4.0").await.expect_err("404"));
    assert!(matches!(err, FetchError::Status { code: 404, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "HTTP 404 cannot compare v9.9.9...v1.4.0 in acme/payments: a ref is unknown (no such tag, branch or \
         commit), or the repository is not found (or no access)"
    );
    // A ref git would refuse never reaches the server.
    let before = server.hits();
    let err = client.compare("acme/payments", "v1.3.0", "v1.4 beta").await.expect_err("not a ref");
    assert_eq!(err.to_string(), "`v1.4 beta` is not a git ref: it holds a space");
    let err = client.compare("acme", "v1.3.0", "v1.4.0").await.expect_err("not a repo");
    assert_eq!(err.to_string(), "`acme` is not a repository");
    assert_eq!(server.hits(), before);

    let server = serve(gitlab_api(graph)).await;
    let client = gitlab_client(server.addr);
    let err = no_token(client.compare("acme/payments", "v1.3.0", "nope").await.expect_err("404"));
    assert_eq!(
        err.to_string(),
        "HTTP 404 cannot compare v1.3.0...nope in acme/payments: a ref is unknown (no such tag, branch or commit), \
         or the repository is not found (or no access)"
    );
    let err = no_token(client.compare("acme/ledger", "v1.3.0", "v1.4.0").await.expect_err("404"));
    assert_eq!(err.to_string(), "HTTP 404 project acme/ledger not found (or no access)");
}

// ---------------------------------------------------------------------------
// Rate limits: one budget per token and host, shared with the sources.

#[tokio::test]
async fn a_spent_rate_limit_waits_for_the_reset_and_holds_the_sources_back_too() {
    let reset_at = now() + 900;
    let server = serve(move |_| {
        with_headers(
            json_response(403, &json!({"message": "API rate limit exceeded for user ID 1."})),
            &[
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset_at.to_string()),
            ],
        )
    })
    .await;
    let client = github_client(server.addr);
    let err = no_token(client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect_err("limited"));
    let FetchError::RateLimited { code: 403, retry_after: Some(wait), .. } = &err else {
        panic!("expected RateLimited with a wait, got {err:?}")
    };
    assert!(*wait <= Duration::from_secs(900) && *wait >= Duration::from_secs(890), "{wait:?}");
    assert!(err.to_string().contains("API rate limit exceeded"), "{err}");

    let again = client.is_in_mainline("acme/payments", "9f8e7d6").await.expect_err("held");
    assert!(matches!(again, FetchError::HeldBack { .. }), "{again:?}");
    assert_eq!(server.hits(), 1, "nothing is sent before the reset");

    // A github source with the same token on the same host shares the budget.
    let text = format!(
        r#"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[[sources]]
name = "deploys"
kind = "github"
api_url = "http://{addr}"
repo = "acme/{{service}}"
token_env = "{TOKEN_ENV}"
"#,
        addr = server.addr
    );
    let config = flightdeck::setup::from_toml_str(&text, "test").expect("config");
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).expect("activate");
    let ctx = HttpContext::new().unwrap();
    let updates =
        flightdeck::poller::sweep_once(&active, flightdeck::config::PollerSettings::default(), &ctx, |_, _| {}).await;
    let err = updates[0].result.clone().expect_err("held back");
    assert!(matches!(err, FetchError::HeldBack { .. }), "{err:?}");
    assert_eq!(server.hits(), 1, "the source sent nothing either");
}

#[tokio::test]
async fn too_many_requests_and_secondary_limits_say_when_to_come_back() {
    let server =
        serve(|_| json_response(403, &json!({"message": "You have exceeded a secondary rate limit. Please wait."})))
            .await;
    let with_retry =
        serve(|_| with_headers(json_response(429, &json!({"message": "x"})), &[("retry-after", "42".into())])).await;
    let err = no_token(github_client(with_retry.addr).compare("acme/payments", "a1", "main").await.expect_err("429"));
    assert!(matches!(err, FetchError::RateLimited { code: 429, .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));

    let client = github_client(server.addr);
    let err = no_token(client.compare("acme/ledger", "v1", "v2").await.expect_err("secondary"));
    assert!(matches!(err, FetchError::RateLimited { code: 403, .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)), "at least a minute without a hint");
}

#[tokio::test]
async fn gitlab_rate_limits_are_read_from_its_headers() {
    let reset_at = now() + 300;
    let server = serve(move |_| {
        with_headers(
            (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response(),
            &[("ratelimit-remaining", "0".into()), ("ratelimit-reset", reset_at.to_string())],
        )
    })
    .await;
    let client = gitlab_client(server.addr);
    let err = no_token(client.compare("acme/payments", "v1", "v2").await.expect_err("limited"));
    let wait = err.retry_after().expect("a wait");
    assert!(wait <= Duration::from_secs(300) && wait >= Duration::from_secs(290), "{wait:?}");
    let again = client.compare("acme/payments", "v1", "v2").await.expect_err("held");
    assert!(matches!(again, FetchError::HeldBack { .. }), "{again:?}");
    assert_eq!(server.hits(), 1);
}

// ---------------------------------------------------------------------------
// Caching: ETags, commit pairs, one fetch per range at a time.

#[tokio::test]
async fn unchanged_compares_are_answered_304_and_commit_pairs_are_never_asked_again() {
    let (graph, root, tip) = release_graph(150);
    let graph = Arc::new(Mutex::new(graph));
    let server = serve(github_api("acme/payments", graph.clone())).await;
    let client = github_client(server.addr);

    let first = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect("first");
    assert_eq!((server.hits(), first.commits.len()), (2, 150));
    let etag_sent = server.seen()[0].clone();
    assert!(etag_sent.header("if-none-match").is_none());

    // Tags can move: asked again, with the first page's ETag; 304 answers from the cache.
    let again = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect("again");
    assert_eq!(again, first);
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "one conditional request, no more pages");
    assert!(seen[2].header("if-none-match").is_some_and(|e| e.starts_with("W/\"")), "{:?}", seen[2].headers);
    assert_eq!(client.requests().not_modified, 1);
    assert_eq!(client.requests().counted(), 2, "a 304 costs no rate limit");

    // The tag moves: a new answer.
    {
        let mut g = graph.lock().unwrap();
        let newer = g.commit("feat: one more (#77)", &[&tip]);
        g.set_ref("v1.4.0", &newer);
    }
    let moved = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect("moved");
    assert_eq!(moved.commits.len(), 151);
    assert_eq!(moved.commits[150].pr, Some(77));

    // Two commit ids name one answer forever: never asked twice.
    let hits = server.hits();
    let by_sha = client.compare("acme/payments", &root, &tip).await.expect("by sha");
    assert_eq!(by_sha.commits.len(), 150);
    let hits_after_one = server.hits();
    assert!(hits_after_one > hits);
    let again = client.compare("acme/payments", &root, &tip).await.expect("cached");
    assert_eq!(again, by_sha);
    assert_eq!(server.hits(), hits_after_one, "no request at all");
    // A status question about a pair already read completely needs no request either.
    assert!(!client.contains("acme/payments", &root, &tip).await.expect("contains"));
    assert_eq!(server.hits(), hits_after_one);
}

#[tokio::test]
async fn concurrent_compares_of_one_range_fetch_it_once() {
    let (graph, _, _) = release_graph(120);
    let server = serve_slow(Duration::from_millis(150), github_api("acme/payments", Arc::new(Mutex::new(graph)))).await;
    let client = github_client(server.addr);
    let clone = client.clone();
    let (a, b, c) = tokio::join!(
        client.compare("acme/payments", "v1.3.0", "v1.4.0"),
        client.compare("acme/payments", "v1.3.0", "v1.4.0"),
        clone.compare("acme/payments", "v1.3.0", "v1.4.0"),
    );
    let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    assert_eq!((a.commits.len(), &a), (120, &b));
    assert_eq!(b, c);
    // One fetch of two pages; the callers that waited for it take its answer.
    assert_eq!(server.hits(), 2, "the pages were fetched once");
    assert_eq!(client.requests().counted(), 2);
}

// ---------------------------------------------------------------------------
// GitLab compare

#[tokio::test]
async fn gitlab_compare_with_merge_requests_and_private_token() {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    g.set_ref("v1.3.0", &root);
    let a = g.commit("feat: refunds endpoint\n\nPAY-12", &[&root]);
    let b = g.commit("test: refunds", &[&a]);
    let main_fix = g.commit("fix: cents (!9)", &[&root]);
    let merge = g.commit(
        "Merge branch 'refunds' into 'main'\n\nfeat: refunds\n\nCloses PAY-12\n\nSee merge request acme/payments!123",
        &[&main_fix, &b],
    );
    g.set_ref("v1.4.0", &merge);
    g.pulls.insert(123, ("feat: refunds (OPS-4)".into(), vec!["feature".into()]));
    let server = serve(gitlab_api(Arc::new(Mutex::new(g)))).await;
    let client = gitlab_client(server.addr);

    let changes = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.map_err(no_token).expect("compare");
    let seen = server.seen();
    assert_eq!(seen[0].path, "/api/v4/projects/acme%2Fpayments/repository/compare");
    assert_eq!((seen[0].param("from").as_deref(), seen[0].param("to").as_deref()), (Some("v1.3.0"), Some("v1.4.0")));
    assert_eq!(seen[0].header("private-token"), Some(TOKEN));
    assert_eq!(seen[0].header("authorization"), None);

    let prs: Vec<Option<u64>> = changes.commits.iter().map(|c| c.pr).collect();
    assert_eq!(prs, [Some(123), Some(123), Some(9), Some(123)], "the MR's commits carry its number");
    assert_eq!(changes.status, None, "GitLab says no status");
    assert_eq!(changes.ahead_by, 4);
    assert!(!changes.head_is_in_base());
    assert_eq!(changes.commits[3].pr_title.as_deref(), Some("feat: refunds"));

    let enriched = client.with_pull_requests(changes).await.expect("MRs");
    let asked: Vec<String> = server.seen().iter().skip(1).map(|r| r.path.clone()).collect();
    assert_eq!(
        asked,
        ["/api/v4/projects/acme%2Fpayments/merge_requests/123", "/api/v4/projects/acme%2Fpayments/merge_requests/9"]
    );
    let merge_commit = &enriched.commits[3];
    assert_eq!(merge_commit.pr_title.as_deref(), Some("feat: refunds (OPS-4)"));
    assert_eq!(merge_commit.labels, ["feature"]);
    assert!(merge_commit.tickets.contains(&"OPS-4".to_string()), "{:?}", merge_commit.tickets);
    // !9 is unknown to the API: its commit keeps what its message said.
    assert_eq!(enriched.commits[2].pr_title.as_deref(), Some("fix: cents"));
    let notes = notes::draft(
        "2026.11",
        None,
        &[ServiceChanges { service: "payments", from: "1.3.0", to: "1.4.0", changes: Ok(&enriched) }],
        None,
    );
    assert!(notes.contains("- **payments**: refunds (OPS-4) (!123, PAY-12, OPS-4)"), "{notes}");
}

// ---------------------------------------------------------------------------
// Tickets, PRs and release notes.

fn shipping_graph() -> Graph {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    g.set_ref("v1.3.0", &root);
    // A squash merge whose subject carries the ticket.
    let squash = g.commit("feat(api): PAY-12 refunds (#12)", &[&root]);
    // A PR merged with a merge commit: the ticket is only in the PR's title.
    let branch = g.commit("speed up the export", &[&squash]);
    let merge =
        g.commit("Merge pull request #13 from acme/export\n\nperf: OPS-3 faster ledger export", &[&squash, &branch]);
    // A PR whose title and labels only the API knows.
    let labelled = g.commit("Rework retries (#14)", &[&merge]);
    let breaking = g.commit("refactor!: config keys\n\nBREAKING CHANGE: `retries` is now `retry.max`", &[&labelled]);
    let docs = g.commit("docs: README", &[&breaking]);
    let plain = g.commit("Update dependencies", &[&docs]);
    g.set_ref("v1.4.0", &plain);
    g.set_ref("main", &plain);
    g.pulls.insert(14, ("Retry LEDG-7 payouts".into(), vec!["kind/bug".into()]));
    g.pulls.insert(13, ("perf: OPS-3 faster ledger export".into(), vec!["performance".into()]));
    g.pulls.insert(12, ("feat(api): PAY-12 refunds".into(), vec![]));
    g
}

#[tokio::test]
async fn ticket_keys_come_from_messages_and_pr_titles() {
    let server = serve(github_api("acme/payments", Arc::new(Mutex::new(shipping_graph())))).await;
    let client = github_client(server.addr);
    let changes = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect("compare");
    let tickets: Vec<(u64, Vec<String>)> = changes
        .commits
        .iter()
        .filter(|c| !c.tickets.is_empty())
        .map(|c| (c.pr.unwrap_or(0), c.tickets.clone()))
        .collect();
    assert_eq!(
        tickets,
        [(12, vec!["PAY-12".to_string()]), (13, vec!["OPS-3".to_string()])],
        "the merge's body names the PR title; the branch commit itself names no ticket"
    );
    assert_eq!(changes.tickets(), ["PAY-12", "OPS-3"]);
    assert_eq!(changes.commits[1].pr, Some(13), "brought in by the merge of #13");
    assert_eq!(changes.commits_with_ticket("OPS-3").count(), 1);

    // LEDG-7 is only in PR #14's title, which only the API says.
    let enriched = client.with_pull_requests(changes).await.expect("pulls");
    assert_eq!(enriched.tickets(), ["PAY-12", "OPS-3", "LEDG-7"]);
    let seen = server.seen();
    let pulls: Vec<&str> = seen.iter().filter_map(|r| r.path.strip_prefix("/repos/acme/payments/pulls/")).collect();
    assert_eq!(pulls, ["12", "13", "14"], "each PR once");
    let pr = client.pull_request("acme/payments", 14).await.expect("again");
    assert_eq!(pr.labels, ["kind/bug"]);
    assert_eq!(client.requests().not_modified, 1, "asked again with its ETag");
    let err = no_token(client.pull_request("acme/payments", 99).await.expect_err("404"));
    assert_eq!(err.to_string(), "HTTP 404 pull request #99 not found in acme/payments");
}

#[tokio::test]
async fn release_notes_group_by_prefix_then_label() {
    let server = serve(github_api("acme/payments", Arc::new(Mutex::new(shipping_graph())))).await;
    let client = github_client(server.addr);
    let changes = client.compare("acme/payments", "v1.3.0", "v1.4.0").await.expect("compare");
    let changes = client.with_pull_requests(changes).await.expect("pulls");
    let parts = [ServiceChanges { service: "payments", from: "1.3.0", to: "1.4.0", changes: Ok(&changes) }];

    let grouped: Vec<(Category, String)> =
        notes::entries(&parts).into_iter().map(|e| (e.category, e.description)).collect();
    assert_eq!(
        grouped,
        [
            (Category::Feature, "PAY-12 refunds".to_string()),
            (Category::Improvement, "OPS-3 faster ledger export".to_string()),
            (Category::Fix, "Retry LEDG-7 payouts".to_string()),
            (Category::Improvement, "config keys".to_string()),
            (Category::Maintenance, "README".to_string()),
            (Category::Uncategorised, "Update dependencies".to_string()),
        ],
        "prefix first, then the PR's label, else uncategorised"
    );

    let text = notes::draft("2026.11", Some("2026-11-24"), &parts, Some("https://jira.example.com/browse/{ticket}"));
    for line in [
        "# Release 2026.11 - 2026-11-24",
        "## Release Highlights",
        "- 6 changes to 1 service: 1 feature, 2 improvements, 1 fix, 1 maintenance, 1 uncategorised; 1 breaking change.",
        "### Features\n\n- **payments** (api): PAY-12 refunds (#12, PAY-12)",
        "### Bug Fixes\n\n- **payments**: Retry LEDG-7 payouts (#14, LEDG-7)",
        "### Uncategorised\n\n- **payments**: Update dependencies (",
        "## Breaking Changes\n\n### payments: config keys (",
        "- **What changed**: \\`retries\\` is now \\`retry.max\\`",
        "- [LEDG-7](https://jira.example.com/browse/LEDG-7): payments #14",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

// ---------------------------------------------------------------------------
// Mainline: the not_merged_back finding's question.

fn hotfix_graph() -> (Graph, String, String) {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    let release = g.commit("feat: 1.3.2", &[&root]);
    // hotfix/1.3.3, merged back into main by a merge commit.
    let merged_hotfix = g.commit("fix: cents in refunds", &[&release]);
    let main_work = g.commit("feat: next thing", &[&release]);
    let merge_back = g.commit("Merge branch 'hotfix/1.3.3' into main", &[&main_work, &merged_hotfix]);
    let main_tip = g.commit("feat: more", &[&merge_back]);
    // hotfix/1.3.4, never merged back.
    let lost_hotfix = g.commit("fix: urgent thing in prod", &[&merged_hotfix]);
    g.set_ref("main", &main_tip);
    (g, merged_hotfix, lost_hotfix)
}

#[tokio::test]
async fn mainline_holds_a_hotfix_merged_back_and_not_one_left_out() {
    let (graph, merged, lost) = hotfix_graph();
    let graph = Arc::new(Mutex::new(graph));
    let server = serve(github_api("acme/payments", graph.clone())).await;
    let client = github_client(server.addr);
    assert_eq!(client.mainline(), "main");
    assert!(client.is_in_mainline("acme/payments", &merged).await.expect("merged"), "in main through the merge");
    assert!(!client.is_in_mainline("acme/payments", &lost).await.expect("lost"), "never merged back");
    let seen = server.seen();
    assert_eq!(seen[0].path, format!("/repos/acme/payments/compare/main...{merged}"));
    assert_eq!(seen[0].param("per_page").as_deref(), Some("1"), "a status needs no commit list");
    // The short sha a version endpoint reports works the same.
    assert!(client.is_in_mainline("acme/payments", &merged[..7]).await.expect("short"));

    // Asked again: revalidated (main moves), answered 304.
    let before = client.requests();
    assert!(!client.is_in_mainline("acme/payments", &lost).await.expect("again"));
    assert_eq!(client.requests().not_modified, before.not_modified + 1);
    // Merged back at last: main moved, the answer follows.
    {
        let mut g = graph.lock().unwrap();
        let tip = g.refs["main"].clone();
        let merge = g.commit("Merge branch 'hotfix/1.3.4'", &[&tip, &lost]);
        g.set_ref("main", &merge);
    }
    assert!(client.is_in_mainline("acme/payments", &lost).await.expect("merged now"));

    // GitLab: the same questions, the same answers.
    let (graph, merged, lost) = hotfix_graph();
    let server = serve(gitlab_api(Arc::new(Mutex::new(graph)))).await;
    let client = gitlab_client(server.addr);
    assert!(client.is_in_mainline("acme/payments", &merged).await.expect("merged"));
    assert!(!client.is_in_mainline("acme/payments", &lost).await.expect("lost"));
    assert_eq!(server.seen()[0].param("from").as_deref(), Some("main"));
}

// ---------------------------------------------------------------------------
// Hostile text and secrets.

fn is_raw(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    })
}

#[tokio::test]
async fn hostile_commit_messages_never_reach_the_terminal_raw() {
    let mut g = Graph::default();
    let root = g.commit("chore: start", &[]);
    g.set_ref("v1", &root);
    let long = "A".repeat(10 * 1024);
    let a = g.commit_by(
        &format!("fix: \u{1b}]0;owned\u{7}\u{1b}[2J{long} PAY-1\u{202e}gnp.exe (#5)\n\n\u{1b}[31mBREAKING CHANGE: \u{9b}6n boom"),
        "Mallory\u{1b}[5m\u{202e}\u{200f}",
        &[&root],
    );
    let b = g.commit_by("feat: \u{1b}P+q544e\u{1b}\\ok\u{2066}x\u{2069} OPS-2\r\n", "\u{7}", &[&a]);
    g.set_ref("v2", &b);
    g.pulls.insert(5, (format!("\u{1b}[8m{long}"), vec!["\u{1b}[1mbug\u{202e}".into(), "x".repeat(500)]));
    let server = serve(github_api("acme/payments", Arc::new(Mutex::new(g)))).await;
    let client = github_client(server.addr);
    let changes = client.compare("acme/payments", "v1", "v2").await.expect("compare");
    let changes = client.with_pull_requests(changes).await.expect("pulls");

    for c in &changes.commits {
        let texts = [Some(&c.subject), c.author.as_ref(), c.pr_title.as_ref(), c.breaking.as_ref()];
        for text in texts.into_iter().flatten().chain(&c.tickets).chain(&c.labels) {
            assert!(!is_raw(text), "raw text kept: {text:?}");
            assert!(text.chars().count() <= 301, "uncapped: {} chars", text.chars().count());
        }
    }
    assert!(changes.commits[0].subject.starts_with("fix: AAAA"), "{}", changes.commits[0].subject);
    assert_eq!(changes.commits[0].author.as_deref(), Some("Mallory"));
    assert_eq!(changes.commits[0].breaking.as_deref(), Some("boom"));
    assert_eq!(changes.commits[1].author, None, "nothing printable left");
    assert_eq!(changes.commits[1].subject, "feat: okx OPS-2");
    assert_eq!(changes.commits[0].labels[0], "bug");
    let json = serde_json::to_string(&changes).unwrap();
    assert!(!json.contains("\\u001b") && !json.contains('\u{202e}'), "{json}");

    let parts = [ServiceChanges { service: "payments", from: "1", to: "2", changes: Ok(&changes) }];
    let text = notes::draft("r", None, &parts, Some("https://t.example/{ticket}"));
    assert!(!is_raw(&text), "{text:?}");
    assert!(text.len() < 4096, "capped texts make a short draft: {} bytes", text.len());
}

#[tokio::test]
async fn the_token_never_reaches_an_error() {
    // A debug endpoint that echoes the credentials it was sent.
    let echo = serve(|req| {
        let auth = req.header("authorization").or(req.header("private-token")).unwrap_or_default().to_string();
        let code = if req.path.contains("payments") {
            500
        } else if req.path.contains("ledger") {
            404
        } else if req.path.contains("search") {
            429
        } else {
            401
        };
        json_response(code, &json!({"message": format!("debug: credentials={auth}")}))
    })
    .await;
    let github = github_client(echo.addr);
    // 500, 404, 401, then 429 (which holds everything after it back).
    for repo in ["acme/payments", "acme/ledger", "acme/other", "acme/search"] {
        let err = no_token(github.compare(repo, "v1", "v2").await.expect_err("an error"));
        assert!(err.to_string().contains("credentials=Bearer [redacted]"), "the echo, without the token: {err}");
        no_token(github.is_in_mainline(repo, "9f8e7d6").await.expect_err("an error"));
        no_token(github.pull_request(repo, 1).await.expect_err("an error"));
    }
    let echo = serve(|req| {
        let token = req.header("private-token").unwrap_or_default().to_string();
        json_response(
            if req.path.contains("ledger") { 404 } else { 500 },
            &json!({"message": format!("token {token}")}),
        )
    })
    .await;
    let gitlab = gitlab_client(echo.addr);
    for repo in ["acme/payments", "acme/ledger"] {
        let err = no_token(gitlab.compare(repo, "v1", "v2").await.expect_err("an error"));
        assert!(!err.to_string().is_empty());
    }

    // A redirect to another host is not followed: the token stays home.
    let elsewhere = serve(|_| json_response(200, &json!({}))).await;
    let target = format!("http://{}/repos/acme/payments/compare/v1...v2", elsewhere.addr);
    let redirecting =
        serve(move |_| with_headers(StatusCode::FOUND.into_response(), &[("location", target.clone())])).await;
    let err = no_token(github_client(redirecting.addr).compare("acme/payments", "v1", "v2").await.expect_err("302"));
    assert!(err.to_string().contains("redirect to another host not followed"), "{err}");
    assert_eq!(elsewhere.hits(), 0, "nothing reached the other host");
}

#[tokio::test]
async fn a_next_page_on_another_host_is_not_followed() {
    let elsewhere = serve(|_| json_response(200, &json!({}))).await;
    let other = elsewhere.addr;
    let (graph, _, _) = release_graph(3);
    let api = github_api("acme/payments", Arc::new(Mutex::new(graph)));
    let server = serve(move |req| {
        let mut resp = api(req);
        let link = format!("<http://{other}/repos/acme/payments/compare/v1.3.0...v1.4.0?page=2>; rel=\"next\"");
        resp.headers_mut().insert("link", link.parse().unwrap());
        resp
    })
    .await;
    let err = no_token(github_client(server.addr).compare("acme/payments", "v1.3.0", "v1.4.0").await.expect_err("off"));
    assert!(err.to_string().contains("the next page is on another host"), "{err}");
    assert_eq!(elsewhere.hits(), 0);
}

// ---------------------------------------------------------------------------
// Configuration.

#[test]
fn a_missing_token_variable_is_a_problem_naming_it() {
    let mut config = changes_config("github", "http://127.0.0.1:9", "");
    config.token_env = Some("FDTEST_CHANGES_SURELY_UNSET".into());
    let Err(problem) = ChangesClient::new(&config, &HttpContext::new().unwrap()) else {
        panic!("a client without its token")
    };
    assert_eq!(problem.to_string(), "`changes.token_env`: environment variable FDTEST_CHANGES_SURELY_UNSET is not set");
    // Without token_env no token is sent at all (public repositories).
    config.token_env = None;
    assert!(ChangesClient::new(&config, &HttpContext::new().unwrap()).is_ok());
}

#[test]
fn changes_settings_are_strict_and_checked() {
    let text = "[changes]\nkind = \"bitbucket\"\n";
    let err = toml::from_str::<Settings>(text).expect_err("unknown kind").to_string();
    assert!(err.contains("unknown variant `bitbucket`, expected `github` or `gitlab`"), "{err}");
    let err =
        toml::from_str::<Settings>("[changes]\nkind = \"github\"\nbranch = \"main\"\n").expect_err("key").to_string();
    assert!(err.contains("unknown field `branch`"), "{err}");

    let text = "[[services]]\nname = \"payments\"\nrepo = \"acme\"\n[changes]\nkind = \"github\"\ntag = \"{ver}\"\n";
    let settings: Settings = toml::from_str(text).expect("parses");
    let problems = validate(settings.changes.as_ref().unwrap(), &settings.services).expect_err("problems");
    let keys: Vec<String> = problems.iter().map(|p| p.key_string()).collect();
    assert_eq!(keys, ["changes.tag", "services[0].repo"]);

    let config = changes_config("github", "http://127.0.0.1:9", "tag = \"payments-v{version}\"\nmainline = \"trunk\"");
    assert_eq!(config.git_ref("payments", "1.4.0", None).unwrap(), "payments-v1.4.0");
    assert_eq!(config.git_ref("payments", "1.4.0", Some("9f8e7d6")).unwrap(), "9f8e7d6", "a cell's commit wins");
    assert_eq!(config.mainline, "trunk");
    assert_eq!(config.repo_for("payments"), Some("acme/payments"));
}

/// The client's futures can be spawned (the cockpit runs them on its runtime).
#[test]
fn the_clients_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let config = changes_config("github", "http://127.0.0.1:9", "");
    let client = ChangesClient::new(&config, &HttpContext::new().unwrap()).unwrap();
    send(&client.compare("a/b", "x", "y"));
    send(&client.is_in_mainline("a/b", "abcdef1"));
    send(&client.with_pull_requests(Changes {
        kind: flightdeck::changes::ChangesKind::Github,
        repo: "a/b".into(),
        base: "x".into(),
        head: "y".into(),
        status: None,
        ahead_by: 0,
        behind_by: None,
        total_commits: 0,
        truncated: false,
        commits: Vec::new(),
    }));
}
