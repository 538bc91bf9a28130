//! What ships: the commits between what runs in one environment and in the
//! next, between the last environment and the release's target, and
//! whether each running commit is in the mainline (`not_merged_back`).
//!
//! The engine says what it needs to know ([`Engine::asks`]: a compare of
//! two refs, or whether a ref is in the mainline), a front end's worker asks
//! the compare API ([`crate::changes::ChangesClient`]) and hands each answer
//! back ([`Engine::take_answer`]); the judgement stays here. An ask is made
//! when a cell's version changes — never on every poll — and its answer is
//! kept for the run, keyed by (repo, base, head).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Engine;
use crate::analysis::findings::{Finding, FindingKind};
use crate::changes::{Changes, ChangesConfig};
use crate::model::{CellKey, EnvIdx, ServiceIdx};

/// One question for the compare API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub enum Ask {
    /// The commits `head` has that `base` lacks.
    Compare { repo: String, base: String, head: String },
    /// Whether `git_ref` is in the mainline branch.
    Mainline { repo: String, git_ref: String },
}

/// Its answer; an error is the reason, in words.
#[derive(Debug, Clone)]
pub enum Answer {
    Compare(Result<Arc<Changes>, String>),
    Mainline(Result<bool, String>),
}

/// An answer as team mode stores it (`flightdeck_changes.answer`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoredAnswer {
    Compare(Changes),
    Mainline(bool),
    Error(String),
}

impl StoredAnswer {
    pub(crate) fn of(answer: &Answer) -> StoredAnswer {
        match answer {
            Answer::Compare(Ok(c)) => StoredAnswer::Compare(Changes::clone(c)),
            Answer::Mainline(Ok(b)) => StoredAnswer::Mainline(*b),
            Answer::Compare(Err(e)) | Answer::Mainline(Err(e)) => StoredAnswer::Error(e.clone()),
        }
    }

    /// Back to an answer for `ask` (an error answers either kind).
    pub(crate) fn into_answer(self, ask: &Ask) -> Answer {
        match (self, ask) {
            (StoredAnswer::Compare(c), _) => Answer::Compare(Ok(Arc::new(c))),
            (StoredAnswer::Mainline(b), _) => Answer::Mainline(Ok(b)),
            (StoredAnswer::Error(e), Ask::Compare { .. }) => Answer::Compare(Err(e)),
            (StoredAnswer::Error(e), Ask::Mainline { .. }) => Answer::Mainline(Err(e)),
        }
    }
}

/// The changes known so far, and what has been asked.
#[derive(Debug, Clone, Default)]
pub struct Shipping {
    pub(crate) config: Option<ChangesConfig>,
    answers: HashMap<Ask, Answer>,
    asked: HashSet<Ask>,
    /// A cell shows another version or commit, or answers were forgotten,
    /// since the fleet was last scanned for questions: scan again.
    pub(crate) moved: bool,
}

/// The version and commit a cell shows: what its questions are made of.
pub(crate) fn shown_ref(matrix: &crate::analysis::Matrix, key: CellKey) -> Option<(String, Option<String>)> {
    let reading = &matrix.get(key).shown()?.last_ok.as_ref()?.reading;
    Some((reading.version.clone()?, reading.commit.clone()))
}

/// One end of a range of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// What runs in an environment.
    Env(EnvIdx),
    /// The release's target version.
    Target,
}

/// A cell's (or the target's) git ref, with what it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub repo: String,
    pub git_ref: String,
    pub version: String,
    pub commit: Option<String>,
}

/// The changes of one service from one point to another, for a front end.
#[derive(Debug, Clone)]
pub struct Range<'a> {
    pub service: ServiceIdx,
    pub from: Located,
    pub to: Located,
    /// `None`: asked, not answered yet.
    pub changes: Option<Result<&'a Changes, &'a str>>,
}

impl Engine {
    /// Whether `[changes]` is configured.
    pub fn ships(&self) -> bool {
        self.shipping.config.is_some()
    }

    /// Where `point` is for `service`: its repo and the ref of the version
    /// that runs there (a known commit wins), or of the target.
    pub fn locate(&self, service: ServiceIdx, point: Point) -> Option<Located> {
        let config = self.shipping.config.as_ref()?;
        let name = &self.fleet.services.get(service)?.name;
        let repo = config.repo_for(name)?.to_string();
        let (version, commit) = match point {
            Point::Target => (self.fleet.release.as_ref()?.target(service)?.to_string(), None),
            Point::Env(env) => shown_ref(&self.matrix, CellKey { service, env })?,
        };
        let git_ref = config.git_ref(name, &version, commit.as_deref()).ok()?;
        Some(Located { repo, git_ref, version, commit })
    }

    /// The compare behind `from → to` for `service` (what `to` has that
    /// `from` lacks), when both ends are known and differ.
    pub fn range(&self, service: ServiceIdx, from: Point, to: Point) -> Option<Range<'_>> {
        let (from, to) = (self.locate(service, from)?, self.locate(service, to)?);
        if from.git_ref == to.git_ref {
            return None;
        }
        let ask = Ask::Compare { repo: from.repo.clone(), base: from.git_ref.clone(), head: to.git_ref.clone() };
        let changes = match self.shipping.answers.get(&ask) {
            Some(Answer::Compare(Ok(c))) => Some(Ok(c.as_ref())),
            Some(Answer::Compare(Err(e))) => Some(Err(e.as_str())),
            _ => None,
        };
        Some(Range { service, from, to, changes })
    }

    /// What a cell will gain when the environment before it is promoted:
    /// the commits running there and not here.
    pub fn incoming(&self, key: CellKey) -> Option<Range<'_>> {
        let before = key.env.checked_sub(1)?;
        self.range(key.service, Point::Env(key.env), Point::Env(before))
    }

    /// What the last environment gains with the release: its running
    /// version → the target, per service with a target.
    pub fn release_ranges(&self) -> Vec<Range<'_>> {
        let Some(last) = self.fleet.environments.len().checked_sub(1) else { return Vec::new() };
        (0..self.fleet.services.len()).filter_map(|s| self.range(s, Point::Env(last), Point::Target)).collect()
    }

    /// Every question whose answer the judgement or the screen needs and
    /// nobody has asked yet; each is marked asked. Adjacent environments,
    /// the last one → the target, and every running ref against the
    /// mainline.
    pub fn asks(&mut self) -> Vec<Ask> {
        self.asks_for(&[])
    }

    /// As [`Engine::asks`], plus the ranges a command wants (`changes --from --to`).
    pub fn asks_for(&mut self, extra: &[(Point, Point)]) -> Vec<Ask> {
        // Nothing moved since the last scan: no new question (the scan reads
        // every cell, so it is not done on every analysis).
        if self.shipping.config.is_none() || (!self.shipping.moved && extra.is_empty()) {
            return Vec::new();
        }
        self.shipping.moved = false;
        let envs = self.fleet.environments.len();
        let mut wanted = Vec::new();
        for service in 0..self.fleet.services.len() {
            for env in 0..envs {
                if let Some(here) = self.locate(service, Point::Env(env)) {
                    wanted.push(Ask::Mainline { repo: here.repo, git_ref: here.git_ref });
                }
                if env > 0 {
                    wanted.extend(self.range(service, Point::Env(env), Point::Env(env - 1)).map(|r| ask_of(&r)));
                }
            }
            if let Some(last) = envs.checked_sub(1) {
                wanted.extend(self.range(service, Point::Env(last), Point::Target).map(|r| ask_of(&r)));
            }
            for &(from, to) in extra {
                wanted.extend(self.range(service, from, to).map(|r| ask_of(&r)));
            }
        }
        let shipping = &mut self.shipping;
        wanted.retain(|ask| !shipping.answers.contains_key(ask) && shipping.asked.insert(ask.clone()));
        wanted.sort();
        wanted.dedup();
        wanted
    }

    /// An answer from the worker.
    pub fn take_answer(&mut self, ask: Ask, answer: Answer) {
        self.shipping.asked.remove(&ask);
        self.shipping.answers.insert(ask, answer);
    }

    /// Forget the failed answers so they are asked again (a ref not pushed
    /// yet, a rate limit): the loop calls this now and then.
    pub fn retry_failed_asks(&mut self) {
        // "Not in the mainline" is asked again too: a hotfix merged back
        // since clears its finding (the ETag makes an unchanged answer free).
        let before = self.shipping.answers.len();
        self.shipping.answers.retain(|_, a| {
            !matches!(a, Answer::Compare(Err(_)) | Answer::Mainline(Err(_)) | Answer::Mainline(Ok(false)))
        });
        self.shipping.moved |= self.shipping.answers.len() != before;
    }

    /// Every answer held, to share again (a seat that takes the lead
    /// writes them, so answers it got while it could not write reach every seat).
    pub fn answers(&self) -> Vec<(Ask, Answer)> {
        self.shipping.answers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// `not_merged_back`: a ref running in an environment that is not in
    /// the mainline — a hotfix never merged back, which the next release
    /// silently reverts.
    pub(crate) fn not_merged_back(&self) -> Vec<Finding> {
        let Some(config) = &self.shipping.config else { return Vec::new() };
        let mut out = Vec::new();
        for service in 0..self.fleet.services.len() {
            for env in 0..self.fleet.environments.len() {
                let Some(here) = self.locate(service, Point::Env(env)) else { continue };
                let ask = Ask::Mainline { repo: here.repo, git_ref: here.git_ref.clone() };
                if !matches!(self.shipping.answers.get(&ask), Some(Answer::Mainline(Ok(false)))) {
                    continue;
                }
                let runs = match &here.commit {
                    Some(c) => c.chars().take(7).collect::<String>(),
                    None => here.git_ref.clone(),
                };
                out.push(Finding {
                    kind: FindingKind::NotMergedBack,
                    severity: FindingKind::NotMergedBack.severity(),
                    cell: CellKey { service, env },
                    message: format!(
                        "{} {} in {} runs {runs}, which is not in {}: the hotfix was never merged back",
                        self.fleet.services[service].name,
                        here.version,
                        self.fleet.environments[env].name,
                        config.mainline
                    ),
                });
            }
        }
        out
    }

    /// Per cell, how many commits it will gain from the environment before
    /// it (dense like the matrix), for the evaluation.
    pub(crate) fn incoming_counts(&self) -> Vec<Option<usize>> {
        let envs = self.fleet.environments.len();
        let mut counts = vec![None; self.fleet.cell_count()];
        if self.shipping.config.is_none() {
            return counts;
        }
        for service in 0..self.fleet.services.len() {
            for env in 1..envs {
                if let Some(Range { changes: Some(Ok(c)), .. }) = self.incoming(CellKey { service, env })
                    && let Some(slot) = counts.get_mut(service * envs + env)
                {
                    *slot = Some(usize::try_from(c.total_commits).unwrap_or(usize::MAX));
                }
            }
        }
        counts
    }
}

fn ask_of(range: &Range<'_>) -> Ask {
    Ask::Compare { repo: range.from.repo.clone(), base: range.from.git_ref.clone(), head: range.to.git_ref.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::findings::Severity;
    use crate::model::{Evidence, Reading, Role};
    use crate::poller::SourceUpdate;

    const CONFIG: &str = r#"
[[environments]]
name = "qa"
[[environments]]
name = "prod"
[[services]]
name = "payments"
repo = "acme/payments"
[[services]]
name = "ledger"
[release]
name = "r"
kind = "patch"
[release.targets]
payments = "1.4.1"
[[sources]]
name = "endpoints"
kind = "http"
url = "http://127.0.0.1:9/{env}/{service}"
[changes]
kind = "github"
tag = "v{version}"
mainline = "main"
"#;

    fn engine() -> Engine {
        let config = crate::setup::from_toml_str(CONFIG, "test").unwrap();
        let active = crate::sources::activate(&config.sources, &config.fleet).unwrap();
        Engine::for_config(&config, &active, None)
    }

    fn runs(e: &mut Engine, service: &str, env: &str, version: &str, commit: Option<&str>) {
        let cell = CellKey { service: e.fleet.service_idx(service).unwrap(), env: e.fleet.env_idx(env).unwrap() };
        e.apply(SourceUpdate {
            source: Arc::from("endpoints"),
            evidence: Evidence::Running,
            role: Role::Deployment,
            cell,
            attempted_at: jiff::Timestamp::now(),
            result: Ok(Reading { commit: commit.map(str::to_string), ..Reading::version(version) }),
        });
    }

    fn changes(base: &str, head: &str, n: u64) -> Arc<Changes> {
        Arc::new(Changes {
            kind: crate::changes::ChangesKind::Github,
            repo: "acme/payments".into(),
            base: base.into(),
            head: head.into(),
            status: None,
            ahead_by: n,
            behind_by: None,
            total_commits: n,
            truncated: false,
            commits: Vec::new(),
        })
    }

    #[test]
    fn what_is_asked_follows_the_versions_and_is_asked_once() {
        let mut e = engine();
        assert!(e.asks().is_empty(), "nothing runs yet: nothing to ask");
        runs(&mut e, "payments", "qa", "1.4.1", None);
        runs(&mut e, "payments", "prod", "1.3.3", Some("9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"));
        runs(&mut e, "ledger", "prod", "7.0.0", None);
        let asks = e.asks();
        let sha = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
        let want = |a: Ask| assert!(asks.contains(&a), "{a:?} not in {asks:?}");
        // Running refs against the mainline; a known commit wins over the tag.
        want(Ask::Mainline { repo: "acme/payments".into(), git_ref: "v1.4.1".into() });
        want(Ask::Mainline { repo: "acme/payments".into(), git_ref: sha.into() });
        // What prod gains from qa, and from the release's target (the same here).
        want(Ask::Compare { repo: "acme/payments".into(), base: sha.into(), head: "v1.4.1".into() });
        assert_eq!(asks.len(), 3, "ledger has no repo; the qa→prod and prod→target ranges are one: {asks:?}");
        assert!(e.asks().is_empty(), "asked already: not again");
        // A new version is a new question; the old ones are not asked again.
        runs(&mut e, "payments", "qa", "1.4.2", None);
        let again = e.asks();
        assert!(again.contains(&Ask::Mainline { repo: "acme/payments".into(), git_ref: "v1.4.2".into() }), "{again:?}");
        assert!(!again.iter().any(|a| matches!(a, Ask::Mainline { git_ref, .. } if git_ref == sha)), "{again:?}");
    }

    #[test]
    fn a_running_commit_outside_the_mainline_is_not_merged_back() {
        let mut e = engine();
        let sha = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432";
        runs(&mut e, "payments", "qa", "1.4.1", None);
        runs(&mut e, "payments", "prod", "1.3.3", Some(sha));
        let _ = e.asks();
        let scope = crate::engine::Scope::all(&e.fleet);
        let now = jiff::Timestamp::now();
        let kinds = |e: &mut Engine| {
            e.evaluate(now, &scope).findings.iter().filter(|f| f.kind == FindingKind::NotMergedBack).count()
        };
        assert_eq!(kinds(&mut e), 0, "not answered yet: nothing judged");
        let mainline = |git_ref: &str| Ask::Mainline { repo: "acme/payments".into(), git_ref: git_ref.into() };
        e.take_answer(mainline("v1.4.1"), Answer::Mainline(Ok(true)));
        e.take_answer(mainline(sha), Answer::Mainline(Ok(false)));
        let eval = e.evaluate(now, &scope);
        let found: Vec<_> = eval.findings.iter().filter(|f| f.kind == FindingKind::NotMergedBack).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Medium);
        assert_eq!(
            found[0].message,
            "payments 1.3.3 in prod runs 9f8e7d6, which is not in main: the hotfix was never merged back"
        );
        // Merged back later (a merge brought it into main): the finding goes.
        e.take_answer(mainline(sha), Answer::Mainline(Ok(true)));
        assert_eq!(kinds(&mut e), 0);
        // A failed question judges nothing, and is asked again after a retry.
        e.take_answer(mainline(sha), Answer::Mainline(Err("HTTP 404 unknown ref".into())));
        assert_eq!(kinds(&mut e), 0);
        e.retry_failed_asks();
        assert!(e.asks().contains(&mainline(sha)));
        // "Not in the mainline" is asked again on a retry (it may have been
        // merged back since); "in the mainline" is settled.
        e.take_answer(mainline(sha), Answer::Mainline(Ok(false)));
        e.retry_failed_asks();
        let again = e.asks();
        assert!(again.contains(&mainline(sha)), "{again:?}");
        assert!(!again.contains(&mainline("v1.4.1")), "{again:?}");
    }

    #[test]
    fn a_cell_counts_what_it_gains_from_the_environment_before_it() {
        let mut e = engine();
        runs(&mut e, "payments", "qa", "1.4.1", None);
        runs(&mut e, "payments", "prod", "1.3.3", None);
        let prod = CellKey { service: 0, env: 1 };
        let scope = crate::engine::Scope::all(&e.fleet);
        let now = jiff::Timestamp::now();
        assert_eq!(e.evaluate(now, &scope).incoming(prod), None, "not answered yet");
        let ask = Ask::Compare { repo: "acme/payments".into(), base: "v1.3.3".into(), head: "v1.4.1".into() };
        e.take_answer(ask, Answer::Compare(Ok(changes("v1.3.3", "v1.4.1", 14))));
        let eval = e.evaluate(now, &scope);
        assert_eq!(eval.incoming(prod), Some(14));
        assert_eq!(eval.incoming(CellKey { service: 0, env: 0 }), None, "the first environment gains from nobody");
        let release = e.release_ranges();
        assert_eq!(release.len(), 1);
        assert_eq!((release[0].from.version.as_str(), release[0].to.version.as_str()), ("1.3.3", "1.4.1"));
        assert!(matches!(release[0].changes, Some(Ok(c)) if c.total_commits == 14));
    }

    #[test]
    fn stored_answers_come_back_as_they_were() {
        let ask = Ask::Compare { repo: "r".into(), base: "a".into(), head: "b".into() };
        let json = serde_json::to_value(StoredAnswer::of(&Answer::Compare(Ok(changes("a", "b", 3))))).unwrap();
        let back = serde_json::from_value::<StoredAnswer>(json).unwrap().into_answer(&ask);
        assert!(matches!(back, Answer::Compare(Ok(c)) if c.total_commits == 3));
        let json = serde_json::to_value(StoredAnswer::of(&Answer::Mainline(Err("gone".into())))).unwrap();
        let mainline = Ask::Mainline { repo: "r".into(), git_ref: "x".into() };
        assert!(matches!(serde_json::from_value::<StoredAnswer>(json).unwrap().into_answer(&mainline),
            Answer::Mainline(Err(e)) if e == "gone"));
    }
}
