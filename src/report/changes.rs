//! What ships, as the headless commands print it: per service, the commits
//! between what runs at one point and at another (`flightdeck changes`, and
//! the release's changes in `report`), and where a ticket's commits run
//! (`flightdeck where`). Pure functions of the engine's answers: the
//! commands ask the compare API, these only arrange what came back.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::Serialize;

use crate::changes::{Changes, ChangesKind, Commit};
use crate::engine::Engine;
use crate::engine::shipping::{Located, Point};
use crate::model::{CellKey, ServiceIdx};
use crate::sanitize;

/// Commits listed per service in `report` before "… and N more".
pub(crate) const REPORT_CAP: usize = 50;

/// Longest text taken from a source or an error into a line.
const LINE_TEXT: usize = 300;

/// The changes of some services between two points.
#[derive(Debug, Clone)]
pub struct ChangesView<'a> {
    /// The points as people name them: an environment, or `target`.
    pub from: String,
    pub to: String,
    /// The release's name, if there is a plan.
    pub release: Option<&'a str>,
    /// `[changes] ticket_url`, to link ticket keys in Markdown.
    pub ticket_url: Option<&'a str>,
    pub services: Vec<ServiceRange<'a>>,
}

/// One service's part.
#[derive(Debug, Clone)]
pub struct ServiceRange<'a> {
    pub service: &'a str,
    pub repo: Option<&'a str>,
    /// Where the range starts and ends, when known.
    pub from: Option<Located>,
    pub to: Option<Located>,
    pub state: RangeState<'a>,
}

/// What is known of one service's range.
#[derive(Debug, Clone)]
pub enum RangeState<'a> {
    /// The compare's answer (possibly no commits: the later point is behind).
    Changes(&'a Changes),
    /// Both points run the same code.
    Same,
    /// Nothing to compare, and why (no repo, no version, not in the release).
    Unknown(String),
    /// The compare failed; its reason.
    Failed(&'a str),
    /// Asked but not answered (the compare API was not reached).
    NotRead,
}

impl ServiceRange<'_> {
    /// A compare failed or was never answered: the command exits 1.
    pub fn failed(&self) -> bool {
        matches!(self.state, RangeState::Failed(_) | RangeState::NotRead)
    }
}

impl ChangesView<'_> {
    /// Some service's changes could not be read.
    pub fn any_failed(&self) -> bool {
        self.services.iter().any(ServiceRange::failed)
    }
}

/// A point as people name it: the environment's name, or `target`.
pub fn point_name(engine: &Engine, point: Point) -> String {
    match point {
        Point::Env(env) => {
            engine.fleet.environments.get(env).map_or_else(|| format!("env {env}"), |e| e.name.to_string())
        }
        Point::Target => "target".to_string(),
    }
}

/// The changes of `services` from `from` to `to`, as the engine knows them.
pub fn collect(
    engine: &Engine,
    from: Point,
    to: Point,
    services: impl IntoIterator<Item = ServiceIdx>,
) -> ChangesView<'_> {
    let config = engine.shipping.config.as_ref();
    let services = services
        .into_iter()
        .filter_map(|service| {
            let name = engine.fleet.services.get(service)?.name.as_ref();
            let repo = config.and_then(|c| c.repo_for(name));
            let (from_at, to_at) = (engine.locate(service, from), engine.locate(service, to));
            let state = match (&from_at, &to_at) {
                _ if config.is_none() => RangeState::Unknown("no [changes] in the config".into()),
                _ if repo.is_none() => {
                    RangeState::Unknown("no repo (add `repo = \"owner/name\"` to its [[services]] entry)".into())
                }
                (None, _) => RangeState::Unknown(unlocated(engine, service, from)),
                (_, None) => RangeState::Unknown(unlocated(engine, service, to)),
                (Some(a), Some(b)) if a.git_ref == b.git_ref => RangeState::Same,
                (Some(_), Some(_)) => match engine.range(service, from, to).and_then(|r| r.changes) {
                    Some(Ok(changes)) => RangeState::Changes(changes),
                    Some(Err(reason)) => RangeState::Failed(reason),
                    None => RangeState::NotRead,
                },
            };
            Some(ServiceRange { service: name, repo, from: from_at, to: to_at, state })
        })
        .collect();
    ChangesView {
        from: point_name(engine, from),
        to: point_name(engine, to),
        release: engine.fleet.release.as_ref().map(|r| r.name.as_str()),
        ticket_url: config.and_then(|c| c.ticket_url.as_deref()),
        services,
    }
}

/// What the release brings to the last environment: its running version →
/// the target, for each service in the plan. `None` without `[changes]`, a
/// release plan or an environment.
pub fn release(engine: &Engine) -> Option<ChangesView<'_>> {
    let plan = engine.fleet.release.as_ref().filter(|_| engine.ships())?;
    let last = engine.fleet.environments.len().checked_sub(1)?;
    let planned = (0..engine.fleet.services.len()).filter(|&s| plan.target(s).is_some());
    Some(collect(engine, Point::Env(last), Point::Target, planned))
}

/// Why a point has no git ref for a service.
fn unlocated(engine: &Engine, service: ServiceIdx, point: Point) -> String {
    let name = &engine.fleet.services[service].name;
    match point {
        Point::Target => match &engine.fleet.release {
            None => "no release plan, so no target".to_string(),
            Some(plan) => match plan.target(service) {
                None => "not in the release (no target)".to_string(),
                Some(version) => git_ref_problem(engine, name, version, None)
                    .unwrap_or_else(|| format!("target {}: no git ref", clean(version))),
            },
        },
        Point::Env(env) => {
            let env_name = point_name(engine, point);
            let cell = engine.matrix().get(CellKey { service, env });
            if cell.deployments().next().is_none() {
                return format!("no source reads {env_name}");
            }
            let Some(seen) = cell.reading() else { return format!("{env_name} not read") };
            match seen.reading.version.as_deref() {
                None => format!("not deployed in {env_name}"),
                Some(version) => git_ref_problem(engine, name, version, seen.reading.commit.as_deref())
                    .unwrap_or_else(|| format!("{env_name} {}: no git ref", clean(version))),
            }
        }
    }
}

fn git_ref_problem(engine: &Engine, service: &str, version: &str, commit: Option<&str>) -> Option<String> {
    engine.shipping.config.as_ref()?.git_ref(service, version, commit).err()
}

fn clean(text: &str) -> String {
    sanitize::clean_to(text, LINE_TEXT)
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// "prod 1.4.0 → target 1.4.1", with what is known of each end.
fn ends(view: &ChangesView<'_>, s: &ServiceRange<'_>) -> String {
    let end = |name: &str, at: &Option<Located>| match at {
        Some(at) => format!("{name} {}", clean(&at.version)),
        None => name.to_string(),
    };
    format!("{} → {}", end(&view.from, &s.from), end(&view.to, &s.to))
}

/// What a range amounts to, in a few words.
fn summary(s: &ServiceRange<'_>) -> String {
    match &s.state {
        RangeState::Changes(c) if c.truncated => {
            format!("{} ({} listed: the rest was not read)", plural(c.total_commits, "commit"), c.commits.len())
        }
        RangeState::Changes(c) if c.total_commits == 0 => "no new commits".to_string(),
        RangeState::Changes(c) => plural(c.total_commits, "commit"),
        RangeState::Same => "no change".to_string(),
        RangeState::Unknown(why) => why.clone(),
        RangeState::Failed(reason) => format!("compare failed: {}", clean(reason)),
        RangeState::NotRead => "not read (the compare API was not reached)".to_string(),
    }
}

/// One commit in a line: sha, PR, subject, author, tickets.
fn commit_line(kind: ChangesKind, commit: &Commit, pr_width: usize) -> String {
    let mut line = commit.short_sha().to_string();
    if pr_width > 0 {
        let _ = write!(line, "  {:<pr_width$}", commit.pr_ref(kind).unwrap_or_default());
    }
    let _ = write!(line, "  {}", clean(&commit.subject));
    if let Some(author) = &commit.author {
        let _ = write!(line, " — {}", clean(author));
    }
    if !commit.tickets.is_empty() {
        let _ = write!(line, " [{}]", clean(&commit.tickets.join(", ")));
    }
    line
}

/// The service lines and their commits (at most `cap` each), for a
/// terminal: `payments  prod 1.4.0 → target 1.4.1: 14 commits`.
pub fn text_lines(view: &ChangesView<'_>, cap: Option<usize>) -> Vec<String> {
    let width = view.services.iter().map(|s| s.service.chars().count()).max().unwrap_or(0);
    let mut lines = Vec::new();
    for s in &view.services {
        let head = match &s.state {
            RangeState::Unknown(_) => format!("{:<width$}  {}", s.service, summary(s)),
            _ => format!("{:<width$}  {}: {}", s.service, ends(view, s), summary(s)),
        };
        lines.push(head);
        if let RangeState::Changes(c) = &s.state {
            let shown = cap.unwrap_or(usize::MAX).min(c.commits.len());
            let pr_width = c.commits.iter().filter_map(|m| m.pr_ref(c.kind)).map(|p| p.len()).max().unwrap_or(0);
            for commit in &c.commits[..shown] {
                lines.push(format!("    {}", commit_line(c.kind, commit, pr_width).trim_end()));
            }
            let more = c.total_commits.saturating_sub(shown as u64);
            if more > 0 && shown < c.commits.len() {
                lines.push(format!("    … and {more} more"));
            } else if c.truncated {
                lines.push(format!("    … and {more} more, not read"));
            }
        }
    }
    lines
}

/// `flightdeck changes` as text.
pub fn text(view: &ChangesView<'_>) -> String {
    let release = view.release.map(|r| format!(" · release {}", clean(r))).unwrap_or_default();
    let mut out = format!("flightdeck changes{release} · {} → {}\n", view.from, view.to);
    for line in text_lines(view, None) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Text from a commit or a source as Markdown text: the characters that
/// would make a link, emphasis, code, HTML or a table cell are escaped.
fn md(text: &str) -> String {
    crate::changes::notes::md(&sanitize::clean_to(text, LINE_TEXT))
}

/// A ticket key, linked when `ticket_url` is set.
fn ticket_md(view: &ChangesView<'_>, key: &str) -> String {
    match view.ticket_url {
        Some(template) => format!("[{}]({})", md(key), crate::changes::config::ticket_link(template, key)),
        None => md(key),
    }
}

/// The changes as Markdown under a heading of `level` (`###`): a table of
/// every service, then each one's commits (at most `cap`).
pub fn markdown_section(view: &ChangesView<'_>, level: &str, cap: Option<usize>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{level} Changes: {} → {}\n", md(&view.from), md(&view.to));
    if view.services.is_empty() {
        out.push_str("No service to compare.\n\n");
        return out;
    }
    let _ = writeln!(out, "| service | {} | {} | changes |\n|---|---|---|---|", md(&view.from), md(&view.to));
    for s in &view.services {
        let version = |at: &Option<Located>| at.as_ref().map_or("—".to_string(), |a| md(&a.version));
        let _ =
            writeln!(out, "| {} | {} | {} | {} |", md(s.service), version(&s.from), version(&s.to), md(&summary(s)));
    }
    out.push('\n');
    for s in &view.services {
        let RangeState::Changes(c) = &s.state else { continue };
        if c.commits.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{level}# {}: {} ({})\n", md(s.service), md(&ends(view, s)), md(&summary(s)));
        let shown = cap.unwrap_or(usize::MAX).min(c.commits.len());
        for commit in &c.commits[..shown] {
            let mut line = format!("- `{}` {}", commit.short_sha(), md(&commit.subject));
            // A squash subject already ends with its PR (`… (#12)`).
            if let Some(pr) = commit.pr_ref(c.kind).filter(|pr| !commit.subject.contains(pr.as_str())) {
                let _ = write!(line, " ({pr})");
            }
            if let Some(author) = &commit.author {
                let _ = write!(line, " — {}", md(author));
            }
            if !commit.tickets.is_empty() {
                let keys: Vec<String> = commit.tickets.iter().map(|t| ticket_md(view, t)).collect();
                let _ = write!(line, " · {}", keys.join(", "));
            }
            out.push_str(&line);
            out.push('\n');
        }
        let more = c.total_commits.saturating_sub(shown as u64);
        if more > 0 {
            let _ = writeln!(out, "- … and {more} more");
        }
        out.push('\n');
    }
    out
}

/// `flightdeck changes --format markdown`.
pub fn markdown(view: &ChangesView<'_>) -> String {
    let mut out = String::new();
    if let Some(release) = view.release {
        let _ = writeln!(out, "## Release {}\n", md(release));
    }
    out.push_str(markdown_section(view, "###", None).trim_end());
    out.push('\n');
    out
}

// ---------------------------------------------------------------------------
// JSON: the documented shape (docs/commands.md).

/// `flightdeck changes --format json`, and `release_changes` in `report`.
#[derive(Debug, Serialize)]
pub struct ChangesJson<'a> {
    pub schema: u32,
    pub from: &'a str,
    pub to: &'a str,
    pub release: Option<&'a str>,
    pub services: Vec<ServiceJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct ServiceJson<'a> {
    pub service: &'a str,
    pub repo: Option<&'a str>,
    /// `changes`, `no_change`, `unknown`, `error` or `not_read`.
    pub status: &'static str,
    pub from: Option<EndJson<'a>>,
    pub to: Option<EndJson<'a>>,
    /// Commits in `to` not in `from`, as the API counts them.
    pub total_commits: Option<u64>,
    /// `commits` is not the whole range (API paging limit, or `report`'s cap).
    pub truncated: bool,
    pub commits: Vec<CommitJson<'a>>,
    /// Why there is nothing to compare (`unknown`).
    pub note: Option<String>,
    /// Why the compare failed (`error`, `not_read`).
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EndJson<'a> {
    pub version: &'a str,
    #[serde(rename = "ref")]
    pub git_ref: &'a str,
    pub commit: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct CommitJson<'a> {
    pub sha: &'a str,
    pub short_sha: &'a str,
    pub subject: &'a str,
    pub author: Option<&'a str>,
    pub authored_at: Option<Timestamp>,
    pub pr: Option<u64>,
    /// `#12` (GitHub) or `!12` (GitLab).
    pub pr_ref: Option<String>,
    pub pr_title: Option<&'a str>,
    pub labels: &'a [String],
    pub tickets: &'a [String],
    pub breaking: Option<&'a str>,
    pub merge: bool,
}

pub fn commit_json(kind: ChangesKind, c: &Commit) -> CommitJson<'_> {
    CommitJson {
        sha: &c.sha,
        short_sha: c.short_sha(),
        subject: &c.subject,
        author: c.author.as_deref(),
        authored_at: c.authored_at,
        pr: c.pr,
        pr_ref: c.pr_ref(kind),
        pr_title: c.pr_title.as_deref(),
        labels: &c.labels,
        tickets: &c.tickets,
        breaking: c.breaking.as_deref(),
        merge: c.merge,
    }
}

fn end_json(at: &Option<Located>) -> Option<EndJson<'_>> {
    at.as_ref().map(|a| EndJson { version: &a.version, git_ref: &a.git_ref, commit: a.commit.as_deref() })
}

/// The JSON document, with at most `cap` commits per service.
pub fn changes_json<'a>(view: &'a ChangesView<'a>, cap: Option<usize>) -> ChangesJson<'a> {
    let services = view
        .services
        .iter()
        .map(|s| {
            let (status, note, error) = match &s.state {
                RangeState::Changes(_) => ("changes", None, None),
                RangeState::Same => ("no_change", None, None),
                RangeState::Unknown(why) => ("unknown", Some(why.clone()), None),
                RangeState::Failed(reason) => ("error", None, Some(reason.to_string())),
                RangeState::NotRead => ("not_read", None, Some("the compare API was not reached".to_string())),
            };
            let (total, truncated, commits) = match &s.state {
                RangeState::Changes(c) => {
                    let shown = cap.unwrap_or(usize::MAX).min(c.commits.len());
                    let commits = c.commits[..shown].iter().map(|m| commit_json(c.kind, m)).collect();
                    (Some(c.total_commits), c.truncated || shown < c.commits.len(), commits)
                }
                RangeState::Same => (Some(0), false, Vec::new()),
                _ => (None, false, Vec::new()),
            };
            ServiceJson {
                service: s.service,
                repo: s.repo,
                status,
                from: end_json(&s.from),
                to: end_json(&s.to),
                total_commits: total,
                truncated,
                commits,
                note,
                error,
            }
        })
        .collect();
    ChangesJson { schema: super::SCHEMA, from: &view.from, to: &view.to, release: view.release, services }
}

pub fn json(view: &ChangesView<'_>) -> String {
    serde_json::to_string_pretty(&changes_json(view, None)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

// ---------------------------------------------------------------------------
// `flightdeck where KEY`

/// Where a ticket's commits run.
#[derive(Debug, Clone, Serialize)]
pub struct TicketWhere {
    pub ticket: String,
    /// Its link, from `ticket_url`.
    pub url: Option<String>,
    /// Services whose compared ranges carry it, in fleet order.
    pub services: Vec<TicketService>,
    /// Compares that failed: the ticket may be in them.
    pub failed_compares: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketService {
    pub service: String,
    pub repo: String,
    /// The commits that carry the key, oldest first.
    pub commits: Vec<TicketCommit>,
    /// Every environment in promotion order, then `target`.
    pub places: Vec<TicketPlace>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketCommit {
    pub sha: String,
    pub short_sha: String,
    pub subject: String,
    pub pr_ref: Option<String>,
    pub author: Option<String>,
}

impl TicketCommit {
    pub fn of(kind: ChangesKind, c: &Commit) -> TicketCommit {
        TicketCommit {
            sha: c.sha.clone(),
            short_sha: c.short_sha().to_string(),
            subject: c.subject.clone(),
            pr_ref: c.pr_ref(kind),
            author: c.author.clone(),
        }
    }
}

/// One environment (or the target) and whether its code holds the commits.
#[derive(Debug, Clone, Serialize)]
pub struct TicketPlace {
    /// The environment's name, or `target`.
    pub name: String,
    pub version: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// `yes` (every commit), `partly`, `no`; `null` when it cannot be told.
    pub contains: Option<&'static str>,
    /// How many of the ticket's commits it holds (of those it could be asked about).
    pub commits_in: usize,
    /// When flightdeck first saw this version run there (the cell's history).
    pub running_since: Option<Timestamp>,
    /// When the source says it was deployed.
    pub deployed_at: Option<Timestamp>,
    /// Why `contains` is unknown or partial: no version, a compare failed.
    pub note: Option<String>,
}

impl TicketWhere {
    pub fn found(&self) -> bool {
        !self.services.is_empty()
    }
}

/// Whether `place` holds `contained` of `total` commits.
pub fn containment(contained: usize, total: usize) -> &'static str {
    match contained {
        0 => "no",
        n if n >= total => "yes",
        _ => "partly",
    }
}

fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// `flightdeck where` as text.
pub fn where_text(found: &TicketWhere) -> String {
    let mut out = String::new();
    let ticket = clean(&found.ticket);
    if !found.found() {
        let _ = writeln!(
            out,
            "{ticket}: in no compared range (adjacent environments and the last one → target, both ways)"
        );
    } else {
        let names: Vec<&str> = found.services.iter().map(|s| s.service.as_str()).collect();
        let commits: usize = found.services.iter().map(|s| s.commits.len()).sum();
        let _ = writeln!(out, "{ticket}: {} in {}", plural(commits as u64, "commit"), names.join(", "));
    }
    if let Some(url) = &found.url {
        let _ = writeln!(out, "{}", clean(url));
    }
    for s in &found.services {
        let _ = writeln!(out, "\n{} ({})", s.service, clean(&s.repo));
        let pr_width = s.commits.iter().filter_map(|c| c.pr_ref.as_ref()).map(String::len).max().unwrap_or(0);
        for c in &s.commits {
            let author = c.author.as_deref().map(|a| format!(" — {}", clean(a))).unwrap_or_default();
            let pr = match pr_width {
                0 => String::new(),
                _ => format!("{:<pr_width$}  ", c.pr_ref.as_deref().unwrap_or("")),
            };
            let line = format!("  {}  {pr}{}{author}", c.short_sha, clean(&c.subject));
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let name_w = s.places.iter().map(|p| p.name.chars().count()).max().unwrap_or(0);
        let version_w =
            s.places.iter().map(|p| p.version.as_deref().map_or(1, |v| clean(v).chars().count())).max().unwrap_or(0);
        for p in &s.places {
            let version = p.version.as_deref().map_or("—".to_string(), clean);
            let state = match p.contains {
                Some("yes") => "contains it".to_string(),
                Some("partly") => format!("partly: {} of {} commits", p.commits_in, s.commits.len()),
                Some(_) => "not yet".to_string(),
                None => "unknown".to_string(),
            };
            let mut line = format!("  {:<name_w$}  {version:<version_w$}  {state}", p.name);
            if let Some(since) = p.running_since {
                let _ = write!(line, " · runs there since {}", when(since));
            }
            if let Some(at) = p.deployed_at {
                let _ = write!(line, " (deployed {})", when(at));
            }
            if let Some(note) = &p.note {
                let _ = write!(line, " · {}", clean(note));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    if !found.failed_compares.is_empty() {
        let _ = writeln!(out, "\nnot searched (compare failed):");
        for f in &found.failed_compares {
            let _ = writeln!(out, "  {}", clean(f));
        }
    }
    out
}

/// `flightdeck where --format json`.
pub fn where_json(found: &TicketWhere) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: u32,
        found: bool,
        #[serde(flatten)]
        found_where: &'a TicketWhere,
    }
    let doc = Doc { schema: super::SCHEMA, found: found.found(), found_where: found };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
