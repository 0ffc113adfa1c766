//! Where kernel forwarding stopped: the sequence number of the last
//! /dev/kmsg record handed to the sinks, kept in a small file
//! (`STATE_DIR/kmsg.seq`) so that a restarted logfwd does not send the
//! whole kernel log again.
//!
//! The file holds `BOOT_ID SEQ\n`; the boot id (from
//! /proc/sys/kernel/random/boot_id) keeps a file that survived a reboot
//! (a state directory on disk) from hiding the new boot's records.
//!
//! The file's text and when to write it are sans-IO, in
//! [`crate::core::position`] ([`parse`], [`render`], [`SaveClock`]); here
//! the IO: [`load`] and [`save`] (write to a temporary file, then rename),
//! and `KmsgState`, the run loop's handle on them.

use nodistro_common::timeline;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::core::position::{
    parse, render, Garbage, SaveClock, SAVE_EVERY_MS, SAVE_EVERY_RECORDS,
};

/// File name inside the state directory.
pub use nodistro_common::protocol::logfwd::KMSG_SEQ_FILE as FILE;

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

/// The run loop's kernel position: where to save it, and when.
pub(crate) struct KmsgState {
    dir: PathBuf,
    boot_id: String,
    pub(crate) clock: SaveClock,
}

impl KmsgState {
    /// Write the remembered sequence number if it is due.
    pub(crate) fn save(&mut self, force: bool) {
        let now = timeline::since_boot_ms();
        if let Some(seq) = self.clock.due(now, force) {
            if let Err(e) = save(&self.dir, &self.boot_id, seq) {
                timeline::log("logfwd", &nodistro_common::report::chain(&e));
            }
            // Also after a failure: retry at the next interval, not at once.
            self.clock.saved(seq, now);
        }
    }
}

/// The state directory and the sequence number to resume after (a console
/// line when the file cannot be used).
pub(crate) fn load_kmsg_state(dir: &Path) -> Option<(KmsgState, Option<u64>)> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        timeline::log(
            "logfwd",
            &format!(
                "cannot create {}: {e}; a restart will forward the kernel log again",
                dir.display()
            ),
        );
        return None;
    }
    let boot_id = boot_id();
    let resume = load(dir, &boot_id).unwrap_or_else(|e| {
        timeline::log("logfwd", &nodistro_common::report::chain(&e));
        None
    });
    let st = KmsgState {
        dir: dir.to_path_buf(),
        boot_id,
        clock: SaveClock::new(resume),
    };
    Some((st, resume))
}

#[cfg(test)]
mod tests {
    use super::*;

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
