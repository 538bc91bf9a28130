//! The app state and its reducers. Reducers are synchronous and return the
//! effects for the loop to carry out; they never do I/O themselves.

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use jiff::Timestamp;

use super::checklist::{ChecklistRow, Prompt};
use super::keymap::{self, Action};
use crate::analysis::findings::{self, Finding, FindingKind};
use crate::analysis::verdict::{self, Judgement};
use crate::analysis::{self, Matrix, VersionSeen};
use crate::journal::ObservationEvent;
use crate::model::{CellKey, Evidence, Fleet, ServiceIdx};
use crate::poller::SourceUpdate;

/// Most observation events kept in memory for the events pane.
pub const EVENTS_KEPT: usize = 500;

/// What a configured source looks like to the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub name: Arc<str>,
    pub kind: String,
    pub evidence: Evidence,
    pub every: std::time::Duration,
    pub cells: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Matrix,
    Findings,
    Events,
    /// The release checklist (release progress when there is none).
    Checklist,
    Rollback,
}

impl Pane {
    const ORDER: [Pane; 5] = [Pane::Matrix, Pane::Findings, Pane::Events, Pane::Checklist, Pane::Rollback];

    fn step(self, by: isize) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        let n = Pane::ORDER.len() as isize;
        Pane::ORDER[((i + by).rem_euclid(n)) as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    Help,
    Detail(CellKey),
    /// A checklist item's or sign-off's detail, with its notes.
    ChecklistDetail(ChecklistRow),
    /// Typing a note, picking a role or a decision, confirming: it owns
    /// the keyboard until recorded or cancelled.
    Prompt(Prompt),
}

/// Everything about the screen that is not data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UiState {
    pub focus: Pane,
    /// Row in the filtered service list.
    pub row: usize,
    pub env: usize,
    /// First visible matrix row; kept so the selection stays in view.
    pub offset: usize,
    /// Matrix rows that fit on screen (set from the terminal size).
    pub page: usize,
    /// Service filter of the matrix (and rollback pane).
    pub filter: String,
    /// Filter of the findings and events panes: every word must match a
    /// kind, severity, environment, service or source.
    pub finding_filter: String,
    pub editing_filter: bool,
    pub popup: Option<Popup>,
    /// Scroll positions of the other panes.
    pub findings_scroll: usize,
    pub events_scroll: usize,
    /// Selected row of the checklist pane (an item or a sign-off, see
    /// [`AppState::checklist_rows`]); without a checklist, the first
    /// environment shown in the release progress.
    pub checklist_row: usize,
    pub rollback_scroll: usize,
    pub color: bool,
    /// A one-line answer to the last key (what was recorded, why nothing
    /// was), shown in the footer until the next key.
    pub message: Option<String>,
}

/// Work the loop does on behalf of a reducer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    Redraw,
    Refresh,
    Quit,
    /// Append this to the release journal (durably), then show it.
    Record(crate::journal::release::ReleaseAction),
}

/// The one state the app loop owns.
#[derive(Debug, Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub sources: Vec<SourceInfo>,
    pub matrix: Matrix,
    /// The clock the screen is drawn at; set by the loop, fixed in tests.
    pub now: Timestamp,
    pub started_at: Timestamp,
    /// "demo" when running the built-in demo fleet, with a note why.
    pub banner: Option<String>,
    /// Services shown, after the filter.
    pub visible: Vec<ServiceIdx>,
    /// Analysis of the current matrix at `now`; recomputed by [`AppState::reanalyze`].
    pub findings: Vec<Finding>,
    /// The worst finding per cell, dense like the matrix.
    pub marks: Vec<Option<FindingKind>>,
    pub judgement: Judgement,
    /// Recent changes, newest last.
    pub events: std::collections::VecDeque<ObservationEvent>,
    /// Set when the journal could not be written.
    pub journal_error: Option<String>,
    /// Set when the release journal could not be written or read; stays
    /// until the next successful append, so a failed sign-off is seen.
    pub release_journal_error: Option<String>,
    /// The release's checklist template, when it has one.
    pub template: Option<crate::checklist::Template>,
    /// Ticks, notes, sign-offs and decisions, from the release journal.
    pub release_events: Vec<crate::journal::release::ReleaseEvent>,
    /// The checklist evaluated at `now`; recomputed by [`AppState::reanalyze`].
    pub checklist: Option<crate::checklist::ChecklistState>,
    /// Rollback readiness and live triggers; recomputed by [`AppState::reanalyze`].
    pub rollback: crate::analysis::rollback::RollbackView,
    /// Planned services at target per environment; recomputed by [`AppState::reanalyze`].
    pub progress: Vec<analysis::EnvProgress>,
    /// Triggers firing at the last analysis: a new one rings the bell once.
    firing: std::collections::HashSet<(CellKey, String)>,
    /// Set when a trigger started firing; the loop rings the bell and clears it.
    pub bell: bool,
    /// Who ticks, signs and decides in this cockpit.
    pub operator: String,
    pub ui: UiState,
}

impl AppState {
    pub fn new(fleet: Fleet, sources: Vec<SourceInfo>, now: Timestamp) -> AppState {
        let matrix = Matrix::new(&fleet);
        let progress = analysis::progress(&fleet, &matrix);
        let visible = analysis::filter_services(&fleet, "");
        let judgement = verdict::judge(&fleet, &Matrix::new(&fleet), &[], now, None, None);
        let marks = vec![None; fleet.cell_count()];
        AppState {
            fleet,
            sources,
            matrix,
            now,
            started_at: now,
            banner: None,
            visible,
            findings: Vec::new(),
            marks,
            judgement,
            events: std::collections::VecDeque::new(),
            journal_error: None,
            release_journal_error: None,
            template: None,
            release_events: Vec::new(),
            checklist: None,
            rollback: crate::analysis::rollback::RollbackView::default(),
            progress,
            firing: std::collections::HashSet::new(),
            bell: false,
            operator: "operator".to_string(),
            ui: UiState { page: 10, color: true, ..UiState::default() },
        }
    }

    /// Recompute findings and the verdict for the matrix at `now`.
    pub fn reanalyze(&mut self) {
        self.findings = findings::evaluate(&self.fleet, &self.matrix, self.now);
        self.marks = vec![None; self.fleet.cell_count()];
        for (key, f) in findings::worst_per_cell(&self.findings) {
            let idx = self.fleet.cell_index(key);
            if let Some(mark) = self.marks.get_mut(idx) {
                *mark = Some(f.kind);
            }
        }
        self.progress = analysis::progress(&self.fleet, &self.matrix);
        self.rollback = crate::analysis::rollback::evaluate(&self.fleet, &self.matrix, self.now, self.rehearsal());
        // A trigger that fired and now has no data (the service died and
        // its series went stale) stays firing until a value says otherwise.
        for t in &mut self.rollback.triggers {
            if t.state == crate::analysis::rollback::Level::NoData && self.firing.contains(&(t.cell, t.name.clone())) {
                t.state = crate::analysis::rollback::Level::Firing;
                t.note = format!("was firing, no data now ({})", t.note);
            }
        }
        let firing: std::collections::HashSet<(CellKey, String)> =
            self.rollback.firing().map(|t| (t.cell, t.name.clone())).collect();
        if firing.iter().any(|f| !self.firing.contains(f)) {
            self.bell = true;
        }
        self.firing = firing;
        self.checklist = self.template.as_ref().map(|t| {
            let facts = crate::checklist::Facts {
                fleet: &self.fleet,
                matrix: &self.matrix,
                findings: &self.findings,
                now: self.now,
                rollback: Some(&self.rollback),
            };
            crate::checklist::evaluate(t, &self.release_events, &facts)
        });
        let view = self
            .template
            .as_ref()
            .zip(self.checklist.as_ref())
            .map(|(template, state)| verdict::ChecklistView { template, state });
        self.judgement =
            verdict::judge(&self.fleet, &self.matrix, &self.findings, self.now, view, Some(&self.rollback));
        // Until every cell has been read once, nobody can say GO.
        let polled = self.polled_cells();
        if polled > 0 && analysis::last_sweep(&self.matrix, polled).is_none() {
            self.judgement.blockers.push(verdict::Blocker {
                reason: verdict::BlockerReason::Unread,
                message: "first sweep not complete: not every cell has been read yet".into(),
            });
            if self.judgement.verdict == verdict::Verdict::Go {
                self.judgement.verdict = verdict::Verdict::Hold;
            }
        }
        // Lists may have shrunk under the selection.
        self.ui.findings_scroll = self.ui.findings_scroll.min(self.visible_findings().len().saturating_sub(1));
        self.ui.events_scroll = self.ui.events_scroll.min(self.visible_events().len().saturating_sub(1));
    }

    /// Whether the checklist asks for a rehearsed rollback, and whether a
    /// person ticked it.
    fn rehearsal(&self) -> crate::analysis::rollback::Rehearsal {
        use crate::analysis::rollback::{REHEARSED_ITEM, Rehearsal};
        match &self.template {
            Some(t) if t.item(REHEARSED_ITEM).is_some() => {
                if crate::checklist::Manual::fold(&self.release_events).tick(REHEARSED_ITEM).is_some() {
                    Rehearsal::Done
                } else {
                    Rehearsal::NotDone
                }
            }
            _ => Rehearsal::NotAsked,
        }
    }

    /// Whether a time the verdict or the checklist turns on (the window's
    /// start or end, a blackout's edge, a due time) lies in `(from, to]`:
    /// then the clock alone changes the analysis.
    pub fn boundary_between(&self, from: Timestamp, to: Timestamp) -> bool {
        let crosses = |t: Timestamp| from < t && t <= to;
        let plan = self.fleet.release.as_ref();
        plan.and_then(|p| p.window).is_some_and(|w| crosses(w.start) || crosses(w.end))
            || plan.is_some_and(|p| p.blackouts.iter().any(|b| crosses(b.start) || crosses(b.end)))
            || self.checklist.as_ref().is_some_and(|c| {
                c.items.iter().filter_map(|i| i.due).chain(c.signoffs.iter().filter_map(|s| s.due)).any(crosses)
            })
    }

    /// Take in release events read from the journal (ours and others').
    /// Events already known (by id) are skipped.
    pub fn take_release_events(&mut self, events: Vec<crate::journal::release::ReleaseEvent>) {
        for e in events {
            if !self.release_events.iter().rev().any(|known| known.id == e.id) {
                self.release_events.push(e);
            }
        }
    }

    /// The worst finding on a cell, if any.
    pub fn mark(&self, key: CellKey) -> Option<FindingKind> {
        self.marks.get(self.fleet.cell_index(key)).copied().flatten()
    }

    /// Restore what earlier runs saw, from the observation journal: cell
    /// histories (for "previous version" and "first seen") and the events pane.
    pub fn restore(&mut self, events: Vec<ObservationEvent>) {
        for e in events {
            let (Some(service), Some(env)) = (self.fleet.service_idx(&e.service), self.fleet.env_idx(&e.environment))
            else {
                continue;
            };
            // Only sources still configured: others would never be polled.
            let Some(source) = self.sources.iter().find(|s| *s.name == *e.source) else {
                continue;
            };
            let (name, evidence) = (source.name.clone(), source.evidence);
            if let Some(cell) = self.matrix.get_mut(CellKey { service, env }) {
                cell.remember(&name, evidence, VersionSeen::new(e.new.clone(), e.build.clone(), e.at));
            }
            self.push_event(e);
        }
    }

    fn push_event(&mut self, e: ObservationEvent) {
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// Cells the sources read, in all.
    pub fn polled_cells(&self) -> usize {
        self.sources.iter().map(|s| s.cells).sum()
    }

    pub fn selected(&self) -> Option<CellKey> {
        let service = *self.visible.get(self.ui.row)?;
        (self.ui.env < self.fleet.environments.len()).then_some(CellKey { service, env: self.ui.env })
    }

    /// Apply one source update; returns the journal event when the source
    /// reports a new version or build for the cell.
    pub fn apply(&mut self, update: SourceUpdate) -> Option<ObservationEvent> {
        let cell = self.matrix.get_mut(update.cell)?;
        let change =
            cell.record_as(&update.source, update.evidence, update.role, update.attempted_at, update.result)?;
        let event = ObservationEvent {
            at: change.new.first_seen,
            service: self.fleet.services[update.cell.service].name.clone(),
            environment: self.fleet.environments[update.cell.env].name.clone(),
            source: change.source.to_string(),
            old_build: change.old.as_ref().and_then(|o| o.build.clone()),
            old: change.old.map(|o| o.version),
            new: change.new.version,
            build: change.new.build,
        };
        self.push_event(event.clone());
        Some(event)
    }

    /// Translate a terminal event into state changes and an effect.
    pub fn handle_event(&mut self, event: &Event) -> Effect {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(key),
            Event::Mouse(mouse) => self.handle_mouse(mouse),
            Event::Resize(_, _) => Effect::Redraw,
            _ => Effect::None,
        }
    }

    fn handle_key(&mut self, key: &KeyEvent) -> Effect {
        let had_message = self.ui.message.take().is_some();
        if matches!(self.ui.popup, Some(Popup::Prompt(_))) {
            return self.prompt_key(key);
        }
        if self.ui.editing_filter {
            return self.edit_filter(key);
        }
        match keymap::action_for(key) {
            Some(action) => self.act(action),
            None if had_message => Effect::Redraw,
            None => Effect::None,
        }
    }

    /// The filter the focused pane uses.
    pub fn focused_filter(&self) -> &str {
        match self.ui.focus {
            Pane::Findings | Pane::Events => &self.ui.finding_filter,
            _ => &self.ui.filter,
        }
    }

    fn focused_filter_mut(&mut self) -> &mut String {
        match self.ui.focus {
            Pane::Findings | Pane::Events => &mut self.ui.finding_filter,
            _ => &mut self.ui.filter,
        }
    }

    fn edit_filter(&mut self, key: &KeyEvent) -> Effect {
        if key.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Effect::Quit;
        }
        let filter = self.focused_filter_mut();
        match key.code {
            KeyCode::Enter => self.ui.editing_filter = false,
            KeyCode::Esc => {
                filter.clear();
                self.ui.editing_filter = false;
            }
            KeyCode::Backspace => {
                filter.pop();
            }
            KeyCode::Char(c) if !c.is_control() && filter.chars().count() < 64 => filter.push(c),
            _ => return Effect::None,
        }
        self.refilter();
        Effect::Redraw
    }

    /// Findings shown in the findings pane, after its filter.
    pub fn visible_findings(&self) -> Vec<&Finding> {
        let words = filter_words(&self.ui.finding_filter);
        self.findings
            .iter()
            .filter(|f| {
                let (service, env) = findings::names_of(&self.fleet, f);
                words.iter().all(|w| {
                    f.kind.as_str().starts_with(w.as_str())
                        || f.severity.as_str() == w
                        || env.to_lowercase() == *w
                        || service.to_lowercase().contains(w.as_str())
                })
            })
            .collect()
    }

    /// Changes shown in the events pane, newest first, after the filter.
    /// First sightings stay in the journal but are not changes.
    pub fn visible_events(&self) -> Vec<&ObservationEvent> {
        let words = filter_words(&self.ui.finding_filter);
        self.events
            .iter()
            .rev()
            .filter(|e| e.old.is_some())
            .filter(|e| {
                words.iter().all(|w| {
                    e.environment.to_lowercase() == *w
                        || e.service.to_lowercase().contains(w.as_str())
                        || e.source.to_lowercase().contains(w.as_str())
                })
            })
            .collect()
    }

    fn refilter(&mut self) {
        self.ui.findings_scroll = 0;
        self.ui.events_scroll = 0;
        self.ui.rollback_scroll = 0;
        let selected = self.visible.get(self.ui.row).copied();
        self.visible = analysis::filter_services(&self.fleet, &self.ui.filter);
        // Keep the same service selected when it is still shown.
        self.ui.row = selected.and_then(|s| self.visible.iter().position(|v| *v == s)).unwrap_or(0);
        self.ui.offset = 0;
        self.follow_selection();
    }

    /// Carry out a user action.
    pub fn act(&mut self, action: Action) -> Effect {
        if let Some(popup) = &self.ui.popup {
            match (popup, action) {
                (_, Action::Quit) => return Effect::Quit,
                (Popup::Help, Action::Help) | (_, Action::Close) => {
                    self.ui.popup = None;
                    return Effect::Redraw;
                }
                (Popup::Detail(_) | Popup::ChecklistDetail(_), Action::Open) => {
                    self.ui.popup = None;
                    return Effect::Redraw;
                }
                (Popup::Detail(_), Action::Refresh) => return Effect::Refresh,
                // The row's keys work from its detail too.
                (Popup::ChecklistDetail(_), Action::Tick | Action::Note | Action::SignOff | Action::Decide) => {
                    self.ui.popup = None;
                    return self.act(action);
                }
                _ => return Effect::None,
            }
        }
        match action {
            Action::Quit => return Effect::Quit,
            Action::Help => self.ui.popup = Some(Popup::Help),
            Action::Refresh => return Effect::Refresh,
            Action::Filter => {
                if matches!(self.ui.focus, Pane::Checklist | Pane::Rollback) {
                    self.ui.focus = Pane::Matrix;
                }
                self.ui.editing_filter = true;
            }
            Action::Close => {
                if self.focused_filter().is_empty() {
                    return Effect::None;
                }
                self.focused_filter_mut().clear();
                self.refilter();
            }
            Action::NextPane => self.ui.focus = self.ui.focus.step(1),
            Action::PrevPane => self.ui.focus = self.ui.focus.step(-1),
            Action::Open if self.ui.focus == Pane::Checklist => match self.selected_checklist_row() {
                Some(row) => self.ui.popup = Some(Popup::ChecklistDetail(row)),
                None => return Effect::None,
            },
            Action::Open => {
                let key = match self.ui.focus {
                    Pane::Matrix => self.selected(),
                    // The finding's cell.
                    Pane::Findings => self.visible_findings().get(self.ui.findings_scroll).map(|f| f.cell),
                    _ => None,
                };
                match key {
                    Some(key) => self.ui.popup = Some(Popup::Detail(key)),
                    None => return Effect::None,
                }
            }
            Action::Up => self.move_rows(-1),
            Action::Down => self.move_rows(1),
            Action::PageUp => self.move_rows(-(self.ui.page.max(1) as isize)),
            Action::PageDown => self.move_rows(self.ui.page.max(1) as isize),
            Action::Top => self.move_rows(isize::MIN / 2),
            Action::Bottom => self.move_rows(isize::MAX / 2),
            Action::Left => {
                if self.ui.focus != Pane::Matrix || self.ui.env == 0 {
                    return Effect::None;
                }
                self.ui.env -= 1;
            }
            Action::Right => {
                if self.ui.focus != Pane::Matrix || self.ui.env + 1 >= self.fleet.environments.len() {
                    return Effect::None;
                }
                self.ui.env += 1;
            }
            Action::Tick => return self.tick_selected(),
            Action::Note => return self.open_note(),
            Action::SignOff => return self.open_signoff(),
            Action::Decide => return self.open_decision(),
        }
        Effect::Redraw
    }

    fn move_rows(&mut self, by: isize) {
        let clamp = |pos: usize, len: usize| -> usize {
            let target = pos as isize + by;
            target.clamp(0, len.saturating_sub(1) as isize) as usize
        };
        match self.ui.focus {
            Pane::Matrix => {
                self.ui.row = clamp(self.ui.row, self.visible.len());
                self.follow_selection();
            }
            Pane::Findings => self.ui.findings_scroll = clamp(self.ui.findings_scroll, self.visible_findings().len()),
            Pane::Events => self.ui.events_scroll = clamp(self.ui.events_scroll, self.visible_events().len()),
            Pane::Checklist => {
                let rows = match &self.checklist {
                    Some(_) => self.checklist_rows().len(),
                    None => self.fleet.environments.len(),
                };
                self.ui.checklist_row = clamp(self.ui.checklist_row, rows);
            }
            Pane::Rollback => self.ui.rollback_scroll = clamp(self.ui.rollback_scroll, self.rollback.services.len()),
        }
    }

    fn handle_mouse(&mut self, mouse: &MouseEvent) -> Effect {
        if self.ui.popup.is_some() {
            return Effect::None;
        }
        match mouse.kind {
            MouseEventKind::ScrollDown => {
                self.move_rows(3);
                Effect::Redraw
            }
            MouseEventKind::ScrollUp => {
                self.move_rows(-3);
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    /// Tell the state how many matrix rows fit, after a resize.
    pub fn set_page(&mut self, rows: usize) {
        self.ui.page = rows.max(1);
        self.follow_selection();
    }

    fn follow_selection(&mut self) {
        let page = self.ui.page.max(1);
        if self.ui.row < self.ui.offset {
            self.ui.offset = self.ui.row;
        } else if self.ui.row >= self.ui.offset + page {
            self.ui.offset = self.ui.row + 1 - page;
        }
        let max_offset = self.visible.len().saturating_sub(page);
        self.ui.offset = self.ui.offset.min(max_offset);
    }
}

fn filter_words(filter: &str) -> Vec<String> {
    filter.split_whitespace().map(str::to_lowercase).collect()
}
