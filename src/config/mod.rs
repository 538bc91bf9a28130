//! Settings: the contract in `design.md`, layered with the `config` crate.
//!
//! Layers, later wins: built-in defaults → `config.toml` in the user's config
//! dir → `--config FILE` → `FLIGHTDECK_*` environment variables (nested keys
//! with `__`, e.g. `FLIGHTDECK_RELEASE__NAME`). `--release FILE` replaces the
//! `[release]` table. Every file is also read on its own, strictly, so that
//! an error names the file and the key it is in.

pub(crate) mod duration;
pub(crate) mod init;
pub(crate) mod strict;
pub(crate) mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::model::SourceSpec;
pub use duration::HumanDuration;
pub(crate) use strict::FileProblems;
pub use validate::{Config, PollerSettings, SourceCheck, TeamConfig, TeamPoll};

/// Validate merged settings against the layers they came from.
pub(crate) fn validate_settings(
    settings: &Settings,
    layers: &Layers,
    check_source: SourceCheck<'_>,
) -> Result<Config, ConfigErrors> {
    validate::validate(settings, layers, check_source)
}

use crate::model::{Evidence, ReleaseKind};

/// The settings as written, before validation. Every field has a default so
/// that each layer may hold only part of the whole.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub environments: Vec<EnvironmentSettings>,
    pub services: Vec<ServiceSettings>,
    pub release: Option<ReleaseSettings>,
    pub sources: Vec<SourceSettings>,
    pub poller: PollerSettingsRaw,
    /// Where the journal and logs go; default: the platform data dir.
    pub data_dir: Option<PathBuf>,
    /// Log filter for the log file (`info`, `debug`, `flightdeck=trace`, …).
    pub log: Option<String>,
    /// Who ticks, signs and decides in this cockpit (default: `$USER`, else
    /// `$LOGNAME`; with neither, the cockpit asks).
    pub operator: Option<String>,
    /// Rollback readiness and live triggers.
    pub rollback: Option<RollbackSettings>,
    /// Team mode: every seat of the release on one PostgreSQL database.
    pub team: Option<TeamSettings>,
    /// `[changes]`: where "what ships" is read (the compare APIs).
    pub changes: Option<crate::changes::ChangesSettings>,
    /// `[[notify]]`: the webhooks told about the release.
    pub notify: Vec<crate::notify::NotifySettings>,
}

/// Who acts: `operator` as configured, else `$USER`, else `$LOGNAME`
/// (`var` reads the environment); cleaned, at most 40 characters. `None`
/// when nobody is named: never a made-up name.
pub(crate) fn operator_named(configured: Option<&str>, var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let clean = |o: String| Some(crate::sanitize::clean_to(o.trim(), 40)).filter(|o| !o.trim().is_empty());
    configured
        .map(str::to_string)
        .and_then(clean)
        .or_else(|| var("USER").and_then(clean))
        .or_else(|| var("LOGNAME").and_then(clean))
}

/// `[team]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// The variable holding the `postgres://` URL (never the URL itself).
    pub database_url_env: Option<String>,
    /// Who polls the sources: the `leader` seat (default) or `each` seat.
    pub poll: Option<String>,
    /// Sign-off role → the database roles that may sign for it.
    #[serde(default)]
    pub signers: toml::Table,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackSettings {
    /// A version from the journal is known-good after running this long
    /// without being seen down (default 1h).
    pub known_good_after: Option<HumanDuration>,
    /// When trigger baselines are measured: `"window"` (the window's start;
    /// the default), a duration (`"1h"`: that long before now), or a time.
    pub baseline: Option<String>,
    /// Absent: the built-in triggers; `[]`: none but health.
    pub triggers: Option<Vec<TriggerSettings>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSettings {
    /// A query name of a `prometheus` source.
    pub metric: String,
    pub name: Option<String>,
    /// Fire at this many times the baseline…
    pub factor: Option<f64>,
    /// …but never below this value.
    pub min: Option<f64>,
    /// Or fire at this value, whatever the baseline.
    pub above: Option<f64>,
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSettings {
    pub name: String,
    pub stale_after: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub name: String,
    pub owner: Option<String>,
    pub repo: Option<String>,
    /// Rollback command template or runbook link.
    pub rollback: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseSettings {
    pub name: String,
    pub kind: Option<ReleaseKind>,
    pub window: Option<WindowSettings>,
    /// Checklist template: a name (config dir `checklists/<name>.toml`, or
    /// built in) or a path to a `.toml` file. Default: the kind's.
    pub template: Option<String>,
    #[serde(default)]
    pub blackouts: Vec<BlackoutSettings>,
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    /// `service = "none" | "reversible" | "irreversible"`.
    #[serde(default)]
    pub migrations: BTreeMap<String, crate::model::rollback::Migration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlackoutSettings {
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSettings {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceSettings {
    pub name: String,
    pub kind: String,
    pub every: Option<HumanDuration>,
    pub timeout: Option<HumanDuration>,
    pub evidence: Option<Evidence>,
    pub services: Option<Vec<String>>,
    pub environments: Option<Vec<String>>,
    /// Everything else belongs to the source kind, which checks it.
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PollerSettingsRaw {
    /// Most fetches in flight at once, over all sources.
    pub concurrency: Option<usize>,
    /// Longest wait between retries of a failing cell.
    pub max_backoff: Option<HumanDuration>,
}

/// One problem with the configuration, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or "environment variables", "built-in defaults") it came from.
    pub origin: String,
    /// Dotted key path, e.g. `sources[0].url`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: `{}`: {}", self.origin, self.key, self.message)
        }
    }
}

/// All the problems found; the config is unusable if there is any.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Where flightdeck looks for and keeps things.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `config.toml` in the platform config dir, if a home dir is known.
    pub user_config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

impl Paths {
    /// The directory holding `config.toml` (and `checklists/`).
    pub(crate) fn config_dir(&self) -> Option<&Path> {
        self.user_config.as_deref().and_then(Path::parent)
    }

    pub(crate) fn discover() -> Paths {
        match directories::ProjectDirs::from("", "", "flightdeck") {
            Some(dirs) => Paths {
                user_config: Some(dirs.config_dir().join("config.toml")),
                data_dir: Some(dirs.data_dir().to_path_buf()),
                state_dir: dirs.state_dir().map(Path::to_path_buf),
            },
            None => Paths { user_config: None, data_dir: None, state_dir: None },
        }
    }
}

/// What the command line says about where settings come from.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigFiles {
    pub config_file: Option<PathBuf>,
    pub release_file: Option<PathBuf>,
}

/// The files that make up the configuration, in layer order.
#[derive(Debug, Clone)]
pub struct Layers {
    files: Vec<(PathBuf, toml::Table)>,
    release_file: Option<(PathBuf, toml::Table)>,
}

impl Layers {
    /// Whether any config file exists at all (no file → the built-in demo).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.release_file.is_none()
    }

    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// Every `token_env` a source in any file names.
    pub(crate) fn token_envs(&self) -> Vec<String> {
        self.files
            .iter()
            .filter_map(|(_, t)| t.get("sources").and_then(toml::Value::as_array))
            .flatten()
            .filter_map(|s| s.get("token_env").and_then(toml::Value::as_str).map(String::from))
            // So does [changes]: its token is no setting either.
            .chain(self.files.iter().filter_map(|(_, t)| {
                t.get("changes").and_then(|c| c.get("token_env")).and_then(toml::Value::as_str).map(String::from)
            }))
            // So is a webhook's URL.
            .chain(
                self.files
                    .iter()
                    .filter_map(|(_, t)| t.get("notify").and_then(toml::Value::as_array))
                    .flatten()
                    .filter_map(|n| n.get("url_env").and_then(toml::Value::as_str).map(String::from)),
            )
            // The team database's URL is a secret too.
            .chain(self.files.iter().filter_map(|(_, t)| {
                t.get("team")
                    .and_then(|team| team.get("database_url_env"))
                    .and_then(toml::Value::as_str)
                    .map(String::from)
            }))
            .collect()
    }

    /// The file that set `path` last (later layers win), for error messages.
    pub(crate) fn origin(&self, path: &[Seg<'_>]) -> String {
        // Environment variables win over files: blame the exact variable.
        if path.iter().all(|s| matches!(s, Seg::Key(_))) {
            let var = path
                .iter()
                .filter_map(|s| if let Seg::Key(k) = s { Some(k.to_ascii_uppercase()) } else { None })
                .collect::<Vec<_>>()
                .join("__");
            let var = format!("FLIGHTDECK_{var}");
            if std::env::var_os(&var).is_some() {
                return format!("environment ({var})");
            }
        }
        if let (Some((file, _)), Some(Seg::Key("release"))) = (&self.release_file, path.first()) {
            return file.display().to_string();
        }
        for (file, table) in self.files.iter().rev() {
            if lookup(table, path) {
                return file.display().to_string();
            }
        }
        // Not in any file: take the last file that has the top-level key.
        if let Some(first) = path.first() {
            for (file, table) in self.files.iter().rev() {
                if lookup(table, std::slice::from_ref(first)) {
                    return file.display().to_string();
                }
            }
        }
        let top = match path.first() {
            Some(Seg::Key(k)) => format!("FLIGHTDECK_{}", k.to_ascii_uppercase()),
            _ => "FLIGHTDECK_".to_string(),
        };
        let vars = env_vars_matching(&top);
        if vars.is_empty() { "configuration".to_string() } else { format!("environment ({})", vars.join(", ")) }
    }
}

/// The `FLIGHTDECK_*` variables set whose names start with `prefix`.
fn env_vars_matching(prefix: &str) -> Vec<String> {
    let mut vars: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("FLIGHTDECK_") && !k.starts_with(TEST_HOOKS) && k.starts_with(prefix))
        .collect();
    vars.sort();
    vars
}

/// One step of a key path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

pub(crate) fn key_string(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn lookup(table: &toml::Table, path: &[Seg<'_>]) -> bool {
    let mut cur: Option<&toml::Value> = None;
    for (i, seg) in path.iter().enumerate() {
        let next = match (i, seg, cur) {
            (0, Seg::Key(k), _) => table.get(*k),
            (_, Seg::Key(k), Some(toml::Value::Table(t))) => t.get(*k),
            (_, Seg::Index(n), Some(toml::Value::Array(a))) => a.get(*n),
            _ => None,
        };
        match next {
            Some(v) => cur = Some(v),
            None => return false,
        }
    }
    true
}

/// Read and strictly check one file; errors name the file, the key and,
/// for syntax errors, the line. Every key the settings do not take is
/// reported, and taken out of the table returned.
fn read_file(path: &Path, what: FileKind) -> Result<(toml::Table, FileProblems), ConfigErrors> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: origin.clone(),
        key: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError {
        origin: origin.clone(),
        key: String::new(),
        message: format!("not valid TOML: {}", e.message().trim()) + &line_hint(&text, e.span()),
    })?;
    let problems = match what {
        FileKind::Config => strict::read_all::<Settings>(&mut table, &origin, ""),
        FileKind::Release => match table.get_mut("release") {
            Some(toml::Value::Table(inner)) => strict::read_all::<ReleaseSettings>(inner, &origin, "release."),
            _ => strict::read_all::<ReleaseSettings>(&mut table, &origin, "release."),
        },
    };
    Ok((table, problems))
}

#[derive(Clone, Copy)]
enum FileKind {
    Config,
    Release,
}

fn tidy_path(p: &str) -> String {
    if p == "." { String::new() } else { p.to_string() }
}

fn line_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

/// TOML datetimes become RFC 3339 strings, as they do in the `config` crate.
fn datetimes_to_strings(v: toml::Value) -> toml::Value {
    match v {
        toml::Value::Datetime(d) => toml::Value::String(d.to_string()),
        toml::Value::Array(a) => toml::Value::Array(a.into_iter().map(datetimes_to_strings).collect()),
        toml::Value::Table(t) => toml::Value::Table(t.into_iter().map(|(k, v)| (k, datetimes_to_strings(v))).collect()),
        other => other,
    }
}

/// Find the files that make up the configuration and check each one.
pub(crate) fn read_layers(paths: &Paths, cli: &ConfigFiles) -> Result<Layers, ConfigErrors> {
    let (layers, problems) = read_layers_leniently(paths, cli)?;
    if problems.errors.is_empty() { Ok(layers) } else { Err(ConfigErrors(problems.errors)) }
}

/// The layers with every problem in their keys taken out, and the problems,
/// so that `config check` can go on to validate the rest. Only a file that
/// cannot be read at all (missing, not TOML) is an error here.
pub(crate) fn read_layers_leniently(paths: &Paths, cli: &ConfigFiles) -> Result<(Layers, FileProblems), ConfigErrors> {
    let mut files = Vec::new();
    let mut problems = FileProblems::default();
    let mut read = |path: &Path, what: FileKind| {
        read_file(path, what).map(|(table, found)| {
            problems.extend(found);
            table
        })
    };
    if let Some(user) = paths.user_config.as_ref().filter(|p| p.exists()) {
        files.push((user.clone(), read(user, FileKind::Config)?));
    }
    if let Some(file) = &cli.config_file {
        if !file.exists() {
            return Err(ConfigError {
                origin: file.display().to_string(),
                key: String::new(),
                message: "no such file (given with --config)".to_string(),
            }
            .into());
        }
        files.push((file.clone(), read(file, FileKind::Config)?));
    }
    let release_file = match &cli.release_file {
        Some(file) => Some((file.clone(), read(file, FileKind::Release)?)),
        None => None,
    };
    Ok((Layers { files, release_file }, problems))
}

/// Variables for the end-to-end tests' hooks (`FLIGHTDECK_TEST_PANIC_AFTER`),
/// never settings: no config key starts with `test_`.
const TEST_HOOKS: &str = "FLIGHTDECK_TEST_";

/// Merge the layers with the `config` crate and deserialize the result.
pub(crate) fn merge(layers: &Layers) -> Result<Settings, ConfigErrors> {
    let mut builder = ::config::Config::builder();
    // The tables as read, not the files again: `config check` takes the
    // keys it has reported out of them, to check the rest.
    for (path, table) in &layers.files {
        let text = toml::to_string(table).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            key: String::new(),
            message: format!("cannot merge: {e}"),
        })?;
        builder = builder.add_source(::config::File::from_str(&text, ::config::FileFormat::Toml));
    }
    // Variables that hold a source's token are secrets, not settings, even
    // when their name starts with FLIGHTDECK_.
    let tokens = layers.token_envs();
    let vars: ::config::Map<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("FLIGHTDECK_") && !k.starts_with(TEST_HOOKS) && !tokens.contains(k))
        .collect();
    builder = builder.add_source(
        ::config::Environment::with_prefix("FLIGHTDECK")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(false)
            .source(Some(vars)),
    );
    let merged = builder.build().map_err(|e| ConfigError {
        origin: "configuration".to_string(),
        key: String::new(),
        message: e.to_string(),
    })?;
    // Each file passed its strict check alone, so a failure here comes from
    // the environment variables (or from how the layers combine).
    let mut settings: Settings = merged.try_deserialize().map_err(|e| {
        let vars = env_vars_matching("FLIGHTDECK_");
        ConfigError {
            origin: if vars.is_empty() {
                "merged configuration".to_string()
            } else {
                format!("environment ({})", vars.join(", "))
            },
            key: String::new(),
            message: format!("{e} (nested keys are joined by `__`, e.g. FLIGHTDECK_RELEASE__NAME)"),
        }
    })?;
    if let Some((path, table)) = &layers.release_file {
        let value = datetimes_to_strings(toml::Value::Table(table.clone()));
        let inner = match value {
            toml::Value::Table(mut t) if t.contains_key("release") => {
                t.remove("release").unwrap_or(toml::Value::Table(toml::Table::new()))
            }
            other => other,
        };
        let release = ReleaseSettings::deserialize(inner).map_err(|e| ConfigError {
            origin: path.display().to_string(),
            key: "release".to_string(),
            message: e.message().trim().to_string(),
        })?;
        settings.release = Some(release);
    }
    Ok(settings)
}

/// Parse and validate a whole configuration held in a string (the demo,
/// tests). `origin` names it in error messages.
pub(crate) fn from_toml_str_with(
    text: &str,
    origin: &str,
    check_source: SourceCheck<'_>,
) -> Result<Config, ConfigErrors> {
    let err = |key: String, message: String| ConfigError { origin: origin.to_string(), key, message };
    let table: toml::Table = toml::from_str(text).map_err(|e| err(String::new(), e.message().to_string()))?;
    let value = datetimes_to_strings(toml::Value::Table(table.clone()));
    let settings: Settings = serde_path_to_error::deserialize(value)
        .map_err(|e| err(tidy_path(&e.path().to_string()), e.inner().message().trim().to_string()))?;
    let layers = Layers { files: vec![(PathBuf::from(origin), table)], release_file: None };
    validate::validate(&settings, &layers, check_source)
}

#[cfg(test)]
mod operator_tests {
    use super::operator_named;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(name, _)| *name == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_config_then_user_then_logname_and_never_a_made_up_name() {
        let all = [("USER", "ana"), ("LOGNAME", "ana-login")];
        assert_eq!(operator_named(Some("carol"), env(&all)), Some("carol".into()));
        assert_eq!(operator_named(None, env(&all)), Some("ana".into()));
        assert_eq!(operator_named(None, env(&[("LOGNAME", "raj")])), Some("raj".into()));
        // Blank is nobody: the next one is asked, and at the end nobody.
        assert_eq!(operator_named(Some("  "), env(&[("USER", ""), ("LOGNAME", "raj")])), Some("raj".into()));
        assert_eq!(operator_named(None, env(&[])), None);
        // What a variable holds is data: no control sequence, at most 40 characters.
        let named = operator_named(Some("\u{1b}[31mmallory\u{1b}[0m"), env(&[])).unwrap_or_default();
        assert!(!named.contains('\u{1b}') && named.contains("mallory"), "{named:?}");
        let long = operator_named(Some(&"x".repeat(80)), env(&[])).unwrap_or_default();
        assert!(long.ends_with('…') && long.chars().count() <= 41, "cut, and it says so: {long:?}");
    }
}
