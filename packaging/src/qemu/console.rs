//! Reading the guest console: how the kernel said it stopped (sans-IO).

use std::process::ExitStatus;

/// What the kernel said about how it stopped, and the app's exit status
/// as nodistro's init reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleWatch {
    carry: Vec<u8>,
    /// The current console line (at most [`LINE_MAX`] bytes are kept).
    line: Vec<u8>,
    pub powered_off: bool,
    pub restarted: bool,
    pub halted: bool,
    pub panicked: bool,
    /// The app's status from init's last "all stopped (app status N)"
    /// line: its exit code, or 128+N for signal N (as a shell says it).
    pub app_status: Option<i32>,
    /// UEFI firmware refused to start a boot option: its signature is
    /// not trusted under Secure Boot (OVMF's BdsDxe "Access Denied" or
    /// "Security Violation").
    pub firmware_denied: bool,
    /// UEFI firmware tried every boot option and has nothing left to
    /// start: it waits for a key, forever.
    pub firmware_gave_up: bool,
}

/// Longer console lines are cut (they cannot be init's status line).
const LINE_MAX: usize = 512;
/// What init says once everything has stopped, before it powers off
/// (init/src/lib.rs): `[   2.534] init: all stopped (app status 0)`.
const APP_STATUS: &str = "init: all stopped (app status ";

const PANIC: &[u8] = b"Kernel panic - not syncing";
const POWER_DOWN: &[u8] = b"reboot: Power down";
const RESTART: &[u8] = b"reboot: Restarting system";
const HALT: &[u8] = b"reboot: System halted";
/// OVMF's boot manager (MdeModulePkg BdsDxe) on a boot option that fails.
const BDS_FAILED: &str = "BdsDxe: failed to ";
const BDS_NONE_LEFT: &str = "BdsDxe: No bootable option or device was found";

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
        for &b in chunk {
            if b == b'\n' {
                if let Some(code) = app_status_of(&self.line) {
                    self.app_status = Some(code);
                }
                self.firmware_line();
                self.line.clear();
            } else if self.line.len() < LINE_MAX {
                self.line.push(b);
            }
        }
    }
}

impl ConsoleWatch {
    /// OVMF's boot manager lines (a line may start with the screen's
    /// escape sequences).
    fn firmware_line(&mut self) {
        let Ok(text) = std::str::from_utf8(&self.line) else {
            return;
        };
        let text = strip_escapes(text).trim_end();
        if text.starts_with(BDS_FAILED)
            && (text.ends_with(": Access Denied") || text.ends_with(": Security Violation"))
        {
            self.firmware_denied = true;
        }
        if text.starts_with(BDS_NONE_LEFT) {
            self.firmware_gave_up = true;
        }
    }

    /// The firmware has nothing left to boot: how the run ended, if so.
    pub fn firmware_outcome(&self) -> Option<Outcome> {
        self.firmware_gave_up.then_some(Outcome::NoBoot {
            denied: self.firmware_denied,
        })
    }
}

/// `text` after the terminal escape sequences it starts with (`ESC [`
/// parameters, a final byte), as OVMF clears the screen before a line.
fn strip_escapes(mut text: &str) -> &str {
    while let Some(rest) = text.strip_prefix("\x1b[") {
        match rest.find(|c: char| ('@'..='~').contains(&c)) {
            Some(end) => text = &rest[end + 1..],
            None => return "",
        }
    }
    text
}

/// The status in init's "all stopped" line: the line, after the console
/// timestamp `[   2.534] `, must start with init's own words, so an app
/// that prints them (its lines arrive as `[ts] app: ...`) cannot forge it.
fn app_status_of(line: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let rest = match text.strip_prefix('[') {
        Some(t) => t.split_once("] ")?.1,
        None => text,
    };
    let digits = rest.strip_prefix(APP_STATUS)?.strip_suffix(')')?;
    let code: i32 = digits.parse().ok()?;
    (0..=255).contains(&code).then_some(code)
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
    /// `nodistro run` got this signal and QEMU was killed: the guest did
    /// not power off within the grace period, or a second Ctrl-C.
    Killed(i32),
    /// The UEFI firmware found nothing it could start and QEMU was killed;
    /// `denied`: it refused an image under Secure Boot (not signed by a
    /// key in its db).
    NoBoot { denied: bool },
}

/// `nodistro run`'s exit codes for its own outcomes (an app's status
/// passes through otherwise; 128+N: killed after signal N).
pub const EXIT_PANIC: i32 = 120;
pub const EXIT_REBOOT: i32 = 121;
pub const EXIT_STOPPED: i32 = 122;
pub const EXIT_QEMU_FAILED: i32 = 123;
pub const EXIT_TIMEOUT: i32 = 124;
/// A usage or setup error before anything booted.
pub const EXIT_USAGE: i32 = 125;
/// The firmware started nothing (Secure Boot refused the image, or no
/// boot option was left).
pub const EXIT_NO_BOOT: i32 = 126;

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

    /// The exit code of `nodistro run` (README "Exit status"): after a clean
    /// power-off the app's status as init reported it (`app_status`; 0 when
    /// init said none), as `docker run` passes its container's on; the
    /// runner's own outcomes have codes of their own above the ones apps
    /// use by convention.
    pub fn exit_code(self, app_status: Option<i32>) -> i32 {
        match self {
            Outcome::PoweredOff => app_status.unwrap_or(0),
            Outcome::Panicked => EXIT_PANIC,
            Outcome::Rebooted => EXIT_REBOOT,
            Outcome::Halted | Outcome::Stopped => EXIT_STOPPED,
            Outcome::QemuFailed(_) => EXIT_QEMU_FAILED,
            Outcome::TimedOut => EXIT_TIMEOUT,
            Outcome::Killed(sig) => 128 + sig,
            Outcome::NoBoot { .. } => EXIT_NO_BOOT,
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
            Outcome::Killed(sig) => format!(
                "QEMU killed after {}: the guest did not power off in time",
                nodistro_common::signal::name(sig).unwrap_or("a signal")
            ),
            Outcome::NoBoot { denied: true } => "the firmware refused to start the image: Secure Boot is on and the image is not signed by a key in the firmware's db (sign it: nodistro build --sign-key KEY --sign-cert CERT; enroll CERT in the variables)".into(),
            Outcome::NoBoot { denied: false } => "the firmware found nothing it could boot; QEMU was stopped".into(),
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

    /// OVMF_CODE_4M.secboot.fd with the snakeoil variables and an
    /// unsigned UKI (Debian 12's ovmf 2022.11), screen escapes included.
    #[test]
    fn firmware_refusal() {
        let mut w = ConsoleWatch::default();
        w.feed(b"\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001 \"UEFI Non-Block Boot Device\" from PciRoot(0x0)/Pci(0x1,0x0)\r\n");
        w.feed(b"BdsDxe: failed to load Boot0001 \"UEFI Non-Block Boot Device\" from PciRoot(0x0)/Pci(0x1,0x0): Access Denied\r\n");
        assert!(w.firmware_denied);
        assert_eq!(w.firmware_outcome(), None, "other options may follow");
        w.feed(b"BdsDxe: failed to start Boot0002 \"EFI Internal Shell\" from Fv(7CB8)/FvFile(7C04): Security Violation\r\n");
        w.feed(b"BdsDxe: No bootable option or device was found.\r\n");
        assert_eq!(w.firmware_outcome(), Some(Outcome::NoBoot { denied: true }));
        assert_eq!(Outcome::NoBoot { denied: true }.exit_code(None), 126);
        let mut w = ConsoleWatch::default();
        w.feed(b"BdsDxe: failed to load Boot0001 \"x\": Not Found\r\nBdsDxe: No bootable option or device was found.\r\n");
        assert_eq!(
            w.firmware_outcome(),
            Some(Outcome::NoBoot { denied: false })
        );
        let mut w = ConsoleWatch::default();
        w.feed(b"[ 2.0] app: BdsDxe: failed to load x: Access Denied\n");
        w.feed(b"[ 2.1] app: BdsDxe: No bootable option or device was found.\n");
        assert!(!w.firmware_denied && !w.firmware_gave_up, "an app's line");
    }

    #[test]
    fn app_status_from_inits_line_only() {
        let mut w = ConsoleWatch::default();
        w.feed(b"[   2.5] demo-app: init: all stopped (app status 9)\r\n");
        assert_eq!(w.app_status, None, "an app's line is not init's");
        w.feed(b"[   2.534] init: all stopped (app st");
        assert_eq!(w.app_status, None, "not before the line ends");
        w.feed(b"atus 143)\r\n[   2.6] reboot: Power down\r\n");
        assert_eq!(w.app_status, Some(143));
        w.feed(b"init: all stopped (app status 3)\n");
        assert_eq!(w.app_status, Some(3), "the last line counts");
        for bad in [
            &b"init: all stopped (app status 999)\n"[..],
            b"init: all stopped (app status -1)\n",
            b"init: all stopped (app status x)\n",
            b"[ 1.0 init: all stopped (app status 4)\n",
        ] {
            w.feed(bad);
            assert_eq!(w.app_status, Some(3), "{:?}", String::from_utf8_lossy(bad));
        }
        let mut long = vec![b'a'; 100_000];
        long.extend_from_slice(b"init: all stopped (app status 5)\n");
        w.feed(&long);
        assert_eq!(w.app_status, Some(3), "bounded line, not init's");
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
        assert_eq!(Outcome::PoweredOff.exit_code(None), 0);
        assert_eq!(Outcome::PoweredOff.exit_code(Some(7)), 7);
        w.feed(b"Kernel panic - not syncing: x\nreboot: Restarting system\n");
        assert_eq!(Outcome::classify(ok, &w), Outcome::Panicked);
        assert_eq!(Outcome::Panicked.exit_code(Some(0)), EXIT_PANIC);
        assert_eq!(Outcome::TimedOut.exit_code(None), 124);
        assert_eq!(Outcome::Killed(15).exit_code(Some(0)), 143);
    }
}
