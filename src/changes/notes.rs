//! A release-notes draft in Markdown, in the shape of the seeds' template:
//! highlights, what's new (features, improvements, bug fixes), breaking
//! changes, tickets with links. A pure function of the changes.
//!
//! A commit, or a PR with all its commits, is one entry. Its section comes
//! from its conventional-commit prefix (`feat`, `fix`, `perf`, `refactor`,
//! …; a PR's title, else the subject), else from its PR's labels; when
//! neither says, or the labels disagree, it is "uncategorised" rather than
//! a guess. `type!:` or a `BREAKING CHANGE:` footer (or a `breaking` label)
//! also lists it under breaking changes. A merge without a PR (`Merge branch
//! 'main' into …`) brings nothing of its own and is left out.

use std::fmt::Write as _;

use serde::Serialize;

use super::config::ticket_link;
use super::decode::conventional;
use super::{Changes, ChangesKind, pr_ref};

/// One service's part of the release.
#[derive(Debug, Clone, Copy)]
pub struct ServiceChanges<'a> {
    pub service: &'a str,
    /// What runs now and what ships, as people name them (versions).
    pub from: &'a str,
    pub to: &'a str,
    /// The changes, or why they could not be read (an error's text).
    pub changes: Result<&'a Changes, &'a str>,
}

/// The section an entry goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Feature,
    Improvement,
    Fix,
    Maintenance,
    Uncategorised,
}

impl Category {
    /// From a conventional-commit type.
    fn of_type(kind: &str) -> Option<Category> {
        match kind {
            "feat" | "feature" => Some(Category::Feature),
            "fix" | "bugfix" | "hotfix" => Some(Category::Fix),
            "perf" | "refactor" => Some(Category::Improvement),
            "docs" | "chore" | "test" | "tests" | "ci" | "build" | "style" | "revert" | "deps" => {
                Some(Category::Maintenance)
            }
            _ => None,
        }
    }

    /// From a label (`bug`, `type: feature`, `kind/bug`).
    fn of_label(label: &str) -> Option<Category> {
        match label_word(label).as_str() {
            "feature" | "feat" | "enhancement" | "new feature" => Some(Category::Feature),
            "bug" | "fix" | "bugfix" | "bug fix" | "regression" | "hotfix" => Some(Category::Fix),
            "performance" | "perf" | "improvement" | "refactor" | "refactoring" | "optimization" => {
                Some(Category::Improvement)
            }
            "documentation" | "docs" | "chore" | "dependencies" | "ci" | "test" | "tests" | "build" | "maintenance" => {
                Some(Category::Maintenance)
            }
            _ => None,
        }
    }
}

/// `type: bug` → `bug`; `kind/Bug` → `bug`.
fn label_word(label: &str) -> String {
    label.rsplit([':', '/']).next().unwrap_or(label).trim().to_ascii_lowercase()
}

fn is_breaking_label(label: &str) -> bool {
    matches!(label_word(label).as_str(), "breaking" | "breaking change" | "breaking-change" | "breaking-changes")
}

/// One line of the notes: a PR with its commits, or one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub service: String,
    /// `#12` / `!12`, or `None` for a commit of its own.
    pub pr: Option<String>,
    /// The first commit's short sha (the only reference of a lone commit).
    pub sha: String,
    /// The conventional header's scope, if any.
    pub scope: Option<String>,
    /// What it does: the header's description, else the title as written.
    pub description: String,
    pub category: Category,
    /// What it breaks, if it breaks something (one line per note).
    pub breaking: Vec<String>,
    pub tickets: Vec<String>,
    pub commits: usize,
}

/// The entries of every service, in service order then commit order.
pub fn entries(services: &[ServiceChanges<'_>]) -> Vec<Entry> {
    let mut out = Vec::new();
    for part in services {
        let Ok(changes) = part.changes else { continue };
        out.extend(entries_of(part.service, changes));
    }
    out
}

fn entries_of(service: &str, changes: &Changes) -> Vec<Entry> {
    // Group by PR, in order of each PR's first commit.
    let mut groups: Vec<(Option<u64>, Vec<&super::Commit>)> = Vec::new();
    for commit in &changes.commits {
        match commit.pr {
            Some(n) => match groups.iter_mut().find(|(pr, _)| *pr == Some(n)) {
                Some((_, commits)) => commits.push(commit),
                None => groups.push((Some(n), vec![commit])),
            },
            None if commit.merge => {}
            None => groups.push((None, vec![commit])),
        }
    }
    groups.into_iter().filter_map(|(pr, commits)| entry(service, changes.kind, pr, &commits)).collect()
}

fn entry(service: &str, kind: ChangesKind, pr: Option<u64>, commits: &[&super::Commit]) -> Option<Entry> {
    let first = commits.first()?;
    let title = commits.iter().find_map(|c| c.pr_title.as_deref()).unwrap_or(&first.subject);
    let header = conventional(title);
    let labels: Vec<&str> = commits.iter().flat_map(|c| c.labels.iter().map(String::as_str)).collect();
    let category = header.as_ref().and_then(|h| Category::of_type(&h.kind)).or_else(|| {
        let mut found = labels.iter().filter_map(|l| Category::of_label(l));
        let one = found.next()?;
        // Labels that disagree say nothing.
        found.all(|c| c == one).then_some(one)
    });
    let mut breaking: Vec<String> = Vec::new();
    for note in commits.iter().filter_map(|c| c.breaking.as_deref()) {
        if !breaking.iter().any(|b| b == note) {
            breaking.push(note.to_string());
        }
    }
    if breaking.is_empty()
        && (header.as_ref().is_some_and(|h| h.breaking) || labels.iter().any(|l| is_breaking_label(l)))
    {
        breaking.push(header.as_ref().map_or(title, |h| h.description).to_string());
    }
    let mut tickets: Vec<String> = Vec::new();
    for key in commits.iter().flat_map(|c| &c.tickets) {
        if !tickets.contains(key) {
            tickets.push(key.clone());
        }
    }
    Some(Entry {
        service: service.to_string(),
        pr: pr.map(|n| pr_ref(kind, n)),
        sha: first.short_sha().to_string(),
        scope: header.as_ref().and_then(|h| h.scope).map(String::from),
        description: header.as_ref().map_or(title, |h| h.description).to_string(),
        category: category.unwrap_or(Category::Uncategorised),
        breaking,
        tickets,
        commits: commits.len(),
    })
}

/// The draft: `release` names it, `date` (already formatted, e.g.
/// `2026-11-24`) dates it, `ticket_url` (with `{ticket}`) links the tickets.
pub fn draft(release: &str, date: Option<&str>, services: &[ServiceChanges<'_>], ticket_url: Option<&str>) -> String {
    let entries = entries(services);
    let mut out = String::new();
    let title = match date {
        Some(date) => format!("# Release {} - {}", md(release), md(date)),
        None => format!("# Release {}", md(release)),
    };
    let _ = writeln!(out, "{title}\n");

    out.push_str("## Release Highlights\n\n");
    out.push_str("<!-- A draft from commit messages: say in 2-3 sentences what matters most. -->\n");
    let _ = writeln!(out, "- {}", summary(&entries, services));
    for part in services {
        let what = match part.changes {
            Ok(c) if c.commits.is_empty() => "no changes".to_string(),
            Ok(c) if c.truncated => {
                format!("{} commits ({} listed: the rest was not read)", c.total_commits, c.commits.len())
            }
            Ok(c) => plural(c.commits.len(), "commit"),
            Err(e) => format!("changes not read: {}", md(e)),
        };
        let _ = writeln!(out, "- **{}** {} → {}: {what}", md(part.service), md(part.from), md(part.to));
    }

    out.push_str("\n## What's New\n");
    for (category, heading, always) in [
        (Category::Feature, "Features", true),
        (Category::Improvement, "Improvements", true),
        (Category::Fix, "Bug Fixes", true),
        (Category::Maintenance, "Maintenance", false),
        (Category::Uncategorised, "Uncategorised", false),
    ] {
        let listed: Vec<&Entry> = entries.iter().filter(|e| e.category == category).collect();
        if listed.is_empty() && !always {
            continue;
        }
        let _ = writeln!(out, "\n### {heading}\n");
        if listed.is_empty() {
            out.push_str("- None.\n");
        }
        for e in listed {
            let _ = writeln!(out, "- {}", line(e));
        }
    }

    out.push_str("\n## Breaking Changes\n\n");
    let breaking: Vec<&Entry> = entries.iter().filter(|e| !e.breaking.is_empty()).collect();
    if breaking.is_empty() {
        out.push_str("No breaking changes in this release.\n");
    }
    for e in breaking {
        let _ = writeln!(out, "### {}: {} ({})\n", md(&e.service), md(&e.description), reference(e));
        for note in &e.breaking {
            let _ = writeln!(out, "- **What changed**: {}", md(note));
        }
        out.push_str("- **Impact**: <!-- who or what is affected -->\n");
        out.push_str("- **Migration**: <!-- steps to adapt -->\n\n");
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }

    out.push_str("## Tickets\n\n");
    let mut tickets: Vec<(&str, Vec<String>)> = Vec::new();
    for e in &entries {
        let place = format!("{} {}", e.service, e.pr.as_deref().unwrap_or(&e.sha));
        for key in &e.tickets {
            match tickets.iter_mut().find(|(k, _)| k == key) {
                Some((_, places)) => places.push(place.clone()),
                None => tickets.push((key, vec![place.clone()])),
            }
        }
    }
    if tickets.is_empty() {
        out.push_str("No ticket keys in these changes.\n");
    }
    for (key, places) in tickets {
        let shown = match ticket_url {
            Some(template) => format!("[{}]({})", md(key), ticket_link(template, key)),
            None => md(key),
        };
        let _ = writeln!(out, "- {shown}: {}", md(&places.join(", ")));
    }
    out
}

/// "14 changes to 3 services: 4 features, …; 1 breaking change."
fn summary(entries: &[Entry], services: &[ServiceChanges<'_>]) -> String {
    let count = |c: Category| entries.iter().filter(|e| e.category == c).count();
    let mut parts = vec![
        plural(count(Category::Feature), "feature"),
        plural(count(Category::Improvement), "improvement"),
        plural(count(Category::Fix), "fix"),
    ];
    if count(Category::Maintenance) > 0 {
        parts.push(format!("{} maintenance", count(Category::Maintenance)));
    }
    if count(Category::Uncategorised) > 0 {
        parts.push(format!("{} uncategorised", count(Category::Uncategorised)));
    }
    let breaking = entries.iter().filter(|e| !e.breaking.is_empty()).count();
    format!(
        "{} to {}: {}; {}.",
        plural(entries.len(), "change"),
        plural(services.len(), "service"),
        parts.join(", "),
        plural(breaking, "breaking change")
    )
}

fn plural(n: usize, word: &str) -> String {
    match (n, word) {
        (1, _) => format!("1 {word}"),
        (_, "fix") => format!("{n} fixes"),
        _ => format!("{n} {word}s"),
    }
}

/// `**payments** (api): Add refunds (#12, PAY-1) — breaking`
fn line(e: &Entry) -> String {
    let scope = e.scope.as_deref().map(|s| format!(" ({})", md(s))).unwrap_or_default();
    let breaking = if e.breaking.is_empty() { "" } else { " — **breaking**" };
    format!("**{}**{scope}: {} ({}){breaking}", md(&e.service), md(&e.description), reference(e))
}

/// The PR (or the sha) and the ticket keys.
fn reference(e: &Entry) -> String {
    let mut refs = vec![md(e.pr.as_deref().unwrap_or(&e.sha))];
    refs.extend(e.tickets.iter().map(|t| md(t)));
    refs.join(", ")
}

/// Text from a commit as Markdown text: the characters that would make a
/// link, an emphasis, code or HTML are escaped. (Control characters were
/// taken out when the commit was read.)
pub(crate) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Commit;

    fn commit(sha: &str, message_subject: &str) -> Commit {
        Commit {
            sha: sha.into(),
            author: Some("Ada".into()),
            authored_at: None,
            subject: message_subject.into(),
            pr: None,
            pr_title: None,
            labels: Vec::new(),
            tickets: Vec::new(),
            merge: false,
            breaking: None,
        }
    }

    fn changes(commits: Vec<Commit>) -> Changes {
        Changes {
            kind: ChangesKind::Github,
            repo: "acme/payments".into(),
            base: "v1.3.2".into(),
            head: "v1.4.0".into(),
            status: None,
            ahead_by: commits.len() as u64,
            behind_by: None,
            total_commits: commits.len() as u64,
            truncated: false,
            commits,
        }
    }

    #[test]
    fn grouped_by_prefix_then_label_else_uncategorised() {
        let mut labelled = commit("2222222aaaa", "Speed up the ledger export (#21)");
        labelled.pr = Some(21);
        labelled.labels = vec!["type: performance".into()];
        let mut torn = commit("3333333aaaa", "Rework things (#22)");
        torn.pr = Some(22);
        torn.labels = vec!["bug".into(), "enhancement".into()];
        let c = changes(vec![
            commit("1111111aaaa", "feat(api): refunds endpoint"),
            labelled,
            torn,
            commit("4444444aaaa", "Update things"),
            commit("5555555aaaa", "fix: cents rounding"),
            commit("6666666aaaa", "chore: bump serde"),
            commit("7777777aaaa", "wip: something"),
        ]);
        let got: Vec<(Category, &str)> = entries_of("payments", &c)
            .iter()
            .map(|e| (e.category, if e.pr.is_some() { "pr" } else { "commit" }))
            .collect();
        assert_eq!(
            got,
            [
                (Category::Feature, "commit"),
                (Category::Improvement, "pr"),
                (Category::Uncategorised, "pr"),
                (Category::Uncategorised, "commit"),
                (Category::Fix, "commit"),
                (Category::Maintenance, "commit"),
                (Category::Uncategorised, "commit"),
            ]
        );
    }

    #[test]
    fn a_pr_is_one_entry_with_its_title_tickets_and_breaking_notes() {
        let mut a = commit("1111111aaaa", "work in progress");
        a.pr = Some(12);
        a.pr_title = Some("feat(api)!: drop the v1 API".into());
        a.tickets = vec!["PAY-1".into()];
        let mut b = commit("2222222aaaa", "more");
        b.pr = Some(12);
        b.pr_title = a.pr_title.clone();
        b.tickets = vec!["PAY-1".into(), "PAY-2".into()];
        b.breaking = Some("`/v1/charges` is gone".into());
        let mut merge = commit("3333333aaaa", "Merge pull request #12 from acme/v2");
        merge.pr = Some(12);
        merge.pr_title = a.pr_title.clone();
        merge.merge = true;
        let noise = Commit { merge: true, ..commit("4444444aaaa", "Merge branch 'main' into v2") };
        let e = entries_of("payments", &changes(vec![a, b, merge, noise]));
        assert_eq!(e.len(), 1, "{e:?}");
        let e = &e[0];
        assert_eq!(e.pr.as_deref(), Some("#12"));
        assert_eq!(
            (e.category, e.scope.as_deref(), e.description.as_str()),
            (Category::Feature, Some("api"), "drop the v1 API")
        );
        assert_eq!(e.breaking, ["`/v1/charges` is gone"]);
        assert_eq!(e.tickets, ["PAY-1", "PAY-2"]);
        assert_eq!(e.commits, 3);
    }

    #[test]
    fn the_draft_has_the_templates_shape() {
        let mut feat = commit("1111111aaaa", "feat: refunds (#12)");
        feat.pr = Some(12);
        feat.pr_title = Some("feat: refunds".into());
        feat.tickets = vec!["PAY-12".into()];
        let mut fix = commit("2222222aaaa", "fix!: cents are integers");
        fix.tickets = vec!["PAY-12".into(), "OPS-3".into()];
        let payments = changes(vec![feat, fix, commit("3333333aaaa", "Tidy <script>*x*</script> [a](b)")]);
        let ledger =
            Changes { truncated: true, total_commits: 400, ..changes(vec![commit("4444444aaaa", "perf: faster")]) };
        let services = [
            ServiceChanges { service: "payments", from: "1.3.2", to: "1.4.0", changes: Ok(&payments) },
            ServiceChanges { service: "ledger", from: "2.0.0", to: "2.1.0", changes: Ok(&ledger) },
            ServiceChanges { service: "search", from: "0.9.0", to: "1.0.0", changes: Err("HTTP 404 cannot compare") },
        ];
        let text = draft("2026.11", Some("2026-11-24"), &services, Some("https://jira.example.com/browse/{ticket}"));
        let expected = "\
# Release 2026.11 - 2026-11-24

## Release Highlights

<!-- A draft from commit messages: say in 2-3 sentences what matters most. -->
- 4 changes to 3 services: 1 feature, 1 improvement, 1 fix, 1 uncategorised; 1 breaking change.
- **payments** 1.3.2 → 1.4.0: 3 commits
- **ledger** 2.0.0 → 2.1.0: 400 commits (1 listed: the rest was not read)
- **search** 0.9.0 → 1.0.0: changes not read: HTTP 404 cannot compare

## What's New

### Features

- **payments**: refunds (#12, PAY-12)

### Improvements

- **ledger**: faster (4444444)

### Bug Fixes

- **payments**: cents are integers (2222222, PAY-12, OPS-3) — **breaking**

### Uncategorised

- **payments**: Tidy \\<script\\>\\*x\\*\\</script\\> \\[a\\](b) (3333333)

## Breaking Changes

### payments: cents are integers (2222222, PAY-12, OPS-3)

- **What changed**: cents are integers
- **Impact**: <!-- who or what is affected -->
- **Migration**: <!-- steps to adapt -->

## Tickets

- [PAY-12](https://jira.example.com/browse/PAY-12): payments #12, payments 2222222
- [OPS-3](https://jira.example.com/browse/OPS-3): payments 2222222
";
        assert_eq!(text, expected);
    }

    #[test]
    fn nothing_to_say_is_said() {
        let empty = changes(Vec::new());
        let services = [ServiceChanges { service: "payments", from: "1.4.0", to: "1.4.0", changes: Ok(&empty) }];
        let text = draft("r", None, &services, None);
        assert!(text.starts_with("# Release r\n"), "{text}");
        assert!(text.contains("- 0 changes to 1 service: 0 features, 0 improvements, 0 fixes; 0 breaking changes."));
        assert!(text.contains("- **payments** 1.4.0 → 1.4.0: no changes"));
        assert!(text.contains("### Features\n\n- None.\n"));
        assert!(!text.contains("Uncategorised"));
        assert!(text.contains("No breaking changes in this release."));
        assert!(text.contains("No ticket keys in these changes."));
    }

    #[test]
    fn labels_read_as_words() {
        assert_eq!(Category::of_label("kind/Bug"), Some(Category::Fix));
        assert_eq!(Category::of_label("type: feature"), Some(Category::Feature));
        assert_eq!(Category::of_label("good first issue"), None);
        assert!(is_breaking_label("Breaking Change") && !is_breaking_label("bug"));
        assert_eq!(md("a_b `c` | d\u{7}"), "a\\_b \\`c\\` \\| d");
    }
}
