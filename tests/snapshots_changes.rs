//! What ships, on the screen, at the sizes people use (80×24, 100×30,
//! 200×60): the commit count in a cell (`+14`) and how it gives way on a
//! narrow terminal, the commits in a cell's detail, the not-merged-back
//! hotfix, and the changes view (`c`). State is built by the reducers the
//! app loop uses; the compare API's answers are fed to the engine as the
//! loop feeds them (`asks`, then `take_answer`).

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent};
use flightdeck::app::AppState;
use flightdeck::app::keymap::Action;
use flightdeck::app::state::{Effect, Popup};
use flightdeck::changes::{Changes, ChangesKind, Commit, CompareStatus};
use flightdeck::engine::shipping::{Answer, Ask};
use flightdeck::model::{CellKey, Evidence, Health, Reading};
use flightdeck::poller::SourceUpdate;
use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (200, 60)];

const FLEET: &str = r#"
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
name = "search"
repo = "acme/search"
[[services]]
name = "accounts"
repo = "acme/accounts"
[[services]]
name = "ledger"

[release]
name = "2026.11"
kind = "minor"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[release.targets]
payments = "1.4.0"
checkout = "2.8.0"
search = "0.10.0"
ledger = "7.1.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
every = "10s"
"#;

const CHANGES: &str = r#"
[changes]
kind = "github"
tag = "v{version}"
mainline = "main"
tickets = "[A-Z]+-[0-9]+"
ticket_url = "https://tickets.example/browse/{ticket}"
"#;

const DEV: usize = 0;
const QA: usize = 1;
const PROD: usize = 2;

/// The accounts hotfix running in prod: not in main.
const HOTFIX: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// 18:42 inside the window.
fn now() -> Timestamp {
    at("2026-11-24T18:42:00Z")
}

fn state_of(config: &str) -> AppState {
    let config = flightdeck::setup::from_toml_str(config, "test").unwrap();
    let active = flightdeck::sources::activate(&config.sources, &config.fleet).unwrap();
    flightdeck::app::initial_state(&config, &active, now())
}

fn service(s: &AppState, name: &str) -> usize {
    s.engine.fleet.service_idx(name).unwrap()
}

/// `name` runs `version` in `env`, read 3 s ago.
fn runs(s: &mut AppState, name: &str, env: usize, version: &str, commit: Option<&str>) {
    let cell = CellKey { service: service(s, name), env };
    s.engine.apply(SourceUpdate {
        source: Arc::from("endpoints"),
        evidence: Evidence::Running,
        role: flightdeck::model::Role::Deployment,
        cell,
        attempted_at: now() - jiff::SignedDuration::from_secs(3),
        result: Ok(Reading {
            commit: commit.map(str::to_string),
            deployed_at: Some(at("2026-11-24T18:10:00Z")),
            health: Some(Health::Up),
            ..Reading::version(version)
        }),
    });
}

/// The release part-way: payments and checkout in qa, not yet in prod;
/// search in qa; accounts runs a hotfix in prod; ledger has no repo.
fn fleet(config: &str) -> AppState {
    let mut s = state_of(config);
    for (name, dev, qa, prod) in [
        ("payments", "1.4.0", "1.4.0", "1.3.2"),
        ("checkout", "2.8.0", "2.7.1", "2.7.1"),
        ("search", "0.10.0", "0.10.0", "0.9.8"),
        ("accounts", "2.3.0", "2.3.0", "2.3.1"),
        ("ledger", "7.1.0", "7.0.0", "7.0.0"),
    ] {
        runs(&mut s, name, DEV, dev, None);
        runs(&mut s, name, QA, qa, None);
        runs(&mut s, name, PROD, prod, (name == "accounts").then_some(HOTFIX));
    }
    s.reanalyze();
    s
}

/// A commit of `repo`, the `i`th of its range.
fn commit(i: usize, subject: &str, pr: Option<u64>, tickets: &[&str]) -> Commit {
    let authors = ["Ana Lima", "Bo Chen", "Carol Diaz"];
    Commit {
        sha: format!("{:07x}{}", 0x4f2a9c1 + i * 0x1111, "0".repeat(33)),
        author: Some(authors[i % authors.len()].to_string()),
        authored_at: Some(at("2026-11-20T10:00:00Z")),
        subject: match pr {
            Some(pr) => format!("{subject} (#{pr})"),
            None => subject.to_string(),
        },
        pr,
        pr_title: None,
        labels: Vec::new(),
        tickets: tickets.iter().map(|t| t.to_string()).collect(),
        merge: false,
        breaking: None,
    }
}

fn changes(repo: &str, base: &str, head: &str, commits: Vec<Commit>) -> Changes {
    Changes {
        kind: ChangesKind::Github,
        repo: repo.into(),
        base: base.into(),
        head: head.into(),
        status: Some(if commits.is_empty() { CompareStatus::Behind } else { CompareStatus::Ahead }),
        ahead_by: commits.len() as u64,
        behind_by: Some(0),
        total_commits: commits.len() as u64,
        truncated: false,
        commits,
    }
}

/// Payments 1.3.2 → 1.4.0: fourteen commits, one breaking, one with a
/// hostile subject (an escape sequence and a bidi override).
fn payments_release() -> Vec<Commit> {
    let subjects = [
        "feat(payments): add a preview of the next statement",
        "fix(payments): retry the upstream call once on a reset",
        "perf(payments): cache the currency table for a minute",
        "feat(payments): export as CSV from the list view",
        "fix(payments): keep the cursor when the page reloads",
        "refactor(payments): split the client into read and write halves",
        "docs(payments): explain the new rate limits",
        "chore(payments): bump the HTTP client",
        "fix(payments): \u{1b}[31mred\u{1b}[0m alert \u{202e}txet desrever",
        "feat(payments)!: drop the v1 refunds endpoint",
        "fix(payments): round half to even in statements",
        "test(payments): cover the refunds path",
        "fix(payments): a subject long enough to wrap on every screen this test draws, said plainly and at length",
        "chore(payments): release 1.4.0",
    ];
    subjects
        .iter()
        .enumerate()
        .map(|(i, subject)| {
            let ticket = format!("PAY-{}", 101 + i);
            let mut c = commit(i, subject, (i % 4 != 3).then_some(1200 + i as u64), &[&ticket]);
            if subject.contains(")!:") {
                c.breaking = Some("the v1 refunds endpoint is gone".into());
            }
            c
        })
        .collect()
}

/// What the compare API says, per question; every question the engine
/// asks must be one of these (so the test knows what it feeds).
fn answer(ask: &Ask) -> Answer {
    match ask {
        Ask::Compare { repo, base, head } => {
            let commits = match (repo.as_str(), base.as_str(), head.as_str()) {
                ("acme/payments", "v1.3.2", "v1.4.0") => payments_release(),
                ("acme/checkout", "v2.7.1", "v2.8.0") => vec![
                    commit(0, "feat(checkout): one-page checkout", Some(310), &["CHK-7"]),
                    commit(1, "fix(checkout): keep the basket on login", Some(312), &["CHK-9", "CHK-10"]),
                    commit(2, "chore(checkout): bump the HTTP client", None, &[]),
                ],
                ("acme/search", "v0.9.8", "v0.10.0") => {
                    return Answer::Compare(Err("HTTP 404 Not Found: no tag v0.9.8 in acme/search".into()));
                }
                // The hotfix has every commit of 2.3.0 and one more.
                ("acme/accounts", HOTFIX, "v2.3.0") => Vec::new(),
                other => panic!("the test does not know {other:?}"),
            };
            Answer::Compare(Ok(Arc::new(changes(repo, base, head, commits))))
        }
        Ask::Mainline { git_ref, .. } => Answer::Mainline(Ok(git_ref != HOTFIX)),
    }
}

/// The fleet with every question the engine asked answered.
fn answered(config: &str) -> AppState {
    let mut s = fleet(config);
    let asks = s.engine.asks();
    assert!(asks.len() >= 8, "{asks:?}");
    for ask in asks {
        let answer = answer(&ask);
        s.engine.take_answer(ask, answer);
    }
    s.reanalyze();
    s
}

fn with_changes() -> AppState {
    answered(&format!("{FLEET}{CHANGES}"))
}

fn sized(s: &AppState, w: u16, h: u16) -> AppState {
    let mut s = s.clone();
    let area = ratatui::layout::Rect::new(0, 0, w, h);
    s.set_page(flightdeck::ui::matrix_rows(area, s.engine.fleet.environments.len(), s.engine.fleet.services.len()));
    s.handle_event(&Event::Resize(w, h));
    s
}

fn draw(state: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| flightdeck::ui::render(f, state)).unwrap();
    terminal
}

fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height).map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect()).collect()
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    rows(terminal).join("\n")
}

fn key(s: &mut AppState, code: KeyCode) -> Effect {
    s.handle_event(&Event::Key(KeyEvent::from(code)))
}

/// Open the detail of `name` in `env` from the matrix.
fn open_detail(s: &mut AppState, name: &str, env: usize) {
    let row = s.visible.iter().position(|&v| v == service(s, name)).unwrap();
    for _ in 0..row {
        s.act(Action::Down);
    }
    for _ in 0..env {
        s.act(Action::Right);
    }
    s.act(Action::Open);
    assert_eq!(s.ui.popup, Some(Popup::Detail(CellKey { service: service(s, name), env })));
}

#[test]
fn the_fixture_is_what_it_says() {
    let s = with_changes();
    let prod = |name| CellKey { service: service(&s, name), env: PROD };
    assert_eq!(s.eval.incoming(prod("payments")), Some(14));
    assert_eq!(s.eval.incoming(CellKey { service: service(&s, "checkout"), env: QA }), Some(3));
    assert_eq!(s.eval.incoming(prod("accounts")), Some(0), "the hotfix is ahead of qa: it gains nothing");
    assert_eq!(s.eval.incoming(prod("search")), None, "the compare failed");
    assert_eq!(s.eval.incoming(prod("ledger")), None, "no repo");
    let unmerged: Vec<_> = s
        .eval
        .findings
        .iter()
        .filter(|f| f.kind == flightdeck::analysis::findings::FindingKind::NotMergedBack)
        .map(|f| f.cell)
        .collect();
    assert_eq!(unmerged, vec![prod("accounts")]);
}

#[test]
fn a_cell_counts_its_commits_where_there_is_room_and_gives_way_first() {
    let s = with_changes();
    for (w, h) in SIZES {
        let terminal = draw(&sized(&s, w, h), w, h);
        insta::assert_snapshot!(format!("matrix_counts_{w}x{h}"), terminal.backend());
    }
    let row_of = |terminal: &Terminal<TestBackend>, name: &str| {
        rows(terminal).into_iter().find(|r| r.starts_with(&format!("│{name} "))).unwrap()
    };
    // Wide: prod's payments cell says what it gains from qa, checkout's qa
    // cell what it gains from dev; a cell with nothing to gain says nothing.
    let wide = draw(&sized(&s, 200, 60), 200, 60);
    let payments = row_of(&wide, "payments");
    assert!(payments.contains("1.3.2") && payments.contains("+14 R"), "{payments}");
    assert_eq!(payments.matches('+').count(), 1, "dev gains from nobody, qa runs what dev runs: {payments}");
    assert!(row_of(&wide, "checkout").contains("+3 R"));
    assert!(!row_of(&wide, "accounts").contains('+'), "the hotfix gains nothing: no +0");
    assert!(screen(&wide).contains("+N commits from the environment before"));
    // Narrow: the counts go first, the versions stay whole, and the legend
    // says the counts are hidden.
    let narrow = draw(&sized(&s, 80, 24), 80, 24);
    let payments = row_of(&narrow, "payments");
    assert!(!payments.contains("+14"), "{payments}");
    for version in ["1.4.0", "1.3.2"] {
        assert!(payments.contains(&format!(" {version} ")), "{version} cut in {payments}");
    }
    assert!(screen(&narrow).contains("counts hidden: too narrow"), "{}", screen(&narrow));
    // A count never cuts a version: the widest terminal where the counts
    // are shown has every version whole.
    for w in 60..=200 {
        let terminal = draw(&sized(&s, w, 30), w, 30);
        let row = row_of(&terminal, "payments");
        if row.contains("+14") {
            assert!(row.contains(" 1.4.0 ") && row.contains(" 1.3.2 "), "at {w}: {row}");
            assert!(row.contains("R"), "at {w}, the count shows only with everything else: {row}");
        }
    }
}

#[test]
fn without_changes_the_matrix_says_nothing_of_counts() {
    let s = fleet(FLEET);
    for (w, h) in SIZES {
        let text = screen(&draw(&sized(&s, w, h), w, h));
        assert!(!text.contains("counts hidden") && !text.contains("+N"), "{w}x{h}:\n{text}");
    }
    // The not-merged-back mark is in the legend all the same.
    assert!(screen(&draw(&sized(&s, 200, 60), 200, 60)).contains("⎇ not merged back"));
    assert!(screen(&draw(&sized(&s, 100, 30), 100, 30)).contains("⎇ findings"));
}

#[test]
fn a_cells_detail_lists_what_it_gains() {
    for (w, h) in SIZES {
        let mut s = sized(&with_changes(), w, h);
        open_detail(&mut s, "payments", PROD);
        let terminal = draw(&s, w, h);
        insta::assert_snapshot!(format!("detail_with_commits_{w}x{h}"), terminal.backend());
        let text = screen(&terminal);
        assert!(text.contains("gains from qa: 14 commits"), "{text}");
        assert!(text.contains("4f2a9c1 feat(payments): add a preview"), "{text}");
        assert!(text.contains("#1200"), "the PR, once: {text}");
        assert!(!text.contains("(#1200)"), "the PR is not said twice: {text}");
        assert!(text.contains("Ana Lima") && text.contains("PAY-101"), "{text}");
    }
    // Scrolled to the end at 80×24, every commit is there, the hostile
    // subject without its escape sequence or its bidi override.
    let mut s = sized(&with_changes(), 80, 24);
    open_detail(&mut s, "payments", PROD);
    let mut seen = String::new();
    for _ in 0..60 {
        seen.push_str(&screen(&draw(&s, 80, 24)));
        key(&mut s, KeyCode::Down);
    }
    for i in 0..14 {
        assert!(seen.contains(&format!("PAY-{}", 101 + i)), "PAY-{} never shown", 101 + i);
    }
    assert!(seen.contains("red alert"), "{seen}");
    assert!(!seen.contains('\u{1b}') && !seen.contains('\u{202e}'), "a control character reached the screen");
    assert!(seen.contains("breaking"), "{seen}");
}

#[test]
fn a_hotfix_not_merged_back_says_so_in_its_detail() {
    let mut s = sized(&with_changes(), 100, 30);
    open_detail(&mut s, "accounts", PROD);
    let terminal = draw(&s, 100, 30);
    insta::assert_snapshot!("detail_not_merged_back_100x30", terminal.backend());
    let text = screen(&terminal);
    assert!(text.contains("⎇ the running commit 9f8e7d6 is not in main"), "{text}");
    assert!(text.contains("gains nothing from qa"), "{text}");
    // Its qa cell runs what main has: no such line.
    let mut s = sized(&with_changes(), 100, 30);
    open_detail(&mut s, "accounts", QA);
    assert!(!screen(&draw(&s, 100, 30)).contains("is not in main"));
}

#[test]
fn a_detail_says_when_the_compare_is_asked_or_failed() {
    // Asked, not answered yet.
    let mut s = fleet(&format!("{FLEET}{CHANGES}"));
    let asked = s.engine.asks();
    assert!(!asked.is_empty());
    s.reanalyze();
    let mut waiting = sized(&s, 100, 30);
    open_detail(&mut waiting, "payments", PROD);
    let text = screen(&draw(&waiting, 100, 30));
    assert!(text.contains("gains from qa: asking the compare API…"), "{text}");
    // Failed: the reason, in the cell.
    let mut failed = sized(&with_changes(), 100, 30);
    open_detail(&mut failed, "search", PROD);
    let text = screen(&draw(&failed, 100, 30));
    assert!(text.contains("gains from qa: the compare failed: HTTP 404 Not Found: no tag v0.9.8"), "{text}");
    // Without [changes], a detail says nothing of commits.
    let mut plain = sized(&fleet(FLEET), 100, 30);
    open_detail(&mut plain, "payments", PROD);
    assert!(!screen(&draw(&plain, 100, 30)).contains("gains"));
}

#[test]
fn the_changes_view_lists_what_prod_will_gain() {
    for (w, h) in SIZES {
        let mut s = sized(&with_changes(), w, h);
        assert_eq!(key(&mut s, KeyCode::Char('c')), Effect::Redraw);
        assert_eq!(s.ui.popup, Some(Popup::Changes));
        let terminal = draw(&s, w, h);
        insta::assert_snapshot!(format!("changes_view_{w}x{h}"), terminal.backend());
        let text = screen(&terminal);
        assert!(text.contains("What ships · c or Esc to close"), "{text}");
        assert!(text.contains("prod → target · release 2026.11: 17 commits in 2 of 4 services"), "{text}");
    }
    // Read whole by scrolling at 80×24: every service of the release, the
    // hotfix, the failure and the service without a repo.
    let mut s = sized(&with_changes(), 80, 24);
    key(&mut s, KeyCode::Char('c'));
    let mut seen = String::new();
    let mut last = usize::MAX;
    while s.ui.popup_scroll != last {
        last = s.ui.popup_scroll;
        seen.push_str(&screen(&draw(&s, 80, 24)));
        key(&mut s, KeyCode::Char('j'));
    }
    assert!(last > 10, "it scrolls: {last}");
    for want in [
        "payments  prod 1.3.2 → target 1.4.0: +14 commits",
        "checkout  prod 2.7.1 → target 2.8.0: +3 commits",
        "CHK-9, CHK-10",
        "search    prod 0.9.8 → target 0.10.0: the compare failed",
        "ledger    no repo",
        "⎇ accounts 2.3.1 in prod runs 9f8e7d6, which is not in main",
    ] {
        assert!(seen.contains(want), "{want:?} not in the view:\n{seen}");
    }
    // PgDn/PgUp and End/Home move by pages and to the ends; `c` or Esc closes.
    key(&mut s, KeyCode::Home);
    assert_eq!(s.ui.popup_scroll, 0);
    key(&mut s, KeyCode::PageDown);
    assert!(s.ui.popup_scroll > 5, "{}", s.ui.popup_scroll);
    key(&mut s, KeyCode::PageUp);
    assert_eq!(s.ui.popup_scroll, 0);
    key(&mut s, KeyCode::End);
    assert_eq!(s.ui.popup_scroll, last);
    let text = screen(&draw(&s, 80, 24));
    assert!(text.contains("above") && !text.contains("below"), "{text}");
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.ui.popup, None);
    key(&mut s, KeyCode::Char('c'));
    assert_eq!(s.ui.popup_scroll, 0, "opened again, it starts at the top");
    key(&mut s, KeyCode::Char('c'));
    assert_eq!(s.ui.popup, None, "c closes it too");
}

#[test]
fn the_changes_view_says_plainly_when_changes_are_not_configured() {
    let mut s = sized(&fleet(FLEET), 80, 24);
    key(&mut s, KeyCode::Char('c'));
    let terminal = draw(&s, 80, 24);
    insta::assert_snapshot!("changes_view_not_configured_80x24", terminal.backend());
    let text = screen(&terminal);
    assert!(text.contains("[changes] is not configured."), "{text}");
    assert!(text.contains("config.example.toml"), "{text}");
}

#[test]
fn the_changes_key_is_in_the_footer_and_the_help() {
    let s = sized(&with_changes(), 80, 24);
    let terminal = draw(&s, 80, 24);
    let footer = rows(&terminal).pop().unwrap();
    assert!(footer.contains(" c changes "), "{footer:?}");
    // With the checklist focused, its own keys stay whole at 80 columns:
    // the other keys give way (the help lists them all).
    let mut s = with_changes();
    s.engine.template = flightdeck::checklist::resolve(&s.engine.fleet, None).unwrap();
    s.reanalyze();
    let mut s = sized(&s, 80, 24);
    while s.ui.focus != flightdeck::app::state::Pane::Checklist {
        s.act(Action::NextPane);
    }
    let footer = rows(&draw(&s, 80, 24)).pop().unwrap();
    assert!(footer.starts_with(" ? help "), "{footer:?}");
    assert!(footer.contains(" space tick  n note  s sign off  g decide  q quit "), "{footer:?}");
    assert!(!footer.contains(" c changes "), "{footer:?}");
    let mut s = sized(&with_changes(), 200, 60);
    s.act(Action::Help);
    let text = screen(&draw(&s, 200, 60));
    assert!(text.contains("what ships: each service's commits, last env → target"), "{text}");
    assert!(text.contains("⎇ not merged back") && text.contains("+14 commits from the env before"), "{text}");
}
