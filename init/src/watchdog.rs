//! The hardware watchdog: `/dev/watchdog` (i6300esb in QEMU, iTCO_wdt and
//! others on hardware; modload loads the driver by modalias), opened as
//! soon as it appears, its timeout set to `init.watchdog` seconds (default
//! 30; `0` or `off`: leave the device alone), pet from init's event loop at
//! half the timeout while the machine is healthy, disarmed with the magic
//! close (`V`) on a clean shutdown.

#![allow(unsafe_code)]

use nodistro_common::timeline::log;
use nodistro_common::Config;
use rustix::fs::{Mode, OFlags};
use rustix::ioctl::{ioctl, opcode, Getter, Opcode, Updater};
use std::os::fd::OwnedFd;
use std::time::Duration;

const DEVICE: &str = "/dev/watchdog";
/// `_IOWR('W', 6, int)` and `_IOR('W', 7, int)` from linux/watchdog.h.
const WDIOC_SETTIMEOUT: Opcode = opcode::read_write::<i32>(b'W', 6);
const WDIOC_GETTIMEOUT: Opcode = opcode::read::<i32>(b'W', 7);
/// How long init looks for the device after its loop starts.
const SEARCH: Duration = Duration::from_secs(60);
/// Default for `init.watchdog`.
pub const DEFAULT_TIMEOUT: u32 = 30;

/// `init.watchdog`: the timeout in seconds, `None` for off.
pub fn from_config(cfg: &Config) -> (Option<u32>, Vec<String>) {
    match cfg.get("init.watchdog").map(str::trim) {
        None => (Some(DEFAULT_TIMEOUT), Vec::new()),
        Some("0") | Some("off") => (None, Vec::new()),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if (1..=86_400).contains(&n) => (Some(n), Vec::new()),
            _ => (
                Some(DEFAULT_TIMEOUT),
                vec![format!(
                    "init.watchdog={v:?} is not a number of seconds (1 to 86400, or off); using {DEFAULT_TIMEOUT}"
                )],
            ),
        },
    }
}

/// How often to pet a watchdog: half its timeout (at least 0.5 s); when
/// the device would not tell its timeout, every second.
pub fn pet_interval(timeout: Option<u32>) -> Duration {
    match timeout {
        Some(t) if t > 0 => Duration::from_millis(u64::from(t) * 500),
        _ => Duration::from_secs(1),
    }
}

/// An open watchdog device, pet at `every`.
#[derive(Debug)]
pub struct Watchdog {
    fd: OwnedFd,
    pub every: Duration,
    pub next_pet: Duration,
}

/// The looking for, and then the petting of, the device.
#[derive(Debug, Default)]
pub struct State {
    /// `init.watchdog` (`None`: off).
    pub wanted: Option<u32>,
    pub dev: Option<Watchdog>,
    next_try: Duration,
    stopped_petting: bool,
}

/// WDIOC_SETTIMEOUT: the timeout the device took (it may round).
fn set_timeout(fd: &OwnedFd, secs: i32) -> rustix::io::Result<i32> {
    let mut v = secs;
    // SAFETY: WDIOC_SETTIMEOUT reads and writes back one int, and `v` is
    // a live int for the whole call.
    unsafe { ioctl(fd, Updater::<WDIOC_SETTIMEOUT, i32>::new(&mut v)) }?;
    Ok(v)
}

/// WDIOC_GETTIMEOUT.
fn get_timeout(fd: &OwnedFd) -> rustix::io::Result<i32> {
    // SAFETY: WDIOC_GETTIMEOUT writes one int, the Getter's output type.
    unsafe { ioctl(fd, Getter::<WDIOC_GETTIMEOUT, i32>::new()) }
}

impl State {
    pub fn new(wanted: Option<u32>) -> Self {
        State {
            wanted,
            ..Default::default()
        }
    }

    /// When [`State::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        match (&self.dev, self.wanted) {
            (Some(w), _) => Some(w.next_pet),
            (None, Some(_)) if self.next_try < SEARCH => Some(self.next_try),
            _ => None,
        }
    }

    fn open(&mut self, timeout: u32) {
        let fd = match rustix::fs::open(DEVICE, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return,
            Err(e) => {
                log("init", &format!("cannot open {DEVICE}: {e}; no watchdog"));
                self.wanted = None;
                return;
            }
        };
        let actual = match set_timeout(&fd, timeout as i32) {
            Ok(t) => Some(t as u32),
            Err(e) => {
                let kept = get_timeout(&fd).ok().map(|t| t as u32);
                log(
                    "init",
                    &format!(
                        "{DEVICE} refused the timeout init.watchdog={timeout} ({e}); keeping its own ({})",
                        kept.map_or("unknown".into(), |t| format!("{t} s"))
                    ),
                );
                kept
            }
        };
        let every = pet_interval(actual);
        log(
            "init",
            &format!(
                "watchdog {DEVICE} armed: timeout {} s, pet every {} ms while healthy",
                actual.map_or("?".into(), |t| t.to_string()),
                every.as_millis()
            ),
        );
        self.dev = Some(Watchdog {
            fd,
            every,
            next_pet: Duration::ZERO,
        });
    }

    /// Look for the device, or pet it if `healthy`.
    pub fn tick(&mut self, now: Duration, healthy: bool) {
        if let (None, Some(t)) = (&self.dev, self.wanted) {
            if now >= self.next_try && self.next_try < SEARCH {
                self.next_try = now + Duration::from_secs(1);
                self.open(t);
            }
        }
        let Some(w) = &mut self.dev else { return };
        if !healthy {
            if !self.stopped_petting {
                self.stopped_petting = true;
                log(
                    "init",
                    "the machine is unhealthy: no longer petting the watchdog; it will reset the machine",
                );
            }
            w.next_pet = now + w.every;
            return;
        }
        self.stopped_petting = false;
        if now >= w.next_pet {
            if let Err(e) = rustix::io::write(&w.fd, b"\0") {
                log("init", &format!("cannot pet {DEVICE}: {e}"));
            }
            w.next_pet = now + w.every;
        }
    }

    /// Pet now (before init blocks for a while, e.g. waiting for disks),
    /// unless petting has stopped.
    pub fn pet_now(&mut self) {
        if let (Some(w), false) = (&self.dev, self.stopped_petting) {
            let _ = rustix::io::write(&w.fd, b"\0");
        }
    }

    /// Clean shutdown: the magic close disarms the device.
    pub fn disarm(&mut self) {
        if let Some(w) = self.dev.take() {
            match rustix::io::write(&w.fd, b"V") {
                Ok(_) => log("init", "watchdog disarmed"),
                Err(e) => log("init", &format!("cannot disarm {DEVICE}: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values() {
        let get = |text: &str| from_config(&Config::parse(text).0);
        assert_eq!(get(""), (Some(30), vec![]));
        assert_eq!(get("init.watchdog=10\n"), (Some(10), vec![]));
        assert_eq!(get("init.watchdog=off\n").0, None);
        assert_eq!(get("init.watchdog=0\n").0, None);
        let (t, w) = get("init.watchdog=-3\n");
        assert_eq!((t, w.len()), (Some(30), 1));
    }

    #[test]
    fn pet_at_half_the_timeout() {
        assert_eq!(pet_interval(Some(30)), Duration::from_secs(15));
        assert_eq!(pet_interval(Some(1)), Duration::from_millis(500));
        assert_eq!(pet_interval(None), Duration::from_secs(1));
        assert_eq!(pet_interval(Some(0)), Duration::from_secs(1));
    }
}
