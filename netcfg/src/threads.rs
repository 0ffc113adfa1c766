//! The threads of a run: one per interface and family, the SNTP thread,
//! and the signal loop that starts them (interfaces that appear later
//! too), renews on SIGUSR1 and stops them on SIGTERM.

use crate::core::ipconf6;
use crate::error::RunError;
use crate::shared::{Options, Shared};
use crate::{link, plan, rtnl, session, sntp, state, v6};
use nodistro_common::timeline::log;
use std::sync::atomic::Ordering;

/// Which jobs an interface that appears later gets (DHCPv4 when the bool
/// is set, the IPv6 mode when some); None: only the interfaces given.
pub type Follow = Option<(bool, Option<ipconf6::Mode>)>;

/// One thread per interface and family (None: DHCPv4; Some: IPv6 with
/// that mode); returns when all are done (oneshot) or after SIGTERM (every
/// thread releases its lease first).
// long: one thread scope holds the interface threads, the SNTP thread and
// the signal loop that starts, renews and stops them.
pub fn dhcp_all(
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
