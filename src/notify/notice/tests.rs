//! What to say, between two snapshots and on the status clock.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::journal::release::{Decision, ReleaseAction, ReleaseEvent};

/// Minutes after 18:00 on the window's day (negative: before).
fn t(minutes: i64) -> Timestamp {
    let start: Timestamp = "2026-11-24T18:00:00Z".parse().unwrap();
    start + SignedDuration::from_secs(minutes * 60)
}

fn progress(prod: usize) -> Vec<ProgressFact> {
    [("dev", 2), ("qa", 2), ("prod", prod)]
        .into_iter()
        .map(|(e, at)| ProgressFact { environment: e.into(), at_target: at, planned: 2 })
        .collect()
}

/// GO, nothing firing, nothing recorded, window 18:00–20:00, prod 0/2.
fn snap(minutes: i64) -> Snapshot {
    Snapshot {
        at: t(minutes),
        release: "2026.11".into(),
        window: Some(Window { start: t(0), end: t(120) }),
        verdict: Verdict::Go,
        blocker_count: 0,
        blockers: vec![],
        unread: false,
        triggers: vec![
            trigger("payments", "prod", "error_rate", Level::Ok, "0.01"),
            trigger("checkout", "prod", "health", Level::Ok, "up"),
        ],
        decisions: vec![],
        signoffs: vec![],
        progress: progress(0),
    }
}

fn trigger(service: &str, env: &str, name: &str, level: Level, value: &str) -> TriggerFact {
    let measurement = if name == "health" {
        format!("health {value}")
    } else {
        format!("{name} {value} (baseline 0.004, fires ≥ 0.04)")
    };
    TriggerFact {
        service: service.into(),
        environment: env.into(),
        trigger: name.into(),
        level,
        value: Some(value.into()),
        baseline: (name != "health").then(|| "0.004".into()),
        threshold: (name != "health").then_some(0.04),
        measurement,
    }
}

fn no_go(mut s: Snapshot, blockers: usize) -> Snapshot {
    s.verdict = Verdict::NoGo;
    s.blocker_count = blockers;
    s.blockers = (1..=blockers).map(|i| format!("blocker {i}")).collect();
    s
}

fn firing(mut s: Snapshot, value: &str) -> Snapshot {
    s.triggers[0] = trigger("payments", "prod", "error_rate", Level::Firing, value);
    s
}

fn events(of: &[Notice]) -> Vec<NotifyEvent> {
    of.iter().map(|n| n.event).collect()
}

#[test]
fn the_first_snapshot_says_nothing_but_a_status() {
    // Plenty happened before flightdeck looked: none of it is announced.
    let mut past = no_go(firing(snap(30), "0.2"), 2);
    past.decisions.push(DecisionFact {
        id: "d1".into(),
        at: t(10),
        by: "carol".into(),
        decision: Decision::Go,
        reason: "ok".into(),
    });
    past.progress = progress(2);
    let notices = Notices::between(None, &past);
    assert_eq!(events(&notices), [NotifyEvent::Status]);
    let status = &notices[0];
    assert_eq!(status.summary, "2026.11 status: NO-GO (2 blockers) · dev 2/2 · qa 2/2 · prod 2/2");
    assert!(matches!(&status.details, Details::Status(d) if d.since.is_none() && d.changes.is_empty()));
    assert!(status.lines.iter().any(|l| l == "• blocker 1"), "{:?}", status.lines);
    // Outside the window: not even that.
    assert!(Notices::between(None, &snap(-30)).is_empty());
    assert!(Notices::between(None, &snap(130)).is_empty());
}

#[test]
fn nothing_changed_nothing_said() {
    assert!(Notices::between(Some(&snap(10)), &snap(11)).is_empty());
}

#[test]
fn a_changed_verdict_says_old_and_new_with_the_top_blockers() {
    let notices = Notices::between(Some(&snap(10)), &no_go(snap(11), 5));
    assert_eq!(events(&notices), [NotifyEvent::Verdict]);
    let n = &notices[0];
    assert_eq!(n.summary, "2026.11: verdict GO → NO-GO (5 blockers)");
    assert_eq!(n.lines, ["• blocker 1", "• blocker 2", "• blocker 3", "… and 2 more"]);
    assert_eq!(n.at, t(11));
    match &n.details {
        Details::Verdict(d) => {
            assert_eq!((d.from, d.to, d.blockers), (Verdict::Go, Verdict::NoGo, 5));
            assert_eq!(d.top_blockers.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    // And back: one notice again, no blockers to name.
    let back = Notices::between(Some(&no_go(snap(11), 5)), &snap(12));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].summary, "2026.11: verdict NO-GO → GO");
    assert!(back[0].lines.is_empty());
}

#[test]
fn a_trigger_fires_once_and_clears_once_naming_what_and_where() {
    let quiet = snap(10);
    let fired = firing(snap(11), "0.12");
    let notices = Notices::between(Some(&quiet), &fired);
    assert_eq!(events(&notices), [NotifyEvent::Trigger]);
    assert_eq!(
        notices[0].summary,
        "2026.11: rollback trigger FIRING: payments in prod: error_rate 0.12 (baseline 0.004, fires ≥ 0.04)"
    );
    match &notices[0].details {
        Details::Trigger(d) => {
            assert_eq!(d.state, TriggerChange::Firing);
            let t = &d.triggers[0];
            assert_eq!(
                (t.service.as_str(), t.environment.as_str(), t.trigger.as_str()),
                ("payments", "prod", "error_rate")
            );
            assert_eq!((t.value.as_deref(), t.threshold), (Some("0.12"), Some(0.04)));
        }
        other => panic!("{other:?}"),
    }
    // Still firing, another value: nothing new.
    assert!(Notices::between(Some(&fired), &firing(snap(12), "0.2")).is_empty());
    // Back under the threshold: cleared, with the value now.
    let mut calm = snap(13);
    calm.triggers[0] = trigger("payments", "prod", "error_rate", Level::Ok, "0.005");
    let cleared = Notices::between(Some(&firing(snap(12), "0.2")), &calm);
    assert_eq!(events(&cleared), [NotifyEvent::Trigger]);
    assert_eq!(
        cleared[0].summary,
        "2026.11: rollback trigger cleared: payments in prod: error_rate 0.005 (baseline 0.004, fires ≥ 0.04)"
    );
    assert!(matches!(&cleared[0].details, Details::Trigger(d) if d.state == TriggerChange::Cleared));
}

#[test]
fn several_triggers_firing_at_once_are_one_message_naming_each() {
    let mut both = firing(snap(11), "0.3");
    both.triggers[1] = trigger("checkout", "prod", "health", Level::Firing, "down");
    let notices = Notices::between(Some(&snap(10)), &both);
    assert_eq!(events(&notices), [NotifyEvent::Trigger]);
    assert_eq!(notices[0].summary, "2026.11: 2 rollback triggers FIRING");
    assert_eq!(
        notices[0].lines,
        ["• payments in prod: error_rate 0.3 (baseline 0.004, fires ≥ 0.04)", "• checkout in prod: health down"]
    );
}

fn decided(id: &str, at: Timestamp, decision: Decision) -> DecisionFact {
    DecisionFact { id: id.into(), at, by: "carol".into(), decision, reason: "all green, prod healthy".into() }
}

#[test]
fn a_new_decision_is_told_once_and_an_old_one_read_late_is_not() {
    let before = snap(10);
    let mut after = snap(11);
    after.decisions.push(decided("d1", t(11), Decision::Go));
    let notices = Notices::between(Some(&before), &after);
    assert_eq!(events(&notices), [NotifyEvent::Decision]);
    assert_eq!(notices[0].summary, "2026.11: decision GO by carol");
    assert_eq!(notices[0].lines, ["Reason: all green, prod healthy", "Verdict now: GO"]);
    assert!(matches!(&notices[0].details, Details::Decision(d) if d.decision == Decision::Go && d.by == "carol"));
    // Already known: nothing.
    let mut later = after.clone();
    later.at = t(12);
    assert!(Notices::between(Some(&after), &later).is_empty());
    // Recorded an hour before what was last seen (a journal read late): the past.
    later.decisions.push(decided("d0", t(-50), Decision::NoGo));
    assert!(Notices::between(Some(&after), &later).is_empty());
}

#[test]
fn a_new_sign_off_and_a_revocation_are_told() {
    let before = snap(10);
    let mut after = snap(11);
    after.signoffs.push(SignOffFact {
        id: "s1".into(),
        at: t(11),
        by: "alice".into(),
        role: "qa".into(),
        revoked: false,
        note: Some("regression suite green".into()),
    });
    let notices = Notices::between(Some(&before), &after);
    assert_eq!(events(&notices), [NotifyEvent::Signoff]);
    assert_eq!(notices[0].summary, "2026.11: qa signed off by alice");
    assert_eq!(notices[0].lines, ["Note: regression suite green"]);
    let mut revoked = after.clone();
    revoked.at = t(12);
    revoked.signoffs.push(SignOffFact {
        id: "s2".into(),
        at: t(12),
        by: "alice".into(),
        role: "qa".into(),
        revoked: true,
        note: None,
    });
    let notices = Notices::between(Some(&after), &revoked);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].summary, "2026.11: sign-off qa revoked by alice");
    assert!(matches!(&notices[0].details, Details::Signoff(d) if d.revoked));
}

#[test]
fn the_window_opening_and_the_last_environment_at_target_are_announced() {
    let start = Notices::between(Some(&snap(-1)), &snap(0));
    assert_eq!(events(&start), [NotifyEvent::Deployment]);
    assert_eq!(start[0].summary, "2026.11: deployment window open: 2 planned services; verdict GO");
    assert_eq!(start[0].lines[0], "window 2026-11-24 18:00–20:00 UTC (open, 2h left)");
    assert_eq!(start[0].lines[1], "Progress: dev 2/2 · qa 2/2 · prod 0/2");
    assert!(matches!(&start[0].details, Details::Deployment(d) if d.phase == Phase::Started));
    // Already open: not again.
    assert!(Notices::between(Some(&snap(0)), &snap(1)).is_empty());

    let mut half = snap(30);
    half.progress = progress(1);
    let mut done = snap(31);
    done.progress = progress(2);
    assert!(Notices::between(Some(&snap(29)), &half).is_empty());
    let finished = Notices::between(Some(&half), &done);
    assert_eq!(events(&finished), [NotifyEvent::Deployment]);
    assert_eq!(finished[0].summary, "2026.11: deployment finished: all 2 planned services run their target in prod");
    assert!(matches!(&finished[0].details, Details::Deployment(d) if d.phase == Phase::Finished));
    // Still finished: not again.
    let mut still = done.clone();
    still.at = t(32);
    assert!(Notices::between(Some(&done), &still).is_empty());
}

#[test]
fn status_updates_come_every_period_during_the_window_and_say_what_changed() {
    let mut clock = StatusClock::new(Duration::from_secs(20 * 60));
    // Before the window: none, and the count has not started.
    assert!(clock.due(&snap(-10)).is_none());
    // The window opens: the first update is one period away.
    assert!(clock.due(&snap(0)).is_none());
    assert!(clock.due(&snap(19)).is_none());
    let mut s20 = no_go(firing(snap(20), "0.1"), 1);
    s20.progress = progress(1);
    let first = clock.due(&s20).expect("due at 18:20");
    assert_eq!(first.event, NotifyEvent::Status);
    assert_eq!(first.summary, "2026.11 status: NO-GO (1 blocker) · dev 2/2 · qa 2/2 · prod 1/2");
    assert_eq!(
        first.lines,
        [
            "window 2026-11-24 18:00–20:00 UTC (open, 1h 40m left)",
            "• blocker 1",
            "Since the last update (20m ago):",
            "– verdict GO → NO-GO",
            "– blockers 0 → 1",
            "– prod 0/2 → 1/2",
            "– trigger firing: payments in prod: error_rate 0.1 (baseline 0.004, fires ≥ 0.04)",
        ]
    );
    match &first.details {
        Details::Status(d) => {
            assert_eq!(d.since, Some(t(0)));
            assert_eq!((d.verdict, d.blockers, d.changes.len()), (Verdict::NoGo, 1, 4));
        }
        other => panic!("{other:?}"),
    }
    // Not again until the next period; then "no change" is news too.
    let mut same = s20.clone();
    same.at = t(39);
    assert!(clock.due(&same).is_none());
    same.at = t(40);
    let second = clock.due(&same).expect("due at 18:40");
    assert!(second.lines.iter().any(|l| l == "Since the last update (20m ago):"), "{:?}", second.lines);
    assert!(second.lines.iter().any(|l| l == "– still firing: payments in prod (error_rate)"), "{:?}", second.lines);
    // After the window: none.
    assert!(clock.due(&snap(121)).is_none());
    assert!(clock.due(&snap(200)).is_none());
}

#[test]
fn a_quiet_period_says_no_change() {
    let mut clock = StatusClock::new(Duration::from_secs(15 * 60));
    clock.sent(&snap(5));
    let n = clock.due(&snap(20)).expect("due");
    assert_eq!(n.lines.last().map(String::as_str), Some("No change since the last update (15m ago)."));
}

#[test]
fn without_a_window_status_runs_while_the_release_is_under_way() {
    let mut s = snap(10);
    s.window = None;
    s.progress = vec![ProgressFact { environment: "dev".into(), at_target: 0, planned: 2 }];
    assert!(!s.status_wanted(), "not started");
    s.progress[0].at_target = 1;
    assert!(s.status_wanted(), "under way");
    s.progress[0].at_target = 2;
    assert!(!s.status_wanted(), "finished");
}

#[test]
fn texts_are_capped_and_clean() {
    let mut s = no_go(snap(11), 1);
    s.blockers = vec![format!("\u{1b}[31m{}", "x".repeat(1000))];
    let n = Notices::between(Some(&snap(10)), &s).remove(0);
    assert!(n.lines.iter().all(|l| l.chars().count() <= LINE_MAX && !l.contains('\u{1b}')), "{:?}", n.lines);
    s.release = "r".repeat(500);
    let n = Notices::between(Some(&snap(10)), &s).remove(0);
    assert_eq!(n.summary.chars().count(), SUMMARY_MAX, "{}", n.summary);
}

const FLEET: &str = r#"
[[environments]]
name = "qa"
[[environments]]
name = "prod"

[[services]]
name = "payments"
[[services]]
name = "checkout"

[release]
name = "2026.11"
window = { start = "2026-11-24T18:00:00Z", end = "2026-11-24T20:00:00Z" }
[release.targets]
payments = "1.4.0"
checkout = "2.1.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
"#;

#[test]
fn a_snapshot_keeps_what_the_engine_judged() {
    use std::sync::Arc;

    use crate::engine::{Engine, Scope};
    use crate::model::{CellKey, Evidence, Health, Reading, Role};
    use crate::poller::SourceUpdate;

    let config = crate::setup::from_toml_str(FLEET, "test").unwrap();
    let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
    let mut engine = Engine::for_config(&config, &active, None);
    let readings = [
        ("payments", "qa", "1.4.0", Health::Up),
        ("checkout", "qa", "2.1.0", Health::Down),
        ("payments", "prod", "1.4.0", Health::Up),
        ("checkout", "prod", "2.0.0", Health::Up),
    ];
    for (service, env, version, health) in readings {
        let cell =
            CellKey { service: engine.fleet.service_idx(service).unwrap(), env: engine.fleet.env_idx(env).unwrap() };
        engine.apply(SourceUpdate {
            source: Arc::from("endpoints"),
            evidence: Evidence::Running,
            role: Role::Deployment,
            cell,
            attempted_at: t(30),
            result: Ok(Reading { health: Some(health), ..Reading::version(version) }),
        });
    }
    let journal = vec![
        ReleaseEvent::new("alice", t(20), ReleaseAction::SignOff { role: "qa".into(), note: None }),
        ReleaseEvent::new("carol", t(25), ReleaseAction::Decision { decision: Decision::Go, reason: "ship".into() }),
        ReleaseEvent::new("bob", t(26), ReleaseAction::Tick { item: "smoke".into(), note: None }),
    ];
    let scope = Scope::all(&engine.fleet);
    let eval = engine.evaluate(t(31), &scope);
    let s = Snapshot::of(&eval, &journal, &engine.fleet);
    assert_eq!(s.at, t(31));
    assert_eq!(s.release, "2026.11");
    assert!(s.window_open());
    assert_eq!(s.verdict, Verdict::NoGo);
    assert_eq!(s.blocker_count, eval.judgement.blockers.len());
    assert!(!s.unread);
    assert_eq!(
        s.progress,
        [
            ProgressFact { environment: "qa".into(), at_target: 2, planned: 2 },
            ProgressFact { environment: "prod".into(), at_target: 1, planned: 2 }
        ]
    );
    let fired: Vec<(&str, &str, &str)> = s.firing().map(TriggerFact::key).collect();
    assert_eq!(fired, [("checkout", "qa", "health")]);
    assert_eq!(s.decisions.len(), 1);
    assert_eq!((s.decisions[0].by.as_str(), s.decisions[0].decision), ("carol", Decision::Go));
    assert_eq!(s.signoffs.len(), 1);
    assert_eq!((s.signoffs[0].role.as_str(), s.signoffs[0].revoked), ("qa", false));
    // The trigger as a channel hears it.
    let n = Notices::between(Some(&snap(30)), &s);
    let trigger = n.iter().find(|n| n.event == NotifyEvent::Trigger).expect("a trigger notice");
    assert!(
        trigger.summary.starts_with("2026.11: rollback trigger FIRING: checkout in qa: health"),
        "{}",
        trigger.summary
    );
}
