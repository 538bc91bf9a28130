use std::sync::Arc;

use super::*;
use crate::analysis::VersionRun;
use crate::model::rollback::{BaselineAt, RollbackPolicy, TriggerSpec};
use crate::model::{Environment, Evidence, Metric, ReleasePlan, Role, Service};
use crate::model::{Reading, rollback::Migration};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn base(v: MetricValue) -> MetricBaseline {
    MetricBaseline { at: t("2026-11-24T18:00:00Z"), value: Some(v), error: None }
}

fn n(v: f64) -> MetricValue {
    MetricValue::Number(v)
}

const TEN_X: TriggerRule = TriggerRule::Factor { factor: 10.0, min: None };

#[test]
fn factor_rule_levels_and_the_exact_threshold() {
    let b = base(n(0.01));
    assert_eq!(evaluate_rule(TEN_X, n(0.02), Some(&b)).level, Level::Ok);
    // Half-way from 0.01 to 0.1 is 0.055.
    assert_eq!(evaluate_rule(TEN_X, n(0.054), Some(&b)).level, Level::Ok);
    assert_eq!(evaluate_rule(TEN_X, n(0.055), Some(&b)).level, Level::Warn);
    let at = evaluate_rule(TEN_X, n(0.1), Some(&b));
    assert_eq!((at.level, at.threshold), (Level::Firing, Some(0.1)), "exactly at the threshold fires");
    assert_eq!(evaluate_rule(TEN_X, n(0.0999), Some(&b)).level, Level::Warn);
    assert_eq!(evaluate_rule(TEN_X, MetricValue::PosInf, Some(&b)).level, Level::Firing);
}

#[test]
fn p95_plus_fifty_percent() {
    let rule = TriggerRule::Factor { factor: 1.5, min: None };
    let b = base(n(200.0));
    assert_eq!(evaluate_rule(rule, n(240.0), Some(&b)).level, Level::Ok);
    assert_eq!(evaluate_rule(rule, n(250.0), Some(&b)).level, Level::Warn, "+25% is half-way");
    assert_eq!(evaluate_rule(rule, n(300.0), Some(&b)).level, Level::Firing);
}

#[test]
fn nan_and_no_data_never_fire_and_are_never_zero() {
    let b = base(n(0.01));
    for live in [MetricValue::NaN, MetricValue::NoData] {
        let o = evaluate_rule(TEN_X, live, Some(&b));
        assert_eq!((o.level, o.threshold), (Level::NoData, None), "{live}");
        assert!(o.note == "NaN" || o.note == "no data", "{}", o.note);
        assert_eq!(evaluate_rule(TriggerRule::Above(-1.0), live, None).level, Level::NoData);
    }
    for b in [MetricValue::NaN, MetricValue::NoData, MetricValue::PosInf] {
        let o = evaluate_rule(TEN_X, n(5.0), Some(&base(b)));
        assert_eq!(o.level, Level::NoData, "a baseline of {b} gives no threshold");
        assert!(o.note.starts_with("baseline is"), "{}", o.note);
    }
    assert_eq!(evaluate_rule(TEN_X, n(5.0), None).level, Level::NoData);
    let failed = MetricBaseline { at: t("2026-11-24T18:00:00Z"), value: None, error: Some("HTTP 422".into()) };
    let o = evaluate_rule(TEN_X, n(5.0), Some(&failed));
    assert_eq!((o.level, o.note.as_ref()), (Level::NoData, "no baseline: HTTP 422"));
}

#[test]
fn a_zero_baseline_needs_a_minimum() {
    let zero = base(n(0.0));
    let o = evaluate_rule(TEN_X, n(0.5), Some(&zero));
    assert_eq!(o.level, Level::NoData, "10 × 0 is no threshold: {}", o.note);
    assert!(o.note.contains("set `min`"), "{}", o.note);
    let with_min = TriggerRule::Factor { factor: 10.0, min: Some(0.01) };
    assert_eq!(evaluate_rule(with_min, n(0.0), Some(&zero)).level, Level::Ok);
    assert_eq!(evaluate_rule(with_min, n(0.005), Some(&zero)).level, Level::Warn);
    assert_eq!(evaluate_rule(with_min, n(0.01), Some(&zero)).threshold, Some(0.01));
    assert_eq!(evaluate_rule(with_min, n(0.01), Some(&zero)).level, Level::Firing);
    // The minimum also guards a tiny baseline against noise.
    let tiny = base(n(0.0001));
    assert_eq!(evaluate_rule(with_min, n(0.002), Some(&tiny)).level, Level::Ok);
}

#[test]
fn fixed_thresholds() {
    let rule = TriggerRule::Above(0.9);
    assert_eq!(evaluate_rule(rule, n(0.44), None).level, Level::Ok);
    assert_eq!(evaluate_rule(rule, n(0.45), None).level, Level::Warn);
    assert_eq!(evaluate_rule(rule, n(0.9), None).level, Level::Firing);
    assert_eq!(evaluate_rule(rule, MetricValue::NegInf, None).level, Level::Ok);
}

// ---- readiness ----

const NOW: &str = "2026-11-24T18:30:00Z";

fn fleet(rollback: Option<&str>) -> Fleet {
    Fleet {
        environments: ["staging", "prod"]
            .iter()
            .map(|n| Environment { name: (*n).into(), stale_after: None })
            .collect(),
        services: vec![Service {
            name: "payments".into(),
            rollback: rollback.map(str::to_string),
            ..Service::default()
        }],
        release: Some(ReleasePlan { name: "r".into(), targets: vec![(0, "1.4.0".into())], ..ReleasePlan::default() }),
        rollback: RollbackPolicy {
            baseline: BaselineAt::Fixed(t("2026-11-24T18:00:00Z")),
            ..RollbackPolicy::default()
        },
    }
}

fn read(matrix: &mut Matrix, env: usize, source: &str, at: &str, reading: Reading) {
    let src: Arc<str> = Arc::from(source);
    let cell = matrix.get_mut(CellKey { service: 0, env }).unwrap();
    cell.record(&src, Evidence::Running, t(at), Ok(reading));
}

fn boxed(a: Artifact) -> Option<Box<Artifact>> {
    Some(Box::new(a))
}

fn running(version: &str) -> Reading {
    Reading { version: Some(version.into()), health: Some(Health::Up), ..Reading::default() }
}

#[test]
fn before_the_release_what_runs_is_the_known_good_version() {
    let f = fleet(Some("deployctl rollback {service} --env {env} --to {previous}"));
    let mut m = Matrix::new(&f);
    let mut r = running("1.3.2");
    r.build = Some("812".into());
    read(&mut m, 1, "endpoints", NOW, r);
    let e = assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotAsked);
    assert_eq!(e.readiness, Readiness::Ready, "{:?}", e.reasons);
    let k = e.known_good.unwrap();
    assert_eq!((k.artifact.version.as_str(), &k.from), ("1.3.2", &KnownGoodFrom::Running));
    assert_eq!(e.method.unwrap(), Method::Command("deployctl rollback payments --env prod --to 1.3.2".into()));
}

#[test]
fn after_the_release_the_source_history_names_the_previous() {
    let f = fleet(Some("https://runbooks.example/{service}#{env}"));
    let mut m = Matrix::new(&f);
    let mut r = running("1.4.0");
    r.previous = boxed(Artifact {
        version: "1.3.2".into(),
        digest: Some("sha256:aa".into()),
        reference: Some("revision 7".into()),
        ..Artifact::default()
    });
    read(&mut m, 1, "k8s", NOW, r);
    let e = assess(&f, &m, 0, 1, t(NOW), Rehearsal::Done);
    assert_eq!(e.readiness, Readiness::Ready, "{:?}", e.reasons);
    let k = e.known_good.unwrap();
    assert_eq!(k.from, KnownGoodFrom::Source("k8s".into()));
    assert_eq!(k.artifact.reference.as_deref(), Some("revision 7"));
    assert_eq!(e.method.unwrap(), Method::Runbook("https://runbooks.example/payments#prod".into()));
}

#[test]
fn not_ready_without_known_good_method_or_with_an_irreversible_migration() {
    let mut f = fleet(None);
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", NOW, running("1.4.0"));
    let e = assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotAsked);
    assert_eq!(e.readiness, Readiness::NotReady);
    assert!(e.reasons.iter().any(|r| r.starts_with("no known-good version")), "{:?}", e.reasons);
    assert!(e.reasons.iter().any(|r| r.starts_with("no rollback method")), "{:?}", e.reasons);

    f.services[0].rollback = Some("deployctl rollback {service}".into());
    if let Some(plan) = f.release.as_mut() {
        plan.migrations = vec![(0, Migration::Irreversible)];
    }
    let mut r = running("1.4.0");
    r.previous = boxed(Artifact { version: "1.3.2".into(), commit: Some("abc".into()), ..Artifact::default() });
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "gh", NOW, r);
    let e = assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotAsked);
    assert_eq!((e.readiness, e.reasons.clone()), (Readiness::NotReady, vec![Cow::Borrowed(IRREVERSIBLE)]));
    if let Some(plan) = f.release.as_mut() {
        plan.migrations = vec![(0, Migration::Reversible)];
    }
    assert_eq!(assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotAsked).readiness, Readiness::Ready);
}

#[test]
fn at_risk_for_auto_sync_unpinnable_artifacts_and_no_rehearsal() {
    let f = fleet(Some("argocd app rollback {service}-{env} {previous_ref}"));
    let mut m = Matrix::new(&f);
    let mut r = running("1.4.0");
    r.attributes = vec![("auto_sync".into(), "true".into())];
    r.previous =
        boxed(Artifact { version: "1.3.2".into(), reference: Some("history id 41".into()), ..Artifact::default() });
    read(&mut m, 1, "argocd", NOW, r);
    let e = assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotDone);
    assert_eq!(e.readiness, Readiness::AtRisk);
    assert_eq!(e.reasons.len(), 3, "{:?}", e.reasons);
    assert!(e.reasons[0].contains("cannot be pinned"));
    assert!(e.reasons[1].contains("auto-sync"));
    assert_eq!(e.reasons[2], NOT_REHEARSED);
    assert_eq!(e.method.unwrap().text(), "argocd app rollback payments-prod history id 41");
}

#[test]
fn the_journal_knows_a_version_that_stayed_healthy_long_enough() {
    let h = |v: &str, at: &str, down: bool| VersionRun { seen_down: down, ..VersionRun::new(v, None, t(at)) };
    let hour = Duration::from_secs(3600);
    let now = t(NOW);
    // 1.3.1 ran two hours, 1.3.2 only ten minutes before 1.4.0 came.
    let history = [
        h("1.3.1", "2026-11-24T15:00:00Z", false),
        h("1.3.2", "2026-11-24T17:00:00Z", false),
        h("1.4.0", "2026-11-24T17:10:00Z", false),
    ];
    let k = journal_known_good(&history, "1.4.0", hour, now).unwrap();
    assert_eq!((k.artifact.version.as_str(), k.from), ("1.3.1", KnownGoodFrom::Journal));
    // Seen down while current: not known-good.
    let history = [h("1.3.1", "2026-11-24T15:00:00Z", true), h("1.4.0", "2026-11-24T17:10:00Z", false)];
    assert_eq!(journal_known_good(&history, "1.4.0", hour, now), None);
    // The current version itself never counts.
    let history = [h("1.4.0", "2026-11-20T10:00:00Z", false)];
    assert_eq!(journal_known_good(&history, "1.4.0", hour, now), None);
}

#[test]
fn a_cell_seen_down_marks_its_version() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", "2026-11-24T15:00:00Z", running("1.3.2"));
    let mut down = running("1.3.2");
    down.health = Some(Health::Down);
    read(&mut m, 1, "endpoints", "2026-11-24T15:30:00Z", down);
    read(&mut m, 1, "endpoints", "2026-11-24T18:00:00Z", running("1.4.0"));
    let e = assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotAsked);
    assert!(e.known_good.is_none(), "1.3.2 went down: {:?}", e.known_good);
}

#[test]
fn templates_are_checked() {
    assert!(check_template("deployctl rollback {service} --to {previous}").is_ok());
    let err = check_template("deployctl rollback {svc}").unwrap_err();
    assert!(err.contains("unknown placeholder {svc}"), "{err}");
    assert!(check_template("x {previous").unwrap_err().contains("unclosed"));
    assert!(check_template("  ").is_err());
}

// ---- triggers over the matrix ----

fn metrics(matrix: &mut Matrix, env: usize, at: &str, live: MetricValue, baseline: MetricValue) {
    let src: Arc<str> = Arc::from("metrics");
    let cell = matrix.get_mut(CellKey { service: 0, env }).unwrap();
    let metric = Metric { baseline: Some(base(baseline)), ..Metric::new("error_rate", live) };
    let reading = Reading { metrics: vec![metric], ..Reading::default() };
    cell.record_as(&src, Evidence::Declared, Role::Metrics, t(at), Ok(reading));
}

#[test]
fn triggers_per_reached_environment_and_the_verdict_blocker() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", NOW, running("1.4.0"));
    read(&mut m, 0, "endpoints", NOW, running("1.4.0"));
    metrics(&mut m, 1, NOW, n(0.2), n(0.001));
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert_eq!(view.envs, vec![1, 0], "prod first");
    let prod: Vec<_> =
        view.triggers.iter().filter(|t| &*t.environment == "prod").map(|t| (t.name.as_ref(), t.state)).collect();
    assert_eq!(prod, vec![("health", Level::Ok), ("error_rate", Level::Firing)]);
    // staging has no metrics: the default triggers are not shown there.
    assert!(view.triggers.iter().filter(|t| &*t.environment == "staging").all(|t| &*t.name == "health"));
    let firing: Vec<_> = view.firing().collect();
    assert_eq!(firing.len(), 1);
    assert_eq!(firing[0].measurement(), "error_rate 0.2 (baseline 0.001, fires ≥ 0.01)");
    let j = crate::analysis::verdict::judge(&f, &m, &[], t(NOW), Vec::new(), Some(&view));
    assert_eq!(j.verdict, crate::analysis::verdict::Verdict::NoGo);
    assert_eq!(j.blockers[0].reason, crate::analysis::verdict::BlockerReason::Trigger);
    assert!(
        j.blockers[0].message.starts_with("rollback trigger firing: payments in prod: error_rate 0.2"),
        "{}",
        j.blockers[0].message
    );

    // Back under: no blocker.
    metrics(&mut m, 1, "2026-11-24T18:31:00Z", n(0.001), n(0.001));
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert_eq!(view.firing().count(), 0);
    let j = crate::analysis::verdict::judge(&f, &m, &[], t(NOW), Vec::new(), Some(&view));
    assert!(j.blockers.iter().all(|b| b.reason != crate::analysis::verdict::BlockerReason::Trigger));
}

#[test]
fn a_configured_trigger_without_data_says_so() {
    let mut f = fleet(Some("x"));
    f.rollback.default_triggers = false;
    f.rollback.triggers = vec![TriggerSpec::new("errors", "error_rate", TriggerRule::Above(0.05), Some(vec![1]))];
    let mut m = Matrix::new(&f);
    read(&mut m, 0, "endpoints", NOW, running("1.4.0"));
    read(&mut m, 1, "endpoints", NOW, running("1.4.0"));
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let errors: Vec<_> = view.triggers.iter().filter(|t| &*t.name == "errors").collect();
    assert_eq!(errors.len(), 1, "only prod");
    assert_eq!(errors[0].state, Level::NoData);
    assert!(errors[0].note.contains("no metrics source has read error_rate"), "{}", errors[0].note);
}

#[test]
fn a_cell_the_release_has_not_deployed_has_no_triggers() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    let mut r = running("1.3.2");
    r.health = Some(Health::Down);
    read(&mut m, 1, "endpoints", NOW, r);
    metrics(&mut m, 1, NOW, n(0.5), n(0.001));
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert!(view.triggers.is_empty(), "{:?}", view.triggers);
}

#[test]
fn health_down_fires() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    let mut r = running("1.4.0");
    r.health = Some(Health::Down);
    read(&mut m, 1, "endpoints", NOW, r);
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let t0 = view.firing().next().unwrap();
    assert_eq!((t0.name.as_ref(), t0.environment.as_ref(), t0.measurement()), ("health", "prod", "health down".into()));
}

// ---- the review's cases ----

#[test]
fn without_a_usable_baseline_min_still_holds() {
    let with_min = TriggerRule::Factor { factor: 10.0, min: Some(0.01) };
    for b in [MetricValue::NaN, MetricValue::NoData] {
        let o = evaluate_rule(with_min, n(0.6), Some(&base(b)));
        assert_eq!((o.level, o.threshold), (Level::Firing, Some(0.01)), "{b}: {}", o.note);
        assert!(o.note.contains("held against min"), "{}", o.note);
    }
    let failed = MetricBaseline { at: t("2026-11-24T18:00:00Z"), value: None, error: Some("out of bounds".into()) };
    assert_eq!(evaluate_rule(with_min, n(0.001), Some(&failed)).level, Level::Ok);
    assert_eq!(evaluate_rule(with_min, n(0.6), None).level, Level::Firing, "no baseline entry at all");
}

#[test]
fn a_service_that_stopped_answering_is_not_healthy() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", "2026-11-24T18:29:00Z", running("1.4.0"));
    let src: Arc<str> = Arc::from("endpoints");
    let cell = m.get_mut(CellKey { service: 0, env: 1 }).unwrap();
    cell.record(&src, Evidence::Running, t(NOW), Err(crate::model::FetchError::Other("refused".into())));
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let health = view.triggers.iter().find(|t| &*t.name == "health").unwrap();
    assert_eq!(health.state, Level::Warn, "{health:?}");
    assert!(health.note.starts_with("not answering since 18:30"), "{}", health.note);
}

#[test]
fn the_worst_health_of_any_source_counts() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", NOW, Reading { health: None, ..running("1.4.0") });
    let src: Arc<str> = Arc::from("k8s");
    let cell = m.get_mut(CellKey { service: 0, env: 1 }).unwrap();
    let down = Reading { health: Some(Health::Down), ..running("1.4.0") };
    cell.record(&src, Evidence::Controller, t(NOW), Ok(down));
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert_eq!(view.triggers.iter().find(|t| &*t.name == "health").unwrap().state, Level::Firing);
}

#[test]
fn the_journal_counts_from_the_deployment_when_a_source_says() {
    let hour = Duration::from_secs(3600);
    // First seen at 17:45 (the cockpit started then), deployed three weeks ago.
    let mut old = VersionRun::new("1.3.2", None, t("2026-11-24T17:45:00Z"));
    old.set_deployed_at(Some(t("2026-11-03T10:00:00Z")));
    let history = [old, VersionRun::new("1.4.0", None, t("2026-11-24T18:30:00Z"))];
    let k = journal_known_good(&history, "1.4.0", hour, t(NOW)).expect("ran three weeks");
    assert_eq!(k.artifact.version, "1.3.2");
}

#[test]
fn check_env_scoping_recomputes_the_service_readiness() {
    let f = fleet(None);
    let mut m = Matrix::new(&f);
    read(&mut m, 0, "endpoints", NOW, running("1.4.0"));
    read(&mut m, 1, "endpoints", NOW, running("1.3.0"));
    let mut view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert_eq!(&*view.services[0].environments[0].environment, "prod");
    view.retain_envs(|e| e == 0);
    assert_eq!(view.services[0].environments.len(), 1);
    assert_eq!(&*view.services[0].environments[0].environment, "staging");
    assert_eq!(view.services[0].reasons, view.services[0].environments[0].reasons);
}

// ---- a metrics source whose query fails ----

const TWO_SERIES: &str = "up: query returned 2 series; aggregate it with sum() or max()";

fn metrics_fail(matrix: &mut Matrix, env: usize, at: &str, error: &str) {
    let src: Arc<str> = Arc::from("prom");
    let cell = matrix.get_mut(CellKey { service: 0, env }).unwrap();
    let err = crate::model::FetchError::Field(error.into());
    cell.record_as(&src, Evidence::Declared, Role::Metrics, t(at), Err(err));
}

fn metrics_ok(matrix: &mut Matrix, env: usize, at: &str, name: &str, live: f64) {
    let src: Arc<str> = Arc::from("prom");
    let cell = matrix.get_mut(CellKey { service: 0, env }).unwrap();
    let reading = Reading { metrics: vec![Metric::new(name, n(live))], ..Reading::default() };
    cell.record_as(&src, Evidence::Declared, Role::Metrics, t(at), Ok(reading));
}

/// One configured trigger over the metric `up`, fixed at 0.5, in prod only.
fn fleet_with_up_trigger() -> Fleet {
    let mut f = fleet(Some("x"));
    f.rollback.default_triggers = false;
    f.rollback.triggers = vec![TriggerSpec::new("up", "up", TriggerRule::Above(0.5), Some(vec![1]))];
    f
}

fn judge(f: &Fleet, m: &Matrix, view: &RollbackView) -> crate::analysis::verdict::Judgement {
    crate::analysis::verdict::judge(f, m, &[], t(NOW), Vec::new(), Some(view))
}

#[test]
fn a_metrics_source_failing_on_its_first_attempt_gives_the_trigger_its_error() {
    use crate::analysis::verdict::{BlockerReason, Verdict};
    let f = fleet_with_up_trigger();
    let mut m = Matrix::new(&f);
    read(&mut m, 0, "endpoints", NOW, running("1.4.0"));
    read(&mut m, 1, "endpoints", NOW, running("1.4.0"));
    // Without any metrics source update the verdict is GO: the baseline.
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert_eq!(judge(&f, &m, &view).verdict, Verdict::Go);

    metrics_fail(&mut m, 1, NOW, TWO_SERIES);
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let up: Vec<_> = view.triggers.iter().filter(|t| &*t.name == "up").collect();
    assert_eq!(up.len(), 1, "{:?}", view.triggers);
    let up = up[0];
    assert_eq!(up.error.as_deref(), Some(TWO_SERIES));
    assert_eq!((up.state, up.live, up.environment.as_ref()), (Level::NoData, None, "prod"));
    assert_eq!(up.note, "prom failing since 18:30:00 UTC: no value yet");
    assert!(!up.note.contains("no metrics source has read"), "{}", up.note);
    let json = serde_json::to_value(up).unwrap();
    assert_eq!(json["error"], TWO_SERIES);

    // Not clear: the verdict holds, on a blocker naming the trigger and the error.
    let j = judge(&f, &m, &view);
    assert_eq!(j.verdict, Verdict::Hold, "{:?}", j.blockers);
    assert_eq!(j.blockers.len(), 1, "{:?}", j.blockers);
    assert_eq!(j.blockers[0].reason, BlockerReason::TriggerError);
    assert_eq!(
        j.blockers[0].message,
        format!("cannot tell whether rollback trigger up fires: payments in prod: {TWO_SERIES}")
    );
    // (The checklist's triggers_clear(prod) is Unknown then: see the engine's tests.)

    // The query answers again: no error, and GO.
    metrics_ok(&mut m, 1, "2026-11-24T18:31:00Z", "up", 0.0);
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let up = view.triggers.iter().find(|t| &*t.name == "up").unwrap();
    assert_eq!((up.state, up.error.as_deref()), (Level::Ok, None));
    assert_eq!(judge(&f, &m, &view).verdict, Verdict::Go);
}

#[test]
fn the_default_triggers_show_a_never_read_metrics_source_failing() {
    let f = fleet(Some("x"));
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", NOW, running("1.4.0"));
    metrics_fail(&mut m, 1, NOW, "error_rate: query returned 2 series; aggregate it with sum() or max()");
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let names: Vec<_> = view.triggers.iter().map(|t| (t.name.as_ref(), t.state, t.error.is_some())).collect();
    assert_eq!(
        names,
        vec![("health", Level::Ok, false), ("error_rate", Level::NoData, true), ("p95_latency", Level::NoData, true)]
    );
    assert_ne!(judge(&f, &m, &view).verdict, crate::analysis::verdict::Verdict::Go);
}

#[test]
fn a_flapping_metrics_source_keeps_the_last_value_and_carries_the_error() {
    use crate::analysis::verdict::{BlockerReason, Verdict};
    let f = fleet_with_up_trigger();
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", NOW, running("1.4.0"));
    metrics_ok(&mut m, 1, "2026-11-24T18:29:00Z", "up", 0.1);
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    assert_eq!(judge(&f, &m, &view).verdict, Verdict::Go);

    metrics_fail(&mut m, 1, NOW, TWO_SERIES);
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let up = view.triggers.iter().find(|t| &*t.name == "up").unwrap();
    // Both: the last good value and the error of the last query.
    assert_eq!((up.state, up.live, up.error.as_deref()), (Level::Ok, Some(n(0.1)), Some(TWO_SERIES)));
    assert_eq!(up.note, "warns at 0.25; last value from 18:29:00 UTC, prom failing");
    let j = judge(&f, &m, &view);
    assert_eq!(j.verdict, Verdict::Hold, "an OK value that is no longer read is not clear: {:?}", j.blockers);
    assert_eq!(j.blockers.iter().map(|b| b.reason).collect::<Vec<_>>(), vec![BlockerReason::TriggerError]);

    // A firing value kept through a failure still fires, and says why it is old.
    metrics_ok(&mut m, 1, "2026-11-24T18:31:00Z", "up", 0.9);
    metrics_fail(&mut m, 1, "2026-11-24T18:32:00Z", TWO_SERIES);
    let view = evaluate(&f, &m, t(NOW), Rehearsal::NotAsked);
    let up = view.triggers.iter().find(|t| &*t.name == "up").unwrap();
    assert_eq!((up.state, up.error.as_deref()), (Level::Firing, Some(TWO_SERIES)));
    let j = judge(&f, &m, &view);
    assert_eq!(j.verdict, Verdict::NoGo);
    assert_eq!(j.blockers.len(), 1, "one blocker per trigger: {:?}", j.blockers);
    assert_eq!(j.blockers[0].reason, BlockerReason::Trigger);
    assert!(j.blockers[0].message.ends_with(&format!("(last value; query failing: {TWO_SERIES})")), "{:?}", j.blockers);
}

#[test]
fn the_rollback_target_is_a_whole_command_or_says_why_there_is_none() {
    let command = |t: &str| Method::Command(t.into());
    let to = "deployctl rollback {service} --env {env} --to {previous}";
    let history = |f: &Fleet, runs: &[(&str, &str)]| {
        let mut m = Matrix::new(f);
        for (at, v) in runs {
            read(&mut m, 1, "endpoints", at, running(v));
        }
        assess(f, &m, 0, 1, t(NOW), Rehearsal::NotAsked)
    };
    // Known-good: the command, filled with it.
    let f = fleet(Some(to));
    let e = history(&f, &[(NOW, "1.3.2")]);
    assert_eq!(e.target, RollbackTarget::Ready(command("deployctl rollback payments --env prod --to 1.3.2")));

    // 1.3.2 ran ten minutes before 1.4.0: not proven good. The command goes
    // back to it, and says so.
    let e = history(&f, &[("2026-11-24T18:00:00Z", "1.3.2"), ("2026-11-24T18:10:00Z", "1.4.0")]);
    assert!(e.known_good.is_none());
    assert_eq!(
        e.target,
        RollbackTarget::Unproven {
            method: command("deployctl rollback payments --env prod --to 1.3.2"),
            caveat: "1.3.2, ran 10m: not proven good".into()
        }
    );
    // Seen down while it ran: said so.
    let mut m = Matrix::new(&f);
    read(&mut m, 1, "endpoints", "2026-11-24T14:00:00Z", running("1.3.2"));
    read(&mut m, 1, "endpoints", "2026-11-24T15:00:00Z", Reading { health: Some(Health::Down), ..running("1.3.2") });
    read(&mut m, 1, "endpoints", "2026-11-24T18:00:00Z", running("1.4.0"));
    match assess(&f, &m, 0, 1, t(NOW), Rehearsal::NotAsked).target {
        RollbackTarget::Unproven { caveat, .. } => assert_eq!(caveat, "1.3.2, ran 4h, seen down: not good"),
        other => panic!("{other:?}"),
    }

    // Nothing ran before: no target, and why; never `--to <unknown>`.
    let e = history(&f, &[(NOW, "1.4.0")]);
    match &e.target {
        RollbackTarget::None(why) => assert!(why.starts_with("no known-good version: no source history"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(e.method.is_some_and(|m| m.text().contains("<unknown>")), "the template as filled stays for the pane");

    // A method that names no version works without one.
    let f = fleet(Some("kubectl rollout undo deployment/{service}"));
    let e = history(&f, &[(NOW, "1.4.0")]);
    match e.target {
        RollbackTarget::Unproven { method, caveat } => {
            assert_eq!(method, command("kubectl rollout undo deployment/payments"));
            assert!(caveat.starts_with("no known-good version"), "{caveat}");
        }
        other => panic!("{other:?}"),
    }

    // Known-good from the journal has no reference: a method that needs
    // one has no target.
    let f = fleet(Some("argocd app rollback {service} {previous_ref}"));
    let e = history(&f, &[("2026-11-24T10:00:00Z", "1.3.2"), ("2026-11-24T18:00:00Z", "1.4.0")]);
    assert_eq!(e.known_good.as_ref().map(|k| k.from.clone()), Some(KnownGoodFrom::Journal));
    match e.target {
        RollbackTarget::None(why) => {
            assert_eq!(
                why,
                "back to 1.3.2 (from journal), but the rollback method needs {previous_ref}, which is not known for it"
            )
        }
        other => panic!("{other:?}"),
    }

    // No method at all: said so.
    let e = history(&fleet(None), &[(NOW, "1.3.2")]);
    assert_eq!(e.target, RollbackTarget::None(NO_METHOD.into()));
}

#[test]
fn a_template_is_filled_in_one_pass() {
    let previous = Artifact { version: "1.3.2".into(), reference: Some("v1.3.2".into()), ..Artifact::default() };
    assert_eq!(
        fill(
            "deploy {service}@{previous} ({previous_ref}) to {env}, from {current}",
            "pay",
            "prod",
            Some("1.4.0"),
            Some(&previous)
        ),
        "deploy pay@1.3.2 (v1.3.2) to prod, from 1.4.0"
    );
    // What a value says is not read again as a placeholder.
    assert_eq!(fill("{service} {env}", "a{env}", "prod", None, None), "a{env} prod");
    // Unknown values read `<unknown>`, as the pane warns.
    assert_eq!(
        fill("undo {previous} {previous_ref} {current}", "s", "e", None, None),
        "undo <unknown> <unknown> <unknown>"
    );
    // Braces that name no placeholder stay as written.
    assert_eq!(fill("jq '{x}' {env}", "s", "e", None, None), "jq '{x}' e");
    assert_eq!(unfilled(Some("undo {previous}"), Some("1"), None), Some("previous"));
    assert_eq!(unfilled(Some("undo {previous_ref}"), Some("1"), Some(&previous)), None);
    assert_eq!(unfilled(Some("undo {previous_ref}"), Some("1"), Some(&Artifact::default())), Some("previous_ref"));
    assert_eq!(unfilled(Some("rollout undo {env}"), None, None), None);
}
