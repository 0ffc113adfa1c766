//! When to say that a remote server stopped reading, and that it reads
//! again: one line each, whatever the number of retries in between.
//! Sans-IO: the time is passed in.

use std::time::{Duration, Instant};

/// A write that has not finished after this long: the server stopped
/// reading, and the reader no longer waits for room (see
/// [`crate::sink::Sink::room`]).
pub const STALLED: Duration = Duration::from_secs(1);

/// Whether a server that accepts but does not read has been reported:
/// once when a write made no progress for [`STALLED`], once when it
/// moves again (a stuck server is one condition, not a line per retry).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StallReport {
    since: Option<Instant>,
    said: bool,
}

impl StallReport {
    /// A write made no progress at `now`: the line to say, the first time
    /// the stall has lasted [`STALLED`].
    pub fn no_progress(&mut self, now: Instant, what: &str) -> Option<String> {
        let since = *self.since.get_or_insert(now);
        if self.said || now.saturating_duration_since(since) < STALLED {
            return None;
        }
        self.said = true;
        Some(format!(
            "{what}: the server stopped reading (no progress for {} s); the oldest messages are dropped while it does",
            STALLED.as_secs()
        ))
    }

    /// A write made progress.
    pub fn progress(&mut self) {
        self.since = None;
    }

    /// A batch was delivered whole: the line to say if a stall was said.
    pub fn delivered(&mut self, what: &str) -> Option<String> {
        self.since = None;
        std::mem::take(&mut self.said).then(|| format!("{what}: the server reads again"))
    }
}
