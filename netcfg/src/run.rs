//! The IO shell's plumbing for one interface: finds it in sysfs, brings it
//! up, waits for carrier, applies static configuration; the DHCP loop over
//! a packet socket is [`crate::session`].

use crate::apply::{ApplyError, Target};
use crate::lease::Lease;
use crate::rtnl::Netlink;
use nodistro_common::sys::Notifier;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("interface {0} not found (is its driver loaded? see /sys/class/net)")]
    NoIface(String, #[source] io::Error),
    #[error("cannot open a {what} socket for {iface}")]
    Socket {
        what: &'static str,
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot bring {0} up")]
    LinkUp(String, #[source] io::Error),
    #[error("no DHCP lease on {0} within {1} s (is a DHCP server on that link?)")]
    Timeout(String, u64),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

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

/// An interface as sysfs describes it.
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
}

fn sysfs(name: &str, file: &str) -> io::Result<String> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/{file}")).map(|s| s.trim().to_string())
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

impl Iface {
    pub fn find(name: &str) -> Result<Iface, RunError> {
        let err = |e| RunError::NoIface(name.to_string(), e);
        let index = sysfs(name, "ifindex")
            .map_err(err)?
            .parse()
            .map_err(|_| err(io::ErrorKind::InvalidData.into()))?;
        let mac = parse_mac(&sysfs(name, "address").map_err(err)?).unwrap_or([0; 6]);
        Ok(Iface {
            name: name.to_string(),
            index,
            mac,
        })
    }
}

/// Every ethernet interface (ARPHRD_ETHER, type 1), sorted, without lo.
pub fn ethernet_ifaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != "lo" && sysfs(n, "type").is_ok_and(|t| t == "1"))
        .collect();
    v.sort();
    v
}

pub(crate) fn has_carrier(name: &str) -> bool {
    sysfs(name, "carrier").is_ok_and(|c| c == "1")
}

/// Bring `name` up (lo too) and wait for carrier until `deadline`.
pub(crate) fn link_up(nl: &mut Netlink, iface: &Iface, deadline: Instant) -> Result<(), RunError> {
    nl.link_up(iface.index, None)
        .map_err(|e| RunError::LinkUp(iface.name.clone(), e))?;
    while !has_carrier(&iface.name) {
        if Instant::now() >= deadline {
            log(
                "netcfg",
                &format!("{}: no carrier yet; trying anyway", iface.name),
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
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

/// Global IPv6 addresses of interface `name` in /proc/net/if_inet6 text
/// (`<32 hex> <ifindex> <prefix> <scope> <flags> <name>`), as `addr/prefix`.
pub fn ipv6_globals(text: &str, name: &str) -> Vec<String> {
    crate::v6::globals(text, name)
        .into_iter()
        .map(|(a, p, _)| format!("{a}/{p}"))
        .collect()
}

/// Log global IPv6 addresses the kernel's SLAAC gave `name`, once each.
pub(crate) fn report_ipv6(name: &str, seen: &mut Vec<String>) {
    let text = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    for a in ipv6_globals(&text, name) {
        if !seen.contains(&a) {
            log(
                "netcfg",
                &format!("{name}: IPv6 {a} (SLAAC, by the kernel)"),
            );
            seen.push(a);
        }
    }
}

/// Write (or with None remove) the remembered address; failures are only
/// logged: INIT-REBOOT is an optimisation.
pub(crate) fn remember(path: &std::path::Path, addr: Option<Ipv4Addr>) {
    let r = match addr {
        Some(a) => path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                nodistro_common::atomic_file::write_atomic(path, format!("{a}\n").as_bytes())
            }),
        None => std::fs::remove_file(path).or_else(|e| match e.kind() {
            io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }),
    };
    if let Err(e) = r {
        log("netcfg", &format!("cannot update {}: {e}", path.display()));
    }
}

/// How long to watch for SLAAC addresses after start.
pub(crate) const IPV6_WATCH_MS: u64 = 30_000;

/// Static configuration (`ip=` with an address).
pub fn static_config(
    name: &str,
    lease: &Lease,
    o: &Options,
    shared: &Shared,
) -> Result<(), RunError> {
    let t0 = Instant::now();
    let iface = Iface::find(name)?;
    let mut nl = netlink(name)?;
    link_up(&mut nl, &iface, t0 + o.timeout)?;
    let target = Target {
        iface: name,
        index: iface.index,
        resolv_conf: &o.resolv_conf,
        take_hostname: o.take_hostname,
    };
    for n in target.apply(&mut nl, None, lease)? {
        log("netcfg", &format!("{name}: {n}"));
    }
    online(shared, o, name, lease, t0.elapsed());
    Ok(())
}

pub(crate) fn netlink(name: &str) -> Result<Netlink, RunError> {
    Netlink::open().map_err(|source| RunError::Socket {
        what: "rtnetlink",
        iface: name.to_string(),
        source,
    })
}

/// Bring `lo` up (errors only logged: nothing depends on it here).
pub fn loopback_up() {
    let r = Iface::find("lo").and_then(|lo| {
        netlink("lo")?
            .link_up(lo.index, None)
            .map_err(|e| RunError::LinkUp("lo".into(), e))
    });
    if let Err(e) = r {
        log("netcfg", &nodistro_common::report::chain(&e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_globals_as_addr_slash_prefix() {
        // Which lines count is v6::globals' test.
        let text = "20010db8000000001cb476fffe193ee2 05 40 00 00 eth0\n";
        assert_eq!(
            ipv6_globals(text, "eth0"),
            vec!["2001:db8::1cb4:76ff:fe19:3ee2/64".to_string()]
        );
        assert_eq!(parse_mac("02:00:0a:ff:00:01"), Some([2, 0, 10, 255, 0, 1]));
        assert_eq!(parse_mac("02:00"), None);
    }
}
