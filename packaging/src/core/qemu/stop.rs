//! How `nodistro run` stops a guest it is asked to stop (sans-IO).
//!
//! SIGTERM, SIGINT and SIGHUP press the guest's ACPI power button once
//! (init shuts down cleanly on it); if QEMU has not exited `grace` later
//! it is killed. A second SIGINT (Ctrl-C twice, as with `docker run`)
//! kills at once. Any other repeat, however many, changes nothing: a
//! storm of signals costs one power-button press and at most one kill.

use std::time::Duration;

/// What the runner must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAction {
    /// Nothing (yet).
    None,
    /// Press the power button (HMP `system_powerdown`); the signal that
    /// asked for it.
    PowerDown(i32),
    /// Kill QEMU, because of this signal.
    Kill(i32),
}

/// The stop sequence's state; times are durations since any fixed start.
#[derive(Debug, Clone)]
pub struct StopPolicy {
    grace: Duration,
    /// The first stop signal and when it came.
    asked: Option<(i32, Duration)>,
    killed: bool,
}

impl StopPolicy {
    pub fn new(grace: Duration) -> Self {
        StopPolicy {
            grace,
            asked: None,
            killed: false,
        }
    }

    /// A stop signal arrived at `now`.
    pub fn signal(&mut self, sig: i32, now: Duration) -> StopAction {
        if self.killed {
            return StopAction::None;
        }
        match self.asked {
            None => {
                self.asked = Some((sig, now));
                StopAction::PowerDown(sig)
            }
            Some(_) if sig == nodistro_common::signal::SIGINT => {
                self.killed = true;
                StopAction::Kill(sig)
            }
            Some(_) => StopAction::None,
        }
    }

    /// The clock moved: the grace period may be over.
    pub fn tick(&mut self, now: Duration) -> StopAction {
        match self.asked {
            Some((sig, at)) if !self.killed && now >= at + self.grace => {
                self.killed = true;
                StopAction::Kill(sig)
            }
            _ => StopAction::None,
        }
    }

    /// The first stop signal, if one came.
    pub fn asked_by(&self) -> Option<i32> {
        self.asked.map(|(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodistro_common::signal::{SIGHUP, SIGINT, SIGTERM};

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn one_press_then_a_kill_after_the_grace() {
        let mut p = StopPolicy::new(s(10));
        assert_eq!(p.tick(s(100)), StopAction::None, "nothing asked");
        assert_eq!(p.signal(SIGTERM, s(1)), StopAction::PowerDown(SIGTERM));
        assert_eq!(p.tick(s(10)), StopAction::None);
        assert_eq!(p.tick(s(11)), StopAction::Kill(SIGTERM));
        assert_eq!(p.tick(s(12)), StopAction::None, "killed once");
        assert_eq!(p.asked_by(), Some(SIGTERM));
    }

    #[test]
    fn storms_cost_one_press_and_a_second_ctrl_c_kills() {
        let mut p = StopPolicy::new(s(10));
        assert_eq!(p.signal(SIGHUP, s(0)), StopAction::PowerDown(SIGHUP));
        for _ in 0..1000 {
            assert_eq!(p.signal(SIGTERM, s(1)), StopAction::None);
            assert_eq!(p.signal(SIGHUP, s(1)), StopAction::None);
        }
        assert_eq!(p.tick(s(9)), StopAction::None, "repeats do not shorten it");
        assert_eq!(p.signal(SIGINT, s(2)), StopAction::Kill(SIGINT));
        assert_eq!(p.signal(SIGINT, s(3)), StopAction::None);
        assert_eq!(p.tick(s(60)), StopAction::None);
        let mut p = StopPolicy::new(s(10));
        assert_eq!(p.signal(SIGINT, s(0)), StopAction::PowerDown(SIGINT));
        assert_eq!(p.signal(SIGINT, s(0)), StopAction::Kill(SIGINT));
    }
}
