//! `[changes]` as written and as checked: where "what ships" is read.
//!
//! ```toml
//! [changes]
//! kind = "github"                  # or "gitlab"
//! token_env = "GITHUB_TOKEN"
//! # api_url = "https://ghe.example/api/v3"
//! tag = "v{version}"               # how a version maps to a git ref; a cell's commit wins when known
//! mainline = "main"                # every deployed commit must be in this branch (hotfix merge-back)
//! tickets = "[A-Z][A-Z0-9]+-[0-9]+"
//! ticket_url = "https://jira.example.com/browse/{ticket}"
//!
//! [[services]]
//! name = "payments"
//! repo = "acme/payments"           # owner/name (GitHub) or project path (GitLab)
//! ```
//!
//! [`validate`] checks everything that can be checked without the network
//! or the environment and reports every problem at once, each with its key;
//! the token is read when the client is built ([`super::ChangesClient::new`]).

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::config::ServiceSettings;
use crate::sources::{github, gitlab};

/// The default `tag` template: a version `1.4.0` is the tag `v1.4.0`.
pub const DEFAULT_TAG: &str = "v{version}";
/// The default `mainline` branch.
pub const DEFAULT_MAINLINE: &str = "main";
/// Longest compiled `tickets` pattern (bytes of the compiled program).
const TICKETS_SIZE_LIMIT: usize = 1 << 20;

/// Which compare API the repositories live behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangesKind {
    Github,
    Gitlab,
}

impl ChangesKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangesKind::Github => "github",
            ChangesKind::Gitlab => "gitlab",
        }
    }

    fn default_api_url(self) -> &'static str {
        match self {
            ChangesKind::Github => github::DEFAULT_API_URL,
            ChangesKind::Gitlab => gitlab::DEFAULT_API_URL,
        }
    }
}

/// `[changes]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesSettings {
    pub kind: ChangesKind,
    /// The environment variable holding the API token (never the token).
    pub token_env: Option<String>,
    /// The API base (GitHub Enterprise `…/api/v3`, a GitLab `…/api/v4`).
    pub api_url: Option<String>,
    /// How a version maps to a git ref: `{version}`, and `{service}` for
    /// monorepos (`payments-v{version}`). Default [`DEFAULT_TAG`].
    pub tag: Option<String>,
    /// The branch every deployed commit must be in. Default [`DEFAULT_MAINLINE`].
    pub mainline: Option<String>,
    /// A regular expression for ticket keys in commit messages and PR titles.
    pub tickets: Option<String>,
    /// A link for a ticket: `{ticket}` is replaced by its key.
    pub ticket_url: Option<String>,
}

/// `[changes]`, checked.
#[derive(Debug, Clone)]
pub struct ChangesConfig {
    pub kind: ChangesKind,
    pub token_env: Option<String>,
    /// The API base, without a trailing slash.
    pub api_url: String,
    pub tag: TagTemplate,
    pub mainline: String,
    pub tickets: Option<TicketPattern>,
    pub ticket_url: Option<String>,
    /// Service name → repository (`owner/name`, or a GitLab project path or id).
    pub repos: BTreeMap<String, String>,
}

impl ChangesConfig {
    /// The repository of a service, if it names one.
    pub fn repo_for(&self, service: &str) -> Option<&str> {
        self.repos.get(service).map(String::as_str)
    }

    /// The git ref a cell's code is at: its commit when known (it wins: a
    /// tag can be moved, a commit cannot), else its version through `tag`.
    pub fn git_ref(&self, service: &str, version: &str, commit: Option<&str>) -> Result<String, String> {
        if let Some(commit) = commit.map(str::trim).filter(|c| is_object_id(c)) {
            return Ok(commit.to_ascii_lowercase());
        }
        self.tag.render(service, version)
    }

    /// The link of a ticket key, if `ticket_url` is set.
    pub fn ticket_link(&self, key: &str) -> Option<String> {
        self.ticket_url.as_deref().map(|template| ticket_link(template, key))
    }
}

/// A `tag` template: `{version}` and optionally `{service}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate(String);

impl TagTemplate {
    pub fn parse(raw: &str) -> Result<TagTemplate, String> {
        check_template(raw, "tag template", &["version", "service"])?;
        if !raw.contains("{version}") {
            return Err(format!("tag template `{raw}` has no {{version}} (e.g. \"v{{version}}\")"));
        }
        let sample = raw.replace("{version}", "1.0.0").replace("{service}", "svc");
        check_ref_name(&sample).map_err(|m| format!("tag template `{raw}` does not make a git ref: {m}"))?;
        Ok(TagTemplate(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ref of `version`. A version that already has the tag's shape
    /// (`v1.4.0` with `v{version}`: deployment records often carry the tag
    /// itself) is the ref as it is, not `vv1.4.0`.
    pub fn render(&self, service: &str, version: &str) -> Result<String, String> {
        let version = version.trim();
        if version.is_empty() {
            return Err("no version to map to a git ref".into());
        }
        let template = self.0.replace("{service}", service);
        let (prefix, suffix) = template.split_once("{version}").unwrap_or((template.as_str(), ""));
        let already = (!prefix.is_empty() || !suffix.is_empty())
            && version.len() > prefix.len() + suffix.len()
            && version.starts_with(prefix)
            && version.ends_with(suffix);
        let git_ref = if already { version.to_string() } else { template.replace("{version}", version) };
        check_ref_name(&git_ref).map_err(|m| {
            format!(
                "version `{}` does not map to a git ref through `{}`: {m}",
                crate::sanitize::clean_to(version, 60),
                self.0
            )
        })?;
        Ok(git_ref)
    }
}

/// The `tickets` pattern, compiled; it never matches the empty string.
#[derive(Debug, Clone)]
pub struct TicketPattern(Regex);

impl TicketPattern {
    pub fn parse(raw: &str) -> Result<TicketPattern, String> {
        let regex = regex::RegexBuilder::new(raw)
            .size_limit(TICKETS_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("`{raw}` is not a regular expression: {}", first_line(&e.to_string())))?;
        if regex.is_match("") {
            return Err(format!(
                "`{raw}` matches the empty string, so every text would hold a ticket (e.g. \"[A-Z][A-Z0-9]+-[0-9]+\")"
            ));
        }
        Ok(TicketPattern(regex))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Every distinct key in `text`, in order of appearance.
    pub fn keys<'t>(&self, text: &'t str) -> impl Iterator<Item = &'t str> + use<'_, 't> {
        self.0.find_iter(text).map(|m| m.as_str()).filter(|k| !k.trim().is_empty())
    }
}

fn first_line(text: &str) -> String {
    // The regex crate's message is several lines with a caret diagram.
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or(text).to_string()
}

/// Where a problem with `[changes]` is, in the settings as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKey {
    /// A key of `[changes]` (`tag`, `tickets`, …).
    Changes(&'static str),
    /// `services[i].repo`.
    ServiceRepo(usize),
}

/// One problem with `[changes]` or a service's `repo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesProblem {
    pub key: ProblemKey,
    pub message: String,
}

impl ChangesProblem {
    fn changes(key: &'static str, message: impl Into<String>) -> ChangesProblem {
        ChangesProblem { key: ProblemKey::Changes(key), message: message.into() }
    }

    /// The dotted key (`changes.tag`, `services[2].repo`).
    pub fn key_string(&self) -> String {
        match self.key {
            ProblemKey::Changes(key) => format!("changes.{key}"),
            ProblemKey::ServiceRepo(i) => format!("services[{i}].repo"),
        }
    }
}

impl std::fmt::Display for ChangesProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key_string(), self.message)
    }
}

/// Check `[changes]` and the services' `repo`s. Every problem is reported,
/// each with its key; the environment is not read (the token is read when
/// the client is built).
pub fn validate(
    settings: &ChangesSettings,
    services: &[ServiceSettings],
) -> Result<ChangesConfig, Vec<ChangesProblem>> {
    let mut problems = Vec::new();
    let kind = settings.kind;

    if let Some(var) = &settings.token_env
        && (var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        problems.push(ChangesProblem::changes(
            "token_env",
            format!(
                "`{}` is not an environment variable name (the token itself never goes in the file)",
                crate::sanitize::clean_to(var, 40)
            ),
        ));
    }
    let api_url = crate::sources::parse_api_url(settings.api_url.as_deref().unwrap_or(kind.default_api_url()))
        .map(|url| url.as_str().trim_end_matches('/').to_string())
        .map_err(|m| problems.push(ChangesProblem::changes("api_url", m)))
        .ok();
    let tag = TagTemplate::parse(settings.tag.as_deref().unwrap_or(DEFAULT_TAG))
        .map_err(|m| problems.push(ChangesProblem::changes("tag", m)))
        .ok();
    let mainline = settings.mainline.as_deref().unwrap_or(DEFAULT_MAINLINE).trim().to_string();
    if let Err(m) = check_ref_name(&mainline) {
        problems.push(ChangesProblem::changes("mainline", format!("`{mainline}` is not a branch name: {m}")));
    }
    let tickets = settings
        .tickets
        .as_deref()
        .map(TicketPattern::parse)
        .transpose()
        .map_err(|m| problems.push(ChangesProblem::changes("tickets", m)))
        .ok()
        .flatten();
    if let Some(template) = &settings.ticket_url {
        if let Err(m) = check_ticket_url(template) {
            problems.push(ChangesProblem::changes("ticket_url", m));
        } else if settings.tickets.is_none() {
            problems.push(ChangesProblem::changes(
                "ticket_url",
                "set `tickets` too: without a pattern no ticket key is found to link (e.g. tickets = \"[A-Z][A-Z0-9]+-[0-9]+\")",
            ));
        }
    }

    let mut repos = BTreeMap::new();
    for (i, service) in services.iter().enumerate() {
        let Some(repo) = &service.repo else { continue };
        let repo = repo.trim();
        let ok = match kind {
            ChangesKind::Github => github::valid_repo(repo),
            ChangesKind::Gitlab => gitlab::valid_project(repo),
        };
        if ok {
            repos.insert(service.name.clone(), repo.to_string());
        } else {
            let shape = match kind {
                ChangesKind::Github => "write \"owner/name\" (GitHub)",
                ChangesKind::Gitlab => "write \"group/name\" or a numeric project id (GitLab)",
            };
            problems.push(ChangesProblem {
                key: ProblemKey::ServiceRepo(i),
                message: format!("`{}` is not a repository: {shape}", crate::sanitize::clean_to(repo, 80)),
            });
        }
    }

    let (Some(api_url), Some(tag), true) = (api_url, tag, problems.is_empty()) else {
        return Err(problems);
    };
    Ok(ChangesConfig {
        kind,
        token_env: settings.token_env.clone(),
        api_url,
        tag,
        mainline,
        tickets,
        ticket_url: settings.ticket_url.clone(),
        repos,
    })
}

/// A `ticket_url`: `{ticket}` only, and an http(s) URL with a host once filled in.
fn check_ticket_url(template: &str) -> Result<(), String> {
    check_template(template, "ticket_url", &["ticket"])?;
    if !template.contains("{ticket}") {
        return Err(format!("`{template}` has no {{ticket}} (e.g. \"https://jira.example.com/browse/{{ticket}}\")"));
    }
    crate::sources::http::check_authority(template).map_err(|m| format!("invalid URL `{template}`: {m}"))?;
    let url = url::Url::parse(&template.replace("{ticket}", "ABC-1"))
        .map_err(|e| format!("invalid URL `{template}`: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("invalid URL `{template}`: scheme must be http or https"));
    }
    Ok(())
}

/// Fill `{ticket}` with the key, percent-encoded: a key is text from a
/// commit message, and must not change the link's shape.
pub fn ticket_link(template: &str, key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    template.replace("{ticket}", &encoded)
}

/// Check that a template's placeholders are among `allowed`.
fn check_template(template: &str, what: &str, allowed: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("invalid {what} `{template}`: unclosed '{{'"))?;
        let name = &after[..close];
        if !allowed.contains(&name) {
            let known: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
            return Err(format!(
                "invalid {what} `{template}`: unknown placeholder {{{name}}} (use {})",
                known.join(" and ")
            ));
        }
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("invalid {what} `{template}`: a '}}' without its '{{'"));
    }
    Ok(())
}

/// A full or abbreviated git object id (7 to 64 hex digits).
pub fn is_object_id(text: &str) -> bool {
    (7..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A full object id (SHA-1 or SHA-256): what it names can never change.
pub(crate) fn is_full_object_id(text: &str) -> bool {
    (text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `name` is a ref name git accepts (`git check-ref-format`'s
/// rules, as far as they matter in a URL); the message says what is wrong.
pub fn check_ref_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty".into());
    }
    if name.len() > 255 {
        return Err("longer than 255 bytes".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("it holds {}", if c.is_whitespace() { "a space" } else { "a control character" }));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')) {
        return Err(format!("'{c}' is not allowed in a git ref"));
    }
    if name.contains("..") || name.contains("@{") || name.contains("//") {
        return Err("`..`, `@{` and `//` are not allowed in a git ref".into());
    }
    if name == "@" || name.starts_with('/') || name.ends_with('/') || name.ends_with('.') || name.ends_with(".lock") {
        return Err("a git ref does not start or end with '/', end with '.' or \".lock\", or equal '@'".into());
    }
    if name.split('/').any(|part| part.starts_with('.')) {
        return Err("no part of a git ref starts with '.'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(kind: ChangesKind) -> ChangesSettings {
        ChangesSettings {
            kind,
            token_env: Some("GITHUB_TOKEN".into()),
            api_url: None,
            tag: None,
            mainline: None,
            tickets: Some("[A-Z][A-Z0-9]+-[0-9]+".into()),
            ticket_url: Some("https://jira.example.com/browse/{ticket}".into()),
        }
    }

    fn service(name: &str, repo: Option<&str>) -> ServiceSettings {
        ServiceSettings { name: name.into(), owner: None, repo: repo.map(String::from), rollback: None }
    }

    #[test]
    fn defaults_and_repos() {
        let services = [service("payments", Some("acme/payments")), service("ledger", None)];
        let config = validate(&settings(ChangesKind::Github), &services).unwrap();
        assert_eq!(config.api_url, "https://api.github.com");
        assert_eq!(config.mainline, "main");
        assert_eq!(config.tag.as_str(), "v{version}");
        assert_eq!(config.repo_for("payments"), Some("acme/payments"));
        assert_eq!(config.repo_for("ledger"), None);
        let config = validate(&settings(ChangesKind::Gitlab), &[service("p", Some("group/sub/p"))]).unwrap();
        assert_eq!(config.api_url, "https://gitlab.com/api/v4");
        assert_eq!(config.repo_for("p"), Some("group/sub/p"));
        assert!(validate(&settings(ChangesKind::Gitlab), &[service("p", Some("1234"))]).is_ok());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let bad = ChangesSettings {
            kind: ChangesKind::Github,
            token_env: Some("ghp_abc def".into()),
            api_url: Some("ftp://x/".into()),
            tag: Some("release-{ver}".into()),
            mainline: Some("main branch".into()),
            tickets: Some("[A-Z".into()),
            ticket_url: Some("https://jira/{key}".into()),
        };
        let services = [service("ok", Some("acme/ok")), service("bad", Some("acme"))];
        let problems = validate(&bad, &services).unwrap_err();
        let keys: Vec<String> = problems.iter().map(ChangesProblem::key_string).collect();
        assert_eq!(
            keys,
            [
                "changes.token_env",
                "changes.api_url",
                "changes.tag",
                "changes.mainline",
                "changes.tickets",
                "changes.ticket_url",
                "services[1].repo"
            ]
        );
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(text[0].contains("is not an environment variable name"), "{}", text[0]);
        assert!(text[1].contains("scheme must be http or https"), "{}", text[1]);
        assert!(text[2].contains("unknown placeholder {ver} (use {version} and {service})"), "{}", text[2]);
        assert!(text[3].contains("`main branch` is not a branch name: it holds a space"), "{}", text[3]);
        assert!(text[4].contains("`[A-Z` is not a regular expression"), "{}", text[4]);
        assert!(text[5].contains("unknown placeholder {key} (use {ticket})"), "{}", text[5]);
        assert_eq!(text[6], "`services[1].repo`: `acme` is not a repository: write \"owner/name\" (GitHub)");
    }

    #[test]
    fn tickets_and_links() {
        let mut s = settings(ChangesKind::Github);
        s.tickets = Some("[A-Z]*".into());
        let problems = validate(&s, &[]).unwrap_err();
        assert!(problems[0].message.contains("matches the empty string"), "{problems:?}");
        let mut s = settings(ChangesKind::Github);
        s.tickets = None;
        let problems = validate(&s, &[]).unwrap_err();
        assert_eq!(problems[0].key, ProblemKey::Changes("ticket_url"));
        assert!(problems[0].message.contains("set `tickets` too"), "{problems:?}");
        let mut s = settings(ChangesKind::Github);
        s.ticket_url = Some("https://jira.example.com/browse/".into());
        assert!(validate(&s, &[]).unwrap_err()[0].message.contains("has no {ticket}"));
        s.ticket_url = Some("https:///browse/{ticket}".into());
        assert!(validate(&s, &[]).unwrap_err()[0].message.contains("no host"));

        let config = validate(&settings(ChangesKind::Github), &[]).unwrap();
        assert_eq!(config.ticket_link("PAY-12").as_deref(), Some("https://jira.example.com/browse/PAY-12"));
        assert_eq!(ticket_link("https://t/{ticket}", "a b)](x"), "https://t/a%20b%29%5D%28x");
        let pattern = config.tickets.unwrap();
        let keys: Vec<&str> = pattern.keys("PAY-1 fixes OPS-22 and PAY-1 (x-1)").collect();
        assert_eq!(keys, ["PAY-1", "OPS-22", "PAY-1"]);
    }

    #[test]
    fn versions_map_to_refs_and_a_commit_wins() {
        let config = validate(&settings(ChangesKind::Github), &[]).unwrap();
        assert_eq!(config.git_ref("payments", "1.4.0", None).unwrap(), "v1.4.0");
        assert_eq!(config.git_ref("payments", "v1.4.0", None).unwrap(), "v1.4.0", "already a tag");
        assert_eq!(config.git_ref("payments", "1.4.0", Some("9F8E7D6")).unwrap(), "9f8e7d6", "the commit wins");
        assert_eq!(config.git_ref("payments", "1.4.0", Some("not-a-sha")).unwrap(), "v1.4.0");
        let err = config.git_ref("payments", "1.4 beta", None).unwrap_err();
        assert_eq!(err, "version `1.4 beta` does not map to a git ref through `v{version}`: it holds a space");
        assert!(config.git_ref("payments", "", None).is_err());

        let monorepo = TagTemplate::parse("{service}/v{version}").unwrap();
        assert_eq!(monorepo.render("payments", "1.4.0").unwrap(), "payments/v1.4.0");
        assert_eq!(monorepo.render("payments", "payments/v1.4.0").unwrap(), "payments/v1.4.0");
        let plain = TagTemplate::parse("{version}").unwrap();
        assert_eq!(plain.render("x", "2.0").unwrap(), "2.0");
        assert!(TagTemplate::parse("v{service}").unwrap_err().contains("has no {version}"));
        assert!(TagTemplate::parse("v{version").unwrap_err().contains("unclosed"));
        assert!(TagTemplate::parse("v{version}}").unwrap_err().contains("without its"));
        assert!(TagTemplate::parse("v:{version}").unwrap_err().contains("does not make a git ref"));
    }

    #[test]
    fn ref_names() {
        for ok in ["main", "release/1.4", "v1.4.0", "hotfix-1.3.3", "9f8e7d6"] {
            assert_eq!(check_ref_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "a..b", "a~1", "x^", "a:b", "/a", "a/", "a.lock", "a/.b", "@", "x@{1}", "a\u{1b}b"] {
            assert!(check_ref_name(bad).is_err(), "{bad:?}");
        }
        assert!(is_object_id("9f8e7d6") && !is_object_id("9f8e7d") && !is_object_id("main"));
        assert!(is_full_object_id(&"a".repeat(40)) && !is_full_object_id("9f8e7d6"));
    }
}
