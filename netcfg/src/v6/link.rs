//! What one interface's IPv6 thread knows and has told: routers,
//! prefixes, addresses, DHCPv6 results; the console lines, the merged
//! resolv.conf, the learned NTP servers and init's readiness line.

use crate::core::dhcp6::client::{Info6, Lease6};
use crate::core::if_inet6::globals;
use crate::core::ra::{self, Ra};
use crate::core::ra_state::Learned;
use crate::core::rtnl6;
use crate::error::RunError;
use crate::resolv::{Entry, Source};
use crate::rtnl::{self, Netlink};
use crate::shared::{Options, Shared};
use nodistro_common::timeline::log;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

/// Console notes kept to say each once.
const NOTES_MAX: usize = 64;

/// Once-only console notes.
pub(super) struct Notes(pub(super) Vec<String>);

impl Notes {
    pub(super) fn say(&mut self, iface: &str, s: &str) {
        if self.0.len() < NOTES_MAX && !self.0.iter().any(|n| n == s) {
            self.0.push(s.to_string());
            log("netcfg", &format!("{iface}: {s}"));
        }
    }
}

/// One interface's IPv6 state and what the console has been told.
pub(super) struct Link<'a> {
    pub(super) name: &'a str,
    pub(super) index: u32,
    pub(super) o: &'a Options,
    pub(super) shared: &'a Shared,
    pub(super) t0: Instant,
    pub(super) nl: Netlink,
    pub(super) learned: Learned,
    pub(super) notes: Notes,
    /// Last console description of each router, and prefixes seen.
    pub(super) routers: Vec<(Ipv6Addr, String)>,
    pub(super) prefixes: Vec<String>,
    /// Addresses logged (and whether ready has been told).
    pub(super) addrs: Vec<Ipv6Addr>,
    pub(super) online: bool,
    /// DHCPv6 gave what it was asked for (address or information).
    pub(super) dhcp_done: bool,
    pub(super) ra_seen: bool,
    /// NTP servers from DHCPv6 option 56, and its DNS servers.
    pub(super) ntp: Vec<Ipv6Addr>,
    pub(super) dhcp_dns: Vec<Ipv6Addr>,
}

impl<'a> Link<'a> {
    pub(super) fn new(
        name: &'a str,
        index: u32,
        o: &'a Options,
        shared: &'a Shared,
        t0: Instant,
        nl: Netlink,
    ) -> Self {
        Link {
            name,
            index,
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
        }
    }

    pub(super) fn now(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    pub(super) fn log(&self, s: &str) {
        log("netcfg", &format!("{}: {s}", self.name));
    }

    pub(super) fn publish(&mut self, source: Source, e: Entry) {
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

    pub(super) fn router_advert(&mut self, r: &Ra, src: Ipv6Addr) {
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

    pub(super) fn bound(&mut self, l: &Lease6) -> Result<(), RunError> {
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

    pub(super) fn unbound(&mut self, l: &Lease6) {
        let _ = self.nl.request(
            rtnl::RTM_DELADDR,
            &rtnl6::addr_body(self.index, l.addr, 128, None),
        );
        self.addrs.retain(|a| *a != l.addr);
        self.log(&format!("removed {}/128", l.addr));
    }

    pub(super) fn info(&mut self, i: &Info6) {
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
    pub(super) fn check_addresses(&mut self) -> Option<(Ipv6Addr, u8)> {
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

pub(super) fn describe(source: &str, servers: &[IpAddr], domains: &[String]) -> String {
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
