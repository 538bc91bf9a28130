//! The bodies a webhook receives. Pure: a [`Notice`] in, JSON out. The
//! texts are the notice's own (plain, cleaned and capped where the notice
//! was made); nothing here reads a secret, so no body can carry one.

use serde_json::{Value, json};

use super::config::NotifyKind;
use super::notice::Notice;

/// Slack's limit for a section's text; the fallback text keeps to it too.
const SLACK_TEXT_MAX: usize = 3000;

/// The body for a webhook of `kind`.
pub fn body(kind: NotifyKind, notice: &Notice) -> Value {
    match kind {
        NotifyKind::Slack => slack(notice),
        NotifyKind::Webhook => webhook(notice),
    }
}

/// A Slack-compatible incoming-webhook message (Mattermost and many chat
/// tools take the same):
///
/// ```json
/// {
///   "text": "2026.11: verdict NO-GO → GO\n• …",
///   "blocks": [
///     {"type": "section", "text": {"type": "plain_text", "text": "2026.11: verdict NO-GO → GO"}},
///     {"type": "section", "text": {"type": "plain_text", "text": "• …\n• …"}},
///     {"type": "context", "elements": [{"type": "plain_text", "text": "flightdeck · verdict · 2026-11-24 18:42 UTC"}]}
///   ]
/// }
/// ```
///
/// `text` is the plain-text fallback (notifications, tools without
/// blocks), with `&`, `<` and `>` escaped so that nothing in it becomes a
/// link or an `@channel` mention; the blocks are `plain_text`, never
/// `mrkdwn`, for the same reason.
pub fn slack(notice: &Notice) -> Value {
    let detail = cap(&notice.lines.join("\n"), SLACK_TEXT_MAX);
    let fallback = if detail.is_empty() { notice.summary.clone() } else { format!("{}\n{detail}", notice.summary) };
    let mut blocks = vec![json!({"type": "section", "text": {"type": "plain_text", "text": notice.summary}})];
    if !detail.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "plain_text", "text": detail}}));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "plain_text",
            "text": format!("flightdeck · {} · {}", notice.event, notice.at.strftime("%Y-%m-%d %H:%M UTC")),
        }],
    }));
    json!({"text": cap(&escape(&fallback), SLACK_TEXT_MAX), "blocks": blocks})
}

/// flightdeck's own JSON (`kind = "webhook"`), one object per notice:
///
/// ```json
/// {
///   "schema": 1,
///   "event": "verdict",            // verdict | trigger | decision | signoff | status | deployment
///   "release": "2026.11",
///   "at": "2026-11-24T18:42:00Z",  // when it was judged (RFC 3339)
///   "summary": "2026.11: verdict NO-GO → GO",
///   "lines": ["• …"],              // the detail lines, plain text
///   "details": { … }               // per event, below
/// }
/// ```
///
/// `details` per `event`:
/// - `verdict`: `{"from": "no-go", "to": "go", "blockers": 0, "top_blockers": ["…"]}`
/// - `trigger`: `{"state": "firing" | "cleared", "triggers": [{"service", "environment",
///   "trigger", "value", "baseline", "threshold"}]}` (values as text, `threshold` a number or null)
/// - `decision`: `{"decision": "go" | "no-go", "by", "reason", "decided_at"}`
/// - `signoff`: `{"role", "by", "revoked": false, "note", "signed_at"}`
/// - `status`: `{"verdict", "blockers", "top_blockers", "progress": [{"environment",
///   "at_target", "planned"}], "window": {"start", "end"} | null, "since": time | null,
///   "changes": ["prod 1/3 → 3/3", …]}`
/// - `deployment`: `{"phase": "started" | "finished", "verdict", "blockers", "progress", "window"}`
///
/// Keys are only ever added; a receiver should ignore the ones it does not know.
pub fn webhook(notice: &Notice) -> Value {
    json!({
        "schema": 1,
        "event": notice.event,
        "release": notice.release,
        "at": notice.at,
        "summary": notice.summary,
        "lines": notice.lines,
        "details": notice.details,
    })
}

/// Slack's three control characters in message text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// At most `max` characters, an ellipsis marking the cut.
fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict::Verdict;
    use crate::notify::config::NotifyEvent;
    use crate::notify::notice::{Details, VerdictDetails};

    fn notice(lines: Vec<String>) -> Notice {
        Notice {
            event: NotifyEvent::Verdict,
            release: "2026.11".into(),
            at: "2026-11-24T18:42:00Z".parse().unwrap(),
            summary: "2026.11: verdict NO-GO → GO <!channel> & co".into(),
            lines,
            details: Details::Verdict(VerdictDetails {
                from: Verdict::NoGo,
                to: Verdict::Go,
                blockers: 0,
                top_blockers: vec![],
            }),
        }
    }

    #[test]
    fn slack_has_a_plain_fallback_and_plain_text_blocks_that_mention_nobody() {
        let body = slack(&notice(vec!["• one".into(), "• two".into()]));
        let text = body["text"].as_str().unwrap();
        assert_eq!(text, "2026.11: verdict NO-GO → GO &lt;!channel&gt; &amp; co\n• one\n• two");
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], "2026.11: verdict NO-GO → GO <!channel> & co");
        assert_eq!(blocks[1]["text"]["text"], "• one\n• two");
        assert_eq!(blocks[2]["elements"][0]["text"], "flightdeck · verdict · 2026-11-24 18:42 UTC");
        // No detail lines: no empty section (Slack refuses one).
        assert_eq!(slack(&notice(vec![]))["blocks"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn slack_texts_keep_to_its_limits() {
        let long: Vec<String> = (0..12).map(|i| format!("{i} {}", "x".repeat(298))).collect();
        let body = slack(&notice(long));
        assert!(body["blocks"][1]["text"]["text"].as_str().unwrap().chars().count() <= SLACK_TEXT_MAX);
        assert_eq!(body["text"].as_str().unwrap().chars().count(), SLACK_TEXT_MAX);
    }

    #[test]
    fn the_webhook_shape() {
        let body = webhook(&notice(vec!["• one".into()]));
        assert_eq!(body["schema"], 1);
        assert_eq!(body["event"], "verdict");
        assert_eq!(body["release"], "2026.11");
        assert_eq!(body["at"], "2026-11-24T18:42:00Z");
        assert_eq!(body["lines"][0], "• one");
        assert_eq!(body["details"], json!({"from": "no-go", "to": "go", "blockers": 0, "top_blockers": []}));
    }
}
