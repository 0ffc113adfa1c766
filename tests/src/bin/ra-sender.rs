//! Sends one router advertisement to all nodes (ff02::1) on IFACE with the
//! given IP hop limit: no prefix, not a default router, one RDNSS option
//! (lifetime 600 s). A router's RA carries hop limit 255; any other value
//! means it was forwarded, which RFC 4861 6.1.2 says to drop.
//!
//!   ra-sender IFACE HOP_LIMIT RDNSS_ADDRESS

use rustix::net::{self, ipproto, sockopt, AddressFamily, SocketFlags, SocketType};
use std::net::{Ipv6Addr, SocketAddrV6};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, iface, hops, rdnss] = &args[..] else {
        eprintln!("usage: ra-sender IFACE HOP_LIMIT RDNSS_ADDRESS");
        std::process::exit(2);
    };
    let hops: u32 = hops.parse().expect("hop limit");
    let rdnss: Ipv6Addr = rdnss.parse().expect("RDNSS address");
    let fd = net::socket_with(
        AddressFamily::INET6,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(ipproto::ICMPV6),
    )
    .expect("raw ICMPv6 socket (root)");
    let index = net::netdevice::name_to_index(&fd, iface).expect("interface index");
    sockopt::set_ipv6_multicast_hops(&fd, hops).expect("IPV6_MULTICAST_HOPS");
    sockopt::set_ipv6_multicast_if(&fd, index).expect("IPV6_MULTICAST_IF");
    // Type 134, code 0, checksum (the kernel fills it for ICMPv6 raw
    // sockets), current hop limit 64, no flags, router lifetime 0,
    // reachable and retransmit times 0.
    let mut ra = vec![134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    // RDNSS (RFC 8106): type 25, 3 units of 8 bytes, reserved, lifetime.
    ra.extend_from_slice(&[25, 3, 0, 0]);
    ra.extend_from_slice(&600u32.to_be_bytes());
    ra.extend_from_slice(&rdnss.octets());
    let to = SocketAddrV6::new("ff02::1".parse().expect("ff02::1"), 0, 0, index);
    net::sendto(&fd, &ra, net::SendFlags::empty(), &to).expect("send the RA");
}
