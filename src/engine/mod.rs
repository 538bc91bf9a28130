//! The engine: every front end's one judgement.
//!
//! It owns what is known (the fleet, the matrix of observations, the
//! sources, the release events, the recent changes) and every stateful
//! latch (a trigger that was firing, the bell, the first sweep). It is fed
//! by value — [`Engine::apply`] for a source's update,
//! [`Engine::take_release_events`] for ticks, sign-offs and decisions,
//! [`Engine::restore`] for the observation journal — and asked for an
//! [`Evaluation`] at a time and a [`Scope`]. The cockpit draws from the
//! evaluation; `check` and `report` print it. No judgement lives anywhere
//! else.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;

use crate::analysis::findings::{self, Finding, FindingKind};
use crate::analysis::rollback::{self, Level, Rehearsal, RollbackView};
use crate::analysis::verdict::{self, Blocker, BlockerReason, Judgement, Verdict};
use crate::analysis::{self, Matrix};
use crate::checklist::{ChecklistState, Template};
use crate::journal::ObservationEvent;
use crate::journal::release::ReleaseEvent;
use crate::model::{CellKey, EnvIdx, Evidence, Fleet};
use crate::poller::SourceUpdate;

/// Most observation events kept in memory for the events pane.
pub(crate) const EVENTS_KEPT: usize = 500;

/// What a configured source looks like to the front ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub name: Arc<str>,
    pub kind: String,
    pub evidence: Evidence,
    pub every: std::time::Duration,
    pub cells: usize,
    /// The rate-limit budget it spends, when the cockpit can judge it.
    pub budget: Option<crate::sources::budget::Probe>,
}

/// The environments an evaluation covers (`check --env`), in promotion
/// order. Findings still compare a scoped environment with the ones before
/// it; only what is reported and what blocks is limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    envs: Vec<EnvIdx>,
    limited: bool,
}

impl Scope {
    /// `selected` empty: every environment.
    pub fn new(fleet: &Fleet, selected: Vec<EnvIdx>) -> Scope {
        if selected.is_empty() { Scope::all(fleet) } else { Scope { envs: selected, limited: true } }
    }

    /// Every environment of the fleet.
    pub fn all(fleet: &Fleet) -> Scope {
        Scope { envs: (0..fleet.environments.len()).collect(), limited: false }
    }

    pub(crate) fn is_limited(&self) -> bool {
        self.limited
    }

    pub fn includes(&self, env: EnvIdx) -> bool {
        self.envs.contains(&env)
    }
}

/// The judgement of the engine's state at one time, for one scope: what
/// every front end renders.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// When it was evaluated.
    pub now: Timestamp,
    pub scope: Scope,
    /// Every finding in scope, worst first.
    pub findings: Vec<Finding>,
    /// The worst finding per cell, dense like the matrix.
    marks: Vec<Option<FindingKind>>,
    envs: usize,
    /// The verdict and its blockers.
    pub judgement: Judgement,
    /// The release checklist, when the release has one.
    pub checklist: Option<ChecklistState>,
    /// Rollback readiness and live triggers (environments in scope).
    pub rollback: RollbackView,
    /// Planned services at target per environment.
    pub progress: Vec<analysis::EnvProgress>,
    /// Per cell (dense), the commits it gains from the environment before
    /// it, once the compare answered (`[changes]`).
    incoming: Vec<Option<usize>>,
    /// Sources whose last attempt failed, with how many cells each failed
    /// on, by name (`analysis::failing_sources`): counted once per
    /// evaluation, not over the fleet at every frame. As of the evaluation:
    /// in the cockpit at most `ANALYSIS_EVERY` (0.5 s) behind the matrix.
    pub failing: Vec<(Arc<str>, usize)>,
}

impl Evaluation {
    /// The worst finding on a cell, if any.
    pub fn mark(&self, key: CellKey) -> Option<FindingKind> {
        self.marks.get(key.service * self.envs + key.env).copied().flatten()
    }

    /// How many commits a cell gains from the environment before it ("+14").
    pub fn incoming(&self, key: CellKey) -> Option<usize> {
        self.incoming.get(key.service * self.envs + key.env).copied().flatten()
    }
}

/// The shared state every front end's judgement comes from.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The kept judgement compares it at every evaluation: a fleet changed
    /// in place is judged again whole ([`Engine::refleet`] also resizes
    /// the matrix).
    pub fleet: Fleet,
    pub sources: Vec<SourceInfo>,
    /// Changed only through the engine ([`Engine::apply`],
    /// [`Engine::cell_mut`]), which marks what to judge again.
    matrix: Matrix,
    /// Recent changes, newest last (at most [`EVENTS_KEPT`]).
    pub events: VecDeque<ObservationEvent>,
    /// The release's checklist template, when it has one.
    pub template: Option<Template>,
    /// Ticks, notes, sign-offs and decisions, from the release journal.
    pub release_events: Vec<ReleaseEvent>,
    /// Triggers firing at the last evaluation: a trigger that loses its data
    /// keeps firing, and a new one rings the bell once.
    firing: HashSet<(CellKey, Arc<str>)>,
    /// Set when a trigger started firing; taken by [`Engine::take_bell`].
    bell: bool,
    /// What ships: `[changes]`, the compares asked and answered.
    pub(crate) shipping: shipping::Shipping,
    /// The judgement kept per service between evaluations.
    judged: judged::Judged,
    /// Version and build strings of every cell's history, each kept once.
    names: analysis::Names,
}

impl Engine {
    pub fn new(fleet: Fleet, sources: Vec<SourceInfo>, template: Option<Template>) -> Engine {
        let matrix = Matrix::new(&fleet);
        Engine {
            fleet,
            sources,
            matrix,
            events: VecDeque::new(),
            template,
            release_events: Vec::new(),
            firing: HashSet::new(),
            bell: false,
            shipping: shipping::Shipping::default(),
            judged: judged::Judged::default(),
            names: analysis::Names::default(),
        }
    }

    /// The engine for a config and its activated sources.
    pub fn for_config(
        config: &crate::config::Config,
        active: &[crate::sources::ActiveSource],
        template: Option<Template>,
    ) -> Engine {
        let sources = active
            .iter()
            .zip(&config.sources)
            .map(|(a, spec)| SourceInfo {
                name: a.name.clone(),
                kind: spec.kind.clone(),
                evidence: a.evidence,
                every: a.every,
                cells: a.cells.len(),
                budget: a.source.budget(),
            })
            .collect();
        let mut engine = Engine::new(config.fleet.clone(), sources, template);
        engine.shipping.config = config.changes.clone();
        engine
    }

    /// What every cell is known to run.
    pub fn matrix(&self) -> &Matrix {
        &self.matrix
    }

    /// A cell to change by hand (tests, fixtures); its service is judged
    /// again at the next evaluation.
    pub fn cell_mut(&mut self, key: CellKey) -> Option<&mut crate::analysis::Cell> {
        self.judged.touch(key.service);
        self.matrix.get_mut(key)
    }

    /// Swap the fleet (a fixture's other release plan): everything is
    /// judged again. The cells stay when the shape is the same.
    pub fn refleet(&mut self, fleet: Fleet) {
        if (fleet.services.len(), fleet.environments.len())
            != (self.fleet.services.len(), self.fleet.environments.len())
        {
            self.matrix = Matrix::new(&fleet);
        }
        // The kept judgement sees the other fleet at the next evaluation.
        self.fleet = fleet;
    }

    /// Judge every service again at the next evaluation, as a fresh engine
    /// would (what `cargo bench --bench render` measures as the full
    /// judgement).
    pub fn forget_judgement(&mut self) {
        self.judged.forget();
    }

    /// Cells the sources read, in all.
    pub(crate) fn polled_cells(&self) -> usize {
        self.sources.iter().map(|s| s.cells).sum()
    }

    /// Apply one source update; returns the journal event when the source
    /// reports a new version or build for the cell.
    pub fn apply(&mut self, update: SourceUpdate) -> Option<ObservationEvent> {
        self.matrix.get_mut(update.cell)?;
        let shows = |e: &Engine| e.shipping.config.as_ref().map(|_| shipping::shown_ref(&e.matrix, update.cell));
        let before = shows(self);
        let cell = self.matrix.get_mut(update.cell)?;
        let (change, judged) = cell.record_judged(
            &update.source,
            update.evidence,
            update.role,
            update.attempted_at,
            update.result,
            &mut self.names,
        );
        // A source saying again what it said costs no judgement.
        if judged {
            self.judged.touch(update.cell.service);
        }
        // What ships depends on the version and commit a cell shows: a new
        // one is new questions for the compare API.
        if before.is_some() && shows(self) != before {
            self.shipping.moved = true;
        }
        let change = change?;
        let event = ObservationEvent {
            at: change.new.first_seen(),
            service: self.fleet.services[update.cell.service].name.to_string(),
            environment: self.fleet.environments[update.cell.env].name.to_string(),
            source: change.source.to_string(),
            old_build: change.old.as_ref().and_then(|o| o.build().map(str::to_string)),
            old: change.old.map(|o| o.version().to_string()),
            new: change.new.version().to_string(),
            build: change.new.build().map(str::to_string),
        };
        self.push_event(event.clone());
        Some(event)
    }

    /// Take in release events read from the journal (ours and others').
    /// Events already known (by id) are skipped; each goes where its time
    /// puts it, so a row that committed late (team mode) is folded in the
    /// same order on every seat as in a fresh load.
    pub fn take_release_events(&mut self, events: Vec<ReleaseEvent>) {
        for e in events {
            if self.release_events.iter().rev().any(|known| known.id == e.id) {
                continue;
            }
            let at = self.release_events.iter().rposition(|k| k.at <= e.at).map_or(0, |p| p + 1);
            self.release_events.insert(at, e);
        }
    }

    /// Restore what earlier runs saw, from the observation journal: cell
    /// histories (for "previous version" and "first seen") and the events.
    /// Events are taken one at a time (the journal is read as it is folded);
    /// only the latest [`EVENTS_KEPT`] stay.
    pub(crate) fn restore(&mut self, events: impl IntoIterator<Item = ObservationEvent>) {
        // A long journal names each service many times (16 per cell):
        // looked up in a map, not by a scan of the fleet.
        let mut services = HashMap::with_capacity(self.fleet.services.len());
        for (idx, s) in self.fleet.services.iter().enumerate() {
            services.entry(s.name.as_ref()).or_insert(idx);
        }
        for e in events {
            let (Some(&service), Some(env)) = (services.get(e.service.as_str()), self.fleet.env_idx(&e.environment))
            else {
                continue;
            };
            // Only sources still configured: others would never be polled.
            let Some(source) = self.sources.iter().find(|s| *s.name == *e.source) else {
                continue;
            };
            let (name, evidence) = (source.name.clone(), source.evidence);
            self.judged.touch(service);
            if let Some(cell) = self.matrix.get_mut(CellKey { service, env }) {
                cell.remember(&name, evidence, self.names.run(&e.new, e.build.as_deref(), e.at));
            }
            Engine::keep_latest(&mut self.events, e);
        }
    }

    fn push_event(&mut self, e: ObservationEvent) {
        Engine::keep_latest(&mut self.events, e);
    }

    /// Append a change to the recent ones, dropping the oldest beyond
    /// [`EVENTS_KEPT`]. (No `&mut self`: `restore` holds the fleet's names.)
    fn keep_latest(events: &mut VecDeque<ObservationEvent>, e: ObservationEvent) {
        if events.len() >= EVENTS_KEPT {
            events.pop_front();
        }
        events.push_back(e);
    }

    /// Whether a trigger started firing since the bell was last taken.
    pub(crate) fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }

    /// An evaluation before any analysis: nothing found, nothing decided.
    pub(crate) fn unevaluated(&self, now: Timestamp) -> Evaluation {
        Evaluation {
            now,
            scope: Scope::all(&self.fleet),
            findings: Vec::new(),
            marks: vec![None; self.fleet.cell_count()],
            envs: self.fleet.environments.len(),
            judgement: verdict::judge(&self.fleet, &self.matrix, &[], now, Vec::new(), None),
            checklist: None,
            rollback: RollbackView::default(),
            progress: analysis::progress(&self.fleet, &self.matrix),
            incoming: vec![None; self.fleet.cell_count()],
            failing: analysis::failing_sources(&self.matrix),
        }
    }

    /// Judge everything known at `now`, for `scope`. Updates the latches:
    /// a trigger that fired and now has no data (the service died and its
    /// series went stale) stays firing until a value says otherwise, and a
    /// trigger that starts firing sets the bell.
    pub fn evaluate(&mut self, now: Timestamp, scope: &Scope) -> Evaluation {
        // Only what changed is judged again (`judged`); the rest is kept.
        let rehearsal = self.rehearsal();
        let judged::Whole { findings: mut found, mut rollback, progress } =
            self.judged.judge(&self.fleet, &self.matrix, now, rehearsal);
        found.extend(self.not_merged_back());
        findings::sort(&mut found);
        let mut latched = false;
        for t in &mut rollback.triggers {
            if t.state == Level::NoData && self.firing.contains(&(t.cell, t.name.clone())) {
                let t = std::sync::Arc::make_mut(t);
                t.state = Level::Firing;
                t.note = format!("was firing, no data now ({})", t.note).into();
                latched = true;
            }
        }
        if latched {
            rollback.settle();
        }
        let firing: HashSet<(CellKey, Arc<str>)> = rollback.firing().map(|t| (t.cell, t.name.clone())).collect();
        if firing.iter().any(|f| !self.firing.contains(f)) {
            self.bell = true;
        }
        self.firing = firing;
        // The checklist's conditions read the whole fleet; the scope limits
        // what is reported and what blocks.
        let checklist = self.template.as_ref().map(|t| {
            let facts = crate::checklist::Facts {
                fleet: &self.fleet,
                matrix: &self.matrix,
                findings: &found,
                now,
                rollback: Some(&rollback),
            };
            crate::checklist::evaluate(t, &self.release_events, &facts)
        });
        if scope.is_limited() {
            found.retain(|f| scope.includes(f.cell.env));
            rollback.retain_envs(|e| scope.includes(e));
        }
        let held = match (&self.template, &checklist) {
            (Some(template), Some(state)) => crate::checklist::blockers(&self.fleet, template, state),
            _ => Vec::new(),
        };
        let mut judgement = verdict::judge(&self.fleet, &self.matrix, &found, now, held, Some(&rollback));
        // Until every cell has been read once, nobody can say GO.
        let polled = self.polled_cells();
        if polled > 0 && analysis::last_sweep(&self.matrix, polled).is_none() {
            judgement.blockers.push(Blocker {
                reason: BlockerReason::Unread,
                message: "first sweep not complete: not every cell has been read yet".into(),
            });
            if judgement.verdict == Verdict::Go {
                judgement.verdict = Verdict::Hold;
            }
        }
        let mut marks = vec![None; self.fleet.cell_count()];
        for (key, f) in findings::worst_per_cell(&found) {
            if let Some(mark) = marks.get_mut(self.fleet.cell_index(key)) {
                *mark = Some(f.kind);
            }
        }
        Evaluation {
            now,
            scope: scope.clone(),
            findings: found,
            marks,
            envs: self.fleet.environments.len(),
            judgement,
            checklist,
            rollback,
            progress,
            incoming: self.incoming_counts(),
            failing: analysis::failing_sources(&self.matrix),
        }
    }

    /// Whether the checklist asks for a rehearsed rollback, and whether a
    /// person ticked it.
    fn rehearsal(&self) -> Rehearsal {
        match &self.template {
            Some(t) if t.item(rollback::REHEARSED_ITEM).is_some() => {
                if crate::checklist::Manual::fold(&self.release_events).tick(rollback::REHEARSED_ITEM).is_some() {
                    Rehearsal::Done
                } else {
                    Rehearsal::NotDone
                }
            }
            _ => Rehearsal::NotAsked,
        }
    }

    /// Whether a time the verdict or the checklist turns on (the window's
    /// start or end, a blackout's edge, a due time in `evaluation`) lies in
    /// `(from, to]`: then the clock alone changes the judgement.
    pub(crate) fn boundary_between(&self, evaluation: &Evaluation, from: Timestamp, to: Timestamp) -> bool {
        let crosses = |t: Timestamp| from < t && t <= to;
        let plan = self.fleet.release.as_ref();
        plan.and_then(|p| p.window).is_some_and(|w| crosses(w.start) || crosses(w.end))
            || plan.is_some_and(|p| p.blackouts.iter().any(|b| crosses(b.start) || crosses(b.end)))
            || evaluation.checklist.as_ref().is_some_and(|c| {
                c.items.iter().filter_map(|i| i.due).chain(c.signoffs.iter().filter_map(|s| s.due)).any(crosses)
            })
    }
}

mod judged;
pub mod shipping;
#[cfg(test)]
mod tests;
