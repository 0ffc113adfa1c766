//! What router advertisements taught, with lifetimes (RFC 8106 section
//! 5.3: lifetime 0 withdraws a server or domain, 0xffffffff never expires).
//! Sans-IO: fed decoded RAs and the time in milliseconds.

use crate::core::ra::Ra;
use crate::core::resolv::Entry;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Default)]
pub struct Learned {
    /// (server, expiry ms; None: never).
    servers: Vec<(Ipv6Addr, Option<u64>)>,
    domains: Vec<(String, Option<u64>)>,
}

fn expiry(now: u64, life: u32) -> Option<u64> {
    (life != u32::MAX).then(|| now.saturating_add(u64::from(life) * 1000))
}

fn merge<T: PartialEq + Clone>(list: &mut Vec<(T, Option<u64>)>, new: &[(T, u32)], now: u64) {
    for (item, life) in new {
        match list.iter().position(|(x, _)| x == item) {
            Some(i) if *life == 0 => {
                list.remove(i);
            }
            Some(i) => list[i].1 = expiry(now, *life),
            None if *life != 0 => list.push((item.clone(), expiry(now, *life))),
            None => {}
        }
    }
    list.truncate(crate::core::ra::MAX_ITEMS);
}

impl Learned {
    /// Take in an RA; true if the servers or domains changed.
    pub fn apply(&mut self, ra: &Ra, now: u64) -> bool {
        let before = self.entry();
        merge(&mut self.servers, &ra.rdnss, now);
        merge(&mut self.domains, &ra.dnssl, now);
        self.expire(now);
        self.entry() != before
    }

    /// Drop what expired; true if anything did.
    pub fn expire(&mut self, now: u64) -> bool {
        let n = self.servers.len() + self.domains.len();
        self.servers.retain(|(_, e)| e.is_none_or(|e| e > now));
        self.domains.retain(|(_, e)| e.is_none_or(|e| e > now));
        n != self.servers.len() + self.domains.len()
    }

    pub fn next_timeout(&self) -> Option<u64> {
        self.servers
            .iter()
            .filter_map(|(_, e)| *e)
            .chain(self.domains.iter().filter_map(|(_, e)| *e))
            .min()
    }

    pub fn entry(&self) -> Entry {
        Entry {
            servers: self.servers.iter().map(|(a, _)| IpAddr::V6(*a)).collect(),
            domains: self.domains.iter().map(|(d, _)| d.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_add_refresh_withdraw_and_expire() {
        let a: Ipv6Addr = "fd00::1".parse().expect("addr");
        let b: Ipv6Addr = "fd00::2".parse().expect("addr");
        let mut l = Learned::default();
        let ra = |rdnss: Vec<(Ipv6Addr, u32)>| Ra {
            rdnss,
            ..Ra::default()
        };
        assert!(l.apply(&ra(vec![(a, 10), (b, u32::MAX)]), 0));
        assert_eq!(l.next_timeout(), Some(10_000));
        assert!(!l.apply(&ra(vec![(a, 20)]), 5_000), "refresh only");
        assert!(!l.expire(20_000));
        assert!(l.expire(25_000), "a expired");
        assert_eq!(l.entry().servers, vec![IpAddr::V6(b)]);
        assert!(l.apply(&ra(vec![(b, 0)]), 26_000), "lifetime 0 withdraws");
        assert_eq!(l.entry(), Entry::default());
    }
}
