//! Who is told: `[[notify]]` webhooks hear about the release as it goes —
//! a changed verdict, rollback triggers firing and clearing, go / no-go
//! decisions, sign-offs, a status update every `status_every` during the
//! window, and the deployment start and finished announcements.
//!
//! - [`config`] — `[[notify]]` as written ([`NotifySettings`]) and checked
//!   ([`NotifyConfig`]); the URL only ever comes from the environment.
//! - [`notice`] — what to say: [`Snapshot::of`] an evaluation,
//!   [`Notices::between`] two snapshots, [`StatusClock`] for the cadence.
//!   Pure, tested without a network.
//! - [`payload`] — the JSON: Slack-compatible, or flightdeck's own.
//! - [`sender`] — [`Notifier`]: one task and one bounded queue per
//!   webhook, retries with backoff, `Retry-After`, ~1 message a second,
//!   health for the status bar and deliveries for the events pane.
//!
//! How the cockpit drives it (in team mode only the leading seat sends, so
//! the channel hears each message once):
//!
//! ```text
//! let mut notifier = (!config.notify.is_empty()).then(|| Notifier::spawn(&config.notify, &ctx));
//! // after each state.reanalyze():
//! let sending = team seat is None || seat == Some(SeatRole::Leading);
//! notifier.observe(Snapshot::of(&state.eval, &state.engine.release_events, &state.engine.fleet), sending);
//! // on the 1 Hz tick:            notifier.tick(now, sending);
//! // in select!:                  Some(d) = notifier.delivered() => events pane: d.describe()
//! //                              Ok(()) = health.changed() => status bar: health.borrow_and_update()
//! ```

pub mod config;
pub mod notice;
pub mod payload;
pub mod sender;

pub use config::{NotifyConfig, NotifyEvent, NotifyKind, NotifyProblem, NotifySettings, validate};
pub use notice::{Details, Notice, Notices, Snapshot, StatusClock};
pub use sender::{Delivery, Health, Notifier, Outcome, SendPolicy, WebhookStatus, WebhookUrl};
