//! `flightdeck changes` and `flightdeck where`: what ships between two
//! points (an environment's running version, or the release's target), and
//! where a ticket's commits run. Both evaluate as `check` does (one sweep,
//! or the team's cells), ask the compare API what the engine needs plus the
//! wanted range, and print; the arranging is `report::changes`.

use std::process::ExitCode;

use futures::StreamExt;

use crate::changes::config::TicketPattern;
use crate::changes::{Changes, ChangesClient, ChangesConfig};
use crate::cli::{EXIT_USAGE, RetryArgs, evaluate_once};
use crate::config::{self, ConfigFiles, Paths};
use crate::engine::Engine;
use crate::engine::shipping::Point;
use crate::model::{CellKey, Fleet, ServiceIdx};
use crate::report::changes::{self as shown, RangeState, TicketCommit, TicketPlace, TicketService, TicketWhere};

/// Compare or contains questions asked at once.
const CONCURRENCY: usize = 8;

/// What `[changes]` looks like, for the message when it is missing.
const HOW_TO_ADD: &str = "add it to the config, e.g.

[changes]
kind = \"github\"                # or \"gitlab\"
token_env = \"GITHUB_TOKEN\"     # the variable holding the token (never the token)
tag = \"v{version}\"             # how a version maps to a git ref
mainline = \"main\"
tickets = \"[A-Z][A-Z0-9]+-[0-9]+\"

and `repo = \"owner/name\"` to each [[services]] entry (see docs/configuration.md)";

#[derive(Debug, Clone, clap::Args)]
pub struct ChangesArgs {
    /// Where the changes start: an environment (default: the last one, e.g. prod).
    #[arg(long, value_name = "ENV")]
    pub from: Option<String>,
    /// Where they end: an environment, or `target` for the release's target versions (the default).
    #[arg(long, value_name = "ENV|target")]
    pub to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ChangesFormat::Text)]
    pub format: ChangesFormat,
    /// Print a release-notes draft in Markdown instead: highlights, features, improvements,
    /// fixes, breaking changes and tickets, grouped by conventional-commit prefix or PR label.
    #[arg(long, conflicts_with = "format")]
    pub notes: bool,
    /// Sweep only through this environment, as `check --env` (repeatable); --from and --to
    /// must not come after the last one named.
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    #[command(flatten)]
    pub retry: RetryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChangesFormat {
    /// Per service `payments  prod 1.4.0 → target 1.4.1: 14 commits`, then its commits.
    Text,
    /// One JSON document: from, to, and per service both ends, its commits or why not.
    Json,
    /// A table of the services, then each one's commits, for a ticket or a chat.
    Markdown,
}

#[derive(Debug, Clone, clap::Args)]
pub struct WhereArgs {
    /// The ticket key, e.g. PAY-12: it must match `[changes] tickets`.
    pub key: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = WhereFormat::Text)]
    pub format: WhereFormat,
    #[command(flatten)]
    pub retry: RetryArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WhereFormat {
    /// The services whose commits carry the key, and per environment whether it runs them.
    Text,
    /// One JSON document with the same.
    Json,
}

/// `flightdeck changes`: exit 0 when every compare was read, 1 when one
/// failed (what worked is still printed), 2 on bad input.
pub(crate) fn changes(paths: &Paths, files: &ConfigFiles, args: ChangesArgs) -> ExitCode {
    let prepare = |config: &config::Config| -> Result<Vec<(Point, Point)>, String> {
        let changes = required_changes(config, "changes")?;
        let range = points(&config.fleet, args.from.as_deref(), args.to.as_deref())?;
        check_swept(config, &args.envs, range)?;
        // A team seat without the token still reads the leader's answers.
        if config.team.is_none() {
            client(changes, "changes")?;
        }
        Ok(vec![range])
    };
    let (engine, _, _, _) = match evaluate_once(paths, files, &args.envs, "changes", args.retry.policy(), &prepare) {
        Ok(done) => done,
        Err(stopped) => return stopped.exit(),
    };
    // The names were checked before the sweep: this cannot fail now.
    let (from, to) = match points(&engine.fleet, args.from.as_deref(), args.to.as_deref()) {
        Ok(range) => range,
        Err(message) => return usage(&message),
    };
    let view = shown::collect(&engine, from, to, 0..engine.fleet.services.len());
    let out = if args.notes {
        match notes(&engine, &view) {
            Ok(text) => text,
            Err(message) => return usage(&message),
        }
    } else {
        match args.format {
            ChangesFormat::Text => shown::text(&view),
            ChangesFormat::Json => shown::json(&view) + "\n",
            ChangesFormat::Markdown => shown::markdown(&view),
        }
    };
    print!("{out}");
    for s in view.services.iter().filter(|s| s.failed()) {
        eprintln!("flightdeck changes: {}: changes not read", s.service);
    }
    if view.any_failed() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// `flightdeck where KEY`: exit 0 when some compared range carries the
/// key, 1 when none does, 2 on bad input.
pub(crate) fn where_(paths: &Paths, files: &ConfigFiles, args: WhereArgs) -> ExitCode {
    let key = args.key.trim().to_string();
    let prepare = |config: &config::Config| -> Result<Vec<(Point, Point)>, String> {
        let changes = required_changes(config, "where")?;
        check_key(changes, &key)?;
        if config.team.is_none() {
            client(changes, "where")?;
        }
        Ok(backward_ranges(&config.fleet))
    };
    let (engine, _, _, _) = match evaluate_once(paths, files, &[], "where", args.retry.policy(), &prepare) {
        Ok(done) => done,
        Err(stopped) => return stopped.exit(),
    };
    let found = match locate_ticket(&engine, &key) {
        Ok(found) => found,
        Err(message) => return usage(&message),
    };
    let out = match args.format {
        WhereFormat::Text => shown::where_text(&found),
        WhereFormat::Json => shown::where_json(&found) + "\n",
    };
    print!("{out}");
    if found.found() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(EXIT_USAGE)
}

/// `[changes]`, or how to add it.
fn required_changes<'c>(config: &'c config::Config, command: &str) -> Result<&'c ChangesConfig, String> {
    config.changes.as_ref().ok_or_else(|| format!("flightdeck {command}: no [changes] in the config: {HOW_TO_ADD}"))
}

/// A client for `[changes]`: its token variable must be set.
fn client(changes: &ChangesConfig, command: &str) -> Result<ChangesClient, String> {
    let ctx = crate::sources::HttpContext::new()
        .map_err(|e| format!("flightdeck {command}: cannot set up the HTTP client: {e}"))?;
    ChangesClient::new(changes, &ctx).map_err(|e| format!("flightdeck {command}: {e}"))
}

/// `--from` and `--to` as points: an environment's name, or `target`.
fn points(fleet: &Fleet, from: Option<&str>, to: Option<&str>) -> Result<(Point, Point), String> {
    let known = || {
        let names: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_ref()).collect();
        names.join(", ")
    };
    let point = |flag: &str, name: &str| -> Result<Point, String> {
        if name == "target" {
            if fleet.release.is_none() {
                return Err(format!(
                    "flightdeck changes: {flag} target: there is no release plan ([release] with targets, or \
                     --release FILE); give an environment instead ({})",
                    known()
                ));
            }
            return Ok(Point::Target);
        }
        fleet.env_idx(name).map(Point::Env).ok_or_else(|| {
            format!(
                "flightdeck changes: {flag}: unknown environment `{}` (known: {}; or `target`)",
                crate::sanitize::clean_to(name, 60),
                known()
            )
        })
    };
    let Some(last) = fleet.environments.len().checked_sub(1) else {
        return Err("flightdeck changes: the config has no environment".into());
    };
    let from = match from {
        Some(name) => point("--from", name)?,
        None => Point::Env(last),
    };
    let to = match to {
        Some(name) => point("--to", name)?,
        None => point("--to", "target")?,
    };
    if from == to {
        return Err(format!(
            "flightdeck changes: --from and --to are both `{}`: nothing between them",
            from_name(fleet, from)
        ));
    }
    Ok((from, to))
}

fn from_name(fleet: &Fleet, point: Point) -> &str {
    match point {
        Point::Env(env) => fleet.environments.get(env).map_or("?", |e| e.name.as_ref()),
        Point::Target => "target",
    }
}

/// With `--env`, environments after the last one named are not swept:
/// the range must not need them.
fn check_swept(config: &config::Config, envs: &[String], (from, to): (Point, Point)) -> Result<(), String> {
    let scope = config.env_indices(envs).map_err(|m| format!("flightdeck changes: --env: {m}"))?;
    let Some(&last) = scope.last() else { return Ok(()) };
    for point in [from, to] {
        if let Point::Env(env) = point
            && env > last
        {
            return Err(format!(
                "flightdeck changes: `{}` is not swept with --env {}: add --env {}",
                from_name(&config.fleet, point),
                from_name(&config.fleet, Point::Env(last)),
                from_name(&config.fleet, point)
            ));
        }
    }
    Ok(())
}

/// A key the `tickets` pattern would find, whole; else why not.
fn check_key(changes: &ChangesConfig, key: &str) -> Result<(), String> {
    let Some(pattern) = &changes.tickets else {
        return Err("flightdeck where: [changes] has no `tickets` pattern, so commits carry no ticket keys: \
                    add e.g. tickets = \"[A-Z][A-Z0-9]+-[0-9]+\""
            .into());
    };
    if whole_key(pattern, key) {
        return Ok(());
    }
    let shown = crate::sanitize::clean_to(key, 60);
    let hint = match key.to_uppercase() {
        upper if upper != key && whole_key(pattern, &upper) => format!(" (did you mean `{upper}`?)"),
        _ => String::new(),
    };
    Err(format!(
        "flightdeck where: `{shown}` is not a ticket key: the [changes] `tickets` pattern `{}` does not match it \
         whole, so no commit can carry it{hint}",
        pattern.as_str()
    ))
}

fn whole_key(pattern: &TicketPattern, key: &str) -> bool {
    !key.is_empty() && pattern.keys(key).next() == Some(key)
}

/// The release-notes draft, with each PR's title and labels where the API
/// gives them.
fn notes(engine: &Engine, view: &shown::ChangesView<'_>) -> Result<String, String> {
    let config = engine.shipping.config.as_ref().ok_or("flightdeck changes: no [changes] in the config")?;
    let client =
        client(config, "changes").inspect_err(|e| eprintln!("{e}: the PRs' titles and labels are not read")).ok();
    let rt = runtime()?;
    let mut enriched: Vec<(usize, Changes)> = Vec::new();
    for (i, s) in view.services.iter().enumerate() {
        let RangeState::Changes(c) = s.state else { continue };
        let changes = match client.as_ref().map(|client| rt.block_on(client.with_pull_requests(Changes::clone(c)))) {
            Some(Ok(changes)) => changes,
            Some(Err(e)) => {
                eprintln!("flightdeck changes: {}: PR titles and labels not read: {e}", s.service);
                Changes::clone(c)
            }
            None => Changes::clone(c),
        };
        enriched.push((i, changes));
    }
    let parts: Vec<crate::changes::notes::ServiceChanges<'_>> = view
        .services
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let changes = match &s.state {
                RangeState::Changes(_) => Ok(enriched.iter().find(|(j, _)| *j == i).map(|(_, c)| c)?),
                RangeState::Failed(reason) => Err(*reason),
                RangeState::NotRead => Err("the compare API was not reached"),
                RangeState::Same | RangeState::Unknown(_) => return None,
            };
            Some(crate::changes::notes::ServiceChanges {
                service: s.service,
                from: s.from.as_ref().map_or("?", |a| a.version.as_str()),
                to: s.to.as_ref().map_or("?", |a| a.version.as_str()),
                changes,
            })
        })
        .collect();
    let release = match view.release.filter(|_| view.to == "target") {
        Some(name) => name.to_string(),
        None => format!("{} → {}", view.from, view.to),
    };
    let date = engine
        .fleet
        .release
        .as_ref()
        .and_then(|r| r.window)
        .map_or_else(jiff::Timestamp::now, |w| w.start)
        .strftime("%Y-%m-%d")
        .to_string();
    Ok(crate::changes::notes::draft(&release, Some(&date), &parts, config.ticket_url.as_deref()))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("flightdeck: cannot start the async runtime: {e}"))
}

/// The ranges the engine does not ask on its own, opposite to the
/// promotion: what a later environment runs that an earlier one does not
/// (a hotfix made in prod), and what the last one runs that the target
/// lacks.
fn backward_ranges(fleet: &Fleet) -> Vec<(Point, Point)> {
    let envs = fleet.environments.len();
    let mut ranges: Vec<(Point, Point)> = (1..envs).map(|env| (Point::Env(env - 1), Point::Env(env))).collect();
    if let (Some(last), Some(_)) = (envs.checked_sub(1), &fleet.release) {
        ranges.push((Point::Target, Point::Env(last)));
    }
    ranges
}

/// Every range between adjacent environments and between the last one and
/// the target, both ways, searched for `key`; then, per service that
/// carries it, whether each environment's running code (and the target)
/// holds those commits.
fn locate_ticket(engine: &Engine, key: &str) -> Result<TicketWhere, String> {
    let config = engine.shipping.config.as_ref().ok_or("flightdeck where: no [changes] in the config")?;
    let envs = engine.fleet.environments.len();
    let mut services: Vec<(ServiceIdx, TicketService)> = Vec::new();
    let mut failed_compares = Vec::new();
    for service in 0..engine.fleet.services.len() {
        let mut ranges: Vec<(Point, Point)> = (1..envs).map(|env| (Point::Env(env), Point::Env(env - 1))).collect();
        if let Some(last) = envs.checked_sub(1) {
            ranges.push((Point::Env(last), Point::Target));
        }
        ranges.extend(backward_ranges(&engine.fleet));
        let mut commits: Vec<TicketCommit> = Vec::new();
        let mut repo = None;
        for (from, to) in ranges {
            let Some(range) = engine.range(service, from, to) else { continue };
            match range.changes {
                Some(Ok(changes)) => {
                    for c in changes.commits_with_ticket(key) {
                        if !commits.iter().any(|k| k.sha == c.sha) {
                            commits.push(TicketCommit::of(changes.kind, c));
                        }
                    }
                    repo = Some(range.from.repo.clone());
                }
                Some(Err(reason)) => failed_compares.push(format!(
                    "{} {} → {}: {reason}",
                    engine.fleet.services[service].name,
                    shown::point_name(engine, from),
                    shown::point_name(engine, to)
                )),
                None => failed_compares.push(format!(
                    "{} {} → {}: not read",
                    engine.fleet.services[service].name,
                    shown::point_name(engine, from),
                    shown::point_name(engine, to)
                )),
            }
        }
        if let (Some(repo), false) = (repo, commits.is_empty()) {
            let name = engine.fleet.services[service].name.to_string();
            services.push((service, TicketService { service: name, repo, commits, places: Vec::new() }));
        }
    }
    if !services.is_empty() {
        let client = client(config, "where");
        let rt = runtime()?;
        for (service, found) in &mut services {
            found.places = rt.block_on(places(engine, client.as_ref().map_err(String::as_str), *service, found));
        }
    }
    Ok(TicketWhere {
        ticket: key.to_string(),
        url: config.ticket_link(key),
        services: services.into_iter().map(|(_, s)| s).collect(),
        failed_compares,
    })
}

/// Each environment, then the target: its version, whether its code holds
/// the ticket's commits, and since when it runs there.
async fn places(
    engine: &Engine,
    client: Result<&ChangesClient, &str>,
    service: ServiceIdx,
    found: &TicketService,
) -> Vec<TicketPlace> {
    let mut points: Vec<Point> = (0..engine.fleet.environments.len()).map(Point::Env).collect();
    if engine.fleet.release.as_ref().and_then(|r| r.target(service)).is_some() {
        points.push(Point::Target);
    }
    let located: Vec<_> = points.iter().map(|&p| engine.locate(service, p)).collect();
    // Every (place, commit) question, at most CONCURRENCY at once.
    let questions: Vec<(usize, &str, &str)> = located
        .iter()
        .enumerate()
        .filter_map(|(i, at)| at.as_ref().map(|at| (i, at)))
        .flat_map(|(i, at)| found.commits.iter().map(move |c| (i, at.git_ref.as_str(), c.sha.as_str())))
        .collect();
    let answers: Vec<(usize, Result<bool, String>)> = futures::stream::iter(questions)
        .map(|(i, git_ref, sha)| async move {
            let answer = match client {
                Ok(client) => client.contains(&found.repo, git_ref, sha).await.map_err(|e| e.to_string()),
                Err(why) => Err(why.to_string()),
            };
            (i, answer)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    points
        .iter()
        .zip(&located)
        .enumerate()
        .map(|(i, (&point, at))| {
            let name = shown::point_name(engine, point);
            let Some(at) = at else {
                let why = match point {
                    Point::Env(env) => match engine.matrix().get(CellKey { service, env }).reading() {
                        None => "not read".to_string(),
                        Some(seen) if seen.reading.version.is_none() => "not deployed".to_string(),
                        Some(_) => "its version maps to no git ref".to_string(),
                    },
                    Point::Target => "the target maps to no git ref".to_string(),
                };
                return TicketPlace {
                    name,
                    version: None,
                    git_ref: None,
                    contains: None,
                    commits_in: 0,
                    running_since: None,
                    deployed_at: None,
                    note: Some(why),
                };
            };
            let mine = answers.iter().filter(|(j, _)| *j == i);
            let contained = mine.clone().filter(|(_, a)| matches!(a, Ok(true))).count();
            let errors: Vec<&str> = mine.filter_map(|(_, a)| a.as_ref().err().map(String::as_str)).collect();
            let contains = match (contained, errors.is_empty()) {
                (0, false) => None,
                _ => Some(shown::containment(contained, found.commits.len())),
            };
            let (running_since, deployed_at) = match point {
                Point::Env(env) => running_since(engine, CellKey { service, env }),
                Point::Target => (None, None),
            };
            TicketPlace {
                name,
                version: Some(at.version.clone()),
                git_ref: Some(at.git_ref.clone()),
                contains,
                commits_in: contained,
                running_since,
                deployed_at,
                note: errors.first().map(|e| format!("cannot tell: {e}")),
            }
        })
        .collect()
}

/// When the running version was first seen in a cell (the earliest of the
/// latest run of history entries with that version: a rebuild is not a new
/// deployment), and when its source says it was deployed.
fn running_since(engine: &Engine, key: CellKey) -> (Option<jiff::Timestamp>, Option<jiff::Timestamp>) {
    let Some(obs) = engine.matrix().get(key).shown() else { return (None, None) };
    let Some(seen) = &obs.last_ok else { return (None, None) };
    let Some(version) = seen.reading.version.as_deref() else { return (None, None) };
    let first = obs
        .history
        .iter()
        .rev()
        .take_while(|h| crate::model::version::same(h.version(), version))
        .last()
        .map(|h| h.first_seen());
    (first, seen.reading.deployed_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Fleet {
        let config = crate::setup::from_toml_str(
            r#"
[[environments]]
name = "qa"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "2026.11"
[release.targets]
payments = "1.4.0"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
"#,
            "test",
        )
        .unwrap();
        config.fleet
    }

    #[test]
    fn points_default_to_the_last_environment_and_the_target() {
        let fleet = fleet();
        assert_eq!(points(&fleet, None, None), Ok((Point::Env(1), Point::Target)));
        assert_eq!(points(&fleet, Some("qa"), Some("prod")), Ok((Point::Env(0), Point::Env(1))));
        let err = points(&fleet, Some("staging"), None).unwrap_err();
        assert_eq!(err, "flightdeck changes: --from: unknown environment `staging` (known: qa, prod; or `target`)");
        let err = points(&fleet, Some("prod"), Some("prod")).unwrap_err();
        assert!(err.contains("both `prod`"), "{err}");
    }

    #[test]
    fn a_key_the_pattern_cannot_match_whole_is_refused_with_why() {
        let pattern = TicketPattern::parse("[A-Z][A-Z0-9]+-[0-9]+").unwrap();
        assert!(whole_key(&pattern, "PAY-12"));
        assert!(!whole_key(&pattern, "pay-12"));
        assert!(!whole_key(&pattern, "PAY-12x"), "a key with more around it is not a key");
        assert!(!whole_key(&pattern, "xPAY-12"));
        assert!(!whole_key(&pattern, ""));
    }
}
