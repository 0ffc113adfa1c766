//! The run's readiness gate ([`Ready`]: `core::ready::Gate` behind a lock),
//! shared by the interface threads and the SNTP thread.

pub use crate::core::ready::{Gate, Wait};
use std::sync::{Mutex, MutexGuard};

/// The run's gate, shared by the interface threads (a family is up) and
/// the SNTP thread (the first sync).
#[derive(Debug)]
pub struct Ready(Mutex<Gate>);

impl Ready {
    pub fn new(gate: Gate) -> Self {
        Ready(Mutex::new(gate))
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A family came up: the line to notify init with, if this makes the
    /// machine ready.
    pub fn up(&self, v6: bool, line: String) -> Option<String> {
        self.gate().up(v6, line)
    }

    /// The first sync: the held readiness line to notify, if any.
    pub fn time_synced(&self) -> Option<String> {
        self.gate().time_synced()
    }
}
