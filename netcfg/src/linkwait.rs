//! No ethernet interface yet: wait for one to appear (a driver still
//! probing, a NIC hot-plugged later) on rtnetlink link notifications,
//! instead of failing and being restarted in a loop.

use crate::rtnl;
use crate::run::ethernet_ifaces;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Why the wait ended without an interface.
#[derive(Debug)]
pub enum Ended {
    /// SIGTERM/SIGINT arrived on `stop`.
    Stopped,
    /// `timeout` passed.
    TimedOut,
}

/// Wait until an ethernet interface exists; returns them all (sorted).
/// Says so once. `stop` (a signalfd) ends the wait; `timeout` bounds it.
pub fn wait_for_ethernet(
    stop: Option<&OwnedFd>,
    timeout: Option<Duration>,
) -> Result<Vec<String>, Ended> {
    // Subscribe before looking, so an interface added in between is seen.
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
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut said = false;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let found = ethernet_ifaces();
        if !found.is_empty() {
            if said {
                log(
                    "netcfg",
                    &format!("interface {} appeared", found.join(", ")),
                );
            }
            return Ok(found);
        }
        if !said {
            log(
                "netcfg",
                "no network interface yet: waiting for one to appear (hotplug or a slow driver)",
            );
            said = true;
        }
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(l) if !l.is_zero() => l,
                _ => return Err(Ended::TimedOut),
            },
            None => Duration::from_secs(1),
        };
        let wait = left.min(Duration::from_secs(1));
        let mut fds = Vec::with_capacity(2);
        if let Some(e) = &events {
            fds.push(PollFd::new(e, PollFlags::IN));
        }
        if let Some(s) = stop {
            fds.push(PollFd::new(s, PollFlags::IN));
        }
        let t = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let _ = poll(&mut fds, Some(&t));
        let stopped = stop.is_some()
            && fds
                .last()
                .is_some_and(|f| f.revents().contains(PollFlags::IN));
        if stopped {
            return Err(Ended::Stopped);
        }
        if let Some(e) = &events {
            // Drain the notifications; their content does not matter, the
            // interface list is read again.
            while rustix::io::read(e, &mut buf).is_ok_and(|n| n > 0) {}
        }
    }
}
