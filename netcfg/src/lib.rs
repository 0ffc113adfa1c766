//! netcfg: a DHCPv4 client and the kernel's static `ip=` configuration,
//! applied over rtnetlink.
//!
//! - [`core`] (its own directory, sans-IO): `dhcp` the RFC 2131 client
//!   state machine (fake-clock tests), `msg` the DHCP codec (hand-written:
//!   dhcproto cost 245 KB), `frame` Ethernet/IPv4/UDP framing, `lease` a
//!   lease built from a DHCPACK, sanitised, `ipconf`/`ipconf6` the `ip=`
//!   forms, `arp` RFC 5227 frames; IPv6: `ra`, `ra_state`, `solicit`,
//!   `dhcp6` (codec and client), `rtnl6`, `if_inet6`; `sntp` the SNTP
//!   packet codec and reply checks.
//! - [`args`]: the command line and the options; [`plan`]: what to do on
//!   which interfaces (`ip=` parsed once).
//! - [`rtnl`]: a small rtnetlink encoder; [`apply`]: applying a lease as a
//!   difference; [`link`]: one interface's link; [`static_ip`]: `ip=`
//!   with an address; [`session`]: the DHCP IO loop; [`sys`]: packet
//!   socket, BPF filter; [`shared`]: what the interface threads share;
//!   [`state`]: the files for the console and INIT-REBOOT; [`threads`]:
//!   the interface and SNTP threads and the signal loop over them.
//! - [`resolv`]: the one merged resolv.conf every source publishes to.
//!   The run's state its threads share ([`shared::Shared`]: readiness
//!   gate, resolv.conf registry, learned NTP servers) is made in
//!   [`main_with_args`]; netcfg has no process globals.
//! - IPv6: [`v6`] one interface's IPv6 IO loop, [`sys6`] its sockets.
//!   [`ready`]: `netcfg.wait`.
//! - [`sntp`]: the time client's IO loop, `clock` (setting the clock and
//!   RTC), `learned` (the NTP servers DHCP gave, one set per run).
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
pub mod args;
pub mod core;
pub mod error;
pub mod fuzzing;
pub mod link;
pub mod linkwait;
pub mod plan;
mod rawsock;
pub mod ready;
pub mod resolv;
pub mod rtnl;
pub mod session;
pub mod shared;
pub mod sntp;
pub mod state;
pub mod static_ip;
pub mod sys;
pub mod sys6;
pub mod threads;
pub mod v6;

use crate::core::ipconf6;
use args::Args;
use nodistro_common::protocol::{self, keys};
use nodistro_common::sys::Notifier;
use nodistro_common::timeline::log;
use nodistro_common::Config;
use plan::{IpArg, Plan};
use shared::{Options, Shared};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use threads::{dhcp_all, Follow};

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
    let opts = args::options(&args, &cfg);
    // Signals are blocked before any thread starts, so every thread
    // inherits the mask and only the signalfd sees SIGTERM/SIGINT.
    let sigfd = if args.oneshot { None } else { signal_fd() };
    let (notifier, stop, stop_w) = match notifier_and_stop() {
        Ok(s) => s,
        Err(code) => return code,
    };
    link::loopback_up();
    let ip = IpArg::of(&args, &cfg);
    // Nothing named the interfaces: every ethernet one, those that appear
    // later included.
    let names = plan::names_ifaces(&args, &cfg, &ip);
    let plan = plan::plan(&args, &cfg, ip);
    let (job_v4, job_six, gate) = readiness(&args, &cfg, &plan);
    let shared = Shared::new(notifier, stop, gate);
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
    let follow = (!args.oneshot && !names).then_some((job_v4, job_six));
    let run = Run {
        args: &args,
        cfg: &cfg,
        opts: &opts,
        shared: &shared,
    };
    let code = match plan {
        Plan::Off => {
            log("netcfg", "ip=off: no interface to configure");
            run.say_none(protocol::ready::ONLINE_NONE_IP_OFF);
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
            return run.any_ethernet((job_v4, job_six), follow, stop_w, sigfd);
        }
        Plan::Dhcp(ifaces) | Plan::V6(ifaces, _) => {
            let jobs = plan::jobs(ifaces, job_v4, job_six);
            return dhcp_all(jobs, follow, &opts, &shared, stop_w, sigfd);
        }
    };
    if !args.oneshot && code == 0 {
        // Static or off: nothing to renew; stay so init does not restart us.
        if let Some(fd) = &sigfd {
            wait_for_stop(fd);
        }
    }
    code
}

/// The readiness notifier and the stop pipe (its write end is dropped to
/// stop the threads); Err: the exit code.
fn notifier_and_stop() -> Result<(Notifier, OwnedFd, OwnedFd), i32> {
    let (stop_r, stop_w) = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            log("netcfg", &format!("error: cannot create a pipe: {e}"));
            return Err(1);
        }
    };
    let notifier = match nodistro_common::sys::Notifier::from_env() {
        Ok(n) => n,
        Err(e) => return Err(nodistro_common::report::fail("netcfg", &e, 2)),
    };
    Ok((notifier, stop_r, stop_w))
}

/// SIGTERM, SIGINT and SIGUSR1 on a non-blocking signalfd: read_signals
/// reads until the fd is empty (a blocking fd hung SIGTERM handling after
/// the first read). None, logged, when it cannot be made.
fn signal_fd() -> Option<OwnedFd> {
    use nodistro_common::signal::{SIGINT, SIGTERM, SIGUSR1};
    match nodistro_common::sys::signal_fd(&[SIGTERM, SIGINT, SIGUSR1], true) {
        Ok(fd) => Some(fd),
        Err(e) => {
            log("netcfg", &format!("cannot watch SIGTERM: {e}"));
            None
        }
    }
}

/// Until SIGTERM or SIGINT.
fn wait_for_stop(fd: &OwnedFd) {
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

/// Which family makes netcfg ready (`netcfg.wait`, `init.wait_time`): the
/// run's gate, and what each interface runs: DHCPv4 (the bool) and/or an
/// IPv6 mode.
fn readiness(args: &Args, cfg: &Config, plan: &Plan) -> (bool, Option<ipconf6::Mode>, ready::Gate) {
    let wait = args::wait(args, cfg);
    let (v4, v6) = match plan {
        Plan::Dhcp(_) => (
            true,
            !args.oneshot || matches!(wait, ready::Wait::V6 | ready::Wait::All),
        ),
        Plan::Static(..) => (true, false),
        Plan::V6(..) | Plan::Static6(..) => (false, true),
        Plan::Off => (false, false),
    };
    let mut gate = ready::Gate::new(wait, v4, v6);
    if let Some(w) = gate.check() {
        log("netcfg", &w);
    }
    if !args.oneshot && cfg.get_bool(keys::INIT_WAIT_TIME) == Some(Ok(true)) {
        log(
            "netcfg",
            "init.wait_time=on: readiness waits for the first time sync",
        );
        gate.wait_for_time();
    }
    match plan {
        Plan::V6(_, mode) => (false, Some(*mode), gate),
        _ => (true, v6.then_some(ipconf6::Mode::Auto6), gate),
    }
}

/// What the plans without a named interface need.
struct Run<'a> {
    args: &'a Args,
    cfg: &'a Config,
    opts: &'a Options,
    shared: &'a Shared,
}

impl Run<'_> {
    /// Tell init there is no network to wait for (an `online none` line).
    fn say_none(&self, line: &str) {
        if let Ok(mut n) = self.shared.notifier.lock() {
            n.notify(line);
        }
    }

    /// No interface named and none there yet: wait for the first ethernet
    /// one, then run the jobs on it. Nothing asked for a network (no
    /// `ip=`): init need not wait for one that may never come. With the
    /// coldplug mark, "none yet" means none only once the drivers are
    /// settled.
    fn any_ethernet(
        &self,
        (job_v4, job_six): (bool, Option<ipconf6::Mode>),
        follow: Follow,
        stop_w: OwnedFd,
        sigfd: Option<OwnedFd>,
    ) -> i32 {
        let oneshot = self.args.oneshot;
        let asked = self.args.ip.is_some() || self.cfg.get(keys::IP).is_some();
        let say_none = !asked && !oneshot;
        let none = || self.say_none(protocol::ready::ONLINE_NONE_NO_IFACE);
        // init started us beside modload's coldplug (the overlapped boot):
        // it creates this file once the drivers are settled.
        let coldplug_file = std::env::var_os(nodistro_common::COLDPLUG_FILE_ENV)
            .filter(|_| !oneshot)
            .map(PathBuf::from);
        let timeout = oneshot.then_some(self.opts.timeout);
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
                let jobs = plan::jobs(found, job_v4, job_six);
                dhcp_all(jobs, follow, self.opts, self.shared, stop_w, sigfd)
            }
            Err(linkwait::Ended::Stopped) => 0,
            Err(linkwait::Ended::TimedOut | linkwait::Ended::Settled) => {
                log(
                    "netcfg",
                    "error: no ethernet interface appeared (is the driver in the image? see nodistro build --drivers)",
                );
                1
            }
        }
    }
}
