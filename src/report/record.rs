//! `flightdeck report`: the release record for audits and post-mortems.
//! Everything `check` says, plus who did what and when (the release
//! journal) and what changed where (the observation journal), as one
//! timeline.

use jiff::Timestamp;
use serde::Serialize;

use super::{CheckJson, View, check_json};
use crate::journal::ObservationEvent;
use crate::journal::release::ReleaseEvent;

#[derive(Debug, Serialize)]
struct RecordJson<'a> {
    #[serde(flatten)]
    check: CheckJson<'a>,
    /// Every tick, note, sign-off and decision, in order.
    release_events: &'a [ReleaseEvent],
    /// Version changes seen (first sightings left out), oldest first.
    changes: &'a [ObservationEvent],
    /// What the release brings to the last environment (its running
    /// version → the target), as `flightdeck changes --format json` gives
    /// it with at most 50 commits per service; `null` without `[changes]`
    /// or a release plan.
    release_changes: Option<super::changes::ChangesJson<'a>>,
}

/// The changes that belong to the release record, oldest first: first
/// sightings left out; with a window, from a day before it opens (the
/// T-24h phase) to a day after it closes.
pub(crate) fn changes_for(
    state: View<'_>,
    events: impl IntoIterator<Item = ObservationEvent>,
) -> Vec<ObservationEvent> {
    let day = jiff::SignedDuration::from_hours(24);
    let span = state.engine.fleet.release.as_ref().and_then(|r| r.window).map(|w| (w.start - day, w.end + day));
    let mut out: Vec<ObservationEvent> = events
        .into_iter()
        .filter(|e| e.old.is_some())
        .filter(|e| span.is_none_or(|(from, to)| e.at >= from && e.at <= to))
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

pub fn json(state: View<'_>, changes: &[ObservationEvent]) -> String {
    let shipping = super::changes::release(state.engine);
    let record = RecordJson {
        check: check_json(state),
        release_events: &state.engine.release_events,
        changes,
        release_changes: shipping.as_ref().map(|v| super::changes::changes_json(v, Some(super::changes::REPORT_CAP))),
    };
    serde_json::to_string_pretty(&record).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// One line of the timeline.
struct Entry {
    at: Timestamp,
    text: String,
    /// A go / no-go decision: how much of `text` says who decided what
    /// (what a reader looks for first, in bold in Markdown).
    decision: Option<usize>,
}

/// The release events and the version changes, oldest first.
fn timeline(state: View<'_>, changes: &[ObservationEvent]) -> Vec<Entry> {
    use crate::journal::release::ReleaseAction;
    let mut timeline: Vec<Entry> = state
        .engine
        .release_events
        .iter()
        .map(|e| {
            let text = release_event_text(e, state);
            // "carol decided GO": the part before the reason.
            let decision = match &e.action {
                ReleaseAction::Decision { reason, .. } => text.len().checked_sub(reason.len() + 2),
                _ => None,
            };
            Entry { at: e.at, text, decision }
        })
        .chain(changes.iter().map(|c| {
            let build = c.build.as_deref().map(|b| format!(" #{b}")).unwrap_or_default();
            Entry {
                at: c.at,
                text: format!(
                    "{} in {}: {} → {}{build} ({})",
                    c.service,
                    c.environment,
                    c.old.as_deref().unwrap_or("?"),
                    c.new,
                    c.source
                ),
                decision: None,
            }
        }))
        .collect();
    timeline.sort_by_key(|e| e.at);
    timeline
}

fn release_event_text(e: &ReleaseEvent, state: View<'_>) -> String {
    use crate::journal::release::{Decision, ReleaseAction};
    let title = |item: &str| {
        state.engine.template.as_ref().and_then(|t| t.item(item)).map_or(item.to_string(), |(_, i)| i.title.clone())
    };
    let note = |n: &Option<String>| n.as_ref().map(|n| format!(": {n}")).unwrap_or_default();
    match &e.action {
        ReleaseAction::Tick { item, note: n } => format!("{} ticked “{}”{}", e.by, title(item), note(n)),
        ReleaseAction::Untick { item, note: n } => format!("{} unticked “{}”{}", e.by, title(item), note(n)),
        ReleaseAction::Note { item: Some(item), text } => format!("{} noted on “{}”: {text}", e.by, title(item)),
        ReleaseAction::Note { item: None, text } => format!("{} noted: {text}", e.by),
        ReleaseAction::SignOff { role, note: n } => format!("{} signed off as {role}{}", e.by, note(n)),
        ReleaseAction::RevokeSignOff { role, note: n } => format!("{} revoked the {role} sign-off{}", e.by, note(n)),
        ReleaseAction::Decision { decision, reason } => {
            let d = if *decision == Decision::Go { "GO" } else { "NO-GO" };
            format!("{} decided {d}: {reason}", e.by)
        }
    }
}

pub fn markdown(state: View<'_>, operator: &str, changes: &[ObservationEvent]) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    let name = state.engine.fleet.release.as_ref().map_or("(no release plan)", |r| r.name.as_str());
    out.push_str(&format!("# Release record: {name}\n\n"));
    out.push_str(&format!(
        "Generated {} by flightdeck. Operator of this record: {}.\n\n",
        state.eval.now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        esc(operator)
    ));
    // The evaluation, as `check --format markdown` gives it (verdict,
    // blockers, findings, checklist with who and when, the matrix).
    let check = super::markdown(state);
    out.push_str(&check.replacen("## flightdeck check: ", "## State at the time: ", 1));
    if let Some(shipping) = super::changes::release(state.engine) {
        out.push('\n');
        out.push_str(super::changes::markdown_section(&shipping, "###", Some(super::changes::REPORT_CAP)).trim_end());
        out.push('\n');
    }
    out.push_str("\n### Timeline\n\n");
    let timeline = timeline(state, changes);
    if timeline.is_empty() {
        out.push_str("Nothing recorded yet.\n");
    } else {
        out.push_str("| time (UTC) | what |\n|---|---|\n");
        for e in timeline {
            let text = match e.decision.and_then(|at| e.text.split_at_checked(at)) {
                Some((who, rest)) => format!("**{}**{}", esc(who), esc(rest)),
                None => esc(&e.text),
            };
            out.push_str(&format!("| {} | {text} |\n", e.at.strftime("%Y-%m-%d %H:%M:%S")));
        }
    }
    out
}

/// The record as plain text, for a terminal or a log: the state as
/// `check` prints it, then the timeline, one event a line.
pub fn text(state: View<'_>, operator: &str, changes: &[ObservationEvent]) -> String {
    let clean = |s: &str| crate::sanitize::clean_to(s, 1000);
    let name = state.engine.fleet.release.as_ref().map_or("(no release plan)", |r| r.name.as_str());
    let mut out = format!(
        "release record: {}\ngenerated {} by flightdeck; operator of this record: {}\n\n",
        clean(name),
        state.eval.now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        clean(operator)
    );
    out.push_str(&super::text(state).replacen("flightdeck check · ", "state at the time · ", 1));
    if let Some(shipping) = super::changes::release(state.engine) {
        out.push_str(&format!("\nchanges {} → {}:\n", shipping.from, shipping.to));
        for line in super::changes::text_lines(&shipping, Some(super::changes::REPORT_CAP)) {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("\ntimeline (UTC):\n");
    let timeline = timeline(state, changes);
    if timeline.is_empty() {
        out.push_str("  nothing recorded yet\n");
    }
    for e in timeline {
        let mark = if e.decision.is_some() { "▶ " } else { "" };
        out.push_str(&format!("  {}  {mark}{}\n", e.at.strftime("%Y-%m-%d %H:%M:%S"), clean(&e.text)));
    }
    out
}
