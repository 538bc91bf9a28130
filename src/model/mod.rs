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

impl Health {
    /// Interpret the many spellings services use for their health.
    pub fn parse(raw: &str) -> Health {
        // Lowercased on the stack: every spelling known fits, and anything
        // longer is none of them (a reading parses one per cell).
        let raw = raw.trim().as_bytes();
        let mut buf = [0u8; 16];
        let Some(lower) = buf.get_mut(..raw.len()) else { return Health::Unknown };
        lower.copy_from_slice(raw);
        lower.make_ascii_lowercase();
        match &*lower {
            b"up" | b"pass" | b"ok" | b"healthy" | b"true" | b"green" | b"ready" | b"serving" => Health::Up,
            b"warn" | b"warning" | b"degraded" | b"progressing" | b"yellow" => Health::Degraded,
            b"down" | b"fail" | b"failed" | b"failing" | b"out_of_service" | b"unhealthy" | b"false" | b"red"
            | b"not_serving" | b"critical" => Health::Down,
            _ => Health::Unknown,
        }
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

    /// What `Health::parse` says, the plain way: lowercase a copy, match it.
    fn health_by_copy(raw: &str) -> Health {
        match raw.trim().to_ascii_lowercase().as_str() {
            "up" | "pass" | "ok" | "healthy" | "true" | "green" | "ready" | "serving" => Health::Up,
            "warn" | "warning" | "degraded" | "progressing" | "yellow" => Health::Degraded,
            "down" | "fail" | "failed" | "failing" | "out_of_service" | "unhealthy" | "false" | "red"
            | "not_serving" | "critical" => Health::Down,
            _ => Health::Unknown,
        }
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
        ] {
            assert_eq!(Health::parse(raw), health, "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn health_is_read_as_a_lowercased_copy_would_be(
            raw in prop_oneof![
                "[ \t]{0,2}(up|Pass|OK|healthy|TRUE|green|ready|serving|warn|Warning|degraded|progressing|yellow|down|fail|failed|failing|Out_Of_Service|unhealthy|false|red|not_serving|CRITICAL)[ \n]{0,2}",
                "\\PC{0,20}",
                "[a-zA-Z_ ]{0,18}",
            ]
        ) {
            prop_assert_eq!(Health::parse(&raw), health_by_copy(&raw), "{:?}", raw);
        }
    }
}
