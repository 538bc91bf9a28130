//! The prompt popups of the checklist: a note, a sign-off (role, note,
//! confirmation), a go / no-go decision (choice, reason, confirmation).
//! They name the operator the journal will record.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::checklist::when;
use super::theme::Theme;
use super::{centered, fit};
use crate::app::keymap::{self, Action, KeyContext};
use crate::app::prompt::{DECISIONS, OperatorPrompt, Prompt, Step, decision_label};
use crate::app::state::AppState;
use crate::journal::release::{Decision, ReleaseAction};

const WIDTH: u16 = 76;

/// The popup's title and lines for a prompt, at an inner width.
pub fn lines(state: &AppState, prompt: &Prompt, width: usize, theme: &Theme) -> (String, Vec<Line<'static>>) {
    let op = &state.operator;
    // The keys this step takes, as the keymap binds them.
    let hint = Line::styled(keymap::hint_text(prompt.step.key_context(), prompt.step.hint_words()), theme.dim());
    let mut lines = Vec::new();
    let title = match &prompt.step {
        Step::Note { item } => {
            let on = match item {
                Some(id) => format!("“{}”", state.item_title(id)),
                None => "the release".to_string(),
            };
            lines.push(Line::from(vec![Span::raw("note on "), Span::styled(on, theme.title())]));
            lines.push(Line::styled(format!("recorded as {op}"), theme.dim()));
            lines.push(input(&prompt.text, width, theme));
            lines.push(problem(prompt, theme));
            lines.push(hint);
            " Note ".to_string()
        }
        Step::SignOffRole => {
            lines.push(Line::raw("Sign off for which role? Type to filter."));
            lines.push(input(&prompt.text, width, theme));
            let roles = state.matching_roles(&prompt.text);
            let role_w = roles.iter().map(|r| r.chars().count()).max().unwrap_or(0);
            for (i, role) in roles.iter().enumerate() {
                let (status, style) = role_status(state, role, theme);
                let mut line = Line::from(vec![
                    Span::raw(if i == prompt.choice { "▸ " } else { "  " }),
                    Span::styled(format!("{role:<role_w$}  "), theme.title()),
                    Span::styled(fit(&status, width.saturating_sub(role_w + 4)), style),
                ]);
                if i == prompt.choice {
                    line = line.patch_style(theme.selected());
                }
                lines.push(line);
            }
            lines.push(problem(prompt, theme));
            lines.push(hint);
            format!(" Sign off · as {op} ")
        }
        Step::SignOffNote { role } => {
            lines.push(Line::from(vec![Span::raw("Sign off as "), Span::styled(role.clone(), theme.title())]));
            lines.push(Line::raw("A note with it (optional):"));
            lines.push(input(&prompt.text, width, theme));
            lines.push(problem(prompt, theme));
            lines.push(hint);
            format!(" Sign off · as {op} ")
        }
        Step::DecisionPick => {
            lines.push(verdict_line(state, theme));
            lines.push(Line::raw(""));
            for (i, d) in DECISIONS.iter().enumerate() {
                let what = match d {
                    Decision::Go => "the release goes ahead",
                    Decision::NoGo => "the release stops here",
                };
                let mut line = Line::from(vec![
                    Span::raw(if i == prompt.choice { "▸ " } else { "  " }),
                    Span::styled(format!("{:<6} ", decision_label(*d)), decision_style(*d, theme)),
                    Span::raw(what),
                ]);
                if i == prompt.choice {
                    line = line.patch_style(theme.selected());
                }
                lines.push(line);
            }
            lines.push(problem(prompt, theme));
            lines.push(hint);
            format!(" Go / no-go decision · as {op} ")
        }
        Step::DecisionReason { decision } => {
            lines.push(Line::from(vec![
                Span::styled(decision_label(*decision), decision_style(*decision, theme)),
                Span::raw(": why? (required)"),
            ]));
            lines.push(input(&prompt.text, width, theme));
            lines.push(problem(prompt, theme));
            lines.push(hint);
            format!(" Go / no-go decision · as {op} ")
        }
        Step::Confirm(action) => {
            lines.extend(confirm_lines(state, action, width, theme));
            lines.push(Line::raw(""));
            lines.push(hint);
            " Confirm: this is binding ".to_string()
        }
    };
    (title, lines)
}

/// "Sign off as qa-lead, recorded as mei? y/n", and what comes with it.
fn confirm_lines(state: &AppState, action: &ReleaseAction, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let op = &state.operator;
    // "y/n": the first keys that confirm and cancel.
    let yn = format!(
        "{}/{}",
        keymap::key_for(KeyContext::Confirm, Action::Confirm),
        keymap::key_for(KeyContext::Confirm, Action::Cancel)
    );
    let question = |s: String| Line::styled(s, theme.title());
    let detail = |label: &str, text: &str| {
        Line::from(vec![
            Span::styled(format!("{label}: "), theme.dim()),
            Span::raw(fit(&text.replace('\n', " "), width.saturating_sub(label.len() + 2))),
        ])
    };
    let mut lines = Vec::new();
    match action {
        ReleaseAction::SignOff { role, note } => {
            lines.push(question(format!("Sign off as {role}, recorded as {op}? {yn}")));
            lines.push(detail("note", note.as_deref().unwrap_or("—")));
        }
        ReleaseAction::RevokeSignOff { role, .. } => {
            let by = state
                .eval
                .checklist
                .as_ref()
                .and_then(|c| c.manual.signoff(role))
                .map(|m| format!(" (signed by {} {})", m.by, when(state.now, m.at)))
                .unwrap_or_default();
            lines.push(question(format!("Revoke the {role} sign-off{by}, recorded as {op}? {yn}")));
        }
        ReleaseAction::Decision { decision, reason } => {
            let release = state.engine.fleet.release.as_ref().map(|r| format!(" for {}", r.name)).unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled("Decide ", theme.title()),
                Span::styled(decision_label(*decision), decision_style(*decision, theme)),
                Span::styled(format!("{release}, recorded as {op}? {yn}"), theme.title()),
            ]));
            lines.push(detail("reason", reason));
            let verdict = state.eval.judgement.verdict;
            if *decision == Decision::Go && verdict != crate::analysis::verdict::Verdict::Go {
                lines.push(Line::styled(
                    format!(
                        "! the cockpit says {} ({} blockers): a GO decision does not clear them",
                        verdict.as_str().to_uppercase(),
                        state.eval.judgement.blockers.len()
                    ),
                    theme.warn(),
                ));
            }
        }
        other => lines.push(question(format!("Record: {}? {yn}", state.describe(other)))),
    }
    lines
}

fn verdict_line(state: &AppState, theme: &Theme) -> Line<'static> {
    let j = &state.eval.judgement;
    let style = match j.verdict {
        crate::analysis::verdict::Verdict::Go => theme.verdict_go(),
        crate::analysis::verdict::Verdict::Hold => theme.verdict_hold(),
        crate::analysis::verdict::Verdict::NoGo => theme.verdict_no_go(),
    };
    Line::from(vec![
        Span::raw("The cockpit says "),
        Span::styled(format!(" {} ", j.verdict.as_str().to_uppercase()), style),
        Span::raw(match j.blockers.len() {
            0 => " with no blockers.".to_string(),
            1 => " with 1 blocker.".to_string(),
            n => format!(" with {n} blockers."),
        }),
    ])
}

fn role_status(state: &AppState, role: &str, theme: &Theme) -> (String, Style) {
    let Some(checklist) = &state.eval.checklist else {
        return (String::new(), Style::new());
    };
    match checklist.manual.signoff(role) {
        Some(m) => {
            let submit = keymap::key_for(KeyContext::PromptChoice, Action::Submit);
            (format!("signed by {} {} · {submit} revokes it", m.by, when(state.now, m.at)), theme.ok())
        }
        None => {
            let s = checklist.signoffs.iter().find(|s| s.role == role);
            match s.and_then(|s| s.due.map(|d| (d, s.overdue))) {
                Some((due, true)) => (format!("missing, overdue since {}", when(state.now, due)), theme.bad()),
                Some((due, false)) => (format!("missing · due {}", when(state.now, due)), theme.warn()),
                None => ("missing".to_string(), theme.warn()),
            }
        }
    }
}

fn decision_style(decision: Decision, theme: &Theme) -> Style {
    match decision {
        Decision::Go => theme.ok().patch(theme.title()),
        Decision::NoGo => theme.bad().patch(theme.title()),
    }
}

/// `> text▏`, the end of it when it is longer than the line.
fn input(text: &str, width: usize, theme: &Theme) -> Line<'static> {
    use unicode_width::UnicodeWidthChar;
    // "> ", a leading "…" when cut, the cursor.
    let room = width.saturating_sub(4);
    let mut shown: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            shown.push('…');
            break;
        }
        used += w;
        shown.push(c);
    }
    let shown: String = shown.into_iter().rev().collect();
    Line::from(vec![Span::styled("> ", theme.accent()), Span::raw(shown), Span::styled("▏", theme.accent())])
}

fn problem(prompt: &Prompt, theme: &Theme) -> Line<'static> {
    match &prompt.problem {
        Some(p) => Line::styled(format!("! {p}"), theme.bad()),
        None => Line::raw(""),
    }
}

pub fn render(frame: &mut Frame, area: Rect, state: &AppState, prompt: &Prompt, theme: &Theme) {
    let w = WIDTH.min(area.width.saturating_sub(2)).max(20.min(area.width));
    let (title, lines) = lines(state, prompt, w.saturating_sub(2) as usize, theme);
    let h = (lines.len() as u16 + 2).min(area.height);
    let area = centered(area, w, h);
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(Span::styled(title, theme.title())).border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The lines of the question asked once when nobody is named.
fn operator_lines(prompt: &OperatorPrompt, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    vec![
        Line::raw("Nobody is named: no `operator` in the config, no $USER, no $LOGNAME."),
        Line::raw("What you record is recorded under this name until you quit."),
        Line::raw(""),
        input(&prompt.text, width, theme),
        match &prompt.problem {
            Some(p) => Line::styled(format!("! {p}"), theme.bad()),
            None => Line::raw(""),
        },
        Line::styled(keymap::hint_text(KeyContext::PromptText, &[(Action::Submit, "goes on")]), theme.dim()),
    ]
}

/// Who is acting? Asked once, before the first thing recorded.
pub(crate) fn render_operator(frame: &mut Frame, area: Rect, prompt: &OperatorPrompt, theme: &Theme) {
    let w = WIDTH.min(area.width.saturating_sub(2)).max(20.min(area.width));
    let lines = operator_lines(prompt, w.saturating_sub(2) as usize, theme);
    let h = (lines.len() as u16 + 2).min(area.height);
    let area = centered(area, w, h);
    frame.render_widget(Clear, area);
    let block =
        Block::bordered().title(Span::styled(" Who is acting? ", theme.title())).border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::keymap::BINDINGS;

    const CONFIG: &str = r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
[[services]]
name = "payments"
[release]
name = "2026.11.1"
kind = "patch"
[release.targets]
payments = "1.4.1"
"#;

    fn state() -> AppState {
        let config = crate::setup::from_toml_str(CONFIG, "test").unwrap();
        let template = crate::checklist::resolve(&config.fleet, None).unwrap();
        let now = "2026-11-24T12:00:00Z".parse().unwrap();
        let mut s = AppState::new(crate::engine::Engine::new(config.fleet.clone(), Vec::new(), template), now);
        s.operator = "tester".into();
        s.reanalyze();
        s
    }

    fn text_of(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn every_prompt_hints_the_keys_its_context_binds() {
        let s = state();
        let steps = [
            Step::Note { item: None },
            Step::SignOffRole,
            Step::SignOffNote { role: "tech-lead".into() },
            Step::DecisionPick,
            Step::DecisionReason { decision: Decision::Go },
            Step::Confirm(ReleaseAction::SignOff { role: "tech-lead".into(), note: None }),
        ];
        for step in steps {
            let context = step.key_context();
            let prompt = Prompt { step: step.clone(), text: String::new(), choice: 0, problem: None };
            let (_, lines) = lines(&s, &prompt, 74, &Theme::new(false));
            let hint = text_of(&lines).pop().unwrap();
            assert_eq!(hint, keymap::hint_text(context, step.hint_words()), "{step:?}");
            // What goes on names the key the table binds it to, and so does
            // what cancels.
            let go_on = if context == KeyContext::Confirm { Action::Confirm } else { Action::Submit };
            let binding = BINDINGS.iter().find(|b| b.context == context && b.action == go_on).unwrap();
            assert!(hint.starts_with(&binding.label()) || hint.contains(&format!(" {} ", binding.label())), "{hint}");
            assert!(hint.contains(&keymap::key_for(context, Action::Cancel)), "{hint}");
        }
    }

    #[test]
    fn the_note_prompt_says_enter_records() {
        let s = state();
        let prompt = Prompt { step: Step::Note { item: None }, text: String::new(), choice: 0, problem: None };
        let (_, lines) = lines(&s, &prompt, 74, &Theme::new(false));
        let submit = keymap::keys_for(KeyContext::PromptText, Action::Submit);
        assert_eq!(submit, "Enter");
        assert_eq!(text_of(&lines).pop().unwrap(), format!("{submit} records · Backspace deletes · Esc cancels"));
    }

    #[test]
    fn a_confirmation_asks_with_the_keys_that_answer_it() {
        let s = state();
        let step = Step::Confirm(ReleaseAction::SignOff { role: "tech-lead".into(), note: None });
        let prompt = Prompt { step, text: String::new(), choice: 0, problem: None };
        let (_, lines) = lines(&s, &prompt, 74, &Theme::new(false));
        let yes = keymap::key_for(KeyContext::Confirm, Action::Confirm);
        let no = keymap::key_for(KeyContext::Confirm, Action::Cancel);
        assert_eq!((yes.as_str(), no.as_str()), ("y", "n"));
        assert_eq!(text_of(&lines)[0], format!("Sign off as tech-lead, recorded as tester? {yes}/{no}"));
    }
}
