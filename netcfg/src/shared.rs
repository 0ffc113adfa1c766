//! What every interface thread shares: the options; the run's state (the
//! readiness notifier and gate, the stop fd, resolv.conf, the learned NTP
//! servers); the readiness line of an interface that is online; the seed
//! of xids and jitter.

use crate::core::lease::Lease;
use crate::ready::{Gate, Ready};
use crate::resolv::Resolv;
use crate::sntp::learned::Learned;
use nodistro_common::sys::Notifier;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
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

/// The run's state every thread shares (one per run: no process globals).
pub struct Shared {
    pub notifier: Mutex<Notifier>,
    /// Readable (hung up) when the process is told to stop.
    pub stop: OwnedFd,
    /// When the machine is ready (`netcfg.wait`, `init.wait_time`).
    pub ready: Ready,
    /// The one merged resolv.conf.
    pub resolv: Resolv,
    /// NTP servers learned from DHCP, for the SNTP thread.
    pub ntp: Learned,
    /// Set before the threads start when IPv6 threads run (the DHCPv4
    /// session then leaves SLAAC addresses to them).
    pub v6_following: AtomicBool,
}

impl Shared {
    /// A run's state: nothing published yet, readiness as `gate` says.
    pub fn new(notifier: Notifier, stop: OwnedFd, gate: Gate) -> Self {
        Shared {
            notifier: Mutex::new(notifier),
            stop,
            ready: Ready::new(gate),
            resolv: Resolv::default(),
            ntp: Learned::default(),
            v6_following: AtomicBool::new(false),
        }
    }
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
        shared.ready.up(
            false,
            nodistro_common::protocol::ready::online(iface, l.addr, l.prefix),
        ),
        shared.notifier.lock(),
    ) {
        n.notify(&line);
    }
}
