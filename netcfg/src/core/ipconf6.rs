//! dracut's IPv6 forms of `ip=`: `dhcp6`, `auto6`, `<iface>:dhcp6`,
//! `<iface>:auto6`, and static
//! `[<addr>]:[<peer>]:[<gw>]:<prefixlen>:<hostname>:<iface>:none` (IPv6
//! addresses in brackets). Sans-IO.

use std::net::Ipv6Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Follow router advertisements; DHCPv6 as their M/O flags say.
    Auto6,
    /// DHCPv6 for an address at once (and follow RAs).
    Dhcp6,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Static6 {
    pub addr: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Option<Ipv6Addr>,
    pub hostname: Option<String>,
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ip6 {
    Dynamic { mode: Mode, device: Option<String> },
    Static(Static6),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ip6Error {
    #[error("ip= field {field} {value:?} is not an IPv6 address in brackets")]
    BadAddr { field: &'static str, value: String },
    #[error("ip= prefix length {0:?} is not a number from 1 to 128")]
    BadPrefix(String),
    #[error("ip= with an IPv6 address ends in {0:?}; only none/off is supported there")]
    BadAutoconf(String),
    #[error("ip= has an unclosed '['")]
    Unclosed,
}

/// Split on ':' outside brackets.
fn fields(v: &str) -> Result<Vec<&str>, Ip6Error> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (false, 0);
    for (i, c) in v.char_indices() {
        match c {
            '[' => depth = true,
            ']' => depth = false,
            ':' if !depth => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth {
        return Err(Ip6Error::Unclosed);
    }
    out.push(&v[start..]);
    Ok(out)
}

fn addr(field: &'static str, v: &str) -> Result<Option<Ipv6Addr>, Ip6Error> {
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || Ip6Error::BadAddr {
        field,
        value: v.to_string(),
    };
    let inner = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?;
    inner.parse().map(Some).map_err(|_| bad())
}

/// Parse `ip=` if it is one of the IPv6 forms (None: it is not; the
/// IPv4 parser takes it). A bad host name is dropped with a warning.
// Out of line: see ipconf::parse.
#[inline(never)]
pub fn parse(value: &str) -> Option<Result<(Ip6, Option<String>), Ip6Error>> {
    let v = value.trim();
    let word = |w: &str| match w {
        "dhcp6" => Some(Mode::Dhcp6),
        "auto6" => Some(Mode::Auto6),
        _ => None,
    };
    if let Some(mode) = word(v) {
        return Some(Ok((Ip6::Dynamic { mode, device: None }, None)));
    }
    if let Some((dev, w)) = v.split_once(':') {
        if let Some(mode) = word(w.split(':').next().unwrap_or("")) {
            if !dev.is_empty() && !dev.starts_with('[') {
                let device = Some(dev.to_string());
                return Some(Ok((Ip6::Dynamic { mode, device }, None)));
            }
        }
    }
    if !v.starts_with('[') {
        return None;
    }
    Some(parse_static(v))
}

fn parse_static(v: &str) -> Result<(Ip6, Option<String>), Ip6Error> {
    let f = fields(v)?;
    let get = |i: usize| f.get(i).copied().unwrap_or("");
    let Some(a) = addr("client-ip", get(0))? else {
        return Err(Ip6Error::BadAddr {
            field: "client-ip",
            value: String::new(),
        });
    };
    addr("server-ip", get(1))?;
    let gateway = addr("gw-ip", get(2))?;
    let prefix = match get(3) {
        "" => 64,
        p => p
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=128).contains(p))
            .ok_or_else(|| Ip6Error::BadPrefix(p.to_string()))?,
    };
    let mut warning = None;
    let hostname = match get(4) {
        "" => None,
        h => {
            let ok = crate::core::lease::valid_name(h, 64);
            if ok.is_none() {
                warning = Some(format!(
                    "ip= hostname {h:?} is not a valid host name; ignored"
                ));
            }
            ok
        }
    };
    let device = Some(get(5)).filter(|d| !d.is_empty()).map(String::from);
    match get(6) {
        "" | "none" | "off" => {}
        o => return Err(Ip6Error::BadAutoconf(o.to_string())),
    }
    Ok((
        Ip6::Static(Static6 {
            addr: a,
            prefix,
            gateway,
            hostname,
            device,
        }),
        warning,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let dynamic = |s: &str| parse(s).expect("ipv6 form").expect("parses").0;
        assert_eq!(
            dynamic("dhcp6"),
            Ip6::Dynamic {
                mode: Mode::Dhcp6,
                device: None
            }
        );
        assert_eq!(
            dynamic("eth1:auto6"),
            Ip6::Dynamic {
                mode: Mode::Auto6,
                device: Some("eth1".into())
            }
        );
        assert!(parse("dhcp").is_none());
        assert!(parse("10.0.0.2::10.0.0.1:255.255.255.0::eth0:none").is_none());
        let Ip6::Static(s) = dynamic("[2001:db8::2]::[2001:db8::1]:64:box:eth0:none") else {
            panic!("static expected")
        };
        assert_eq!(s.addr, "2001:db8::2".parse::<Ipv6Addr>().expect("a"));
        assert_eq!(s.gateway, Some("2001:db8::1".parse().expect("a")));
        assert_eq!(
            (s.prefix, s.hostname.as_deref(), s.device.as_deref()),
            (64, Some("box"), Some("eth0"))
        );
        assert!(matches!(
            parse("[2001:db8::2]:::200::eth0:none"),
            Some(Err(Ip6Error::BadPrefix(_)))
        ));
        assert!(matches!(
            parse("[2001:db8::zz]:::64::eth0:none"),
            Some(Err(Ip6Error::BadAddr { .. }))
        ));
        assert!(matches!(
            parse("[2001:db8::2:::64"),
            Some(Err(Ip6Error::Unclosed))
        ));
        assert!(matches!(
            parse("[2001:db8::2]:::64::eth0:dhcp"),
            Some(Err(Ip6Error::BadAutoconf(_)))
        ));
    }
}
