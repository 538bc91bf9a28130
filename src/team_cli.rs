//! The commands that write the release journal without a cockpit (`tick`,
//! `untick`, `note`, `sign`, `decide`: for pipelines and bots) and the
//! team store's own (`team init`, `team status`, `team import`).
//!
//! An action is validated as the cockpit validates it (the item or the
//! role must be the checklist's, a decision needs a reason), then appended:
//! exit 0 only once it is durable (file: fsync'd; team: committed, the
//! actor the database role), 1 when the store refuses it (with why), 2 for
//! bad input or a store that cannot be reached.

use std::process::ExitCode;

use crate::config::Config;
use crate::journal::release::{Decision, EventStore, FileStore, JournalError, ReleaseAction, ReleaseEvent};
use crate::journal::team::{DatabaseUrl, TeamDb, TeamStore};

/// Exit codes of the headless actions.
const REFUSED: u8 = 1;
const BAD: u8 = 2;

/// Where this release's journal is: the team database, or the file.
pub(crate) fn release_store(
    config: &Config,
    data_dir: Option<&std::path::Path>,
) -> Result<Box<dyn EventStore>, String> {
    let plan = config.fleet.release.as_ref().ok_or("no [release] in the config: there is no release journal")?;
    match &config.team {
        Some(team) => {
            let url =
                DatabaseUrl::from_env(&team.database_url_env).map_err(|e| format!("[team] database_url_env: {e}"))?;
            let db = TeamDb::new(url).map_err(|e| e.to_string())?;
            Ok(Box::new(TeamStore::new(db, &plan.name)))
        }
        None => {
            let dir = data_dir.ok_or("no data dir (no home directory): set data_dir")?;
            let path = crate::journal::release::release_path(dir, &plan.name);
            FileStore::open(&path).map(|s| Box::new(s) as Box<dyn EventStore>).map_err(|e| e.to_string())
        }
    }
}

/// Team mode with one poll load (`[team] poll = "leader"`, the default):
/// how this seat joins. `None` when every seat polls its own sources, or
/// the config has no release (the lock is the release's).
pub(crate) fn seat_setup(
    config: &Config,
    active: &[crate::sources::ActiveSource],
    tokenless: &[String],
) -> Result<Option<crate::journal::team_seat::SeatSetup>, String> {
    let (Some(team), Some(plan)) = (&config.team, &config.fleet.release) else {
        return Ok(None);
    };
    if team.poll != crate::config::TeamPoll::Leader {
        return Ok(None);
    }
    let url = DatabaseUrl::from_env(&team.database_url_env).map_err(|e| format!("[team] database_url_env: {e}"))?;
    let names = crate::journal::team_seat::Names {
        services: config.fleet.services.iter().map(|s| s.name.to_string()).collect(),
        environments: config.fleet.environments.iter().map(|e| e.name.to_string()).collect(),
        sources: active.iter().map(|a| a.name.clone()).collect(),
    };
    if !tokenless.is_empty() {
        tracing::info!(sources = ?tokenless, "no token here for some sources: this seat follows and never leads");
    }
    let can_lead = tokenless.is_empty();
    Ok(Some(crate::journal::team_seat::SeatSetup { url, release: plan.name.clone(), names, can_lead }))
}

/// One headless action, as typed.
#[derive(Debug, Clone)]
pub(crate) enum Headless {
    Tick { item: String, note: Option<String> },
    Untick { item: String, note: Option<String> },
    Note { text: String, item: Option<String> },
    Sign { role: String, note: Option<String> },
    Decide { decision: Decision, reason: String },
}

/// Check an action against the release's checklist, as the cockpit does.
pub fn validate(action: Headless, template: Option<&crate::checklist::Template>) -> Result<ReleaseAction, String> {
    let clean = |s: &str| crate::sanitize::clean_to(s, crate::app::prompt::MAX_TEXT);
    let note = |n: Option<String>| n.map(|n| clean(&n)).filter(|n| !n.is_empty());
    let need_template = || template.ok_or("this release has no checklist: give [release] a kind or a template");
    let item_known = |item: &str| -> Result<String, String> {
        let t = need_template()?;
        match t.item(item) {
            Some(_) => Ok(item.to_string()),
            None => {
                let ids: Vec<&str> = t.phases.iter().flat_map(|p| p.items.iter().map(|i| i.id.as_str())).collect();
                Err(format!("no item `{}` in the checklist {} (items: {})", clean(item), t.name, ids.join(", ")))
            }
        }
    };
    match action {
        Headless::Tick { item, note: n } => Ok(ReleaseAction::Tick { item: item_known(&item)?, note: note(n) }),
        Headless::Untick { item, note: n } => Ok(ReleaseAction::Untick { item: item_known(&item)?, note: note(n) }),
        Headless::Note { text, item } => {
            let text = clean(&text);
            if text.is_empty() {
                return Err("the note is empty".into());
            }
            let item = item.map(|i| item_known(&i)).transpose()?;
            Ok(ReleaseAction::Note { item, text })
        }
        Headless::Sign { role, note: n } => {
            let t = need_template()?;
            let roles: Vec<&str> = t.signoffs().map(|(_, r)| r).collect();
            if !roles.contains(&role.as_str()) {
                return Err(format!(
                    "no sign-off for `{}` in the checklist {} (roles: {})",
                    clean(&role),
                    t.name,
                    roles.join(", ")
                ));
            }
            Ok(ReleaseAction::SignOff { role, note: note(n) })
        }
        Headless::Decide { decision, reason } => {
            let reason = clean(&reason);
            if reason.is_empty() {
                return Err("a decision needs a reason (--reason TEXT)".into());
            }
            Ok(ReleaseAction::Decision { decision, reason })
        }
    }
}

/// Append one validated action; exit 0 once durable.
pub(crate) fn run_action(
    config: &Config,
    data_dir: Option<&std::path::Path>,
    action: Headless,
    config_dir: Option<&std::path::Path>,
) -> ExitCode {
    let template = match crate::checklist::resolve(&config.fleet, config_dir) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(BAD);
        }
    };
    let action = match validate(action, template.as_ref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("flightdeck: {e}");
            return ExitCode::from(BAD);
        }
    };
    let mut store = match release_store(config, data_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("flightdeck: {e}");
            return ExitCode::from(BAD);
        }
    };
    let by = match store.actor() {
        Ok(Some(actor)) => actor,
        Ok(None) => match config.operator.clone() {
            Some(name) => name,
            None => {
                eprintln!(
                    "flightdeck: who is acting? nobody is named: set `operator` in the config \
                     (or FLIGHTDECK_OPERATOR), or $USER"
                );
                return ExitCode::from(BAD);
            }
        },
        Err(e) => {
            eprintln!("flightdeck: {e}");
            return ExitCode::from(BAD);
        }
    };
    let event = ReleaseEvent::new(by, jiff::Timestamp::now(), action);
    match store.append(&event) {
        Ok(()) => {
            println!("recorded in {}: {} by {} ({})", store.location(), describe(&event.action), event.by, event.id);
            ExitCode::SUCCESS
        }
        Err(JournalError::Refused(why)) => {
            eprintln!("flightdeck: refused: {why}");
            ExitCode::from(REFUSED)
        }
        Err(e) => {
            eprintln!("flightdeck: NOT RECORDED: {e}");
            ExitCode::from(BAD)
        }
    }
}

fn describe(action: &ReleaseAction) -> String {
    match action {
        ReleaseAction::Tick { item, .. } => format!("ticked {item}"),
        ReleaseAction::Untick { item, .. } => format!("unticked {item}"),
        ReleaseAction::Note { item: Some(item), .. } => format!("a note on {item}"),
        ReleaseAction::Note { item: None, .. } => "a note on the release".into(),
        ReleaseAction::SignOff { role, .. } => format!("signed off as {role}"),
        ReleaseAction::RevokeSignOff { role, .. } => format!("revoked the sign-off as {role}"),
        ReleaseAction::Decision { decision: Decision::Go, .. } => "decided GO".into(),
        ReleaseAction::Decision { decision: Decision::NoGo, .. } => "decided NO-GO".into(),
    }
}

fn team_db(config: &Config) -> Result<TeamDb, String> {
    let team = config.team.as_ref().ok_or("no [team] in the config: team commands need one")?;
    let url = DatabaseUrl::from_env(&team.database_url_env).map_err(|e| format!("[team] database_url_env: {e}"))?;
    TeamDb::new(url).map_err(|e| e.to_string())
}

/// The grants a DBA runs for the roles the seats log in as.
pub(crate) const GRANTS: &str = "\
-- for each role the seats log in as (here: flightdeck_seat):
GRANT SELECT, INSERT (release, id, at, actor, action) ON flightdeck_release_events TO flightdeck_seat;
GRANT USAGE ON SEQUENCE flightdeck_release_events_seq_seq TO flightdeck_seat;
GRANT SELECT ON flightdeck_signers TO flightdeck_seat;
GRANT SELECT, INSERT (release, service, environment, source, state), UPDATE (state) ON flightdeck_cells TO flightdeck_seat;
GRANT USAGE ON SEQUENCE flightdeck_cells_rev TO flightdeck_seat;
GRANT SELECT, INSERT (release, event) ON flightdeck_observations TO flightdeck_seat;
GRANT USAGE ON SEQUENCE flightdeck_observations_seq_seq TO flightdeck_seat;
GRANT SELECT ON flightdeck_schema TO flightdeck_seat;
GRANT SELECT, INSERT (release, ask, answer), UPDATE (answer) ON flightdeck_changes TO flightdeck_seat;
GRANT USAGE ON SEQUENCE flightdeck_changes_rev TO flightdeck_seat;";

/// `flightdeck team init`: create or upgrade the schema, write the signers.
pub fn init(config: &Config, config_dir: Option<&std::path::Path>) -> ExitCode {
    // A misspelt role in [team.signers] would leave the real one open to
    // anyone: every role named must be one of the checklist's sign-offs.
    let signers = config.team.as_ref().map(|t| t.signers.clone()).unwrap_or_default();
    if !signers.is_empty() {
        let template = match crate::checklist::resolve(&config.fleet, config_dir) {
            Ok(Some(t)) => t,
            Ok(None) => {
                eprintln!("flightdeck team init: [team.signers] names roles, but this release has no checklist");
                return ExitCode::from(BAD);
            }
            Err(e) => {
                eprintln!("flightdeck team init: {e}");
                return ExitCode::from(BAD);
            }
        };
        let roles: Vec<&str> = template.signoffs().map(|(_, r)| r).collect();
        let unknown: Vec<&str> = signers.iter().map(|(r, _)| r.as_str()).filter(|r| !roles.contains(r)).collect();
        if !unknown.is_empty() {
            eprintln!(
                "flightdeck team init: [team.signers] names {} that the checklist {} does not sign off (its roles: {})",
                unknown.join(", "),
                template.name,
                roles.join(", ")
            );
            return ExitCode::from(BAD);
        }
    }
    let mut db = match team_db(config) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("flightdeck team init: {e}");
            return ExitCode::from(BAD);
        }
    };
    match db.init(&signers) {
        Ok(versions) => {
            println!(
                "schema at version {} (migrations applied: {})",
                versions.last().map_or("none".into(), ToString::to_string),
                versions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            );
            for (role, who) in &signers {
                println!("signers for {role}: {}", who.join(", "));
            }
            println!("\nflightdeck's seats need only these rights:\n{GRANTS}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flightdeck team init: {e}");
            ExitCode::from(BAD)
        }
    }
}

/// `flightdeck team status`: schema version, events per release, seats.
pub fn status(config: &Config) -> ExitCode {
    let result = team_db(config).and_then(|mut db| db.status().map_err(|e| e.to_string()));
    match result {
        Ok(s) => {
            println!(
                "schema version {}",
                s.schema_version.map_or("none (run `flightdeck team init`)".into(), |v| v.to_string())
            );
            for (release, events, last) in &s.releases {
                println!("release {release}: {events} events, last recorded {last}");
            }
            for (release, leader, lag) in &s.leaders {
                match leader {
                    Some(who) => println!("release {release}: led by {who}, newest answer written {lag:.1} s ago"),
                    None => {
                        println!("release {release}: no seat leads now (the newest answer was written {lag:.1} s ago)")
                    }
                }
            }
            println!("{} seat(s) connected", s.seats.len());
            for (role, from, since) in &s.seats {
                println!("  {role} from {from} since {since}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flightdeck team status: {e}");
            ExitCode::from(BAD)
        }
    }
}

/// `flightdeck team import`: this release's file journal into the team
/// database, once (an event already there, by id, is skipped). The database
/// sets each row's actor: the role that imports, not the file's `by`.
pub fn import(config: &Config, data_dir: Option<&std::path::Path>) -> ExitCode {
    let Some(plan) = config.fleet.release.as_ref() else {
        eprintln!("flightdeck team import: no [release] in the config");
        return ExitCode::from(BAD);
    };
    let Some(dir) = data_dir else {
        eprintln!("flightdeck team import: no data dir: set data_dir");
        return ExitCode::from(BAD);
    };
    let path = crate::journal::release::release_path(dir, &plan.name);
    let events = match crate::journal::release::read_events(&path) {
        Ok(events) => events,
        Err(e) => {
            eprintln!("flightdeck team import: {e}");
            return ExitCode::from(BAD);
        }
    };
    let mut store = match team_db(config) {
        Ok(db) => TeamStore::new(db, &plan.name),
        Err(e) => {
            eprintln!("flightdeck team import: {e}");
            return ExitCode::from(BAD);
        }
    };
    let before = match store.load() {
        Ok(known) => known.into_iter().map(|e| e.id).collect::<std::collections::HashSet<_>>(),
        Err(e) => {
            eprintln!("flightdeck team import: {e}");
            return ExitCode::from(BAD);
        }
    };
    let mut imported = 0;
    for event in &events {
        if before.contains(&event.id) {
            continue;
        }
        if let Err(e) = store.append(event) {
            eprintln!("flightdeck team import: event {}: {e} ({imported} imported before it)", event.id);
            return ExitCode::from(if matches!(e, JournalError::Refused(_)) { REFUSED } else { BAD });
        }
        imported += 1;
    }
    println!(
        "imported {imported} of {} events from {} into {} ({} already there)",
        events.len(),
        path.display(),
        store.location(),
        events.len() - imported
    );
    ExitCode::SUCCESS
}
