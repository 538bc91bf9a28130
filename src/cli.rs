//! The command line: parse, load the config, run the command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Paths, Sources};

#[derive(Debug, Parser)]
#[command(
    name = "flightdeck",
    version,
    about = "A terminal release cockpit: what is actually running where, are we ready, can we get back."
)]
pub struct Cli {
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
    /// Inspect or write the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print where flightdeck reads its config, keeps data and writes logs.
    Path,
    /// Validate the configuration; exit 2 with every problem found.
    Check,
    /// Write a commented starter config to the user's config file.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Write here instead of the user's config dir.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.1..=100.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a speed between 0.1 and 100")),
    }
}

/// Exit codes: 0 fine, 1 a negative answer (no-go), 2 could not run.
pub const EXIT_USAGE: u8 = 2;

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
    let sources = Sources { config_file: cli.config.clone(), release_file: cli.release.clone() };
    match cli.command {
        Some(Command::Config { action }) => config_command(action, &paths, &sources),
        Some(Command::Demo { speed }) => cockpit(&paths, &sources, Some(speed), launched),
        None => cockpit(&paths, &sources, None, launched),
    }
}

fn config_command(action: ConfigAction, paths: &Paths, sources: &Sources) -> ExitCode {
    match action {
        ConfigAction::Path => {
            let show = |p: &Option<PathBuf>| {
                p.as_ref().map_or("(unknown: no home directory)".to_string(), |p| p.display().to_string())
            };
            let user = &paths.user_config;
            let exists = user.as_ref().is_some_and(|p| p.exists());
            println!("config   {}{}", show(user), if exists { "" } else { "  (not present)" });
            if let Some(file) = &sources.config_file {
                println!("--config {}", file.display());
            }
            println!("data     {}", show(&paths.data_dir));
            println!("logs     {}", show(&paths.state_dir.clone().or(paths.data_dir.clone())));
            ExitCode::SUCCESS
        }
        ConfigAction::Check => match config::read_layers(paths, sources).and_then(|layers| {
            // Say "no config" before validation, which would only report the
            // empty fleet.
            if layers.is_empty() {
                return Ok(None);
            }
            let settings = config::merge(&layers)?;
            let config = config::validate_settings(&settings, &layers)?;
            Ok(Some((layers, config)))
        }) {
            Ok(None) => {
                eprintln!(
                    "no config file found (looked for {}); `flightdeck config init` writes one",
                    paths.user_config.as_ref().map_or("config.toml".into(), |p| p.display().to_string())
                );
                ExitCode::from(EXIT_USAGE)
            }
            Ok(Some((layers, config))) => {
                let files: Vec<String> = layers.files().map(|p| p.display().to_string()).collect();
                let cells: usize = config.sources.iter().map(|s| s.services.len() * s.environments.len()).sum();
                println!(
                    "ok: {} environments, {} services, {} sources reading {} cells{} ({})",
                    config.fleet.environments.len(),
                    config.fleet.services.len(),
                    config.sources.len(),
                    cells,
                    config.fleet.release.as_ref().map_or(String::new(), |r| format!(", release {}", r.name)),
                    files.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        ConfigAction::Init { force, to } => {
            let Some(target) = to.or_else(|| paths.user_config.clone()) else {
                eprintln!("no home directory: give a path with --to FILE");
                return ExitCode::from(EXIT_USAGE);
            };
            if target.exists() && !force {
                eprintln!("{} already exists; use --force to overwrite it", target.display());
                return ExitCode::from(EXIT_USAGE);
            }
            let written = target
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&target, config::EXAMPLE));
            match written {
                Ok(()) => {
                    println!("wrote {}", target.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot write {}: {e}", target.display());
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

fn cockpit(paths: &Paths, sources: &Sources, demo_speed: Option<f64>, launched: std::time::Instant) -> ExitCode {
    if !std::io::stdout().is_terminal() {
        eprintln!("flightdeck: the cockpit needs a terminal (stdout is not one)");
        return ExitCode::from(EXIT_USAGE);
    }
    let layers = match config::read_layers(paths, sources) {
        Ok(layers) => layers,
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // No config anywhere → the demo, and say so.
    let fell_back = demo_speed.is_none() && layers.is_empty();
    let demo_speed = demo_speed.or_else(|| fell_back.then_some(1.0));
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flightdeck: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let (config, banner, _demo) = match demo_speed {
            Some(speed) => {
                let demo = crate::demo::start(speed).await?;
                let banner = if fell_back {
                    "DEMO (no config found)".to_string()
                } else {
                    "DEMO".to_string()
                };
                (demo.config.clone(), Some(banner), Some(demo))
            }
            None => {
                let settings = config::merge(&layers).map_err(|e| Exit(e.to_string()))?;
                let config = config::validate_settings(&settings, &layers).map_err(|e| Exit(e.to_string()))?;
                (config, None, None)
            }
        };
        let log_dir = config.data_dir.clone().or(paths.state_dir.clone()).or(paths.data_dir.clone());
        let _log = match &log_dir {
            Some(dir) => crate::logging::init(dir, config.log.as_deref()).ok(),
            None => None,
        };
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        crate::app::run(config, crate::app::RunOptions { banner, color, launched: Some(launched) }).await?;
        if fell_back {
            println!("flightdeck ran its built-in demo because no config was found; `flightdeck config init` writes a starter.");
        }
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
