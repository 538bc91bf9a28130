//! From settings as written to a [`Config`] the program can trust: names
//! unique and well formed, references resolved, times parsed, each source's
//! own keys checked by its kind.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, ConfigErrors, Layers, Seg, Settings, key_string};
use crate::model::rollback::{BaselineAt, RollbackPolicy, TriggerRule, TriggerSpec};
use crate::model::source::{OptionError, SourceSpec};
use crate::model::time::parse_time;
use crate::model::{EnvIdx, Environment, Fleet, ReleasePlan, Service, Window};

pub(crate) const DEFAULT_EVERY: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_CONCURRENCY: usize = 16;
pub(crate) const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub fleet: Fleet,
    pub sources: Vec<SourceSpec>,
    pub poller: PollerSettings,
    pub data_dir: Option<PathBuf>,
    pub log: Option<String>,
    /// Who acts in this cockpit: the config's `operator`, else `$USER`,
    /// else `$LOGNAME`; `None`: nobody (in team mode the database role,
    /// whatever this says).
    pub operator: Option<String>,
    /// `[team]`: the release journal on PostgreSQL.
    pub team: Option<TeamConfig>,
    /// `[[notify]]`: the webhooks told about the release.
    pub notify: Vec<crate::notify::NotifyConfig>,
    /// `[changes]`: where the commits between versions come from.
    pub changes: Option<crate::changes::ChangesConfig>,
}

/// `[team]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamConfig {
    /// The environment variable holding the database URL.
    pub database_url_env: String,
    /// Sign-off role → database roles allowed to sign for it, in config order.
    pub signers: Vec<(String, Vec<String>)>,
    /// Who polls the sources.
    pub poll: TeamPoll,
}

/// `[team] poll`: one seat polls for the team (the default), or each its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TeamPoll {
    /// The seat holding the release's advisory lock polls and writes the
    /// cell states; the others follow and need no source tokens.
    #[default]
    Leader,
    /// Every seat polls its own sources; only the journal is shared.
    Each,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollerSettings {
    pub concurrency: usize,
    pub max_backoff: Duration,
}

impl Default for PollerSettings {
    fn default() -> Self {
        PollerSettings { concurrency: DEFAULT_CONCURRENCY, max_backoff: DEFAULT_MAX_BACKOFF }
    }
}

impl Config {
    /// The indices of the named environments (for `check --env`); unknown
    /// names are an error naming them. Empty: every environment.
    pub(crate) fn env_indices(&self, names: &[String]) -> Result<Vec<EnvIdx>, String> {
        let unknown: Vec<&str> = names.iter().filter(|n| self.fleet.env_idx(n).is_none()).map(String::as_str).collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = self.fleet.environments.iter().map(|e| e.name.as_ref()).collect();
            return Err(format!("unknown environment `{}` (known: {})", unknown.join("`, `"), known.join(", ")));
        }
        let mut idx: Vec<EnvIdx> = names.iter().filter_map(|n| self.fleet.env_idx(n)).collect();
        idx.sort_unstable();
        idx.dedup();
        Ok(idx)
    }

    /// Poll no environment later than `last` in promotion order: what the
    /// findings of `last` and the ones before it need to compare against.
    pub(crate) fn poll_through(&self, last: EnvIdx) -> Config {
        let mut out = self.clone();
        for source in &mut out.sources {
            source.environments.retain(|&e| e <= last);
        }
        out
    }
}

/// How a caller checks (and builds) one source from its spec.
pub type SourceCheck<'a> = &'a mut dyn FnMut(&SourceSpec) -> Result<(), Vec<OptionError>>;

/// Names end up in URLs, keys and file names: keep them plain.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const NAME_RULE: &str = "names use letters, digits, '-' and '_' (at most 64)";

struct Errors<'a> {
    layers: &'a Layers,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn push(&mut self, path: &[Seg<'_>], message: impl Into<String>) {
        self.list.push(ConfigError {
            origin: self.layers.origin(path),
            key: key_string(path),
            message: message.into(),
        });
    }
}

/// Validate settings. `check_source` is given each source's final spec (the
/// kind's own options are the kind's business: the caller hands them over,
/// config never calls into sources) and says what is wrong with its keys.
pub fn validate(settings: &Settings, layers: &Layers, check_source: SourceCheck<'_>) -> Result<Config, ConfigErrors> {
    let mut errors = Errors { layers, list: Vec::new() };

    let mut environments = Vec::new();
    let mut seen = HashSet::new();
    for (i, env) in settings.environments.iter().enumerate() {
        let path = [Seg::Key("environments"), Seg::Index(i), Seg::Key("name")];
        if !valid_name(&env.name) {
            errors.push(&path, format!("invalid environment name `{}`: {NAME_RULE}", env.name));
        } else if !seen.insert(env.name.as_str()) {
            errors.push(&path, format!("duplicate environment `{}`", env.name));
        }
        environments.push(Environment { name: env.name.as_str().into(), stale_after: env.stale_after.map(|d| d.0) });
    }

    let mut services = Vec::new();
    let mut seen = HashSet::new();
    for (i, svc) in settings.services.iter().enumerate() {
        let path = [Seg::Key("services"), Seg::Index(i), Seg::Key("name")];
        if !valid_name(&svc.name) {
            errors.push(&path, format!("invalid service name `{}`: {NAME_RULE}", svc.name));
        } else if !seen.insert(svc.name.as_str()) {
            errors.push(&path, format!("duplicate service `{}`", svc.name));
        }
        if let Some(template) = &svc.rollback
            && let Err(m) = crate::analysis::rollback::check_template(template)
        {
            errors.push(&[Seg::Key("services"), Seg::Index(i), Seg::Key("rollback")], m);
        }
        services.push(Service {
            name: svc.name.as_str().into(),
            owner: svc.owner.clone(),
            repo: svc.repo.clone(),
            rollback: svc.rollback.clone(),
        });
    }

    if environments.is_empty() {
        errors.push(
            &[Seg::Key("environments")],
            "no environments configured: add at least one [[environments]] with a name",
        );
    }
    if services.is_empty() {
        errors.push(&[Seg::Key("services")], "no services configured: add at least one [[services]] with a name");
    }

    let fleet_shape = Fleet { environments, services, release: None, rollback: Default::default() };

    let release = settings.release.as_ref().map(|rel| {
        if rel.name.trim().is_empty() {
            errors.push(&[Seg::Key("release"), Seg::Key("name")], "the release needs a name");
        }
        let window = rel.window.as_ref().and_then(|w| {
            let start = parse_time(&w.start);
            let end = parse_time(&w.end);
            let wpath = |k| [Seg::Key("release"), Seg::Key("window"), Seg::Key(k)];
            match (start, end) {
                (Ok(start), Ok(end)) if start < end => Some(Window { start, end }),
                (Ok(_), Ok(_)) => {
                    errors.push(&wpath("end"), "the window ends before it starts");
                    None
                }
                (start, end) => {
                    if let Err(e) = start {
                        errors.push(&wpath("start"), e);
                    }
                    if let Err(e) = end {
                        errors.push(&wpath("end"), e);
                    }
                    None
                }
            }
        });
        let mut targets = Vec::new();
        for (service, version) in &rel.targets {
            let path = [Seg::Key("release"), Seg::Key("targets"), Seg::Key(service)];
            match fleet_shape.service_idx(service) {
                Some(_) if version.trim().is_empty() => errors.push(&path, "empty target version"),
                Some(idx) => targets.push((idx, version.trim().to_string())),
                None => errors.push(&path, format!("target for unknown service `{service}` (not in [[services]])")),
            }
        }
        targets.sort_by_key(|(idx, _)| *idx);
        let mut blackouts = Vec::new();
        for (i, b) in rel.blackouts.iter().enumerate() {
            let bpath = |k| [Seg::Key("release"), Seg::Key("blackouts"), Seg::Index(i), Seg::Key(k)];
            match (parse_time(&b.start), parse_time(&b.end)) {
                (Ok(start), Ok(end)) if start < end => {
                    blackouts.push(crate::model::Blackout { start, end, reason: b.reason.trim().to_string() })
                }
                (Ok(_), Ok(_)) => errors.push(&bpath("end"), "the blackout ends before it starts"),
                (start, end) => {
                    if let Err(e) = start {
                        errors.push(&bpath("start"), e);
                    }
                    if let Err(e) = end {
                        errors.push(&bpath("end"), e);
                    }
                }
            }
        }
        let template = rel.template.as_ref().map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let mut migrations = Vec::new();
        for (service, migration) in &rel.migrations {
            match fleet_shape.service_idx(service) {
                Some(idx) => migrations.push((idx, *migration)),
                None => errors.push(
                    &[Seg::Key("release"), Seg::Key("migrations"), Seg::Key(service)],
                    format!("migration for unknown service `{service}` (not in [[services]])"),
                ),
            }
        }
        migrations.sort_by_key(|(idx, _)| *idx);
        ReleasePlan { name: rel.name.clone(), kind: rel.kind, window, template, blackouts, targets, migrations }
    });

    let mut sources = Vec::new();
    let mut seen = HashSet::new();
    for (i, src) in settings.sources.iter().enumerate() {
        let at = |k| [Seg::Key("sources"), Seg::Index(i), Seg::Key(k)];
        if !valid_name(&src.name) {
            errors.push(&at("name"), format!("invalid source name `{}`: {NAME_RULE}", src.name));
        } else if !seen.insert(src.name.as_str()) {
            errors.push(&at("name"), format!("duplicate source `{}`", src.name));
        }
        let every = src.every.map_or(DEFAULT_EVERY, |d| d.0);
        if every < Duration::from_millis(100) {
            errors.push(&at("every"), "polling more often than every 100ms is not allowed");
        }
        let timeout = src.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
        if timeout.is_zero() {
            errors.push(&at("timeout"), "the timeout must be longer than zero");
        }
        let services =
            resolve(&src.services, &fleet_shape.services, |s| &s.name, "service", &at("services"), &mut errors);
        let environments = resolve(
            &src.environments,
            &fleet_shape.environments,
            |e| &e.name,
            "environment",
            &at("environments"),
            &mut errors,
        );
        let spec = SourceSpec {
            name: src.name.clone(),
            kind: src.kind.clone(),
            every,
            timeout,
            evidence: src.evidence,
            services,
            environments,
            options: src.options.clone(),
            baseline: None,
        };
        sources.push(spec);
    }

    let concurrency = settings.poller.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    if concurrency == 0 {
        errors.push(&[Seg::Key("poller"), Seg::Key("concurrency")], "concurrency must be at least 1");
    }
    let poller =
        PollerSettings { concurrency, max_backoff: settings.poller.max_backoff.map_or(DEFAULT_MAX_BACKOFF, |d| d.0) };

    let rollback = rollback_policy(settings.rollback.as_ref(), &fleet_shape, release.as_ref(), &sources, &mut errors);
    for spec in &mut sources {
        spec.baseline = Some(rollback.baseline);
    }
    // The kinds' own options, each checked once, on the spec as it will run.
    for (i, spec) in sources.iter().enumerate() {
        for problem in source_problems(spec, &mut *check_source) {
            let mut path = vec![Seg::Key("sources"), Seg::Index(i)];
            path.extend(problem.key.split('.').filter(|s| !s.is_empty()).map(Seg::Key));
            errors.push(&path, problem.message);
        }
    }

    let team = team_config(settings.team.as_ref(), &mut errors);

    let notify = crate::notify::validate(&settings.notify).unwrap_or_else(|problems| {
        for p in problems {
            errors.push(&[Seg::Key("notify"), Seg::Index(p.index), Seg::Key(p.key)], p.message);
        }
        Vec::new()
    });
    // In team mode one seat sends (the leader); with every seat polling
    // there is none, and each seat would tell the channel again.
    if !notify.is_empty() && team.as_ref().is_some_and(|t| t.poll == TeamPoll::Each) {
        errors.push(
            &[Seg::Key("team"), Seg::Key("poll")],
            "[[notify]] needs one seat to send for the team: poll = \"leader\" (with \"each\" every seat would \
             send every message)",
        );
    }

    // `[changes]` and the services' `repo`s: what ships, from the compare APIs.
    let changes = settings.changes.as_ref().and_then(|raw| {
        crate::changes::config::validate(raw, &settings.services)
            .map_err(|problems| {
                for p in problems {
                    match p.key {
                        crate::changes::ProblemKey::Changes(k) => {
                            errors.push(&[Seg::Key("changes"), Seg::Key(k)], p.message)
                        }
                        crate::changes::ProblemKey::ServiceRepo(i) => {
                            errors.push(&[Seg::Key("services"), Seg::Index(i), Seg::Key("repo")], p.message)
                        }
                    }
                }
            })
            .ok()
    });

    if !errors.list.is_empty() {
        return Err(ConfigErrors(errors.list));
    }
    Ok(Config {
        fleet: Fleet { release, rollback, ..fleet_shape },
        sources,
        poller,
        data_dir: settings.data_dir.clone(),
        log: settings.log.clone(),
        operator: super::operator_named(settings.operator.as_deref(), |k| std::env::var(k).ok()),
        team,
        notify,
        changes,
    })
}

/// Every problem with a source's own keys. The kinds read their options
/// with serde, which stops at the first unknown key or bad value: each one
/// is taken out and the source checked again, so one run reports them all.
fn source_problems(spec: &SourceSpec, check_source: SourceCheck<'_>) -> Vec<OptionError> {
    let mut found: Vec<OptionError> = Vec::new();
    let mut taken_out: Vec<String> = Vec::new();
    let mut trial: Option<SourceSpec> = None;
    for _ in 0..MOST_SOURCE_PROBLEMS {
        let Err(problems) = check_source(trial.as_ref().unwrap_or(spec)) else { break };
        let mut took_one = false;
        for problem in problems {
            // "missing field `url`" after `url` was taken out repeats its problem.
            let repeats = problem.message.strip_prefix("missing field `").and_then(|m| m.split_once('`')).is_some_and(
                |(field, _)| {
                    let key =
                        if problem.key.is_empty() { field.to_string() } else { format!("{}.{field}", problem.key) };
                    taken_out.contains(&key)
                },
            );
            if repeats {
                continue;
            }
            if super::strict::stops_serde(&problem.message) {
                let options = &mut trial.get_or_insert_with(|| spec.clone()).options;
                if take_out_option(options, &problem.key) {
                    took_one = true;
                    taken_out.push(problem.key.clone());
                }
            }
            let message = super::strict::with_suggestion(&problem.message, COMMON_SOURCE_KEYS);
            found.push(OptionError { message, ..problem });
        }
        if !took_one {
            break;
        }
    }
    found
}

/// The keys every source has, read before its kind sees the rest.
const COMMON_SOURCE_KEYS: &[&str] = &["name", "kind", "every", "timeout", "evidence", "services", "environments"];

/// A source with more problems than this: the rest are not looked for.
const MOST_SOURCE_PROBLEMS: usize = 50;

/// Remove the option at a dotted key (`fields.version`).
fn take_out_option(options: &mut serde_json::Map<String, serde_json::Value>, key: &str) -> bool {
    let (parents, last) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = options;
    for step in parents.split('.').filter(|s| !s.is_empty()) {
        match current.get_mut(step) {
            Some(serde_json::Value::Object(inner)) => current = inner,
            _ => return false,
        }
    }
    !last.is_empty() && current.shift_remove(last).is_some()
}

/// `[team]`: a URL variable (never a URL), the poll mode, the signers.
fn team_config(raw: Option<&crate::config::TeamSettings>, errors: &mut Errors<'_>) -> Option<TeamConfig> {
    let raw = raw?;
    let at = |k| [Seg::Key("team"), Seg::Key(k)];
    let var = match raw.database_url_env.as_deref() {
        None => {
            errors
                .push(&at("database_url_env"), "missing: name the environment variable that holds the postgres:// URL");
            None
        }
        // A URL pasted here holds a password: say so without repeating it.
        Some(v) if v.contains("://") => {
            errors.push(
                &at("database_url_env"),
                "this looks like the database URL itself: it never goes in a file; name the environment variable \
                 that holds it (e.g. FLIGHTDECK_DATABASE_URL)",
            );
            None
        }
        Some(v) if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            let shown = crate::sanitize::clean_to(v, 40);
            errors.push(&at("database_url_env"), format!("`{shown}` is not an environment variable name"));
            None
        }
        Some(v) => Some(v.to_string()),
    };
    let poll = match raw.poll.as_deref() {
        None | Some("leader") => TeamPoll::Leader,
        Some("each") => TeamPoll::Each,
        Some(other) => {
            errors
                .push(&at("poll"), format!("`{}` is not \"leader\" or \"each\"", crate::sanitize::clean_to(other, 40)));
            TeamPoll::Leader
        }
    };
    let mut signers = Vec::new();
    for (role, who) in &raw.signers {
        let names: Option<Vec<String>> =
            who.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
        match names {
            Some(names) if !names.is_empty() && names.len() == who.as_array().map_or(0, Vec::len) => {
                signers.push((role.clone(), names));
            }
            _ => errors.push(
                &[Seg::Key("team"), Seg::Key("signers"), Seg::Key(role)],
                "a list of database role names, e.g. [\"alice\", \"bob\"]",
            ),
        }
    }
    Some(TeamConfig { database_url_env: var?, signers, poll })
}

/// `[rollback]`: the known-good rule, when baselines are measured, and the
/// triggers, each naming a query of a `prometheus` source.
fn rollback_policy(
    raw: Option<&crate::config::RollbackSettings>,
    fleet: &Fleet,
    release: Option<&ReleasePlan>,
    sources: &[SourceSpec],
    errors: &mut Errors<'_>,
) -> RollbackPolicy {
    let mut policy = RollbackPolicy::default();
    let window_start = release.and_then(|r| r.window).map(|w| w.start);
    policy.baseline = match window_start {
        Some(start) => BaselineAt::Fixed(start),
        None => BaselineAt::Ago(crate::model::rollback::DEFAULT_BASELINE_AGO),
    };
    let Some(raw) = raw else { return policy };
    let at = |k| [Seg::Key("rollback"), Seg::Key(k)];
    if let Some(d) = raw.known_good_after {
        policy.known_good_after = d.0;
    }
    if let Some(b) = raw.baseline.as_deref().map(str::trim) {
        if b == "window" {
            // The default; without a window, an hour ago (said in the pane).
        } else if let Ok(d) = crate::config::HumanDuration::parse(b) {
            if d.0.is_zero() {
                errors.push(&at("baseline"), "a baseline 0s ago is the live value: use \"window\" or e.g. \"1h\"");
            }
            policy.baseline = BaselineAt::Ago(d.0);
        } else if let Ok(t) = parse_time(b) {
            if window_start.is_some_and(|start| t > start) {
                errors.push(
                    &at("baseline"),
                    format!("the baseline `{b}` is after the window opens: it must come before"),
                );
            }
            policy.baseline = BaselineAt::Fixed(t);
        } else {
            errors.push(
                &at("baseline"),
                format!("invalid baseline `{b}`: use \"window\", a duration before now (\"1h\") or a time (RFC 3339)"),
            );
        }
    }
    let Some(triggers) = &raw.triggers else { return policy };
    policy.default_triggers = false;
    policy.triggers.clear();
    let metrics: Vec<String> = sources
        .iter()
        .filter(|s| s.kind == "prometheus")
        .filter_map(|s| s.options.get("queries").and_then(|q| q.as_object()))
        .flat_map(|q| q.keys().cloned())
        .collect();
    let mut names = HashSet::new();
    for (i, t) in triggers.iter().enumerate() {
        let tpath = |k| [Seg::Key("rollback"), Seg::Key("triggers"), Seg::Index(i), Seg::Key(k)];
        if !metrics.contains(&t.metric) {
            let known = if metrics.is_empty() {
                "no prometheus source has queries".to_string()
            } else {
                format!("known: {}", metrics.join(", "))
            };
            errors.push(&tpath("metric"), format!("no prometheus source has a query named `{}` ({known})", t.metric));
        }
        let name = t.name.clone().unwrap_or_else(|| t.metric.clone());
        if name == "health" || !names.insert(name.clone()) {
            errors.push(
                &tpath("name"),
                format!("duplicate trigger name `{name}` (health is built in): give each a `name`"),
            );
        }
        let finite = |v: f64, k: &'static str, errors: &mut Errors<'_>| {
            if !v.is_finite() {
                errors.push(&tpath(k), format!("`{k}` must be a finite number"));
            }
        };
        let rule = match (t.factor, t.above) {
            (Some(factor), None) => {
                finite(factor, "factor", errors);
                if factor <= 1.0 {
                    errors.push(
                        &tpath("factor"),
                        format!("factor {factor} would fire at or below the baseline: use more than 1 (1.5 = +50%)"),
                    );
                }
                if let Some(m) = t.min {
                    finite(m, "min", errors);
                    if m <= 0.0 {
                        errors.push(&tpath("min"), "`min` must be above 0: at 0 a quiet service would fire");
                    }
                }
                TriggerRule::Factor { factor, min: t.min }
            }
            (None, Some(above)) => {
                finite(above, "above", errors);
                if t.min.is_some() {
                    errors.push(&tpath("min"), "`min` goes with `factor`; `above` is already a fixed value");
                }
                TriggerRule::Above(above)
            }
            (Some(_), Some(_)) => {
                errors.push(&tpath("above"), "give either `factor` (× baseline) or `above` (a fixed value), not both");
                continue;
            }
            (None, None) => {
                errors.push(&tpath("factor"), "a trigger needs `factor` (× baseline, e.g. 10) or `above` (e.g. 0.05)");
                continue;
            }
        };
        let environments = t.environments.as_ref().map(|_| {
            resolve(&t.environments, &fleet.environments, |e| &e.name, "environment", &tpath("environments"), errors)
        });
        policy.triggers.push(TriggerSpec::new(&name, &t.metric, rule, environments));
    }
    policy
}

fn resolve<T>(
    names: &Option<Vec<String>>,
    all: &[T],
    name_of: impl Fn(&T) -> &str,
    what: &str,
    path: &[Seg<'_>],
    errors: &mut Errors<'_>,
) -> Vec<usize> {
    match names {
        None => (0..all.len()).collect(),
        Some(names) => names
            .iter()
            .filter_map(|n| {
                let idx = all.iter().position(|t| name_of(t) == n.as_str());
                if idx.is_none() {
                    errors.push(path, format!("unknown {what} `{n}`"));
                }
                idx
            })
            .collect(),
    }
}
