//! The receive path as one function of untrusted bytes: everything a
//! hostile peer can hand netcfg (a raw frame into the client in each
//! receiving state, the same bytes as a bare DHCP payload, an rtnetlink
//! reply, an `ip=` value). None may panic. The cargo-fuzz target
//! (netcfg/fuzz) calls it, and a unit test runs it on stable over many
//! mutations of valid server replies, so CI exercises the fuzz harness too.

use crate::dhcp::{Action, Client, ClientConfig};
use crate::{frame, ipconf, lease, msg, rtnl};
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
}
