//! The kernel's `ip=` parameter (Documentation/admin-guide/nfs/nfsroot.rst):
//! `ip=off|none`, `ip=dhcp|on|any|bootp|rarp|both`, or
//! `ip=<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>:<ntp0>`
//! with any field empty or left off the end. Sans-IO.

use crate::core::lease::{self, Lease, Route};
use std::net::Ipv4Addr;

/// What `ip=` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpConfig {
    Off,
    /// DHCP on `device` (None: every ethernet interface).
    Dhcp {
        device: Option<String>,
        hostname: Option<String>,
    },
    Static(Static),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Static {
    pub client: Ipv4Addr,
    pub server: Option<Ipv4Addr>,
    pub gateway: Option<Ipv4Addr>,
    pub prefix: u8,
    pub hostname: Option<String>,
    pub device: Option<String>,
    pub dns: Vec<Ipv4Addr>,
    pub ntp: Option<Ipv4Addr>,
}

impl Static {
    /// The configuration as a lease that never expires.
    pub fn lease(&self) -> Lease {
        Lease {
            addr: self.client,
            prefix: self.prefix,
            broadcast: lease::broadcast_of(self.client, self.prefix),
            server: Ipv4Addr::UNSPECIFIED,
            routes: self
                .gateway
                .map(|g| Route {
                    dest: Ipv4Addr::UNSPECIFIED,
                    prefix: 0,
                    gateway: Some(g),
                })
                .into_iter()
                .collect(),
            dns: self.dns.clone(),
            ntp: self.ntp.into_iter().collect(),
            domain: None,
            search: vec![],
            hostname: self.hostname.clone(),
            mtu: None,
            lease_secs: u32::MAX,
            t1_ms: u64::MAX,
            t2_ms: u64::MAX,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpError {
    #[error("ip= field {field} {value:?} is not an IPv4 address")]
    BadAddr { field: &'static str, value: String },
    #[error("ip= netmask {0:?} is not a contiguous IPv4 netmask")]
    BadMask(String),
    #[error("ip= autoconf {0:?} is not one of off, none, on, any, dhcp, bootp, rarp, both")]
    BadAutoconf(String),
    #[error("ip= has more than 10 ':'-separated fields")]
    TooManyFields,
}

fn addr(field: &'static str, v: &str) -> Result<Option<Ipv4Addr>, IpError> {
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| IpError::BadAddr {
        field,
        value: v.to_string(),
    })
}

/// Whether the autoconf word asks for dynamic configuration.
fn autoconf(v: &str) -> Result<bool, IpError> {
    match v {
        "off" | "none" => Ok(false),
        "" | "on" | "any" | "dhcp" | "bootp" | "rarp" | "both" => Ok(true),
        _ => Err(IpError::BadAutoconf(v.to_string())),
    }
}

/// Parse the value of `ip=`. A hostname that is not a valid DNS name is
/// dropped (the rest stands); the caller may log the warning returned.
// Out of line: with one caller LLVM inlines it into netcfg's main and
// the box grows by half a KB (measured, issue 27).
#[inline(never)]
pub fn parse(value: &str) -> Result<(IpConfig, Option<String>), IpError> {
    let v = value.trim();
    if !v.contains(':') {
        return Ok((
            if autoconf(v)? {
                IpConfig::Dhcp {
                    device: None,
                    hostname: None,
                }
            } else {
                IpConfig::Off
            },
            None,
        ));
    }
    let f: Vec<&str> = v.split(':').collect();
    if f.len() > 10 {
        return Err(IpError::TooManyFields);
    }
    let get = |i: usize| f.get(i).copied().unwrap_or("");
    let client = addr("client-ip", get(0))?;
    let server = addr("server-ip", get(1))?;
    let gateway = addr("gw-ip", get(2))?;
    let mask = get(3);
    let prefix = match addr("netmask", mask)? {
        None => None,
        Some(m) => Some(lease::mask_to_prefix(m).ok_or_else(|| IpError::BadMask(mask.into()))?),
    };
    let mut warning = None;
    let hostname = match get(4) {
        "" => None,
        h => {
            let ok = lease::check_name(h, lease::HOSTNAME_MAX);
            if let Err(why) = &ok {
                warning = Some(format!("ip= hostname {h:?} {why}; ignored"));
            }
            ok.ok()
        }
    };
    let device = Some(get(5)).filter(|d| !d.is_empty()).map(str::to_string);
    let dynamic = autoconf(get(6))?;
    let dns: Vec<Ipv4Addr> = [addr("dns0-ip", get(7))?, addr("dns1-ip", get(8))?]
        .into_iter()
        .flatten()
        .collect();
    let ntp = addr("ntp0-ip", get(9))?;
    let cfg = match client {
        // The kernel configures dynamically only when the address is missing.
        Some(client) => IpConfig::Static(Static {
            client,
            server,
            gateway,
            prefix: prefix.unwrap_or_else(|| lease::classful_prefix(client)),
            hostname,
            device,
            dns,
            ntp,
        }),
        None if dynamic => IpConfig::Dhcp { device, hostname },
        None => IpConfig::Off,
    };
    Ok((cfg, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpConfig {
        parse(s).expect("parses").0
    }

    #[test]
    fn words() {
        for w in ["off", "none"] {
            assert_eq!(p(w), IpConfig::Off);
        }
        for w in ["dhcp", "on", "any", "bootp", "rarp", "both", ""] {
            assert!(matches!(p(w), IpConfig::Dhcp { device: None, .. }), "{w}");
        }
        assert_eq!(parse("dhcpx"), Err(IpError::BadAutoconf("dhcpx".into())));
    }

    #[test]
    fn full_static() {
        let IpConfig::Static(s) =
            p("10.0.0.2:10.0.0.9:10.0.0.1:255.255.255.0:box:eth1:off:1.1.1.1:8.8.8.8:10.0.0.3")
        else {
            panic!("static expected")
        };
        assert_eq!(s.client, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(s.server, Some(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(s.gateway, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(s.prefix, 24);
        assert_eq!(s.hostname.as_deref(), Some("box"));
        assert_eq!(s.device.as_deref(), Some("eth1"));
        assert_eq!(s.dns.len(), 2);
        assert_eq!(s.ntp, Some(Ipv4Addr::new(10, 0, 0, 3)));
        let l = s.lease();
        assert_eq!(l.router(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(l.broadcast, Ipv4Addr::new(10, 0, 0, 255));
    }

    #[test]
    fn short_forms_and_defaults() {
        let IpConfig::Static(s) = p("192.168.1.5::192.168.1.1") else {
            panic!("static expected")
        };
        assert_eq!((s.prefix, s.device, s.hostname), (24, None, None));
        let IpConfig::Static(s) = p("10.1.2.3:::::eth0") else {
            panic!("static expected")
        };
        assert_eq!(s.prefix, 8);
        assert_eq!(
            p(":::::eth0:dhcp"),
            IpConfig::Dhcp {
                device: Some("eth0".into()),
                hostname: None
            }
        );
        assert_eq!(p("::::box::off"), IpConfig::Off);
    }

    #[test]
    fn errors_and_warnings() {
        assert!(matches!(
            parse("10.0.0.300::"),
            Err(IpError::BadAddr {
                field: "client-ip",
                ..
            })
        ));
        assert_eq!(
            parse("10.0.0.2:::255.0.255.0"),
            Err(IpError::BadMask("255.0.255.0".into()))
        );
        assert_eq!(
            parse("1:2:3:4:5:6:7:8:9:10:11"),
            Err(IpError::TooManyFields)
        );
        let (c, w) = parse("10.0.0.2::::bad;name").expect("parses");
        assert!(matches!(c, IpConfig::Static(Static { hostname: None, .. })));
        assert!(w.is_some());
    }
}
