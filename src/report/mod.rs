//! Output of the headless commands: the evaluation as text (for a
//! terminal), JSON (the contract in `design.md`) or Markdown (a ticket, a
//! chat). Built from the same state and analysis as the cockpit.

use jiff::Timestamp;
use serde::Serialize;

use crate::analysis::Cell;
use crate::analysis::findings::Severity;
use crate::engine::{Engine, Evaluation};
use crate::model::CellKey;

pub(crate) mod changes;
pub(crate) mod record;

pub(crate) const SCHEMA: u32 = 1;

pub use crate::engine::Scope;

/// What a report prints: the engine's state and its evaluation (which
/// carries the scope, `check --env`).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub engine: &'a Engine,
    pub eval: &'a Evaluation,
}

impl<'a> View<'a> {
    pub fn new(engine: &'a Engine, eval: &'a Evaluation) -> View<'a> {
        View { engine, eval }
    }
}

#[derive(Debug, Serialize)]
pub struct CheckJson<'a> {
    pub schema: u32,
    pub generated_at: Timestamp,
    pub release: Option<ReleaseJson<'a>>,
    pub verdict: &'static str,
    pub blockers: &'a [crate::analysis::verdict::Blocker],
    pub cells: Vec<CellJson<'a>>,
    pub findings: Vec<FindingJson<'a>>,
    /// The release checklist, `null` when the release has none.
    pub checklist: Option<ChecklistJson<'a>>,
    /// Rollback readiness per service and the live triggers.
    pub rollback: &'a crate::analysis::rollback::RollbackView,
}

#[derive(Debug, Serialize)]
pub struct ChecklistJson<'a> {
    pub template: &'a str,
    pub origin: &'a str,
    pub done: usize,
    pub total: usize,
    pub phases: Vec<PhaseJson<'a>>,
    pub decision: Option<&'a crate::checklist::eval::DecisionEntry>,
    pub notes: &'a [crate::checklist::eval::NoteEntry],
}

#[derive(Debug, Serialize)]
pub struct PhaseJson<'a> {
    pub id: &'a str,
    pub title: &'a str,
    /// Relative to the window start, e.g. "-24h", "15m".
    pub due_offset: String,
    pub due: Option<Timestamp>,
    pub done: usize,
    pub total: usize,
    pub items: Vec<ItemJson<'a>>,
    pub signoffs: Vec<&'a crate::checklist::eval::SignoffState>,
}

#[derive(Debug, Serialize)]
pub struct ItemJson<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub role: &'a str,
    pub required: bool,
    pub status: crate::checklist::Status,
    pub overdue: bool,
    pub due: Option<Timestamp>,
    /// The bound condition, e.g. "deployed(prod)", with its value and evidence.
    pub condition: Option<String>,
    pub condition_value: Option<&'a crate::checklist::Truth>,
    pub ticked: Option<&'a crate::checklist::eval::Mark>,
}

fn offset_text(d: jiff::SignedDuration) -> String {
    let secs = d.as_secs();
    let sign = if secs < 0 { "-" } else { "" };
    format!("{sign}{}", crate::model::time::short_age(std::time::Duration::from_secs(secs.unsigned_abs())))
}

pub(crate) fn checklist_json(state: View<'_>) -> Option<ChecklistJson<'_>> {
    let (template, cs) = state.engine.template.as_ref().zip(state.eval.checklist.as_ref())?;
    let (done, total) = cs.overall_progress();
    let phases = template
        .phases
        .iter()
        .enumerate()
        .map(|(p, phase)| {
            let (done, total) = cs.phase_progress(p);
            PhaseJson {
                id: &phase.id,
                title: &phase.title,
                due_offset: offset_text(phase.due),
                due: cs
                    .items
                    .iter()
                    .find(|i| i.phase == p)
                    .and_then(|i| i.due)
                    .or_else(|| cs.signoffs.iter().find(|s| s.phase == p).and_then(|s| s.due)),
                done,
                total,
                items: phase
                    .items
                    .iter()
                    .filter_map(|item| {
                        let st = cs.item(&item.id)?;
                        Some(ItemJson {
                            id: &item.id,
                            title: &item.title,
                            role: &item.role,
                            required: item.required,
                            status: st.status,
                            overdue: st.overdue,
                            due: st.due,
                            condition: item.condition.as_ref().map(|c| c.display(&state.engine.fleet)),
                            condition_value: st.condition.as_ref(),
                            ticked: st.ticked.as_ref(),
                        })
                    })
                    .collect(),
                signoffs: cs.signoffs.iter().filter(|s| s.phase == p).collect(),
            }
        })
        .collect();
    Some(ChecklistJson {
        template: &template.name,
        origin: &template.origin,
        done,
        total,
        phases,
        decision: cs.manual.decision(),
        notes: &cs.manual.notes,
    })
}

#[derive(Debug, Serialize)]
pub struct ReleaseJson<'a> {
    pub name: &'a str,
    pub kind: Option<&'static str>,
    pub window: Option<crate::model::Window>,
}

#[derive(Debug, Serialize)]
pub struct CellJson<'a> {
    pub service: &'a str,
    pub environment: &'a str,
    pub version: Option<&'a str>,
    pub build: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub digest: Option<&'a str>,
    pub health: Option<&'static str>,
    pub deployed_at: Option<Timestamp>,
    pub evidence: Option<&'static str>,
    pub source: Option<&'a str>,
    pub fetched_at: Option<Timestamp>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FindingJson<'a> {
    pub kind: &'static str,
    pub severity: &'static str,
    pub service: &'a str,
    pub environment: &'a str,
    pub message: &'a str,
}

/// Cells some source reads, in service × environment order.
fn read_cells<'a>(state: View<'a>) -> impl Iterator<Item = (CellKey, &'a Cell)> {
    let scope = &state.eval.scope;
    state.engine.matrix().iter().filter(|(k, c)| c.deployments().next().is_some() && scope.includes(k.env))
}

fn cell_json<'a>(state: View<'a>, key: CellKey, cell: &'a Cell) -> CellJson<'a> {
    let service = state.engine.fleet.services[key.service].name.as_ref();
    let environment = state.engine.fleet.environments[key.env].name.as_ref();
    let error_of = |o: &crate::analysis::Observation| o.error.as_ref().map(|f| f.error.to_string());
    match cell.shown() {
        Some(obs) => {
            let seen = obs.last_ok.as_ref();
            let r = seen.map(|s| &s.reading);
            CellJson {
                service,
                environment,
                version: r.and_then(|r| r.version.as_deref()),
                build: r.and_then(|r| r.build.as_deref()),
                commit: r.and_then(|r| r.commit.as_deref()),
                digest: r.and_then(|r| r.digest.as_deref()),
                health: r.and_then(|r| r.health).map(|h| h.as_str()),
                deployed_at: r.and_then(|r| r.deployed_at),
                evidence: Some(obs.evidence.as_str()),
                source: Some(&obs.source),
                fetched_at: seen.map(|s| s.fetched_at),
                error: error_of(obs),
            }
        }
        None => {
            let obs = cell.observations.iter().find(|o| o.error.is_some()).or(cell.observations.first());
            CellJson {
                service,
                environment,
                version: None,
                build: None,
                commit: None,
                digest: None,
                health: None,
                deployed_at: None,
                evidence: obs.map(|o| o.evidence.as_str()),
                source: obs.map(|o| &*o.source),
                fetched_at: None,
                error: obs.and_then(error_of).or_else(|| Some("not read".to_string())),
            }
        }
    }
}

pub fn check_json(state: View<'_>) -> CheckJson<'_> {
    let release = state.engine.fleet.release.as_ref().map(|r| ReleaseJson {
        name: &r.name,
        kind: r.kind.map(|k| k.as_str()),
        window: r.window,
    });
    CheckJson {
        schema: SCHEMA,
        generated_at: state.eval.now,
        release,
        verdict: state.eval.judgement.verdict.as_str(),
        blockers: &state.eval.judgement.blockers,
        cells: read_cells(state).map(|(k, c)| cell_json(state, k, c)).collect(),
        findings: state
            .eval
            .findings
            .iter()
            .map(|f| FindingJson {
                kind: f.kind.as_str(),
                severity: f.severity.as_str(),
                service: &state.engine.fleet.services[f.cell.service].name,
                environment: &state.engine.fleet.environments[f.cell.env].name,
                message: &f.message,
            })
            .collect(),
        checklist: checklist_json(state),
        rollback: &state.eval.rollback,
    }
}

pub fn json(state: View<'_>) -> String {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_string_pretty(&check_json(state)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn release_line(state: View<'_>) -> String {
    match &state.engine.fleet.release {
        Some(r) => {
            let kind = r.kind.map(|k| format!(" ({})", k.as_str())).unwrap_or_default();
            let window = r
                .window
                .map(|w| {
                    format!(
                        ", window {} – {}",
                        w.start.strftime("%Y-%m-%d %H:%M"),
                        w.end.strftime("%Y-%m-%d %H:%M UTC")
                    )
                })
                .unwrap_or_default();
            format!("release {}{kind}{window}", r.name)
        }
        None => "no release plan".to_string(),
    }
}

/// The short form of a cell for tables.
fn cell_text(state: View<'_>, key: CellKey) -> String {
    let cell = state.engine.matrix().get(key);
    if cell.deployments().next().is_none() {
        return "·".to_string();
    }
    let mark = state.eval.mark(key).map(|k| format!("{} ", k.glyph())).unwrap_or_default();
    match cell.reading() {
        Some(seen) => {
            let v = seen.reading.version.as_deref().unwrap_or("not deployed");
            let build = seen.reading.build.as_deref().map(|b| format!(" #{b}")).unwrap_or_default();
            let failing = if cell.all_failing() { " (unreachable)" } else { "" };
            format!("{mark}{v}{build}{failing}")
        }
        None => format!("{mark}unreachable"),
    }
}

fn verdict_line(state: View<'_>) -> String {
    let j = &state.eval.judgement;
    let n = j.blockers.len();
    let blockers = match n {
        0 => String::new(),
        1 => " (1 blocker)".to_string(),
        n => format!(" ({n} blockers)"),
    };
    format!("{}{blockers}", j.verdict.as_str().to_uppercase())
}

/// Plain text, for a terminal or a CI log.
pub fn text(state: View<'_>) -> String {
    let scope = &state.eval.scope;
    let mut out = String::new();
    let push = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    push(
        &mut out,
        format!("flightdeck check · {} · {}", release_line(state), state.eval.now.strftime("%Y-%m-%d %H:%M:%S UTC")),
    );
    push(&mut out, format!("verdict: {}", verdict_line(state)));
    for b in &state.eval.judgement.blockers {
        push(&mut out, format!("  ✗ {}", b.message));
    }
    let high = state.eval.findings.iter().filter(|f| f.severity == Severity::High).count();
    push(&mut out, String::new());
    push(&mut out, format!("findings: {high} high, {} medium", state.eval.findings.len() - high));
    for f in &state.eval.findings {
        push(
            &mut out,
            format!("  {} {:<6} {:<14} {}", f.kind.glyph(), f.severity.as_str(), f.kind.as_str(), f.message),
        );
    }
    push(&mut out, String::new());
    for line in checklist_lines(state) {
        push(&mut out, line);
    }
    for line in rollback_lines(state) {
        push(&mut out, line);
    }
    let fleet = &state.engine.fleet;
    let name_w = fleet.services.iter().map(|s| s.name.chars().count()).max().unwrap_or(7).max(7);
    let envs: Vec<usize> = (0..fleet.environments.len()).filter(|&e| scope.includes(e)).collect();
    let cols: Vec<Vec<String>> = envs
        .iter()
        .map(|&env| (0..fleet.services.len()).map(|service| cell_text(state, CellKey { service, env })).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .zip(&envs)
        .map(|(c, &e)| c.iter().map(|s| s.chars().count()).chain([fleet.environments[e].name.len()]).max().unwrap_or(1))
        .collect();
    let mut header = format!("  {:<name_w$}", "service");
    for (i, &e) in envs.iter().enumerate() {
        header.push_str(&format!("  {:<w$}", fleet.environments[e].name, w = widths[i]));
    }
    push(&mut out, header.trim_end().to_string());
    for (service, svc) in fleet.services.iter().enumerate() {
        let mut row = format!("  {:<name_w$}", svc.name);
        for (e, col) in cols.iter().enumerate() {
            row.push_str(&format!("  {:<w$}", col[service], w = widths[e]));
        }
        push(&mut out, row.trim_end().to_string());
    }
    out
}

/// Markdown, for a ticket or a chat.
pub fn markdown(state: View<'_>) -> String {
    let scope = &state.eval.scope;
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    out.push_str(&format!("## flightdeck check: {}\n\n", release_line(state)));
    out.push_str(&format!(
        "**Verdict: {}** · generated {}\n\n",
        verdict_line(state),
        state.eval.now.strftime("%Y-%m-%d %H:%M:%S UTC")
    ));
    if !state.eval.judgement.blockers.is_empty() {
        out.push_str("### Blockers\n\n");
        for b in &state.eval.judgement.blockers {
            out.push_str(&format!("- {}\n", esc(&b.message)));
        }
        out.push('\n');
    }
    out.push_str("### Findings\n\n");
    if state.eval.findings.is_empty() {
        out.push_str("No findings.\n\n");
    } else {
        out.push_str("| severity | kind | environment | service | message |\n|---|---|---|---|---|\n");
        for f in &state.eval.findings {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                f.severity.as_str(),
                f.kind.as_str(),
                state.engine.fleet.environments[f.cell.env].name,
                state.engine.fleet.services[f.cell.service].name,
                esc(&f.message)
            ));
        }
        out.push('\n');
    }
    let envs: Vec<usize> = (0..state.engine.fleet.environments.len()).filter(|&e| scope.includes(e)).collect();
    if let Some((template, cs)) = state.engine.template.as_ref().zip(state.eval.checklist.as_ref()) {
        let (done, total) = cs.overall_progress();
        out.push_str(&format!("### Checklist ({}: {done}/{total} done)\n\n", template.name));
        out.push_str("| phase | item | role | status | by |\n|---|---|---|---|---|\n");
        for item in &cs.items {
            let Some((p, spec)) = template.item(&item.id) else { continue };
            out.push_str(&format!(
                "| {} | {}{} | {} | {} | {} |\n",
                esc(&template.phases[p].title),
                esc(&spec.title),
                if spec.required { "" } else { " (optional)" },
                spec.role,
                status_word(item),
                item_by(item).map_or(String::new(), |b| esc(&b))
            ));
        }
        for so in &cs.signoffs {
            out.push_str(&format!(
                "| {} | sign-off | {} | {} | {} |\n",
                esc(&template.phases[so.phase].title),
                so.role,
                if so.signed.is_some() {
                    "signed"
                } else if so.overdue {
                    "**missing, overdue**"
                } else {
                    "missing"
                },
                so.signed.as_ref().map_or(String::new(), |m| format!(
                    "{} {}",
                    esc(&m.by),
                    m.at.strftime("%Y-%m-%d %H:%M")
                ))
            ));
        }
        if let Some(d) = cs.manual.decision() {
            out.push_str(&format!(
                "\n**Decision:** {} by {} at {}: {}\n",
                if d.decision == crate::journal::release::Decision::Go { "GO" } else { "NO-GO" },
                esc(&d.by),
                d.at.strftime("%Y-%m-%d %H:%M UTC"),
                esc(&d.reason)
            ));
        }
        out.push('\n');
    }
    rollback_markdown(state, &mut out);
    out.push_str("### What is running\n\n| service |");
    for &env in &envs {
        out.push_str(&format!(" {} |", state.engine.fleet.environments[env].name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(envs.len()));
    out.push('\n');
    for (service, svc) in state.engine.fleet.services.iter().enumerate() {
        out.push_str(&format!("| {} |", svc.name));
        for &env in &envs {
            out.push_str(&format!(" {} |", esc(&cell_text(state, CellKey { service, env }))));
        }
        out.push('\n');
    }
    out
}

fn status_word(item: &crate::checklist::eval::ItemState) -> &'static str {
    match (item.status, item.overdue) {
        (crate::checklist::Status::Done, _) => "done",
        (crate::checklist::Status::Pending, true) => "**overdue**",
        (crate::checklist::Status::Pending, false) => "pending",
    }
}

/// Who ticked an item, or the cockpit's evidence for a live one.
fn item_by(item: &crate::checklist::eval::ItemState) -> Option<String> {
    match (&item.condition, &item.ticked) {
        (Some(crate::checklist::Truth::True(e)), _) => Some(format!("cockpit: {e}")),
        (Some(crate::checklist::Truth::False(e)), _) => Some(e.clone()),
        (_, Some(m)) => Some(format!("{} {}", m.by, m.at.strftime("%Y-%m-%d %H:%M"))),
        _ => None,
    }
}

/// The checklist in a few lines for the text report.
fn checklist_lines(state: View<'_>) -> Vec<String> {
    let Some((template, cs)) = state.engine.template.as_ref().zip(state.eval.checklist.as_ref()) else {
        return Vec::new();
    };
    let (done, total) = cs.overall_progress();
    let mut lines = vec![format!("checklist {}: {done}/{total} done", template.name)];
    for (p, phase) in template.phases.iter().enumerate() {
        let (d, t) = cs.phase_progress(p);
        lines.push(format!("  {:<24} {d}/{t}", phase.title));
        for item in cs.items.iter().filter(|i| i.phase == p && i.status == crate::checklist::Status::Pending) {
            let Some((_, spec)) = template.item(&item.id) else { continue };
            let mark = if item.overdue { "overdue" } else { "pending" };
            let req = if spec.required { "" } else { " (optional)" };
            lines.push(format!("    {mark:<8} {}{req} ({})", spec.title, spec.role));
        }
        for so in cs.signoffs.iter().filter(|s| s.phase == p && s.signed.is_none()) {
            let mark = if so.overdue { "overdue" } else { "pending" };
            lines.push(format!("    {mark:<8} sign-off from {}", so.role));
        }
    }
    if let Some(d) = cs.manual.decision() {
        lines.push(format!("decision: {:?} by {} at {}: {}", d.decision, d.by, d.at.strftime("%H:%M UTC"), d.reason));
    }
    lines.push(String::new());
    lines
}

/// Rollback in a few lines for the text report: readiness per service,
/// then every trigger that is not plainly OK.
fn rollback_lines(state: View<'_>) -> Vec<String> {
    use crate::analysis::rollback::Level;
    let view = &state.eval.rollback;
    if view.services.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!("rollback (baseline {}):", view.baseline)];
    for s in &view.services {
        let back = s
            .environments
            .first()
            .map(|e| {
                let to = e.known_good.as_ref().map_or("—", |k| k.artifact.version.as_str());
                format!(" {}: back to {to}", e.environment)
            })
            .unwrap_or_default();
        lines.push(format!("  {:<9} {}{back}", s.readiness.label(), s.name));
        for r in &s.reasons {
            lines.push(format!("            ! {r}"));
        }
    }
    for t in view.triggers.iter().filter(|t| t.state != Level::Ok || t.error.is_some()) {
        let error = t.error.as_ref().map(|e| format!(" error: {e}")).unwrap_or_default();
        lines.push(format!(
            "  {} {:<7} {} in {}: {} [{}]{error}",
            t.state.glyph(),
            t.state.label(),
            t.service,
            t.environment,
            t.measurement(),
            t.note
        ));
    }
    lines.push(String::new());
    lines
}

fn rollback_markdown(state: View<'_>, out: &mut String) {
    let esc = |s: &str| s.replace('|', "\\|");
    let view = &state.eval.rollback;
    if view.services.is_empty() {
        return;
    }
    out.push_str(&format!("### Rollback (baseline {})\n\n", esc(&view.baseline)));
    out.push_str(
        "| service | readiness | environment | runs | back to | how | reasons |\n|---|---|---|---|---|---|---|\n",
    );
    for s in &view.services {
        for e in &s.environments {
            let back = e
                .known_good
                .as_ref()
                .map_or("—".to_string(), |k| format!("{} ({})", k.artifact.version, k.from.describe()));
            let how = e.method.as_ref().map_or("—".to_string(), |m| format!("`{}`", m.text()));
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                s.name,
                e.readiness.label(),
                e.environment,
                e.current.as_deref().unwrap_or("—"),
                esc(&back),
                esc(&how),
                esc(&e.reasons.join("; "))
            ));
        }
    }
    out.push('\n');
    if !view.triggers.is_empty() {
        out.push_str(
            "| trigger | service | environment | state | live | baseline | fires at | error |\n|---|---|---|---|---|---|---|---|\n",
        );
        for t in &view.triggers {
            let v =
                |x: Option<crate::model::MetricValue>| x.map_or("—".to_string(), crate::analysis::rollback::value_text);
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
                t.name,
                t.service,
                t.environment,
                if t.state == crate::analysis::rollback::Level::Firing { "**FIRING**" } else { t.state.label() },
                if &*t.name == "health" { esc(&t.note) } else { v(t.live) },
                v(t.baseline),
                t.threshold.map_or("—".to_string(), crate::model::rollback::trim_float),
                t.error.as_deref().map_or("—".to_string(), esc)
            ));
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::Timestamp;

    use super::*;
    use crate::model::{Evidence, Health, Reading, Role};
    use crate::sources::FetchError;

    const CONFIG: &str = r#"
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

    const TWO_SERIES: &str = "up: query returned 2 series; aggregate it with sum() or max()";

    fn now() -> Timestamp {
        "2026-11-24T18:30:00Z".parse().unwrap()
    }

    /// payments 1.4.0 up in prod; `prom` failed on its only attempt.
    fn state() -> Engine {
        let config = crate::setup::from_toml_str(CONFIG, "test").unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        let mut s = Engine::for_config(&config, &active, None);
        let cell = s.cell_mut(CellKey { service: 0, env: 0 }).unwrap();
        let running = Reading { health: Some(Health::Up), ..Reading::version("1.4.0") };
        cell.record(&Arc::from("endpoints"), Evidence::Running, now(), Ok(running));
        let err = FetchError::Field(TWO_SERIES.into());
        cell.record_as(&Arc::from("prom"), Evidence::Declared, Role::Metrics, now(), Err(err));
        s
    }

    fn evaluate(s: &mut Engine) -> Evaluation {
        let scope = Scope::all(&s.fleet);
        s.evaluate(now(), &scope)
    }

    #[test]
    fn a_failing_trigger_query_reaches_json_text_and_markdown() {
        let mut s = state();
        let e = evaluate(&mut s);
        let view = View::new(&s, &e);

        let json: serde_json::Value = serde_json::from_str(&json(view)).unwrap();
        assert_eq!(json["verdict"], "hold", "{json:#}");
        let up = json["rollback"]["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "up")
            .unwrap_or_else(|| panic!("no `up` trigger: {json:#}"));
        assert_eq!(up["error"], TWO_SERIES, "{up:#}");
        assert_eq!(up["state"], "no-data", "{up:#}");
        assert_eq!(up["note"], "prom failing since 18:30:00 UTC: no value yet", "{up:#}");
        let keys: Vec<&str> = up.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "service",
                "environment",
                "name",
                "rule",
                "live",
                "baseline",
                "baseline_at",
                "threshold",
                "state",
                "note",
                "error"
            ]
        );
        // health has no query: its error is null.
        let health = json["rollback"]["triggers"].as_array().unwrap().iter().find(|t| t["name"] == "health").unwrap();
        assert_eq!(health["error"], serde_json::Value::Null, "{health:#}");
        assert_eq!(
            json["blockers"],
            serde_json::json!([{
                "reason": "trigger_error",
                "message": format!("cannot tell whether rollback trigger up fires: payments in prod: {TWO_SERIES}"),
            }])
        );

        let text = text(view);
        assert!(text.contains("verdict: HOLD (1 blocker)"), "{text}");
        assert!(!text.contains("no metrics source has read"), "{text}");
        let line = text.lines().find(|l| l.contains("NO DATA") && l.contains("payments in prod: up")).unwrap();
        assert_eq!(
            line,
            format!(
                "  ? NO DATA payments in prod: up — [prom failing since 18:30:00 UTC: no value yet] error: {TWO_SERIES}"
            )
        );

        let md = markdown(view);
        assert!(md.contains("**Verdict: HOLD"), "{md}");
        assert!(md.contains(&format!("| up | payments | prod | NO DATA | — | — | — | {TWO_SERIES} |")), "{md}");
    }

    #[test]
    fn a_kept_value_shows_beside_the_error_in_text() {
        let mut s = state();
        let cell = s.cell_mut(CellKey { service: 0, env: 0 }).unwrap();
        let at: Timestamp = "2026-11-24T18:29:00Z".parse().unwrap();
        let fine = Reading {
            metrics: vec![crate::model::Metric::new("up", crate::model::MetricValue::Number(0.1))],
            ..Reading::default()
        };
        // An older good reading, then the failure again.
        cell.record_as(&Arc::from("prom"), Evidence::Declared, Role::Metrics, at, Ok(fine));
        cell.record_as(
            &Arc::from("prom"),
            Evidence::Declared,
            Role::Metrics,
            now(),
            Err(FetchError::Field(TWO_SERIES.into())),
        );
        let e = evaluate(&mut s);
        let text = text(View::new(&s, &e));
        let line = text.lines().find(|l| l.starts_with("  · OK ")).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(
            line,
            format!(
                "  · OK      payments in prod: up 0.1 (fires ≥ 0.5) \
                 [warns at 0.25; last value from 18:29:00 UTC, prom failing] error: {TWO_SERIES}"
            )
        );
        assert!(text.contains("verdict: HOLD"), "{text}");
    }
}
