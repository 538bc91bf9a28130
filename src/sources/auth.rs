//! Tokens: only ever read from the environment variable a source names
//! (`token_env = "VAR"`), never from a file, never logged or shown.

use std::fmt;

use super::{FetchError, OptionError};
use crate::model::Reading;

/// A secret that prints as `[redacted]` whatever formats it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token for unit tests; real ones only come from the environment.
    #[cfg(test)]
    pub(crate) fn for_test(value: &str) -> Token {
        Token(value.to_string())
    }

    /// The value, for building a request header. Nothing else should call this.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// A stable, non-reversible key for per-token caches (not the token).
    pub(crate) fn cache_key(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.0.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
}

impl Token {
    /// Take the token out of a text: a server (or a program) that echoes
    /// request headers into its error must not put the token on screen. A
    /// snippet cut short inside the token (`…` wherever the cut falls) still
    /// loses the part of the token it kept.
    pub(crate) fn redact(&self, text: String) -> String {
        redact_one(self.0.as_str(), text)
    }

    /// The same redaction for any secret (a database password).
    pub(crate) fn redact_secret(secret: &str, text: String) -> String {
        redact_one(secret, text)
    }

    /// The same error with the token taken out of every text it carries.
    pub fn scrub(&self, err: FetchError) -> FetchError {
        err.map_text(|text| self.redact(text))
    }

    /// The `Authorization: Bearer` value, marked sensitive; the error never
    /// carries the token's text.
    pub fn bearer(&self) -> Result<reqwest::header::HeaderValue, String> {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.0))
            .map_err(|_| "the token holds characters that are not allowed in an HTTP header".to_string())?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Shortest piece of a token, cut short before a `…`, that is still taken
/// out: shorter pieces say nothing about the token.
const MIN_CUT: usize = 4;

fn redact_one(secret: &str, text: String) -> String {
    if secret.is_empty() {
        return text;
    }
    let mut out = text.replace(secret, "[redacted]");
    // A text cut short (`sanitize::clean_to`) may end a piece of the token
    // with `…`, wherever the cut fell: `ghp_0123…`, also inside quotes.
    if !out.contains('\u{2026}') {
        return out;
    }
    let mut result = String::with_capacity(out.len());
    while let Some(at) = out.find('\u{2026}') {
        let (before, after) = out.split_at(at);
        let cut = (MIN_CUT..secret.len())
            .rev()
            .find(|&n| secret.is_char_boundary(n) && before.ends_with(&secret[..n]))
            .unwrap_or(0);
        result.push_str(&before[..before.len() - cut]);
        if cut > 0 {
            result.push_str("[redacted]");
        }
        result.push('\u{2026}');
        out = after['\u{2026}'.len_utf8()..].to_string();
    }
    result.push_str(&out);
    result
}

/// Every token of every configured source: whatever any source sends back
/// (errors and readings alike) passes through [`Secrets::scrub_result`]
/// before anything keeps it, so a token never reaches a cell, a journal, a
/// log or any output, whichever source it leaked through.
#[derive(Clone, Default)]
pub struct Secrets(std::sync::Arc<[Token]>);

impl Secrets {
    pub fn new(tokens: impl IntoIterator<Item = Token>) -> Secrets {
        let mut tokens: Vec<Token> = tokens.into_iter().filter(|t| !t.0.is_empty()).collect();
        // Longest first: a token that contains another is taken out whole.
        tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        tokens.dedup();
        Secrets(tokens.into())
    }

    /// Whether there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Take every token (whole, or cut short before a `…`) out of a text.
    pub(crate) fn redact(&self, text: String) -> String {
        self.0.iter().fold(text, |text, token| token.redact(text))
    }

    /// Whether a text holds a token, whole or cut short.
    fn holds_token(&self, text: &str) -> bool {
        self.0.iter().any(|t| text.contains(t.0.as_str())) || self.redact(text.to_string()) != text
    }

    /// A fetch's outcome with no token left in it. A reading whose version,
    /// build, commit or digest holds a token is refused as an error (the
    /// program or server answered with a secret, not a version); other texts
    /// it carries are redacted.
    pub(crate) fn scrub_result(&self, result: Result<Reading, FetchError>) -> Result<Reading, FetchError> {
        if self.is_empty() {
            return result;
        }
        match result {
            Err(e) => Err(e.map_text(|text| self.redact(text))),
            Ok(reading) => {
                let identity = [&reading.version, &reading.build, &reading.commit, &reading.digest];
                if identity.into_iter().flatten().any(|v| self.holds_token(v)) {
                    return Err(FetchError::Field("the reading looks like the source's token".into()));
                }
                Ok(self.redact_reading(reading))
            }
        }
    }

    fn redact_reading(&self, mut reading: Reading) -> Reading {
        for (_, value) in &mut reading.attributes {
            *value = self.redact(std::mem::take(value));
        }
        for metric in &mut reading.metrics {
            metric.name = self.redact(std::mem::take(&mut metric.name));
            // A baseline query's error is the server's own words.
            if let Some(error) = metric.baseline.as_mut().and_then(|b| b.error.as_mut()) {
                *error = self.redact(std::mem::take(error));
            }
        }
        if let Some(previous) = reading.previous.as_deref_mut() {
            let texts = [
                Some(&mut previous.version),
                previous.build.as_mut(),
                previous.commit.as_mut(),
                previous.digest.as_mut(),
                previous.reference.as_mut(),
            ];
            for text in texts.into_iter().flatten() {
                *text = self.redact(std::mem::take(text));
            }
        }
        reading
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets([{} redacted])", self.0.len())
    }
}

/// Read the token a source's `token_env` names. A missing or empty
/// variable is an error naming the variable (and, through the key, the
/// source), so start-up says exactly what to set.
pub(crate) fn from_env(token_env: Option<&str>) -> Result<Option<Token>, OptionError> {
    let Some(var) = token_env else {
        return Ok(None);
    };
    if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(OptionError::new("token_env", format!("`{var}` is not an environment variable name")));
    }
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Ok(Some(Token(value.trim().to_string()))),
        Ok(_) => Err(OptionError::new("token_env", format!("environment variable {var} is empty"))),
        Err(_) => Err(OptionError::new("token_env", format!("environment variable {var} is not set"))),
    }
}

/// The token `token_env` names and its `Authorization: Bearer` header,
/// for kinds that send one (the token is kept to scrub error texts).
pub(crate) fn bearer_from_env(
    token_env: Option<&str>,
) -> Result<(Option<Token>, Option<reqwest::header::HeaderValue>), OptionError> {
    match from_env(token_env)? {
        None => Ok((None, None)),
        Some(token) => {
            let header = token.bearer().map_err(|m| OptionError::new("token_env", m))?;
            Ok((Some(token), Some(header)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_print() {
        let t = Token("ghp_secret".into());
        assert_eq!(format!("{t} {t:?}"), "[redacted] Token([redacted])");
        assert_eq!(t.expose(), "ghp_secret");
    }

    #[test]
    fn redaction_covers_whole_and_cut_tokens() {
        let t = Token("ghp_secret1234567".into());
        assert_eq!(t.redact("echo: Bearer ghp_secret1234567 ok".into()), "echo: Bearer [redacted] ok");
        assert_eq!(t.redact("echo: Bearer ghp_secr…".into()), "echo: Bearer [redacted]…");
        assert_eq!(t.redact("nothing to hide…".into()), "nothing to hide…");
        let err = t.scrub(FetchError::Status { code: 500, detail: "saw ghp_secret1234567".into() });
        assert_eq!(err.to_string(), "HTTP 500 saw [redacted]");
    }

    #[test]
    fn a_token_cut_anywhere_before_an_ellipsis_is_redacted() {
        let t = Token("ghp_0123456789abcdefwxyz".into());
        // clean_to cuts inside the token, then the message closes its quote.
        assert_eq!(
            t.redact("does not look like a version: `ghp_0123456…`".into()),
            "does not look like a version: `[redacted]…`"
        );
        assert_eq!(t.redact("a… b ghp_01… c…".into()), "a… b [redacted]… c…");
        // Three characters say nothing about the token: kept.
        assert_eq!(t.redact("ghp… ok".into()), "ghp… ok");
    }

    #[test]
    fn secrets_know_every_token_and_refuse_a_token_as_a_reading() {
        let secrets = Secrets::new([Token("ghp_first_token_value".into()), Token("glpat-second-token".into())]);
        let err = secrets
            .scrub_result(Err(FetchError::Field("saw ghp_first_token_value and glpat-second-token".into())))
            .unwrap_err();
        assert_eq!(err.to_string(), "saw [redacted] and [redacted]");
        for version in ["glpat-second-token", "v1-ghp_first_token_value", "ghp_first_tok…"] {
            let err = secrets.scrub_result(Ok(Reading::version(version))).unwrap_err();
            assert_eq!(err.to_string(), "the reading looks like the source's token", "{version}");
        }
        let build = Reading { build: Some("ghp_first_token_value".into()), ..Reading::version("1.0") };
        assert!(secrets.scrub_result(Ok(build)).is_err());
        let mut reading = Reading::version("1.4.0");
        reading.attributes.push(("sync".into(), "echo glpat-second-token".into()));
        let mut metric = crate::model::Metric::new("up", crate::model::MetricValue::NoData);
        metric.baseline = Some(crate::model::MetricBaseline {
            at: jiff::Timestamp::UNIX_EPOCH,
            value: None,
            error: Some("bad_data: echo ghp_first_token_value".into()),
        });
        reading.metrics.push(metric);
        let reading = secrets.scrub_result(Ok(reading)).unwrap();
        assert_eq!(reading.version.as_deref(), Some("1.4.0"));
        assert_eq!(reading.attribute("sync"), Some("echo [redacted]"));
        let baseline = reading.metrics[0].baseline.as_ref().and_then(|b| b.error.as_deref());
        assert_eq!(baseline, Some("bad_data: echo [redacted]"));
        assert_eq!(format!("{secrets:?}"), "Secrets([2 redacted])");
    }

    #[test]
    fn missing_variable_is_named() {
        let err = from_env(Some("FLIGHTDECK_TEST_SURELY_UNSET_VAR")).unwrap_err();
        assert_eq!(err.key, "token_env");
        assert_eq!(err.message, "environment variable FLIGHTDECK_TEST_SURELY_UNSET_VAR is not set");
        assert!(from_env(Some("bad name")).is_err());
        assert_eq!(from_env(None), Ok(None));
    }
}
