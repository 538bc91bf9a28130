//! A release journal kept in memory: for the demo (whose script restarts
//! every run) and for tests. Same interface as the file backend.

use super::release::{EventStore, JournalError, ReleaseEvent};

#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    events: Vec<ReleaseEvent>,
    read: usize,
}

impl MemoryStore {
    /// A store that already holds `events` (a demo's history).
    pub fn with(events: Vec<ReleaseEvent>) -> MemoryStore {
        MemoryStore { events, read: 0 }
    }
}

impl EventStore for MemoryStore {
    fn load(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        self.read = self.events.len();
        Ok(self.events.clone())
    }

    fn append(&mut self, event: &ReleaseEvent) -> Result<(), JournalError> {
        self.events.push(event.clone());
        Ok(())
    }

    fn poll(&mut self) -> Result<Vec<ReleaseEvent>, JournalError> {
        let new = self.events[self.read..].to_vec();
        self.read = self.events.len();
        Ok(new)
    }

    fn location(&self) -> String {
        "memory (not kept)".to_string()
    }
}
