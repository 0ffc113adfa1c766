//! Reading the guest console: how the kernel said it stopped (sans-IO).

use std::process::ExitStatus;

/// What the kernel said about how it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleWatch {
    carry: Vec<u8>,
    pub powered_off: bool,
    pub restarted: bool,
    pub halted: bool,
    pub panicked: bool,
}

const PANIC: &[u8] = b"Kernel panic - not syncing";
const POWER_DOWN: &[u8] = b"reboot: Power down";
const RESTART: &[u8] = b"reboot: Restarting system";
const HALT: &[u8] = b"reboot: System halted";

impl ConsoleWatch {
    /// Feed console bytes; needles split across chunks are still seen.
    pub fn feed(&mut self, chunk: &[u8]) {
        let keep = PANIC.len().max(RESTART.len());
        self.carry.extend_from_slice(chunk);
        let hay = &self.carry;
        let has = |n: &[u8]| hay.windows(n.len()).any(|w| w == n);
        self.panicked |= has(PANIC);
        self.powered_off |= has(POWER_DOWN);
        self.restarted |= has(RESTART);
        self.halted |= has(HALT);
        if self.carry.len() > keep {
            let cut = self.carry.len() - keep;
            self.carry.drain(..cut);
        }
    }
}

/// How a QEMU run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The guest powered off (the kernel printed "reboot: Power down").
    PoweredOff,
    /// The kernel panicked.
    Panicked,
    /// The guest rebooted (QEMU stops instead, `-no-reboot`).
    Rebooted,
    /// The guest halted without powering off (QEMU was then stopped).
    Halted,
    /// QEMU ended without the guest saying why (a signal, `quit`).
    Stopped,
    /// QEMU itself failed (bad option, missing file: see its stderr).
    QemuFailed(Option<i32>),
    /// The timeout passed; QEMU was killed.
    TimedOut,
}

impl Outcome {
    pub fn classify(status: ExitStatus, watch: &ConsoleWatch) -> Outcome {
        if watch.panicked {
            Outcome::Panicked
        } else if !status.success() {
            Outcome::QemuFailed(status.code())
        } else if watch.powered_off {
            Outcome::PoweredOff
        } else if watch.restarted {
            Outcome::Rebooted
        } else if watch.halted {
            Outcome::Halted
        } else {
            Outcome::Stopped
        }
    }

    /// The exit code of `nodistro run`: 0 only for a clean power-off.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::PoweredOff => 0,
            Outcome::QemuFailed(_) => 1,
            Outcome::Panicked => 3,
            Outcome::Rebooted => 4,
            Outcome::Halted | Outcome::Stopped => 5,
            Outcome::TimedOut => 124,
        }
    }

    /// One line for a person.
    pub fn describe(self) -> String {
        match self {
            Outcome::PoweredOff => "the guest powered off cleanly".into(),
            Outcome::Panicked => "the guest kernel panicked (see the console above)".into(),
            Outcome::Rebooted => "the guest rebooted; QEMU stopped (-no-reboot)".into(),
            Outcome::Halted => "the guest halted without powering off".into(),
            Outcome::Stopped => "QEMU stopped without the guest powering off".into(),
            Outcome::QemuFailed(c) => format!(
                "qemu-system-x86_64 failed (exit status {}); see its message above",
                c.map_or("signal".to_string(), |c| c.to_string())
            ),
            Outcome::TimedOut => "the timeout passed; QEMU was killed".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_sees_split_needles() {
        let mut w = ConsoleWatch::default();
        w.feed(b"[    3.1] reboot: Pow");
        assert!(!w.powered_off);
        w.feed(b"er down\r\n");
        assert!(w.powered_off && !w.panicked);
        let mut w = ConsoleWatch::default();
        for b in b"x Kernel panic - not syncing: Attempted to kill init!" {
            w.feed(&[*b]);
        }
        assert!(w.panicked);
        let mut w = ConsoleWatch::default();
        w.feed(b"reboot: Restarting system\n");
        assert!(w.restarted && !w.powered_off);
    }

    #[test]
    fn outcome_from_status_and_console() {
        use std::os::unix::process::ExitStatusExt;
        let ok = ExitStatus::from_raw(0);
        let bad = ExitStatus::from_raw(1 << 8);
        let mut w = ConsoleWatch::default();
        assert_eq!(Outcome::classify(ok, &w), Outcome::Stopped);
        assert_eq!(Outcome::classify(bad, &w), Outcome::QemuFailed(Some(1)));
        w.feed(b"reboot: Power down\n");
        assert_eq!(Outcome::classify(ok, &w), Outcome::PoweredOff);
        assert_eq!(Outcome::PoweredOff.exit_code(), 0);
        w.feed(b"Kernel panic - not syncing: x\nreboot: Restarting system\n");
        assert_eq!(Outcome::classify(ok, &w), Outcome::Panicked);
        assert_ne!(Outcome::Panicked.exit_code(), 0);
        assert_eq!(Outcome::TimedOut.exit_code(), 124);
    }
}
