//! Times and ages as people read and write them, shared by config, sources
//! and every front end.

use std::time::Duration;

use jiff::Timestamp;

/// Short human age for the screen: `12s`, `4m`, `3h`, `47h`, `45d`. Hours
/// up to two days (`1d` would hide most of a day), days past 48 hours.
pub(crate) fn short_age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 2 * 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// RFC 3339, or seconds since the epoch.
pub(crate) fn parse_time(raw: &str) -> Result<Timestamp, String> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<i64>() {
        return Timestamp::from_second(secs).map_err(|e| format!("invalid epoch seconds `{raw}`: {e}"));
    }
    raw.parse::<Timestamp>().map_err(|_| format!("invalid time `{raw}`: use RFC 3339, e.g. 2026-11-24T18:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ages() {
        assert_eq!(short_age(Duration::from_secs(9)), "9s");
        assert_eq!(short_age(Duration::from_secs(125)), "2m");
        assert_eq!(short_age(Duration::from_secs(7200)), "2h");
        assert_eq!(short_age(Duration::from_secs(86_400 + 3600)), "25h");
        assert_eq!(short_age(Duration::from_secs(2 * 86_400 - 1)), "47h");
        assert_eq!(short_age(Duration::from_secs(2 * 86_400)), "2d");
        assert_eq!(short_age(Duration::from_secs(3 * 86_400 - 1)), "2d");
        assert_eq!(short_age(Duration::from_secs(86_400 * 200)), "200d");
    }

    #[test]
    fn times_in_rfc3339_or_epoch_seconds() {
        assert_eq!(parse_time("2026-11-24T18:00:00Z").unwrap().as_second(), 1_795_543_200);
        assert_eq!(parse_time(" 1795543200 ").unwrap().as_second(), 1_795_543_200);
        assert!(parse_time("tomorrow").unwrap_err().contains("RFC 3339"));
    }
}
