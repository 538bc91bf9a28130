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

use std::borrow::Cow;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::fetch::{self, FetchError, HttpContext};
use super::{CellTarget, Fetched, OptionError, Source};
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
        self.each().into_iter().filter_map(|(k, p)| p.map(|p| (k, p)))
    }

    /// Every field's name and pointer, configured or not, in [`Field`] order.
    fn each(&self) -> [(&'static str, Option<&str>); FIELDS] {
        [
            ("version", Some(self.version.as_str())),
            ("build", self.build.as_deref()),
            ("commit", self.commit.as_deref()),
            ("digest", self.digest.as_deref()),
            ("deployed_at", self.deployed_at.as_deref()),
            ("health", self.health.as_deref()),
        ]
    }

    fn pointer(&self, field: Field) -> Option<&str> {
        self.each()[field as usize].1
    }
}

/// The fields of a reading a pointer can point at, in [`Fields::each`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Version,
    Build,
    Commit,
    Digest,
    DeployedAt,
    Health,
}

const FIELDS: usize = 6;

/// What the `http` source asks for: JSON, or a version as plain text.
const ACCEPT: &str = "application/json, text/plain;q=0.9, */*;q=0.5";

pub(crate) struct HttpSource {
    url: UrlTemplate,
    fields: Fields,
    pointers: Pointers,
}

impl HttpSource {
    pub fn build(spec: &SourceSpec) -> Result<Arc<dyn Source>, Vec<OptionError>> {
        let options: Options = parse_options(&spec.options)?;
        let fields = options.fields.unwrap_or_default();
        let mut errors = fields.problems();
        match UrlTemplate::parse(&options.url) {
            Ok(url) if errors.is_empty() => {
                let pointers = Pointers::of(&fields);
                Ok(Arc::new(HttpSource { url, fields, pointers }))
            }
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

    fn fetch(&self, ctx: &HttpContext, cell: &CellTarget) -> BoxFuture<'static, Result<Fetched, FetchError>> {
        let url = match self.url.url(&cell.service, &cell.env) {
            Ok(url) => url,
            Err(e) => {
                let raw = sanitize::clean_to(&self.url.render(&cell.service, &cell.env), 80);
                return futures::future::ready(Err(FetchError::Other(format!("invalid URL `{raw}`: {e}")))).boxed();
            }
        };
        let request =
            ctx.client.get(url).header(reqwest::header::ACCEPT, reqwest::header::HeaderValue::from_static(ACCEPT));
        async move {
            let resp = fetch::get_capped(request, fetch::MAX_BODY).await?;
            if !resp.status.is_success() {
                return Err(fetch::classify_status(&resp, None));
            }
            // Decoded in `read`, once the poller has sent the next request.
            Ok(Fetched::Body(resp))
        }
        .boxed()
    }

    fn read(&self, body: fetch::Response) -> Result<Reading, FetchError> {
        decode_with(&body.body, body.content_type.as_deref(), &self.fields, Some(&self.pointers))
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

/// A URL with `{service}` and `{env}` placeholders, checked at load time
/// and split there, so filling it in per cell is one allocation.
#[derive(Debug, Clone)]
pub(crate) struct UrlTemplate {
    pieces: Vec<Piece>,
    /// When only the path has placeholders: the URL parsed at load time and
    /// the path's pieces, so a cell's URL is that one with its path set
    /// (scheme, host and query are not parsed again for every request).
    path_only: Option<PathOnly>,
}

#[derive(Debug, Clone)]
struct PathOnly {
    base: url::Url,
    path: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Service,
    Env,
}

impl UrlTemplate {
    pub fn parse(raw: &str) -> Result<UrlTemplate, String> {
        super::check_placeholders(raw, "URL template")?;
        let pieces = split(raw);
        let sample = render(&pieces, "svc", "env");
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
        let path_only = PathOnly::of(raw, url);
        Ok(UrlTemplate { pieces, path_only })
    }

    /// The template filled in for one cell, as text.
    pub fn render(&self, service: &str, env: &str) -> String {
        render(&self.pieces, service, env)
    }

    /// The URL for one cell: exactly what parsing [`render`](Self::render)'s
    /// text gives. When only the path has placeholders and the names need no
    /// escaping (letters, digits, `-._~`: what service and environment names
    /// usually are), that is the URL parsed at load time with the path set, a
    /// fraction of the cost of a full parse (which reqwest would otherwise
    /// do again for every request).
    pub fn url(&self, service: &str, env: &str) -> Result<url::Url, url::ParseError> {
        if let Some(fast) = &self.path_only
            && plain_name(service)
            && plain_name(env)
        {
            let mut url = fast.base.clone();
            url.set_path(&render(&fast.path, service, env));
            return Ok(url);
        }
        url::Url::parse(&self.render(service, env))
    }
}

/// A name the path setter and a full parse treat alike: unreserved URL
/// characters only, nothing to escape, nothing that ends a path.
fn plain_name(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl PathOnly {
    /// The fast path for `raw` (parsed as `url`), if every placeholder is in
    /// its path and the path's own text is plain printable ASCII; else none,
    /// and every cell's URL is parsed whole.
    fn of(raw: &str, url: url::Url) -> Option<PathOnly> {
        if raw.trim() != raw {
            return None;
        }
        let after = raw.find("://")? + 3;
        let start = after + raw[after..].find(['/', '\\', '?', '#'])?;
        if !raw[start..].starts_with('/') {
            return None;
        }
        let end = raw[start..].find(['?', '#']).map_or(raw.len(), |i| start + i);
        let only_text = |text: &str| split(text).iter().all(|p| matches!(p, Piece::Text(_)));
        if !only_text(&raw[..start]) || !only_text(&raw[end..]) {
            return None;
        }
        let path = split(&raw[start..end]);
        let plain_text = |p: &Piece| match p {
            Piece::Text(t) => t.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'),
            Piece::Service | Piece::Env => true,
        };
        if !path.iter().all(plain_text) {
            return None;
        }
        let fast = PathOnly { base: url, path };
        // The sample it was parsed from comes back the same way.
        let mut check = fast.base.clone();
        check.set_path(&render(&fast.path, "svc", "env"));
        (check == fast.base).then_some(fast)
    }
}

/// Text and placeholders, in order; only `{service}` and `{env}` are
/// placeholders (anything else in braces is text, as `str::replace` would leave it).
fn split(raw: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let (piece, len) = if rest.starts_with("{service}") {
            (Some(Piece::Service), "{service}".len())
        } else if rest.starts_with("{env}") {
            (Some(Piece::Env), "{env}".len())
        } else {
            (None, rest.chars().next().map_or(1, char::len_utf8))
        };
        match piece {
            Some(piece) => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(piece);
            }
            None => text.push_str(&rest[..len]),
        }
        rest = &rest[len..];
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// Pieces filled in with a cell's names.
fn render(pieces: &[Piece], service: &str, env: &str) -> String {
    fn part<'a>(p: &'a Piece, service: &'a str, env: &'a str) -> &'a str {
        match p {
            Piece::Text(t) => t,
            Piece::Service => service,
            Piece::Env => env,
        }
    }
    let mut out = String::with_capacity(pieces.iter().map(|p| part(p, service, env).len()).sum());
    for piece in pieces {
        out.push_str(part(piece, service, env));
    }
    out
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
    decode_with(body, content_type, fields, None)
}

/// As [`decode`], with `fields`' pointers split already (by a source that
/// reads thousands of bodies with the same fields), or split here.
fn decode_with(
    body: &[u8],
    content_type: Option<&str>,
    fields: &Fields,
    pointers: Option<&Pointers>,
) -> Result<Reading, FetchError> {
    let trimmed = body.trim_ascii();
    let declared_json = content_type.is_some_and(mentions_json);
    let declared_text = content_type.is_some_and(|ct| ct.starts_with("text/"));
    let looks_json = matches!(trimmed.first(), Some(b'{' | b'[' | b'"'));
    if declared_json || (!declared_text && looks_json) {
        let malformed = |e: serde_json::Error| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100));
        let members_only = pointers.map_or_else(|| members_only(fields), |p| p.members_only);
        if trimmed.first() == Some(&b'{') && members_only {
            let here;
            let pointers = match pointers {
                Some(pointers) => pointers,
                None => {
                    here = Pointers::of(fields);
                    &here
                }
            };
            let members = Members::read(trimmed, pointers).map_err(malformed)?;
            return decode_fields(None, |field| members.at(field), fields);
        }
        let value: Value = serde_json::from_slice(trimmed).map_err(malformed)?;
        return decode_json(&value, fields);
    }
    decode_text(trimmed)
}

/// No configured pointer of `fields` is empty (the whole document): the
/// members its pointers start with are all a reading needs.
fn members_only(fields: &Fields) -> bool {
    fields.pointers().all(|(_, p)| !p.is_empty())
}

/// Whether a content type says JSON anywhere (`application/json`,
/// `application/vnd.api+json`, …). A short scan: the standard substring
/// search sets up more than a content type is long.
fn mentions_json(content_type: &str) -> bool {
    content_type.as_bytes().windows(4).any(|w| w == b"json")
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
    // A bare JSON string is the version.
    let whole = match value {
        Value::String(s) => Some(sanitize::clean(s)),
        _ => None,
    };
    decode_fields(whole, |field| value.pointer(fields.pointer(field)?).map(Json::from), fields)
}

/// A reading from what `at` finds at each pointer; `whole` is the version
/// when the document itself is one.
fn decode_fields<'v>(
    whole: Option<String>,
    at: impl Fn(Field) -> Option<Json<'v>>,
    fields: &Fields,
) -> Result<Reading, FetchError> {
    // `at` finds nothing for a field with no pointer.
    let version = whole
        .or_else(|| at(Field::Version)?.scalar())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| FetchError::Field(format!("no version at `{}`", sanitize::clean(&fields.version))))?;
    let field = |f: Field| at(f)?.scalar().filter(|s| !s.is_empty());
    let health = at(Field::Health).and_then(|v| match v {
        Json::Bool(true) => Some(Health::Up),
        Json::Bool(false) => Some(Health::Down),
        Json::Text(s) => Some(Health::parse(s)),
        // Spring Boot style: {"health": {"status": "UP"}}
        Json::Tree(Value::Object(o)) => o.get("status").and_then(Value::as_str).map(Health::parse),
        _ => None,
    });
    let deployed_at = at(Field::DeployedAt).and_then(|v| match v {
        Json::Text(s) => crate::model::time::parse_time(s).ok(),
        Json::Number(n) => n.as_i64().and_then(|s| jiff::Timestamp::from_second(s).ok()),
        _ => None,
    });
    Ok(Reading {
        version: Some(version),
        build: field(Field::Build),
        commit: field(Field::Commit),
        digest: field(Field::Digest),
        deployed_at,
        health,
        metrics: Vec::new(),
        attributes: Vec::new(),
        previous: None,
    })
}

/// A JSON value as a reading looks at it, borrowed from a parsed document
/// or from the members [`Members`] kept.
#[derive(Debug, Clone, Copy)]
enum Json<'a> {
    Text(&'a str),
    Number(&'a serde_json::Number),
    Bool(bool),
    Null,
    /// An object or an array.
    Tree(&'a Value),
}

impl<'a> From<&'a Value> for Json<'a> {
    fn from(value: &'a Value) -> Json<'a> {
        match value {
            Value::String(s) => Json::Text(s),
            Value::Number(n) => Json::Number(n),
            Value::Bool(b) => Json::Bool(*b),
            Value::Null => Json::Null,
            Value::Array(_) | Value::Object(_) => Json::Tree(value),
        }
    }
}

impl Json<'_> {
    /// A string, number or boolean, as clean text.
    fn scalar(self) -> Option<String> {
        match self {
            Json::Text(s) => Some(sanitize::clean(s)),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            Json::Null | Json::Tree(_) => None,
        }
    }
}

/// A JSON object read only as far as the pointers reach: the members they
/// start with are kept (text borrowed from the body where it has no
/// escapes), every other member is read and dropped. At thousands of
/// cells a sweep, building the whole document (every key and value
/// allocated, hashed and dropped) was most of a source's own work; the
/// document must still be valid JSON throughout.
struct Members<'a, 'f> {
    pointers: &'f Pointers,
    /// The member each distinct first token names, at the slot of the
    /// first field whose pointer starts with it.
    found: [Option<Member<'a>>; FIELDS],
}

/// Each configured, non-empty pointer of a [`Fields`], split once into its
/// first reference token (unescaped) and the rest, by [`Field`].
#[derive(Debug, Clone)]
pub(crate) struct Pointers {
    splits: [Option<Split>; FIELDS],
    /// Each distinct first token, with the slot its member is kept in.
    keys: Vec<(String, usize)>,
    /// No configured pointer is empty (the whole document): the members
    /// the pointers start with are all a reading needs.
    members_only: bool,
}

#[derive(Debug, Clone)]
struct Split {
    /// The pointer after its first token.
    rest: String,
    /// The first field whose pointer starts with the same token: where its member is kept.
    slot: usize,
}

impl Pointers {
    pub(crate) fn of(fields: &Fields) -> Pointers {
        let mut splits: [Option<Split>; FIELDS] = Default::default();
        let mut keys: Vec<(String, usize)> = Vec::new();
        for (i, (_, pointer)) in fields.each().into_iter().enumerate() {
            let Some((token, rest)) = pointer.and_then(first_token) else { continue };
            let slot = match keys.iter().find(|(key, _)| *key == token) {
                Some(&(_, slot)) => slot,
                None => {
                    keys.push((token.into_owned(), i));
                    i
                }
            };
            splits[i] = Some(Split { rest: rest.to_owned(), slot });
        }
        Pointers { splits, keys, members_only: members_only(fields) }
    }

    /// The slot that keeps the member named `key`, if a pointer starts with it.
    fn slot_of(&self, key: &str) -> Option<usize> {
        self.keys.iter().find(|(token, _)| token == key).map(|&(_, slot)| slot)
    }
}

impl<'a, 'f> Members<'a, 'f> {
    fn read(body: &'a [u8], pointers: &'f Pointers) -> Result<Members<'a, 'f>, serde_json::Error> {
        // Text checked as UTF-8 once is read without checking each string
        // again (a third of what reading a small body's strings cost);
        // a body that is not UTF-8 is read from its bytes, so it is refused
        // where and as a whole parse would refuse it.
        let mut members = Members { pointers, found: Default::default() };
        match std::str::from_utf8(body) {
            Ok(text) => members.fill(serde_json::Deserializer::from_str(text))?,
            Err(_) => members.fill(serde_json::Deserializer::from_slice(body))?,
        }
        Ok(members)
    }

    /// Read the object into the slots, where they stay (no copies of them).
    fn fill<R: serde_json::de::Read<'a>>(&mut self, mut de: serde_json::Deserializer<R>) -> serde_json::Result<()> {
        use serde::de::DeserializeSeed;
        WantedMembers { pointers: self.pointers, found: &mut self.found }.deserialize(&mut de)?;
        de.end()
    }

    /// What is at `field`'s pointer (non-empty). A key given twice is read
    /// as its last occurrence, as a whole-document parse would.
    fn at(&self, field: Field) -> Option<Json<'_>> {
        let Split { rest, slot, .. } = self.pointers.splits[field as usize].as_ref()?;
        match self.found[*slot].as_ref()? {
            Member::Text(s) if rest.is_empty() => Some(Json::Text(s)),
            Member::Number(n) if rest.is_empty() => Some(Json::Number(n)),
            Member::Bool(b) if rest.is_empty() => Some(Json::Bool(*b)),
            Member::Null if rest.is_empty() => Some(Json::Null),
            Member::Tree(v) => v.pointer(rest).map(Json::from),
            _ => None,
        }
    }
}

/// A pointer's first reference token, unescaped, and the pointer after it:
/// `/health/status` is `health` and `/status`; `/a~1b` is `a/b` and ``.
fn first_token(pointer: &str) -> Option<(Cow<'_, str>, &str)> {
    let after = pointer.strip_prefix('/')?;
    let (token, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
    let token = if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    };
    Some((token, rest))
}

/// Reads a JSON object keeping only the members a pointer starts with,
/// each in its slot of `found`.
struct WantedMembers<'w, 'de> {
    pointers: &'w Pointers,
    found: &'w mut [Option<Member<'de>>; FIELDS],
}

impl<'de> serde::de::DeserializeSeed<'de> for WantedMembers<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for WantedMembers<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A key reads as text, borrowed from the body unless it has escapes.
        while let Some(key) = map.next_key::<Member<'de>>()? {
            let Member::Text(key) = key else {
                return Err(serde::de::Error::custom("an object key that is not a string"));
            };
            if let Some(slot) = self.pointers.slot_of(&key) {
                self.found[slot] = Some(map.next_value()?);
            } else {
                // Read in full and dropped, not skipped: serde_json checks a
                // skipped value's grammar only (not its UTF-8, escapes, number
                // range or depth), and the body must be refused as a whole
                // parse would refuse it. Unescaped text is borrowed: no copy.
                map.next_value::<Member<'de>>()?;
            }
        }
        Ok(())
    }
}

/// A member's value, as far as a reading needs it.
#[derive(Debug)]
enum Member<'a> {
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    Bool(bool),
    Null,
    /// An object or an array, parsed whole: a pointer may go into it.
    /// Boxed: a `Value` is several times the size of the other kinds, and
    /// most bodies are flat.
    Tree(Box<Value>),
}

impl<'de> serde::Deserialize<'de> for Member<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct MemberVisitor;
        impl<'de> serde::de::Visitor<'de> for MemberVisitor {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Owned(v.to_owned())))
            }
            // The number kinds as `Value` reads them, so both print alike.
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Member<'de>, E> {
                Ok(Member::Number(v.into()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Member<'de>, E> {
                Ok(Member::Number(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Member<'de>, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Member::Null, Member::Number))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Member<'de>, E> {
                Ok(Member::Bool(v))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Member<'de>, E> {
                Ok(Member::Null)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Member<'de>, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|v| Member::Tree(Box::new(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Member<'de>, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(|v| Member::Tree(Box::new(v)))
            }
        }
        de.deserialize_any(MemberVisitor)
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
    fn the_content_type_says_whether_a_body_is_json() {
        // A JSON string body: its text is the version when read as JSON,
        // the quoted text when read as plain text.
        let quoted = br#""1.4.0""#;
        for json in ["application/json", "application/vnd.api+json; charset=utf-8", "text/json", "json"] {
            assert_eq!(decode(quoted, Some(json), &fields()), Ok(Reading::version("1.4.0")), "{json}");
        }
        for text in ["text/plain", "text/plain; charset=jso", "text/jsn"] {
            assert_eq!(decode(quoted, Some(text), &fields()), Ok(Reading::version(r#""1.4.0""#)), "{text}");
        }
        // Neither said: a body that looks like JSON is read as JSON.
        assert_eq!(decode(quoted, None, &fields()), Ok(Reading::version("1.4.0")));
        assert_eq!(decode(quoted, Some("application/octet-stream"), &fields()), Ok(Reading::version("1.4.0")));
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
    fn only_a_path_with_placeholders_skips_the_full_parse() {
        for raw in [
            "http://127.0.0.1:8080/{env}/{service}",
            "https://deploy.example/v1/{service}/version?format=json",
            "https://deploy.example:8443/{service}-{env}/info#top",
        ] {
            let t = UrlTemplate::parse(raw).unwrap();
            assert!(t.path_only.is_some(), "{raw}");
            assert_eq!(t.url("api", "prod").unwrap(), url::Url::parse(&t.render("api", "prod")).unwrap());
        }
        for raw in [
            "https://{service}.{env}.example/version",
            "http://h.example/version?s={service}",
            "http://h.example/v#{env}",
            "http://h.example/a b/{service}",
            " http://h.example/{service}",
        ] {
            assert!(UrlTemplate::parse(raw).unwrap().path_only.is_none(), "{raw}");
        }
        let t = UrlTemplate::parse("http://h.example/{env}/{service}").unwrap();
        assert_eq!(t.url("api", "prod").unwrap().as_str(), "http://h.example/prod/api");
        // A name with characters to escape takes the full parse, as it would.
        assert_eq!(t.url("a b?c", "prod").unwrap().as_str(), "http://h.example/prod/a%20b?c");
    }

    #[tokio::test]
    async fn a_cell_whose_url_does_not_parse_says_so() {
        let source = HttpSource::build(&spec(serde_json::json!({"url": "http://{service}.example/version"}))).unwrap();
        let key = crate::model::CellKey { service: 0, env: 0 };
        let cell = CellTarget { service: "bad host".into(), env: "prod".into(), key };
        let err = source.fetch(&HttpContext::new().unwrap(), &cell).await.unwrap_err();
        assert_eq!(err.to_string(), "invalid URL `http://bad host.example/version`: invalid international domain name");
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

    /// The whole document parsed, then read with pointers: what `decode`
    /// did before it read only the members it needs, and must still agree with.
    fn decode_whole(body: &[u8], fields: &Fields) -> Result<Reading, FetchError> {
        let value: Value = serde_json::from_slice(body.trim_ascii())
            .map_err(|e| FetchError::Malformed(sanitize::clean_to(&e.to_string(), 100)))?;
        decode_json(&value, fields)
    }

    #[test]
    fn members_a_pointer_does_not_reach_are_read_and_checked_as_a_whole_parse_would() {
        let ok = br#"{"big":{"a":[1,2,{"b":null}],"c":"\u00e9"},"version":"1.2.0","build":7}"#;
        let r = decode(ok, Some("application/json"), &fields()).unwrap();
        assert_eq!((r.version.as_deref(), r.build.as_deref()), (Some("1.2.0"), Some("7")));
        let deep = format!(r#"{{"version":"1.2.0","x":{}1{}}}"#, "[".repeat(200), "]".repeat(200));
        let bad_utf8 = [&br#"{"version":"1.2.0","x":""#[..], &[0xff, 0xfe], br#""}"#].concat();
        // Bytes that are not UTF-8 in a value a pointer wants, in a key, after the document.
        let bad_wanted = [&br#"{"version":"1.2."#[..], &[0xc3], br#"0"}"#].concat();
        let bad_key = [&br#"{"version":"1.2.0",""#[..], &[0x80], br#"":1}"#].concat();
        let bad_after = [&br#"{"version":"1.2.0"} "#[..], &[0xff]].concat();
        for bad in [
            &br#"{"version":"1.2.0","big":[1,}"#[..],
            br#"{"version":"1.2.0"} trailing"#,
            br#"{"version":"1.2.0","x":tru}"#,
            br#"{"version":"1.2.0" "build":1}"#,
            // What a grammar-only skip would let through.
            br#"{"version":"1.2.0","x":"\ud800"}"#,
            br#"{"version":"1.2.0","x":1e400}"#,
            deep.as_bytes(),
            &bad_utf8,
            &bad_wanted,
            &bad_key,
            &bad_after,
        ] {
            let err = decode(bad, Some("application/json"), &fields()).unwrap_err();
            assert!(matches!(err, FetchError::Malformed(_)), "{err}");
            assert_eq!(Err(err), decode_whole(bad, &fields()), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_empty_pointer_reads_the_whole_document() {
        // `""` is the document itself: the members the other pointers start
        // with are not enough, so the whole body is parsed.
        let fields = Fields { health: Some(String::new()), ..Fields::default() };
        let body = br#"{"version":"1.0.0","status":"DOWN"}"#;
        let r = decode(body, Some("application/json"), &fields).unwrap();
        assert_eq!((r.version.as_deref(), r.health), (Some("1.0.0"), Some(Health::Down)));
        assert_eq!(Ok(r), decode_whole(body, &fields));
    }

    #[test]
    fn several_pointers_may_start_with_one_member() {
        let fields = Fields {
            version: "/meta/version".into(),
            build: Some("/meta/build".into()),
            commit: Some("/meta".into()),
            health: Some("/meta/health/status".into()),
            ..Fields::default()
        };
        let body = br#"{"meta":{"version":"2.0.0","build":41,"health":{"status":"DOWN"}},"meta":{"version":"2.1.0","build":42,"health":{"status":"UP"}}}"#;
        let r = decode(body, Some("application/json"), &fields).unwrap();
        assert_eq!((r.version.as_deref(), r.build.as_deref(), r.commit.as_deref()), (Some("2.1.0"), Some("42"), None));
        assert_eq!(r.health, Some(Health::Up));
        assert_eq!(Ok(r), decode_whole(body, &fields));
        let fields = Fields {
            version: "/version".into(),
            build: Some("/meta/build".into()),
            commit: Some("/meta".into()),
            ..fields
        };
        let r = decode(br#"{"version":"1.0.0","meta":"abc"}"#, Some("application/json"), &fields).unwrap();
        assert_eq!((r.build, r.commit.as_deref()), (None, Some("abc")));
    }

    #[test]
    fn a_key_given_twice_is_read_as_its_last_and_escaped_keys_are_matched() {
        let fields = Fields { version: "/app~1v".into(), build: Some("/meta/build~0n".into()), ..Fields::default() };
        let body = br#"{"app/v":"1.0.0","meta":{"build~n":3},"app\/v":"2.0.0","health":{"status":"DOWN"}}"#;
        let r = decode(body, Some("application/json"), &fields).unwrap();
        assert_eq!(r.version.as_deref(), Some("2.0.0"));
        assert_eq!(r.build.as_deref(), Some("3"));
        assert_eq!(r.health, Some(Health::Down));
        assert_eq!(Ok(r), decode_whole(body, &fields));
    }

    #[test]
    fn a_template_fills_each_placeholder_once() {
        let t = UrlTemplate::parse("https://{service}.{env}.example/{env}/v?s={service}").unwrap();
        assert_eq!(t.render("api", "prod"), "https://api.prod.example/prod/v?s=api");
        // A name that looks like a placeholder is text, not filled in again.
        assert_eq!(t.render("{env}", "qa"), "https://{env}.qa.example/qa/v?s={env}");
        assert_eq!(UrlTemplate::parse("http://h:8080/version").unwrap().render("a", "b"), "http://h:8080/version");
    }

    /// A JSON value of up to two levels, with the keys the pointers look for.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = proptest::sample::select(vec![
            "version",
            "build",
            "commit",
            "health",
            "deployed_at",
            "status",
            "a/b",
            "x",
            "meta",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "[ -~\\u{e9}\\u{1b}]{0,12}".prop_map(Value::String),
            Just(Value::String("2026-11-24T18:00:00Z".into())),
            Just(Value::String("UP".into())),
        ];
        leaf.prop_recursive(2, 16, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #[test]
        fn reading_only_the_members_needed_agrees_with_reading_the_whole_document(
            members in proptest::collection::vec((proptest::sample::select(vec!["version", "build", "commit", "digest", "health", "deployed_at", "a/b", "x", "meta", "status"]), json_value()), 0..8),
            which in 0..4usize,
            spoiled in proptest::option::of((proptest::prelude::any::<proptest::sample::Index>(), proptest::sample::select(vec![0xffu8, 0x80, 0xc3]))),
        ) {
            // Written by hand so that a key may come twice.
            let mut body = format!(
                "{{{}}}",
                members.iter().map(|(k, v)| format!("{}: {v}", Value::from(*k))).collect::<Vec<_>>().join(", ")
            ).into_bytes();
            // Sometimes a byte that is not UTF-8 (or starts a character it does not finish), anywhere.
            if let Some((at, byte)) = spoiled {
                let at = at.index(body.len());
                body[at] = byte;
            }
            let fields = match which {
                0 => Fields::default(),
                1 => Fields { version: "/a~1b/version".into(), health: Some("/health/status".into()), ..Fields::default() },
                // An empty pointer: the whole document (its `status`, for health).
                2 => Fields { health: Some(String::new()), ..Fields::default() },
                // Several pointers into one member, one of them the member itself.
                _ => Fields {
                    version: "/version".into(),
                    build: Some("/meta/build".into()),
                    commit: Some("/meta".into()),
                    health: Some("/meta/health".into()),
                    deployed_at: Some("/x/deployed_at".into()),
                    ..Fields::default()
                },
            };
            proptest::prop_assert_eq!(decode(&body, Some("application/json"), &fields), decode_whole(&body, &fields), "{}", String::from_utf8_lossy(&body));
        }

        #[test]
        fn a_cell_url_is_what_parsing_the_filled_in_text_gives(
            scheme in proptest::sample::select(vec!["http", "https"]),
            host in proptest::sample::select(vec!["127.0.0.1:8080", "api.example", "[::1]:9", "{env}.example", "h.example:443"]),
            segments in proptest::collection::vec(proptest::sample::select(vec![
                "{service}", "{env}", "version", ".", "..", "%2e", "%2E%2e", "x%20y", "{service}-{env}", "v1.{env}",
                "a:b", "~u", "", "a;b=c", "@", "%", "{svc}x", "a b", "\\t", "\\\\",
            ]), 0..5),
            query in proptest::sample::select(vec!["", "?s={service}", "?x=1&y=2", "?", "#frag", "?q={env}#f", "#{service}"]),
            service in proptest::prop_oneof![
                proptest::sample::select(vec![".", "..", "api", "a.b", "~x", "-", "x_y"]).prop_map(String::from),
                proptest::string::string_regex("[a-zA-Z0-9._~ /?#%\\\\:@\u{e9}\t-]{0,8}").unwrap(),
            ],
            env in proptest::prop_oneof![
                proptest::sample::select(vec!["prod", ".", "..", "eu-1"]).prop_map(String::from),
                proptest::string::string_regex("[a-z0-9./?#% -]{0,6}").unwrap(),
            ],
        ) {
            let raw = format!("{scheme}://{host}/{}{query}", segments.join("/"));
            // `{svc}` is not a placeholder: such templates are refused at load.
            let Ok(template) = UrlTemplate::parse(&raw) else { return Ok(()) };
            let whole = url::Url::parse(&template.render(&service, &env));
            proptest::prop_assert_eq!(template.url(&service, &env), whole, "{} with {:?} {:?}", raw, service, env);
        }

        #[test]
        fn decode_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512), json in proptest::bool::ANY) {
            let _ = decode(&body, if json { Some("application/json") } else { None }, &fields());
        }
    }
}
