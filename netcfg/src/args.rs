//! netcfg's command line, and the options it and the configuration give
//! every interface thread.

use crate::core::{arp, lease};
use crate::ready;
use crate::shared::Options;
use crate::sntp;
use argh::FromArgs;
use nodistro_common::protocol::{self, keys};
use nodistro_common::timeline::log;
use nodistro_common::Config;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(FromArgs)]
/// Configure network interfaces with DHCPv4 or the kernel's ip= syntax,
/// then keep the leases renewed (or exit after the first with --oneshot).
pub struct Args {
    /// configure, print the lease and exit (non-zero on timeout)
    #[argh(switch)]
    pub oneshot: bool,
    /// where to write DNS servers (default /etc/resolv.conf)
    #[argh(option)]
    pub resolv_conf: Option<String>,
    /// seconds to wait for carrier, and with --oneshot for the lease (30)
    #[argh(option)]
    pub timeout: Option<u64>,
    /// kernel ip= syntax, overriding the configuration
    #[argh(option)]
    pub ip: Option<String>,
    /// ask for this address first (INIT-REBOOT)
    #[argh(option)]
    pub request: Option<Ipv4Addr>,
    /// where the daemon remembers each interface's address for INIT-REBOOT
    /// after a restart (default /run/netcfg; not used with --oneshot)
    #[argh(option)]
    pub lease_dir: Option<String>,
    /// host name to send to the server (option 12)
    #[argh(option)]
    pub hostname: Option<String>,
    /// set the host name from the server's option 12
    #[argh(switch)]
    pub take_hostname: bool,
    /// ARP-probe a new IPv4 address for this many ms before using it
    /// (RFC 5227; 0: don't; default netcfg.arp_probe, else 200)
    #[argh(option)]
    pub arp_probe: Option<u64>,
    /// NTP servers (ADDR, ADDR:PORT, [IPV6]:PORT; comma list), before
    /// those DHCP names (default: ntp=)
    #[argh(option)]
    pub ntp: Option<String>,
    /// which family makes netcfg ready for init: v4, v6, any, all
    /// (default: netcfg.wait, else any)
    #[argh(option)]
    pub wait: Option<String>,
    /// interfaces (default: from ip=, netcfg.ifaces, else every ethernet one)
    #[argh(positional)]
    pub ifaces: Vec<String>,
}

/// The options every interface thread shares, from the arguments (first)
/// and the configuration.
pub fn options(args: &Args, cfg: &Config) -> Options {
    let take_hostname =
        args.take_hostname || cfg.get_bool("netcfg.take_hostname") == Some(Ok(true));
    let timeout = args
        .timeout
        .or_else(|| cfg.get_parsed("netcfg.timeout").and_then(Result::ok))
        .unwrap_or(30);
    Options {
        resolv_conf: args
            .resolv_conf
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| protocol::netcfg::resolv_conf(cfg)),
        take_hostname,
        hostname: hostname(args, cfg),
        request: args.request,
        lease_dir: (!args.oneshot).then(|| {
            args.lease_dir
                .clone()
                .map(PathBuf::from)
                .unwrap_or_else(|| protocol::netcfg::lease_dir(cfg))
        }),
        oneshot: args.oneshot,
        timeout: Duration::from_secs(timeout),
        ntp: {
            let (servers, bad) = sntp::parse_servers(
                args.ntp
                    .as_deref()
                    .or_else(|| cfg.get(keys::NTP))
                    .unwrap_or(""),
            );
            for b in bad {
                log("netcfg", &b);
            }
            servers
        },
        arp_probe_ms: arp_probe_ms(args, cfg),
    }
}

/// The host name to send (option 12): given, configured, else the
/// kernel's; none when it is not a valid name.
fn hostname(args: &Args, cfg: &Config) -> Option<String> {
    args.hostname
        .clone()
        .or_else(|| cfg.get(keys::HOSTNAME).map(String::from))
        .or_else(|| {
            let u = rustix::system::uname();
            Some(u.nodename().to_string_lossy().into_owned())
        })
        .and_then(|h| {
            lease::check_name(&h, lease::HOSTNAME_MAX)
                .map_err(|why| log("netcfg", &format!("host name {h:?} {why}; not sent")))
                .ok()
        })
}

fn arp_probe_ms(args: &Args, cfg: &Config) -> u64 {
    args.arp_probe
        .unwrap_or_else(|| match cfg.get("netcfg.arp_probe") {
            None => arp::DEFAULT_WINDOW_MS,
            Some("off") => 0,
            Some(v) => v.parse().unwrap_or_else(|_| {
                log(
                    "netcfg",
                    &format!(
                        "netcfg.arp_probe={v:?} is not a number of ms or off; using {}",
                        arp::DEFAULT_WINDOW_MS
                    ),
                );
                arp::DEFAULT_WINDOW_MS
            }),
        })
}

/// Which family's first address makes netcfg ready for init.
pub fn wait(args: &Args, cfg: &Config) -> ready::Wait {
    match args.wait.as_deref().or_else(|| cfg.get("netcfg.wait")) {
        None => ready::Wait::Any,
        Some(w) => w.parse().unwrap_or_else(|e: String| {
            log("netcfg", &e);
            ready::Wait::Any
        }),
    }
}
