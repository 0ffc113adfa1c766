//! Where kernel forwarding stopped, sans-IO: the state file's text
//! (`BOOT_ID SEQ`, [`parse`] and [`render`]) and when to write it
//! ([`SaveClock`]). The file itself is [`crate::state`]'s.

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
}
