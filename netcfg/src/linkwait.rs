//! An interface not there yet: wait for it to appear (a driver still
//! probing, modload's coldplug running beside netcfg in the overlapped
//! boot, a NIC hot-plugged later) on rtnetlink link notifications,
//! instead of failing and being restarted in a loop.
//!
//! `core::linkwait` is the rule (sans-IO); [`wait_for`] the IO around it.

pub use crate::core::linkwait::{decide, Ended, Want};
use crate::core::linkwait::{next_look, waiting_line};
use crate::link::ethernet_ifaces;
use crate::rtnl;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// Wait until `want` exists; returns the interfaces. Says once that it
/// waits: `said` is set when it did, and a wait that goes on after
/// [`Ended::Settled`] with the same `said` does not say it again. `stop`
/// (a signalfd) ends the wait; `timeout` bounds it; `coldplug_file`, when
/// given, ends a [`Want::AnyEthernet`] wait with [`Ended::Settled`] once
/// that file exists and no interface does.
pub fn wait_for(
    want: &Want,
    stop: Option<&OwnedFd>,
    timeout: Option<Duration>,
    coldplug_file: Option<&Path>,
    said: &mut bool,
) -> Result<Vec<String>, Ended> {
    let mut w = Wait::subscribe(stop, timeout);
    loop {
        let settled = coldplug_file.map(Path::exists);
        if let Some(r) = look(want, settled, *said) {
            return r;
        }
        if !*said {
            log("netcfg", &waiting_line(want, settled));
            *said = true;
        }
        let left = w.left()?;
        if w.sleep(next_look(left, settled)) {
            return Err(Ended::Stopped);
        }
    }
}

/// The interfaces there now, by the rule; Some ends the wait (an
/// interface found after the waiting line is named).
fn look(want: &Want, settled: Option<bool>, said: bool) -> Option<Result<Vec<String>, Ended>> {
    let exists = |n: &str| Path::new("/sys/class/net").join(n).exists();
    let r = decide(want, &ethernet_ifaces(), exists, settled)?;
    if let (Ok(found), true) = (&r, said) {
        log(
            "netcfg",
            &format!("interface {} appeared", found.join(", ")),
        );
    }
    Some(r)
}

/// What the wait sleeps on: link notifications, the stop fd, the deadline.
struct Wait<'a> {
    events: Option<OwnedFd>,
    stop: Option<&'a OwnedFd>,
    deadline: Option<Instant>,
    buf: Vec<u8>,
}

impl<'a> Wait<'a> {
    /// Subscribe before looking, so an interface added in between is seen.
    fn subscribe(stop: Option<&'a OwnedFd>, timeout: Option<Duration>) -> Self {
        let events = match rtnl::link_events() {
            Ok(fd) => Some(fd),
            Err(e) => {
                log(
                    "netcfg",
                    &format!("cannot watch link changes ({e}); looking every second"),
                );
                None
            }
        };
        Wait {
            events,
            stop,
            deadline: timeout.map(|t| Instant::now() + t),
            buf: vec![0u8; 16 * 1024],
        }
    }

    /// Time left before the deadline (None: no deadline).
    fn left(&self) -> Result<Option<Duration>, Ended> {
        match self.deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(l) if !l.is_zero() => Ok(Some(l)),
                _ => Err(Ended::TimedOut),
            },
            None => Ok(None),
        }
    }

    /// Sleep up to `wait` for a link notification; true if stopped.
    fn sleep(&mut self, wait: Duration) -> bool {
        let mut fds = Vec::with_capacity(2);
        if let Some(e) = &self.events {
            fds.push(PollFd::new(e, PollFlags::IN));
        }
        if let Some(s) = self.stop {
            fds.push(PollFd::new(s, PollFlags::IN));
        }
        let t = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let _ = poll(&mut fds, Some(&t));
        let stopped = self.stop.is_some()
            && fds
                .last()
                .is_some_and(|f| f.revents().contains(PollFlags::IN));
        if stopped {
            return true;
        }
        if let Some(e) = &self.events {
            // Drain the notifications; their content does not matter, the
            // interface list is read again.
            while rustix::io::read(e, &mut self.buf).is_ok_and(|n| n > 0) {}
        }
        false
    }
}
