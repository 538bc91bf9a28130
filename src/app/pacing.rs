//! The cockpit's two clocks: how often it analyses and how often it draws.
//!
//! A key (or the clock) asks for a frame within [`MIN_FRAME`]; source
//! updates are analysed at most every [`ANALYSIS_EVERY`] and drawn at most
//! every [`DATA_FRAME`], so a storm of updates is batched instead of drawn
//! one by one; and they are read in gulps ([`GATHER`], [`BURST_GATHER`]),
//! so neither a steady trickle of answers nor a sweep's burst wakes the
//! loop for each. Pure bookkeeping over
//! instants passed in: tested without a terminal or a runtime clock.

use std::time::Duration;

use tokio::time::Instant;

/// At most one frame per this long (a key is still answered within it).
pub(crate) const MIN_FRAME: Duration = Duration::from_millis(50);
/// Source updates redraw at most this often (a key or the clock: MIN_FRAME).
pub(crate) const DATA_FRAME: Duration = Duration::from_millis(200);
/// Source updates are analysed (findings, rollback, verdict) at most this often.
pub(crate) const ANALYSIS_EVERY: Duration = Duration::from_millis(500);
/// With nothing new, the clock alone re-analyses this often (staleness,
/// known-good ages), or at once when it crosses a window, blackout or due time.
pub(crate) const SLOW_ANALYSIS: Duration = Duration::from_secs(15);

/// After a read of source updates that took all there was, the next read
/// waits this long: answers trickling in (every cell every 10 s is hundreds
/// a second) wake the loop ten times a second, not once each. An answer is
/// drawn up to this much later than it would be without it (within a data
/// frame). Answers coming faster than [`READ_MAX`] a gather are read
/// every [`BURST_GATHER`]; the first answers of a burst may wait one
/// gather, for which the channel has room ([`CHANNEL`]), and the loop reads
/// early when another event wakes it and the backlog is a full read.
pub(crate) const GATHER: Duration = Duration::from_millis(100);

/// In a burst (answers faster than a full read a gather), a read that took
/// all there was waits this long before the next. Read as they come, a
/// sweep's answers would wake the loop every few answers, and each wake-up
/// costs the poller's thread a system call and the loop a context switch,
/// more than taking the answers in; gathered, the loop wakes fifty times a
/// second while a sweep pours in, and the channel holds what comes
/// meanwhile ([`CHANNEL`]).
pub(crate) const BURST_GATHER: Duration = Duration::from_millis(20);

/// Most source updates taken in one read.
pub(crate) const READ_MAX: usize = 256;

/// Source updates the channel to the loop holds at least: a gather of a
/// burst at the sweep rates measured (13,000–30,000 answers a second: 3,000
/// in 100 ms) fits, so the pollers are not held up while the loop waits.
pub(crate) const CHANNEL: usize = 4096;

/// The channel for a fleet of `cells`: a whole sweep's answers fit too. The
/// first sweep starts before the loop has read the observation journal
/// (320,000 events at 20,000 cells take it most of a second), and it goes
/// on meanwhile rather than stop when the channel is full: the answers
/// wait, a few hundred bytes each, once.
pub(crate) fn channel(cells: usize) -> usize {
    CHANNEL.max(cells)
}

/// What is due, and when it was last done.
#[derive(Debug, Clone)]
pub(crate) struct Pacing {
    /// A key or the clock changed what is shown: draw within MIN_FRAME.
    key_dirty: bool,
    /// Data changed what is shown: draw within DATA_FRAME.
    data_dirty: bool,
    /// The matrix changed: analyse within ANALYSIS_EVERY.
    analysis_due: bool,
    last_draw: Instant,
    last_analysis: Instant,
    /// Source updates are not read before this (see [`GATHER`]).
    read_after: Option<Instant>,
    last_read: Instant,
}

impl Pacing {
    /// A first frame is due at once.
    pub fn new(now: Instant) -> Pacing {
        Pacing {
            key_dirty: true,
            data_dirty: false,
            analysis_due: false,
            last_draw: now.checked_sub(MIN_FRAME).unwrap_or(now),
            last_analysis: now,
            read_after: None,
            last_read: now,
        }
    }

    /// `received` source updates were read at `now`. A full read is
    /// followed by the next at once; otherwise the next read waits a gather
    /// when, at the pace they came since the last read, a gather brings
    /// fewer than [`READ_MAX`] (a trickle), and [`BURST_GATHER`] when it
    /// brings more. Until every cell has been read once (`first_sweep`) no
    /// read waits longer than a burst's: the first full matrix is what
    /// everyone waits for.
    pub fn read(&mut self, now: Instant, received: usize, first_sweep: bool) {
        let since = now.duration_since(self.last_read).max(Duration::from_millis(1));
        let per_gather = received as f64 * GATHER.as_secs_f64() / since.as_secs_f64();
        let trickle = per_gather < READ_MAX as f64 && !first_sweep;
        self.read_after = (received < READ_MAX).then(|| now + if trickle { GATHER } else { BURST_GATHER });
        self.last_read = now;
    }

    /// Whether source updates may be read at `now`.
    pub(crate) fn reads_open(&mut self, now: Instant) -> bool {
        if self.read_after.is_some_and(|at| now >= at) {
            self.read_after = None;
        }
        self.read_after.is_none()
    }

    /// A key or the clock changed the screen.
    pub fn key(&mut self) {
        self.key_dirty = true;
    }

    /// Source updates changed the matrix: analyse, then draw.
    pub fn data(&mut self) {
        self.analysis_due = true;
        self.data_dirty = true;
    }

    /// The clock alone may change the analysis (a boundary crossed, or it
    /// has been SLOW_ANALYSIS since the last one).
    pub fn clock(&mut self, now: Instant, boundary: bool) {
        if boundary || now.duration_since(self.last_analysis) >= SLOW_ANALYSIS {
            self.analysis_due = true;
        }
        self.key_dirty = true;
    }

    /// Whether to analyse now.
    pub(crate) fn analysis_ready(&self, now: Instant) -> bool {
        self.analysis_due && now.duration_since(self.last_analysis) >= ANALYSIS_EVERY
    }

    pub fn analysed(&mut self, now: Instant) {
        self.last_analysis = now;
        self.analysis_due = false;
        self.data_dirty = true;
    }

    /// Whether to draw now.
    pub(crate) fn frame_ready(&self, now: Instant) -> bool {
        let gap = if self.key_dirty { MIN_FRAME } else { DATA_FRAME };
        (self.key_dirty || self.data_dirty) && now.duration_since(self.last_draw) >= gap
    }

    pub fn drew(&mut self, now: Instant) {
        self.last_draw = now;
        self.key_dirty = false;
        self.data_dirty = false;
    }

    /// When something put off to keep the pace falls due: the loop sleeps
    /// until then at most.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let frame = if self.key_dirty {
            Some(self.last_draw + MIN_FRAME)
        } else if self.data_dirty {
            Some(self.last_draw + DATA_FRAME)
        } else {
            None
        };
        let analysis = self.analysis_due.then(|| self.last_analysis + ANALYSIS_EVERY);
        [frame, analysis, self.read_after].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_key_is_drawn_within_a_frame_data_within_five() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        assert!(p.frame_ready(t0), "the first frame is due at once");
        p.drew(t0);
        assert!(!p.frame_ready(t0 + ms(500)), "nothing changed");
        assert_eq!(p.next_due(), None);
        p.key();
        assert!(!p.frame_ready(t0 + ms(10)));
        assert_eq!(p.next_due(), Some(t0 + MIN_FRAME));
        assert!(p.frame_ready(t0 + MIN_FRAME));
        p.drew(t0 + ms(60));
        p.data();
        // Data: analysed first (within ANALYSIS_EVERY of the last analysis).
        assert!(!p.analysis_ready(t0 + ms(100)));
        assert!(p.analysis_ready(t0 + ANALYSIS_EVERY));
        // Drawn within DATA_FRAME of the last frame, not MIN_FRAME.
        assert!(!p.frame_ready(t0 + ms(60) + MIN_FRAME));
        assert!(p.frame_ready(t0 + ms(60) + DATA_FRAME));
        assert_eq!(p.next_due(), Some(t0 + ms(60) + DATA_FRAME));
    }

    #[test]
    fn answers_are_read_in_gulps_and_a_burst_in_short_ones() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        p.drew(t0);
        assert!(p.reads_open(t0), "the first read at once");
        // Every cell every 10 s: 600 a second, 60 a gather.
        p.read(t0 + GATHER, 60, false);
        let t1 = t0 + GATHER;
        assert!(!p.reads_open(t1 + ms(50)), "a trickle waits");
        assert_eq!(p.next_due(), Some(t1 + GATHER), "and the loop wakes for it");
        assert!(p.reads_open(t1 + GATHER));
        assert_eq!(p.next_due(), None, "once open, nothing more is due");
        // A full read: read on at once.
        p.read(t1 + GATHER, READ_MAX, false);
        assert!(p.reads_open(t1 + GATHER));
        // The rest of a sweep, 20 that came in 2 ms (1,000 a gather): a
        // burst, read again after a burst's gather, not a trickle's.
        let t2 = t1 + GATHER + ms(2);
        p.read(t2, 20, false);
        assert!(!p.reads_open(t2 + ms(5)), "a burst gathers too");
        assert_eq!(p.next_due(), Some(t2 + BURST_GATHER));
        assert!(p.reads_open(t2 + BURST_GATHER));
        // Then one that came in 50 ms: a trickle again.
        p.read(t2 + ms(50), 1, false);
        assert!(!p.reads_open(t2 + ms(60)));
        assert_eq!(p.next_due(), Some(t2 + ms(50) + GATHER));
        // A gather is shorter than a data frame, and what a burst brings in
        // either gather fits the channel.
        assert!(BURST_GATHER < GATHER && GATHER < DATA_FRAME);
        assert!(CHANNEL as f64 >= 30_000.0 * GATHER.as_secs_f64());
    }

    #[test]
    fn until_every_cell_was_read_a_trickle_waits_no_longer_than_a_burst() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        p.drew(t0);
        // Slow sources in the first sweep: 3 answers in 100 ms.
        p.read(t0 + GATHER, 3, true);
        assert_eq!(p.next_due(), Some(t0 + GATHER + BURST_GATHER));
        assert!(p.reads_open(t0 + GATHER + BURST_GATHER));
        // A full read still reads on at once.
        p.read(t0 + GATHER + BURST_GATHER, READ_MAX, true);
        assert!(p.reads_open(t0 + GATHER + BURST_GATHER));
    }

    #[test]
    fn a_storm_is_analysed_twice_a_second_at_most() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        let mut analyses = 0;
        for step in 0..100 {
            let now = t0 + ms(step * 10);
            p.data();
            if p.analysis_ready(now) {
                p.analysed(now);
                analyses += 1;
            }
        }
        // One second of updates every 10 ms: at most two analyses.
        assert!((1..=2).contains(&analyses), "{analyses}");
    }

    #[test]
    fn the_clock_analyses_at_a_boundary_or_every_fifteen_seconds() {
        let t0 = Instant::now();
        let mut p = Pacing::new(t0);
        p.clock(t0 + ms(1000), false);
        assert!(!p.analysis_ready(t0 + ms(1000)), "no boundary, not yet 15 s");
        p.clock(t0 + ms(2000), true);
        assert!(p.analysis_ready(t0 + ms(2000)));
        p.analysed(t0 + ms(2000));
        p.clock(t0 + ms(2000) + SLOW_ANALYSIS, false);
        assert!(p.analysis_ready(t0 + ms(2000) + SLOW_ANALYSIS));
    }
}
