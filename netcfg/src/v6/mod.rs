//! The IPv6 IO shell for one interface, one thread: listens to router
//! advertisements (ICMPv6), runs the DHCPv6 client (UDP 546) as their M/O
//! flags (or `ip=dhcp6`) say, applies DHCPv6 addresses over rtnetlink,
//! publishes DNS to the merged resolv.conf, and tells init when an IPv6
//! address is ready. The kernel keeps doing SLAAC and the default route
//! from RAs; this thread names them on the console. [`link`] holds what
//! the thread knows and has told; the loop's decisions are in
//! `core::v6_loop`.

mod link;

use crate::core::dhcp6::client::{duid_ll, Action6, Client6};
use crate::core::ipconf6::{Mode, Static6};
use crate::core::ra::{self, Ra};
use crate::core::rtnl6;
use crate::core::solicit::Solicit;
use crate::core::v6_loop::{self, Start};
use crate::error::RunError;
use crate::link::Iface;
use crate::resolv::Source;
use crate::rtnl::{self, Netlink};
use crate::shared::{Options, Shared};
use crate::sys6;
use link::{describe, Link};
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::Instant;

const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
const ALL_DHCP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

fn seed() -> u64 {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::INSECURE) {
        Ok(8) => u64::from_ne_bytes(b),
        _ => u64::from(std::process::id()) << 32 ^ nodistro_common::timeline::since_boot_ms(),
    }
}

fn socket_err(what: &'static str, iface: &str) -> impl FnOnce(std::io::Error) -> RunError {
    let iface = iface.to_string();
    move |source| RunError::Socket {
        what,
        iface,
        source,
    }
}

/// Follow RAs and run DHCPv6 on `name` until `shared.stop` fires (then
/// release), or with `oneshot` until an address and what DHCPv6 was asked
/// for are there.
pub fn run(name: &str, mode: Mode, o: &Options, shared: &Shared) -> Result<(), RunError> {
    let mut s = V6Loop::open(name, mode, o, shared)?;
    loop {
        s.perform()?;
        if s.stopping {
            s.withdraw();
            return Ok(());
        }
        let ready = s.l.check_addresses();
        let now = s.l.now();
        if o.oneshot {
            if let Some(end) = s.oneshot_end(ready, now) {
                return end;
            }
        }
        s.send_due(now);
        let (stop, link_changed) = s.wait(now);
        let now = s.l.now();
        if stop {
            s.actions = s.client.stop(now);
            s.stopping = true;
            continue;
        }
        if link_changed {
            s.link_changed(now);
        }
        s.read_ras(now);
        s.read_dhcp6(now);
        s.expire(now);
        let timeouts = s.client.handle_timeout(now);
        s.actions.extend(timeouts);
    }
}

/// One interface's IPv6 loop: its sockets, the DHCPv6 client, the
/// solicitation schedule and what is still to do.
struct V6Loop<'a> {
    l: Link<'a>,
    mode: Mode,
    client: Client6,
    solicit: Solicit,
    icmp: OwnedFd,
    udp: OwnedFd,
    /// Carrier changes: solicit again when the link comes back. None (no
    /// subscription): routers are heard when they next advertise.
    events: Option<OwnedFd>,
    carrier: bool,
    stopping: bool,
    /// A DHCPv6 message the kernel refused, and when to try it again.
    unsent: Option<(Vec<u8>, u64)>,
    actions: Vec<Action6>,
    buf: Vec<u8>,
}

impl<'a> V6Loop<'a> {
    /// The link up, the sockets open, the client started for `ip=dhcp6`.
    fn open(
        name: &'a str,
        mode: Mode,
        o: &'a Options,
        shared: &'a Shared,
    ) -> Result<Self, RunError> {
        let t0 = Instant::now();
        let iface = Iface::find(name)?;
        let mut nl = Netlink::open().map_err(socket_err("rtnetlink", name))?;
        nl.link_up(iface.index, None)
            .map_err(|e| RunError::LinkUp(name.to_string(), e))?;
        let icmp = sys6::icmp6_socket(name).map_err(socket_err("ICMPv6", name))?;
        let udp = sys6::dhcp6_socket(name).map_err(socket_err("DHCPv6 (UDP 546)", name))?;
        let iaid = u32::from_be_bytes([iface.mac[2], iface.mac[3], iface.mac[4], iface.mac[5]]);
        let mut client = Client6::new(duid_ll(iface.mac), iaid, seed());
        let mut l = Link::new(name, iface.index, o, shared, t0, nl);
        let actions = if mode == Mode::Dhcp6 {
            client.start_stateful(0)
        } else {
            vec![]
        };
        let events = rtnl::link_events()
            .map_err(|e| l.notes.say(name, &format!("no link notifications: {e}")))
            .ok();
        Ok(V6Loop {
            l,
            mode,
            client,
            solicit: Solicit::new(),
            icmp,
            udp,
            events,
            carrier: crate::link::has_carrier(name),
            stopping: false,
            unsent: None,
            actions,
            buf: vec![0u8; 4096],
        })
    }

    /// Carry out the client's actions.
    fn perform(&mut self) -> Result<(), RunError> {
        let name = self.l.name;
        for a in std::mem::take(&mut self.actions) {
            match a {
                Action6::Send(m) => {
                    if let Err(e) = sys6::send_link(&self.udp, &m, ALL_DHCP, 547, self.l.index) {
                        // Usually the link-local address is still
                        // tentative (DAD): try again shortly.
                        self.l
                            .notes
                            .say(name, &format!("cannot send DHCPv6 yet: {e}"));
                        self.unsent = Some((m, self.l.now() + 100));
                    } else {
                        self.unsent = None;
                    }
                }
                Action6::Bound(lease) => self.l.bound(&lease)?,
                Action6::Unbound(lease) => self.l.unbound(&lease),
                Action6::Info(i) => self.l.info(&i),
                Action6::Log(s) => self.l.notes.say(name, &s),
            }
        }
        Ok(())
    }

    /// Stopped: this interface's servers leave resolv.conf.
    fn withdraw(&self) {
        let (o, name) = (self.l.o, self.l.name);
        self.l
            .shared
            .resolv
            .withdraw(&o.resolv_conf, name, Source::Ra);
        self.l
            .shared
            .resolv
            .withdraw(&o.resolv_conf, name, Source::Dhcp6);
    }

    /// With `oneshot`: the end once done (an address, and what the RA and
    /// DHCPv6 had to say; printed), or once the timeout passed.
    fn oneshot_end(&self, ready: Option<(Ipv6Addr, u8)>, now: u64) -> Option<Result<(), RunError>> {
        let (o, name, l) = (self.l.o, self.l.name, &self.l);
        let done = v6_loop::oneshot_done(
            self.mode == Mode::Dhcp6,
            self.client.idle(),
            l.ra_seen,
            l.dhcp_done,
        );
        if let Some((a, p)) = ready.filter(|_| done) {
            let mut e = l.learned.entry();
            e.servers
                .extend(l.dhcp_dns.iter().map(|&a| IpAddr::from(a)));
            e.servers.dedup();
            let router = l.routers.first().map(|(r, _)| format!(" router {r}"));
            let dns: Vec<String> = e.servers.iter().map(|a| a.to_string()).collect();
            println!(
                "{name} {a}/{p}{} dns {}",
                router.unwrap_or_default(),
                dns.join(",")
            );
            return Some(Ok(()));
        }
        if now >= o.timeout.as_millis() as u64 {
            return Some(Err(RunError::Timeout(
                name.to_string(),
                o.timeout.as_secs(),
            )));
        }
        None
    }

    /// A router solicitation and a refused DHCPv6 message, when due.
    fn send_due(&mut self, now: u64) {
        if self.solicit.due(now) {
            // Fails while the link-local address is tentative; retried.
            let rs = ra::solicitation();
            if sys6::send_link(&self.icmp, &rs, ALL_ROUTERS, 0, self.l.index).is_ok() {
                self.solicit.sent(now);
            } else {
                self.solicit.send_failed(now);
            }
        }
        if let Some((m, at)) = self.unsent.take() {
            if now < at {
                self.unsent = Some((m, at));
            } else if sys6::send_link(&self.udp, &m, ALL_DHCP, 547, self.l.index).is_err() {
                self.unsent = Some((m, now + 100));
            }
        }
    }

    /// Sleep until the next timer, a packet, a link change or the stop:
    /// (stopped, link changed).
    fn wait(&self, now: u64) -> (bool, bool) {
        let o = self.l.o;
        let timeouts = [
            self.client.next_timeout(),
            self.l.learned.next_timeout(),
            self.unsent.as_ref().map(|u| u.1),
            self.solicit.next_timeout(),
        ];
        let deadline = o.oneshot.then_some(o.timeout.as_millis() as u64);
        let wait = v6_loop::wait_ms(now, &timeouts, self.l.online, deadline);
        let ts = Timespec {
            tv_sec: (wait / 1000) as i64,
            tv_nsec: ((wait % 1000) * 1_000_000) as i64,
        };
        let mut fds = vec![
            PollFd::new(&self.icmp, PollFlags::IN),
            PollFd::new(&self.udp, PollFlags::IN),
            PollFd::new(&self.l.shared.stop, PollFlags::IN),
        ];
        if let Some(ev) = &self.events {
            fds.push(PollFd::new(ev, PollFlags::IN));
        }
        let _ = poll(&mut fds, Some(&ts));
        let stop = !fds[2].revents().is_empty();
        let link_changed = fds.get(3).is_some_and(|f| !f.revents().is_empty());
        (stop, link_changed)
    }

    /// A link notification: solicit again when the carrier came back.
    fn link_changed(&mut self, now: u64) {
        let Some(ev) = &self.events else { return };
        while rustix::net::recv(ev, &mut self.buf[..], rustix::net::RecvFlags::DONTWAIT).is_ok() {}
        let up = crate::link::has_carrier(self.l.name);
        if up && !self.carrier {
            self.l.log("carrier back; soliciting routers");
            self.solicit.link_returned(now);
        }
        self.carrier = up;
    }

    /// Every router advertisement waiting on the ICMPv6 socket.
    fn read_ras(&mut self, now: u64) {
        let name = self.l.name;
        while let Some((n, from, hops)) = sys6::recv6_hop_limit(&self.icmp, &mut self.buf) {
            let Some(src) = from else {
                continue;
            };
            if self.buf.first() != Some(&ra::TYPE_RA) {
                continue;
            }
            // RFC 4861 6.1.2: from a link-local address, hop limit 255.
            if let Err(why) = ra::from_this_link(&src, hops) {
                self.l.notes.say(name, &why);
                continue;
            }
            match ra::decode(&self.buf[..n]) {
                Ok(r) => self.router_advert(&r, src, now),
                Err(e) => self.l.notes.say(
                    name,
                    &format!("RA from {src} ignored, previous state kept: {e}"),
                ),
            }
        }
    }

    /// A believed RA: described, and DHCPv6 started as its flags say.
    fn router_advert(&mut self, r: &Ra, src: Ipv6Addr, now: u64) {
        if let Some(s) = self.solicit.router_heard(now) {
            self.l.log(&s);
        }
        self.l.router_advert(r, src);
        let c = &mut self.client;
        match v6_loop::ra_starts(r.managed, r.other, c.stateful(), c.idle()) {
            Some(Start::Stateful) => self.actions.extend(c.start_stateful(now)),
            Some(Start::Stateless) => self.actions.extend(c.start_stateless(now)),
            None => {}
        }
    }

    /// Every DHCPv6 message waiting, to the client.
    fn read_dhcp6(&mut self, now: u64) {
        while let Some((n, _)) = sys6::recv6(&self.udp, &mut self.buf) {
            self.actions.extend(self.client.handle(&self.buf[..n], now));
        }
    }

    /// RA-learned servers whose lifetime ended leave resolv.conf.
    fn expire(&mut self, now: u64) {
        if self.l.learned.expire(now) {
            let e = self.l.learned.entry();
            self.l
                .log(&describe("RA (expired)", &e.servers, &e.domains));
            self.l.publish(Source::Ra, e);
        }
    }
}

/// `ip=[ADDR]::[GW]:PREFIXLEN:HOST:IFACE:none`: the address and default
/// route, forever.
pub fn static_config(name: &str, s: &Static6, shared: &Shared) -> Result<(), RunError> {
    let iface = Iface::find(name)?;
    let mut nl = Netlink::open().map_err(socket_err("rtnetlink", name))?;
    nl.link_up(iface.index, None)
        .map_err(|e| RunError::LinkUp(name.to_string(), e))?;
    let err = |what: String| {
        let iface = name.to_string();
        move |source| crate::apply::ApplyError::Netlink {
            what,
            iface,
            source,
        }
    };
    nl.request(
        rtnl::RTM_NEWADDR,
        &rtnl6::addr_body(iface.index, s.addr, s.prefix, Some((u32::MAX, u32::MAX))),
    )
    .map_err(err(format!("add address {}/{}", s.addr, s.prefix)))?;
    log(
        "netcfg",
        &format!("{name}: IPv6 {}/{} (static)", s.addr, s.prefix),
    );
    if let Some(g) = s.gateway {
        // The address is tentative until DAD ends; a route via a gateway
        // needs none, but retry briefly if the kernel refuses.
        let body = rtnl6::route_body(iface.index, Ipv6Addr::UNSPECIFIED, 0, Some(g), false);
        let mut r = nl.request(rtnl::RTM_NEWROUTE, &body);
        for _ in 0..20 {
            if r.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            r = nl.request(rtnl::RTM_NEWROUTE, &body);
        }
        r.map_err(err(format!("add default route via {g}")))?;
        log("netcfg", &format!("{name}: default route via {g} (static)"));
    }
    let line = nodistro_common::protocol::ready::online(name, s.addr, s.prefix);
    if let (Some(line), Ok(mut n)) = (shared.ready.up(true, line), shared.notifier.lock()) {
        n.notify(&line);
    }
    Ok(())
}
