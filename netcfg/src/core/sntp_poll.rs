//! The SNTP client's schedule (sans-IO): which server to ask, how long to
//! wait for it, whether an answer steps or slews the clock, how long to
//! sleep after an answer or a failure. The loop is `crate::sntp`.

/// An offset above this steps the clock even after the first sync.
const STEP_NS: i64 = 500_000_000;

/// How a believed answer sets the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    /// The first sync, or a jump over 0.5 s.
    Step,
    Slew,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The clock was set once (then readiness may go).
    synced: bool,
    next_server: usize,
    backoff_ms: u64,
    interval_s: u64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            synced: false,
            next_server: 0,
            backoff_ms: 1000,
            interval_s: 64,
        }
    }
}

impl Schedule {
    /// Which of `count` servers to ask now (None: none known yet).
    pub fn server(&self, count: usize) -> Option<usize> {
        (count > 0).then(|| self.next_server % count)
    }

    /// How long to wait for the answer.
    pub fn timeout_ms(&self) -> u64 {
        self.backoff_ms.min(4000)
    }

    /// How an answer that is `offset_ns` off sets the clock.
    pub fn adjust(&self, offset_ns: i64) -> Adjust {
        if !self.synced || offset_ns.abs() > STEP_NS {
            Adjust::Step
        } else {
            Adjust::Slew
        }
    }

    /// The clock was set: true the first time (readiness may go now);
    /// after that the interval doubles, up to 1024 s.
    pub fn clock_set(&mut self) -> bool {
        if self.synced {
            self.interval_s = (self.interval_s * 2).min(1024);
            false
        } else {
            self.synced = true;
            true
        }
    }

    /// An answer was believed (whether or not the clock could be set):
    /// the ms to sleep before the next question.
    pub fn answered(&mut self) -> u64 {
        self.backoff_ms = 1000;
        self.interval_s * 1000
    }

    /// No answer, or one not believed: the next server, a longer backoff
    /// (up to 8 s before the first sync, 64 s after); the ms to sleep.
    pub fn failed(&mut self) -> u64 {
        self.next_server += 1;
        let max = if self.synced { 64_000 } else { 8000 };
        self.backoff_ms = (self.backoff_ms * 2).min(max);
        self.backoff_ms.min(4000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_answer_steps_then_slews_and_the_interval_grows() {
        let mut s = Schedule::default();
        assert_eq!(s.server(0), None);
        assert_eq!(s.server(2), Some(0));
        assert_eq!(s.adjust(1000), Adjust::Step);
        assert!(s.clock_set(), "first sync");
        assert_eq!(s.answered(), 64_000);
        assert_eq!(s.adjust(1000), Adjust::Slew);
        assert_eq!(s.adjust(-600_000_000), Adjust::Step);
        assert!(!s.clock_set());
        assert_eq!(s.answered(), 128_000);
        for _ in 0..10 {
            s.clock_set();
        }
        assert_eq!(s.answered(), 1_024_000);
    }

    #[test]
    fn failures_move_on_and_back_off() {
        let mut s = Schedule::default();
        assert_eq!(s.timeout_ms(), 1000);
        assert_eq!(s.failed(), 2000);
        assert_eq!(s.server(2), Some(1));
        assert_eq!(s.failed(), 4000);
        assert_eq!(s.failed(), 4000);
        assert_eq!(s.backoff_ms, 8000, "capped before the first sync");
        assert_eq!(s.timeout_ms(), 4000);
        s.clock_set();
        assert_eq!(s.answered(), 64_000);
        assert_eq!(s.timeout_ms(), 1000, "an answer resets the backoff");
        for _ in 0..8 {
            s.failed();
        }
        assert_eq!(s.backoff_ms, 64_000, "capped after it");
    }
}
