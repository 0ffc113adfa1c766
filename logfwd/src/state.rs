//! Where kernel forwarding stopped: the sequence number of the last
//! /dev/kmsg record handed to the sinks, kept in a small file
//! (`STATE_DIR/kmsg.seq`) so that a restarted logfwd does not send the
//! whole kernel log again.
//!
//! The file holds `BOOT_ID SEQ\n`; the boot id (from
//! /proc/sys/kernel/random/boot_id) keeps a file that survived a reboot
//! (a state directory on disk) from hiding the new boot's records.
//!
//! Sans-IO: [`parse`], [`render`] and [`SaveClock`] (when to write). IO:
//! [`load`] and [`save`] (write to a temporary file, then rename).

use std::io;
use std::path::{Path, PathBuf};

/// File name inside the state directory.
pub use nodistro_common::protocol::logfwd::KMSG_SEQ_FILE as FILE;
/// Write at most this often while records flow (ms)...
pub const SAVE_EVERY_MS: u64 = 200;
/// ...or after this many records, whichever comes first.
pub const SAVE_EVERY_RECORDS: u64 = 1000;

/// A state file that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state file content {0:?} is not BOOT_ID SEQ")]
pub struct Garbage(pub String);

/// The remembered sequence number, if the file is from this boot.
/// `Ok(None)`: written during another boot (start from the beginning).
pub fn parse(text: &str, boot_id: &str) -> Result<Option<u64>, Garbage> {
    let garbage = || Garbage(text.chars().take(80).collect());
    let mut words = text.split_ascii_whitespace();
    let (Some(boot), Some(seq), None) = (words.next(), words.next(), words.next()) else {
        return Err(garbage());
    };
    let seq = seq.parse::<u64>().map_err(|_| garbage())?;
    Ok((boot == boot_id).then_some(seq))
}

/// The file's content for `seq`.
pub fn render(boot_id: &str, seq: u64) -> String {
    format!("{boot_id} {seq}\n")
}

/// Decides when the remembered sequence number is written: not for every
/// record (a burst of thousands would mean thousands of renames), but at
/// most every [`SAVE_EVERY_MS`] or [`SAVE_EVERY_RECORDS`], and at exit.
#[derive(Debug, Default)]
pub struct SaveClock {
    saved: Option<u64>,
    latest: Option<u64>,
    since_save: u64,
    last_save_ms: u64,
}

impl SaveClock {
    /// Starting from a remembered (already saved) sequence number.
    pub fn new(saved: Option<u64>) -> Self {
        SaveClock {
            saved,
            latest: saved,
            ..SaveClock::default()
        }
    }

    /// `seq` was handed to the sinks.
    pub fn handed(&mut self, seq: u64) {
        self.latest = Some(seq);
        self.since_save += 1;
    }

    /// What to write now, if anything (`force`: at exit).
    pub fn due(&self, now_ms: u64, force: bool) -> Option<u64> {
        let latest = self.latest?;
        if self.saved == Some(latest) {
            return None;
        }
        let timely = now_ms.saturating_sub(self.last_save_ms) >= SAVE_EVERY_MS
            || self.since_save >= SAVE_EVERY_RECORDS;
        (force || timely).then_some(latest)
    }

    /// `seq` was written at `now_ms`.
    pub fn saved(&mut self, seq: u64, now_ms: u64) {
        self.saved = Some(seq);
        self.since_save = 0;
        self.last_save_ms = now_ms;
    }

    /// How long until a pending value is due (None: nothing pending), for
    /// the poll timeout.
    pub fn wait_ms(&self, now_ms: u64) -> Option<u64> {
        let latest = self.latest?;
        if self.saved == Some(latest) {
            return None;
        }
        Some(SAVE_EVERY_MS.saturating_sub(now_ms.saturating_sub(self.last_save_ms)))
    }
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] io::Error),
    #[error("{0} is not understood; reading the kernel log from the beginning")]
    Garbage(PathBuf, #[source] Garbage),
    #[error("cannot write {0}")]
    Write(PathBuf, #[source] io::Error),
}

/// This boot's id (`unknown` when /proc does not say: then only the
/// number counts).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.contains(char::is_whitespace))
        .unwrap_or_else(|| "unknown".into())
}

/// The remembered sequence number in `dir`; `Ok(None)` when there is no
/// file or it is from another boot.
pub fn load(dir: &Path, boot_id: &str) -> Result<Option<u64>, StateError> {
    let path = dir.join(FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::Read(path, e)),
    };
    parse(&String::from_utf8_lossy(&text), boot_id).map_err(|g| StateError::Garbage(path, g))
}

/// Write `seq` atomically (temporary file, then rename over the old one).
pub fn save(dir: &Path, boot_id: &str, seq: u64) -> Result<(), StateError> {
    let path = dir.join(FILE);
    nodistro_common::atomic_file::write_atomic(&path, render(boot_id, seq).as_bytes())
        .map_err(|e| StateError::Write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_other_boots() {
        let text = render("b-1", 4711);
        assert_eq!(parse(&text, "b-1"), Ok(Some(4711)));
        assert_eq!(parse(&text, "b-2"), Ok(None));
        assert_eq!(parse(" b-1   12 ", "b-1"), Ok(Some(12)));
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in ["", "b-1", "b-1 x", "b-1 -1", "b-1 1 2", "\u{fffd}\u{fffd}"] {
            assert!(parse(bad, "b-1").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn saves_at_most_every_interval_or_n_records_and_at_exit() {
        let mut c = SaveClock::new(Some(10));
        assert_eq!(c.due(1_000, true), None, "nothing new");
        assert_eq!(c.wait_ms(1_000), None);
        c.handed(11);
        assert_eq!(
            c.due(1_000, false),
            Some(11),
            "first one after a quiet time"
        );
        c.saved(11, 1_000);
        c.handed(12);
        assert_eq!(c.due(1_100, false), None, "too soon");
        assert_eq!(c.wait_ms(1_100), Some(100));
        assert_eq!(c.due(1_100, true), Some(12), "at exit");
        assert_eq!(c.due(1_200, false), Some(12));
        c.saved(12, 1_200);
        for s in 13..13 + SAVE_EVERY_RECORDS {
            c.handed(s);
        }
        assert_eq!(c.due(1_201, false), Some(12 + SAVE_EVERY_RECORDS));
    }

    #[test]
    fn file_round_trip() {
        let dir = std::env::temp_dir().join(format!("logfwd-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert!(matches!(load(&dir, "b"), Ok(None)), "no file");
        save(&dir, "b", 99).expect("save");
        assert!(matches!(load(&dir, "b"), Ok(Some(99))));
        save(&dir, "b", 100).expect("save again");
        assert!(matches!(load(&dir, "b"), Ok(Some(100))));
        assert!(matches!(load(&dir, "other"), Ok(None)));
        std::fs::write(dir.join(FILE), "junk").expect("write");
        assert!(matches!(load(&dir, "b"), Err(StateError::Garbage(..))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
