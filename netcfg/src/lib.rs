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
//!
//! Configuration keys: `ip` (kernel syntax), `hostname` (sent to the
//! server), `netcfg.ifaces` (comma list), `netcfg.take_hostname` (bool:
//! set the host name from option 12), `netcfg.resolv_conf` (path),
//! `netcfg.timeout` (seconds of carrier wait; with --oneshot, for the lease),
//! `netcfg.lease_dir` (where addresses are remembered for INIT-REBOOT).

pub mod apply;
pub mod dhcp;
pub mod frame;
pub mod fuzzing;
pub mod ipconf;
pub mod lease;
pub mod msg;
pub mod rtnl;
pub mod run;
pub mod session;
pub mod state;
pub mod sys;

use argh::FromArgs;
use ipconf::IpConfig;
use nodistro_common::timeline::log;
use nodistro_common::Config;
use run::{Options, RunError, Shared};
use std::ffi::OsString;
use std::net::Ipv4Addr;
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
    /// interfaces (default: from ip=, netcfg.ifaces, else every ethernet one)
    #[argh(positional)]
    ifaces: Vec<String>,
}

/// What to do on which interfaces.
enum Plan {
    Dhcp(Vec<String>),
    Static(String, lease::Lease),
    Off,
}

fn plan(args: &Args, cfg: &Config) -> Plan {
    let ip = args.ip.as_deref().or(if args.ifaces.is_empty() {
        cfg.get("ip")
    } else {
        None
    });
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
    let default_ifaces = || {
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
            None => run::ethernet_ifaces(),
        }
    };
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
    let (cfg, _, warnings) = Config::load_system(&["ip", "hostname"]);
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
            .or_else(|| cfg.get("netcfg.resolv_conf").map(String::from))
            .unwrap_or_else(|| "/etc/resolv.conf".into())
            .into(),
        take_hostname,
        hostname: args
            .hostname
            .clone()
            .or_else(|| cfg.get("hostname").map(String::from))
            .or_else(|| {
                let u = rustix::system::uname();
                Some(u.nodename().to_string_lossy().into_owned())
            })
            .and_then(|h| lease::valid_name(&h, 64)),
        request: args.request,
        lease_dir: (!args.oneshot).then(|| {
            args.lease_dir
                .clone()
                .or_else(|| cfg.get("netcfg.lease_dir").map(String::from))
                .unwrap_or_else(|| "/run/netcfg".into())
                .into()
        }),
        oneshot: args.oneshot,
        timeout: Duration::from_secs(timeout),
    };
    // Signals are blocked before any thread starts, so every thread
    // inherits the mask and only the signalfd sees SIGTERM/SIGINT.
    let sigfd = if args.oneshot {
        None
    } else {
        use nodistro_common::signal::{SIGINT, SIGTERM, SIGUSR1};
        match nodistro_common::sys::signal_fd(&[SIGTERM, SIGINT, SIGUSR1], false) {
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
    run::loopback_up();
    let code = match plan(&args, &cfg) {
        Plan::Off => {
            log("netcfg", "ip=off: no interface to configure");
            0
        }
        Plan::Static(iface, l) => match run::static_config(&iface, &l, &opts, &shared) {
            Ok(()) => 0,
            Err(e) => nodistro_common::report::fail("netcfg", &e, 1),
        },
        Plan::Dhcp(ifaces) if ifaces.is_empty() => {
            log(
                "netcfg",
                "error: no ethernet interface found (is the driver loaded?)",
            );
            1
        }
        Plan::Dhcp(ifaces) => {
            return dhcp_all(&ifaces, &opts, &shared, stop_w, sigfd);
        }
    };
    if !args.oneshot && code == 0 {
        // Static or off: nothing to renew; stay so init does not restart us.
        if let Some(fd) = &sigfd {
            let mut b = [0u8; 128];
            let _ = rustix::io::read(fd, &mut b);
        }
    }
    code
}

/// One thread per interface; returns when all are done (oneshot) or after
/// SIGTERM (every thread releases its lease first).
fn dhcp_all(
    ifaces: &[String],
    opts: &Options,
    shared: &Shared,
    stop_w: std::os::fd::OwnedFd,
    sigfd: Option<std::os::fd::OwnedFd>,
) -> i32 {
    let mut stop_w = Some(stop_w);
    // SIGUSR1 renews (state::take_renew_request): a pipe per interface
    // wakes its thread.
    let renew: Vec<Option<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)>> = ifaces
        .iter()
        .map(|_| {
            use rustix::pipe::{pipe_with, PipeFlags};
            pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).ok()
        })
        .collect();
    let failed = std::thread::scope(|s| {
        let handles: Vec<_> = ifaces
            .iter()
            .zip(&renew)
            .map(|(i, r)| {
                let r = r.as_ref().map(|p| &p.0);
                s.spawn(move || (i, session::dhcp_renewable(i, opts, shared, r)))
            })
            .collect();
        if let Some(fd) = &sigfd {
            // read_signals reads until the fd is empty: never block there.
            if let Ok(fl) = rustix::fs::fcntl_getfl(fd) {
                let _ = rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK);
            }
            loop {
                let mut p = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                let t = rustix::event::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                };
                if rustix::event::poll(&mut p, Some(&t)).is_ok_and(|n| n > 0) {
                    use nodistro_common::signal::SIGUSR1;
                    let sigs = nodistro_common::sys::read_signals(fd);
                    if sigs.contains(&SIGUSR1) {
                        let dir = opts.lease_dir.as_deref();
                        let only = dir.and_then(state::take_renew_request);
                        for (i, r) in ifaces.iter().zip(&renew) {
                            let wanted = only.as_ref().is_none_or(|o| o == i);
                            if let (Some((_, w)), true) = (r, wanted) {
                                let _ = rustix::io::write(w, b"r");
                            }
                        }
                    }
                    if !sigs.is_empty() && sigs.iter().all(|s| *s == SIGUSR1) {
                        continue;
                    }
                    log("netcfg", "stopping: releasing leases");
                    stop_w = None;
                    break;
                }
                if handles.iter().all(|h| h.is_finished()) {
                    break;
                }
            }
        }
        let mut failed = 0;
        for h in handles {
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
    drop(stop_w);
    i32::from(failed > 0)
}
