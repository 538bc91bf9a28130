//! What rollback readiness and live triggers are made of: the artifact to go
//! back to, the release's migrations, and the policy that says when a
//! measurement means "roll back".

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::EnvIdx;

/// A deployed artifact a source remembers: what ran before the current one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Artifact {
    pub version: String,
    pub build: Option<String>,
    pub commit: Option<String>,
    pub digest: Option<String>,
    pub deployed_at: Option<Timestamp>,
    /// The source's own handle for it: an Argo CD history id, a ReplicaSet
    /// revision, a deployment id. Filled into `{previous_ref}`.
    pub reference: Option<String>,
}

impl Artifact {
    /// Whether the exact artifact can still be named: a build, a commit or
    /// a digest, not just a version string that could be rebuilt.
    pub fn identifiable(&self) -> bool {
        self.build.is_some() || self.commit.is_some() || self.digest.is_some()
    }
}

/// A release's database (or other one-way) migrations for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Migration {
    #[default]
    None,
    Reversible,
    Irreversible,
}

impl Migration {
    pub fn as_str(self) -> &'static str {
        match self {
            Migration::None => "none",
            Migration::Reversible => "reversible",
            Migration::Irreversible => "irreversible",
        }
    }
}

/// When the baseline of a trigger is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineAt {
    /// A fixed time: the window's start, or a time given in the config.
    Fixed(Timestamp),
    /// That long before now (PromQL's `offset`, as an evaluation time).
    Ago(Duration),
}

impl BaselineAt {
    /// The evaluation time of the baseline query at `now`.
    pub fn at(self, now: Timestamp) -> Timestamp {
        match self {
            BaselineAt::Fixed(t) => t,
            BaselineAt::Ago(d) => {
                now.checked_sub(jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::ZERO)).unwrap_or(now)
            }
        }
    }

    /// How the pane and reports say it: "at 17:58 UTC" or "1h ago".
    pub(crate) fn describe(self) -> String {
        match self {
            BaselineAt::Fixed(t) => format!("at {}", t.strftime("%m-%d %H:%M UTC")),
            BaselineAt::Ago(d) => format!("{} ago", crate::model::time::short_age(d)),
        }
    }
}

/// When a measurement fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TriggerRule {
    /// At or above `factor` × the baseline, and never below `min`.
    Factor { factor: f64, min: Option<f64> },
    /// At or above a fixed value.
    Above(f64),
}

impl TriggerRule {
    /// "×10 baseline, min 0.01", "+50% baseline", "≥ 0.9".
    pub(crate) fn describe(self) -> String {
        match self {
            TriggerRule::Factor { factor, min } => {
                let rel = if factor < 2.0 {
                    format!("+{}% baseline", trim_float((factor - 1.0) * 100.0))
                } else {
                    format!("×{} baseline", trim_float(factor))
                };
                match min {
                    Some(m) => format!("{rel}, min {}", trim_float(m)),
                    None => rel,
                }
            }
            TriggerRule::Above(t) => format!("≥ {}", trim_float(t)),
        }
    }
}

/// A number as people write it: 10, 0.5, 1.5e-3.
pub(crate) fn trim_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else if v.is_finite() {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v}")
    }
}

/// One configured trigger over a metric of the `prometheus` sources.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSpec {
    /// What the pane and banner call it (default: the metric's name).
    pub name: Arc<str>,
    /// A query name of a `prometheus` source.
    pub metric: String,
    pub rule: TriggerRule,
    /// Only these environments; `None`: every environment.
    pub environments: Option<Vec<EnvIdx>>,
    /// The rule as the pane says it (`TriggerRule::describe`), said once
    /// here rather than for every cell at every judgement; made only by
    /// [`TriggerSpec::new`], so that it always says `rule`.
    described: Arc<str>,
}

impl TriggerSpec {
    pub fn new(name: &str, metric: &str, rule: TriggerRule, environments: Option<Vec<EnvIdx>>) -> TriggerSpec {
        TriggerSpec { name: name.into(), metric: metric.into(), rule, environments, described: rule.describe().into() }
    }

    /// The rule as the pane says it ("×10 baseline, min 0.01").
    pub fn described(&self) -> &Arc<str> {
        &self.described
    }
}

/// The rollback policy: `[rollback]` in the config.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackPolicy {
    /// A version counts as known-good from flightdeck's own journal when it
    /// was current at least this long and never seen down meanwhile.
    pub known_good_after: Duration,
    pub baseline: BaselineAt,
    pub triggers: Vec<TriggerSpec>,
    /// The triggers are the built-in defaults (shown only where a metrics
    /// source has the metric), not the user's.
    pub default_triggers: bool,
}

/// Default: a version that ran an hour without going down is known-good.
pub(crate) const DEFAULT_KNOWN_GOOD_AFTER: Duration = Duration::from_secs(3600);
/// Default baseline without a window: an hour ago.
pub(crate) const DEFAULT_BASELINE_AGO: Duration = Duration::from_secs(3600);

impl RollbackPolicy {
    /// The built-in triggers: error rate at 10× its baseline (at least 1%),
    /// p95 latency at +50%.
    pub(crate) fn default_triggers() -> Vec<TriggerSpec> {
        vec![
            TriggerSpec::new("error_rate", "error_rate", TriggerRule::Factor { factor: 10.0, min: Some(0.01) }, None),
            TriggerSpec::new("p95_latency", "p95_latency", TriggerRule::Factor { factor: 1.5, min: None }, None),
        ]
    }
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        RollbackPolicy {
            known_good_after: DEFAULT_KNOWN_GOOD_AFTER,
            baseline: BaselineAt::Ago(DEFAULT_BASELINE_AGO),
            triggers: RollbackPolicy::default_triggers(),
            default_triggers: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_like_people_write_them() {
        assert_eq!(TriggerRule::Factor { factor: 10.0, min: Some(0.01) }.describe(), "×10 baseline, min 0.01");
        assert_eq!(TriggerRule::Factor { factor: 1.5, min: None }.describe(), "+50% baseline");
        assert_eq!(TriggerRule::Above(0.9).describe(), "≥ 0.9");
        assert_eq!(trim_float(0.00012), "1.200e-4");
    }

    #[test]
    fn baseline_time() {
        let now: Timestamp = "2026-11-24T18:30:00Z".parse().unwrap();
        let start: Timestamp = "2026-11-24T18:00:00Z".parse().unwrap();
        assert_eq!(BaselineAt::Fixed(start).at(now), start);
        assert_eq!(BaselineAt::Ago(Duration::from_secs(3600)).at(now), "2026-11-24T17:30:00Z".parse().unwrap());
    }

    #[test]
    fn identifiable_needs_more_than_a_version() {
        let mut a = Artifact { version: "1.3.2".into(), ..Artifact::default() };
        assert!(!a.identifiable());
        a.digest = Some("sha256:ab".into());
        assert!(a.identifiable());
    }
}
