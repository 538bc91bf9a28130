//! The generic `http` source: one URL per cell, JSON read with pointers, or
//! a plain-text body taken as the version.
//!
//! ```toml
//! [[sources]]
//! name = "version-endpoints"
//! kind = "http"
//! url = "https://{service}.{env}.example.internal/version"
//! [sources.fields]          # JSON pointers; only version is required
//! version = "/version"
//! ```

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::fetch::{self, FetchError, HttpContext};
use super::{CellTarget, OptionError, Source};
use crate::model::SourceSpec;
use crate::model::{Evidence, Health, Reading};
use crate::sanitize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    fields: Option<Fields>,
}

/// JSON pointers (RFC 6901) to each field of a reading. The kinds that read
/// `fields` check them with the rest of their options ([`Fields::problems`]),
/// so every bad key is reported in one run, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    pub version: String,
    #[serde(default)]
    pub build: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub deployed_at: Option<String>,
    #[serde(default)]
    pub health: Option<String>,
}

impl Fields {
    /// Every pointer that is not one, with its key (`fields.version`).
    pub(crate) fn problems(&self) -> Vec<OptionError> {
        let all = [
            ("version", Some(&self.version)),
            ("build", self.build.as_ref()),
            ("commit", self.commit.as_ref()),
            ("digest", self.digest.as_ref()),
            ("deployed_at", self.deployed_at.as_ref()),
            ("health", self.health.as_ref()),
        ];
        all.into_iter()
            .filter_map(|(key, p)| {
                let message = check_pointer(p?).err()?;
                Some(OptionError::new(format!("fields.{key}"), message))
            })
            .collect()
    }
}

/// Check a JSON pointer (RFC 6901): empty (the whole document), or `/`
/// followed by reference tokens in which `~` only appears as `~0` (a `~`)
/// or `~1` (a `/`). The message says what is wrong with it.
pub(crate) fn check_pointer(pointer: &str) -> Result<(), String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(format!("`{pointer}` is not a JSON pointer: it must start with '/' (e.g. \"/{pointer}\")"));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            continue;
        }
        match chars.next() {
            Some('0' | '1') => {}
            Some(other) => {
                return Err(format!(
                    "`{pointer}` is not a JSON pointer: `~{other}` is not an escape ('~' must be followed by '0' or \
                     '1': `~0` stands for '~', `~1` for '/')"
                ));
            }
            None => {
                return Err(format!(
                    "`{pointer}` is not a JSON pointer: it ends with a lone '~' (write `~0` for '~', `~1` for '/')"
                ));
            }
        }
    }
    Ok(())
}

impl Default for Fields {
    /// With no `[sources.fields]`, look where most version endpoints put things.
    fn default() -> Self {
        Fields {
            version: "/version".into(),
            build: Some("/build".into()),
            commit: Some("/commit".into()),
            digest: Some("/digest".into()),
            deployed_at: Some("/deployed_at".into()),
            health: Some("/health".into()),
        }
    }
}

impl Fields {
    /// Each configured pointer with its field name (`version`, `build`, …).
    pub fn pointers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("version", Some(self.version.as_str())),
            ("build", self.build.as_deref()),
            ("commit", self.commit.as_deref()),
            ("digest", self.digest.as_deref()),
            ("deployed_at", self.deployed_at.as_deref()),
            ("health", self.health.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.map(|p| (k, p)))
    }
}

pub(crate) struct HttpSource {
    url: UrlTemplate,
    fields: Fields,
}

impl HttpSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let fields = options.fields.unwrap_or_default();
        let mut errors = fields.problems();
        match UrlTemplate::parse(&options.url) {
            Ok(url) if errors.is_empty() => Ok(Arc::new(HttpSource { url, fields })),
            Ok(_) => Err(errors),
            Err(m) => {
                errors.insert(0, OptionError::new("url", m));
                Err(errors)
            }
        }
    }
}

impl Source for HttpSource {
    fn default_evidence(&self) -> Evidence {
        Evidence::Running
    }

    fn fetch(&self, ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Reading, FetchError>> {
        let url = self.url.render(&cell.service, &cell.env);
        let request =
            ctx.client.get(url).header(reqwest::header::ACCEPT, "application/json, text/plain;q=0.9, */*;q=0.5");
        let fields = self.fields.clone();
        async move {
            let resp = fetch::get_capped(request, fetch::MAX_BODY).await?;
            if !resp.status.is_success() {
                return Err(fetch::classify_status(&resp, None));
            }
            decode(&resp.body, resp.content_type.as_deref(), &fields)
        }
        .boxed()
    }
}

/// Deserialize a source's own options strictly, naming the offending key.
pub(crate) fn parse_options<T: serde::de::DeserializeOwned>(
    options: &serde_json::Map<String, Value>,
) -> Result<T, Vec<OptionError>> {
    serde_path_to_error::deserialize(Value::Object(options.clone())).map_err(|e| {
        let key = e.path().to_string();
        let key = if key == "." { String::new() } else { key };
        vec![OptionError::new(key, e.inner().to_string())]
    })
}

/// A URL with `{service}` and `{env}` placeholders, checked at load time.
#[derive(Debug, Clone)]
pub(crate) struct UrlTemplate(String);

impl UrlTemplate {
    pub fn parse(raw: &str) -> Result<UrlTemplate, String> {
        super::check_placeholders(raw, "URL template")?;
        let sample = UrlTemplate(raw.to_string()).render("svc", "env");
        let url = url::Url::parse(&sample).map_err(|e| format!("invalid URL template `{raw}`: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("invalid URL template `{raw}`: scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("invalid URL template `{raw}`: no host"));
        }
        // On the template as written: filled in and parsed, `http:///{env}/x`
        // would have `env` for its host.
        check_authority(raw).map_err(|m| format!("invalid URL template `{raw}`: {m}"))?;
        Ok(UrlTemplate(raw.to_string()))
    }

    pub fn render(&self, service: &str, env: &str) -> String {
        self.0.replace("{service}", service).replace("{env}", env)
    }
}

/// Check that an http(s) URL, as written, has `//` and then a host after its
/// scheme. A WHATWG parser (the `url` crate, browsers) skips extra slashes
/// and takes the next segment as the host: `http:///x` becomes `http://x/`,
/// and in a template `http:///{env}/{service}` the environment becomes the
/// host. Run it on the raw text, before placeholders are filled; the message
/// says what is wrong, for the caller to prefix with the URL.
pub(crate) fn check_authority(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let Some((scheme, rest)) = raw.split_once(':') else {
        return Err("no scheme (e.g. \"https://host/\")".into());
    };
    let Some(after) = rest.strip_prefix("//") else {
        return Err(format!("expected `//` and a host after `{scheme}:` (e.g. \"{scheme}://host/\")"));
    };
    let authority = after.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') {
        return Err(format!(
            "no host after `{scheme}://` (a parser would take the first path segment as the host; e.g. \"{scheme}://host/\")"
        ));
    }
    Ok(())
}

/// Decode a response body into a reading. Pure: bytes in, reading out.
pub fn decode(body: &[u8], content_type: Option<&str>, fields: &Fields) -> Result<Reading, FetchError> {
    let trimmed = body.trim_ascii();
    let declared_json = content_type.is_some_and(|ct| ct.contains("json"));
    let declared_text = content_type.is_some_and(|ct| ct.starts_with("text/"));
    let looks_json = matches!(trimmed.first(), Some(b'{' | b'[' | b'"'));
    if declared_json || (!declared_text && looks_json) {
        let value: Value = serde_json::from_slice(trimmed)
            .map_err(|e| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100)))?;
        return decode_json(&value, fields);
    }
    decode_text(trimmed)
}

fn decode_text(body: &[u8]) -> Result<Reading, FetchError> {
    let text = std::str::from_utf8(body).map_err(|_| FetchError::Field("plain-text body is not UTF-8".into()))?;
    if text.is_empty() {
        return Err(FetchError::Field("empty body: no version".into()));
    }
    if text.lines().count() > 1 || text.chars().count() > 128 {
        return Err(FetchError::Field(format!(
            "plain-text body does not look like a version: `{}`",
            sanitize::clean_to(text, 40)
        )));
    }
    let version = sanitize::clean(text);
    if version.is_empty() {
        return Err(FetchError::Field("empty body: no version".into()));
    }
    Ok(Reading::version(version))
}

fn decode_json(value: &Value, fields: &Fields) -> Result<Reading, FetchError> {
    let version = match value {
        Value::String(s) => Some(sanitize::clean(s)),
        _ => scalar_at(value, &fields.version),
    }
    .filter(|v| !v.is_empty())
    .ok_or_else(|| FetchError::Field(format!("no version at `{}`", sanitize::clean(&fields.version))))?;
    let field = |p: &Option<String>| p.as_deref().and_then(|p| scalar_at(value, p)).filter(|s| !s.is_empty());
    let health = fields.health.as_deref().and_then(|p| value.pointer(p)).and_then(|v| match v {
        Value::Bool(true) => Some(Health::Up),
        Value::Bool(false) => Some(Health::Down),
        Value::String(s) => Some(Health::parse(s)),
        // Spring Boot style: {"health": {"status": "UP"}}
        Value::Object(o) => o.get("status").and_then(Value::as_str).map(Health::parse),
        _ => None,
    });
    let deployed_at = fields.deployed_at.as_deref().and_then(|p| value.pointer(p)).and_then(|v| match v {
        Value::String(s) => crate::model::time::parse_time(s).ok(),
        Value::Number(n) => n.as_i64().and_then(|s| jiff::Timestamp::from_second(s).ok()),
        _ => None,
    });
    Ok(Reading {
        version: Some(version),
        build: field(&fields.build),
        commit: field(&fields.commit),
        digest: field(&fields.digest),
        deployed_at,
        health,
        metrics: Vec::new(),
        attributes: Vec::new(),
        previous: None,
    })
}

/// A string, number or boolean at `pointer`, as clean text.
fn scalar_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) => Some(sanitize::clean(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields::default()
    }

    #[test]
    fn json_with_all_fields() {
        let body =
            br#"{"version":"1.4.0","build":812,"commit":"abc1234","health":"UP","deployed_at":"2026-11-24T18:00:00Z"}"#;
        let r = decode(body, Some("application/json"), &fields()).unwrap();
        assert_eq!(r.version.as_deref(), Some("1.4.0"));
        assert_eq!(r.build.as_deref(), Some("812"));
        assert_eq!(r.commit.as_deref(), Some("abc1234"));
        assert_eq!(r.health, Some(Health::Up));
        assert_eq!(r.deployed_at.unwrap().to_string(), "2026-11-24T18:00:00Z");
    }

    #[test]
    fn plain_text_is_the_version() {
        let r = decode(b"v2.0.1\n", Some("text/plain"), &fields()).unwrap();
        assert_eq!(r, Reading::version("v2.0.1"));
        let r = decode(b"3.1.0", None, &fields()).unwrap();
        assert_eq!(r.version.as_deref(), Some("3.1.0"));
    }

    #[test]
    fn missing_version_names_the_pointer() {
        let err = decode(br#"{"build":"1"}"#, Some("application/json"), &fields()).unwrap_err();
        assert_eq!(err.to_string(), "no version at `/version`");
    }

    #[test]
    fn malformed_json_is_an_error() {
        let err = decode(br#"{"version": "1.0""#, Some("application/json"), &fields()).unwrap_err();
        assert!(matches!(err, FetchError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn spring_style_nested_pointers() {
        let f = Fields { version: "/build/version".into(), commit: Some("/git/commit/id".into()), ..Fields::default() };
        let body = br#"{"git":{"commit":{"id":"4f2a9c1"}},"build":{"version":"2.3.0"}}"#;
        let r = decode(body, Some("application/json"), &f).unwrap();
        assert_eq!(r.version.as_deref(), Some("2.3.0"));
        assert_eq!(r.commit.as_deref(), Some("4f2a9c1"));
    }

    #[test]
    fn control_sequences_never_survive() {
        // JSON escapes decode to real control characters: they must go.
        let body = br#"{"version":"1.0\u001b[2J\u202e\u0007"}"#;
        let r = decode(body, None, &fields()).unwrap();
        assert_eq!(r.version.as_deref(), Some("1.0"));
    }

    #[test]
    fn url_template_checks() {
        assert!(UrlTemplate::parse("http://127.0.0.1:8080/{env}/{service}").is_ok());
        assert!(UrlTemplate::parse("http://x/{svc}").unwrap_err().contains("unknown placeholder {svc}"));
        assert!(UrlTemplate::parse("ftp://x/{service}").unwrap_err().contains("scheme"));
        assert!(UrlTemplate::parse("not a url").is_err());
        assert!(UrlTemplate::parse("http://x/{service").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn url_template_needs_a_host_as_written() {
        // Filled in and parsed, these would take `env` (or `svc`) for the host.
        for raw in ["http:///{env}/{service}", "https:///{service}", "http:/{env}/{service}", "http:{env}/{service}"] {
            let err = UrlTemplate::parse(raw).unwrap_err();
            assert!(err.starts_with(&format!("invalid URL template `{raw}`: ")), "{err}");
            assert!(err.contains("host"), "{err}");
        }
        assert_eq!(
            UrlTemplate::parse("http:///{env}/{service}").unwrap_err(),
            "invalid URL template `http:///{env}/{service}`: no host after `http://` (a parser would take the first \
             path segment as the host; e.g. \"http://host/\")"
        );
        for ok in [
            "http://{env}.example/{service}",
            "https://{service}.{env}.example.internal/version",
            "http://[::1]:8080/{env}",
            "http://127.0.0.1:9/{env}/{service}",
        ] {
            assert!(UrlTemplate::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn check_authority_on_raw_urls() {
        assert!(check_authority("http://x/").is_ok());
        assert!(check_authority("https://user@x:8443/a?b#c").is_ok());
        assert!(check_authority("http:///x").unwrap_err().contains("no host after `http://`"));
        assert!(check_authority("http://?q").unwrap_err().contains("no host"));
        assert!(check_authority("http://user@/x").unwrap_err().contains("no host"));
        assert!(check_authority("http://:8080/x").unwrap_err().contains("no host"));
        assert!(check_authority("http:x").unwrap_err().contains("expected `//`"));
        assert!(check_authority("x").unwrap_err().contains("no scheme"));
        // What the `url` crate does with it, and why the raw text is checked.
        assert_eq!(url::Url::parse("http:///x").unwrap().host_str(), Some("x"));
    }

    #[test]
    fn pointer_checks() {
        for ok in ["", "/", "/version", "/a~0b", "/a~1b/~0~1", "/build/version", "/0"] {
            assert_eq!(check_pointer(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(
            check_pointer("/ver~2sion").unwrap_err(),
            "`/ver~2sion` is not a JSON pointer: `~2` is not an escape ('~' must be followed by '0' or '1': `~0` \
             stands for '~', `~1` for '/')"
        );
        assert!(check_pointer("/a~").unwrap_err().contains("lone '~'"));
        assert!(check_pointer("/a~/b").unwrap_err().contains("`~/` is not an escape"));
        assert!(check_pointer("version").unwrap_err().contains("must start with '/' (e.g. \"/version\")"));
    }

    fn spec(options: Value) -> SourceSpec {
        SourceSpec {
            name: "endpoints".into(),
            kind: "http".into(),
            every: std::time::Duration::from_secs(30),
            timeout: std::time::Duration::from_secs(5),
            evidence: None,
            services: Vec::new(),
            environments: Vec::new(),
            options: options.as_object().unwrap().clone(),
            baseline: None,
        }
    }

    fn build_errors(options: Value) -> Vec<OptionError> {
        match HttpSource::build(&spec(options)) {
            Ok(_) => Vec::new(),
            Err(errors) => errors,
        }
    }

    #[test]
    fn build_rejects_a_url_without_host_naming_the_key() {
        let errors = build_errors(serde_json::json!({ "url": "http:///{env}/{service}" }));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "url");
        assert!(errors[0].message.contains("no host after `http://`"), "{errors:?}");
        assert!(build_errors(serde_json::json!({ "url": "http://x/{env}/{service}" })).is_empty());
    }

    #[test]
    fn build_rejects_bad_pointers_naming_the_key() {
        let errors =
            build_errors(serde_json::json!({ "url": "http://x/{env}", "fields": { "version": "/ver~2sion" } }));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "fields.version");
        assert!(errors[0].message.contains("`/ver~2sion` is not a JSON pointer: `~2` is not an escape"), "{errors:?}");

        let errors = build_errors(
            serde_json::json!({ "url": "http://x/{env}", "fields": { "version": "/v", "commit": "/git/c~" } }),
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "fields.commit");
        assert!(errors[0].message.contains("lone '~'"), "{errors:?}");

        let errors = build_errors(
            serde_json::json!({ "url": "http://x/{env}", "fields": { "version": "/v", "health": "status" } }),
        );
        assert_eq!(errors[0].key, "fields.health");
        assert!(errors[0].message.contains("must start with '/'"), "{errors:?}");

        // Valid escapes, an empty pointer and absent optional fields are fine.
        let fields = serde_json::json!({ "version": "/a~1b/~0c", "build": "" });
        assert!(build_errors(serde_json::json!({ "url": "http://x/{env}", "fields": fields })).is_empty());
        let parsed: Fields = serde_json::from_value(serde_json::json!({ "version": "/v" })).unwrap();
        assert_eq!(
            parsed,
            Fields { version: "/v".into(), build: None, commit: None, digest: None, deployed_at: None, health: None }
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512), json in proptest::bool::ANY) {
            let _ = decode(&body, if json { Some("application/json") } else { None }, &fields());
        }
    }
}
