//! The judgement kept per service between evaluations.
//!
//! What a service's findings and rollback row say depends on its own cells,
//! on which environments the release has reached, on whether the rollback
//! was rehearsed, and on the clock. The engine marks a service when one of
//! its cells changes; an evaluation judges again only the marked services,
//! those whose time ran out (a cell about to go stale, an age in a message),
//! or every service when what they all read (the environments reached, the
//! rehearsal) changed. What it returns is what the full judgement returns:
//! `tests::incremental_is_the_full_judgement` holds it to that.

use std::sync::Arc;

use jiff::Timestamp;

use crate::analysis::findings::{self, Finding, Until};
use crate::analysis::rollback::{self, Rehearsal, RollbackView, ServiceRollback, TriggerState};
use crate::analysis::{EnvProgress, Matrix};
use crate::model::{CellKey, Fleet, ServiceIdx};

/// What one service was judged to be, and until when that holds.
#[derive(Debug, Clone)]
struct Part {
    findings: Vec<Finding>,
    /// Its rollback row and triggers, when rollback is about it.
    rollback: Option<(Arc<ServiceRollback>, Vec<Arc<TriggerState>>)>,
    /// When it was judged; with `until`, when it holds: from then until
    /// `until` (an age it says reads the same), or always (`None`).
    at: Timestamp,
    until: Until,
}

impl Part {
    fn holds_at(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| self.at <= now && now < until)
    }
}

/// The per-service judgements and what they were made with.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judged {
    /// Per service, per environment: it runs its target there (planned
    /// services only; empty otherwise). `None`: to be read again.
    at_target: Vec<Option<Vec<bool>>>,
    parts: Vec<Option<Part>>,
    /// Environments reached, and the rehearsal, the parts were judged with.
    reached: Vec<bool>,
    rehearsal: Option<Rehearsal>,
    /// The fleet the parts were judged for: a fleet changed in place (its
    /// plan, its limits, its methods) judges everything again.
    fleet: Option<Fleet>,
}

/// What the judgement of every service adds up to.
pub(crate) struct Whole {
    /// Unsorted.
    pub findings: Vec<Finding>,
    pub rollback: RollbackView,
    pub progress: Vec<EnvProgress>,
}

impl Judged {
    /// A cell of `service` changed.
    pub(crate) fn touch(&mut self, service: ServiceIdx) {
        if let Some(slot) = self.at_target.get_mut(service) {
            *slot = None;
        }
        if let Some(slot) = self.parts.get_mut(service) {
            *slot = None;
        }
    }

    /// Everything is judged again (the fleet itself changed).
    pub(crate) fn forget(&mut self) {
        *self = Judged::default();
    }

    /// Judge what needs it and add up every service.
    pub(crate) fn judge(&mut self, fleet: &Fleet, matrix: &Matrix, now: Timestamp, rehearsal: Rehearsal) -> Whole {
        let shape = (fleet.services.len(), fleet.environments.len());
        if self.fleet.as_ref() != Some(fleet) || self.parts.len() != shape.0 {
            *self = Judged {
                at_target: vec![None; shape.0],
                parts: vec![None; shape.0],
                reached: Vec::new(),
                rehearsal: None,
                fleet: Some(fleet.clone()),
            };
        }
        for (service, slot) in self.at_target.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = Some(at_target(fleet, matrix, service));
            }
        }
        let progress = self.progress(fleet);
        let planned = fleet.release.as_ref().is_some_and(|p| !p.targets.is_empty());
        let reached: Vec<bool> =
            if planned { progress.iter().map(|p| p.at_target > 0).collect() } else { vec![true; shape.1] };
        if reached != self.reached || self.rehearsal != Some(rehearsal) {
            self.parts.iter_mut().for_each(|p| *p = None);
            self.reached = reached;
            self.rehearsal = Some(rehearsal);
        }
        let envs = rollback::envs_reached(fleet, &self.reached);
        let in_scope = rollback::services_in_scope(fleet);
        let mut about = vec![false; shape.0];
        for &s in &in_scope {
            if let Some(a) = about.get_mut(s) {
                *a = true;
            }
        }
        for (service, slot) in self.parts.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|p| p.holds_at(now)) {
                continue;
            }
            let mut found = Vec::new();
            let mut until = findings::of_service(fleet, matrix, service, &self.reached, now, &mut found);
            let rollback = about[service].then(|| {
                let (row, triggers, u) =
                    rollback::of_service(fleet, matrix, service, &envs, &self.reached, now, rehearsal);
                until = findings::earlier(until, u);
                (row, triggers)
            });
            *slot = Some(Part { findings: found, rollback, at: now, until });
        }
        let findings = self.parts.iter().flatten().flat_map(|p| p.findings.iter().cloned()).collect();
        let mut rows = Vec::with_capacity(in_scope.len());
        let mut triggers = Vec::new();
        for s in in_scope {
            if let Some(Some(Part { rollback: Some((row, own)), .. })) = self.parts.get(s) {
                rows.push(row.clone());
                triggers.extend(own.iter().cloned());
            }
        }
        let rollback = rollback::assemble(fleet, rows, triggers, envs, self.reached.clone());
        Whole { findings, rollback, progress }
    }

    /// Planned services at their target, per environment, from what is kept.
    fn progress(&self, fleet: &Fleet) -> Vec<EnvProgress> {
        crate::analysis::progress_by(fleet, |service, env, _| {
            self.at_target.get(service).and_then(Option::as_ref).and_then(|a| a.get(env)) == Some(&true)
        })
    }
}

/// Per environment, whether `service` runs its target there (empty when
/// the release does not plan it).
fn at_target(fleet: &Fleet, matrix: &Matrix, service: ServiceIdx) -> Vec<bool> {
    let Some(target) = fleet.release.as_ref().and_then(|p| p.target(service)) else {
        return Vec::new();
    };
    (0..fleet.environments.len())
        .map(|env| crate::analysis::runs_target(matrix, CellKey { service, env }, target))
        .collect()
}
