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
//!   [`state`]: the files for the console and INIT-REBOOT.
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
pub mod v6;

use crate::core::ipconf6;
use args::Args;
use error::RunError;
use nodistro_common::protocol::{self, keys};
use nodistro_common::sys::Notifier;
use nodistro_common::timeline::log;
use nodistro_common::Config;
use plan::{IpArg, Plan};
use shared::{Options, Shared};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

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

/// Which jobs an interface that appears later gets (DHCPv4 when the bool
/// is set, the IPv6 mode when some); None: only the interfaces given.
type Follow = Option<(bool, Option<ipconf6::Mode>)>;

/// One thread per interface and family (None: DHCPv4; Some: IPv6 with
/// that mode); returns when all are done (oneshot) or after SIGTERM (every
/// thread releases its lease first).
// long: one thread scope holds the interface threads, the SNTP thread and
// the signal loop that starts, renews and stops them.
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
        shared.v6_following.store(true, Ordering::Relaxed);
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
                        running.extend(plan::jobs(vec![iface], v4, six).into_iter().map(start));
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
