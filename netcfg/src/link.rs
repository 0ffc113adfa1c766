//! One interface's link: finds it in sysfs, brings it up, waits for
//! carrier, opens its rtnetlink socket; `lo` too. The DHCP loop over a
//! packet socket is [`crate::session`], static configuration
//! [`crate::static_ip`].

use crate::error::RunError;
use crate::rtnl::Netlink;
use nodistro_common::timeline::log;
use std::io;
use std::time::{Duration, Instant};

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
    fn macs() {
        assert_eq!(parse_mac("02:00:0a:ff:00:01"), Some([2, 0, 10, 255, 0, 1]));
        assert_eq!(parse_mac("02:00"), None);
    }
}
