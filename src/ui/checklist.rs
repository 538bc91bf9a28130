//! The release checklist: progress overall and per phase, items with who
//! ticked them (or the cockpit's evidence), sign-offs, the blockers the
//! checklist puts on the verdict, the decision and the latest notes.
//!
//! In its place next to rollback it is a summary, one line per phase; with
//! the focus it takes the whole area below the matrix:
//!
//! ```text
//! ┌ Checklist · minor · 2026.11 ──────────────────────────────────────────┐
//! │████████░░░░ 14/29 · 3 checklist blockers · next: Smoke tests … in 14m │
//! │at target: dev ████████ 10/10  qa ████████ 10/10  uat ██████░░ 9/10     │
//! │! overdue since 18:00 UTC: Every planned service runs … (devops)       │
//! │✓ Pre-deployment · due 11-23 18:00 UTC (T-24h) · 6/6 ██████████████    │
//! │  [x] Scope frozen: every change …  release-manager req  ana 11-23 16:02│
//! │! [ ] Every planned service runs …  devops          req  ⟳ deployed(…) │
//! │  ✍ qa-lead signed by mei 11-23 17:30                                  │
//! │decision: none recorded (g decides)                                    │
//! │✎ 18:22 ana on the release: inventory owners paged                     │
//! └───────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Pure: everything comes from the state, at `state.now`.

use jiff::{SignedDuration, Timestamp};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::theme::Theme;
use super::{centered, countdown, fit, progress};
use crate::analysis::verdict::{Blocker, BlockerReason};
use crate::app::prompt::{ChecklistRow, decision_label};
use crate::app::state::{AppState, Pane};
use crate::checklist::eval::{ItemState, SignoffState};
use crate::checklist::template::{Item, Template};
use crate::checklist::{ChecklistState, Status, Truth};
use crate::journal::release::Decision;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let (Some(template), Some(checklist)) = (&state.engine.template, &state.eval.checklist) else {
        return progress::render(frame, area, state, theme);
    };
    let focused = state.ui.focus == Pane::Checklist;
    let release = state.engine.fleet.release.as_ref().map(|r| format!(" · {}", r.name)).unwrap_or_default();
    let block = Block::bordered()
        .title(Span::styled(format!(" Checklist · {}{release} ", template.name), theme.title()))
        .border_style(theme.border(focused));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let view = View { state, template, checklist, theme, width: inner.width as usize };
    let lines = if focused { view.full(inner.height as usize) } else { view.summary(inner.height as usize) };
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Blockers the checklist puts on the verdict (and a recorded no-go).
pub(crate) fn is_checklist_blocker(b: &Blocker) -> bool {
    matches!(
        b.reason,
        BlockerReason::Checklist | BlockerReason::Signoff | BlockerReason::Pending | BlockerReason::Decision
    )
}

/// An item row: mark, check, title, space, role, space, req, two spaces, who.
const FIXED: usize = 2 + 4 + 1 + 1 + 3 + 2;

#[derive(Clone, Copy)]
struct Columns {
    role: usize,
    title: usize,
    who: usize,
}

struct View<'a> {
    state: &'a AppState,
    template: &'a Template,
    checklist: &'a ChecklistState,
    theme: &'a Theme,
    width: usize,
}

impl View<'_> {
    /// In the small place: overall, next due, environments, one line per phase.
    fn summary(&self, height: usize) -> Vec<Line<'static>> {
        let w = self.width;
        let mut lines = vec![self.overall_line(w.saturating_sub(24).clamp(4, 24), false)];
        lines.push(self.next_line());
        lines.extend(progress::env_cells(self.state, self.theme, w, 1));
        let title_w = self.template.phases.iter().map(|p| p.title.chars().count()).max().unwrap_or(0);
        // glyph, space, title, space, [T-offset(6), space,] [bar, space,] count(5).
        // Narrow, the phase titles keep their room: the offset goes, then the bar.
        let offset = w >= 44;
        let with_bar = w >= 36;
        let fixed = 2 + 1 + if offset { 7 } else { 0 } + if with_bar { 5 } else { 0 } + 5;
        let title_w = title_w.min(w.saturating_sub(fixed));
        let bar_w = if with_bar { w.saturating_sub(fixed - 4 + title_w).clamp(4, 12) } else { 0 };
        for (p, phase) in self.template.phases.iter().enumerate() {
            let (done, total) = self.checklist.phase_progress(p);
            let (glyph, style) = self.phase_glyph(p);
            let mut spans = vec![
                Span::styled(format!("{glyph} "), style),
                Span::raw(format!("{:<title_w$} ", fit(&phase.title, title_w))),
            ];
            if offset {
                spans.push(Span::styled(format!("{:>6} ", t_offset(phase.due)), self.theme.dim()));
            }
            if with_bar {
                spans.extend(bar(bar_w, done, total, self.theme));
            }
            spans.push(Span::raw(format!(" {done}/{total}")));
            lines.push(Line::from(spans));
        }
        // Room left: the decision, then the blockers.
        if lines.len() < height {
            lines.push(self.decision_line());
        }
        let room = height.saturating_sub(lines.len());
        lines.extend(self.blocker_lines(room));
        lines.truncate(height);
        lines
    }

    /// With the focus: everything, the list scrolled to the selection.
    fn full(&self, height: usize) -> Vec<Line<'static>> {
        let w = self.width;
        let roomy = height >= 14;
        let mut head = vec![self.overall_line(20, true)];
        let cells = progress::env_cells(self.state, self.theme, w.saturating_sub(11), if roomy { 2 } else { 1 });
        for (i, mut line) in cells.into_iter().enumerate() {
            let label = if i == 0 { "at target: " } else { "           " };
            line.spans.insert(0, Span::styled(label, self.theme.dim()));
            head.push(line);
        }
        head.extend(self.blocker_lines(if roomy { 3 } else { 1 }));
        let foot = if height >= 10 { vec![self.decision_line(), self.note_line()] } else { Vec::new() };

        let (list, selected) = self.list();
        let list_h = height.saturating_sub(head.len() + foot.len());
        // Keep the selection in view, with its phase header when it fits.
        let offset = match selected {
            Some(s) if s + 1 > list_h => s + 1 - list_h,
            _ => 0,
        };
        let mut lines = head;
        let shown = list.len().saturating_sub(offset).min(list_h);
        lines.extend(list.into_iter().skip(offset).take(list_h));
        // The decision and notes stay at the bottom.
        lines.extend((shown..list_h).map(|_| Line::raw("")));
        lines.extend(foot);
        lines.truncate(height);
        lines
    }

    fn overall_line(&self, bar_w: usize, long: bool) -> Line<'static> {
        let (done, total) = self.checklist.overall_progress();
        let mut spans = bar(bar_w, done, total, self.theme);
        spans.push(Span::raw(format!(" {done}/{total}")));
        let blockers: Vec<&Blocker> =
            self.state.eval.judgement.blockers.iter().filter(|b| is_checklist_blocker(b)).collect();
        let no_go = blockers.iter().any(|b| b.reason.is_no_go());
        let (text, style) = match blockers.len() {
            0 => ("no checklist blockers".to_string(), self.theme.ok()),
            1 => ("1 checklist blocker".to_string(), if no_go { self.theme.bad() } else { self.theme.warn() }),
            n => (format!("{n} checklist blockers"), if no_go { self.theme.bad() } else { self.theme.warn() }),
        };
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(if long { text } else { text.replace("checklist ", "") }, style));
        if long {
            let used: usize = spans.iter().map(|s| s.width()).sum();
            spans.push(Span::raw(" · "));
            spans.push(self.next_span(self.width.saturating_sub(used + 3)));
        }
        Line::from(spans)
    }

    /// "next: Smoke tests passed in production in 14m00s", the title cut
    /// to fit, never the countdown.
    fn next_span(&self, width: usize) -> Span<'static> {
        let text = match self.checklist.next_due(self.template, self.state.now) {
            Some((at, what)) => {
                let when = format!(" in {}", countdown(at.as_second() - self.state.now.as_second()));
                let room = width.saturating_sub("next: ".len() + when.len());
                format!("next: {}{when}", fit(&what, room))
            }
            None if self.checklist.overall_progress().0 == self.checklist.overall_progress().1 => {
                "everything done".to_string()
            }
            None if self.due_known() => "nothing else due: what is left is overdue".to_string(),
            None => "no window: nothing is due at a set time".to_string(),
        };
        Span::styled(fit(&text, width), self.theme.accent())
    }

    fn next_line(&self) -> Line<'static> {
        Line::from(self.next_span(self.width))
    }

    fn due_known(&self) -> bool {
        self.checklist.items.iter().any(|i| i.due.is_some())
    }

    /// The checklist's blockers, no-go first, then a count of the others.
    fn blocker_lines(&self, max: usize) -> Vec<Line<'static>> {
        let all = &self.state.eval.judgement.blockers;
        let mut ours: Vec<&Blocker> = all.iter().filter(|b| is_checklist_blocker(b)).collect();
        ours.sort_by_key(|b| !b.reason.is_no_go());
        let mut lines = Vec::new();
        let shown = if ours.len() > max { max.saturating_sub(1) } else { ours.len() };
        for b in ours.iter().take(shown) {
            let (glyph, style) = if b.reason.is_no_go() { ("!", self.theme.bad()) } else { ("◦", self.theme.warn()) };
            lines.push(Line::from(vec![
                Span::styled(format!("{glyph} "), style),
                Span::styled(fit(&b.message, self.width.saturating_sub(2)), style),
            ]));
        }
        if ours.len() > shown {
            lines.push(Line::styled(
                format!("  … and {} more checklist blockers", ours.len() - shown),
                self.theme.dim(),
            ));
        }
        let others: Vec<&Blocker> = all.iter().filter(|b| !is_checklist_blocker(b)).collect();
        if !others.is_empty() && max > 1 {
            let mut kinds: Vec<String> = Vec::new();
            // Every reason outside the checklist is named: none is left out.
            for reason in [
                BlockerReason::Trigger,
                BlockerReason::Finding,
                BlockerReason::TriggerError,
                BlockerReason::Unread,
                BlockerReason::Window,
                BlockerReason::Blackout,
            ] {
                match others.iter().filter(|b| b.reason == reason).count() {
                    0 => {}
                    1 if matches!(reason, BlockerReason::Window | BlockerReason::Blackout) => {
                        kinds.push(reason_word(reason).to_string())
                    }
                    n => kinds.push(format!("{n} {}", plural(reason_word(reason), n))),
                }
            }
            let text = format!("+ {} outside the checklist: {}", plural_n(others.len(), "blocker"), kinds.join(", "));
            lines.push(Line::styled(fit(&text, self.width), self.theme.dim()));
        }
        lines
    }

    fn decision_line(&self) -> Line<'static> {
        match self.checklist.manual.decision() {
            Some(d) => {
                let style = match d.decision {
                    Decision::Go => self.theme.ok(),
                    Decision::NoGo => self.theme.bad(),
                };
                let head = format!("decision: {} ", decision_label(d.decision));
                let rest = format!("by {} {}: {}", d.by, self.when(d.at), d.reason);
                Line::from(vec![
                    Span::styled(head.clone(), style.patch(self.theme.title())),
                    Span::raw(fit(&rest, self.width.saturating_sub(head.chars().count()))),
                ])
            }
            None => Line::styled(
                format!(
                    "decision: none recorded ({} decides)",
                    crate::app::keymap::key_for(
                        crate::app::keymap::KeyContext::Main,
                        crate::app::keymap::Action::Decide
                    )
                ),
                self.theme.dim(),
            ),
        }
    }

    /// The latest note: on the selected item when it has one, else any.
    fn note_line(&self) -> Line<'static> {
        let notes = &self.checklist.manual.notes;
        let selected = match self.state.selected_checklist_row() {
            Some(ChecklistRow::Item(i)) => Some(self.checklist.items[i].id.as_str()),
            _ => None,
        };
        let note = selected.and_then(|id| notes.iter().rev().find(|n| n.item.as_deref() == Some(id)));
        match note.or(notes.last()) {
            Some(n) => {
                let on = match &n.item {
                    Some(item) => format!("on “{}”", fit(self.state.item_title(item), 30)),
                    None => "on the release".to_string(),
                };
                let text = format!("✎ {} {} {on}: {}", self.when(n.at), n.by, n.text.replace('\n', " "));
                Line::styled(fit(&text, self.width), self.theme.dim())
            }
            None => Line::styled("✎ no notes yet (n adds one)", self.theme.dim()),
        }
    }

    /// Phase headers, items and sign-offs; the index of the selected line.
    fn list(&self) -> (Vec<Line<'static>>, Option<usize>) {
        let rows = self.state.checklist_rows();
        let selected = rows.get(self.state.ui.checklist_row).copied();
        let columns = self.columns();
        let mut lines = Vec::new();
        let mut selected_line = None;
        let mut row_iter = rows.iter().peekable();
        for p in 0..self.template.phases.len() {
            lines.push(self.phase_line(p));
            while let Some(row) = row_iter.next_if(|r| self.phase_of(**r) == p) {
                let line = match *row {
                    ChecklistRow::Item(i) => self.item_line(&self.checklist.items[i], columns),
                    ChecklistRow::Signoff(i) => self.signoff_line(&self.checklist.signoffs[i]),
                };
                if Some(*row) == selected {
                    selected_line = Some(lines.len());
                    lines.push(line.patch_style(self.theme.selected()));
                } else {
                    lines.push(line);
                }
            }
        }
        (lines, selected_line)
    }

    fn phase_of(&self, row: ChecklistRow) -> usize {
        match row {
            ChecklistRow::Item(i) => self.checklist.items[i].phase,
            ChecklistRow::Signoff(i) => self.checklist.signoffs[i].phase,
        }
    }

    fn phase_glyph(&self, p: usize) -> (&'static str, Style) {
        let (done, total) = self.checklist.phase_progress(p);
        let overdue = self.checklist.items.iter().any(|i| i.phase == p && i.overdue && self.required(&i.id))
            || self.checklist.signoffs.iter().any(|s| s.phase == p && s.overdue);
        if done == total {
            ("✓", self.theme.ok())
        } else if overdue {
            ("!", self.theme.bad())
        } else {
            ("○", self.theme.dim())
        }
    }

    fn required(&self, id: &str) -> bool {
        self.template.item(id).is_some_and(|(_, i)| i.required)
    }

    /// "Staging verification · due 14:00 UTC (T-4h) · 3/5 ████░░".
    fn phase_line(&self, p: usize) -> Line<'static> {
        let phase = &self.template.phases[p];
        let (done, total) = self.checklist.phase_progress(p);
        let (glyph, style) = self.phase_glyph(p);
        let start = self.state.engine.fleet.release.as_ref().and_then(|r| r.window).map(|w| w.start);
        let due = match start.and_then(|s| s.checked_add(phase.due).ok()) {
            Some(at) => format!("due {} UTC ({})", self.when(at), t_offset(phase.due)),
            None => t_offset(phase.due),
        };
        let text = format!("{} · {due} · {done}/{total} ", phase.title);
        let text = fit(&text, self.width.saturating_sub(2 + 4));
        let bar_w = self.width.saturating_sub(2 + text.chars().count()).min(20);
        let mut spans = vec![
            Span::styled(format!("{glyph} "), style.patch(self.theme.title())),
            Span::styled(text, self.theme.title()),
        ];
        if bar_w >= 4 {
            spans.extend(bar(bar_w, done, total, self.theme));
        }
        Line::from(spans)
    }

    /// Title, role and who/evidence widths: titles get what the longest
    /// who/evidence text leaves, and at least 55% of the room.
    fn columns(&self) -> Columns {
        let role = self.template.items().map(|(_, i)| i.role.chars().count()).max().unwrap_or(4).min(16);
        let avail = self.width.saturating_sub(FIXED + role);
        let longest = self.template.items().map(|(_, i)| i.title.chars().count()).max().unwrap_or(10);
        let who_needed = self
            .checklist
            .items
            .iter()
            .filter_map(|i| self.template.item(&i.id).map(|(_, spec)| self.who(i, spec).0.chars().count()))
            .max()
            .unwrap_or(0);
        let title = longest.min(avail.saturating_sub(who_needed).max(avail * 11 / 20)).max(8.min(avail));
        Columns { role, title, who: avail.saturating_sub(title) }
    }

    fn item_line(&self, item: &ItemState, columns: Columns) -> Line<'static> {
        let Columns { role: role_w, title: title_w, who: who_w } = columns;
        let Some((_, spec)) = self.template.item(&item.id) else {
            return Line::raw(item.id.clone());
        };
        // An optional item past its due time blocks nothing: no alarm.
        let overdue = item.overdue && spec.required;
        let mark = if overdue { Span::styled("! ", self.theme.bad()) } else { Span::raw("  ") };
        let check = if item.status == Status::Done { "[x] " } else { "[ ] " };
        let (who, who_style) = self.who(item, spec);
        let title_style = if overdue { self.theme.bad() } else { Style::new() };
        let (req, req_style) = if spec.required { ("req", Style::new()) } else { ("opt", self.theme.dim()) };
        Line::from(vec![
            mark,
            Span::styled(check, if item.status == Status::Done { self.theme.ok() } else { Style::new() }),
            Span::styled(format!("{:<title_w$} ", fit(&spec.title, title_w)), title_style),
            Span::styled(format!("{:<role_w$} ", fit(&spec.role, role_w)), self.theme.dim()),
            Span::styled(req, req_style),
            Span::raw("  "),
            Span::styled(fit(&who, who_w), who_style),
        ])
    }

    /// Who ticked it and when, or the cockpit's evidence.
    fn who(&self, item: &ItemState, spec: &Item) -> (String, Style) {
        let condition = || spec.condition.as_ref().map(|c| c.display(&self.state.engine.fleet)).unwrap_or_default();
        let noted = self.checklist.manual.notes.iter().any(|n| n.item.as_deref() == Some(item.id.as_str()));
        let note_mark = if noted { " ✎" } else { "" };
        match (&item.condition, &item.ticked) {
            (Some(Truth::True(evidence)), _) => (format!("cockpit: {evidence}{note_mark}"), self.theme.ok()),
            (Some(Truth::False(evidence)), _) => (format!("⟳ {} — {evidence}", condition()), self.theme.warn()),
            (_, Some(mark)) => (format!("{} {}{note_mark}", mark.by, self.when(mark.at)), Style::new()),
            (Some(Truth::Unknown(evidence)), None) => (format!("⟳ {} — {evidence}", condition()), self.theme.dim()),
            (None, None) if item.overdue && !spec.required => ("optional, past its due time".into(), self.theme.dim()),
            (None, None) if item.overdue => (
                format!("overdue since {}{note_mark}", item.due.map(|d| self.when(d)).unwrap_or_default()),
                self.theme.bad(),
            ),
            (None, None) => (note_mark.trim().to_string(), self.theme.dim()),
        }
    }

    /// "✍ qa-lead signed by mei 09:12" or "✍ qa-lead — missing".
    fn signoff_line(&self, s: &SignoffState) -> Line<'static> {
        let mark = if s.overdue { Span::styled("! ", self.theme.bad()) } else { Span::raw("  ") };
        let mut spans = vec![mark, Span::raw("✍ "), Span::styled(format!("{} ", s.role), self.theme.title())];
        match &s.signed {
            Some(m) => {
                spans.push(Span::styled(format!("signed by {} {}", m.by, self.when(m.at)), self.theme.ok()));
                if let Some(note) = &m.note {
                    spans.push(Span::styled(format!(" — {}", note.replace('\n', " ")), self.theme.dim()));
                }
            }
            None if s.overdue => {
                let since = s.due.map(|d| format!(", overdue since {}", self.when(d))).unwrap_or_default();
                spans.push(Span::styled(format!("— missing{since}"), self.theme.bad()));
            }
            None => {
                spans.push(Span::styled("— missing", self.theme.warn()));
                if let Some(d) = s.due {
                    spans.push(Span::styled(format!(" · due {}", self.when(d)), self.theme.dim()));
                }
            }
        }
        let mut line = Line::from(spans);
        let used: usize = line.spans.iter().map(|s| s.width()).sum();
        if used > self.width
            && let Some(last) = line.spans.last_mut()
        {
            let keep = last.width().saturating_sub(used - self.width);
            *last = Span::styled(fit(&last.content, keep), last.style);
        }
        line
    }

    fn when(&self, at: Timestamp) -> String {
        when(self.state.now, at)
    }
}

/// `09:12` on the day of `now` (UTC), else `11-23 09:12`.
pub fn when(now: Timestamp, at: Timestamp) -> String {
    if at.strftime("%F").to_string() == now.strftime("%F").to_string() {
        at.strftime("%H:%M").to_string()
    } else {
        at.strftime("%m-%d %H:%M").to_string()
    }
}

/// A due time relative to the window: `T-24h`, `T-0`, `T+15m`, `T+1h30m`.
pub(crate) fn t_offset(due: SignedDuration) -> String {
    let secs = due.as_secs();
    if secs == 0 {
        return "T-0".to_string();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let s = secs.unsigned_abs();
    let (h, m) = (s / 3600, (s % 3600) / 60);
    match (h, m) {
        (0, m) => format!("T{sign}{m}m"),
        (h, 0) => format!("T{sign}{h}h"),
        (h, m) => format!("T{sign}{h}h{m:02}m"),
    }
}

fn bar(width: usize, done: usize, total: usize, theme: &Theme) -> Vec<Span<'static>> {
    let filled = (width * done).checked_div(total).unwrap_or(0).min(width);
    let style = if total > 0 && done == total {
        theme.ok()
    } else if done > 0 {
        theme.warn()
    } else {
        theme.dim()
    };
    vec![Span::styled("█".repeat(filled), style), Span::styled("░".repeat(width - filled), theme.dim())]
}

fn reason_word(reason: BlockerReason) -> &'static str {
    match reason {
        BlockerReason::Finding => "high finding",
        BlockerReason::Window => "window",
        BlockerReason::Blackout => "blackout",
        BlockerReason::Unread => "unread cell",
        BlockerReason::Trigger => "firing trigger",
        BlockerReason::TriggerError => "unanswered trigger",
        _ => "checklist",
    }
}

fn plural(word: &str, n: usize) -> String {
    if n == 1 { word.to_string() } else { format!("{word}s") }
}

fn plural_n(n: usize, word: &str) -> String {
    format!("{n} {}", plural(word, n))
}

/// Enter on a row: the item (or sign-off) in full, with every note on it.
pub(crate) fn detail_lines(state: &AppState, row: ChecklistRow, theme: &Theme) -> Vec<Line<'static>> {
    let (Some(template), Some(checklist)) = (&state.engine.template, &state.eval.checklist) else {
        return vec![Line::raw("no checklist")];
    };
    let label = |s: &str| Span::styled(format!("{s:<10}"), theme.dim());
    let at = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let due_text = |due: Option<Timestamp>, phase: usize| {
        let offset = t_offset(template.phases[phase].due);
        match due {
            Some(d) => format!("{} · due {} ({offset})", template.phases[phase].title, at(d)),
            None => format!("{} · {offset} (the release has no window)", template.phases[phase].title),
        }
    };
    let mut lines = Vec::new();
    match row {
        ChecklistRow::Item(i) => {
            let item = &checklist.items[i];
            let Some((_, spec)) = template.item(&item.id) else {
                return lines;
            };
            lines.push(Line::styled(spec.title.clone(), theme.title()));
            lines.push(Line::from(vec![label("phase"), Span::raw(due_text(item.due, item.phase))]));
            lines.push(Line::from(vec![
                label("role"),
                Span::raw(format!("{} · {}", spec.role, if spec.required { "required" } else { "optional" })),
            ]));
            let status = match (item.status, item.overdue) {
                (Status::Done, _) => Span::styled("done", theme.ok()),
                (Status::Pending, true) => Span::styled("! overdue", theme.bad()),
                (Status::Pending, false) => Span::raw("to do"),
            };
            lines.push(Line::from(vec![label("status"), status]));
            if let (Some(c), Some(truth)) = (&spec.condition, &item.condition) {
                let (value, style) = match truth {
                    Truth::True(e) => (format!("holds — {e} (the cockpit ticks it)"), theme.ok()),
                    Truth::False(e) => (format!("does not hold — {e}"), theme.warn()),
                    Truth::Unknown(e) => (format!("not evaluated — {e}"), theme.dim()),
                };
                lines.push(Line::from(vec![
                    label("condition"),
                    Span::raw(format!("⟳ {} ", c.display(&state.engine.fleet))),
                    Span::styled(value, style),
                ]));
            }
            if let Some(m) = &item.ticked {
                lines.push(Line::from(vec![label("ticked"), Span::raw(format!("by {} at {}", m.by, at(m.at)))]));
            }
            lines.push(Line::raw(""));
            let notes: Vec<_> =
                checklist.manual.notes.iter().rev().filter(|n| n.item.as_deref() == Some(item.id.as_str())).collect();
            if notes.is_empty() {
                lines.push(Line::styled("no notes on this item", theme.dim()));
            } else {
                lines.push(Line::styled("Notes, newest first", theme.title()));
                for n in notes {
                    lines.push(Line::from(vec![
                        Span::styled(format!("{} {} ", at(n.at), n.by), theme.dim()),
                        Span::raw(n.text.clone()),
                    ]));
                }
            }
            lines.push(Line::raw(""));
            lines.push(Line::styled("space ticks or unticks it (when a person ticks it) · n adds a note", theme.dim()));
        }
        ChecklistRow::Signoff(i) => {
            let s = &checklist.signoffs[i];
            lines.push(Line::styled(format!("✍ Sign-off: {}", s.role), theme.title()));
            lines.push(Line::from(vec![label("phase"), Span::raw(due_text(s.due, s.phase))]));
            match &s.signed {
                Some(m) => {
                    lines.push(Line::from(vec![
                        label("signed"),
                        Span::styled(format!("by {} at {}", m.by, at(m.at)), theme.ok()),
                    ]));
                    if let Some(note) = &m.note {
                        lines.push(Line::from(vec![label("note"), Span::raw(note.clone())]));
                    }
                    let sign = crate::app::keymap::key_for(
                        crate::app::keymap::KeyContext::Main,
                        crate::app::keymap::Action::SignOff,
                    );
                    let tick = crate::app::keymap::key_for(
                        crate::app::keymap::KeyContext::Main,
                        crate::app::keymap::Action::Tick,
                    );
                    lines.push(Line::styled(
                        format!("{sign} (or {tick}) revokes it, after a confirmation"),
                        theme.dim(),
                    ));
                }
                None => {
                    let (text, style) =
                        if s.overdue { ("! missing, overdue", theme.bad()) } else { ("missing", theme.warn()) };
                    lines.push(Line::from(vec![label("signed"), Span::styled(text, style)]));
                    lines.push(Line::styled("s (or space) signs off, after a confirmation", theme.dim()));
                }
            }
        }
    }
    lines
}

pub(crate) fn render_detail(frame: &mut Frame, area: Rect, state: &AppState, row: ChecklistRow, theme: &Theme) {
    let lines = detail_lines(state, row, theme);
    let w = (area.width * 4 / 5).max(40);
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let area = centered(area, w, h);
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .title(Span::styled(
            format!(
                " Checklist item · {} to close ",
                crate::app::keymap::key_for(crate::app::keymap::KeyContext::Main, crate::app::keymap::Action::Close)
            ),
            theme.title(),
        ))
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_from_the_window() {
        assert_eq!(t_offset(SignedDuration::from_hours(-24)), "T-24h");
        assert_eq!(t_offset(SignedDuration::ZERO), "T-0");
        assert_eq!(t_offset(SignedDuration::from_mins(15)), "T+15m");
        assert_eq!(t_offset(SignedDuration::from_mins(90)), "T+1h30m");
    }

    #[test]
    fn times_carry_the_date_when_not_today() {
        let now: Timestamp = "2026-11-24T18:42:00Z".parse().unwrap();
        assert_eq!(when(now, "2026-11-24T09:12:00Z".parse().unwrap()), "09:12");
        assert_eq!(when(now, "2026-11-23T17:30:00Z".parse().unwrap()), "11-23 17:30");
    }
}
