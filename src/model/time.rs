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

/// When [`short_age`] of the time since `since` next reads differently
/// from what it reads at `now` (ages in whole seconds, as findings count
/// them): the next second, minute, hour or day.
pub(crate) fn short_age_changes(since: Timestamp, now: Timestamp) -> Timestamp {
    let elapsed = now.as_second().saturating_sub(since.as_second()).max(0);
    let step = if elapsed < 60 {
        1
    } else if elapsed < 3600 {
        60
    } else if elapsed < 172_800 {
        3600
    } else {
        86_400
    };
    let next = (elapsed / step + 1) * step;
    Timestamp::from_second(since.as_second().saturating_add(next)).unwrap_or(Timestamp::MAX)
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
    fn an_age_changes_at_the_next_unit_it_shows() {
        let since = Timestamp::from_second(1_800_000_000).unwrap();
        let age_at = |t: Timestamp| short_age(Duration::from_secs((t.as_second() - since.as_second()).max(0) as u64));
        for elapsed in [-5, 0, 1, 59, 60, 61, 3599, 3600, 7199, 172_799, 172_800, 200_000] {
            let now = Timestamp::from_second(since.as_second() + elapsed).unwrap();
            let change = short_age_changes(since, now);
            assert!(change > now, "{elapsed}");
            let before = Timestamp::from_second(change.as_second() - 1).unwrap();
            assert_eq!(age_at(before), age_at(now), "{elapsed}: still the same just before");
            assert_ne!(age_at(change), age_at(now), "{elapsed}: reads differently then");
        }
    }

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
