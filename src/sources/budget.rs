//! Whether a rate-limit budget holds: from what the server said (limit,
//! remaining, reset) and the rate the cockpit has lately spent it at, until
//! the reset and for the hour after it — or when requests will be held
//! back. The judgement is pure (times are passed in); the cockpit shows it
//! in the status bar.
//!
//! The rate is measured, not predicted from the schedule: requests that
//! counted (not a `304` answering a conditional request sent with a token,
//! which GitHub does not count) over the last minutes, so whatever the
//! ETags spare, the changes view asks, or a change costs is in it. The
//! first sweep reads everything afresh (nothing is cached yet): its cost is
//! once, not a rate, so the first two poll periods are left out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::github::RateState;

/// Below this share of the limit (percent), requests are held back until the reset.
const LOW_WATER_PERCENT: u64 = 5;
/// GitHub's budget refills every hour.
const HOUR: i64 = 3600;
/// The rate is measured over at most this long.
const WINDOW: i64 = 600;

/// Requests left when requests start being held back: 5% of the limit.
pub(crate) fn low_water(limit: u64) -> u64 {
    (limit.max(1) * LOW_WATER_PERCENT).div_ceil(100).max(1)
}

/// The requests one budget has seen, by second, for the last hour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spending {
    /// (epoch second, requests that counted in it), oldest first; only
    /// seconds with any.
    counted: VecDeque<(i64, u32)>,
    /// When the first response came: the start of the first sweep.
    first: Option<i64>,
}

impl Spending {
    /// A response came at `at`; `counted`: it counted against the budget.
    pub fn record(&mut self, at: i64, counted: bool) {
        self.first = Some(self.first.map_or(at, |first| first.min(at)));
        if counted {
            match self.counted.back_mut() {
                Some((second, n)) if *second == at => *n = n.saturating_add(1),
                _ => self.counted.push_back((at, 1)),
            }
        }
        while self.counted.front().is_some_and(|(second, _)| *second <= at - HOUR) {
            self.counted.pop_front();
        }
    }

    /// Counted requests per hour lately, for sources polling every
    /// `period`: over the last [`WINDOW`] (four periods when longer), less
    /// the first two periods (the first sweep, and what of it ran late).
    /// `None` until a whole period has been measured.
    pub fn per_hour(&self, now: i64, period: Duration) -> Option<u64> {
        let period = i64::try_from(period.as_secs()).unwrap_or(HOUR).clamp(1, HOUR);
        let window = (4 * period).clamp(WINDOW, HOUR);
        let from = (now - window).max(self.first? + 2 * period);
        let span = now - from;
        if span < period {
            return None;
        }
        let counted: u64 =
            self.counted.iter().filter(|(at, _)| *at > from && *at <= now).map(|(_, n)| u64::from(*n)).sum();
        Some(counted * HOUR as u64 / span as u64)
    }
}

/// What the server said about a budget, and the rate it is spent at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    /// Epoch seconds when the budget refills to `limit`.
    pub reset: i64,
    /// Counted requests per hour, measured lately; `None` while measuring.
    pub needed_per_hour: Option<u64>,
}

/// Whether a budget holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlook {
    /// Nothing to judge yet: no rate measured.
    Unknown,
    /// The budget lasts until the reset and through the hour after it.
    Holds,
    /// At the rate measured, requests will be held back from `at` (epoch
    /// seconds): before the reset, or within the hour after it.
    Short { at: i64 },
    /// Requests are held back now, until the reset at `until`.
    HeldBack { until: i64 },
}

/// Judge `budget` at `now` (epoch seconds). Requests are held back below
/// [`low_water`] until the reset; after it the budget is `limit` again.
pub fn outlook(budget: &Budget, now: i64) -> Outlook {
    let low = low_water(budget.limit);
    // A reset in the past: the budget has refilled since the server said so.
    let (remaining, reset) =
        if budget.reset > now { (budget.remaining, budget.reset) } else { (budget.limit, now + HOUR) };
    if remaining < low {
        return Outlook::HeldBack { until: reset };
    }
    let Some(rate) = budget.needed_per_hour else {
        return Outlook::Unknown;
    };
    if rate == 0 {
        return Outlook::Holds;
    }
    // When `usable` requests are spent at `rate`, counted from `from`.
    let spent_at = |from: i64, usable: u64| from.saturating_add((usable.saturating_mul(HOUR as u64) / rate) as i64);
    let now_out = spent_at(now, remaining - low);
    if now_out < reset {
        return Outlook::Short { at: now_out };
    }
    let next_out = spent_at(reset, budget.limit.saturating_sub(low));
    if next_out < reset + HOUR {
        return Outlook::Short { at: next_out };
    }
    Outlook::Holds
}

/// One budget's state (a token on an API host), as the front ends may read
/// it: the same budget is shared by every source and the changes client
/// that send that token there.
#[derive(Clone)]
pub struct Probe(Arc<Mutex<RateState>>);

impl Probe {
    pub(crate) fn new(rate: Arc<Mutex<RateState>>) -> Probe {
        Probe(rate)
    }

    /// The budget at `now` for sources polling every `period`; `None` until
    /// a response said the limit, what is left and when it resets.
    pub fn read(&self, now: i64, period: Duration) -> Option<Budget> {
        super::lock(&self.0).budget(now, period)
    }
}

/// Two probes are equal when they read the same budget.
impl PartialEq for Probe {
    fn eq(&self, other: &Probe) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Probe {}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

/// A budget that will not hold: what the status bar says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The sources spending it, in config order.
    pub sources: Vec<Arc<str>>,
    pub budget: Budget,
    /// [`Outlook::Short`] or [`Outlook::HeldBack`].
    pub outlook: Outlook,
}

impl Warning {
    /// When requests are (or will be) held back, for ordering.
    fn from(&self) -> i64 {
        match self.outlook {
            Outlook::Short { at } => at,
            _ => i64::MIN,
        }
    }
}

/// The budgets that will not hold, soonest first, from each source's probe,
/// name and period (sources sharing a budget are judged together, at the
/// longest period among them).
pub fn warnings<'a>(sources: impl IntoIterator<Item = (&'a Probe, &'a Arc<str>, Duration)>, now: i64) -> Vec<Warning> {
    let mut budgets: Vec<(&Probe, Vec<Arc<str>>, Duration)> = Vec::new();
    for (probe, name, period) in sources {
        match budgets.iter_mut().find(|(p, _, _)| *p == probe) {
            Some((_, names, longest)) => {
                names.push(name.clone());
                *longest = (*longest).max(period);
            }
            None => budgets.push((probe, vec![name.clone()], period)),
        }
    }
    let mut out: Vec<Warning> = budgets
        .into_iter()
        .filter_map(|(probe, sources, period)| {
            let budget = probe.read(now, period)?;
            let outlook = outlook(&budget, now);
            matches!(outlook, Outlook::Short { .. } | Outlook::HeldBack { .. }).then_some(Warning {
                sources,
                budget,
                outlook,
            })
        })
        .collect();
    out.sort_by_key(Warning::from);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn budget(remaining: u64, reset_in: i64, per_hour: Option<u64>) -> Budget {
        Budget { limit: 5000, remaining, reset: NOW + reset_in, needed_per_hour: per_hour }
    }

    #[test]
    fn low_water_is_five_percent_rounded_up() {
        assert_eq!(low_water(5000), 250);
        assert_eq!(low_water(60), 3);
        assert_eq!(low_water(1), 1);
        assert_eq!(low_water(0), 1);
    }

    #[test]
    fn a_rate_the_budget_covers_holds() {
        // 600/h for the 40 minutes left is 400 of 4,000 left, and 600/h fits an hour of 5,000.
        assert_eq!(outlook(&budget(4000, 2400, Some(600)), NOW), Outlook::Holds);
        assert_eq!(outlook(&budget(4000, 2400, Some(0)), NOW), Outlook::Holds);
        // Exactly what is usable in an hour: it holds.
        assert_eq!(outlook(&budget(5000, 3600, Some(4750)), NOW), Outlook::Holds);
    }

    #[test]
    fn a_rate_that_spends_what_is_left_before_the_reset_is_short() {
        // 4,200 left, 250 kept back: 3,950 at 6,100/h last 2,331 s, and the reset is 40 min away.
        let b = budget(4200, 2400, Some(6100));
        assert_eq!(outlook(&b, NOW), Outlook::Short { at: NOW + 3950 * 3600 / 6100 });
    }

    #[test]
    fn a_rate_over_the_hourly_limit_is_short_after_the_reset() {
        // Plenty left for 5 minutes, but 5,500/h is more than any hour gives.
        let b = budget(4900, 300, Some(5500));
        assert_eq!(outlook(&b, NOW), Outlook::Short { at: NOW + 300 + 4750 * 3600 / 5500 });
    }

    #[test]
    fn below_the_low_water_requests_are_held_back_until_the_reset() {
        assert_eq!(outlook(&budget(249, 600, None), NOW), Outlook::HeldBack { until: NOW + 600 });
        assert_eq!(outlook(&budget(249, 600, Some(10)), NOW), Outlook::HeldBack { until: NOW + 600 });
    }

    #[test]
    fn a_past_reset_means_a_full_budget_again() {
        assert_eq!(outlook(&budget(10, -5, Some(600)), NOW), Outlook::Holds);
        assert_eq!(outlook(&budget(10, -5, Some(6000)), NOW), Outlook::Short { at: NOW + 4750 * 3600 / 6000 });
    }

    #[test]
    fn no_rate_yet_is_unknown() {
        assert_eq!(outlook(&budget(4000, 600, None), NOW), Outlook::Unknown);
    }

    #[test]
    fn the_rate_leaves_out_the_first_sweep_and_waits_for_a_period() {
        let mut s = Spending::default();
        let period = Duration::from_secs(30);
        // The first sweep: 600 requests, every one counted (nothing cached).
        for i in 0..600 {
            s.record(NOW + i / 60, true);
        }
        assert_eq!(s.per_hour(NOW + 60, period), None, "still the first two periods");
        assert_eq!(s.per_hour(NOW + 80, period), None, "less than a period measured");
        // Then 304s, and one counted request every 10 s.
        for t in (60..=300).step_by(10) {
            s.record(NOW + t, t % 10 == 0);
            s.record(NOW + t, false);
        }
        // (60, 300]: 24 counted in 240 s.
        assert_eq!(s.per_hour(NOW + 300, period), Some(24 * 3600 / 240));
        // Ten minutes on, only the last ten minutes count.
        for t in (301..=1200).step_by(1) {
            s.record(NOW + t, t % 20 == 0);
        }
        assert_eq!(s.per_hour(NOW + 1200, period), Some(30 * 3600 / 600));
    }

    #[test]
    fn an_hour_is_kept_at_most() {
        let mut s = Spending::default();
        for t in 0..(3 * HOUR) {
            s.record(NOW + t, true);
        }
        assert_eq!(s.counted.len(), HOUR as usize);
        assert_eq!(s.per_hour(NOW + 3 * HOUR - 1, Duration::from_secs(30)), Some(3600));
    }

    #[test]
    fn sources_sharing_a_budget_are_judged_together() {
        let shared = Probe::new(Arc::new(Mutex::new(RateState::default())));
        let other = Probe::new(Arc::new(Mutex::new(RateState::default())));
        assert_eq!(shared, shared.clone());
        assert_ne!(shared, other);
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        // Nothing heard from the server yet: nothing to say.
        let sources = [
            (&shared, &a, Duration::from_secs(30)),
            (&other, &b, Duration::from_secs(30)),
            (&shared, &c, Duration::ZERO),
        ];
        assert_eq!(warnings(sources, NOW), Vec::new());
    }
}
