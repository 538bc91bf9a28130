//! The command line: parse, load the config, run the command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{self, ConfigFiles, Paths};
use crate::engine::{Engine, Evaluation, Scope};
use crate::report::View;
use crate::team_cli::Headless;

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "A terminal release cockpit: what is actually running where, are we ready, can we get back."
)]
pub(crate) struct Cli {
    /// Config file, layered over the user's config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Release plan file; replaces the config's [release].
    #[arg(long, global = true, value_name = "FILE")]
    pub release: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The cockpit on a built-in demo fleet that moves through a scripted release.
    Demo {
        /// Play the script faster (2 = twice as fast).
        #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
    },
    /// One sweep of every source, evaluate, print. Exit 0 go, 1 no-go or hold, 2 could not evaluate.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Evaluate only this environment (repeatable).
        #[arg(long = "env", value_name = "ENV")]
        envs: Vec<String>,
        #[command(flatten)]
        retry: RetryArgs,
    },
    /// The release record for audits and post-mortems: matrix, findings,
    /// checklist with who and when, decisions and the timeline of events.
    Report {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
        format: ReportFormat,
        #[command(flatten)]
        retry: RetryArgs,
    },
    /// What ships: the commits per service between two environments, or an environment and the target.
    ///
    /// Per service, the commits between what runs in one environment and in another or the
    /// release's target (default: the last environment → target), with PRs, authors and
    /// tickets; or a release-notes draft (--notes). Exit 0 read, 1 a compare failed (the
    /// rest is printed), 2 bad input.
    Changes(crate::changes_cli::ChangesArgs),
    /// Where a ticket is: which environments run its commits, and since when.
    ///
    /// The services whose commits carry KEY and, per environment (and the target), whether
    /// the running version holds them and since when it runs there. Exit 0 found, 1 not
    /// found in any compared range, 2 bad input.
    Where(crate::changes_cli::WhereArgs),
    /// Inspect or write the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Tick a checklist item (exit 0 once recorded, 1 refused, 2 bad input).
    Tick {
        /// The item's id (as in the checklist template).
        item: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Untick a checklist item.
    Untick {
        item: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// A note on the release (or on an item with --item).
    Note {
        text: String,
        #[arg(long)]
        item: Option<String>,
    },
    /// Sign off for a role (in team mode, as the database role you log in as).
    Sign {
        role: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Record the go / no-go decision.
    Decide {
        #[arg(value_enum)]
        decision: DecisionArg,
        /// Why: required.
        #[arg(long)]
        reason: String,
    },
    /// Team mode: the release journal on one PostgreSQL database.
    Team {
        #[command(subcommand)]
        action: TeamAction,
    },
    /// Print the shell completion script for bash, zsh or fish.
    ///
    /// E.g. `flightdeck completions bash > ~/.local/share/bash-completion/completions/flightdeck`,
    /// `flightdeck completions fish > ~/.config/fish/completions/flightdeck.fish`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    ///
    /// E.g. `flightdeck man > ~/.local/share/man/man1/flightdeck.1`, then `man flightdeck`.
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecisionArg {
    Go,
    NoGo,
}

#[derive(Debug, Subcommand)]
pub enum TeamAction {
    /// Create or upgrade the schema (idempotent; run with the owner role), write [team.signers], print the grants.
    Init,
    /// Schema version, events per release, seats connected.
    Status,
    /// Copy this release's file journal into the team database, once.
    Import,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print where flightdeck reads its config, keeps data and writes logs.
    Path,
    /// Validate the configuration; exit 2 with every problem found.
    Check,
    /// Write a starter config that evaluates as written: the release window
    /// set from now, example sources commented out. Refuses to overwrite.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Write here instead of the user's config file (`flightdeck config path`).
        #[arg(long, alias = "to", value_name = "FILE")]
        path: Option<PathBuf>,
    },
}

/// How the one-shot commands retry a transient failure (a connection
/// refused, reset or timed out, HTTP 502/503/504, a 429 asking to wait at
/// most 5 s). The cockpit keeps its own schedule instead.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct RetryArgs {
    /// Retry a cell's transient failure up to N more times, with backoff.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Retries end by this long after the sweep starts (e.g. 30s, 2m); the last error then stands.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_deadline)]
    pub deadline: std::time::Duration,
}

impl RetryArgs {
    pub(crate) fn policy(self) -> crate::poller::Retry {
        crate::poller::Retry::new(self.retries, self.deadline)
    }
}

fn parse_deadline(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d.is_zero() => Err("the deadline must be longer than zero".into()),
        Ok(d) if d > std::time::Duration::from_secs(3600) => Err(format!("`{s}` is longer than an hour")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("`{s}` is not a duration ({e}); e.g. 30s, 2m")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text: the verdict, its blockers, findings, checklist, rollback and the matrix.
    Text,
    /// One JSON document for programs (its `schema` field says which version).
    Json,
    /// Markdown, for a ticket or a chat.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown: the state at the time and the timeline, as tables.
    Markdown,
    /// Plain text: the state at the time and the timeline, one event a line.
    Text,
    /// One JSON document: the evaluation, every release event and every version change.
    Json,
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a speed between 0.1 and 100")),
    }
}

/// Exit codes: 0 fine, 1 a negative answer (no-go), 2 could not run.
pub(crate) const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    let launched = std::time::Instant::now();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS };
        }
    };
    let paths = Paths::discover();
    let files = ConfigFiles { config_file: cli.config.clone(), release_file: cli.release.clone() };
    match cli.command {
        Some(Command::Config { action }) => config_command(action, &paths, &files),
        Some(Command::Check { format, envs, retry }) => check(&paths, &files, format, &envs, retry.policy()),
        Some(Command::Report { format, retry }) => report(&paths, &files, format, retry.policy()),
        Some(Command::Changes(args)) => crate::changes_cli::changes(&paths, &files, args),
        Some(Command::Where(args)) => crate::changes_cli::where_(&paths, &files, args),
        Some(Command::Demo { speed }) => cockpit(&paths, &files, Some(speed), launched),
        Some(Command::Tick { item, note }) => headless(&paths, &files, Headless::Tick { item, note }),
        Some(Command::Untick { item, note }) => headless(&paths, &files, Headless::Untick { item, note }),
        Some(Command::Note { text, item }) => headless(&paths, &files, Headless::Note { text, item }),
        Some(Command::Sign { role, note }) => headless(&paths, &files, Headless::Sign { role, note }),
        Some(Command::Decide { decision, reason }) => {
            let decision = match decision {
                DecisionArg::Go => crate::journal::release::Decision::Go,
                DecisionArg::NoGo => crate::journal::release::Decision::NoGo,
            };
            headless(&paths, &files, Headless::Decide { decision, reason })
        }
        Some(Command::Team { action }) => team(&paths, &files, action),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "flightdeck", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(Command::Man) => man(),
        None => cockpit(&paths, &files, None, launched),
    }
}

fn config_command(action: ConfigAction, paths: &Paths, files: &ConfigFiles) -> ExitCode {
    match action {
        ConfigAction::Path => {
            let show = |p: &Option<PathBuf>| {
                p.as_ref().map_or("(unknown: no home directory)".to_string(), |p| p.display().to_string())
            };
            let user = &paths.user_config;
            let exists = user.as_ref().is_some_and(|p| p.exists());
            println!("config   {}{}", show(user), if exists { "" } else { "  (not present)" });
            if let Some(file) = &files.config_file {
                println!("--config {}", file.display());
            }
            println!("data     {}", show(&paths.data_dir));
            println!("logs     {}", show(&paths.state_dir.clone().or(paths.data_dir.clone())));
            ExitCode::SUCCESS
        }
        ConfigAction::Check => config_check(paths, files),
        ConfigAction::Init { force, path } => {
            let Some(target) = path.clone().or_else(|| paths.user_config.clone()) else {
                eprintln!(
                    "flightdeck config init: no home directory to find the config dir in: give a file with --path FILE"
                );
                return ExitCode::from(EXIT_USAGE);
            };
            let now = jiff::Timestamp::now();
            if let Err(message) = config::init::write(&target, force, now) {
                eprintln!("flightdeck config init: {message}");
                return ExitCode::from(EXIT_USAGE);
            }
            let (start, end) = config::init::window_after(now);
            println!("wrote {}", target.display());
            println!(
                "It evaluates as written: release window {} – {} UTC; the example sources are commented out: uncomment the ones you have.",
                start.strftime("%Y-%m-%d %H:%M"),
                end.strftime("%H:%M")
            );
            // The user's config file is read without a flag; any other needs one.
            let flag = if path.is_some() && path != paths.user_config {
                format!(" --config {}", shell_word(&target.display().to_string()))
            } else {
                String::new()
            };
            println!("Next:");
            println!("  flightdeck config check{flag}    # every problem in it, at once");
            println!("  flightdeck check{flag}           # one sweep and the verdict");
            ExitCode::SUCCESS
        }
    }
}

/// `config check`: every problem in the configuration in one run, each on
/// its own line with its file and key: the keys the settings do not take
/// (at every depth, with a "did you mean"), the values of the wrong type,
/// and what validation finds in the rest. Exit 2 if there is any.
fn config_check(paths: &Paths, files: &ConfigFiles) -> ExitCode {
    let (layers, mut problems) = match config::read_layers_leniently(paths, files) {
        Ok(read) => read,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Say "no config" before validation, which would only report the
    // empty fleet.
    if layers.is_empty() {
        eprintln!("{}", no_config("config check", paths));
        return ExitCode::from(EXIT_USAGE);
    }
    // With a problem that could not be taken out, the rest cannot be read
    // as a whole: validating it would only report follow-on problems.
    let loaded = if problems.incomplete {
        None
    } else {
        match config::merge(&layers).and_then(|settings| crate::setup::load(&settings, &layers)) {
            Ok(loaded) => Some(loaded),
            Err(errors) => {
                let new: Vec<_> = errors.0.into_iter().filter(|e| !problems.covers(&e.key)).collect();
                problems.errors.extend(new);
                None
            }
        }
    };
    match loaded {
        Some(loaded) if problems.errors.is_empty() => config_summary(paths, &layers, &loaded.config),
        _ => {
            eprintln!("{}", config::ConfigErrors(problems.errors));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// What `config check` says of a valid configuration.
fn config_summary(paths: &Paths, layers: &config::Layers, config: &config::Config) -> ExitCode {
    let files: Vec<String> = layers.files().map(|p| p.display().to_string()).collect();
    let template = match crate::checklist::resolve(&config.fleet, paths.config_dir()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let cells: usize = config.sources.iter().map(|s| s.services.len() * s.environments.len()).sum();
    println!(
        "ok: {} environments, {} services, {} sources reading {} cells{}{} ({})",
        config.fleet.environments.len(),
        config.fleet.services.len(),
        config.sources.len(),
        cells,
        config.fleet.release.as_ref().map_or(String::new(), |r| format!(", release {}", r.name)),
        template.map_or(String::new(), |t| format!(", checklist {} ({})", t.name, t.origin)),
        files.join(", ")
    );
    ExitCode::SUCCESS
}

/// What a command that needs a config says when there is none.
fn no_config(command: &str, paths: &Paths) -> String {
    match &paths.user_config {
        Some(user) => format!(
            "flightdeck {command}: no config found (looked for {}). `flightdeck config init` writes a starter \
             there; or give one with --config FILE",
            user.display()
        ),
        None => format!(
            "flightdeck {command}: no config found (no home directory to look in). \
             `flightdeck config init --path FILE` writes a starter; then give it with --config FILE"
        ),
    }
}

/// `path` as one word for a POSIX shell: quoted when it needs to be.
fn shell_word(path: &str) -> String {
    let plain = !path.is_empty() && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b));
    if plain { path.to_string() } else { format!("'{}'", path.replace('\'', "'\\''")) }
}

/// `flightdeck man`: the manual page, in roff, on stdout.
fn man() -> ExitCode {
    let mut out = Vec::new();
    let written = clap_mangen::Man::new(Cli::command()).render(&mut out);
    match written.and_then(|()| std::io::Write::write_all(&mut std::io::stdout(), &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flightdeck man: cannot write the manual page: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The cockpit's runtime: the app loop on the main thread, and what serves
/// it (terminal input, the team seat, the demo's server, notifications,
/// compare calls) on two workers. The poller has a thread of its own
/// ([`crate::poller::PollerThread`]).
fn cockpit_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

fn cockpit(paths: &Paths, files: &ConfigFiles, demo_speed: Option<f64>, launched: std::time::Instant) -> ExitCode {
    if !std::io::stdout().is_terminal() {
        eprintln!("flightdeck: the cockpit needs a terminal (stdout is not one)");
        return ExitCode::from(EXIT_USAGE);
    }
    let layers = match config::read_layers(paths, files) {
        Ok(layers) => layers,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // No config anywhere → the demo, and say so.
    let fell_back = demo_speed.is_none() && layers.is_empty();
    let demo_speed = demo_speed.or_else(|| fell_back.then_some(1.0));
    let rt = match cockpit_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flightdeck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let (config, active, banner, _demo, tokenless) = match demo_speed {
            Some(speed) => {
                let demo = crate::demo::start(speed).await?;
                let banner = if fell_back {
                    "DEMO (no config found)".to_string()
                } else {
                    "DEMO".to_string()
                };
                let active = crate::sources::activate(&demo.config.sources, &demo.config.fleet).map_err(Exit)?;
                (demo.config.clone(), active, Some(banner), Some(demo), Vec::new())
            }
            None => {
                let settings = config::merge(&layers).map_err(|e| Exit(e.to_string()))?;
                // Team mode with one poll load: a seat may lack source tokens
                // (it follows the leader; only a seat with every token leads).
                let follows_a_leader = settings.team.as_ref().is_some_and(|t| t.poll.as_deref() != Some("each"));
                let (loaded, tokenless) = if follows_a_leader {
                    crate::setup::load_team_seat(&settings, &layers).map_err(|e| Exit(e.to_string()))?
                } else {
                    (crate::setup::load(&settings, &layers).map_err(|e| Exit(e.to_string()))?, Vec::new())
                };
                let active = loaded.activate();
                (loaded.config, active, None, None, tokenless)
            }
        };
        let template = crate::checklist::resolve(&config.fleet, paths.config_dir()).map_err(|e| Exit(e.to_string()))?;
        let release_journal: Option<Box<dyn crate::journal::release::EventStore>> = match (&config.fleet.release, demo_speed) {
            (Some(_), Some(_)) => Some(Box::new(crate::journal::memory::MemoryStore::with(crate::demo::release_history(
                jiff::Timestamp::now(),
            )))),
            (Some(_), None) if config.team.is_some() => {
                Some(crate::team_cli::release_store(&config, None).map_err(Exit)?)
            }
            (Some(plan), None) => match data_dir(&config, paths) {
                Some(dir) => {
                    let path = crate::journal::release::release_path(&dir, &plan.name);
                    let store = crate::journal::release::FileStore::open(&path).map_err(|e| Exit(e.to_string()))?;
                    Some(Box::new(store))
                }
                None => None,
            },
            (None, _) => None,
        };
        let log_dir = config.data_dir.clone().or(paths.state_dir.clone()).or(paths.data_dir.clone());
        let _log = match &log_dir {
            Some(dir) => crate::logging::init(dir, config.log.as_deref()).ok(),
            None => None,
        };
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        // The demo's script restarts every run: keep no journal for it.
        let journal = match demo_speed {
            Some(_) => None,
            None => data_dir(&config, paths).map(|d| crate::journal::observations_path(&d)),
        };
        let operator = config.operator.clone();
        let team = config.team.is_some() && demo_speed.is_none();
        let seat = if team { crate::team_cli::seat_setup(&config, &active, &tokenless).map_err(Exit)? } else { None };
        // One poll load: the observation history is the team's, in the database.
        let journal = if seat.is_some() { None } else { journal };
        let ending = crate::app::run(config, active, crate::app::RunOptions {
                banner,
                color,
                launched: Some(launched),
                journal,
                template,
                release_journal,
                operator,
                team,
                seat,
                webhook_urls: _demo.as_ref().map(|d| d.webhook_urls()),
            }).await?;
        if fell_back && ending == crate::app::Ending::Quit {
            println!("flightdeck ran its built-in demo because no config was found; `flightdeck config init` writes a starter.");
        }
        anyhow::Ok(ending)
    });
    // Every way out ends the programs `command` sources started (the
    // runtime's tasks go first, so none starts another meanwhile).
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    crate::children::end_all();
    match result {
        Ok(crate::app::Ending::Quit) => ExitCode::SUCCESS,
        Ok(crate::app::Ending::Signal(signal)) => ExitCode::from(crate::app::signals::exit_status(signal)),
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(Exit(msg)) => {
                eprintln!("{msg}");
                ExitCode::from(EXIT_USAGE)
            }
            None => {
                eprintln!("flightdeck: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A configuration problem found after start-up began: exit 2 with it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Exit(String);

/// What a command wants asked of the compare API beyond what the engine
/// needs (`changes --from --to`), decided from the config before the sweep;
/// `Err` is bad input (exit 2).
pub(crate) type ExtraRanges<'a> =
    &'a dyn Fn(
        &config::Config,
    ) -> Result<Vec<(crate::engine::shipping::Point, crate::engine::shipping::Point)>, String>;

/// No extra range: `check` and `report`.
fn no_extra(
    _: &config::Config,
) -> Result<Vec<(crate::engine::shipping::Point, crate::engine::shipping::Point)>, String> {
    Ok(Vec::new())
}

/// What [`evaluate_once`] gives: the engine, its evaluation, the operator, the observation journal's path.
type Evaluated = (Engine, Evaluation, String, Option<std::path::PathBuf>);

/// One sweep of every source, evaluated with the journals: what `check`,
/// `report`, `changes` and `where` print. `Err` carries the message for an exit 2.
pub(crate) fn evaluate_once(
    paths: &Paths,
    files: &ConfigFiles,
    envs: &[String],
    command: &str,
    retry: crate::poller::Retry,
    extra: ExtraRanges<'_>,
) -> Result<Evaluated, Stopped> {
    // The sweep runs on this thread: the poller's own kind of runtime.
    let rt =
        crate::poller::runtime().map_err(|e| format!("flightdeck {command}: cannot start the async runtime: {e}"))?;
    let evaluated = evaluate_on(&rt, paths, files, envs, command, retry, extra);
    // Blocking work still running (a DNS lookup, a credential plugin past
    // its fetch's timeout) is not waited for: the answer is ready, or a
    // signal asked to stop.
    rt.shutdown_background();
    evaluated
}

fn evaluate_on(
    rt: &tokio::runtime::Runtime,
    paths: &Paths,
    files: &ConfigFiles,
    envs: &[String],
    command: &str,
    retry: crate::poller::Retry,
    extra: ExtraRanges<'_>,
) -> Result<Evaluated, Stopped> {
    let layers = match config::read_layers(paths, files) {
        Ok(layers) if layers.is_empty() => {
            return Err(Stopped::Usage(no_config(command, paths)));
        }
        Ok(layers) => layers,
        Err(errors) => return Err(errors.to_string().into()),
    };
    let settings = config::merge(&layers).map_err(|e| e.to_string())?;
    // Team mode with one poll load: the team's cells are read, so this run
    // needs no source token (without cells yet, it sweeps what it can).
    let follows_a_leader = settings.team.as_ref().is_some_and(|t| t.poll.as_deref() != Some("each"));
    let mut loaded = if follows_a_leader {
        crate::setup::load_team_seat(&settings, &layers).map(|(loaded, _)| loaded)
    } else {
        crate::setup::load(&settings, &layers)
    }
    .map_err(|e| e.to_string())?;
    // `--env` scopes what is reported; findings still compare against the
    // environments before it (a hotfix only in prod is `ahead` of uat), and
    // the environments after the last one named are not polled.
    let scope = loaded.config.env_indices(envs).map_err(|msg| format!("flightdeck {command}: --env: {msg}"))?;
    if let Some(&last) = scope.last() {
        loaded.config = loaded.config.poll_through(last);
    }
    let active = loaded.activate();
    let config = loaded.config;
    let extra = extra(&config)?;
    let ctx = crate::sources::HttpContext::new()
        .map_err(|e| format!("flightdeck {command}: cannot set up the HTTP client: {e}"))?;
    let template = crate::checklist::resolve(&config.fleet, paths.config_dir()).map_err(|e| e.to_string())?;
    let mut engine = Engine::for_config(&config, &active, template.clone());
    // Earlier runs' observations give "first seen" and previous versions,
    // folded as they are read (never whole in memory).
    let journal_path = data_dir(&config, paths).map(|d| crate::journal::observations_path(&d));
    if let Some(path) = &journal_path {
        let read = crate::journal::read_each::<crate::journal::ObservationEvent>(path, |events| engine.restore(events));
        if let Err(e) = read {
            eprintln!(
                "flightdeck {command}: warning: cannot read the journal {}: {e}; going on without its history",
                path.display()
            );
            // Half a history would have this sweep report changes that
            // never happened (from a version the journal had moved past): none.
            engine = Engine::for_config(&config, &active, template);
        }
    }
    // The release journal: ticks, sign-offs and decisions made in cockpits.
    // Read only: a data dir this user cannot write still gives a full
    // evaluation (only the cockpit's own ticks and sign-offs need writing).
    if config.team.is_some() && config.fleet.release.is_some() {
        // Team mode: the team's journal, as every seat sees it.
        let events = crate::team_cli::release_store(&config, None)
            .and_then(|mut store| store.load().map_err(|e| e.to_string()))
            .map_err(|e| Stopped::Usage(format!("flightdeck {command}: {e}")))?;
        engine.take_release_events(events);
    } else if let (Some(plan), Some(dir)) = (&config.fleet.release, data_dir(&config, paths)) {
        let path = crate::journal::release::release_path(&dir, &plan.name);
        let (events, read) = crate::journal::release::read_events_with_report(&path)
            .map_err(|e| Stopped::Usage(format!("flightdeck {command}: {e}")))?;
        if read.skipped > 0 {
            eprintln!(
                "flightdeck {command}: warning: {} unreadable line(s) skipped in the release journal {}",
                read.skipped,
                path.display()
            );
        }
        engine.take_release_events(events);
    }
    // Team mode with one poll load: what the leading seat last wrote, with
    // its ages, and the shared history; no source is asked.
    if let Some(setup) =
        crate::team_cli::seat_setup(&config, &active, &[]).map_err(|e| format!("flightdeck {command}: {e}"))?
    {
        let read = rt
            .block_on(crate::journal::team_seat::read_team_state(&setup))
            .map_err(|e| Stopped::Usage(format!("flightdeck {command}: team store unreachable: {e}")))?;
        if let Some(team) = read {
            engine.restore(team.history);
            for update in team.cells {
                engine.apply(update);
            }
            for (ask, answer) in team.answers {
                engine.take_answer(ask, answer);
            }
            ship(rt, &mut engine, &config, &ctx, command, &extra);
            let scope = Scope::new(&engine.fleet, scope);
            let evaluation = engine.evaluate(jiff::Timestamp::now(), &scope);
            let operator =
                config.operator.clone().unwrap_or_else(|| "nobody named (set `operator` in the config)".into());
            return Ok((engine, evaluation, operator, None));
        }
        eprintln!("flightdeck {command}: no seat has polled for the team yet: asking the sources directly");
    }
    let show_progress = std::io::stderr().is_terminal();
    let swept = rt.block_on(async {
        let mut signals = crate::app::signals::Signals::install()
            .map_err(|e| Stopped::Usage(format!("flightdeck {command}: {e:#}")))?;
        let sweep = crate::poller::sweep_retrying(&active, config.poller, &ctx, retry, |done, total| {
            if show_progress {
                eprint!("\rflightdeck: swept {done}/{total} cells");
            }
        });
        tokio::select! {
            updates = sweep => Ok(updates),
            (number, name) = signals.recv() => {
                if show_progress {
                    eprint!("\r\x1b[2K");
                }
                eprintln!("flightdeck {command}: {name}: stopped before the sweep finished");
                Err(Stopped::Signal(number))
            }
        }
    });
    // A signal dropped the sweep (and the programs it ran, with kill_on_drop):
    // end whatever a `command` source's program started on its own.
    crate::children::end_all();
    let updates = swept?;
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    let changes: Vec<_> = updates.into_iter().filter_map(|u| engine.apply(u)).collect();
    if let Some(path) = &journal_path {
        let appended = crate::journal::Jsonl::open_append(path).and_then(|mut journal| journal.append(&changes));
        if let Err(e) = appended {
            eprintln!("flightdeck {command}: warning: cannot write the journal {}: {e}", path.display());
        }
    }
    ship(rt, &mut engine, &config, &ctx, command, &extra);
    let scope = Scope::new(&engine.fleet, scope);
    let evaluation = engine.evaluate(jiff::Timestamp::now(), &scope);
    let operator = config.operator.clone().unwrap_or_else(|| "nobody named (set `operator` in the config)".into());
    Ok((engine, evaluation, operator, journal_path))
}

/// `[changes]`: ask the compare API what the engine needs to judge and to
/// show (each question once), plus the ranges a command wants. A client
/// that cannot be made (its token unset) is said on stderr; the rest of
/// the evaluation goes on without changes.
fn ship(
    rt: &tokio::runtime::Runtime,
    engine: &mut Engine,
    config: &config::Config,
    ctx: &crate::sources::HttpContext,
    command: &str,
    extra: &[(crate::engine::shipping::Point, crate::engine::shipping::Point)],
) {
    let Some(changes) = &config.changes else { return };
    let client = match crate::changes::ChangesClient::new(changes, ctx) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("flightdeck {command}: changes not read: {e}");
            return;
        }
    };
    let asks = engine.asks_for(extra);
    if asks.is_empty() {
        return;
    }
    for (ask, answer) in rt.block_on(crate::changes::answer_all(&client, asks, 8)) {
        engine.take_answer(ask, answer);
    }
}

/// Why a one-shot command stopped without an evaluation.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// Could not evaluate: the message says why (exit 2).
    Usage(String),
    /// A signal ended it (exit 128 + the signal).
    Signal(i32),
}

impl From<String> for Stopped {
    fn from(message: String) -> Stopped {
        Stopped::Usage(message)
    }
}

impl Stopped {
    pub(crate) fn exit(self) -> ExitCode {
        match self {
            Stopped::Usage(message) => {
                eprintln!("{message}");
                ExitCode::from(EXIT_USAGE)
            }
            Stopped::Signal(signal) => ExitCode::from(crate::app::signals::exit_status(signal)),
        }
    }
}

/// `flightdeck check`: one sweep, evaluate, print; exit on the verdict.
fn check(paths: &Paths, files: &ConfigFiles, format: Format, envs: &[String], retry: crate::poller::Retry) -> ExitCode {
    let (engine, evaluation, _, _) = match evaluate_once(paths, files, envs, "check", retry, &no_extra) {
        Ok(done) => done,
        Err(stopped) => return stopped.exit(),
    };
    let out = match format {
        Format::Text => crate::report::text(View::new(&engine, &evaluation)),
        Format::Json => crate::report::json(View::new(&engine, &evaluation)) + "\n",
        Format::Markdown => crate::report::markdown(View::new(&engine, &evaluation)),
    };
    print!("{out}");
    ExitCode::from(evaluation.judgement.verdict.exit_code())
}

/// `flightdeck report`: the release record; exit 0 whatever the verdict.
fn report(paths: &Paths, files: &ConfigFiles, format: ReportFormat, retry: crate::poller::Retry) -> ExitCode {
    let (engine, evaluation, operator, journal_path) =
        match evaluate_once(paths, files, &[], "report", retry, &no_extra) {
            Ok(done) => done,
            Err(stopped) => return stopped.exit(),
        };
    // The whole observation journal (the cockpit keeps only the latest 500),
    // as it is read: only the changes the record lists are kept (`changes_for`).
    let view = View::new(&engine, &evaluation);
    let mut changes = Vec::new();
    if let Some(path) = &journal_path {
        let read = crate::journal::read_each::<crate::journal::ObservationEvent>(path, |events| {
            changes = crate::report::record::changes_for(view, events);
        });
        if let Err(e) = read {
            eprintln!("flightdeck report: cannot read the journal {}: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let out = match format {
        ReportFormat::Markdown => crate::report::record::markdown(view, &operator, &changes),
        ReportFormat::Text => crate::report::record::text(view, &operator, &changes),
        ReportFormat::Json => crate::report::record::json(view, &changes) + "\n",
    };
    print!("{out}");
    ExitCode::SUCCESS
}

/// Where the journals live: the config's `data_dir`, else the platform's.
fn data_dir(config: &config::Config, paths: &Paths) -> Option<PathBuf> {
    config.data_dir.clone().or_else(|| paths.data_dir.clone())
}

/// The config without building its sources, for the commands that only
/// write or read the release journal.
fn load_config(paths: &Paths, files: &ConfigFiles, command: &str) -> Result<config::Config, ExitCode> {
    let layers = match config::read_layers(paths, files) {
        Ok(layers) if layers.is_empty() => {
            eprintln!("{}", no_config(command, paths));
            return Err(ExitCode::from(EXIT_USAGE));
        }
        Ok(layers) => layers,
        Err(errors) => {
            eprintln!("{errors}");
            return Err(ExitCode::from(EXIT_USAGE));
        }
    };
    // The sources are not needed here: a pipeline that ticks an item needs
    // no source's token.
    config::merge(&layers).and_then(|s| config::validate_settings(&s, &layers, &mut |_| Ok(()))).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// `tick`, `untick`, `note`, `sign`, `decide`.
fn headless(paths: &Paths, files: &ConfigFiles, action: Headless) -> ExitCode {
    let command = match &action {
        Headless::Tick { .. } => "tick",
        Headless::Untick { .. } => "untick",
        Headless::Note { .. } => "note",
        Headless::Sign { .. } => "sign",
        Headless::Decide { .. } => "decide",
    };
    let config = match load_config(paths, files, command) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let dir = data_dir(&config, paths);
    crate::team_cli::run_action(&config, dir.as_deref(), action, paths.config_dir())
}

/// `team init|status|import`.
fn team(paths: &Paths, files: &ConfigFiles, action: TeamAction) -> ExitCode {
    let config = match load_config(paths, files, "team") {
        Ok(c) => c,
        Err(code) => return code,
    };
    match action {
        TeamAction::Init => crate::team_cli::init(&config, paths.config_dir()),
        TeamAction::Status => crate::team_cli::status(&config),
        TeamAction::Import => crate::team_cli::import(&config, data_dir(&config, paths).as_deref()),
    }
}
