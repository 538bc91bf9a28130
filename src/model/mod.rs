//! The plain data flightdeck reasons about: environments, services, the
//! release plan, and what sources observe in each cell.

pub mod error;
pub mod rollback;
pub mod source;
pub mod time;
pub mod version;

use std::fmt;
use std::sync::Arc;

pub use error::FetchError;
pub use source::{OptionError, SourceSpec};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How strong a piece of evidence is; declared in strongest-first order so
/// that `Ord` sorts the strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Evidence {
    /// The service reports itself (`/version`, actuator, pod image digest).
    Running,
    /// A controller's view (Argo CD, Kubernetes rollout status).
    Controller,
    /// A deployment record (GitHub, GitLab).
    Recorded,
    /// A plan or a tag.
    Declared,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Running => "running",
            Evidence::Controller => "controller",
            Evidence::Recorded => "recorded",
            Evidence::Declared => "declared",
        }
    }

    /// One-letter mark used in the matrix so evidence reads without colour.
    pub fn glyph(self) -> char {
        match self {
            Evidence::Running => 'R',
            Evidence::Controller => 'C',
            Evidence::Recorded => 'D',
            Evidence::Declared => 'P',
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Up,
    /// Reachable but reporting a warning (`warn`, `degraded`).
    Degraded,
    /// Down, failing or out of service.
    Down,
    Unknown,
}

/// The spellings services use for their health, lowercase.
const HEALTH_SPELLINGS: &[(&str, Health)] = &[
    ("up", Health::Up),
    ("pass", Health::Up),
    ("ok", Health::Up),
    ("healthy", Health::Up),
    ("true", Health::Up),
    ("green", Health::Up),
    ("ready", Health::Up),
    ("serving", Health::Up),
    ("warn", Health::Degraded),
    ("warning", Health::Degraded),
    ("degraded", Health::Degraded),
    ("progressing", Health::Degraded),
    ("yellow", Health::Degraded),
    ("down", Health::Down),
    ("fail", Health::Down),
    ("failed", Health::Down),
    ("failing", Health::Down),
    ("out_of_service", Health::Down),
    ("unhealthy", Health::Down),
    ("false", Health::Down),
    ("red", Health::Down),
    ("not_serving", Health::Down),
    ("critical", Health::Down),
];

/// Room on the stack for a spelling (the longest is 14 bytes): a longer
/// text is none of them.
const SPELLING_ROOM: usize = 16;
const _: () = {
    let mut i = 0;
    while i < HEALTH_SPELLINGS.len() {
        assert!(HEALTH_SPELLINGS[i].0.len() <= SPELLING_ROOM, "a health spelling longer than the buffer");
        i += 1;
    }
};

impl Health {
    /// Interpret the many spellings services use for their health (any
    /// case, surrounding whitespace ignored).
    pub fn parse(raw: &str) -> Health {
        // Lowercased on the stack, not in a new string: called for every
        // cell of every sweep, and no spelling is longer than the buffer.
        let raw = raw.trim().as_bytes();
        let mut buf = [0u8; SPELLING_ROOM];
        let Some(lower) = buf.get_mut(..raw.len()) else { return Health::Unknown };
        lower.copy_from_slice(raw);
        lower.make_ascii_lowercase();
        HEALTH_SPELLINGS.iter().find(|(spelling, _)| spelling.as_bytes() == lower).map_or(Health::Unknown, |&(_, h)| h)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// What a source reads: deployments (versions) or metrics (numbers about a
/// running service). Metrics never count as evidence of what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Deployment,
    Metrics,
}

/// A measured value as a source gave it: `NaN`, infinities and "no data"
/// are kept as such, never turned into 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum MetricValue {
    Number(f64),
    NaN,
    PosInf,
    NegInf,
    /// The query matched no series.
    NoData,
}

impl MetricValue {
    /// Prometheus sends sample values as strings: "0.01", "NaN", "+Inf".
    pub fn parse(raw: &str) -> Option<MetricValue> {
        match raw.trim() {
            "NaN" => Some(MetricValue::NaN),
            "+Inf" | "Inf" => Some(MetricValue::PosInf),
            "-Inf" => Some(MetricValue::NegInf),
            s => s.parse::<f64>().ok().map(|v| if v.is_nan() { MetricValue::NaN } else { MetricValue::Number(v) }),
        }
    }

    pub fn as_f64(self) -> Option<f64> {
        match self {
            MetricValue::Number(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricValue::Number(v) => write!(f, "{v}"),
            MetricValue::NaN => f.write_str("NaN"),
            MetricValue::PosInf => f.write_str("+Inf"),
            MetricValue::NegInf => f.write_str("-Inf"),
            MetricValue::NoData => f.write_str("no data"),
        }
    }
}

/// One named measurement of a cell (`error_rate`, `p95_latency`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: MetricValue,
    /// The same query before the release (see `[rollback] baseline`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<MetricBaseline>,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: MetricValue) -> Metric {
        Metric { name: name.into(), value, baseline: None }
    }
}

/// A metric's value at its baseline time, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricBaseline {
    pub at: Timestamp,
    pub value: Option<MetricValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one source read for one cell on a successful fetch. Every string has
/// been through [`crate::sanitize::clean`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reading {
    pub version: Option<String>,
    pub build: Option<String>,
    pub commit: Option<String>,
    pub digest: Option<String>,
    pub deployed_at: Option<Timestamp>,
    pub health: Option<Health>,
    /// Measurements (metrics sources); empty for deployment sources.
    pub metrics: Vec<Metric>,
    /// Facts particular to a source kind, shown in the cell detail and
    /// read by later analysis: `sync = "OutOfSync"`, `auto_sync = "true"`,
    /// `revision = "7"`, `rollout = "progressing"`. Values are clean text.
    pub attributes: Vec<(String, String)>,
    /// What ran before, from the source's own history (deployment records,
    /// Argo CD history, ReplicaSet revisions): the rollback target.
    pub previous: Option<Box<rollback::Artifact>>,
}

impl Reading {
    pub fn version(version: impl Into<String>) -> Reading {
        Reading { version: Some(version.into()), ..Reading::default() }
    }

    /// The value of a source-specific attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Index of a service in the fleet (config order).
pub(crate) type ServiceIdx = usize;
/// Index of an environment in promotion order.
pub(crate) type EnvIdx = usize;

/// One cell of the matrix: a service in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    pub service: ServiceIdx,
    pub env: EnvIdx,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: Arc<str>,
    pub stale_after: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Service {
    pub name: Arc<str>,
    pub owner: Option<String>,
    pub repo: Option<String>,
    pub rollback: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseKind {
    Patch,
    Minor,
    Major,
    Hotfix,
}

impl ReleaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseKind::Patch => "patch",
            ReleaseKind::Minor => "minor",
            ReleaseKind::Major => "major",
            ReleaseKind::Hotfix => "hotfix",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A period in which nothing may be deployed (a freeze, a holiday).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blackout {
    pub start: Timestamp,
    pub end: Timestamp,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleasePlan {
    pub name: String,
    pub kind: Option<ReleaseKind>,
    pub window: Option<Window>,
    /// Checklist template: a name or a path; default: the kind's.
    pub template: Option<String>,
    pub blackouts: Vec<Blackout>,
    /// Target version per planned service, sorted by service index (the
    /// config's validation sorts it; lookups search it by halves).
    pub targets: Vec<(ServiceIdx, String)>,
    /// Migrations the release runs, per service (absent: none declared),
    /// sorted by service index.
    pub migrations: Vec<(ServiceIdx, rollback::Migration)>,
}

impl ReleasePlan {
    pub fn target(&self, service: ServiceIdx) -> Option<&str> {
        let at = self.targets.binary_search_by_key(&service, |(s, _)| *s).ok()?;
        self.targets.get(at).map(|(_, v)| v.as_str())
    }

    /// The migration declared for a service, if the plan declares one.
    pub fn migration(&self, service: ServiceIdx) -> Option<rollback::Migration> {
        let at = self.migrations.binary_search_by_key(&service, |(s, _)| *s).ok()?;
        self.migrations.get(at).map(|(_, m)| *m)
    }
}

/// The validated shape of what is being watched: who, where, and the plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fleet {
    pub environments: Vec<Environment>,
    pub services: Vec<Service>,
    pub release: Option<ReleasePlan>,
    /// `[rollback]`: known-good rule, baselines and triggers.
    pub rollback: rollback::RollbackPolicy,
}

impl Fleet {
    pub(crate) fn cell_count(&self) -> usize {
        self.environments.len() * self.services.len()
    }

    pub(crate) fn cell_index(&self, key: CellKey) -> usize {
        key.service * self.environments.len() + key.env
    }

    pub fn service_idx(&self, name: &str) -> Option<ServiceIdx> {
        self.services.iter().position(|s| *s.name == *name)
    }

    pub fn env_idx(&self, name: &str) -> Option<EnvIdx> {
        self.environments.iter().position(|e| *e.name == *name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `Health::parse` says, the plain way: lowercase a copy, look it up.
    fn health_by_copy(raw: &str) -> Health {
        let lower = raw.trim().to_ascii_lowercase();
        HEALTH_SPELLINGS.iter().find(|(spelling, _)| *spelling == lower).map_or(Health::Unknown, |&(_, h)| h)
    }

    #[test]
    fn health_reads_the_usual_spellings_in_any_case() {
        for (raw, health) in [
            ("UP", Health::Up),
            (" Serving\n", Health::Up),
            ("Degraded", Health::Degraded),
            ("\tOUT_OF_SERVICE ", Health::Down),
            ("Not_Serving", Health::Down),
            ("critical", Health::Down),
            ("", Health::Unknown),
            ("upp", Health::Unknown),
            ("out_of_service_now", Health::Unknown),
            ("Ünhealthy", Health::Unknown),
            // Whitespace beyond ASCII is trimmed too.
            ("\u{a0}UP\u{2003}", Health::Up),
        ] {
            assert_eq!(Health::parse(raw), health, "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn health_is_read_as_a_lowercased_copy_would_be(
            spelling in proptest::sample::select(HEALTH_SPELLINGS.iter().map(|(s, _)| *s).collect::<Vec<_>>()),
            upper in proptest::collection::vec(any::<bool>(), 16),
            around in "[ \t\n\u{a0}]{0,2}",
            other in prop_oneof!["\\PC{0,20}", "[a-zA-Z_ ]{0,18}"],
            known in any::<bool>(),
        ) {
            // A known spelling in random case with whitespace around it, or any text.
            let raw = if known {
                let cased: String =
                    spelling.chars().zip(&upper).map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c }).collect();
                format!("{around}{cased}{around}")
            } else {
                other
            };
            prop_assert_eq!(Health::parse(&raw), health_by_copy(&raw), "{:?}", raw);
            if known {
                prop_assert_ne!(Health::parse(&raw), Health::Unknown, "{:?}", raw);
            }
        }
    }
}
