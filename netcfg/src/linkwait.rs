//! An interface not there yet: wait for it to appear (a driver still
//! probing, modload's coldplug running beside netcfg in the overlapped
//! boot, a NIC hot-plugged later) on rtnetlink link notifications,
//! instead of failing and being restarted in a loop.
//!
//! [`decide`] is the rule (sans-IO); [`wait_for`] the IO around it.

use crate::link::ethernet_ifaces;
use crate::rtnl;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why the wait ended without an interface.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM/SIGINT arrived on `stop`.
    Stopped,
    /// `timeout` passed.
    TimedOut,
    /// The drivers are settled (init's coldplug mark exists) and there is
    /// still no interface: "no interface" now means none.
    Settled,
}

/// What the wait is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Any ethernet interface (then all of them are returned).
    AnyEthernet,
    /// Every one of these names.
    Named(Vec<String>),
}

/// The wait's rule: given the interfaces present (`ethernet` for
/// [`Want::AnyEthernet`], `exists` for names) and whether the drivers are
/// settled (`Some(true)`; `None`: nobody tells, as when netcfg runs after
/// coldplug), `Some(result)` ends the wait.
pub fn decide(
    want: &Want,
    ethernet: &[String],
    exists: impl Fn(&str) -> bool,
    settled: Option<bool>,
) -> Option<Result<Vec<String>, Ended>> {
    match want {
        Want::AnyEthernet if !ethernet.is_empty() => Some(Ok(ethernet.to_vec())),
        Want::Named(names) if names.iter().all(|n| exists(n)) => Some(Ok(names.clone())),
        // A name that never comes stays awaited (the driver may be slow or
        // the NIC hot-plugged); init's timeout bounds the boot.
        Want::AnyEthernet if settled == Some(true) => Some(Err(Ended::Settled)),
        _ => None,
    }
}

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
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let settled = coldplug_file.map(Path::exists);
        let exists = |n: &str| Path::new("/sys/class/net").join(n).exists();
        if let Some(r) = decide(want, &ethernet_ifaces(), exists, settled) {
            if let (Ok(found), true) = (&r, *said) {
                log(
                    "netcfg",
                    &format!("interface {} appeared", found.join(", ")),
                );
            }
            return r;
        }
        if !*said {
            let what = match want {
                Want::AnyEthernet => "no network interface yet".to_string(),
                Want::Named(n) => format!("{} not there yet", n.join(", ")),
            };
            let why = if settled == Some(false) {
                "drivers still loading"
            } else {
                "hotplug or a slow driver"
            };
            log(
                "netcfg",
                &format!("{what}: waiting for it to appear ({why})"),
            );
            *said = true;
        }
        let left = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(l) if !l.is_zero() => l,
                _ => return Err(Ended::TimedOut),
            },
            None => Duration::from_secs(1),
        };
        // The coldplug mark is a file: look at it often while it is missing.
        let every = if settled == Some(false) {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(1)
        };
        let wait = left.min(every);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_ethernet_ends_when_one_appears_or_the_drivers_settle() {
        let none = |_: &str| false;
        assert_eq!(
            decide(&Want::AnyEthernet, &v(&["eth0", "eth1"]), none, Some(false)),
            Some(Ok(v(&["eth0", "eth1"])))
        );
        assert_eq!(decide(&Want::AnyEthernet, &[], none, Some(false)), None);
        assert_eq!(decide(&Want::AnyEthernet, &[], none, None), None);
        assert_eq!(
            decide(&Want::AnyEthernet, &[], none, Some(true)),
            Some(Err(Ended::Settled))
        );
    }

    #[test]
    fn named_waits_for_every_name_even_once_settled() {
        let want = Want::Named(v(&["eth0", "eth1"]));
        let only_eth0 = |n: &str| n == "eth0";
        assert_eq!(decide(&want, &v(&["eth0"]), only_eth0, Some(true)), None);
        assert_eq!(
            decide(&want, &v(&["eth0", "eth1"]), |_| true, Some(false)),
            Some(Ok(v(&["eth0", "eth1"])))
        );
        // A named non-ethernet interface (a bond, wlan) counts when present.
        let bond = Want::Named(v(&["bond0"]));
        assert_eq!(
            decide(&bond, &[], |n| n == "bond0", None),
            Some(Ok(v(&["bond0"])))
        );
    }
}
