//! What ships, on the screen: the changes view (`c`) lists, per service
//! in the release, the commits the last environment gains with the
//! target (what prod will gain), and a cell's detail lists what the cell
//! gains from the environment before it. Both only arrange the engine's
//! answers (`Engine::release_ranges`, `Engine::incoming`); the compare API
//! is asked by the loop.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::centered;
use super::detail::wrap;
use super::theme::Theme;
use crate::analysis::findings::FindingKind;
use crate::app::keymap::{Action, KeyContext, key_for};
use crate::app::state::AppState;
use crate::changes::{Changes, ChangesKind, Commit};
use crate::engine::shipping::Point;
use crate::model::CellKey;
use crate::report::changes::{RangeState, ServiceRange};

/// Longest text taken from a commit or an error into a line.
const TEXT: usize = 300;

/// Commits listed under one cell's detail before "… and N more".
const DETAIL_CAP: usize = 100;

fn clean(text: &str) -> String {
    crate::sanitize::clean_to(text, TEXT)
}

fn commits(n: u64) -> String {
    if n == 1 { "1 commit".to_string() } else { format!("{n} commits") }
}

/// One commit: `  4f2a9c1 fix(payments): retry once  #1207 · Ana Lima · PAY-101`.
/// The PR's own `(#1207)` at the end of a subject is not said twice.
pub(crate) fn commit_line(kind: ChangesKind, commit: &Commit, theme: &Theme) -> Line<'static> {
    let pr = commit.pr_ref(kind);
    let mut subject = clean(&commit.subject);
    if let Some(pr) = &pr
        && let Some(rest) = subject.strip_suffix(&format!(" ({pr})"))
    {
        subject = rest.to_string();
    }
    let mut spans = vec![
        Span::raw("  "),
        Span::styled(commit.short_sha().to_string(), theme.accent()),
        Span::raw(" "),
        Span::raw(subject),
    ];
    if let Some(pr) = pr {
        spans.push(Span::styled(format!("  {pr}"), theme.accent()));
    }
    if let Some(author) = &commit.author {
        spans.push(Span::styled(format!(" · {}", clean(author)), theme.dim()));
    }
    if !commit.tickets.is_empty() {
        spans.push(Span::styled(format!(" · {}", clean(&commit.tickets.join(", "))), theme.title()));
    }
    if commit.breaking.is_some() {
        spans.push(Span::styled(" · breaking", theme.warn()));
    }
    Line::from(spans)
}

/// The commits of `changes` (at most `cap`), and what is left unsaid.
fn commit_lines(changes: &Changes, cap: usize, theme: &Theme) -> Vec<Line<'static>> {
    let shown = changes.commits.len().min(cap);
    let mut lines: Vec<Line<'static>> =
        changes.commits[..shown].iter().map(|c| commit_line(changes.kind, c, theme)).collect();
    let more = changes.total_commits.saturating_sub(shown as u64);
    if more > 0 && shown < changes.commits.len() {
        lines.push(Line::styled(format!("  … and {more} more"), theme.dim()));
    } else if more > 0 {
        lines.push(Line::styled(format!("  … and {more} more: the compare API did not list them"), theme.dim()));
    }
    lines
}

/// What a cell gains from the environment before it, and whether what it
/// runs is in the mainline, for its detail. Empty without `[changes]`.
pub(crate) fn cell_lines(state: &AppState, key: CellKey, theme: &Theme) -> Vec<Line<'static>> {
    let engine = &state.engine;
    let Some(config) = engine.shipping.config.as_ref() else { return Vec::new() };
    let mut lines = Vec::new();
    if state.eval.findings.iter().any(|f| f.cell == key && f.kind == FindingKind::NotMergedBack) {
        let runs = match engine.locate(key.service, Point::Env(key.env)) {
            Some(at) => match at.commit {
                Some(sha) => format!("the running commit {}", clean(sha.get(..7).unwrap_or(&sha))),
                None => format!("the running ref {}", clean(&at.git_ref)),
            },
            None => "what runs here".to_string(),
        };
        lines.push(Line::styled(
            format!(
                "{} {runs} is not in {}: merge the hotfix back, or the next release reverts it",
                FindingKind::NotMergedBack.glyph(),
                clean(&config.mainline)
            ),
            theme.warn(),
        ));
    }
    let Some(before) = key.env.checked_sub(1) else { return lines };
    let before_name = clean(&engine.fleet.environments[before].name);
    let here_name = clean(&engine.fleet.environments[key.env].name);
    match engine.incoming(key) {
        None => {
            let (here, there) =
                (engine.locate(key.service, Point::Env(key.env)), engine.locate(key.service, Point::Env(before)));
            if let (Some(here), Some(there)) = (here, there)
                && here.git_ref == there.git_ref
            {
                lines.push(Line::styled(
                    format!("gains nothing from {before_name}: the same code runs there"),
                    theme.dim(),
                ));
            }
        }
        Some(range) => {
            let ends =
                format!(" ({here_name} {} → {before_name} {})", clean(&range.from.version), clean(&range.to.version));
            match range.changes {
                None => lines.push(Line::from(vec![
                    Span::styled(format!("gains from {before_name}: "), theme.title()),
                    Span::styled("asking the compare API…", theme.dim()),
                    Span::styled(ends, theme.dim()),
                ])),
                Some(Err(reason)) => lines.push(Line::from(vec![
                    Span::styled(format!("gains from {before_name}: "), theme.title()),
                    Span::styled(format!("the compare failed: {}", clean(reason)), theme.bad()),
                ])),
                Some(Ok(changes)) if changes.total_commits == 0 => lines.push(Line::styled(
                    format!("gains nothing from {before_name}: every commit there runs here already{ends}"),
                    theme.dim(),
                )),
                Some(Ok(changes)) => {
                    lines.push(Line::from(vec![
                        Span::styled(
                            format!("gains from {before_name}: {}", commits(changes.total_commits)),
                            theme.title(),
                        ),
                        Span::styled(ends, theme.dim()),
                    ]));
                    lines.extend(commit_lines(changes, DETAIL_CAP, theme));
                }
            }
        }
    }
    lines
}

/// The changes view's lines: a summary, the hotfixes not merged back, then
/// each service of the release with its commits; or why there is nothing.
pub(crate) fn lines(state: &AppState, theme: &Theme) -> Vec<Line<'static>> {
    let engine = &state.engine;
    if !engine.ships() {
        return vec![
            Line::styled("[changes] is not configured.", theme.warn()),
            Line::raw(""),
            Line::raw(
                "Without it the cockpit does not know where each service's code lives, so it cannot say what ships.",
            ),
            Line::raw(""),
            Line::raw(
                "Add a [changes] section (kind = \"github\" or \"gitlab\", tag, mainline, the token's variable) \
                 and repo = \"owner/name\" to each [[services]] entry: config.example.toml shows one.",
            ),
        ];
    }
    let Some(view) = crate::report::changes::release(engine) else {
        return vec![
            Line::styled("No release plan: nothing says what the last environment will gain.", theme.warn()),
            Line::raw(""),
            Line::raw("Add [release] with its [release.targets] (a version per service) to see what ships."),
        ];
    };
    let mut out = Vec::new();
    let (mut total, mut with, mut same, mut asking, mut failed) = (0, 0, 0, 0, 0);
    for s in &view.services {
        match &s.state {
            RangeState::Changes(c) if c.total_commits > 0 => {
                total += c.total_commits;
                with += 1;
            }
            RangeState::Changes(_) | RangeState::Same => same += 1,
            RangeState::NotRead => asking += 1,
            RangeState::Failed(_) => failed += 1,
            RangeState::Unknown(_) => {}
        }
    }
    let release = view.release.map(|r| format!(" · release {}", clean(r))).unwrap_or_default();
    let mut summary = vec![Span::styled(
        format!(
            "{} → {}{release}: {} in {with} of {} services",
            view.from,
            view.to,
            commits(total),
            view.services.len()
        ),
        theme.title(),
    )];
    for (n, what, style) in [
        (same, "unchanged", theme.dim()),
        (asking, "asking the compare API…", theme.dim()),
        (failed, "failed", theme.bad()),
    ] {
        if n > 0 {
            summary.push(Span::styled(format!(" · {n} {what}"), style));
        }
    }
    out.push(Line::from(summary));
    // A hotfix outside the mainline is what a release silently reverts.
    let unmerged: Vec<_> = state.eval.findings.iter().filter(|f| f.kind == FindingKind::NotMergedBack).collect();
    if !unmerged.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(
            "Not merged back into the mainline: the next release of these reverts the fix",
            theme.warn(),
        ));
        for f in unmerged {
            out.push(Line::styled(format!("  {} {}", f.kind.glyph(), clean(&f.message)), theme.warn()));
        }
    }
    let name_w = view.services.iter().map(|s| s.service.chars().count()).max().unwrap_or(0);
    for s in &view.services {
        out.push(Line::raw(""));
        out.extend(service_lines(&view.from, &view.to, s, name_w, theme));
    }
    if view.services.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("No service of the release has a target.", theme.dim()));
    }
    out
}

/// One service's part of the changes view.
fn service_lines(from: &str, to: &str, s: &ServiceRange<'_>, name_w: usize, theme: &Theme) -> Vec<Line<'static>> {
    let name = Span::styled(format!("{:<name_w$}  ", clean(s.service)), theme.title());
    let end = |point: &str, at: &Option<crate::engine::shipping::Located>| match at {
        Some(at) => format!("{point} {}", clean(&at.version)),
        None => point.to_string(),
    };
    let ends = format!("{} → {}: ", end(from, &s.from), end(to, &s.to));
    let (what, style) = match &s.state {
        RangeState::Changes(c) if c.total_commits == 0 => {
            (format!("no new commits ({from} has every commit of {to})"), theme.dim())
        }
        RangeState::Changes(c) => (format!("+{}", commits(c.total_commits)), theme.accent()),
        RangeState::Same => ("no change: the same code".to_string(), theme.dim()),
        RangeState::Unknown(why) => {
            return vec![Line::from(vec![name, Span::styled(clean(why), theme.dim())])];
        }
        RangeState::Failed(reason) => (format!("the compare failed: {}", clean(reason)), theme.bad()),
        RangeState::NotRead => ("asking the compare API…".to_string(), theme.dim()),
    };
    let mut lines = vec![Line::from(vec![name, Span::raw(ends), Span::styled(what, style)])];
    if let RangeState::Changes(c) = &s.state {
        lines.extend(commit_lines(c, usize::MAX, theme));
    }
    lines
}

/// The box on a screen of `area`, and the view's lines wrapped to it.
fn layout(state: &AppState, area: Rect, theme: &Theme) -> (Rect, Vec<Line<'static>>) {
    // Wide enough for a commit a line, no wider: long lines are hard to follow.
    let w = (area.width * 9 / 10).clamp(40, 120).min(area.width);
    let lines: Vec<Line<'static>> =
        lines(state, theme).into_iter().flat_map(|l| wrap(l, usize::from(w.saturating_sub(2)))).collect();
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    (centered(area, w, h), lines)
}

/// How far the view scrolls on a `width`×`height` screen (as far as it
/// could on any screen while the size is not known).
pub(crate) fn max_scroll(state: &AppState, width: u16, height: u16) -> usize {
    if width == 0 || height == 0 {
        return lines(state, &Theme::new(false)).into_iter().flat_map(|l| wrap(l, 38)).count();
    }
    let (area, lines) = layout(state, Rect::new(0, 0, width, height), &Theme::new(false));
    lines.len().saturating_sub(usize::from(area.height.saturating_sub(2)))
}

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, scroll: usize, theme: &Theme) {
    let (area, lines) = layout(state, area, theme);
    let visible = usize::from(area.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    let below = lines.len().saturating_sub(scroll + visible);
    let shown: Vec<Line> = lines.into_iter().skip(scroll).take(visible).collect();
    frame.render_widget(Clear, area);
    let key = |a| key_for(KeyContext::Main, a);
    let title = format!(" What ships · {} or {} to close ", key(Action::Changes), key(Action::Close));
    let mut block = Block::bordered().title(Span::styled(title, theme.title())).border_style(theme.border(true));
    if scroll > 0 || below > 0 {
        let keys = format!(
            "{}/{} {}/{} scroll",
            key(Action::Down),
            key(Action::Up),
            key(Action::PageDown),
            key(Action::PageUp)
        );
        let text = super::help::scroll_note(scroll, below, &keys, "");
        block = block.title_bottom(Line::from(Span::styled(text, theme.accent())).right_aligned());
    }
    frame.render_widget(Paragraph::new(shown).block(block), area);
}
