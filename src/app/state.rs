//! The app state and its reducers. Reducers are synchronous and return the
//! effects for the loop to carry out; they never do I/O themselves.

use crossterm::event::{Event, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use jiff::Timestamp;

use super::keymap::{self, Action, Input, KeyContext};
use super::prompt::{self, ChecklistRow, Prompt};
use crate::analysis::findings::{self, Finding};
use crate::engine::{Engine, Evaluation, Scope};
use crate::journal::ObservationEvent;
use crate::model::{CellKey, ServiceIdx};

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
    /// Every blocker behind the verdict (`w`), this one selected.
    Why(usize),
    /// What the release ships (`c`): the commits per service from the last
    /// environment to the target; scrolled by `popup_scroll`.
    Changes,
    /// Asking who is acting, once, before the first thing recorded.
    Operator(prompt::OperatorPrompt),
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
    /// Lines the open help, cell detail or changes view is scrolled down.
    pub popup_scroll: usize,
    /// The terminal's size (columns, rows) at the last resize; (0, 0)
    /// until one is known.
    pub screen: (u16, u16),
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

/// The one state the app loop owns: the engine (what is known and its
/// latches), its latest evaluation, and the screen.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Engine,
    /// The engine's judgement at the last analysis; recomputed by [`AppState::reanalyze`].
    pub eval: Evaluation,
    /// The clock the screen is drawn at; set by the loop, fixed in tests.
    pub now: Timestamp,
    pub started_at: Timestamp,
    /// "demo" when running the built-in demo fleet, with a note why.
    pub banner: Option<String>,
    /// Services shown, after the filter.
    pub visible: Vec<ServiceIdx>,
    /// Set when the journal could not be written.
    pub journal_error: Option<String>,
    /// Set when the release journal could not be written or read; stays
    /// until the next successful append, so a failed sign-off is seen.
    pub release_journal_error: Option<String>,
    /// Set when a trigger started firing; the loop rings the bell and clears it.
    pub bell: bool,
    /// Who ticks, signs and decides in this cockpit; empty until named
    /// (the config, `$USER`, or the cockpit asks).
    pub operator: String,
    /// Team mode: the seat's database role once the team store answered.
    pub team: Option<String>,
    /// Team mode with one poll load: leading, following whom, or cut off.
    pub seat: Option<crate::journal::team_seat::SeatRole>,
    /// `[[notify]]`: which webhooks fail and why (for the status bar).
    pub webhook_error: Option<String>,
    /// What the webhooks were told (or could not be), newest last, for the
    /// events pane.
    pub notices: std::collections::VecDeque<(Timestamp, String)>,
    /// Rate-limit budgets that will not hold (for the status bar), read
    /// from the sources' budgets at each analysis.
    pub budget_warnings: Vec<crate::sources::budget::Warning>,
    pub ui: UiState,
}

impl AppState {
    pub fn new(engine: Engine, now: Timestamp) -> AppState {
        let visible = crate::analysis::filter_services(&engine.fleet, "");
        let eval = engine.unevaluated(now);
        AppState {
            engine,
            eval,
            now,
            started_at: now,
            banner: None,
            visible,
            journal_error: None,
            release_journal_error: None,
            bell: false,
            operator: String::new(),
            team: None,
            seat: None,
            webhook_error: None,
            notices: std::collections::VecDeque::new(),
            budget_warnings: Vec::new(),
            ui: UiState { page: 10, color: true, ..UiState::default() },
        }
    }

    /// Keep what a webhook was told, for the events pane (the last 50).
    pub(crate) fn told(&mut self, what: String) {
        if self.notices.len() == 50 {
            self.notices.pop_front();
        }
        self.notices.push_back((Timestamp::now(), crate::sanitize::clean_to(&what, 300)));
    }

    /// Ask the engine for its judgement at `now`.
    pub fn reanalyze(&mut self) {
        let scope = Scope::all(&self.engine.fleet);
        self.eval = self.engine.evaluate(self.now, &scope);
        if self.engine.take_bell() {
            self.bell = true;
        }
        let budgets = self.engine.sources.iter().filter_map(|s| Some((s.budget.as_ref()?, &s.name, s.every)));
        self.budget_warnings = crate::sources::budget::warnings(budgets, self.now.as_second());
        // Lists may have shrunk under the selection.
        self.ui.findings_scroll = self.ui.findings_scroll.min(self.visible_findings().len().saturating_sub(1));
        self.ui.events_scroll = self.ui.events_scroll.min(self.visible_events().len().saturating_sub(1));
    }

    /// Whether the clock alone changes the judgement between `from` and `to`.
    pub(crate) fn boundary_between(&self, from: Timestamp, to: Timestamp) -> bool {
        self.engine.boundary_between(&self.eval, from, to)
    }

    /// Take in release events read from the journal (ours and others').
    pub fn take_release_events(&mut self, events: Vec<crate::journal::release::ReleaseEvent>) {
        self.engine.take_release_events(events);
    }

    /// Cells the sources read, in all.
    pub(crate) fn polled_cells(&self) -> usize {
        self.engine.polled_cells()
    }

    pub fn selected(&self) -> Option<CellKey> {
        let service = *self.visible.get(self.ui.row)?;
        (self.ui.env < self.engine.fleet.environments.len()).then_some(CellKey { service, env: self.ui.env })
    }

    /// Translate a terminal event into state changes and an effect.
    pub fn handle_event(&mut self, event: &Event) -> Effect {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(key),
            Event::Mouse(mouse) => self.handle_mouse(mouse),
            Event::Resize(w, h) => {
                self.ui.screen = (*w, *h);
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    /// Which keys apply now: an open prompt owns the keyboard, then the
    /// filter being typed; else the main screen's (its popups' too).
    pub(crate) fn key_context(&self) -> KeyContext {
        match &self.ui.popup {
            Some(Popup::Prompt(prompt)) => prompt.step.key_context(),
            Some(Popup::Operator(_)) => KeyContext::PromptText,
            _ if self.ui.editing_filter => KeyContext::Filter,
            _ => KeyContext::Main,
        }
    }

    /// A key means what the keymap says it means where it is pressed: an
    /// action, or a character typed into a text field.
    fn handle_key(&mut self, key: &KeyEvent) -> Effect {
        let had_message = self.ui.message.take().is_some();
        let context = self.key_context();
        match (context, keymap::input_for(context, key)) {
            (KeyContext::Main, Some(Input::Act(action))) => self.act(action),
            (KeyContext::Main, _) if had_message => Effect::Redraw,
            (KeyContext::Filter, Some(input)) => self.edit_filter(input),
            (_, Some(input)) if matches!(self.ui.popup, Some(Popup::Operator(_))) => self.operator_input(input),
            (KeyContext::Main | KeyContext::Filter, _) | (_, None) => Effect::None,
            (_, Some(input)) => self.prompt_input(input),
        }
    }

    /// The filter the focused pane uses.
    pub(crate) fn focused_filter(&self) -> &str {
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

    /// Typing the filter: it has the keyboard until kept or cleared.
    fn edit_filter(&mut self, input: Input) -> Effect {
        if input == Input::Act(Action::Quit) {
            return Effect::Quit;
        }
        let filter = self.focused_filter_mut();
        match input {
            Input::Act(Action::Submit) => self.ui.editing_filter = false,
            Input::Act(Action::Cancel) => {
                filter.clear();
                self.ui.editing_filter = false;
            }
            input if prompt::edit(filter, input, MAX_FILTER) => {}
            _ => return Effect::None,
        }
        self.refilter();
        Effect::Redraw
    }

    /// Findings shown in the findings pane, after its filter.
    pub fn visible_findings(&self) -> Vec<&Finding> {
        let words = filter_words(&self.ui.finding_filter);
        self.eval
            .findings
            .iter()
            .filter(|f| {
                let (service, env) = findings::names_of(&self.engine.fleet, f);
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
    pub(crate) fn visible_events(&self) -> Vec<&ObservationEvent> {
        let words = filter_words(&self.ui.finding_filter);
        self.engine
            .events
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

    pub(super) fn refilter(&mut self) {
        self.ui.findings_scroll = 0;
        self.ui.events_scroll = 0;
        self.ui.rollback_scroll = 0;
        let selected = self.visible.get(self.ui.row).copied();
        self.visible = crate::analysis::filter_services(&self.engine.fleet, &self.ui.filter);
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
                (Popup::Help, Action::Help) | (Popup::Changes, Action::Changes) | (_, Action::Close) => {
                    self.ui.popup = None;
                    return Effect::Redraw;
                }
                (Popup::Detail(_) | Popup::ChecklistDetail(_), Action::Open) => {
                    self.ui.popup = None;
                    return Effect::Redraw;
                }
                (Popup::Detail(_), Action::Refresh) => return self.refresh(),
                (Popup::Why(_), _) => return self.why_act(action),
                // The row's keys work from its detail too.
                (Popup::ChecklistDetail(_), Action::Tick | Action::Note | Action::SignOff | Action::Decide) => {
                    self.ui.popup = None;
                    return self.act(action);
                }
                (
                    Popup::Help | Popup::Detail(_) | Popup::Changes,
                    Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom,
                ) => {
                    self.scroll_popup(action);
                    return Effect::Redraw;
                }
                _ => return Effect::None,
            }
        }
        match action {
            Action::Quit => return Effect::Quit,
            Action::Help => {
                self.ui.popup_scroll = 0;
                self.ui.popup = Some(Popup::Help);
            }
            Action::Why => self.ui.popup = Some(Popup::Why(0)),
            Action::Changes => {
                self.ui.popup_scroll = 0;
                self.ui.popup = Some(Popup::Changes);
            }
            Action::Refresh => return self.refresh(),
            Action::Tick | Action::Note | Action::SignOff | Action::Decide if self.asks_operator_first(action) => {
                return self.ask_operator(action);
            }
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
                    Some(key) => {
                        self.ui.popup_scroll = 0;
                        self.ui.popup = Some(Popup::Detail(key));
                    }
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
                if self.ui.focus != Pane::Matrix || self.ui.env + 1 >= self.engine.fleet.environments.len() {
                    return Effect::None;
                }
                self.ui.env += 1;
            }
            Action::Tick => return self.tick_selected(),
            Action::Note => return self.open_note(),
            Action::SignOff => return self.open_signoff(),
            Action::Decide => return self.open_decision(),
            // The filter's and the prompts' (see `edit_filter`, `prompt_input`).
            Action::Submit
            | Action::Cancel
            | Action::DeleteChar
            | Action::PrevChoice
            | Action::NextChoice
            | Action::PickGo
            | Action::PickNoGo
            | Action::Confirm => return Effect::None,
        }
        Effect::Redraw
    }

    /// `r`: every cell now, and say so.
    fn refresh(&mut self) -> Effect {
        self.ui.message = Some(match self.polled_cells() {
            0 => "no sources: nothing to refresh".to_string(),
            1 => "refreshing 1 cell".to_string(),
            n => format!("refreshing {n} cells"),
        });
        Effect::Refresh
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
                let rows = match &self.eval.checklist {
                    Some(_) => self.checklist_rows().len(),
                    None => self.engine.fleet.environments.len(),
                };
                self.ui.checklist_row = clamp(self.ui.checklist_row, rows);
            }
            Pane::Rollback => {
                self.ui.rollback_scroll = clamp(self.ui.rollback_scroll, self.eval.rollback.services.len())
            }
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

    /// Scroll the help, a cell's detail or the changes view: as far as its
    /// last page on the screen (its render clamps too, while the size is
    /// not known yet).
    fn scroll_popup(&mut self, action: Action) {
        let (w, h) = self.ui.screen;
        let max = match &self.ui.popup {
            Some(Popup::Help) => crate::ui::help::max_scroll(w, h),
            Some(Popup::Detail(key)) => crate::ui::detail::max_scroll(self, *key, w, h),
            Some(Popup::Changes) => crate::ui::changes::max_scroll(self, w, h),
            _ => 0,
        };
        let page = usize::from(h.saturating_sub(4)).max(1);
        let at = self.ui.popup_scroll.min(max);
        self.ui.popup_scroll = match action {
            Action::Up => at.saturating_sub(1),
            Action::Down => at + 1,
            Action::PageUp => at.saturating_sub(page),
            Action::PageDown => at + page,
            Action::Top => 0,
            _ => max,
        }
        .min(max);
    }

    /// Tell the state how many matrix rows fit, after a resize.
    pub fn set_page(&mut self, rows: usize) {
        self.ui.page = rows.max(1);
        self.follow_selection();
    }

    pub(super) fn follow_selection(&mut self) {
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

/// Longest filter, in characters.
const MAX_FILTER: usize = 64;

fn filter_words(filter: &str) -> Vec<String> {
    filter.split_whitespace().map(str::to_lowercase).collect()
}
