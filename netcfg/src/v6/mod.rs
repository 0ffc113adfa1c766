//! The IPv6 IO shell for one interface, one thread: listens to router
//! advertisements (ICMPv6), runs the DHCPv6 client (UDP 546) as their M/O
//! flags (or `ip=dhcp6`) say, applies DHCPv6 addresses over rtnetlink,
//! publishes DNS to the merged resolv.conf, and tells init when an IPv6
//! address is ready. The kernel keeps doing SLAAC and the default route
//! from RAs; this thread names them on the console.

use crate::core::dhcp6::client::{duid_ll, Action6, Client6, Info6, Lease6};
use crate::core::if_inet6::globals;
use crate::core::ipconf6::{Mode, Static6};
use crate::core::ra::{self, Ra};
use crate::core::ra_state::Learned;
use crate::core::rtnl6;
use crate::core::solicit::Solicit;
use crate::error::RunError;
use crate::link::Iface;
use crate::resolv::{Entry, Source};
use crate::rtnl::{self, Netlink};
use crate::shared::{Options, Shared};
use crate::sys6;
use nodistro_common::timeline::log;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
const ALL_DHCP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// Console notes kept to say each once.
const NOTES_MAX: usize = 64;

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

/// Once-only console notes.
struct Notes(Vec<String>);

impl Notes {
    fn say(&mut self, iface: &str, s: &str) {
        if self.0.len() < NOTES_MAX && !self.0.iter().any(|n| n == s) {
            self.0.push(s.to_string());
            log("netcfg", &format!("{iface}: {s}"));
        }
    }
}

/// One interface's IPv6 state and what the console has been told.
struct Link<'a> {
    name: &'a str,
    index: u32,
    o: &'a Options,
    shared: &'a Shared,
    t0: Instant,
    nl: Netlink,
    learned: Learned,
    notes: Notes,
    /// Last console description of each router, and prefixes seen.
    routers: Vec<(Ipv6Addr, String)>,
    prefixes: Vec<String>,
    /// Addresses logged (and whether ready has been told).
    addrs: Vec<Ipv6Addr>,
    online: bool,
    /// DHCPv6 gave what it was asked for (address or information).
    dhcp_done: bool,
    ra_seen: bool,
    /// NTP servers from DHCPv6 option 56, and its DNS servers.
    ntp: Vec<Ipv6Addr>,
    dhcp_dns: Vec<Ipv6Addr>,
}

impl Link<'_> {
    fn now(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn log(&self, s: &str) {
        log("netcfg", &format!("{}: {s}", self.name));
    }

    fn publish(&mut self, source: Source, e: Entry) {
        if let Err(e) = self
            .shared
            .resolv
            .publish(&self.o.resolv_conf, self.name, source, e)
        {
            self.notes.say(
                self.name,
                &format!("cannot write {}: {e}", self.o.resolv_conf.display()),
            );
        }
    }

    fn router_advert(&mut self, r: &Ra, src: Ipv6Addr) {
        for w in &r.warnings {
            self.notes.say(self.name, &format!("RA from {src}: {w}"));
        }
        self.ra_seen = true;
        let mut d = format!("router {src} (RA: lifetime {} s", r.router_lifetime);
        if r.managed {
            d += ", managed";
        }
        if r.other {
            d += ", other config";
        }
        d += ")";
        if r.router_lifetime > 0 {
            d += &format!("; default route via {src} (by the kernel)");
        }
        match self.routers.iter().position(|(a, _)| *a == src) {
            Some(i) if self.routers[i].1 == d => {}
            Some(i) => {
                self.log(&d);
                self.routers[i].1 = d;
            }
            None if self.routers.len() < ra::MAX_ITEMS => {
                self.log(&d);
                self.routers.push((src, d));
            }
            None => {}
        }
        for p in &r.prefixes {
            let mut s = format!("prefix {}/{} (RA", p.prefix, p.len);
            if p.on_link {
                s += ", on-link";
            }
            if p.autonomous {
                s += ", SLAAC";
            }
            s += ")";
            if self.prefixes.len() < 32 && !self.prefixes.contains(&s) {
                self.prefixes.push(s.clone());
                self.log(&s);
            }
        }
        let now = self.now();
        if self.learned.apply(r, now) {
            let e = self.learned.entry();
            self.log(&describe("RA", &e.servers, &e.domains));
            self.publish(Source::Ra, e);
        }
    }

    fn bound(&mut self, l: &Lease6) -> Result<(), RunError> {
        let body = rtnl6::addr_body(self.index, l.addr, 128, Some((l.preferred, l.valid)));
        self.nl
            .request(rtnl::RTM_NEWADDR, &body)
            .map_err(|source| crate::apply::ApplyError::Netlink {
                what: format!("add address {}/128", l.addr),
                iface: self.name.to_string(),
                source,
            })?;
        let life = |s: u32| {
            if s == u32::MAX {
                "infinite".into()
            } else {
                format!("{s} s")
            }
        };
        self.log(&format!(
            "IPv6 {}/128 (DHCPv6: preferred {}, valid {}, renew in {})",
            l.addr,
            life(l.preferred),
            life(l.valid),
            life(l.t1)
        ));
        self.dhcp_done = true;
        Ok(())
    }

    fn unbound(&mut self, l: &Lease6) {
        let _ = self.nl.request(
            rtnl::RTM_DELADDR,
            &rtnl6::addr_body(self.index, l.addr, 128, None),
        );
        self.addrs.retain(|a| *a != l.addr);
        self.log(&format!("removed {}/128", l.addr));
    }

    fn info(&mut self, i: &Info6) {
        let servers: Vec<IpAddr> = i.dns.iter().map(|&a| a.into()).collect();
        let mut line = describe("DHCPv6", &servers, &i.domains);
        if !i.ntp.is_empty() {
            let n: Vec<String> = i.ntp.iter().map(|a| a.to_string()).collect();
            line += &format!(" ntp {}", n.join(","));
        }
        self.log(&line);
        self.ntp = i.ntp.clone();
        self.shared
            .ntp
            .publish(self.name, true, i.ntp.iter().map(|&a| a.into()).collect());
        self.dhcp_dns = i.dns.clone();
        self.dhcp_done = true;
        self.publish(
            Source::Dhcp6,
            Entry {
                servers,
                domains: i.domains.clone(),
            },
        );
    }

    /// Log new global addresses; tell init when the first is usable.
    fn check_addresses(&mut self) -> Option<(Ipv6Addr, u8)> {
        let text = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
        let mut ready = None;
        for (a, p, tentative) in globals(&text, self.name) {
            if tentative {
                continue;
            }
            if ready.is_none() {
                ready = Some((a, p));
            }
            if self.addrs.len() < 32 && !self.addrs.contains(&a) {
                self.addrs.push(a);
                if p == 128 {
                    continue;
                }
                self.log(&format!("IPv6 {a}/{p} (SLAAC, by the kernel)"));
            }
        }
        if let (Some((a, p)), false) = (ready, self.online) {
            self.online = true;
            self.log(&format!("IPv6 ready: {a}/{p} after {} ms", self.now()));
            let line = nodistro_common::protocol::ready::online(self.name, a, p);
            if let (Some(line), Ok(mut n)) = (
                self.shared.ready.up(true, line),
                self.shared.notifier.lock(),
            ) {
                n.notify(&line);
            }
        }
        ready
    }
}

fn describe(source: &str, servers: &[IpAddr], domains: &[String]) -> String {
    let s: Vec<String> = servers.iter().map(|a| a.to_string()).collect();
    let mut line = format!(
        "{source}: dns {}",
        if s.is_empty() {
            "none".into()
        } else {
            s.join(",")
        }
    );
    if !domains.is_empty() {
        line += &format!(" search {}", domains.join(" "));
    }
    line
}

/// Follow RAs and run DHCPv6 on `name` until `shared.stop` fires (then
/// release), or with `oneshot` until an address and what DHCPv6 was asked
/// for are there.
pub fn run(name: &str, mode: Mode, o: &Options, shared: &Shared) -> Result<(), RunError> {
    let t0 = Instant::now();
    let iface = Iface::find(name)?;
    let mut nl = Netlink::open().map_err(socket_err("rtnetlink", name))?;
    nl.link_up(iface.index, None)
        .map_err(|e| RunError::LinkUp(name.to_string(), e))?;
    let icmp = sys6::icmp6_socket(name).map_err(socket_err("ICMPv6", name))?;
    let udp = sys6::dhcp6_socket(name).map_err(socket_err("DHCPv6 (UDP 546)", name))?;
    let iaid = u32::from_be_bytes([iface.mac[2], iface.mac[3], iface.mac[4], iface.mac[5]]);
    let mut client = Client6::new(duid_ll(iface.mac), iaid, seed());
    let mut l = Link {
        name,
        index: iface.index,
        o,
        shared,
        t0,
        nl,
        learned: Learned::default(),
        notes: Notes(Vec::new()),
        routers: Vec::new(),
        prefixes: Vec::new(),
        addrs: Vec::new(),
        online: false,
        dhcp_done: false,
        ra_seen: false,
        ntp: Vec::new(),
        dhcp_dns: Vec::new(),
    };
    let mut actions = if mode == Mode::Dhcp6 {
        client.start_stateful(0)
    } else {
        vec![]
    };
    let mut solicit = Solicit::new();
    // Carrier changes: solicit again when the link comes back. Without
    // the subscription, routers are heard when they next advertise.
    let events = rtnl::link_events()
        .map_err(|e| l.notes.say(name, &format!("no link notifications: {e}")))
        .ok();
    let mut carrier = crate::link::has_carrier(name);
    let mut stopping = false;
    let mut unsent: Option<(Vec<u8>, u64)> = None;
    let mut buf = vec![0u8; 4096];
    loop {
        for a in std::mem::take(&mut actions) {
            match a {
                Action6::Send(m) => {
                    if let Err(e) = sys6::send_link(&udp, &m, ALL_DHCP, 547, l.index) {
                        // Usually the link-local address is still
                        // tentative (DAD): try again shortly.
                        l.notes.say(name, &format!("cannot send DHCPv6 yet: {e}"));
                        unsent = Some((m, l.now() + 100));
                    } else {
                        unsent = None;
                    }
                }
                Action6::Bound(lease) => l.bound(&lease)?,
                Action6::Unbound(lease) => l.unbound(&lease),
                Action6::Info(i) => l.info(&i),
                Action6::Log(s) => l.notes.say(name, &s),
            }
        }
        if stopping {
            shared.resolv.withdraw(&o.resolv_conf, name, Source::Ra);
            shared.resolv.withdraw(&o.resolv_conf, name, Source::Dhcp6);
            return Ok(());
        }
        let ready = l.check_addresses();
        let now = l.now();
        if o.oneshot {
            // Done: an address, and what the RA (auto6) and DHCPv6 (when
            // asked for) had to say.
            let dhcp_wanted = mode == Mode::Dhcp6 || !client.idle();
            let heard = l.ra_seen || mode == Mode::Dhcp6;
            if let Some((a, p)) = ready.filter(|_| heard && (l.dhcp_done || !dhcp_wanted)) {
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
                return Ok(());
            }
            if now >= o.timeout.as_millis() as u64 {
                return Err(RunError::Timeout(name.to_string(), o.timeout.as_secs()));
            }
        }
        if solicit.due(now) {
            // Fails while the link-local address is tentative; retried.
            if sys6::send_link(&icmp, &ra::solicitation(), ALL_ROUTERS, 0, l.index).is_ok() {
                solicit.sent(now);
            } else {
                solicit.send_failed(now);
            }
        }
        if let Some((m, at)) = unsent.take() {
            if now < at {
                unsent = Some((m, at));
            } else if sys6::send_link(&udp, &m, ALL_DHCP, 547, l.index).is_err() {
                unsent = Some((m, now + 100));
            }
        }
        let mut wake = [
            client.next_timeout(),
            l.learned.next_timeout(),
            unsent.as_ref().map(|u| u.1),
            solicit.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u64::MAX);
        // Addresses appear by the kernel's SLAAC and DAD: look again soon.
        if !l.online || now < 30_000 {
            wake = wake.min(now + 200);
        }
        if o.oneshot {
            wake = wake.min(o.timeout.as_millis() as u64);
        }
        let wait = wake.saturating_sub(now).min(86_400_000);
        let ts = Timespec {
            tv_sec: (wait / 1000) as i64,
            tv_nsec: ((wait % 1000) * 1_000_000) as i64,
        };
        let mut fds = vec![
            PollFd::new(&icmp, PollFlags::IN),
            PollFd::new(&udp, PollFlags::IN),
            PollFd::new(&shared.stop, PollFlags::IN),
        ];
        if let Some(ev) = &events {
            fds.push(PollFd::new(ev, PollFlags::IN));
        }
        let _ = poll(&mut fds, Some(&ts));
        let now = l.now();
        let stop = !fds[2].revents().is_empty();
        let link_changed = fds.get(3).is_some_and(|f| !f.revents().is_empty());
        drop(fds);
        if stop {
            actions = client.stop(now);
            stopping = true;
            continue;
        }
        if let (true, Some(ev)) = (link_changed, &events) {
            while rustix::net::recv(ev, &mut buf[..], rustix::net::RecvFlags::DONTWAIT).is_ok() {}
            let up = crate::link::has_carrier(name);
            if up && !carrier {
                l.log("carrier back; soliciting routers");
                solicit.link_returned(now);
            }
            carrier = up;
        }
        while let Some((n, from, hops)) = sys6::recv6_hop_limit(&icmp, &mut buf) {
            let Some(src) = from else {
                continue;
            };
            if buf.first() != Some(&ra::TYPE_RA) {
                continue;
            }
            // RFC 4861 6.1.2: from a link-local address, hop limit 255.
            if let Err(why) = ra::from_this_link(&src, hops) {
                l.notes.say(name, &why);
                continue;
            }
            match ra::decode(&buf[..n]) {
                Ok(r) => {
                    if let Some(s) = solicit.router_heard(now) {
                        l.log(&s);
                    }
                    l.router_advert(&r, src);
                    if r.managed && !client.stateful() {
                        actions.extend(client.start_stateful(now));
                    } else if r.other && client.idle() {
                        actions.extend(client.start_stateless(now));
                    }
                }
                Err(e) => l.notes.say(
                    name,
                    &format!("RA from {src} ignored, previous state kept: {e}"),
                ),
            }
        }
        while let Some((n, _)) = sys6::recv6(&udp, &mut buf) {
            actions.extend(client.handle(&buf[..n], now));
        }
        if l.learned.expire(now) {
            let e = l.learned.entry();
            l.log(&describe("RA (expired)", &e.servers, &e.domains));
            l.publish(Source::Ra, e);
        }
        actions.extend(client.handle_timeout(now));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_addresses_with_tentative_flag() {
        let text = "fe800000000000001cb476fffe193ee2 05 40 20 80 eth0\n\
                    20010db8000000001cb476fffe193ee2 05 40 00 00 eth0\n\
                    20010db8000000000000000000000042 05 80 00 40 eth0\n\
                    20010db8000000000000000000000001 06 40 00 00 eth1\n\
                    garbage\n";
        let g = globals(text, "eth0");
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0],
            (
                "2001:db8::1cb4:76ff:fe19:3ee2".parse().expect("a"),
                64,
                false
            )
        );
        assert!(g[1].2, "tentative");
    }
}
