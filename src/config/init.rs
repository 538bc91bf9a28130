//! `flightdeck config init`: a starter config that evaluates as written. Its
//! release window is set from the time it is written; its sources are
//! examples, commented out, one per kind (every key of every kind is in
//! `config.example.toml`).

use std::io::Write;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};

/// The starter, with `@GENERATED@`, `@RELEASE@`, `@START@` and `@END@` to
/// fill in (not `format!`: TOML and PromQL are full of braces).
const STARTER: &str = r##"# flightdeck configuration: a starter written by `flightdeck config init`
# at @GENERATED@. It evaluates as it is; edit it to describe your fleet.
#
#   flightdeck config check    every problem in it, at once
#   flightdeck check           one sweep of the sources and the verdict
#
# Every key, with its default: config.example.toml in the flightdeck
# repository. Unknown keys are errors. Durations are humane: 500ms, 15s,
# 2m, 1h30m, 30d. FLIGHTDECK_* environment variables override this file
# (nested keys with `__`, e.g. FLIGHTDECK_RELEASE__NAME=2026.12).

# Environments, in promotion order (earliest first).
[[environments]]
name = "staging"

[[environments]]
name = "prod"
stale_after = "30d"        # a deployment older than this is `stale`

# Services: the deployable units (usually one repository each).
[[services]]
name = "payments"
owner = "team-payments"    # optional
rollback = "https://runbooks.example.internal/payments#rollback"   # a runbook link…

[[services]]
name = "checkout"
# …or a command, shown filled in (never run): {service} {env} {current} {previous} {previous_ref}
rollback = "deployctl rollback {service} --env {env} --to {previous}"

# The release being shipped (it may also live in its own file: --release FILE).
[release]
name = "@RELEASE@"
kind = "minor"             # patch | minor | major | hotfix: picks the built-in checklist
# The window opens at the first full hour after this file was written and
# lasts two hours. Set yours as RFC 3339 times (UTC with Z, or an offset):
#   window = { start = "2026-12-01T18:00:00Z", end = "2026-12-01T20:00:00+00:00" }
window = { start = "@START@", end = "@END@" }

# [release.targets]        # service = the version this release ships
# payments = "1.4.0"
# checkout = "2.8.0"

# [release.migrations]     # per service: none | reversible | irreversible
# payments = "reversible"

# Sources: where flightdeck reads what runs where. None is on yet: pick the
# ones you have, remove the "# " before their lines and adapt them. Each
# reads every (service, environment) cell unless `services` / `environments`
# narrow it. A `token_env` names the variable holding a token (never the
# token): it must be set before flightdeck starts.

# Any JSON or plain-text endpoint that says the version, one URL per cell.
# [[sources]]
# name = "version-endpoints"
# kind = "http"
# url = "https://{service}.{env}.example.internal/version"
# every = "10s"                      # poll interval (default 30s)
# evidence = "running"               # running | controller | recorded | declared
# [sources.fields]                   # JSON pointers; only version is required
# version = "/version"
# deployed_at = "/deployed_at"

# GitHub deployment records (evidence "recorded").
# [[sources]]
# name = "github-deployments"
# kind = "github"
# repo = "acme/{service}"
# environments_map = { prod = "production" }   # flightdeck env = GitHub env
# every = "1m"
# # token_env = "GITHUB_TOKEN"       # without a token: 60 requests an hour

# GitLab deployment records, on gitlab.com or your own instance.
# [[sources]]
# name = "gitlab-deployments"
# kind = "gitlab"
# project = "acme/{service}"
# # api_url = "https://gitlab.example.com/api/v4"
# # token_env = "GITLAB_TOKEN"       # a token with read_api
# every = "1m"

# Argo CD: what each Application says it runs (evidence "controller").
# [[sources]]
# name = "argocd"
# kind = "argocd"
# api_url = "https://argocd.example.internal"
# app = "{service}-{env}"
# # token_env = "ARGOCD_TOKEN"

# Kubernetes: the image a Deployment runs (evidence "running"); one source per cluster.
# [[sources]]
# name = "prod-cluster"
# kind = "kubernetes"
# context = "prod"                   # a kubeconfig context (kubectl config get-contexts)
# namespace = "{env}"
# deployment = "{service}"
# environments = ["prod"]

# Prometheus: metrics for the cell detail and the rollback triggers.
# [[sources]]
# name = "metrics"
# kind = "prometheus"
# api_url = "http://prometheus.example.internal:9090"
# [sources.queries]                  # one value per query: aggregate with sum()/max()
# error_rate = 'sum(rate(http_requests_total{job="{service}",env="{env}",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="{service}",env="{env}"}[5m]))'

# Any program that prints the deployed version (run directly, no shell).
# [[sources]]
# name = "deploy-db"
# kind = "command"
# program = "deployed-version"       # looked up on PATH
# args = ["--service", "{service}", "--env", "{env}"]
# timeout = "10s"

# data_dir = "/var/lib/flightdeck"   # journals and logs (default: `flightdeck config path`)
# operator = "carol"                 # who ticks, signs and decides here (default: $USER)
# Rollback triggers ([rollback]) and team mode ([team]): see config.example.toml.
"##;

/// The window the starter opens: at the first full hour at least half an
/// hour after `now`, for two hours, so the checklist's last steps before the
/// window are still ahead.
pub(crate) fn window_after(now: Timestamp) -> (Timestamp, Timestamp) {
    let hour = 3600;
    let earliest = now.as_second() + 1800;
    let start = earliest.div_euclid(hour) * hour + if earliest.rem_euclid(hour) == 0 { 0 } else { hour };
    // Within jiff's range for any clock a person runs: `now` itself is.
    let start = Timestamp::from_second(start).unwrap_or(now);
    (start, start + SignedDuration::from_hours(2))
}

/// The starter config as written at `now`.
pub(crate) fn starter(now: Timestamp) -> String {
    let (start, end) = window_after(now);
    let seconds = |t: Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    STARTER
        .replace("@GENERATED@", &now.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .replace("@RELEASE@", &start.strftime("%Y.%m.%d").to_string())
        .replace("@START@", &seconds(start))
        .replace("@END@", &seconds(end))
}

/// Write the starter to `path` (its directory made if need be); an existing
/// file is left alone unless `force`. The error says what to do.
pub(crate) fn write(path: &Path, force: bool, now: Timestamp) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Never two steps (exists, then write): nothing can appear between.
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!(
            "{} already exists; it is left as it is: use --force to overwrite it, or --path FILE to write elsewhere",
            path.display()
        ),
        _ => format!("cannot write {}: {e}", path.display()),
    })?;
    file.write_all(starter(now).as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_opens_at_a_full_hour_at_least_half_an_hour_ahead() {
        assert_eq!(window_after(at("2026-11-27T10:10:00Z")).0, at("2026-11-27T11:00:00Z"));
        assert_eq!(window_after(at("2026-11-27T10:30:00Z")).0, at("2026-11-27T11:00:00Z"));
        assert_eq!(window_after(at("2026-11-27T10:30:01Z")).0, at("2026-11-27T12:00:00Z"));
        assert_eq!(window_after(at("2026-11-27T23:45:00Z")), (at("2026-11-28T01:00:00Z"), at("2026-11-28T03:00:00Z")));
    }

    #[test]
    fn the_starter_is_valid_and_its_release_is_the_window_after_now() {
        let now = at("2026-11-27T10:10:00Z");
        let config = crate::setup::from_toml_str(&starter(now), "starter").unwrap();
        let release = config.fleet.release.as_ref().unwrap();
        assert_eq!(release.name, "2026.11.27");
        let window = release.window.unwrap();
        assert_eq!((window.start, window.end), (at("2026-11-27T11:00:00Z"), at("2026-11-27T13:00:00Z")));
        assert!(config.sources.is_empty(), "the sources are examples, commented out");
        assert_eq!(config.fleet.environments.len(), 2);
        assert_eq!(config.fleet.services.len(), 2);
    }

    /// The starter with the example source of `kind` switched on: its
    /// `# [[sources]]` block, each line without its first "# ".
    fn with_source(kind: &str) -> String {
        let text = starter(at("2026-11-27T10:10:00Z"));
        let mut out = String::new();
        let mut in_block = false;
        let mut found = false;
        for block in text.split("\n\n") {
            if block.contains("# [[sources]]") && block.contains(&format!("# kind = \"{kind}\"")) {
                found = true;
                for line in block.lines() {
                    in_block |= line == "# [[sources]]";
                    let line = if in_block { line.strip_prefix("# ").unwrap_or(line) } else { line };
                    out.push_str(line);
                    out.push('\n');
                }
            } else {
                out.push_str(block);
            }
            out.push_str("\n\n");
        }
        assert!(found, "the starter has an example {kind} source");
        out
    }

    #[test]
    fn each_example_source_is_valid_once_uncommented() {
        for kind in ["http", "github", "gitlab", "argocd", "prometheus", "command"] {
            let text = with_source(kind);
            let config = crate::setup::from_toml_str(&text, "starter")
                .unwrap_or_else(|e| panic!("the {kind} example should be valid: {e}\n{text}"));
            assert_eq!(config.sources.len(), 1, "{kind}");
            assert_eq!(config.sources[0].kind, kind);
        }
    }

    #[test]
    fn the_kubernetes_example_asks_only_for_a_real_cluster() {
        // Valid but for what only the user's machine has: a kubeconfig
        // with that context (this machine may have neither).
        let text = with_source("kubernetes");
        if let Err(errors) = crate::setup::from_toml_str(&text, "starter") {
            let cluster = ["sources[0].context", "sources[0].kubeconfig"];
            assert!(errors.0.iter().all(|e| cluster.contains(&e.key.as_str())), "{errors}");
        }
    }

    #[test]
    fn the_full_example_it_points_to_is_valid() {
        let example = include_str!("../../config.example.toml");
        let config = crate::setup::from_toml_str(example, "config.example.toml").unwrap();
        assert!(!config.sources.is_empty());
    }

    #[test]
    fn write_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/config.toml");
        let now = at("2026-11-27T10:10:00Z");
        write(&path, false, now).unwrap();
        std::fs::write(&path, "# mine\n").unwrap();
        let refused = write(&path, false, now).unwrap_err();
        assert!(refused.contains("already exists") && refused.contains("--force"), "{refused}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
        write(&path, true, now).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), starter(now));
    }
}
