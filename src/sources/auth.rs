//! Tokens: only ever read from the environment variable a source names
//! (`token_env = "VAR"`), never from a file, never logged or shown.

use std::fmt;

use super::{FetchError, OptionError};

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
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A stable, non-reversible key for per-token caches (not the token).
    pub fn cache_key(&self) -> u64 {
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
    /// snippet cut short inside the token still ends with its start.
    pub fn redact(&self, text: String) -> String {
        let secret = self.0.as_str();
        if secret.is_empty() {
            return text;
        }
        let mut out = text.replace(secret, "[redacted]");
        if let Some(cut) = out.strip_suffix('\u{2026}')
            && let Some(n) =
                (4..secret.len()).rev().find(|&n| secret.is_char_boundary(n) && cut.ends_with(&secret[..n]))
        {
            out = format!("{}[redacted]\u{2026}", &cut[..cut.len() - n]);
        }
        out
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

/// Read the token a source's `token_env` names. A missing or empty
/// variable is an error naming the variable (and, through the key, the
/// source), so start-up says exactly what to set.
pub fn from_env(token_env: Option<&str>) -> Result<Option<Token>, OptionError> {
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
pub fn bearer_from_env(
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
    fn missing_variable_is_named() {
        let err = from_env(Some("FLIGHTDECK_TEST_SURELY_UNSET_VAR")).unwrap_err();
        assert_eq!(err.key, "token_env");
        assert_eq!(err.message, "environment variable FLIGHTDECK_TEST_SURELY_UNSET_VAR is not set");
        assert!(from_env(Some("bad name")).is_err());
        assert_eq!(from_env(None), Ok(None));
    }
}
