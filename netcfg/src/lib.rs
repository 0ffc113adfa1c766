//! netcfg: a DHCPv4 client and the kernel's static `ip=` configuration,
//! applied over rtnetlink.
//!
//! - [`dhcp`]: the RFC 2131 client state machine (sans-IO, fake-clock tests).
//! - [`msg`]: the DHCP message codec (hand-written: dhcproto cost 245 KB).
//! - [`frame`]: Ethernet/IPv4/UDP framing with checksums.
//! - [`lease`]: a lease built from a DHCPACK, sanitised; resolv.conf text.
//! - [`ipconf`]: the `ip=` parser.
//! - [`rtnl`]: a small rtnetlink encoder; [`apply`]: applying a lease as a
//!   difference; [`run`]: one interface's plumbing; [`session`]: its DHCP
//!   IO loop; [`sys`]: packet socket,
//!   BPF filter.
//! - [`resolv`]: the one merged resolv.conf every source publishes to.
//! - IPv6: [`ra`] RA decoder, [`ra_state`] RDNSS/DNSSL lifetimes,
//!   [`dhcp6`] DHCPv6 codec and client, [`ipconf6`] the IPv6 `ip=` forms,
//!   [`rtnl6`] rtnetlink bodies, [`v6`] one interface's IPv6 IO loop,
//!   [`sys6`] its sockets. [`ready`]: `netcfg.wait`.
//! - [`arp`]: RFC 5227 probe/announce frames; [`sntp`]: the time client.
//!
//! Configuration keys: `ip` (kernel syntax), `hostname` (sent to the
//! server), `netcfg.ifaces` (comma list), `netcfg.take_hostname` (bool:
//! set the host name from option 12), `netcfg.resolv_conf` (path),
//! `netcfg.timeout` (seconds of carrier wait; with --oneshot, for the lease),
//! `netcfg.lease_dir` (where addresses are remembered for INIT-REBOOT),
//! `netcfg.arp_probe` (ms of RFC 5227 probing before a new IPv4 address
//! is used, default 200; off), `netcfg.wait` (v4|v6|any|all: which family makes netcfg ready; default
//! any). `ip=` also takes `dhcp6`, `auto6`, `IFACE:dhcp6|auto6` and
//! `[ADDR]::[GW]:PREFIXLEN:HOST:IFACE:none`. Without `ip=` (or with a
//! DHCPv4 form) the daemon also follows RAs on every interface. `ntp`
//! (servers; also from DHCP) and `init.wait_time=on` (readiness waits for
//! the first time sync) drive the SNTP thread.

pub mod apply;
pub mod arp;
pub mod dhcp;
pub mod dhcp6;
pub mod error;
pub mod frame;
pub mod fuzzing;
pub mod if_inet6;
pub mod ipconf;
pub mod ipconf6;
pub mod lease;
pub mod link;
pub mod linkwait;
pub mod msg;
pub mod ra;
pub mod ra_state;
mod rawsock;
pub mod ready;
pub mod resolv;
pub mod rtnl;
pub mod rtnl6;
pub mod session;
pub mod shared;
pub mod sntp;
pub mod solicit;
pub mod state;
pub mod static_ip;
pub mod sys;
pub mod sys6;
pub mod v6;
mod wire;

use argh::FromArgs;
use error::RunError;
use ipconf::IpConfig;
use nodistro_common::protocol::{self, keys};
use nodistro_common::timeline::log;
use nodistro_common::Config;
use shared::{Options, Shared};
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

#[derive(FromArgs)]
/// Configure network interfaces with DHCPv4 or the kernel's ip= syntax,
/// then keep the leases renewed (or exit after the first with --oneshot).
struct Args {
    /// configure, print the lease and exit (non-zero on timeout)
    #[argh(switch)]
    oneshot: bool,
    /// where to write DNS servers (default /etc/resolv.conf)
    #[argh(option)]
    resolv_conf: Option<String>,
    /// seconds to wait for carrier, and with --oneshot for the lease (30)
    #[argh(option)]
    timeout: Option<u64>,
    /// kernel ip= syntax, overriding the configuration
    #[argh(option)]
    ip: Option<String>,
    /// ask for this address first (INIT-REBOOT)
    #[argh(option)]
    request: Option<Ipv4Addr>,
    /// where the daemon remembers each interface's address for INIT-REBOOT
    /// after a restart (default /run/netcfg; not used with --oneshot)
    #[argh(option)]
    lease_dir: Option<String>,
    /// host name to send to the server (option 12)
    #[argh(option)]
    hostname: Option<String>,
    /// set the host name from the server's option 12
    #[argh(switch)]
    take_hostname: bool,
    /// ARP-probe a new IPv4 address for this many ms before using it
    /// (RFC 5227; 0: don't; default netcfg.arp_probe, else 200)
    #[argh(option)]
    arp_probe: Option<u64>,
    /// NTP servers (ADDR, ADDR:PORT, [IPV6]:PORT; comma list), before
    /// those DHCP names (default: ntp=)
    #[argh(option)]
    ntp: Option<String>,
    /// which family makes netcfg ready for init: v4, v6, any, all
    /// (default: netcfg.wait, else any)
    #[argh(option)]
    wait: Option<String>,
    /// interfaces (default: from ip=, netcfg.ifaces, else every ethernet one)
    #[argh(positional)]
    ifaces: Vec<String>,
}

/// What to do on which interfaces.
enum Plan {
    Dhcp(Vec<String>),
    Static(String, lease::Lease),
    /// `ip=dhcp6`/`auto6`: IPv6 only.
    V6(Vec<String>, ipconf6::Mode),
    Static6(String, ipconf6::Static6),
    Off,
}

impl Plan {
    /// The interfaces this plan names (None: it waits for any itself).
    fn named(&self) -> Option<Vec<String>> {
        match self {
            Plan::Dhcp(v) | Plan::V6(v, _) if !v.is_empty() => Some(v.clone()),
            Plan::Static(i, _) | Plan::Static6(i, _) => Some(vec![i.clone()]),
            _ => None,
        }
    }
}

/// Whether the arguments or configuration name the interfaces (the
/// positional list, `netcfg.ifaces`, a device in `ip=`).
fn names_ifaces(args: &Args, cfg: &Config) -> bool {
    if !args.ifaces.is_empty() || cfg.get("netcfg.ifaces").is_some() {
        return true;
    }
    let Some(ip) = args.ip.as_deref().or_else(|| cfg.get(keys::IP)) else {
        return false;
    };
    match ipconf6::parse(ip) {
        Some(Ok((ipconf6::Ip6::Dynamic { device, .. }, _))) => device.is_some(),
        Some(_) => true,
        None => !matches!(
            ipconf::parse(ip),
            Ok((IpConfig::Dhcp { device: None, .. }, _)) | Err(_)
        ),
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

fn plan(args: &Args, cfg: &Config) -> Plan {
    let ip = args.ip.as_deref().or(if args.ifaces.is_empty() {
        cfg.get(keys::IP)
    } else {
        None
    });
    match ip.and_then(ipconf6::parse) {
        None => {}
        Some(Err(e)) => log("netcfg", &format!("{e}; using DHCP instead")),
        Some(Ok((c, warning))) => {
            if let Some(w) = warning {
                log("netcfg", &w);
            }
            return match c {
                ipconf6::Ip6::Dynamic { mode, device } => Plan::V6(
                    device.map_or_else(|| default_ifaces(args, cfg), |d| vec![d]),
                    mode,
                ),
                ipconf6::Ip6::Static(s) => match s
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
    let parsed = match ip.map(ipconf::parse) {
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

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let args: Args = match nodistro_common::cli::parse("netcfg", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let (cfg, _, warnings) = Config::load_system(&[keys::IP, keys::HOSTNAME, keys::NTP]);
    for w in warnings {
        log("netcfg", &w);
    }
    let take_hostname =
        args.take_hostname || cfg.get_bool("netcfg.take_hostname") == Some(Ok(true));
    let timeout = args
        .timeout
        .or_else(|| cfg.get_parsed("netcfg.timeout").and_then(Result::ok))
        .unwrap_or(30);
    let opts = Options {
        resolv_conf: args
            .resolv_conf
            .clone()
            .map(PathBuf::from)
            .unwrap_or_else(|| protocol::netcfg::resolv_conf(&cfg)),
        take_hostname,
        hostname: args
            .hostname
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
            }),
        request: args.request,
        lease_dir: (!args.oneshot).then(|| {
            args.lease_dir
                .clone()
                .map(PathBuf::from)
                .unwrap_or_else(|| protocol::netcfg::lease_dir(&cfg))
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
        arp_probe_ms: args
            .arp_probe
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
            }),
    };
    // Signals are blocked before any thread starts, so every thread
    // inherits the mask and only the signalfd sees SIGTERM/SIGINT.
    let sigfd = if args.oneshot {
        None
    } else {
        use nodistro_common::signal::{SIGINT, SIGTERM, SIGUSR1};
        // Non-blocking: read_signals reads until the fd is empty (a
        // blocking fd hung SIGTERM handling after the first read).
        match nodistro_common::sys::signal_fd(&[SIGTERM, SIGINT, SIGUSR1], true) {
            Ok(fd) => Some(fd),
            Err(e) => {
                log("netcfg", &format!("cannot watch SIGTERM: {e}"));
                None
            }
        }
    };
    let (stop_r, stop_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            log("netcfg", &format!("error: cannot create a pipe: {e}"));
            return 1;
        }
    };
    let notifier = match nodistro_common::sys::Notifier::from_env() {
        Ok(n) => n,
        Err(e) => return nodistro_common::report::fail("netcfg", &e, 2),
    };
    let shared = Shared {
        notifier: Mutex::new(notifier),
        stop: stop_r,
    };
    link::loopback_up();
    let plan = plan(&args, &cfg);
    let wait = match args.wait.as_deref().or_else(|| cfg.get("netcfg.wait")) {
        None => ready::Wait::Any,
        Some(w) => w.parse().unwrap_or_else(|e: String| {
            log("netcfg", &e);
            ready::Wait::Any
        }),
    };
    let (v4, v6) = match &plan {
        Plan::Dhcp(_) => (
            true,
            !args.oneshot || matches!(wait, ready::Wait::V6 | ready::Wait::All),
        ),
        Plan::Static(..) => (true, false),
        Plan::V6(..) | Plan::Static6(..) => (false, true),
        Plan::Off => (false, false),
    };
    if let Some(w) = ready::configure(wait, v4, v6) {
        log("netcfg", &w);
    }
    if !args.oneshot && cfg.get_bool(keys::INIT_WAIT_TIME) == Some(Ok(true)) {
        log(
            "netcfg",
            "init.wait_time=on: readiness waits for the first time sync",
        );
        ready::wait_for_time();
    }
    // What each interface runs: DHCPv4 (None) and/or an IPv6 mode.
    let (job_v4, job_six) = match &plan {
        Plan::V6(_, mode) => (false, Some(*mode)),
        _ => (true, v6.then_some(ipconf6::Mode::Auto6)),
    };
    // init started us beside modload's coldplug (the overlapped boot): it
    // creates this file once the drivers are settled.
    let coldplug_file = std::env::var_os(nodistro_common::COLDPLUG_FILE_ENV)
        .filter(|_| !args.oneshot)
        .map(std::path::PathBuf::from);
    // Named interfaces whose driver is still loading: wait for them rather
    // than fail and be restarted.
    if let (Some(names), false) = (plan.named(), args.oneshot) {
        if linkwait::wait_for(
            &linkwait::Want::Named(names),
            sigfd.as_ref(),
            None,
            None,
            &mut false,
        )
        .is_err()
        {
            return 0;
        }
    }
    // Nothing named the interfaces: every ethernet one, those that appear
    // later included.
    let follow = (!args.oneshot && !names_ifaces(&args, &cfg)).then_some((job_v4, job_six));
    let code = match plan {
        Plan::Off => {
            log("netcfg", "ip=off: no interface to configure");
            if let Ok(mut n) = shared.notifier.lock() {
                n.notify(&protocol::ready::online_none("ip=off"));
            }
            0
        }
        Plan::Static(iface, l) => match static_ip::static_config(&iface, &l, &opts, &shared) {
            Ok(()) => 0,
            Err(e) => nodistro_common::report::fail("netcfg", &e, 1),
        },
        Plan::Static6(iface, s) => match v6::static_config(&iface, &s, &shared) {
            Ok(()) => 0,
            Err(e) => nodistro_common::report::fail("netcfg", &e, 1),
        },
        Plan::Dhcp(ifaces) | Plan::V6(ifaces, _) if ifaces.is_empty() => {
            // Nothing asked for a network (no ip=): init need not wait for
            // one that may never come. Either way, wait for an interface.
            // With the coldplug mark, "none yet" means none only once the
            // drivers are settled.
            let asked = args.ip.is_some() || cfg.get(keys::IP).is_some();
            let say_none = !asked && !args.oneshot;
            let none = || {
                if let Ok(mut n) = shared.notifier.lock() {
                    n.notify(&protocol::ready::online_none(
                        "no network interface; ip= not set",
                    ));
                }
            };
            let timeout = args.oneshot.then_some(opts.timeout);
            let want = linkwait::Want::AnyEthernet;
            let mark = coldplug_file.as_deref().filter(|_| say_none);
            if say_none && mark.is_none() {
                none();
            }
            let mut said = false;
            let mut found = linkwait::wait_for(&want, sigfd.as_ref(), timeout, mark, &mut said);
            if found == Err(linkwait::Ended::Settled) {
                none();
                // The same `said`: the waiting line is said once in all.
                found = linkwait::wait_for(&want, sigfd.as_ref(), timeout, None, &mut said);
            }
            match found {
                Ok(found) => {
                    let jobs = jobs(found, job_v4, job_six);
                    return dhcp_all(jobs, follow, &opts, &shared, stop_w, sigfd);
                }
                Err(linkwait::Ended::Stopped) => return 0,
                Err(linkwait::Ended::TimedOut | linkwait::Ended::Settled) => {
                    log(
                        "netcfg",
                        "error: no ethernet interface appeared (is the driver in the image? see nodistro build --drivers)",
                    );
                    1
                }
            }
        }
        Plan::Dhcp(ifaces) | Plan::V6(ifaces, _) => {
            let jobs = jobs(ifaces, job_v4, job_six);
            return dhcp_all(jobs, follow, &opts, &shared, stop_w, sigfd);
        }
    };
    if !args.oneshot && code == 0 {
        // Static or off: nothing to renew; stay so init does not restart us.
        if let Some(fd) = &sigfd {
            use nodistro_common::signal::{SIGINT, SIGTERM};
            loop {
                let mut p = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                let _ = rustix::event::poll(&mut p, None);
                let sigs = nodistro_common::sys::read_signals(fd);
                if sigs.iter().any(|s| *s == SIGTERM || *s == SIGINT) {
                    break;
                }
            }
        }
    }
    code
}

/// One thread per interface and family (None: DHCPv4; Some: IPv6 with
/// that mode); returns when all are done (oneshot) or after SIGTERM (every
/// thread releases its lease first).
/// The per-interface jobs of a plan: DHCPv4 on each interface when `v4`,
/// then the IPv6 mode `six` on each.
fn jobs(
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

/// Which jobs an interface that appears later gets (DHCPv4 when the bool
/// is set, the IPv6 mode when some); None: only the interfaces given.
type Follow = Option<(bool, Option<ipconf6::Mode>)>;

fn dhcp_all(
    jobs: Vec<(String, Option<ipconf6::Mode>)>,
    follow: Follow,
    opts: &Options,
    shared: &Shared,
    stop_w: std::os::fd::OwnedFd,
    sigfd: Option<std::os::fd::OwnedFd>,
) -> i32 {
    let mut stop_w = Some(stop_w);
    if jobs.iter().any(|(_, six)| six.is_some()) || follow.is_some_and(|f| f.1.is_some()) {
        v6::set_following();
    }
    // Interfaces that appear later (a second NIC whose driver modload
    // loads while netcfg already runs) get the same jobs. Subscribed
    // before the first look below, so none is missed in between.
    let events = follow
        .filter(|_| sigfd.is_some())
        .and_then(|_| rtnl::link_events().ok());
    let failed = std::thread::scope(|s| {
        // SIGUSR1 renews (state::take_renew_request): a pipe per
        // interface wakes its thread; the loop keeps the write ends.
        let start = |(i, six): (String, Option<ipconf6::Mode>)| {
            use rustix::pipe::{pipe_with, PipeFlags};
            let (r, w) = match pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK) {
                Ok((r, w)) => (Some(r), Some(w)),
                Err(_) => (None, None),
            };
            let name = i.clone();
            let h = s.spawn(move || {
                let res = match six {
                    None => session::dhcp_renewable(&i, opts, shared, r.as_ref()),
                    Some(mode) => v6::run(&i, mode, opts, shared),
                };
                (i, res)
            });
            (name, w, h)
        };
        let mut running: Vec<_> = jobs.into_iter().map(start).collect();
        if !opts.oneshot {
            s.spawn(|| sntp::run(opts, shared));
        }
        if let Some(fd) = &sigfd {
            // read_signals reads until the fd is empty: never block there.
            if let Ok(fl) = rustix::fs::fcntl_getfl(fd) {
                let _ = rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK);
            }
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                if let (Some(e), Some((v4, six))) = (&events, follow) {
                    while rustix::io::read(e, &mut buf).is_ok_and(|n| n > 0) {}
                    for iface in link::ethernet_ifaces() {
                        if running.iter().any(|r| r.0 == iface) {
                            continue;
                        }
                        log("netcfg", &format!("interface {iface} appeared"));
                        running.extend(crate::jobs(vec![iface], v4, six).into_iter().map(start));
                    }
                }
                use rustix::event::{PollFd, PollFlags};
                let mut p = vec![PollFd::new(fd, PollFlags::IN)];
                if let Some(e) = &events {
                    p.push(PollFd::new(e, PollFlags::IN));
                }
                let t = rustix::event::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                };
                let _ = rustix::event::poll(&mut p, Some(&t));
                if p[0].revents().contains(PollFlags::IN) {
                    use nodistro_common::signal::SIGUSR1;
                    let sigs = nodistro_common::sys::read_signals(fd);
                    if sigs.contains(&SIGUSR1) {
                        let dir = opts.lease_dir.as_deref();
                        let only = dir.and_then(state::take_renew_request);
                        for (i, w, _) in &running {
                            let wanted = only.as_ref().is_none_or(|o| o == i);
                            if let (Some(w), true) = (w, wanted) {
                                let _ = rustix::io::write(w, b"r");
                            }
                        }
                    }
                    if !sigs.is_empty() && sigs.iter().all(|s| *s == SIGUSR1) {
                        continue;
                    }
                    if !sigs.is_empty() {
                        // Each interface's thread logs its own `stopping`
                        // line: logged here, a thread's timer line could
                        // still follow it. (stop_w is dropped below.)
                        break;
                    }
                }
                if running.iter().all(|r| r.2.is_finished()) {
                    break;
                }
            }
            // Stopping, or every interface thread is done: so is the clock.
            stop_w = None;
        }
        let mut failed = 0;
        for (_, _, h) in running {
            match h.join() {
                Ok((_, Ok(()))) => {}
                Ok((i, Err(e))) => {
                    let e: &RunError = &e;
                    log(
                        "netcfg",
                        &format!("{i}: error: {}", nodistro_common::report::chain(e)),
                    );
                    failed += 1;
                }
                Err(_) => failed += 1,
            }
        }
        failed
    });
    i32::from(failed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(argv: &[&str], conf: &str) -> bool {
        let args = Args::from_args(&["netcfg"], argv).expect("args");
        let (cfg, _) = Config::parse(conf);
        names_ifaces(&args, &cfg)
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
