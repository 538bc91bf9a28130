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
}

/// The changes that belong to the release record, oldest first: first
/// sightings left out; with a window, from a day before it opens (the
/// T-24h phase) to a day after it closes.
pub(crate) fn changes_for(state: View<'_>, events: Vec<ObservationEvent>) -> Vec<ObservationEvent> {
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
    let record = RecordJson { check: check_json(state), release_events: &state.engine.release_events, changes };
    serde_json::to_string_pretty(&record).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// One line of the timeline.
struct Entry {
    at: Timestamp,
    text: String,
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
            format!("**{} decided {d}**: {reason}", e.by)
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
    out.push_str("\n### Timeline\n\n");
    let mut timeline: Vec<Entry> = state
        .engine
        .release_events
        .iter()
        .map(|e| Entry { at: e.at, text: esc(&release_event_text(e, state)) })
        .chain(changes.iter().map(|c| {
            let build = c.build.as_deref().map(|b| format!(" #{b}")).unwrap_or_default();
            Entry {
                at: c.at,
                text: esc(&format!(
                    "{} in {}: {} → {}{build} ({})",
                    c.service,
                    c.environment,
                    c.old.as_deref().unwrap_or("?"),
                    c.new,
                    c.source
                )),
            }
        }))
        .collect();
    timeline.sort_by_key(|e| e.at);
    if timeline.is_empty() {
        out.push_str("Nothing recorded yet.\n");
    } else {
        out.push_str("| time (UTC) | what |\n|---|---|\n");
        for e in timeline {
            out.push_str(&format!("| {} | {} |\n", e.at.strftime("%Y-%m-%d %H:%M:%S"), e.text));
        }
    }
    out
}
