//! One interface's DHCP session: the IO loop around the sans-IO
//! [`Client`]. [`dhcp`] opens the sockets; [`Session`] performs the
//! client's actions, waits for the next event (a frame, a timer, a link
//! change, the stop pipe) and feeds it back.

use crate::apply::Target;
use crate::core::dhcp::{Action, Client, ClientConfig, Dest};
use crate::core::frame;
use crate::core::lease::Lease;
use crate::error::RunError;
use crate::link::{has_carrier, link_up, netlink, Iface};
use crate::rtnl::Netlink;
use crate::shared::{online, seed, stopped, Options, Shared};
use crate::state::remember;
use crate::sys;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// DHCP on one interface: returns after the first lease with `oneshot`,
/// else when `shared.stop` fires (after DHCPRELEASE and deconfiguring).
pub fn dhcp(name: &str, o: &Options, shared: &Shared) -> Result<(), RunError> {
    dhcp_renewable(name, o, shared, None)
}

/// [`dhcp`], confirming the lease again (INIT-REBOOT) whenever `renew`
/// becomes readable: the debug console's `dhcp renew IFACE`.
pub fn dhcp_renewable(
    name: &str,
    o: &Options,
    shared: &Shared,
    renew: Option<&OwnedFd>,
) -> Result<(), RunError> {
    let mut s = Session::open(name, o, shared)?;
    s.renew = renew;
    s.publish("selecting");
    let mut actions = s.client.start(s.now());
    loop {
        if s.perform(actions)? {
            return Ok(());
        }
        actions = s.next_event()?;
    }
}

/// Everything one interface's loop holds.
struct Session<'a> {
    name: &'a str,
    o: &'a Options,
    shared: &'a Shared,
    t0: Instant,
    /// Since when the interface is without a lease (for "in N ms").
    unbound_since: Instant,
    iface: Iface,
    nl: Netlink,
    sock: OwnedFd,
    /// ARP frames (address conflict detection); None: probing is off.
    arp: Option<OwnedFd>,
    /// rtnetlink link notifications (carrier changes).
    events: OwnedFd,
    target: Target<'a>,
    client: Client,
    applied: Option<Lease>,
    /// Where the address is remembered for INIT-REBOOT.
    memory: Option<PathBuf>,
    stopping: bool,
    carrier: bool,
    buf: Vec<u8>,
    v6_seen: Vec<String>,
    /// Readable when a renewal is asked for.
    renew: Option<&'a OwnedFd>,
}

impl<'a> Session<'a> {
    fn open(name: &'a str, o: &'a Options, shared: &'a Shared) -> Result<Self, RunError> {
        let t0 = Instant::now();
        let iface = Iface::find(name)?;
        let mut nl = netlink(name)?;
        link_up(&mut nl, &iface, t0 + o.timeout)?;
        let socket_err = |what| {
            move |source| RunError::Socket {
                what,
                iface: name.to_string(),
                source,
            }
        };
        let sock = sys::packet_socket(iface.index).map_err(socket_err("raw packet"))?;
        if let Err(e) = sys::enable_auxdata(&sock) {
            log(
                "netcfg",
                &format!("{name}: PACKET_AUXDATA unavailable: {e}"),
            );
        }
        let events = crate::rtnl::link_events().map_err(socket_err("rtnetlink link events"))?;
        let target = Target {
            iface: name,
            index: iface.index,
            resolv_conf: &o.resolv_conf,
            take_hostname: o.take_hostname,
            resolv: &shared.resolv,
            ntp: &shared.ntp,
        };
        let mut cfg = ClientConfig::new(iface.mac);
        cfg.hostname = o.hostname.clone();
        cfg.probe_ms = o.arp_probe_ms;
        let arp = (o.arp_probe_ms > 0)
            .then(|| sys::arp_socket(iface.index))
            .transpose()
            .unwrap_or_else(|e| {
                log(
                    "netcfg",
                    &format!("{name}: no ARP socket, no conflict detection: {e}"),
                );
                None
            });
        if arp.is_none() {
            cfg.probe_ms = 0;
        }
        let memory = o.lease_dir.as_ref().map(|d| d.join(name));
        cfg.remembered = o.request.or_else(|| {
            let text = std::fs::read_to_string(memory.as_ref()?).ok()?;
            text.trim().parse().ok()
        });
        Ok(Session {
            name,
            o,
            shared,
            t0,
            unbound_since: t0,
            iface,
            nl,
            sock,
            arp,
            events,
            target,
            client: Client::new(cfg, seed()),
            applied: None,
            memory,
            stopping: false,
            carrier: has_carrier(name),
            buf: vec![0u8; 2048],
            v6_seen: Vec::new(),
            renew: None,
        })
    }

    fn now(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn watching_ipv6(&self) -> bool {
        // The IPv6 thread names SLAAC addresses itself when it runs.
        !self.o.oneshot
            && self.now() < IPV6_WATCH_MS
            && !self.shared.v6_following.load(Ordering::Relaxed)
    }

    /// Carry out the client's actions; true when the session is over
    /// (stopped, or the first lease with `oneshot`).
    fn perform(&mut self, actions: Vec<Action>) -> Result<bool, RunError> {
        if self.watching_ipv6() {
            report_ipv6(self.name, &mut self.v6_seen);
        }
        for a in actions {
            match a {
                Action::Send { payload, src, dest } => self.send(&payload, src, dest),
                Action::Apply(l) => {
                    self.apply(l)?;
                    if self.o.oneshot {
                        return Ok(true);
                    }
                }
                Action::Deconfigure(l) => self.deconfigure(&l),
                Action::Arp(f) => {
                    if let Some(fd) = &self.arp {
                        if let Err(e) = rustix::net::send(fd, &f, rustix::net::SendFlags::empty()) {
                            log("netcfg", &format!("{}: cannot send ARP: {e}", self.name));
                        }
                    }
                }
                Action::Log(s) => log("netcfg", &format!("{}: {s}", self.name)),
            }
        }
        Ok(self.stopping)
    }

    fn send(&self, payload: &[u8], src: Ipv4Addr, dest: Dest) {
        let (mac, ip) = match dest {
            Dest::Broadcast => (frame::BROADCAST_MAC, Ipv4Addr::BROADCAST),
            Dest::Unicast(ip, mac) => (mac, ip),
        };
        let f = frame::build(self.iface.mac, mac, src, ip, payload);
        if let Err(e) = rustix::net::send(&self.sock, &f, rustix::net::SendFlags::empty()) {
            log("netcfg", &format!("{}: cannot send: {e}", self.name));
        }
    }

    fn apply(&mut self, l: Lease) -> Result<(), RunError> {
        let name = self.name;
        for n in self.target.apply(&mut self.nl, self.applied.as_ref(), &l)? {
            log("netcfg", &format!("{name}: {n}"));
        }
        if self.applied.is_none() {
            online(self.shared, self.o, name, &l, self.unbound_since.elapsed());
        } else if self.applied.as_ref() != Some(&l) {
            log("netcfg", &format!("{name}: renewed {}", l.summary(name)));
        }
        if let Some(m) = &self.memory {
            remember(m, Some(l.addr));
        }
        self.applied = Some(l);
        self.publish("bound");
        Ok(())
    }

    fn deconfigure(&mut self, l: &Lease) {
        self.target.remove(&mut self.nl, l);
        if let Some(m) = &self.memory {
            remember(m, None);
        }
        self.publish("unbound");
        log(
            "netcfg",
            &format!("{}: removed {}/{}", self.name, l.addr, l.prefix),
        );
        self.applied = None;
        self.unbound_since = Instant::now();
    }

    /// Publish the state for the debug console (`/run/netcfg/IFACE.state`).
    fn publish(&self, state: &str) {
        if let Some(dir) = &self.o.lease_dir {
            crate::state::publish(dir, self.name, state, self.applied.as_ref());
        }
    }

    /// Milliseconds to sleep: until the client's timer, at most 1 s while
    /// watching for SLAAC, at most the time left with `oneshot`.
    fn wait_ms(&self) -> Result<u64, RunError> {
        let now = self.now();
        let mut wait = self
            .client
            .next_timeout()
            .map_or(u64::MAX, |t| t.saturating_sub(now));
        if self.watching_ipv6() {
            wait = wait.min(1000);
        }
        if self.o.oneshot {
            let left = (self.o.timeout.as_millis() as u64).saturating_sub(now);
            if left == 0 {
                return Err(RunError::Timeout(
                    self.name.to_string(),
                    self.o.timeout.as_secs(),
                ));
            }
            wait = wait.min(left);
        }
        Ok(wait)
    }

    /// Sleep until something happens and return what the client makes of it.
    fn next_event(&mut self) -> Result<Vec<Action>, RunError> {
        let wait = self.wait_ms()?;
        let ts = Timespec {
            tv_sec: (wait / 1000).min(86_400) as i64,
            tv_nsec: ((wait % 1000) * 1_000_000) as i64,
        };
        let mut fds = vec![
            PollFd::new(&self.sock, PollFlags::IN),
            PollFd::new(&self.shared.stop, PollFlags::IN),
            PollFd::new(&self.events, PollFlags::IN),
        ];
        let renew_at = self.renew.map(|r| {
            fds.push(PollFd::new(r, PollFlags::IN));
            fds.len() - 1
        });
        if let Some(arp) = &self.arp {
            fds.push(PollFd::new(arp, PollFlags::IN));
        }
        let _ = poll(&mut fds, Some(&ts));
        if let Some(arp) = &self.arp {
            let now = self.now();
            while let Ok((n, _)) =
                rustix::net::recv(arp, &mut self.buf[..], rustix::net::RecvFlags::DONTWAIT)
            {
                let n = n.min(self.buf.len());
                let v = self.client.handle_arp(&self.buf[..n], now);
                if !v.is_empty() {
                    // Conflict: declined; the rest of the frames are moot.
                    return Ok(v);
                }
            }
        }
        let link_changed = !fds[2].revents().is_empty();
        let renew = renew_at.is_some_and(|i| !fds[i].revents().is_empty());
        drop(fds);
        let mut actions = Vec::new();
        if let (true, Some(r)) = (renew, self.renew) {
            let mut b = [0u8; 64];
            let _ = rustix::io::read(r, &mut b);
            log(
                "netcfg",
                &format!("{}: renewing the lease (asked)", self.name),
            );
            actions.extend(self.client.link_returned(self.now()));
        }
        if link_changed {
            actions.extend(self.link_event());
        }
        if stopped(&self.shared.stop) {
            // Logged here, in this thread: nothing of this interface's
            // (say `rebinding (T2)`) can follow it.
            log("netcfg", &format!("{}: stopping", self.name));
            self.stopping = true;
            return Ok(self.client.stop(self.now()));
        }
        actions.extend(self.receive());
        actions.extend(self.client.handle_timeout(self.now()));
        Ok(actions)
    }

    /// Drain link notifications; tell the client when carrier came back.
    fn link_event(&mut self) -> Vec<Action> {
        while rustix::net::recv(
            &self.events,
            &mut self.buf[..],
            rustix::net::RecvFlags::DONTWAIT,
        )
        .is_ok()
        {}
        let now_up = has_carrier(self.name);
        if now_up == self.carrier {
            return vec![];
        }
        self.carrier = now_up;
        if now_up {
            log(
                "netcfg",
                &format!("{}: carrier back; confirming the lease", self.name),
            );
            self.client.link_returned(self.now())
        } else {
            log("netcfg", &format!("{}: carrier lost", self.name));
            vec![]
        }
    }

    /// Feed every queued frame to the client.
    fn receive(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Ok((n, csum_not_ready)) = sys::recv_frame(&self.sock, &mut self.buf) {
            let now = self.now();
            let f = &self.buf[..n.min(self.buf.len())];
            actions.extend(self.client.handle_frame(f, !csum_not_ready, now));
        }
        actions
    }
}

/// How long to watch for SLAAC addresses after start.
pub(crate) const IPV6_WATCH_MS: u64 = 30_000;

/// Log global IPv6 addresses the kernel's SLAAC gave `name`, once each.
pub(crate) fn report_ipv6(name: &str, seen: &mut Vec<String>) {
    let text = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    for a in crate::core::if_inet6::ipv6_globals(&text, name) {
        if !seen.contains(&a) {
            log(
                "netcfg",
                &format!("{name}: IPv6 {a} (SLAAC, by the kernel)"),
            );
            seen.push(a);
        }
    }
}
