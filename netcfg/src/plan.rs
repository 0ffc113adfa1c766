//! What netcfg does on which interfaces, from its arguments and the
//! configuration: `ip=` (parsed once, IPv6 forms first), the interface
//! list, and whether interfaces that appear later are followed.

use crate::args::Args;
use crate::core::ipconf::{self, IpConfig, IpError};
use crate::core::ipconf6::{self, Ip6, Ip6Error};
use crate::core::lease::Lease;
use crate::link;
use nodistro_common::protocol::keys;
use nodistro_common::timeline::log;
use nodistro_common::Config;

/// What to do on which interfaces.
pub enum Plan {
    Dhcp(Vec<String>),
    Static(String, Lease),
    /// `ip=dhcp6`/`auto6`: IPv6 only.
    V6(Vec<String>, ipconf6::Mode),
    Static6(String, ipconf6::Static6),
    Off,
}

impl Plan {
    /// The interfaces this plan names (None: it waits for any itself).
    pub fn named(&self) -> Option<Vec<String>> {
        match self {
            Plan::Dhcp(v) | Plan::V6(v, _) if !v.is_empty() => Some(v.clone()),
            Plan::Static(i, _) | Plan::Static6(i, _) => Some(vec![i.clone()]),
            _ => None,
        }
    }
}

/// `ip=` parsed once: its IPv6 forms, and, when it is not one of those
/// (or a bad one), the kernel's IPv4 syntax.
pub struct IpArg {
    v6: Option<Result<(Ip6, Option<String>), Ip6Error>>,
    v4: Option<Result<(IpConfig, Option<String>), IpError>>,
}

impl IpArg {
    /// `--ip`, else (with no interface given) `ip=` of the configuration.
    pub fn of(args: &Args, cfg: &Config) -> Self {
        let ip = args.ip.as_deref().or(if args.ifaces.is_empty() {
            cfg.get(keys::IP)
        } else {
            None
        });
        Self::parse(ip)
    }

    pub fn parse(ip: Option<&str>) -> Self {
        let v6 = ip.and_then(ipconf6::parse);
        let v4 = match v6 {
            Some(Ok(_)) => None,
            _ => ip.map(ipconf::parse),
        };
        IpArg { v6, v4 }
    }
}

/// Whether the arguments or configuration name the interfaces (the
/// positional list, `netcfg.ifaces`, a device in `ip=`).
pub fn names_ifaces(args: &Args, cfg: &Config, ip: &IpArg) -> bool {
    if !args.ifaces.is_empty() || cfg.get("netcfg.ifaces").is_some() {
        return true;
    }
    match (&ip.v6, &ip.v4) {
        (Some(Ok((Ip6::Dynamic { device, .. }, _))), _) => device.is_some(),
        (Some(_), _) => true,
        (None, None) => false,
        (None, Some(v4)) => !matches!(v4, Ok((IpConfig::Dhcp { device: None, .. }, _)) | Err(_)),
    }
}

fn default_ifaces(args: &Args, cfg: &Config) -> Vec<String> {
    if !args.ifaces.is_empty() {
        return args.ifaces.clone();
    }
    match cfg.get("netcfg.ifaces") {
        Some(l) => l
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        None => link::ethernet_ifaces(),
    }
}

/// The plan; `ip=`'s warnings and errors are logged here.
pub fn plan(args: &Args, cfg: &Config, ip: IpArg) -> Plan {
    match ip.v6 {
        None => {}
        Some(Err(e)) => log("netcfg", &format!("{e}; using DHCP instead")),
        Some(Ok((c, warning))) => {
            if let Some(w) = warning {
                log("netcfg", &w);
            }
            return match c {
                Ip6::Dynamic { mode, device } => Plan::V6(
                    device.map_or_else(|| default_ifaces(args, cfg), |d| vec![d]),
                    mode,
                ),
                Ip6::Static(s) => match s
                    .device
                    .clone()
                    .or_else(|| default_ifaces(args, cfg).into_iter().next())
                {
                    Some(d) => Plan::Static6(d, s),
                    None => Plan::Dhcp(vec![]),
                },
            };
        }
    }
    let parsed = match ip.v4 {
        None => IpConfig::Dhcp {
            device: None,
            hostname: None,
        },
        Some(Ok((c, warning))) => {
            if let Some(w) = warning {
                log("netcfg", &w);
            }
            c
        }
        Some(Err(e)) => {
            log("netcfg", &format!("{e}; using DHCP instead"));
            IpConfig::Dhcp {
                device: None,
                hostname: None,
            }
        }
    };
    let default_ifaces = || default_ifaces(args, cfg);
    match parsed {
        IpConfig::Off => Plan::Off,
        IpConfig::Dhcp {
            device: Some(d), ..
        } => Plan::Dhcp(vec![d]),
        IpConfig::Dhcp { device: None, .. } => Plan::Dhcp(default_ifaces()),
        IpConfig::Static(s) => match s
            .device
            .clone()
            .or_else(|| default_ifaces().into_iter().next())
        {
            Some(d) => Plan::Static(d, s.lease()),
            None => Plan::Dhcp(vec![]),
        },
    }
}

/// The per-interface jobs of a plan: DHCPv4 on each interface when `v4`,
/// then the IPv6 mode `six` on each.
pub fn jobs(
    ifaces: Vec<String>,
    v4: bool,
    six: Option<ipconf6::Mode>,
) -> Vec<(String, Option<ipconf6::Mode>)> {
    let mut jobs: Vec<(String, Option<ipconf6::Mode>)> = if v4 {
        ifaces.iter().map(|i| (i.clone(), None)).collect()
    } else {
        Vec::new()
    };
    if let Some(mode) = six {
        jobs.extend(ifaces.into_iter().map(|i| (i, Some(mode))));
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;
    use argh::FromArgs;

    fn named(argv: &[&str], conf: &str) -> bool {
        let args = Args::from_args(&["netcfg"], argv).expect("args");
        let (cfg, _) = Config::parse(conf);
        names_ifaces(&args, &cfg, &IpArg::of(&args, &cfg))
    }

    /// Only a configuration that names no interface follows the ones that
    /// appear later (issue 16: a second NIC found by coldplug).
    #[test]
    fn which_plans_follow_new_interfaces() {
        assert!(!named(&[], ""));
        assert!(!named(&[], "ip=dhcp\n"));
        assert!(!named(&[], "ip=dhcp6\n"));
        assert!(
            !named(&["--ip", "garbage::"], ""),
            "falls back to DHCP on all"
        );
        assert!(named(&["eth1"], ""));
        assert!(named(&[], "netcfg.ifaces=eth0\n"));
        assert!(named(&[], "ip=:::::eth1:dhcp\n"));
        assert!(named(
            &[],
            "ip=10.0.2.77::10.0.2.2:255.255.255.0::eth0:off\n"
        ));
        assert!(named(&[], "ip=off\n"));
    }
}
