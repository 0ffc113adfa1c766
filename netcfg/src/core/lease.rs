//! A lease as netcfg applies it, built from a DHCPACK (or `ip=`) and
//! sanitised: whatever a hostile server sends, nothing malformed reaches the
//! routing table, resolv.conf or the host name. Sans-IO.

use crate::core::msg::{self, Msg};
use std::net::Ipv4Addr;

/// A route to install on the interface. The default route is `0.0.0.0/0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dest: Ipv4Addr,
    pub prefix: u8,
    /// None: on-link.
    pub gateway: Option<Ipv4Addr>,
}

/// Everything netcfg configures from one lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub broadcast: Ipv4Addr,
    /// The DHCP server (option 54); unspecified for static configuration.
    pub server: Ipv4Addr,
    pub routes: Vec<Route>,
    pub dns: Vec<Ipv4Addr>,
    /// NTP servers (option 42; `ip=`'s ntp0-ip), at most 3.
    pub ntp: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    /// Option 119, validated like `domain`.
    pub search: Vec<String>,
    pub hostname: Option<String>,
    pub mtu: Option<u16>,
    /// Seconds; `u32::MAX` is infinite; at least [`MIN_LEASE_SECS`].
    pub lease_secs: u32,
    /// Renewal (T1) and rebinding (T2) times in milliseconds after the
    /// lease began (milliseconds: seconds truncated short leases' defaults
    /// to 0); `u64::MAX` for an infinite lease.
    pub t1_ms: u64,
    pub t2_ms: u64,
}

/// The shortest lease netcfg keeps: a shorter one (Kea allows 1 s) is
/// treated as this long, so that the client, which sends at most one
/// REQUEST a second, renews it in time and the address stays.
pub const MIN_LEASE_SECS: u32 = 4;

impl Lease {
    /// The first gateway of the default route, for the console line.
    pub fn router(&self) -> Option<Ipv4Addr> {
        self.routes
            .iter()
            .find(|r| r.prefix == 0)
            .and_then(|r| r.gateway)
    }

    /// `eth0 10.0.0.5/24 router 10.0.0.1 dns 10.0.0.1 lease 3600s`
    pub fn summary(&self, iface: &str) -> String {
        let mut s = format!("{iface} {}/{}", self.addr, self.prefix);
        if let Some(r) = self.router() {
            s += &format!(" router {r}");
        }
        if !self.dns.is_empty() {
            let d: Vec<String> = self.dns.iter().map(|a| a.to_string()).collect();
            s += &format!(" dns {}", d.join(","));
        }
        if let Some(d) = &self.domain {
            s += &format!(" domain {d}");
        }
        if !self.ntp.is_empty() {
            let n: Vec<String> = self.ntp.iter().map(|a| a.to_string()).collect();
            s += &format!(" ntp {}", n.join(","));
        }
        if self.lease_secs == u32::MAX {
            s += " lease infinite";
        } else if self.lease_secs > 0 {
            s += &format!(" lease {}s", self.lease_secs);
        }
        s
    }
}

/// Prefix length of a contiguous netmask.
pub fn mask_to_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let p = m.leading_ones();
    (m.checked_shl(p).unwrap_or(0) == 0).then_some(p as u8)
}

pub fn prefix_mask(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

/// Classful default prefix (what the kernel's `ip=` and old clients assume).
pub fn classful_prefix(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

pub fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let m = prefix_mask(prefix);
    u32::from(a) & m == u32::from(b) & m
}

pub fn broadcast_of(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) | !prefix_mask(prefix))
}

/// The longest host name sethostname(2) takes (HOST_NAME_MAX).
pub const HOSTNAME_MAX: usize = 64;
/// The longest DNS name (RFC 1035, without the trailing dot).
pub const DNS_NAME_MAX: usize = 253;

/// A DNS name safe for resolv.conf and sethostname: RFC 1123 labels of
/// letters, digits and '-', 1..=63 bytes each, at most `max` bytes in all.
/// A trailing dot is dropped.
pub fn valid_name(name: &str, max: usize) -> Option<String> {
    check_name(name, max).ok()
}

/// [`valid_name`], or why not, as the end of a sentence naming the value
/// ("is 252 bytes, over the 64-byte limit of sethostname").
pub fn check_name(name: &str, max: usize) -> Result<String, String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > max {
        let of = if max == HOSTNAME_MAX {
            "sethostname"
        } else {
            "DNS names"
        };
        return Err(format!(
            "is {} bytes, over the {max}-byte limit of {of}",
            name.len()
        ));
    }
    let ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !ok {
        return Err(
            "is not a valid DNS name (dot-separated labels of 1-63 letters, digits and '-')".into(),
        );
    }
    Ok(name.to_string())
}

fn usable_host(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_broadcast() || a.is_loopback() || a.is_multicast())
}

/// Build a lease from a DHCPOFFER/DHCPACK. `Err` is why it cannot be used;
/// the warnings say what was dropped or sanitised.
// long: one step per DHCP option, each sanitising one field of the lease.
pub fn from_reply(msg: &Msg, sender: Ipv4Addr) -> Result<(Lease, Vec<String>), String> {
    let mut warn = Vec::new();
    let addr = msg.yiaddr;
    if !usable_host(addr) {
        return Err(format!(
            "offered address {addr} is not a usable host address"
        ));
    }
    let server = msg
        .ip(msg::OPT_SERVER_ID)
        .filter(|s| usable_host(*s))
        .unwrap_or(sender);
    let lease_secs = match msg.u32(msg::OPT_LEASE_TIME) {
        Some(0) => return Err("lease time is 0".into()),
        Some(t) => t,
        None => return Err("no lease time (option 51)".into()),
    };
    let prefix = match msg.opt(msg::OPT_SUBNET_MASK) {
        None => classful_prefix(addr),
        Some(_) => match msg.ip(msg::OPT_SUBNET_MASK).and_then(mask_to_prefix) {
            Some(p) if (1..=30).contains(&p) => p,
            _ => {
                let p = classful_prefix(addr);
                warn.push(format!(
                    "netmask option is not a usable netmask; using /{p}"
                ));
                p
            }
        },
    };
    let broadcast = broadcast_of(addr, prefix);
    if addr == broadcast || u32::from(addr) & !prefix_mask(prefix) == 0 {
        return Err(format!(
            "offered address {addr}/{prefix} is the network or broadcast address"
        ));
    }
    let on_link = |gw: Ipv4Addr| usable_host(gw) && same_subnet(gw, addr, prefix) && gw != addr;
    let mut routes = Vec::new();
    if let Some(data) = msg.opt(msg::OPT_CLASSLESS_ROUTES) {
        match msg::classless_routes(data) {
            None => warn.push("classless static routes (option 121) malformed; ignored".into()),
            Some(list) => {
                for (dest, p, gw) in list {
                    let gateway = (!gw.is_unspecified()).then_some(gw);
                    if gateway.is_some_and(|g| !on_link(g)) {
                        warn.push(format!(
                            "classless route {dest}/{p} via {gw}: gateway outside {addr}/{prefix}; route dropped"
                        ));
                        continue;
                    }
                    let dest = Ipv4Addr::from(u32::from(dest) & prefix_mask(p));
                    routes.push(Route {
                        dest,
                        prefix: p,
                        gateway,
                    });
                }
            }
        }
    } else if let Some(list) = msg.ips(msg::OPT_ROUTER) {
        match list.iter().copied().find(|g| on_link(*g)) {
            Some(g) => routes.push(Route {
                dest: Ipv4Addr::UNSPECIFIED,
                prefix: 0,
                gateway: Some(g),
            }),
            None => warn.push(format!(
                "router {list:?} outside {addr}/{prefix}; no default route"
            )),
        }
    }
    let mut dns = Vec::new();
    let mut ntp = Vec::new();
    for a in msg.ips(msg::OPT_NTP).unwrap_or_default() {
        if !usable_host(a) {
            warn.push(format!("NTP server {a} dropped"));
        } else if ntp.len() < 3 && !ntp.contains(&a) {
            ntp.push(a);
        }
    }
    for a in msg.ips(msg::OPT_DNS).unwrap_or_default() {
        if !usable_host(a) {
            warn.push(format!("DNS server {a} dropped"));
        } else if dns.len() < 3 && !dns.contains(&a) {
            dns.push(a);
        }
    }
    let mut name = |code, what: &str, max| {
        let raw = msg.opt(code)?;
        let text = String::from_utf8_lossy(raw);
        check_name(&text, max)
            .map_err(|why| warn.push(format!("{what} {text:?} {why}; ignored")))
            .ok()
    };
    let domain = name(msg::OPT_DOMAIN, "DomainName", DNS_NAME_MAX);
    let hostname = name(msg::OPT_HOSTNAME, "Hostname", HOSTNAME_MAX);
    let mut search = Vec::new();
    if let Some(d) = msg.opt(msg::OPT_DOMAIN_SEARCH) {
        for n in msg::domain_search(d).unwrap_or_else(|| {
            warn.push("domain search (option 119) malformed; ignored".into());
            Vec::new()
        }) {
            match valid_name(&n, 253) {
                Some(v) if search.len() < 6 && Some(&v) != domain.as_ref() => search.push(v),
                Some(_) => {}
                None => warn.push(format!(
                    "search domain {n:?} is not a valid DNS name; ignored"
                )),
            }
        }
    }
    let mtu = match msg.u16(msg::OPT_MTU) {
        Some(m) if m >= 576 => Some(m),
        Some(m) => {
            warn.push(format!("MTU {m} below 576; ignored"));
            None
        }
        None => None,
    };
    let lease_secs = if lease_secs < MIN_LEASE_SECS {
        warn.push(format!(
            "lease {lease_secs}s is shorter than {MIN_LEASE_SECS}s; keeping the address {MIN_LEASE_SECS}s and renewing every {}s",
            MIN_LEASE_SECS / 2
        ));
        MIN_LEASE_SECS
    } else {
        lease_secs
    };
    let (t1_ms, t2_ms) = timers_ms(
        lease_secs,
        msg.u32(msg::OPT_T1),
        msg.u32(msg::OPT_T2),
        &mut warn,
    );
    Ok((
        Lease {
            addr,
            prefix,
            broadcast,
            server,
            routes,
            dns,
            ntp,
            domain,
            search,
            hostname,
            mtu,
            lease_secs,
            t1_ms,
            t2_ms,
        },
        warn,
    ))
}

/// T1 and T2 in ms: the server's (if consistent), else RFC 2131's 1/2 and
/// 7/8 of the lease, computed in ms so a short lease keeps non-zero ones.
fn timers_ms(lease: u32, t1: Option<u32>, t2: Option<u32>, warn: &mut Vec<String>) -> (u64, u64) {
    if lease == u32::MAX {
        return (u64::MAX, u64::MAX);
    }
    let lease_ms = u64::from(lease) * 1000;
    let (d1, d2) = (lease_ms / 2, lease_ms / 8 * 7);
    let given2 = t2.map_or(d2, |t| u64::from(t) * 1000);
    let given1 = t1.map_or(d1.min(given2), |t| u64::from(t) * 1000);
    if given1 <= given2 && given2 <= lease_ms {
        (given1, given2)
    } else {
        warn.push(format!(
            "T1 {}s / T2 {}s inconsistent with lease {lease}s; using defaults",
            given1 / 1000,
            given2 / 1000
        ));
        (d1, d2)
    }
}

/// The first line of every resolv.conf netcfg writes; alone, the file
/// left when a lease's servers are gone.
pub const RESOLV_HEADER: &str = "# written by nodistro netcfg\n";

/// The resolv.conf text for a lease (None: nothing to write).
pub fn resolv_conf(lease: &Lease) -> Option<String> {
    if lease.dns.is_empty() {
        return None;
    }
    let mut s = String::from(RESOLV_HEADER);
    let search: Vec<&str> = lease
        .domain
        .iter()
        .chain(&lease.search)
        .map(String::as_str)
        .collect();
    if !search.is_empty() {
        s += &format!("search {}\n", search.join(" "));
    }
    for d in &lease.dns {
        s += &format!("nameserver {d}\n");
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::{self, DhcpOption, Message, OptionCode, UnknownOption};
    use dhcproto::Encodable;

    /// Encoded by dhcproto, decoded by ours: two implementations agree.
    fn from_reply(m: &Message, sender: Ipv4Addr) -> Result<(Lease, Vec<String>), String> {
        super::from_reply(
            &Msg::decode(&m.to_vec().expect("encodes")).expect("decodes"),
            sender,
        )
    }

    fn ack(opts: Vec<DhcpOption>) -> Message {
        let mut m = Message::new_with_id(
            1,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(10, 0, 0, 5),
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &[2, 0, 0, 0, 0, 9],
        );
        m.set_opcode(v4::Opcode::BootReply);
        m.opts_mut()
            .insert(DhcpOption::MessageType(v4::MessageType::Ack));
        for o in opts {
            m.opts_mut().insert(o);
        }
        m
    }

    fn base() -> Vec<DhcpOption> {
        vec![
            DhcpOption::AddressLeaseTime(3600),
            DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
            DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 0, 1)),
        ]
    }

    #[test]
    fn good_ack() {
        let mut o = base();
        o.push(DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]));
        o.push(DhcpOption::DomainNameServer(vec![
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::UNSPECIFIED,
        ]));
        o.push(DhcpOption::DomainName("lan.example".into()));
        o.push(DhcpOption::InterfaceMtu(1400));
        let names = ["a.example.", "b.example."].map(|n| n.parse().expect("name"));
        o.push(DhcpOption::DomainSearch(names.to_vec()));
        let (l, w) = from_reply(&ack(o), Ipv4Addr::new(10, 0, 0, 1)).expect("lease");
        assert_eq!((l.prefix, l.broadcast), (24, Ipv4Addr::new(10, 0, 0, 255)));
        assert_eq!(l.router(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(l.dns, vec![Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!((l.t1_ms, l.t2_ms), (1_800_000, 3_150_000));
        assert_eq!(l.mtu, Some(1400));
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(
            resolv_conf(&l).as_deref(),
            Some("# written by nodistro netcfg\nsearch lan.example a.example b.example\nnameserver 10.0.0.1\n")
        );
    }

    #[test]
    fn hostile_values_are_dropped() {
        let mut o = base();
        o.push(DhcpOption::Router(vec![Ipv4Addr::new(192, 168, 9, 1)]));
        o.push(DhcpOption::DomainName(
            "evil.com\nnameserver 6.6.6.6".into(),
        ));
        o.push(DhcpOption::Hostname("$(reboot);x".into()));
        o.push(DhcpOption::InterfaceMtu(100));
        o.push(DhcpOption::Renewal(5000));
        let (l, w) = from_reply(&ack(o), Ipv4Addr::new(10, 0, 0, 1)).expect("lease");
        assert!(l.routes.is_empty());
        assert_eq!((l.domain, l.hostname, l.mtu), (None, None, None));
        assert_eq!((l.t1_ms, l.t2_ms), (1_800_000, 3_150_000));
        assert_eq!(w.len(), 5, "{w:?}");
        let long = "a".repeat(64);
        assert_eq!(valid_name(&format!("{long}.com"), 253), None);
        assert_eq!(valid_name("ok-host.", 64).as_deref(), Some("ok-host"));
        assert_eq!(valid_name(&"a.".repeat(40), 64), None);
    }

    /// Issue 15 defect 10: a 252-character host name was refused as "not a
    /// valid DNS name"; the real reason is sethostname's 64-byte limit.
    #[test]
    fn long_host_names_say_which_limit() {
        let name = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(60),
        ]
        .join(".");
        assert_eq!(name.len(), 252);
        let why = check_name(&name, HOSTNAME_MAX).expect_err("too long");
        assert_eq!(why, "is 252 bytes, over the 64-byte limit of sethostname");
        assert_eq!(
            check_name(&name, DNS_NAME_MAX).as_deref(),
            Ok(name.as_str())
        );
        let mut o = base();
        o.push(DhcpOption::Hostname(name));
        let (l, w) = from_reply(&ack(o), Ipv4Addr::new(10, 0, 0, 1)).expect("lease");
        assert_eq!(l.hostname, None);
        assert!(
            w.iter().any(|w| w.contains("64-byte limit of sethostname")),
            "{w:?}"
        );
        assert!(check_name("a_b", 64)
            .expect_err("bad")
            .contains("not a valid DNS name"));
    }

    #[test]
    fn lease_time_zero_or_missing_is_rejected() {
        let mut o = base();
        o[0] = DhcpOption::AddressLeaseTime(0);
        assert!(from_reply(&ack(o), Ipv4Addr::new(10, 0, 0, 1)).is_err());
        let o = base()[1..].to_vec();
        assert!(from_reply(&ack(o), Ipv4Addr::new(10, 0, 0, 1)).is_err());
    }

    #[test]
    fn classless_routes_replace_router() {
        let mut o = base();
        o.push(DhcpOption::Router(vec![Ipv4Addr::new(10, 0, 0, 1)]));
        // 0.0.0.0/0 via 10.0.0.2 ; 172.16/12 via 10.0.0.3 ; 8/8 via 1.2.3.4 (off-link)
        o.push(DhcpOption::Unknown(UnknownOption::new(
            OptionCode::ClasslessStaticRoute,
            vec![0, 10, 0, 0, 2, 12, 172, 16, 10, 0, 0, 3, 8, 8, 1, 2, 3, 4],
        )));
        let (l, w) = from_reply(&ack(o), Ipv4Addr::new(10, 0, 0, 1)).expect("lease");
        assert_eq!(l.router(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(l.routes.len(), 2);
        assert_eq!(l.routes[1].prefix, 12);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn masks() {
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 255, 240, 0)), Some(20));
        assert_eq!(mask_to_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(mask_to_prefix(Ipv4Addr::UNSPECIFIED), Some(0));
        assert_eq!(prefix_mask(0), 0);
        assert_eq!(prefix_mask(32), u32::MAX);
    }
}
