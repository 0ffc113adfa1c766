//! What a sink's thread hands its batches to: the [`Transport`] trait and
//! the console (logfwd's stderr).

use super::Encoding;
use crate::core::queue::Frame;
use std::io::{self, Write};
use std::time::Instant;

/// Delivers batches of frames. `Err((n, e))`: the first `n` frames were
/// delivered, the rest were not.
pub trait Transport: Send + 'static {
    fn send(&mut self, batch: &[Frame], give_up: Option<Instant>)
        -> Result<(), (usize, io::Error)>;
    /// Where the records go, for messages.
    fn describe(&self) -> String;
    /// How records are formatted for this transport.
    fn encoding(&self) -> Encoding;
}

impl Transport for Box<dyn Transport> {
    fn send(
        &mut self,
        batch: &[Frame],
        give_up: Option<Instant>,
    ) -> Result<(), (usize, io::Error)> {
        (**self).send(batch, give_up)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn encoding(&self) -> Encoding {
        (**self).encoding()
    }
}

/// The console: logfwd's stderr.
pub struct Console;

impl Transport for Console {
    fn send(&mut self, batch: &[Frame], _: Option<Instant>) -> Result<(), (usize, io::Error)> {
        let text: Vec<u8> = batch
            .iter()
            .flat_map(|f| Encoding::Console.wire(f))
            .collect();
        // A console that fails is not retried forever: nothing else to tell.
        let _ = io::stderr().lock().write_all(&text);
        Ok(())
    }

    fn describe(&self) -> String {
        "console".into()
    }

    fn encoding(&self) -> Encoding {
        Encoding::Console
    }
}
