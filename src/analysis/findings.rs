//! Findings: what a release manager must act on, exactly as the contract in
//! `design.md` defines them. Pure: fleet, matrix and `now` in, findings out.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::{Cell, Matrix, Seen};
use crate::model::{CellKey, Fleet, version};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Missing,
    Ahead,
    BuildMismatch,
    Conflict,
    Unhealthy,
    Unreachable,
    Stale,
}

impl FindingKind {
    pub const ALL: [FindingKind; 7] = [
        FindingKind::Missing,
        FindingKind::Ahead,
        FindingKind::BuildMismatch,
        FindingKind::Conflict,
        FindingKind::Unhealthy,
        FindingKind::Unreachable,
        FindingKind::Stale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Missing => "missing",
            FindingKind::Ahead => "ahead",
            FindingKind::BuildMismatch => "build_mismatch",
            FindingKind::Conflict => "conflict",
            FindingKind::Unhealthy => "unhealthy",
            FindingKind::Unreachable => "unreachable",
            FindingKind::Stale => "stale",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::Unreachable | FindingKind::Stale => Severity::Medium,
            _ => Severity::High,
        }
    }

    /// A one-column mark for the matrix, so findings read without colour.
    pub fn glyph(self) -> char {
        match self {
            FindingKind::Missing => '∅',
            FindingKind::Ahead => '↑',
            FindingKind::BuildMismatch => '≠',
            FindingKind::Conflict => '⇄',
            FindingKind::Unhealthy => '✗',
            FindingKind::Unreachable => '⚠',
            FindingKind::Stale => '◷',
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Highest first, so sorting puts what matters most on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    High,
    Medium,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub cell: CellKey,
    pub message: String,
}

/// Evaluate every finding, sorted by severity, then environment (latest
/// first: prod problems on top), then service, then kind.
pub fn evaluate(fleet: &Fleet, matrix: &Matrix, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    let envs = fleet.environments.len();
    let reached = reached_environments(fleet, matrix);
    for service in 0..fleet.services.len() {
        for env in 0..envs {
            let key = CellKey { service, env };
            let cell = matrix.get(key);
            missing(fleet, matrix, key, &reached, &mut out);
            if env > 0 {
                ahead(fleet, matrix, key, &mut out);
            }
            build_mismatch(fleet, matrix, key, &mut out);
            conflict(fleet, cell, key, &mut out);
            unhealthy(fleet, cell, key, &mut out);
            unreachable(fleet, cell, key, now, &mut out);
            stale(fleet, cell, key, now, &mut out);
        }
    }
    sort(&mut out);
    out
}

pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| b.cell.env.cmp(&a.cell.env))
            .then_with(|| a.cell.service.cmp(&b.cell.service))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Environments the release has reached: at least one planned service runs
/// its target there.
pub fn reached_environments(fleet: &Fleet, matrix: &Matrix) -> Vec<bool> {
    let Some(plan) = &fleet.release else {
        return vec![false; fleet.environments.len()];
    };
    (0..fleet.environments.len())
        .map(|env| {
            plan.targets.iter().any(|(service, target)| {
                matrix.get(CellKey { service: *service, env }).version().is_some_and(|v| version::same(v, target))
            })
        })
        .collect()
}

fn names(fleet: &Fleet, key: CellKey) -> (&str, &str) {
    (fleet.services[key.service].name.as_str(), fleet.environments[key.env].name.as_str())
}

fn push(out: &mut Vec<Finding>, kind: FindingKind, cell: CellKey, message: String) {
    out.push(Finding { kind, severity: kind.severity(), cell, message });
}

fn missing(fleet: &Fleet, matrix: &Matrix, key: CellKey, reached: &[bool], out: &mut Vec<Finding>) {
    let Some(target) = fleet.release.as_ref().and_then(|r| r.target(key.service)) else {
        return;
    };
    let (service, env) = names(fleet, key);
    let cell = matrix.get(key);
    // A source that positively reports no deployment counts wherever it is.
    if let Some(obs) = cell.shown()
        && obs.last_ok.as_ref().is_some_and(|s| s.reading.version.is_none())
    {
        push(
            out,
            FindingKind::Missing,
            key,
            format!("{service} is not deployed in {env} ({} reports no deployment; target {target})", obs.source),
        );
        return;
    }
    if !reached[key.env] {
        return;
    }
    let Some(running) = cell.version() else {
        return;
    };
    let at_or_past = matches!(version::compare(running, target), Some(Ordering::Equal | Ordering::Greater));
    if !at_or_past {
        push(out, FindingKind::Missing, key, format!("{service} is not at {target} in {env} (runs {running})"));
    }
}

fn ahead(fleet: &Fleet, matrix: &Matrix, key: CellKey, out: &mut Vec<Finding>) {
    let before = CellKey { service: key.service, env: key.env - 1 };
    let (Some(here), Some(there)) = (matrix.get(key).version(), matrix.get(before).version()) else {
        return;
    };
    if version::compare(here, there) == Some(Ordering::Greater) {
        let (service, env) = names(fleet, key);
        let prev_env = &fleet.environments[before.env].name;
        push(
            out,
            FindingKind::Ahead,
            key,
            format!("{service} runs {here} in {env}, newer than {there} in {prev_env}: it never passed {prev_env}"),
        );
    }
}

/// The first artifact id both readings report that differs: build (what
/// people recognise), then commit, then digest.
fn artifact_differs(a: &Seen, b: &Seen) -> Option<(&'static str, String, String)> {
    let (ra, rb) = (&a.reading, &b.reading);
    if let (Some(x), Some(y)) = (&ra.build, &rb.build)
        && x != y
    {
        return Some(("build", x.clone(), y.clone()));
    }
    if let (Some(x), Some(y)) = (&ra.commit, &rb.commit)
        && !commits_match(x, y)
    {
        return Some(("commit", x.clone(), y.clone()));
    }
    if let (Some(x), Some(y)) = (&ra.digest, &rb.digest)
        && x != y
    {
        return Some(("digest", x.clone(), y.clone()));
    }
    None
}

/// Short and full SHAs of one commit match: one is a prefix of the other.
pub fn commits_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim().to_ascii_lowercase(), b.trim().to_ascii_lowercase());
    !a.is_empty() && !b.is_empty() && (a.starts_with(&b) || b.starts_with(&a))
}

fn build_mismatch(fleet: &Fleet, matrix: &Matrix, key: CellKey, out: &mut Vec<Finding>) {
    let Some(here) = matrix.get(key).reading() else {
        return;
    };
    let Some(v) = here.reading.version.as_deref() else {
        return;
    };
    // Reported once, on the later environment, against the nearest earlier
    // environment running the same version string.
    for earlier in (0..key.env).rev() {
        let other = CellKey { service: key.service, env: earlier };
        let Some(there) = matrix.get(other).reading() else {
            continue;
        };
        if there.reading.version.as_deref() != Some(v) {
            continue;
        }
        if let Some((what, a, b)) = artifact_differs(there, here) {
            let (service, env) = names(fleet, key);
            let prev_env = &fleet.environments[earlier].name;
            push(
                out,
                FindingKind::BuildMismatch,
                key,
                format!("{service} {v} in {env} is not the artifact in {prev_env}: {what} {b} vs {a}"),
            );
        }
        return;
    }
}

fn conflict(fleet: &Fleet, cell: &Cell, key: CellKey, out: &mut Vec<Finding>) {
    // Sources whose latest read succeeded and reported a version.
    let current: Vec<_> = cell
        .observations
        .iter()
        .filter(|o| o.error.is_none())
        .filter_map(|o| o.last_ok.as_ref().and_then(|s| s.reading.version.as_deref().map(|v| (o, s, v))))
        .collect();
    for (i, (a, sa, va)) in current.iter().enumerate() {
        for (b, sb, vb) in &current[i + 1..] {
            let (service, env) = names(fleet, key);
            let version_differs = !version::same(va, vb) && va != vb;
            let commit_differs = match (&sa.reading.commit, &sb.reading.commit) {
                (Some(x), Some(y)) => !commits_match(x, y),
                _ => false,
            };
            if version_differs {
                push(
                    out,
                    FindingKind::Conflict,
                    key,
                    format!(
                        "{service} in {env}: {} ({}) says {va}, {} ({}) says {vb}",
                        a.source, a.evidence, b.source, b.evidence
                    ),
                );
            } else if commit_differs {
                let (x, y) = (sa.reading.commit.as_deref().unwrap_or(""), sb.reading.commit.as_deref().unwrap_or(""));
                push(
                    out,
                    FindingKind::Conflict,
                    key,
                    format!("{service} in {env}: {} says commit {x}, {} says commit {y}", a.source, b.source),
                );
            }
        }
    }
}

fn unhealthy(fleet: &Fleet, cell: &Cell, key: CellKey, out: &mut Vec<Finding>) {
    if let Some(obs) = cell.shown()
        && obs.last_ok.as_ref().and_then(|s| s.reading.health) == Some(crate::model::Health::Down)
    {
        let (service, env) = names(fleet, key);
        push(out, FindingKind::Unhealthy, key, format!("{service} in {env} reports health down ({})", obs.source));
    }
}

fn unreachable(fleet: &Fleet, cell: &Cell, key: CellKey, now: Timestamp, out: &mut Vec<Finding>) {
    if !cell.all_failing() {
        return;
    }
    let (service, env) = names(fleet, key);
    let errors: Vec<String> = cell
        .observations
        .iter()
        .filter_map(|o| o.error.as_ref().map(|f| format!("{}: {}", o.source, f.error)))
        .collect();
    let last = match cell.reading() {
        Some(seen) => format!(
            "; last known {} from {} ago",
            seen.reading.version.as_deref().unwrap_or("no deployment"),
            crate::config::duration::short_age(age(now, seen.fetched_at))
        ),
        None => "; never read".to_string(),
    };
    push(out, FindingKind::Unreachable, key, format!("{service} in {env} unreachable ({}){last}", errors.join("; ")));
}

fn stale(fleet: &Fleet, cell: &Cell, key: CellKey, now: Timestamp, out: &mut Vec<Finding>) {
    let Some(limit) = fleet.environments[key.env].stale_after else {
        return;
    };
    let Some(obs) = cell.shown() else {
        return;
    };
    let Some(seen) = &obs.last_ok else {
        return;
    };
    let Some(v) = seen.reading.version.as_deref() else {
        return;
    };
    let (since, how) = match seen.reading.deployed_at {
        Some(at) => (at, "deployed"),
        None => {
            // Fall back to when flightdeck first saw this version (the
            // history holds the journal's entries from earlier runs).
            match obs.history.iter().rev().find(|h| h.version == v) {
                Some(h) => (h.first_seen, "first seen"),
                None => return,
            }
        }
    };
    let elapsed = age(now, since);
    if elapsed > limit {
        let (service, env) = names(fleet, key);
        push(
            out,
            FindingKind::Stale,
            key,
            format!(
                "{service} {v} in {env} {how} {} ago (stale after {})",
                crate::config::duration::short_age(elapsed),
                crate::config::duration::short_age(limit)
            ),
        );
    }
}

fn age(now: Timestamp, then: Timestamp) -> std::time::Duration {
    std::time::Duration::from_secs(now.as_second().saturating_sub(then.as_second()).max(0) as u64)
}

/// The worst finding per cell, for marking the matrix.
pub fn worst_per_cell(findings: &[Finding]) -> std::collections::HashMap<CellKey, &Finding> {
    let mut map: std::collections::HashMap<CellKey, &Finding> = std::collections::HashMap::new();
    for f in findings {
        map.entry(f.cell)
            .and_modify(|cur| {
                if (f.severity, f.kind) < (cur.severity, cur.kind) {
                    *cur = f;
                }
            })
            .or_insert(f);
    }
    map
}

/// The environment index and service index a finding is about, by name.
pub fn names_of(fleet: &Fleet, f: &Finding) -> (String, String) {
    let (s, e) = names(fleet, f.cell);
    (s.to_string(), e.to_string())
}
