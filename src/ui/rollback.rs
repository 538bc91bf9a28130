//! Rollback: per service, what each environment ran before the current
//! version (latest environment first). The rollback issue adds readiness,
//! methods and live triggers.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell as TableCell, Row, Table};

use super::fit;
use super::theme::Theme;
use crate::app::state::{AppState, Pane};
use crate::model::CellKey;

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let focused = state.ui.focus == Pane::Rollback;
    let block = Block::bordered()
        .title(Span::styled(" Rollback · previous → current (latest environment first) ", theme.title()))
        .border_style(theme.border(focused));
    let fleet = &state.fleet;
    let envs: Vec<usize> = (0..fleet.environments.len()).rev().collect();
    let name_w = fleet.services.iter().map(|s| s.name.chars().count()).max().unwrap_or(7).clamp(7, 20) as u16 + 1;
    let inner_w = area.width.saturating_sub(2);
    let col_w = (inner_w.saturating_sub(name_w) / envs.len().max(1) as u16).max(6);

    let mut widths = vec![Constraint::Length(name_w)];
    let mut header = vec![TableCell::from("service")];
    for &env in &envs {
        widths.push(Constraint::Length(col_w));
        header.push(TableCell::from(fleet.environments[env].name.clone()));
    }
    let rows_fit = area.height.saturating_sub(3) as usize;
    let rows = state.visible.iter().skip(state.ui.rollback_scroll).take(rows_fit).map(|&service| {
        let mut cells = vec![TableCell::from(fit(&fleet.services[service].name, name_w as usize - 1))];
        for &env in &envs {
            let cell = state.matrix.get(CellKey { service, env });
            let text = match (cell.previous_version(), cell.version()) {
                (Some(prev), Some(cur)) => Span::raw(fit(&format!("{} → {cur}", prev.version), col_w as usize - 1)),
                (None, Some(cur)) => Span::styled(fit(cur, col_w as usize - 1), theme.dim()),
                _ => Span::styled("—", theme.dim()),
            };
            cells.push(TableCell::from(text));
        }
        Row::new(cells)
    });
    let table = Table::new(rows, widths).header(Row::new(header).style(theme.header())).column_spacing(0).block(block);
    frame.render_widget(table, area);
}
