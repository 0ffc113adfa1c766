//! The IO shell around the state machine: one interface, one thread. Finds
//! the interface in sysfs, brings it up, waits for carrier, runs the DHCP
//! client over a packet socket and applies what it decides.

use crate::apply::{ApplyError, Target};
use crate::dhcp::{Action, Client, ClientConfig, Dest};
use crate::frame;
use crate::lease::Lease;
use crate::rtnl::Netlink;
use crate::sys;
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

fn has_carrier(name: &str) -> bool {
    sysfs(name, "carrier").is_ok_and(|c| c == "1")
}

/// Bring `name` up (lo too) and wait for carrier until `deadline`.
fn link_up(nl: &mut Netlink, iface: &Iface, deadline: Instant) -> Result<(), RunError> {
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
fn seed() -> u64 {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::INSECURE) {
        Ok(8) => u64::from_ne_bytes(b),
        _ => u64::from(std::process::id()) ^ nodistro_common::timeline::since_boot_ms() << 20,
    }
}

fn stopped(fd: &OwnedFd) -> bool {
    let mut p = [PollFd::new(fd, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut p, Some(&zero)).is_ok_and(|n| n > 0)
}

fn online(shared: &Shared, o: &Options, iface: &str, l: &Lease, took: Duration) {
    if o.oneshot {
        println!("{}", l.summary(iface));
    }
    log(
        "netcfg",
        &format!("{} (in {} ms)", l.summary(iface), took.as_millis()),
    );
    if let (true, Ok(mut n)) = (crate::ready::up(false), shared.notifier.lock()) {
        n.notify(&format!("online {iface} {}/{}", l.addr, l.prefix));
    }
}

/// Global IPv6 addresses of interface `name` in /proc/net/if_inet6 text
/// (`<32 hex> <ifindex> <prefix> <scope> <flags> <name>`), as `addr/prefix`.
pub fn ipv6_globals(text: &str, name: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (hex, prefix, scope, dev) = (f.first()?, f.get(2)?, f.get(3)?, f.get(5)?);
            if *dev != name || *scope != "00" || hex.len() != 32 {
                return None;
            }
            let a = u128::from_str_radix(hex, 16).ok()?;
            let p = u8::from_str_radix(prefix, 16).ok()?;
            Some(format!("{}/{p}", std::net::Ipv6Addr::from(a)))
        })
        .collect()
}

/// Log global IPv6 addresses the kernel's SLAAC gave `name`, once each.
fn report_ipv6(name: &str, seen: &mut Vec<String>) {
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
fn remember(path: &std::path::Path, addr: Option<Ipv4Addr>) {
    let r = match addr {
        Some(a) => path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::apply::write_atomic(path, &format!("{a}\n"))),
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
const IPV6_WATCH_MS: u64 = 30_000;

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

fn netlink(name: &str) -> Result<Netlink, RunError> {
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

/// DHCP on one interface: returns after the first lease with `oneshot`,
/// else when `shared.stop` fires (after DHCPRELEASE and deconfiguring).
pub fn dhcp(name: &str, o: &Options, shared: &Shared) -> Result<(), RunError> {
    let t0 = Instant::now();
    let now = || t0.elapsed().as_millis() as u64;
    let iface = Iface::find(name)?;
    let mut nl = netlink(name)?;
    link_up(&mut nl, &iface, t0 + o.timeout)?;
    let sock = sys::packet_socket(iface.index).map_err(|source| RunError::Socket {
        what: "raw packet",
        iface: name.to_string(),
        source,
    })?;
    if let Err(e) = sys::enable_auxdata(&sock) {
        log(
            "netcfg",
            &format!("{name}: PACKET_AUXDATA unavailable: {e}"),
        );
    }
    let target = Target {
        iface: name,
        index: iface.index,
        resolv_conf: &o.resolv_conf,
        take_hostname: o.take_hostname,
    };
    let mut cfg = ClientConfig::new(iface.mac);
    cfg.hostname = o.hostname.clone();
    let memory = o.lease_dir.as_ref().map(|d| d.join(name));
    cfg.remembered = o.request.or_else(|| {
        let text = std::fs::read_to_string(memory.as_ref()?).ok()?;
        text.trim().parse().ok()
    });
    let mut client = Client::new(cfg, seed());
    let mut applied: Option<Lease> = None;
    let mut server_mac: Option<(Ipv4Addr, [u8; 6])> = None;
    let mut actions = client.start(now());
    let mut stopping = false;
    let events = crate::rtnl::link_events().map_err(|source| RunError::Socket {
        what: "rtnetlink link events",
        iface: name.to_string(),
        source,
    })?;
    let mut carrier = has_carrier(name);
    let mut buf = vec![0u8; 2048];
    let mut v6_seen = Vec::new();
    loop {
        if !o.oneshot && now() < IPV6_WATCH_MS {
            report_ipv6(name, &mut v6_seen);
        }
        for a in std::mem::take(&mut actions) {
            match a {
                Action::Send { payload, src, dest } => {
                    let (mac, ip) = match dest {
                        Dest::Broadcast => (frame::BROADCAST_MAC, Ipv4Addr::BROADCAST),
                        Dest::Unicast(ip) => match server_mac {
                            Some((s, mac)) if s == ip => (mac, ip),
                            _ => (frame::BROADCAST_MAC, ip),
                        },
                    };
                    let f = frame::build(iface.mac, mac, src, ip, &payload);
                    if let Err(e) = rustix::net::send(&sock, &f, rustix::net::SendFlags::empty()) {
                        log("netcfg", &format!("{name}: cannot send: {e}"));
                    }
                }
                Action::Apply(l) => {
                    for n in target.apply(&mut nl, applied.as_ref(), &l)? {
                        log("netcfg", &format!("{name}: {n}"));
                    }
                    if applied.is_none() {
                        online(shared, o, name, &l, t0.elapsed());
                    } else if applied.as_ref() != Some(&l) {
                        log("netcfg", &format!("{name}: renewed {}", l.summary(name)));
                    }
                    if let Some(m) = &memory {
                        remember(m, Some(l.addr));
                    }
                    applied = Some(l);
                    if o.oneshot {
                        return Ok(());
                    }
                }
                Action::Deconfigure(l) => {
                    target.remove(&mut nl, &l);
                    if let Some(m) = &memory {
                        remember(m, None);
                    }
                    log(
                        "netcfg",
                        &format!("{name}: removed {}/{}", l.addr, l.prefix),
                    );
                    applied = None;
                }
                Action::Log(s) => log("netcfg", &format!("{name}: {s}")),
            }
        }
        if stopping {
            return Ok(());
        }
        let mut wait = client
            .next_timeout()
            .map_or(u64::MAX, |t| t.saturating_sub(now()));
        if !o.oneshot && now() < IPV6_WATCH_MS {
            wait = wait.min(1000);
        }
        if o.oneshot {
            let left = (o.timeout.as_millis() as u64).saturating_sub(now());
            if left == 0 {
                return Err(RunError::Timeout(name.to_string(), o.timeout.as_secs()));
            }
            wait = wait.min(left);
        }
        let ts = Timespec {
            tv_sec: (wait / 1000).min(86_400) as i64,
            tv_nsec: ((wait % 1000) * 1_000_000) as i64,
        };
        let mut fds = [
            PollFd::new(&sock, PollFlags::IN),
            PollFd::new(&shared.stop, PollFlags::IN),
            PollFd::new(&events, PollFlags::IN),
        ];
        let _ = poll(&mut fds, Some(&ts));
        if !fds[2].revents().is_empty() {
            while rustix::net::recv(&events, &mut buf[..], rustix::net::RecvFlags::DONTWAIT).is_ok()
            {
            }
            let now_up = has_carrier(name);
            if now_up != carrier {
                carrier = now_up;
                if now_up {
                    log(
                        "netcfg",
                        &format!("{name}: carrier back; confirming the lease"),
                    );
                    actions.extend(client.link_returned(now()));
                } else {
                    log("netcfg", &format!("{name}: carrier lost"));
                }
            }
        }
        if stopped(&shared.stop) {
            actions = client.stop(now());
            stopping = true;
            continue;
        }
        while let Ok((n, csum_not_ready)) = sys::recv_frame(&sock, &mut buf) {
            let f = &buf[..n.min(buf.len())];
            actions.extend(client.handle_frame(f, !csum_not_ready, now()));
            // Unicast renewals go to the MAC our server's replies come from.
            if let (Ok(d), Some(l)) = (frame::parse(f, true), client.lease()) {
                if d.src_ip == l.server {
                    server_mac = Some((d.src_ip, d.src_mac));
                }
            }
        }
        actions.extend(client.handle_timeout(now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_global_addresses_only() {
        let text = "fe800000000000001cb476fffe193ee2 05 40 20 80 eth0\n\
                    20010db8000000001cb476fffe193ee2 05 40 00 00 eth0\n\
                    20010db8000000000000000000000001 06 40 00 00 eth1\n\
                    garbage\n";
        assert_eq!(
            ipv6_globals(text, "eth0"),
            vec!["2001:db8::1cb4:76ff:fe19:3ee2/64".to_string()]
        );
        assert_eq!(parse_mac("02:00:0a:ff:00:01"), Some([2, 0, 10, 255, 0, 1]));
        assert_eq!(parse_mac("02:00"), None);
    }
}
