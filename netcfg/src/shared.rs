//! What every interface thread shares: the options, the readiness
//! notifier and the stop fd; the readiness line of an interface that is
//! online; the seed of xids and jitter.

use crate::core::lease::Lease;
use nodistro_common::sys::Notifier;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// What every interface thread shares.
pub struct Options {
    pub resolv_conf: PathBuf,
    pub take_hostname: bool,
    pub hostname: Option<String>,
    pub request: Option<Ipv4Addr>,
    /// Remember each interface's address here (`<dir>/<iface>`) so a
    /// restarted netcfg asks for it again (INIT-REBOOT). None: don't.
    pub lease_dir: Option<PathBuf>,
    pub oneshot: bool,
    pub timeout: Duration,
    /// ARP probe window before using a new address (0: no probing).
    pub arp_probe_ms: u64,
    /// NTP servers from `ntp=` (the SNTP thread runs when not oneshot).
    pub ntp: Vec<std::net::SocketAddr>,
}

pub struct Shared {
    pub notifier: Mutex<Notifier>,
    /// Readable (hung up) when the process is told to stop.
    pub stop: OwnedFd,
}

/// A seed for xids and jitter. GRND_INSECURE: early in boot the kernel's
/// CRNG is not ready yet and a plain getrandom() would block (seen: 1.7 s
/// under QEMU); xids need to be unpredictable enough, not secret.
pub(crate) fn seed() -> u64 {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::INSECURE) {
        Ok(8) => u64::from_ne_bytes(b),
        _ => u64::from(std::process::id()) ^ nodistro_common::timeline::since_boot_ms() << 20,
    }
}

pub(crate) fn stopped(fd: &OwnedFd) -> bool {
    let mut p = [PollFd::new(fd, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut p, Some(&zero)).is_ok_and(|n| n > 0)
}

pub(crate) fn online(shared: &Shared, o: &Options, iface: &str, l: &Lease, took: Duration) {
    if o.oneshot {
        println!("{}", l.summary(iface));
    }
    log(
        "netcfg",
        &format!("{} (in {} ms)", l.summary(iface), took.as_millis()),
    );
    if let (Some(line), Ok(mut n)) = (
        crate::ready::up(
            false,
            nodistro_common::protocol::ready::online(iface, l.addr, l.prefix),
        ),
        shared.notifier.lock(),
    ) {
        n.notify(&line);
    }
}
