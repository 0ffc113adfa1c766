//! `net`, sans-IO: links (from /sys/class/net), addresses (an rtnetlink
//! address dump), routes (/proc/net/route), DNS (resolv.conf) and netcfg's
//! DHCP state (/run/netcfg/IFACE.state) to console lines.

use crate::core::width::fit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub index: u32,
    pub operstate: String,
    pub carrier: Option<bool>,
    /// Mb/s, when the driver tells.
    pub speed: Option<i64>,
    pub mac: String,
    pub driver: Option<String>,
    pub mtu: String,
}

/// One address from the dump: (interface index, address, prefix length).
pub type Addr = (u32, IpAddr, u8);

const NLMSG_DONE: u16 = 3;
const RTM_NEWADDR: u16 = 20;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Parse an RTM_GETADDR dump reply. Returns the addresses and whether the
/// dump is complete (NLMSG_DONE seen). Malformed messages end the parse.
pub fn parse_addr_dump(mut buf: &[u8], out: &mut Vec<Addr>) -> bool {
    while buf.len() >= 16 {
        let (Some(len), Some(ty)) = (u32_at(buf, 0), u16_at(buf, 4)) else {
            return true;
        };
        let len = len as usize;
        if len < 16 || len > buf.len() {
            return true;
        }
        let msg = &buf[16..len];
        if ty == NLMSG_DONE || ty == 2 {
            return true;
        }
        if ty == RTM_NEWADDR && msg.len() >= 8 {
            let (family, prefix) = (msg[0], msg[1]);
            let index = u32_at(msg, 4).unwrap_or(0);
            let mut attrs = &msg[8..];
            let (mut addr, mut local) = (None, None);
            while attrs.len() >= 4 {
                let (Some(alen), Some(aty)) = (u16_at(attrs, 0), u16_at(attrs, 2)) else {
                    break;
                };
                let alen = alen as usize;
                if alen < 4 || alen > attrs.len() {
                    break;
                }
                let data = &attrs[4..alen];
                let ip = match (family, data.len()) {
                    (2, 4) => Some(IpAddr::V4(Ipv4Addr::new(
                        data[0], data[1], data[2], data[3],
                    ))),
                    (10, 16) => <[u8; 16]>::try_from(data)
                        .ok()
                        .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                    _ => None,
                };
                match aty {
                    IFA_ADDRESS => addr = ip,
                    IFA_LOCAL => local = ip,
                    _ => {}
                }
                attrs = attrs.get((alen + 3) & !3..).unwrap_or(&[]);
            }
            if let Some(ip) = local.or(addr) {
                out.push((index, ip, prefix));
            }
        }
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or(&[]);
    }
    false
}

/// The RTM_GETADDR dump request (all families).
pub fn addr_dump_request(seq: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(24);
    m.extend_from_slice(&24u32.to_ne_bytes());
    m.extend_from_slice(&22u16.to_ne_bytes()); // RTM_GETADDR
    m.extend_from_slice(&(0x1u16 | 0x300).to_ne_bytes()); // REQUEST | DUMP
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0u8; 8]); // ifaddrmsg, AF_UNSPEC
    m
}

/// IPv4 routes from /proc/net/route: (iface, destination/prefix, gateway).
pub fn routes(text: &str) -> Vec<(String, String, Option<Ipv4Addr>)> {
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.swap_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dest, gw, mask) = (hex(f.get(1)?)?, hex(f.get(2)?)?, hex(f.get(7)?)?);
            let prefix = u32::from(mask).count_ones();
            let d = if prefix == 0 {
                "default".to_string()
            } else {
                format!("{dest}/{prefix}")
            };
            Some((f[0].to_string(), d, (!gw.is_unspecified()).then_some(gw)))
        })
        .collect()
}

/// `nameserver` lines of resolv.conf.
pub fn nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// netcfg's state file (`key=value` lines) to one line, lease times
/// counted from `now_ms` (ms since boot).
pub fn dhcp_line(state: &str, now_ms: u64) -> String {
    let get = |k: &str| {
        state
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(str::trim)
    };
    let mut out = format!("dhcp {}", get("state").unwrap_or("unknown"));
    if let Some(s) = get("server") {
        out += &format!(" from {s}");
    }
    let at: Option<u64> = get("bound_at_ms").and_then(|v| v.parse().ok());
    let secs = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok());
    if let (Some(at), Some(lease)) = (at, secs("lease_s")) {
        let age = now_ms.saturating_sub(at) / 1000;
        if lease == u64::from(u32::MAX) {
            out += ", lease infinite";
        } else {
            out += &format!(", lease {lease} s, {} s left", lease.saturating_sub(age));
            if let Some(t1) = secs("t1_s") {
                out += &format!(", renew in {} s", t1.saturating_sub(age));
            }
        }
    }
    out
}

/// The whole `net` text. `dhcp` holds (iface, state file text).
pub fn net(
    links: &[Link],
    addrs: &[Addr],
    routes: &[(String, String, Option<Ipv4Addr>)],
    dns: &[String],
    dhcp: &[(String, String)],
    now_ms: u64,
) -> String {
    let mut out = String::new();
    for l in links {
        let carrier = match l.carrier {
            Some(true) => "carrier",
            Some(false) => "NO CARRIER",
            None => "carrier unknown",
        };
        let speed = match l.speed {
            Some(s) if s > 0 => format!(" {s}Mb/s"),
            _ => String::new(),
        };
        let drv = l.driver.as_deref().unwrap_or("-");
        out += &fit(&format!(
            "{}: {} {carrier}{speed} mtu {} {} driver {drv}",
            l.name, l.operstate, l.mtu, l.mac
        ));
        out.push('\n');
        for (_, ip, p) in addrs.iter().filter(|a| a.0 == l.index) {
            out += &fit(&format!(
                "    inet{} {ip}/{p}",
                if ip.is_ipv6() { "6" } else { "" }
            ));
            out.push('\n');
        }
        if !addrs.iter().any(|a| a.0 == l.index && a.1.is_ipv4()) {
            out += "    no IPv4 address\n";
        }
        if let Some((_, st)) = dhcp.iter().find(|(i, _)| *i == l.name) {
            out += &fit(&format!("    {}", dhcp_line(st, now_ms)));
            out.push('\n');
        }
    }
    out += "routes:\n";
    if routes.is_empty() {
        out += "    none\n";
    }
    for (dev, dest, gw) in routes {
        let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
        out += &fit(&format!("    {dest}{via} dev {dev}"));
        out.push('\n');
    }
    out += &fit(&format!(
        "dns: {}",
        if dns.is_empty() {
            "none".to_string()
        } else {
            dns.join(" ")
        }
    ));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlmsg(ty: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend(((16 + body.len()) as u32).to_ne_bytes());
        m.extend(ty.to_ne_bytes());
        m.extend([0u8; 10]);
        m.extend(body);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn addr_msg(index: u32, family: u8, prefix: u8, ip: &[u8]) -> Vec<u8> {
        let mut b = vec![family, prefix, 0, 0];
        b.extend(index.to_ne_bytes());
        b.extend(((4 + ip.len()) as u16).to_ne_bytes());
        b.extend(IFA_LOCAL.to_ne_bytes());
        b.extend(ip);
        nlmsg(RTM_NEWADDR, &b)
    }

    #[test]
    fn address_dump() {
        let mut buf = addr_msg(2, 2, 24, &[10, 0, 2, 15]);
        let mut v6 = [0u8; 16];
        v6[0] = 0xfe;
        v6[1] = 0x80;
        v6[15] = 1;
        buf.extend(addr_msg(2, 10, 64, &v6));
        let mut out = Vec::new();
        assert!(!parse_addr_dump(&buf, &mut out));
        buf.extend(nlmsg(NLMSG_DONE, &[0; 4]));
        out.clear();
        assert!(parse_addr_dump(&buf, &mut out));
        assert_eq!(out[0], (2, IpAddr::V4(Ipv4Addr::new(10, 0, 2, 15)), 24));
        assert_eq!(out[1].1.to_string(), "fe80::1");
        // Truncations and lies never panic.
        for cut in 0..buf.len() {
            let _ = parse_addr_dump(&buf[..cut], &mut Vec::new());
        }
        let mut bad = buf.clone();
        bad[20 + 8] = 0xff;
        let _ = parse_addr_dump(&bad, &mut Vec::new());
        assert_eq!(addr_dump_request(7).len(), 24);
    }

    #[test]
    fn routes_dns_and_the_whole_page() {
        let r = routes(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
        );
        assert_eq!(
            r[0],
            (
                "eth0".into(),
                "default".into(),
                Some(Ipv4Addr::new(10, 0, 2, 2))
            )
        );
        assert_eq!(r[1], ("eth0".into(), "10.0.2.0/24".into(), None));
        assert_eq!(
            nameservers("# x\nnameserver 10.0.2.3\nsearch lan\n"),
            ["10.0.2.3"]
        );
        let st = "iface=eth0\nstate=bound\nserver=10.0.2.2\nlease_s=86400\nt1_s=43200\nbound_at_ms=1000\n";
        assert_eq!(
            dhcp_line(st, 11_000),
            "dhcp bound from 10.0.2.2, lease 86400 s, 86390 s left, renew in 43190 s"
        );
        let links = [
            Link {
                name: "eth0".into(),
                index: 2,
                operstate: "up".into(),
                carrier: Some(true),
                speed: Some(-1),
                mac: "52:54:00:12:34:56".into(),
                driver: Some("virtio_net".into()),
                mtu: "1500".into(),
            },
            Link {
                name: "eth1".into(),
                index: 3,
                operstate: "down".into(),
                carrier: Some(false),
                ..Default::default()
            },
        ];
        let addrs = [(2, IpAddr::V4(Ipv4Addr::new(10, 0, 2, 15)), 24)];
        let t = net(
            &links,
            &addrs,
            &r,
            &["10.0.2.3".into()],
            &[("eth0".into(), st.into())],
            11_000,
        );
        assert!(t.starts_with("eth0: up carrier mtu 1500 52:54:00:12:34:56 driver virtio_net\n    inet 10.0.2.15/24\n    dhcp bound"), "{t}");
        assert!(t.contains("eth1: down NO CARRIER"), "{t}");
        assert!(t.contains("    no IPv4 address"), "{t}");
        assert!(t.contains("    default via 10.0.2.2 dev eth0"), "{t}");
        assert!(t.ends_with("dns: 10.0.2.3\n"));
        assert!(t.lines().all(|l| l.chars().count() <= 80));
    }
}
