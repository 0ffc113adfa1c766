//! The receive path as one function of untrusted bytes: everything a
//! hostile peer can hand netcfg (a raw frame into the client in each
//! receiving state, the same bytes as a bare DHCP payload, an rtnetlink
//! reply, an `ip=` value). None may panic. The cargo-fuzz target
//! (netcfg/fuzz) calls it, and a unit test runs it on stable over many
//! mutations of valid server replies, so CI exercises the fuzz harness too.

use crate::core::dhcp::{Action, Client, ClientConfig};
use crate::core::{frame, ipconf, lease, msg};
use crate::rtnl;
use std::net::Ipv4Addr;

/// Feed `data` to every parser and to a client in each state that receives.
#[doc(hidden)]
pub fn receive_everything(data: &[u8]) {
    let _ = frame::parse(data, true);
    let _ = rtnl::parse_ack(data, 1);
    let _ = msg::Msg::decode(data);
    let _ = msg::classless_routes(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ipconf::parse(s);
    }
    let mut cfg = ClientConfig::new([2, 0, 0, 0, 0, 1]);
    cfg.remembered = (data.first() == Some(&1)).then_some(Ipv4Addr::new(10, 0, 0, 5));
    let mut c = Client::new(cfg, 7);
    let _ = c.start(0);
    for now in [1, 2] {
        for a in c.handle_frame(data, now == 1, now) {
            if let Action::Apply(l) = a {
                let _ = lease::resolv_conf(&l);
            }
        }
        let _ = c.handle_payload(data, Ipv4Addr::new(10, 0, 0, 1), now);
        let _ = c.handle_timeout(now * 100_000);
    }
}

/// The IPv6 receive path: `data` as a router advertisement (decoded and
/// taken in), as a DHCPv6 message to a client in each receiving state
/// (Advertise-waiting, Reply-waiting, information, renewing), and as text
/// an IPv6 `ip=` value, and as an NTP reply. None may panic. The clients' seeds are fixed, so a
/// fuzzer can find their transaction ids (the stable test answers them).
#[doc(hidden)]
pub fn receive_ipv6(data: &[u8]) {
    use crate::core::dhcp6::client::{duid_ll, Client6};
    if let Ok(ra) = crate::core::ra::decode(data) {
        let mut l = crate::core::ra_state::Learned::default();
        let _ = l.apply(&ra, 1);
        let _ = l.expire(u64::MAX);
    }
    let _ = crate::core::dhcp6::msg::parse(data);
    // The same bytes as an NTP reply (its originate field as our nonce).
    if let Some(nonce) = data.get(24..32) {
        let mut n = [0u8; 8];
        n.copy_from_slice(nonce);
        let _ = crate::core::sntp::parse(data, u64::from_be_bytes(n), 0, 1, 1_793_491_200);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crate::core::ipconf6::parse(s);
    }
    let duid = duid_ll([2, 0, 0, 0, 0, 1]);
    let mut stateless = Client6::new(duid.clone(), 1, 7);
    let _ = stateless.start_stateless(0);
    let _ = stateless.handle(data, 1);
    let mut c = Client6::new(duid, 1, 7);
    let _ = c.start_stateful(0);
    for now in [1, 2, 3] {
        let _ = c.handle(data, now);
    }
    // Whatever state that left, time passes and the lease (if any) renews.
    if let Some(t) = c.next_timeout() {
        let _ = c.handle_timeout(t);
        let _ = c.handle(data, t + 1);
    }
    let _ = c.stop(u64::MAX / 2);
}

#[cfg(test)]
mod tests {
    /// The kept corpus (seeds and crash inputs of `bench/fuzz.sh`) and its
    /// mutations; dhcp::tests mutates live server replies as well.
    #[test]
    fn receive_corpus() {
        for i in nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "receive", &[]) {
            super::receive_everything(&i);
        }
    }

    /// The same for the IPv6/NTP target's corpus (`fuzz/corpus/ipv6`).
    #[test]
    fn ipv6_corpus() {
        for i in nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "ipv6", &[]) {
            super::receive_ipv6(&i);
        }
    }
}
