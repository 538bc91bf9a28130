//! The cockpit: one loop owns the [`AppState`]. Terminal events, source
//! updates, the 1 Hz tick and the ending signals (INT, TERM, HUP, QUIT)
//! arrive in one `select!`; the screen is redrawn only when something
//! changed.

pub(crate) mod checklist;
pub(crate) mod journal_io;
pub mod keymap;
pub(crate) mod pacing;
pub(crate) mod prompt;
pub(crate) mod signals;
pub mod state;
pub(crate) mod terminal;
pub(crate) mod why;

use std::time::Duration;

use anyhow::Context;
use crossterm::event::EventStream;
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::poller::{Poller, PollerThread, SourceUpdate};
use crate::sources::{self, HttpContext};
pub use state::AppState;
use state::Effect;

/// How the cockpit was started, for the status bar.
#[derive(Default)]
pub struct RunOptions {
    pub banner: Option<String>,
    pub color: bool,
    /// When the process started, for the start-up milestones in the log.
    pub launched: Option<std::time::Instant>,
    /// The observation journal; `None` keeps nothing across runs (the demo).
    pub journal: Option<std::path::PathBuf>,
    /// The release's checklist template, if it has one.
    pub template: Option<crate::checklist::Template>,
    /// Where ticks, sign-offs and decisions go.
    pub release_journal: Option<Box<dyn crate::journal::release::EventStore>>,
    /// Who acts in this cockpit; `None`: nobody is named, the cockpit
    /// asks before it records anything.
    pub operator: Option<String>,
    /// The release journal is the team's (PostgreSQL): the seat acts as its
    /// database role and says so in the status bar.
    pub team: bool,
    /// Team mode with one poll load (`[team] poll = "leader"`): the seat
    /// polls only while it leads, and follows the leader's cells otherwise.
    pub seat: Option<crate::journal::team_seat::SeatSetup>,
    /// Webhook URLs by variable name, instead of the environment (the demo's
    /// own webhook); `None`: the environment.
    pub webhook_urls: Option<std::collections::HashMap<String, String>>,
}

/// Build the initial state for a config (also used by tests and benches).
pub fn initial_state(config: &Config, active: &[sources::ActiveSource], now: Timestamp) -> AppState {
    AppState::new(crate::engine::Engine::for_config(config, active, None), now)
}

/// Turn an action into the event to append, or say it cannot be recorded.
/// The screen shows "recording…" until the journal thread answers.
fn begin_record(
    state: &mut AppState,
    has_journal: bool,
    action: crate::journal::release::ReleaseAction,
) -> Option<(crate::journal::release::ReleaseEvent, String)> {
    if !has_journal {
        state.release_journal_error = Some("this release has no journal: NOT RECORDED".into());
        state.ui.message = state.release_journal_error.clone();
        return None;
    }
    if state.operator.trim().is_empty() {
        // The keys ask for a name first; nothing is recorded without one.
        state.ui.message = Some("NOT RECORDED: nobody is named as the operator".into());
        return None;
    }
    let done = state.describe(&action);
    let event = crate::journal::release::ReleaseEvent::new(state.operator.clone(), Timestamp::now(), action);
    state.ui.message = Some(format!("recording: {done}…"));
    Some((event, done))
}

/// Let the journal thread finish the appends already sent (each is
/// fsync'd) and log how they ended; at most two seconds.
async fn drop_journal(mut io: journal_io::JournalIo, pending: Vec<(String, String)>) {
    let mut left = pending.len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while left > 0 {
        match tokio::time::timeout_at(deadline, io.answers.recv()).await {
            Ok(Some(journal_io::Answered::Appended { event, outcome })) => {
                left -= 1;
                tracing::info!(id = %event.id, outcome = ?outcome, "release event answered while leaving");
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                tracing::warn!(left, "leaving with release events not answered by the journal thread");
                break;
            }
        }
    }
}

/// How a failed read of the release journal starts, in the status bar.
pub(crate) const UNREADABLE: &str = "cannot read the release journal: ";

/// Take the journal thread's answer into the state; true when the screen
/// changed (an idle journal's answers draw nothing). Only what is on disk is
/// shown as done; a failed append stays visible until the next one works.
fn take_answer(state: &mut AppState, answer: journal_io::Answered, pending: &mut Vec<(String, String)>) -> bool {
    use journal_io::{Answered, Appended};
    match answer {
        Answered::Appended { event, outcome } => {
            let done = pending
                .iter()
                .position(|(id, _)| *id == event.id)
                .map(|i| pending.remove(i).1)
                .unwrap_or_else(|| state.describe(&event.action));
            match outcome {
                Appended::Recorded(events) => {
                    state.release_journal_error = None;
                    state.take_release_events(events);
                    state.ui.message = Some(format!("recorded: {done}"));
                }
                // On disk: show it, and say reading back failed.
                Appended::RecordedUnread(e) => {
                    state.release_journal_error = Some(format!("recorded, but re-reading the journal failed: {e}"));
                    state.take_release_events(vec![event]);
                    state.ui.message = Some(format!("recorded: {done}"));
                }
                Appended::Failed(e) => {
                    state.release_journal_error = Some(format!("NOT RECORDED: {e}"));
                    state.ui.message = state.release_journal_error.clone();
                    return true;
                }
            }
        }
        Answered::Polled(Ok(events)) => {
            // Reading works again (a team store back): that warning goes; a
            // failed append's NOT RECORDED stays until the next append works.
            let recovered = state.release_journal_error.as_deref().is_some_and(|m| m.starts_with(UNREADABLE));
            if recovered {
                state.release_journal_error = None;
            }
            if events.is_empty() {
                return recovered;
            }
            state.take_release_events(events);
        }
        Answered::Polled(Err(e)) => {
            let shown = Some(format!("{UNREADABLE}{e}"));
            let changed = state.release_journal_error != shown;
            state.release_journal_error = shown;
            return changed;
        }
        Answered::Observed(error) => {
            let changed = state.journal_error != error;
            state.journal_error = error;
            return changed;
        }
        // Only ever the first answer, taken before the loop.
        Answered::Loaded { .. } => return false,
    }
    state.now = Timestamp::now();
    state.reanalyze();
    true
}

/// The notifier's next delivery (sent or given up), or never.
async fn delivered(notifier: &mut Option<crate::notify::Notifier>) -> Option<crate::notify::Delivery> {
    match notifier {
        Some(n) => n.delivered().await,
        None => std::future::pending().await,
    }
}

/// The webhooks' health when it changes: `Some(None)` all well,
/// `Some(Some(text))` which one fails and why; never without webhooks.
async fn webhook_health(
    webhooks: &mut Option<tokio::sync::watch::Receiver<Vec<crate::notify::WebhookStatus>>>,
) -> Option<Option<String>> {
    let Some(rx) = webhooks else { return std::future::pending().await };
    if rx.changed().await.is_err() {
        *webhooks = None;
        return std::future::pending().await;
    }
    let failing: Vec<String> = rx
        .borrow_and_update()
        .iter()
        .filter_map(|w| match &w.health {
            crate::notify::Health::Failing { why, .. } => Some(format!("{}: {why}", w.name)),
            crate::notify::Health::Ok => None,
        })
        .collect();
    Some((!failing.is_empty()).then(|| failing.join("; ")))
}

/// How often failed compares are asked again.
const RETRY_ASKS: Duration = Duration::from_secs(300);

/// Whether this seat follows another (team mode): it asks no compare then.
fn following(state: &AppState) -> bool {
    state.seat.as_ref().is_some_and(|r| *r != crate::journal::team_seat::SeatRole::Leading)
}

/// The compare worker: questions in, answers out, off the loop.
struct Shipper {
    asks: mpsc::UnboundedSender<Vec<crate::engine::shipping::Ask>>,
    answers: mpsc::Receiver<Vec<(crate::engine::shipping::Ask, crate::engine::shipping::Answer)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Shipper {
    fn spawn(client: crate::changes::ChangesClient) -> Shipper {
        let (asks, mut inbox) = mpsc::unbounded_channel::<Vec<crate::engine::shipping::Ask>>();
        let (reply, answers) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            while let Some(asks) = inbox.recv().await {
                let answered = crate::changes::answer_all(&client, asks, 8).await;
                if reply.send(answered).await.is_err() {
                    break;
                }
            }
        });
        Shipper { asks, answers, task }
    }

    fn ask(&self, asks: Vec<crate::engine::shipping::Ask>) {
        if self.asks.send(asks).is_err() {
            tracing::warn!("the changes worker stopped: compares are not asked");
        }
    }
}

impl Drop for Shipper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The compare worker's next answers, or never.
async fn shipper_answers(
    shipper: &mut Option<Shipper>,
) -> Option<Vec<(crate::engine::shipping::Ask, crate::engine::shipping::Answer)>> {
    match shipper {
        Some(s) => s.answers.recv().await,
        None => std::future::pending().await,
    }
}

/// The seat's next news, or never (one seat, or the seat ended).
async fn seat_news(seat: &mut Option<crate::journal::team_seat::Seat>) -> Option<crate::journal::team_seat::SeatNews> {
    match seat {
        Some(seat) => seat.news.recv().await,
        None => std::future::pending().await,
    }
}

/// Sleep until `at`, or for ever.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How often the number of frames drawn is logged.
const FRAMES_PERIOD: Duration = Duration::from_secs(10);

/// Test hook: `FLIGHTDECK_TEST_PANIC_AFTER=<milliseconds>` makes the loop
/// panic that long after start, so the end-to-end test can check that the
/// terminal is restored after a panic. Read once, at start.
fn test_panic_after() -> Option<Duration> {
    let raw = std::env::var("FLIGHTDECK_TEST_PANIC_AFTER").ok()?;
    match raw.trim().parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => {
            tracing::warn!(value = %raw, "FLIGHTDECK_TEST_PANIC_AFTER is not a number of milliseconds: ignored");
            None
        }
    }
}

/// How the cockpit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `q` or Ctrl-C typed.
    Quit,
    /// A signal (its number): the process exits with 128 + it.
    Signal(i32),
}

/// Run the cockpit until the user quits or an ending signal arrives. The
/// terminal is restored on return, whatever the way out.
pub async fn run(config: Config, active: Vec<sources::ActiveSource>, options: RunOptions) -> anyhow::Result<Ending> {
    // Start-up milestones, logged once, for measuring (see docs/measurements.md).
    let launched = options.launched.unwrap_or_else(std::time::Instant::now);
    let mut state = initial_state(&config, &active, Timestamp::now());
    state.banner = options.banner;
    state.ui.color = options.color;
    state.engine.template = options.template;
    state.operator = options.operator.unwrap_or_default();
    state.reanalyze();

    // Before anything starts: a signal during start-up is handled too.
    let mut signals = signals::Signals::install()?;
    let ctx = HttpContext::new().context("setting up the HTTP client")?;
    // Every poller this cockpit starts (team mode starts and stops them) runs
    // there, with a client of its own: its connections are that thread's,
    // and a sweep keeps its work from the compare calls and notifications.
    let poller_thread = PollerThread::start().context("starting the poller's thread")?;
    let poll_ctx = HttpContext::new().context("setting up the poller's HTTP client")?;
    let cells = active.iter().map(|s| s.cells.len()).sum();
    let (tx, mut rx) = mpsc::channel::<SourceUpdate>(pacing::channel(cells));
    // Team mode with one poll load: the poller runs only while this seat
    // leads (the seat says when); otherwise from the start.
    let mut seat = options.seat.map(crate::journal::team_seat::Seat::spawn);
    let mut poller = match seat {
        Some(_) => None,
        None => Some(Poller::spawn(&poller_thread, active.clone(), config.poller, poll_ctx.clone(), tx.clone())),
    };
    // The loop keeps a sender only in team mode (the poller comes and goes);
    // one seat's channel closes when no source task is left.
    let tx = seat.as_ref().map(|_| tx);

    let mut guard = terminal::TerminalGuard::enter().context("setting up the terminal (is this a terminal?)")?;
    let size = guard.terminal.size().context("reading the terminal size")?;
    state.set_page(crate::ui::matrix_rows(
        size.into(),
        state.engine.fleet.environments.len(),
        state.engine.fleet.services.len(),
    ));
    state.ui.screen = (size.width, size.height);

    // The first frame does not wait for the journals (a long one takes a
    // while to read): draw, then load them, then analyse.
    guard.terminal.draw(|frame| crate::ui::render(frame, &state)).context("drawing the screen")?;
    tracing::info!(elapsed_ms = launched.elapsed().as_millis() as u64, "first frame drawn");
    let journal = match &options.journal {
        Some(path) => {
            let opening = || format!("opening the observation journal {}", path.display());
            let mut journal = crate::journal::Jsonl::open_append(path).with_context(opening)?;
            // Folded as it is read: the whole journal never lives in memory.
            let mut events = journal.records::<crate::journal::ObservationEvent>().with_context(opening)?;
            state.engine.restore(&mut events);
            let report = events.finish().with_context(opening)?;
            if report.skipped > 0 {
                tracing::warn!(path = %path.display(), skipped = report.skipped, torn_tail = report.torn_tail, "journal lines skipped");
            }
            Some(journal)
        }
        None => None,
    };
    // From here on the disk (or the team database) is the journal thread's:
    // loading, appends, polls and observation writes never hold up a key or
    // a frame.
    let release_journal = options.release_journal;
    let has_release_journal = release_journal.is_some();
    let mut io = journal_io::JournalIo::spawn(release_journal, journal).context("starting the journal thread")?;
    // Reading may take a while (a team store on a slow network): the
    // ending signals still end the cockpit meanwhile.
    let loaded = tokio::select! {
        answer = io.answers.recv() => answer,
        (number, name) = signals.recv() => {
            tracing::info!(signal = name, "signal while loading the release journal: leaving");
            drop(guard);
            return Ok(Ending::Signal(number));
        }
    };
    match loaded {
        // A team store that cannot be reached at start: the seat starts
        // anyway, says so, and reads the journal when the store answers.
        Some(journal_io::Answered::Loaded { events: Err(e), .. }) if options.team => {
            tracing::warn!(error = %e, "team store unreachable at start");
            state.release_journal_error = Some(format!("{UNREADABLE}{e}"));
        }
        Some(journal_io::Answered::Loaded { events, actor }) => {
            let events = events.map_err(anyhow::Error::msg).context("loading the release journal")?;
            state.take_release_events(events);
            if let Some(actor) = actor {
                state.operator = actor.clone();
                state.team = options.team.then_some(actor);
            }
        }
        _ => anyhow::bail!("the journal thread stopped before loading the release journal"),
    }
    // Appends sent and not yet answered: (event id, what it does).
    let mut pending: Vec<(String, String)> = Vec::new();

    state.reanalyze();

    let mut input = TerminalInput::start();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Another cockpit on this release may append: look twice a second.
    let mut journal_poll = tokio::time::interval(Duration::from_millis(500));
    journal_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch = Vec::with_capacity(pacing::READ_MAX);
    let mut sources_open = true;
    let mut full_matrix = false;
    // Frames drawn, logged every FRAMES_PERIOD (and in total at the end):
    // the resilience tests compute frames per second from the log.
    let mut frames_total: u64 = 0;
    let mut frames: u64 = 0;
    let mut frames_since = std::time::Instant::now();
    let mut frames_log = tokio::time::interval_at(tokio::time::Instant::now() + FRAMES_PERIOD, FRAMES_PERIOD);
    frames_log.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let panic_after = test_panic_after();
    let panic_timer = async {
        match panic_after {
            Some(delay) => tokio::time::sleep(delay).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(panic_timer);
    tracing::info!(sources = state.engine.sources.len(), cells = state.polled_cells(), "cockpit started");

    // `[changes]`: a worker asks the compare API what the engine needs.
    let mut shipper = match &config.changes {
        Some(changes) => match crate::changes::ChangesClient::new(changes, &ctx) {
            Ok(client) => Some(Shipper::spawn(client)),
            Err(e) => {
                tracing::warn!(error = %e, "changes not read");
                state.ui.message = Some(format!("changes not read: {e}"));
                None
            }
        },
        None => None,
    };
    // `[[notify]]`: who is told. Only the leading seat sends (one seat: it
    // leads); a follower observes too, so a new leader announces no past.
    let mut notifier = (!config.notify.is_empty()).then(|| match &options.webhook_urls {
        Some(urls) => {
            let urls = urls.clone();
            crate::notify::Notifier::spawn_with(
                &config.notify,
                &ctx,
                move |var| urls.get(var).cloned(),
                crate::notify::SendPolicy::default(),
            )
        }
        None => crate::notify::Notifier::spawn(&config.notify, &ctx),
    });
    let mut webhooks = notifier.as_ref().map(|n| n.health());
    let mut observed_at: Option<Timestamp> = None;
    // Failed compares (a ref not pushed yet, a rate limit) are asked again now and then.
    let mut retry_asks = tokio::time::interval_at(tokio::time::Instant::now() + RETRY_ASKS, RETRY_ASKS);
    retry_asks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut pace = pacing::Pacing::new(tokio::time::Instant::now());
    let mut ending = Ending::Quit;
    loop {
        if pace.analysis_ready(tokio::time::Instant::now()) {
            state.now = Timestamp::now();
            state.reanalyze();
            pace.analysed(tokio::time::Instant::now());
            // What ships: a version changed → ask the compare API (the
            // leading seat only: followers get the answers from it).
            if let Some(shipper) = &shipper
                && !following(&state)
            {
                let asks = state.engine.asks();
                if !asks.is_empty() {
                    shipper.ask(asks);
                }
            }
        }
        // Each new judgement is shown to the notifier (it says only what changed).
        if let Some(n) = notifier.as_mut()
            && observed_at != Some(state.eval.now)
        {
            observed_at = Some(state.eval.now);
            let snapshot = crate::notify::Snapshot::of(&state.eval, &state.engine.release_events, &state.engine.fleet);
            n.observe(snapshot, !following(&state));
        }
        if pace.frame_ready(tokio::time::Instant::now()) {
            guard.terminal.draw(|frame| crate::ui::render(frame, &state)).context("drawing the screen")?;
            pace.drew(tokio::time::Instant::now());
            frames += 1;
            if state.bell {
                state.bell = false;
                if let Err(e) = guard.bell() {
                    tracing::warn!(error = %e, "could not ring the bell");
                }
            }
            if !full_matrix && crate::analysis::last_sweep(state.engine.matrix(), state.polled_cells()).is_some() {
                full_matrix = true;
                tracing::info!(elapsed_ms = launched.elapsed().as_millis() as u64, "first full matrix drawn");
            }
        }
        // Read early when something else woke the loop and a full read waits.
        let reading = pace.reads_open(tokio::time::Instant::now()) || rx.len() >= pacing::READ_MAX;
        let effect = tokio::select! {
            event = input.events.recv() => match event {
                Some(Ok(event)) => {
                    if let crossterm::event::Event::Resize(w, h) = event {
                        let area = ratatui::layout::Rect::new(0, 0, w, h);
                        state.set_page(crate::ui::matrix_rows(area, state.engine.fleet.environments.len(), state.engine.fleet.services.len()));
                    }
                    state.handle_event(&event)
                }
                Some(Err(e)) => return Err(e).context("reading terminal input"),
                None => Effect::Quit,
            },
            received = rx.recv_many(&mut batch, pacing::READ_MAX), if sources_open && reading => {
                pace.read(tokio::time::Instant::now(), received, !full_matrix);
                if received == 0 {
                    // No source task is left (none configured): keep drawing.
                    sources_open = false;
                }
                match seat.as_ref() {
                    // Leading: what the sources answered goes to the team, with
                    // the changes it made (the shared observation history).
                    Some(seat) if poller.is_some() => {
                        let updates = batch.clone();
                        let changes: Vec<_> = batch.drain(..).filter_map(|u| state.engine.apply(u)).collect();
                        if !seat.write(crate::journal::team_seat::LeaderBatch { updates, changes, answers: Vec::new() }) {
                            state.journal_error = Some("the team seat stopped: answers are not shared".into());
                        }
                    }
                    // Answers from a poller that just stopped leading: shown, not shared.
                    Some(_) => batch.drain(..).for_each(|u| { state.engine.apply(u); }),
                    None => {
                        let changes: Vec<_> = batch.drain(..).filter_map(|u| state.engine.apply(u)).collect();
                        if !changes.is_empty() && options.journal.is_some() && !io.send(journal_io::Request::Observations(changes)) {
                            state.journal_error = Some("the journal thread stopped: changes are not kept".into());
                        }
                    }
                }
                pace.data();
                Effect::None
            },
            Some(news) = seat_news(&mut seat) => {
                use crate::journal::team_seat::{SeatNews, SeatRole};
                match news {
                    SeatNews::Role(role) => {
                        let leading = role == SeatRole::Leading;
                        if leading && poller.is_none() && let Some(tx) = &tx {
                            tracing::info!("leading: polling the sources for the team");
                            poller = Some(Poller::spawn(&poller_thread, active.clone(), config.poller, poll_ctx.clone(), tx.clone()));
                            // Compare answers this seat holds go to the team again
                            // (some may have come while it could not write).
                            let held = state.engine.answers();
                            if !held.is_empty() && let Some(seat) = seat.as_ref() {
                                seat.write(crate::journal::team_seat::LeaderBatch { answers: held, ..Default::default() });
                            }
                        } else if !leading && poller.is_some() {
                            tracing::info!(role = %role.label(), "no longer leading: the poller stops");
                            poller = None;
                        }
                        state.seat = Some(role);
                        Effect::Redraw
                    }
                    SeatNews::History(events) => {
                        state.engine.restore(events);
                        state.reanalyze();
                        Effect::Redraw
                    }
                    SeatNews::Cells(updates) => {
                        for update in updates {
                            state.engine.apply(update);
                        }
                        pace.data();
                        Effect::None
                    }
                    SeatNews::Answers(answers) => {
                        for (ask, answer) in answers {
                            state.engine.take_answer(ask, answer);
                        }
                        pace.data();
                        Effect::None
                    }
                    SeatNews::JournalHint => {
                        if has_release_journal {
                            io.send(journal_io::Request::Poll);
                        }
                        Effect::None
                    }
                }
            },
            _ = tick.tick() => {
                // Ages and countdowns move with the clock (drawn from `now`);
                // the analysis only when the clock can change it.
                let now = Timestamp::now();
                pace.clock(tokio::time::Instant::now(), state.boundary_between(state.now, now));
                state.now = now;
                if let Some(n) = notifier.as_mut() {
                    n.tick(now, !following(&state));
                }
                Effect::None
            },
            Some(delivery) = delivered(&mut notifier) => {
                state.told(delivery.describe());
                Effect::Redraw
            },
            Some(failing) = webhook_health(&mut webhooks) => {
                state.webhook_error = failing;
                Effect::Redraw
            },
            Some(answers) = shipper_answers(&mut shipper) => {
                if let Some(seat) = seat.as_ref() && poller.is_some() {
                    let shared = answers.clone();
                    if !seat.write(crate::journal::team_seat::LeaderBatch { answers: shared, ..Default::default() }) {
                        state.journal_error = Some("the team seat stopped: answers are not shared".into());
                    }
                }
                for (ask, answer) in answers {
                    state.engine.take_answer(ask, answer);
                }
                pace.data();
                Effect::None
            },
            _ = retry_asks.tick() => {
                state.engine.retry_failed_asks();
                pace.data();
                Effect::None
            },
            _ = journal_poll.tick(), if has_release_journal => {
                if !io.send(journal_io::Request::Poll) {
                    state.release_journal_error = Some("the journal thread stopped: other cockpits' changes are not read".into());
                }
                Effect::None
            },
            Some(answer) = io.answers.recv() => {
                io.answered(&answer);
                if take_answer(&mut state, answer, &mut pending) { Effect::Redraw } else { Effect::None }
            },
            // A frame or an analysis was put off to keep to its pace: now.
            _ = sleep_until(pace.next_due()) => Effect::None,
            _ = frames_log.tick() => {
                let period_ms = frames_since.elapsed().as_millis() as u64;
                tracing::info!(frames, period_ms, "frames drawn");
                frames_total += frames;
                frames = 0;
                frames_since = std::time::Instant::now();
                Effect::None
            },
            () = &mut panic_timer => {
                let ms = panic_after.unwrap_or_default().as_millis();
                panic!("FLIGHTDECK_TEST_PANIC_AFTER: deliberate panic after {ms} ms (test hook)");
            },
            (number, name) = signals.recv() => {
                tracing::info!(signal = name, "signal: leaving");
                ending = Ending::Signal(number);
                Effect::Quit
            }
        };
        match effect {
            Effect::None => {}
            Effect::Redraw => pace.key(),
            Effect::Refresh => {
                match &poller {
                    Some(poller) => poller.refresh_now(),
                    None => {
                        let who = match &state.seat {
                            Some(role) => role.label(),
                            None => "no poller".into(),
                        };
                        state.ui.message =
                            Some(format!("{who}: the leading seat polls the sources; nothing to refresh here"));
                    }
                }
                pace.key();
            }
            Effect::Quit => break,
            Effect::Record(action) => {
                if let Some((event, done)) = begin_record(&mut state, has_release_journal, action) {
                    let id = event.id.clone();
                    if io.send(journal_io::Request::Append(event)) {
                        pending.push((id, done));
                    } else {
                        state.release_journal_error = Some("the journal thread stopped: NOT RECORDED".into());
                        state.ui.message = state.release_journal_error.clone();
                    }
                }
                pace.key();
            }
        }
    }
    drop(poller);
    drop(seat);
    // No key is read once the terminal is handed back.
    drop(input);
    drop(guard);
    // Appends already sent finish on the journal thread (each is fsync'd);
    // wait briefly for their answers so a tick made just before `q` is kept
    // and said so in the log.
    drop_journal(io, pending).await;
    let ended = crate::children::end_all();
    tracing::info!(total = frames_total + frames, over_s = launched.elapsed().as_secs(), "frames drawn in total");
    tracing::info!(programs_ended = ended, "cockpit stopped");
    Ok(ending)
}

/// Terminal input, read by a task of its own. crossterm's stream asks the
/// terminal (a lock and a system call) each time it is polled, and the app
/// loop's `select!` polls every branch on every turn: at hundreds of source
/// answers a second that was most of the loop's own work. Polled here, the
/// stream is only asked when the terminal has something. Dropped, the task
/// stops (before the terminal is restored: keys typed after belong to the shell).
struct TerminalInput {
    events: tokio::sync::mpsc::Receiver<std::io::Result<crossterm::event::Event>>,
    task: tokio::task::JoinHandle<()>,
}

impl TerminalInput {
    fn start() -> TerminalInput {
        let (tx, events) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(async move {
            let mut stream = EventStream::new();
            while let Some(event) = stream.next().await {
                if tx.send(event).await.is_err() {
                    break; // the app loop is gone
                }
            }
        });
        TerminalInput { events, task }
    }
}

impl Drop for TerminalInput {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::release::{EventStore, JournalError, ReleaseAction, ReleaseEvent};

    /// A disk that is full: every append fails.
    struct FullDisk;

    impl EventStore for FullDisk {
        fn load(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
            Ok(Vec::new())
        }
        fn append(&mut self, _: &ReleaseEvent) -> Result<(), JournalError> {
            Err(JournalError::Io {
                path: "/full/releases/r.jsonl".into(),
                action: "write",
                error: std::io::Error::other("No space left on device"),
            })
        }
        fn poll(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
            Ok(Vec::new())
        }
        fn location(&self) -> String {
            "full".into()
        }
    }

    #[test]
    fn a_failed_sign_off_stays_visible() {
        let config = crate::setup::from_toml_str(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[release]\nname = \"r\"\nkind = \"patch\"\n",
            "test",
        )
        .unwrap();
        let mut state = initial_state(&config, &[], Timestamp::now());
        state.operator = "mei".into();
        let (event, done) =
            begin_record(&mut state, true, ReleaseAction::SignOff { role: "qa-lead".into(), note: None }).unwrap();
        assert_eq!(state.ui.message.as_deref(), Some(format!("recording: {done}…").as_str()));
        let mut pending = vec![(event.id.clone(), done)];
        let outcome = journal_io::append(&mut FullDisk, &event);
        take_answer(&mut state, journal_io::Answered::Appended { event, outcome }, &mut pending);
        let shown = state.release_journal_error.clone().unwrap_or_default();
        assert!(shown.starts_with("NOT RECORDED") && shown.contains("No space left"), "{shown}");
        assert_eq!(state.ui.message.as_deref(), Some(shown.as_str()));
        assert!(state.engine.release_events.is_empty(), "nothing shown as done");
        assert!(pending.is_empty());
        // Observation-journal bookkeeping must not clear it.
        take_answer(&mut state, journal_io::Answered::Observed(None), &mut pending);
        state.reanalyze();
        assert!(state.release_journal_error.is_some());
    }

    #[test]
    fn a_journal_that_reads_again_clears_its_warning_but_not_a_failed_append() {
        let config = crate::setup::from_toml_str(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[release]\nname = \"r\"\nkind = \"patch\"\n",
            "test",
        )
        .unwrap();
        let mut state = initial_state(&config, &[], Timestamp::now());
        let mut pending = Vec::new();
        let down = "team store alice@db:5432/fd: unreachable: connection refused".to_string();
        assert!(take_answer(&mut state, journal_io::Answered::Polled(Err(down.clone())), &mut pending));
        assert_eq!(state.release_journal_error, Some(format!("{UNREADABLE}{down}")));
        // The same failure again changes nothing on screen: no frame for it.
        assert!(!take_answer(&mut state, journal_io::Answered::Polled(Err(down.clone())), &mut pending));
        assert!(take_answer(&mut state, journal_io::Answered::Polled(Ok(Vec::new())), &mut pending));
        assert_eq!(state.release_journal_error, None, "back: the warning goes by itself");
        // An idle journal's answers draw nothing (idle CPU).
        assert!(!take_answer(&mut state, journal_io::Answered::Polled(Ok(Vec::new())), &mut pending));
        assert!(!take_answer(&mut state, journal_io::Answered::Observed(None), &mut pending));
        state.release_journal_error = Some("NOT RECORDED: refused".into());
        take_answer(&mut state, journal_io::Answered::Polled(Ok(Vec::new())), &mut pending);
        assert_eq!(state.release_journal_error.as_deref(), Some("NOT RECORDED: refused"));
    }

    #[test]
    fn nothing_is_recorded_without_an_operator() {
        let config = crate::setup::from_toml_str(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[release]\nname = \"r\"\nkind = \"patch\"\n",
            "test",
        )
        .unwrap();
        let mut state = initial_state(&config, &[], Timestamp::now());
        assert_eq!(state.operator, "", "never the literal \"operator\"");
        assert!(begin_record(&mut state, true, ReleaseAction::Tick { item: "x".into(), note: None }).is_none());
        assert_eq!(state.ui.message.as_deref(), Some("NOT RECORDED: nobody is named as the operator"));
    }

    #[test]
    fn without_a_journal_nothing_is_recorded_and_it_says_so() {
        let config = crate::setup::from_toml_str(
            "[[environments]]\nname = \"prod\"\n[[services]]\nname = \"web\"\n[release]\nname = \"r\"\nkind = \"patch\"\n",
            "test",
        )
        .unwrap();
        let mut state = initial_state(&config, &[], Timestamp::now());
        assert!(begin_record(&mut state, false, ReleaseAction::Tick { item: "x".into(), note: None }).is_none());
        assert_eq!(state.ui.message.as_deref(), Some("this release has no journal: NOT RECORDED"));
    }

    /// The journal thread: an append is durable and read back; a poll returns
    /// others' events; a slow disk is waited for off the loop.
    #[tokio::test]
    async fn the_journal_thread_appends_and_polls() {
        let store = crate::journal::memory::MemoryStore::with(Vec::new());
        let mut io = journal_io::JournalIo::spawn(Some(Box::new(store)), None).unwrap();
        // The first answer is always the load.
        match io.answers.recv().await {
            Some(journal_io::Answered::Loaded { events: Ok(events), actor: None }) => assert!(events.is_empty()),
            other => panic!("{other:?}"),
        }
        let event = ReleaseEvent::new("ana", Timestamp::now(), ReleaseAction::Tick { item: "x".into(), note: None });
        assert!(io.send(journal_io::Request::Append(event.clone())));
        match io.answers.recv().await {
            Some(journal_io::Answered::Appended { event: back, outcome: journal_io::Appended::Recorded(read) }) => {
                assert_eq!(back.id, event.id);
                assert_eq!(read.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), vec![event.id.clone()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(io.send(journal_io::Request::Poll));
        // A second poll while one is out is not sent twice.
        assert!(io.send(journal_io::Request::Poll));
        let answer = io.answers.recv().await.unwrap();
        io.answered(&answer);
        assert!(matches!(answer, journal_io::Answered::Polled(Ok(ref events)) if events.is_empty()), "{answer:?}");
        assert!(
            tokio::time::timeout(Duration::from_millis(200), io.answers.recv()).await.is_err(),
            "one answer per poll"
        );
    }
}
