//! The cockpit's disk work, off the async loop: one thread owns the release
//! journal (appends are fsync'd, polls read what other cockpits wrote) and
//! the observation journal. The loop sends it requests and takes its
//! answers in its `select!`, so a slow or stuck disk never stalls a key or a
//! frame; the screen says "recording…" until the answer comes.

use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use crate::journal::release::{EventStore, JournalError, ReleaseEvent};
use crate::journal::{Jsonl, ObservationEvent};

/// What the loop asks of the disk.
#[derive(Debug)]
pub enum Request {
    /// Append a release event (durably), then read back what is new.
    Append(ReleaseEvent),
    /// Read what others appended to the release journal.
    Poll,
    /// Append observation changes to the observation journal.
    Observations(Vec<ObservationEvent>),
}

/// What the disk answered.
#[derive(Debug)]
pub(crate) enum Answered {
    /// The release journal read at start (the first answer, always), and
    /// who the store records actions as (team mode: the database role).
    Loaded { events: Result<Vec<ReleaseEvent>, String>, actor: Option<String> },
    /// The event is durable (`Ok` new events read back, ours included) or
    /// not written at all (`Err`).
    Appended { event: ReleaseEvent, outcome: Appended },
    /// New events from the release journal, or why reading failed.
    Polled(Result<Vec<ReleaseEvent>, String>),
    /// The observation journal's append: `Some` error text when it failed.
    Observed(Option<String>),
}

/// The outcome of one append.
#[derive(Debug)]
pub(crate) enum Appended {
    /// Durable, and these are the events read back (ours and others').
    Recorded(Vec<ReleaseEvent>),
    /// Durable, but reading back failed: the event is shown alone.
    RecordedUnread(String),
    /// Not written.
    Failed(String),
}

/// Append `event` to `store`, then read back what is new. Synchronous: run
/// on the journal thread (and by tests).
pub fn append(store: &mut dyn EventStore, event: &ReleaseEvent) -> Appended {
    if let Err(e) = store.append(event) {
        tracing::error!(error = %e, "release journal append failed");
        return Appended::Failed(e.to_string());
    }
    match store.poll() {
        Ok(events) => Appended::Recorded(events),
        Err(e) => {
            tracing::error!(error = %e, "release journal poll failed after an append");
            Appended::RecordedUnread(e.to_string())
        }
    }
}

/// The handle the loop keeps: send requests, receive answers.
pub(crate) struct JournalIo {
    requests: std_mpsc::Sender<Request>,
    pub answers: mpsc::Receiver<Answered>,
    /// A poll is out: the next waits for its answer.
    polling: bool,
}

impl JournalIo {
    /// Start the thread that owns the journals (either may be absent).
    pub fn spawn(release: Option<Box<dyn EventStore>>, observations: Option<Jsonl>) -> std::io::Result<JournalIo> {
        let (requests, inbox) = std_mpsc::channel::<Request>();
        let (reply, answers) = mpsc::channel::<Answered>(64);
        std::thread::Builder::new().name("journal".into()).spawn(move || serve(release, observations, inbox, reply))?;
        Ok(JournalIo { requests, answers, polling: false })
    }

    /// Ask for `request`; false when the thread is gone (it logged why).
    pub fn send(&mut self, request: Request) -> bool {
        if matches!(request, Request::Poll) {
            if self.polling {
                return true;
            }
            self.polling = true;
        }
        self.requests.send(request).is_ok()
    }

    /// Note an answer arrived (a poll may go out again).
    pub fn answered(&mut self, answer: &Answered) {
        if matches!(answer, Answered::Polled(_)) {
            self.polling = false;
        }
    }
}

fn serve(
    mut release: Option<Box<dyn EventStore>>,
    mut observations: Option<Jsonl>,
    inbox: std_mpsc::Receiver<Request>,
    reply: mpsc::Sender<Answered>,
) {
    // Reading the journal (and, for a team store, connecting) happens here
    // too: the loop draws its first frame meanwhile.
    let loaded = match release.as_deref_mut() {
        Some(store) => {
            let events = store.load().map_err(|e| e.to_string());
            let actor = match store.actor() {
                Ok(actor) => actor,
                Err(e) => {
                    tracing::error!(error = %e, "cannot tell who the release journal records actions as");
                    None
                }
            };
            Answered::Loaded { events, actor }
        }
        None => Answered::Loaded { events: Ok(Vec::new()), actor: None },
    };
    if reply.blocking_send(loaded).is_err() {
        return;
    }
    // Ends when the loop drops its sender (the cockpit is leaving).
    while let Ok(request) = inbox.recv() {
        let answer = match request {
            Request::Append(event) => {
                let outcome = match release.as_deref_mut() {
                    Some(store) => append(store, &event),
                    None => Appended::Failed("this release has no journal".into()),
                };
                Answered::Appended { event, outcome }
            }
            Request::Poll => Answered::Polled(match release.as_deref_mut() {
                Some(store) => store.poll().map_err(|e: JournalError| {
                    tracing::error!(error = %e, "release journal poll failed");
                    e.to_string()
                }),
                None => Ok(Vec::new()),
            }),
            Request::Observations(changes) => Answered::Observed(match observations.as_mut() {
                Some(journal) => journal.append(&changes).err().map(|e| {
                    tracing::error!(error = %e, path = %journal.path().display(), "journal write failed");
                    e.to_string()
                }),
                None => None,
            }),
        };
        if reply.blocking_send(answer).is_err() {
            return;
        }
    }
}
