//! The judgement the engine owns: the first sweep, the firing latch and
//! the bell, the scope, and the checklist's view of a failing trigger query.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::analysis::rollback::TriggerState;
use crate::checklist::{Status, Truth};
use crate::model::{Health, Metric, MetricValue, Reading, Role};
use crate::sources::FetchError;

const FIRST_SWEEP: &str = "first sweep not complete: not every cell has been read yet";
const TWO_SERIES: &str = "up: query returned 2 series; aggregate it with sum() or max()";

fn t0() -> Timestamp {
    "2026-11-24T18:30:00Z".parse().unwrap()
}

/// `secs` after 18:30:00.
fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

/// An engine for a config, with a checklist template parsed against its fleet.
fn engine(config: &str, template: Option<&str>) -> Engine {
    let config = crate::setup::from_toml_str(config, "test").unwrap();
    let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
    let template = template.map(|t| crate::checklist::template::parse(t, "t", &config.fleet).unwrap());
    Engine::for_config(&config, &active, template)
}

fn key(e: &Engine, service: &str, env: &str) -> CellKey {
    CellKey { service: e.fleet.service_idx(service).unwrap(), env: e.fleet.env_idx(env).unwrap() }
}

/// What `endpoints` (an http source) read for a cell.
fn deployed(e: &Engine, service: &str, env: &str, version: &str, health: Health, when: Timestamp) -> SourceUpdate {
    SourceUpdate {
        source: Arc::from("endpoints"),
        evidence: Evidence::Running,
        role: Role::Deployment,
        cell: key(e, service, env),
        attempted_at: when,
        result: Ok(Reading { health: Some(health), ..Reading::version(version) }),
    }
}

/// What `prom` (a prometheus source) answered for the `up` query of a cell.
fn up_metric(e: &Engine, service: &str, env: &str, result: Result<MetricValue, &str>, when: Timestamp) -> SourceUpdate {
    SourceUpdate {
        source: Arc::from("prom"),
        evidence: Evidence::Declared,
        role: Role::Metrics,
        cell: key(e, service, env),
        attempted_at: when,
        result: result
            .map(|v| Reading { metrics: vec![Metric::new("up", v)], ..Reading::default() })
            .map_err(|m| FetchError::Field(m.to_string())),
    }
}

fn blocker(reason: BlockerReason, message: &str) -> Blocker {
    Blocker { reason, message: message.to_string() }
}

fn everything(e: &mut Engine, now: Timestamp) -> Evaluation {
    let scope = Scope::all(&e.fleet);
    e.evaluate(now, &scope)
}

/// (kind, environment, message) of every finding, in the evaluation's order.
fn findings_of(e: &Engine, ev: &Evaluation) -> Vec<(FindingKind, String, String)> {
    ev.findings.iter().map(|f| (f.kind, e.fleet.environments[f.cell.env].name.to_string(), f.message.clone())).collect()
}

fn up_trigger(ev: &Evaluation) -> &TriggerState {
    ev.rollback
        .triggers
        .iter()
        .find(|t| &*t.name == "up")
        .unwrap_or_else(|| panic!("no `up` trigger: {:?}", ev.rollback))
}

// ---------------------------------------------------------------------------
// a. The first sweep

const ONE_SOURCE_TWO_CELLS: &str = r#"
[[environments]]
name = "qa"
[[environments]]
name = "prod"

[[services]]
name = "payments"

[release]
name = "2026.11"
[release.targets]
payments = "1.4.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
"#;

#[test]
fn the_first_sweep_holds_the_verdict_until_every_polled_cell_was_read() {
    let mut e = engine(ONE_SOURCE_TWO_CELLS, None);
    assert_eq!(e.polled_cells(), 2);

    let ev = everything(&mut e, at(0));
    assert_eq!(ev.judgement.verdict, Verdict::Hold);
    assert_eq!(ev.judgement.blockers, vec![blocker(BlockerReason::Unread, FIRST_SWEEP)]);

    // One cell of two: at target, healthy, nothing found; still not GO.
    let qa = deployed(&e, "payments", "qa", "1.4.0", Health::Up, at(1));
    e.apply(qa);
    let ev = everything(&mut e, at(2));
    assert_eq!(findings_of(&e, &ev), vec![]);
    assert_eq!(ev.judgement.verdict, Verdict::Hold, "{:?}", ev.judgement.blockers);
    assert_eq!(ev.judgement.blockers, vec![blocker(BlockerReason::Unread, FIRST_SWEEP)]);

    // Both read, both at target: the blocker is gone and nothing else holds.
    let prod = deployed(&e, "payments", "prod", "1.4.0", Health::Up, at(3));
    e.apply(prod);
    let ev = everything(&mut e, at(4));
    assert_eq!(findings_of(&e, &ev), vec![]);
    assert_eq!(ev.judgement.blockers, vec![]);
    assert_eq!(ev.judgement.verdict, Verdict::Go);
    assert_eq!(ev.progress.iter().map(|p| p.at_target).collect::<Vec<_>>(), vec![1, 1]);
}

#[test]
fn a_failed_first_attempt_ends_the_first_sweep_and_the_cell_says_why() {
    let mut e = engine(ONE_SOURCE_TWO_CELLS, None);
    let qa = deployed(&e, "payments", "qa", "1.4.0", Health::Up, at(1));
    e.apply(qa);
    let mut prod = deployed(&e, "payments", "prod", "1.4.0", Health::Up, at(2));
    prod.result = Err(FetchError::Timeout(std::time::Duration::from_secs(3)));
    e.apply(prod);
    let ev = everything(&mut e, at(3));
    let blockers = &ev.judgement.blockers;
    assert!(blockers.iter().all(|b| b.message != FIRST_SWEEP), "{blockers:?}");
    assert_eq!(blockers.len(), 1, "{blockers:?}");
    assert_eq!(blockers[0].reason, BlockerReason::Unread);
    assert!(
        blockers[0].message.starts_with("cannot tell whether payments runs 1.4.0 in prod: never read: "),
        "{}",
        blockers[0].message
    );
    assert_eq!(ev.judgement.verdict, Verdict::Hold);
    assert_eq!(ev.mark(key(&e, "payments", "prod")), Some(FindingKind::Unreachable));
    assert_eq!(ev.mark(key(&e, "payments", "qa")), None);
}

// ---------------------------------------------------------------------------
// b. The firing latch and the bell

const UP_TRIGGER: &str = r#"
[[environments]]
name = "prod"

[[services]]
name = "payments"
rollback = "deployctl rollback {service} --to {previous}"

[release]
name = "2026.11"
[release.targets]
payments = "1.4.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"

[[sources]]
name = "prom"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
[sources.queries]
up = 'up{job="{service}"}'

[[rollback.triggers]]
metric = "up"
above = 0.5
"#;

#[test]
fn a_firing_trigger_that_loses_its_data_stays_firing_and_rings_once() {
    let mut e = engine(UP_TRIGGER, None);
    assert_eq!(e.polled_cells(), 2);
    let running = deployed(&e, "payments", "prod", "1.4.0", Health::Up, at(0));
    e.apply(running);
    let low = up_metric(&e, "payments", "prod", Ok(MetricValue::Number(0.1)), at(1));
    e.apply(low);
    let ev = everything(&mut e, at(2));
    let up = up_trigger(&ev);
    assert_eq!((up.state, up.live, up.threshold), (Level::Ok, Some(MetricValue::Number(0.1)), Some(0.5)));
    assert_eq!(ev.judgement.verdict, Verdict::Go, "{:?}", ev.judgement.blockers);
    assert!(!e.take_bell(), "nothing fired");

    // At the threshold: firing, NO-GO, and the bell rings exactly once.
    let high = up_metric(&e, "payments", "prod", Ok(MetricValue::Number(0.9)), at(10));
    e.apply(high);
    let ev = everything(&mut e, at(11));
    assert_eq!(up_trigger(&ev).state, Level::Firing);
    assert_eq!(ev.judgement.verdict, Verdict::NoGo);
    assert_eq!(
        ev.judgement.blockers,
        vec![blocker(BlockerReason::Trigger, "rollback trigger firing: payments in prod: up 0.9 (fires ≥ 0.5)")]
    );
    assert!(e.take_bell(), "a trigger started firing");
    assert!(!e.take_bell(), "the bell is taken once");
    // Still firing at the next evaluation: no new ring.
    let ev = everything(&mut e, at(12));
    assert_eq!(up_trigger(&ev).state, Level::Firing);
    assert!(!e.take_bell(), "the same firing does not ring again");

    // The series vanished (the service died): it stays firing, and says so.
    let gone = up_metric(&e, "payments", "prod", Ok(MetricValue::NoData), at(20));
    e.apply(gone);
    let ev = everything(&mut e, at(21));
    let up = up_trigger(&ev);
    assert_eq!(up.state, Level::Firing, "{up:?}");
    assert!(up.note.starts_with("was firing, no data now"), "{}", up.note);
    assert_eq!(up.note, "was firing, no data now (no data)");
    assert_eq!(up.live, Some(MetricValue::NoData));
    assert_eq!(ev.rollback.firing().count(), 1);
    assert_eq!(ev.judgement.verdict, Verdict::NoGo);
    assert_eq!(
        ev.judgement.blockers.iter().map(|b| b.reason).collect::<Vec<_>>(),
        vec![BlockerReason::Trigger],
        "{:?}",
        ev.judgement.blockers
    );
    assert!(!e.take_bell(), "still the same firing");

    // A value under the threshold clears it.
    let fine = up_metric(&e, "payments", "prod", Ok(MetricValue::Number(0.1)), at(30));
    e.apply(fine);
    let ev = everything(&mut e, at(31));
    assert_eq!(up_trigger(&ev).state, Level::Ok);
    assert_eq!(ev.rollback.firing().count(), 0);
    assert_eq!(ev.judgement.verdict, Verdict::Go, "{:?}", ev.judgement.blockers);
    assert!(!e.take_bell());

    // Cleared, the latch is gone: no data now is only no data.
    let gone = up_metric(&e, "payments", "prod", Ok(MetricValue::NoData), at(40));
    e.apply(gone);
    let ev = everything(&mut e, at(41));
    let up = up_trigger(&ev);
    assert_eq!((up.state, up.note.as_ref()), (Level::NoData, "no data"));
    assert!(!e.take_bell());

    // Firing again rings again.
    let again = up_metric(&e, "payments", "prod", Ok(MetricValue::Number(0.7)), at(50));
    e.apply(again);
    let ev = everything(&mut e, at(51));
    assert_eq!(up_trigger(&ev).state, Level::Firing);
    assert!(e.take_bell(), "a new firing rings");
    assert!(!e.take_bell());
}

#[test]
fn no_data_without_an_earlier_firing_is_not_firing() {
    let mut e = engine(UP_TRIGGER, None);
    let running = deployed(&e, "payments", "prod", "1.4.0", Health::Up, at(0));
    e.apply(running);
    let gone = up_metric(&e, "payments", "prod", Ok(MetricValue::NoData), at(1));
    e.apply(gone);
    let ev = everything(&mut e, at(2));
    let up = up_trigger(&ev);
    assert_eq!((up.state, up.note.as_ref()), (Level::NoData, "no data"));
    assert_eq!(ev.rollback.firing().count(), 0);
    assert!(!e.take_bell());
}

// ---------------------------------------------------------------------------
// c. The scope

const THREE_ENVS: &str = r#"
[[environments]]
name = "dev"
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
[release.targets]
payments = "1.4.0"
checkout = "2.1.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
"#;

const QA_AND_PROD_ITEMS: &str = r#"
name = "t"
[[phases]]
id = "p"
title = "P"
due = "-1h"
[[phases.items]]
id = "qa-clean"
title = "QA clean"
role = "qa"
condition = "no_findings(qa)"
[[phases.items]]
id = "prod-deployed"
title = "Prod deployed"
role = "devops"
condition = "deployed(prod)"
"#;

/// checkout is down in qa (unhealthy, its health trigger fires) and still
/// on 2.0.0 in prod (missing); payments is at target everywhere.
fn qa_and_prod_problems() -> Engine {
    let mut e = engine(THREE_ENVS, Some(QA_AND_PROD_ITEMS));
    let readings = [
        ("payments", "dev", "1.4.0", Health::Up),
        ("checkout", "dev", "2.1.0", Health::Up),
        ("payments", "qa", "1.4.0", Health::Up),
        ("checkout", "qa", "2.1.0", Health::Down),
        ("payments", "prod", "1.4.0", Health::Up),
        ("checkout", "prod", "2.0.0", Health::Up),
    ];
    for (i, (service, env, version, health)) in readings.into_iter().enumerate() {
        let u = deployed(&e, service, env, version, health, at(i as i64));
        e.apply(u);
    }
    e
}

const MISSING_IN_PROD: &str = "checkout is not at 2.1.0 in prod (runs 2.0.0)";
const DOWN_IN_QA: &str = "checkout in qa reports health down (endpoints)";

fn trigger_rows(ev: &Evaluation) -> Vec<(String, String, String, Level)> {
    ev.rollback
        .triggers
        .iter()
        .map(|t| (t.service.to_string(), t.environment.to_string(), t.name.to_string(), t.state))
        .collect()
}

fn row(service: &str, env: &str, name: &str, state: Level) -> (String, String, String, Level) {
    (service.to_string(), env.to_string(), name.to_string(), state)
}

#[test]
fn a_scope_limits_findings_rollback_and_blockers_but_not_the_checklist() {
    let mut e = qa_and_prod_problems();
    let (qa, prod) = (e.fleet.env_idx("qa").unwrap(), e.fleet.env_idx("prod").unwrap());
    let full = everything(&mut e, at(10));
    assert!(!full.scope.is_limited());
    assert_eq!(
        findings_of(&e, &full),
        vec![
            (FindingKind::Missing, "prod".to_string(), MISSING_IN_PROD.to_string()),
            (FindingKind::Unhealthy, "qa".to_string(), DOWN_IN_QA.to_string()),
        ]
    );
    assert_eq!(
        trigger_rows(&full),
        vec![
            row("payments", "prod", "health", Level::Ok),
            row("payments", "qa", "health", Level::Ok),
            row("payments", "dev", "health", Level::Ok),
            row("checkout", "qa", "health", Level::Firing),
            row("checkout", "dev", "health", Level::Ok),
        ]
    );
    assert_eq!(full.rollback.envs, vec![prod, qa, 0]);
    assert_eq!(full.judgement.verdict, Verdict::NoGo);
    assert_eq!(
        full.judgement.blockers,
        vec![
            blocker(BlockerReason::Trigger, "rollback trigger firing: checkout in qa: health down"),
            blocker(BlockerReason::Finding, MISSING_IN_PROD),
            blocker(BlockerReason::Finding, DOWN_IN_QA),
            blocker(BlockerReason::Pending, "QA clean (qa)"),
            blocker(BlockerReason::Pending, "Prod deployed (devops)"),
        ]
    );
    assert_eq!(full.mark(key(&e, "checkout", "qa")), Some(FindingKind::Unhealthy));
    assert!(e.take_bell(), "checkout's health fired in qa");

    // Only prod: the qa finding, its trigger and its blockers are left out.
    let scope = Scope::new(&e.fleet, vec![prod]);
    let only_prod = e.evaluate(at(11), &scope);
    assert!(only_prod.scope.is_limited() && only_prod.scope.includes(prod) && !only_prod.scope.includes(qa));
    assert_eq!(
        findings_of(&e, &only_prod),
        vec![(FindingKind::Missing, "prod".to_string(), MISSING_IN_PROD.to_string())]
    );
    assert_eq!(trigger_rows(&only_prod), vec![row("payments", "prod", "health", Level::Ok)]);
    assert_eq!(only_prod.rollback.envs, vec![prod]);
    for s in &only_prod.rollback.services {
        let envs: Vec<&str> = s.environments.iter().map(|x| x.environment.as_ref()).collect();
        assert_eq!(envs, vec!["prod"], "{}", s.name);
    }
    assert_eq!(only_prod.rollback.services.len(), 2);
    assert_eq!(only_prod.mark(key(&e, "checkout", "qa")), None);
    assert_eq!(only_prod.mark(key(&e, "checkout", "prod")), Some(FindingKind::Missing));
    // The checklist still reads the whole fleet: qa's finding keeps its
    // item false, and that item still holds the call.
    let checklist = only_prod.checklist.as_ref().expect("the release has a checklist");
    let qa_clean = checklist.item("qa-clean").unwrap();
    assert_eq!(qa_clean.condition, Some(Truth::False("1 finding in qa: unhealthy checkout".into())));
    assert_eq!(qa_clean.status, Status::Pending);
    assert_eq!(
        checklist.item("prod-deployed").unwrap().condition,
        Some(Truth::False("1/2 at target in prod; not yet: checkout (target 2.1.0)".into()))
    );
    assert_eq!(only_prod.judgement.verdict, Verdict::NoGo);
    assert_eq!(
        only_prod.judgement.blockers,
        vec![
            blocker(BlockerReason::Finding, MISSING_IN_PROD),
            blocker(BlockerReason::Pending, "QA clean (qa)"),
            blocker(BlockerReason::Pending, "Prod deployed (devops)"),
        ]
    );
    // A scoped evaluation does not forget what fires elsewhere: the next
    // full one does not ring again, and still has the qa finding.
    assert!(!e.take_bell());
    let full_again = everything(&mut e, at(12));
    assert!(!e.take_bell(), "the qa trigger was firing all along");
    assert_eq!(findings_of(&e, &full_again), findings_of(&e, &full));
    assert_eq!(full_again.judgement, full.judgement);
}

// ---------------------------------------------------------------------------
// d. A failing trigger query and the checklist

const STAGING_AND_PROD: &str = r#"
[[environments]]
name = "staging"
[[environments]]
name = "prod"

[[services]]
name = "payments"
rollback = "deployctl rollback {service} --to {previous}"

[release]
name = "2026.11"
[release.targets]
payments = "1.4.0"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"

[[sources]]
name = "prom"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
[sources.queries]
up = 'up{job="{service}",env="{env}"}'

[[rollback.triggers]]
metric = "up"
above = 0.5
"#;

const TRIGGERS_CLEAR: &str = "name = \"t\"\n[[phases]]\nid = \"p\"\ntitle = \"P\"\ndue = \"-1h\"\n\
     [[phases.items]]\nid = \"clear\"\ntitle = \"Triggers clear\"\nrole = \"devops\"\ncondition = \"triggers_clear(prod)\"\n\
     [[phases.items]]\nid = \"clear-staging\"\ntitle = \"Triggers clear in staging\"\nrole = \"devops\"\n\
     condition = \"triggers_clear(staging)\"\n";

#[test]
fn a_failing_trigger_query_leaves_triggers_clear_unknown_and_the_verdict_not_go() {
    let mut e = engine(STAGING_AND_PROD, Some(TRIGGERS_CLEAR));
    assert_eq!(e.polled_cells(), 4);
    let updates = [
        deployed(&e, "payments", "staging", "1.4.0", Health::Up, at(0)),
        deployed(&e, "payments", "prod", "1.4.0", Health::Up, at(1)),
        up_metric(&e, "payments", "staging", Ok(MetricValue::Number(0.0)), at(2)),
        up_metric(&e, "payments", "prod", Err(TWO_SERIES), at(3)),
    ];
    for u in updates {
        e.apply(u);
    }
    let ev = everything(&mut e, at(4));
    let checklist = ev.checklist.as_ref().expect("the release has a checklist");
    let clear = checklist.item("clear").unwrap();
    assert_eq!(
        clear.condition,
        Some(Truth::Unknown(format!("query failing in prod for payments up: {TWO_SERIES}: check by hand")))
    );
    assert_eq!(clear.status, Status::Pending, "nobody ticked it by hand");
    assert_eq!(
        checklist.item("clear-staging").unwrap().condition,
        Some(Truth::True("2 triggers clear in staging".into()))
    );
    let up = ev.rollback.triggers.iter().find(|t| &*t.name == "up" && &*t.environment == "prod").unwrap();
    assert_eq!((up.state, up.error.as_deref()), (Level::NoData, Some(TWO_SERIES)));
    assert_ne!(ev.judgement.verdict, Verdict::Go);
    assert_eq!(ev.judgement.verdict, Verdict::Hold);
    assert_eq!(
        ev.judgement.blockers,
        vec![
            blocker(
                BlockerReason::TriggerError,
                &format!("cannot tell whether rollback trigger up fires: payments in prod: {TWO_SERIES}")
            ),
            blocker(BlockerReason::Pending, "Triggers clear (devops)"),
        ]
    );

    // The query answers again: the item is ticked by its condition, GO.
    let answered = up_metric(&e, "payments", "prod", Ok(MetricValue::Number(0.0)), at(10));
    e.apply(answered);
    let ev = everything(&mut e, at(11));
    let clear = ev.checklist.as_ref().unwrap().item("clear").unwrap();
    assert_eq!(clear.condition, Some(Truth::True("2 triggers clear in prod".into())));
    assert_eq!(clear.status, Status::Done);
    assert_eq!(ev.judgement.blockers, vec![]);
    assert_eq!(ev.judgement.verdict, Verdict::Go);
}

// ---------------------------------------------------------------------------
// i. Judging only what changed is the full judgement

/// Four services (three planned, one of them with an irreversible
/// migration), three environments (two go stale after a minute), two
/// deployment sources that can disagree, a metrics source for a trigger,
/// and the minor checklist (which asks for a rehearsed rollback).
const EVERYTHING: &str = r#"
[[environments]]
name = "qa"
stale_after = "1m"
[[environments]]
name = "staging"
[[environments]]
name = "prod"
stale_after = "2m"

[[services]]
name = "payments"
rollback = "deployctl rollback {service} --env {env} --to {previous}"
[[services]]
name = "accounts"
rollback = "https://runbooks.example/{service}"
[[services]]
name = "ledger"
[[services]]
name = "search"
rollback = "kubectl rollout undo deploy/{service}"

[release]
name = "2026.11"
kind = "minor"
[release.targets]
payments = "1.4.0"
accounts = "v2.0"
ledger = "3.1.0"
[release.migrations]
ledger = "irreversible"

[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"

[[sources]]
name = "records"
kind = "http"
evidence = "recorded"
url = "http://127.0.0.1:9/records/{env}/{service}"

[[sources]]
name = "prom"
kind = "prometheus"
api_url = "http://127.0.0.1:9"
[sources.queries]
up = 'up{job="{service}",env="{env}"}'

[[rollback.triggers]]
metric = "up"
above = 0.5
"#;

#[derive(Debug, Clone)]
enum Step {
    /// A deployment source's answer for a cell.
    Read { cell: (usize, usize), records: bool, answer: Option<(usize, usize, usize, usize, Option<i64>)> },
    /// No deployment there (the source says so).
    Absent { cell: (usize, usize), records: bool },
    /// The `up` metric, or its query failing.
    Up { cell: (usize, usize), value: Option<u8> },
    /// The clock moves (a little back, too: `check` at a fixed time).
    Wait(i64),
    /// The rollback rehearsal ticked or unticked.
    Rehearsed(bool),
    /// An entry of an earlier run, from the journal.
    Journal { cell: (usize, usize), version: usize, ago: i64 },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let cell = (0usize..4, 0usize..3);
    prop_oneof![
        6 => (cell.clone(), any::<bool>(), proptest::option::weighted(0.85, (0usize..5, 0usize..3, 0usize..4, 0usize..3, proptest::option::of(0i64..400))))
            .prop_map(|(cell, records, answer)| Step::Read { cell, records, answer }),
        1 => (cell.clone(), any::<bool>()).prop_map(|(cell, records)| Step::Absent { cell, records }),
        2 => (cell.clone(), proptest::option::of(0u8..10)).prop_map(|(cell, value)| Step::Up { cell, value }),
        4 => (-20i64..200).prop_map(Step::Wait),
        1 => any::<bool>().prop_map(Step::Rehearsed),
        1 => (cell, 0usize..5, 0i64..10_000).prop_map(|(cell, version, ago)| Step::Journal { cell, version, ago }),
    ]
}

const VERSIONS: [&str; 5] = ["1.3.0", "1.4.0", "v2.0", "3.1.0-rc.1", "main-4f2a"];

fn take(e: &mut Engine, step: &Step, now: &mut Timestamp) {
    let at = *now;
    let update = |cell: (usize, usize), source: &str, evidence, role, result| SourceUpdate {
        source: Arc::from(source),
        evidence,
        role,
        cell: CellKey { service: cell.0, env: cell.1 },
        attempted_at: at,
        result,
    };
    let deployment =
        |records: bool| if records { ("records", Evidence::Recorded) } else { ("endpoints", Evidence::Running) };
    match step {
        Step::Read { cell, records, answer } => {
            let (source, evidence) = deployment(*records);
            let result = match answer {
                Some((v, build, commit, health, deployed)) => Ok(Reading {
                    build: [None, Some("17"), Some("18")][*build].map(str::to_string),
                    commit: [None, Some("4f2a9c1"), Some("4F2A9C1e0b"), Some("77aa")][*commit].map(str::to_string),
                    health: [None, Some(Health::Up), Some(Health::Down)][*health],
                    deployed_at: deployed.map(|d| at - SignedDuration::from_secs(d)),
                    ..Reading::version(VERSIONS[*v])
                }),
                None => Err(FetchError::Other("connection refused".into())),
            };
            e.apply(update(*cell, source, evidence, Role::Deployment, result));
        }
        Step::Absent { cell, records } => {
            let (source, evidence) = deployment(*records);
            e.apply(update(*cell, source, evidence, Role::Deployment, Ok(Reading::default())));
        }
        Step::Up { cell, value } => {
            let result = match value {
                Some(v) => Ok(Reading {
                    metrics: vec![Metric::new("up", MetricValue::Number(f64::from(*v) / 10.0))],
                    ..Reading::default()
                }),
                None => Err(FetchError::Field(TWO_SERIES.into())),
            };
            e.apply(update(*cell, "prom", Evidence::Declared, Role::Metrics, result));
        }
        Step::Wait(secs) => *now += SignedDuration::from_secs(*secs),
        Step::Rehearsed(done) => {
            let item = rollback::REHEARSED_ITEM.to_string();
            let action = if *done {
                crate::journal::release::ReleaseAction::Tick { item, note: None }
            } else {
                crate::journal::release::ReleaseAction::Untick { item, note: None }
            };
            e.take_release_events(vec![ReleaseEvent::new("alice", at, action)]);
        }
        Step::Journal { cell, version, ago } => e.restore(vec![ObservationEvent {
            at: at - SignedDuration::from_secs(*ago),
            service: e.fleet.services[cell.0].name.to_string(),
            environment: e.fleet.environments[cell.1].name.to_string(),
            source: "endpoints".into(),
            old: None,
            old_build: None,
            new: VERSIONS[*version].into(),
            build: None,
        }]),
    }
}

/// Everything an evaluation says, in comparable form.
fn said(ev: &Evaluation) -> String {
    format!(
        "{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:#?}\n{:?}\n{:?}",
        ev.findings, ev.judgement, ev.checklist, ev.rollback, ev.progress, ev.marks, ev.incoming
    )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// Random sequences of updates, journal entries, ticks and clock moves:
    /// after each, the engine that judges only what changed says exactly
    /// what an engine that judges everything again says, in every scope.
    #[test]
    fn incremental_is_the_full_judgement(steps in proptest::collection::vec(step(), 1..60)) {
        let config = crate::setup::from_toml_str(EVERYTHING, "test").unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let template = crate::checklist::resolve(&config.fleet, None).unwrap();
        proptest::prop_assert!(template.is_some());
        let mut e = Engine::for_config(&config, &active, template);
        let mut now = t0();
        for (i, s) in steps.iter().enumerate() {
            take(&mut e, s, &mut now);
            let scope = if i % 3 == 2 { Scope::new(&e.fleet, vec![2]) } else { Scope::all(&e.fleet) };
            let mut full = e.clone();
            full.judged.forget();
            let whole = full.evaluate(now, &scope);
            let incremental = e.evaluate(now, &scope);
            proptest::prop_assert_eq!(said(&incremental), said(&whole), "after step {} ({:?})", i, s);
            proptest::prop_assert_eq!(e.take_bell(), full.take_bell());
            // And the same as the analysis run whole, without the engine.
            let mut plain = findings::evaluate(&e.fleet, &e.matrix, now);
            if scope.is_limited() {
                plain.retain(|f| scope.includes(f.cell.env));
            }
            proptest::prop_assert_eq!(&incremental.findings, &plain);
            let view = rollback::evaluate(&e.fleet, &e.matrix, now, e.rehearsal());
            // The engine's latch (a trigger that lost its data stays firing)
            // is the one thing the analysis alone does not know.
            let latched = incremental.rollback.triggers.iter().any(|t| t.note.starts_with("was firing"));
            if !scope.is_limited() && !latched {
                proptest::prop_assert_eq!(&incremental.rollback.services, &view.services);
                proptest::prop_assert_eq!(&incremental.progress, &analysis::progress(&e.fleet, &e.matrix));
            }
        }
    }
}

/// The engine's evaluation against a clone that judges everything again.
fn same_as_full(e: &mut Engine, now: Timestamp) -> Evaluation {
    let mut full = e.clone();
    full.judged.forget();
    let scope = Scope::all(&e.fleet);
    let (kept, whole) = (e.evaluate(now, &scope), full.evaluate(now, &scope));
    assert_eq!(said(&kept), said(&whole));
    kept
}

#[test]
fn a_fleet_changed_in_place_is_judged_again() {
    let mut e = engine(ONE_SOURCE_TWO_CELLS, None);
    for env in ["qa", "prod"] {
        let update = deployed(&e, "payments", env, "1.4.0", Health::Up, at(0));
        e.apply(update);
    }
    let before = same_as_full(&mut e, at(1));
    assert!(!before.rollback.services[0].reasons.iter().any(|r| r.contains("irreversible")));
    // A fixture declares a migration on the plan itself; no cell changes.
    e.fleet.release.as_mut().unwrap().migrations = vec![(0, crate::model::rollback::Migration::Irreversible)];
    let after = same_as_full(&mut e, at(2));
    assert!(after.rollback.services[0].reasons.iter().any(|r| r.contains("irreversible")), "{:?}", after.rollback);
}

#[test]
fn the_same_reading_after_a_journal_entry_is_judged_again() {
    // `search` is outside the plan: rollback does not look at it, only
    // the findings do.
    let config = ONE_SOURCE_TWO_CELLS.replace("name = \"qa\"", "name = \"qa\"\nstale_after = \"1m\"").replace(
        "[[services]]\nname = \"payments\"",
        "[[services]]\nname = \"payments\"\n[[services]]\nname = \"search\"",
    );
    let mut e = engine(&config, None);
    let qa = |e: &Engine, when| SourceUpdate {
        result: Ok(Reading::version("1.4.0")),
        ..deployed(e, "search", "qa", "1.4.0", Health::Up, when)
    };
    let update = qa(&e, at(0));
    e.apply(update);
    same_as_full(&mut e, at(10));
    // Another seat's history arrives: an older version, seen after ours.
    e.restore(vec![ObservationEvent {
        at: at(20),
        service: "search".into(),
        environment: "qa".into(),
        source: "endpoints".into(),
        old: None,
        old_build: None,
        new: "1.3.0".into(),
        build: None,
    }]);
    same_as_full(&mut e, at(25));
    // The source says what it said last; the history gains 1.4.0 again.
    let update = qa(&e, at(30));
    assert!(e.apply(update).is_some());
    same_as_full(&mut e, at(70));
    let ev = same_as_full(&mut e, at(100));
    assert!(ev.findings.iter().any(|f| f.kind == FindingKind::Stale), "{:?}", ev.findings);
}
