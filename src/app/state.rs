//! The app state and its reducers. Reducers are synchronous and return the
//! effects for the loop to carry out; they never do I/O themselves.

use std::sync::Arc;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use jiff::Timestamp;

use super::keymap::{self, Action};
use crate::analysis::{self, Matrix};
use crate::model::{CellKey, Evidence, Fleet, ServiceIdx};
use crate::poller::SourceUpdate;

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
    Progress,
    Rollback,
}

impl Pane {
    const ORDER: [Pane; 3] = [Pane::Matrix, Pane::Progress, Pane::Rollback];

    fn step(self, by: isize) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        let n = Pane::ORDER.len() as isize;
        Pane::ORDER[((i + by).rem_euclid(n)) as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    Help,
    Detail(CellKey),
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
    pub filter: String,
    pub editing_filter: bool,
    pub popup: Option<Popup>,
    /// Scroll position of the progress and rollback panes.
    pub progress_scroll: usize,
    pub rollback_scroll: usize,
    pub color: bool,
}

/// Work the loop does on behalf of a reducer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    Redraw,
    Refresh,
    Quit,
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
    pub ui: UiState,
}

impl AppState {
    pub fn new(fleet: Fleet, sources: Vec<SourceInfo>, now: Timestamp) -> AppState {
        let matrix = Matrix::new(&fleet);
        let visible = analysis::filter_services(&fleet, "");
        AppState {
            fleet,
            sources,
            matrix,
            now,
            started_at: now,
            banner: None,
            visible,
            ui: UiState { page: 10, color: true, ..UiState::default() },
        }
    }

    /// Cells the sources read, in all.
    pub fn polled_cells(&self) -> usize {
        self.sources.iter().map(|s| s.cells).sum()
    }

    pub fn selected(&self) -> Option<CellKey> {
        let service = *self.visible.get(self.ui.row)?;
        (self.ui.env < self.fleet.environments.len()).then_some(CellKey { service, env: self.ui.env })
    }

    /// Apply one source update.
    pub fn apply(&mut self, update: SourceUpdate) {
        if let Some(cell) = self.matrix.get_mut(update.cell) {
            cell.record(&update.source, update.evidence, update.attempted_at, update.result);
        }
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
        if self.ui.editing_filter {
            return self.edit_filter(key);
        }
        match keymap::action_for(key) {
            Some(action) => self.act(action),
            None => Effect::None,
        }
    }

    fn edit_filter(&mut self, key: &KeyEvent) -> Effect {
        match key.code {
            KeyCode::Enter => self.ui.editing_filter = false,
            KeyCode::Esc => {
                self.ui.editing_filter = false;
                self.ui.filter.clear();
            }
            KeyCode::Backspace => {
                self.ui.filter.pop();
            }
            KeyCode::Char(c) if !c.is_control() && self.ui.filter.chars().count() < 64 => self.ui.filter.push(c),
            _ => return Effect::None,
        }
        self.refilter();
        Effect::Redraw
    }

    fn refilter(&mut self) {
        let selected = self.visible.get(self.ui.row).copied();
        self.visible = analysis::filter_services(&self.fleet, &self.ui.filter);
        // Keep the same service selected when it is still shown.
        self.ui.row = selected.and_then(|s| self.visible.iter().position(|v| *v == s)).unwrap_or(0);
        self.ui.offset = 0;
        self.follow_selection();
    }

    /// Carry out a user action.
    pub fn act(&mut self, action: Action) -> Effect {
        if let Some(popup) = self.ui.popup {
            match (popup, action) {
                (_, Action::Quit) => return Effect::Quit,
                (Popup::Help, Action::Help) | (_, Action::Close) => {
                    self.ui.popup = None;
                    return Effect::Redraw;
                }
                (Popup::Detail(_), Action::Open) => {
                    self.ui.popup = None;
                    return Effect::Redraw;
                }
                (Popup::Detail(_), Action::Refresh) => return Effect::Refresh,
                _ => return Effect::None,
            }
        }
        match action {
            Action::Quit => return Effect::Quit,
            Action::Help => self.ui.popup = Some(Popup::Help),
            Action::Refresh => return Effect::Refresh,
            Action::Filter => {
                self.ui.editing_filter = true;
                self.ui.focus = Pane::Matrix;
            }
            Action::Close => {
                if self.ui.filter.is_empty() {
                    return Effect::None;
                }
                self.ui.filter.clear();
                self.refilter();
            }
            Action::NextPane => self.ui.focus = self.ui.focus.step(1),
            Action::PrevPane => self.ui.focus = self.ui.focus.step(-1),
            Action::Open => match self.selected() {
                Some(key) if self.ui.focus == Pane::Matrix => self.ui.popup = Some(Popup::Detail(key)),
                _ => return Effect::None,
            },
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
            Pane::Progress => self.ui.progress_scroll = clamp(self.ui.progress_scroll, self.fleet.environments.len()),
            Pane::Rollback => self.ui.rollback_scroll = clamp(self.ui.rollback_scroll, self.visible.len()),
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
