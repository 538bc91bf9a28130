//! Live conditions an item can be bound to; the cockpit evaluates them
//! itself and ticks (or unticks) the item with the evidence.

use std::fmt;

use crate::model::{EnvIdx, Fleet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Every planned service runs its target (or newer) in the environment.
    Deployed(EnvIdx),
    /// No finding in the environment.
    NoFindings(EnvIdx),
    /// No cell in the environment reports health down or is unreachable.
    Healthy(EnvIdx),
    /// No rollback trigger firing in the environment.
    TriggersClear(EnvIdx),
    /// Every service in the environment can be rolled back.
    RollbackReady(EnvIdx),
    /// A person with the role has signed off.
    SignedOff(String),
    /// Now is inside the release window.
    WindowOpen,
}

impl Condition {
    /// Parse `deployed(prod)`, `signed_off(qa-lead)`, `window_open`.
    /// Environments are names from the config, or `$prod` (the last in
    /// promotion order) and `$staging` (the one before it).
    pub fn parse(raw: &str, fleet: &Fleet) -> Result<Condition, String> {
        let raw = raw.trim();
        if raw == "window_open" || raw == "window_open()" {
            return Ok(Condition::WindowOpen);
        }
        let (name, arg) = raw
            .strip_suffix(')')
            .and_then(|r| r.split_once('('))
            .map(|(n, a)| (n.trim(), a.trim()))
            .ok_or_else(|| format!("invalid condition `{raw}`: write it like deployed(prod) or window_open"))?;
        let env = || resolve_env(arg, fleet).map_err(|m| format!("condition `{raw}`: {m}"));
        match name {
            "deployed" => Ok(Condition::Deployed(env()?)),
            "no_findings" => Ok(Condition::NoFindings(env()?)),
            "healthy" => Ok(Condition::Healthy(env()?)),
            "triggers_clear" => Ok(Condition::TriggersClear(env()?)),
            "rollback_ready" => Ok(Condition::RollbackReady(env()?)),
            "signed_off" if !arg.is_empty() => Ok(Condition::SignedOff(arg.to_string())),
            _ => Err(format!(
                "unknown condition `{raw}` (known: deployed(env), no_findings(env), healthy(env), triggers_clear(env), rollback_ready(env), signed_off(role), window_open)"
            )),
        }
    }

    pub fn display(&self, fleet: &Fleet) -> String {
        let env = |e: &EnvIdx| fleet.environments.get(*e).map_or("?", |x| x.name.as_ref()).to_string();
        match self {
            Condition::Deployed(e) => format!("deployed({})", env(e)),
            Condition::NoFindings(e) => format!("no_findings({})", env(e)),
            Condition::Healthy(e) => format!("healthy({})", env(e)),
            Condition::TriggersClear(e) => format!("triggers_clear({})", env(e)),
            Condition::RollbackReady(e) => format!("rollback_ready({})", env(e)),
            Condition::SignedOff(r) => format!("signed_off({r})"),
            Condition::WindowOpen => "window_open".to_string(),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

fn resolve_env(arg: &str, fleet: &Fleet) -> Result<EnvIdx, String> {
    let n = fleet.environments.len();
    match arg {
        "$prod" if n > 0 => Ok(n - 1),
        "$staging" if n > 1 => Ok(n - 2),
        "$staging" if n == 1 => Ok(0),
        _ => fleet.env_idx(arg).ok_or_else(|| {
            let known: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_ref()).collect();
            format!("unknown environment `{arg}` (known: {}, $prod, $staging)", known.join(", "))
        }),
    }
}
