//! The IPv6 sockets netcfg listens on: ICMPv6 (router advertisements) and
//! UDP port 546 (DHCPv6 client), each bound to one interface.
//! SO_BINDTODEVICE and IPV6_RECVHOPLIMIT have no rustix wrapper, nor does
//! the IPV6_HOPLIMIT control message: [`crate::rawsock`]'s setsockopt and
//! recvmsg. IPV6_MULTICAST_HOPS goes the same way: rustix 1.0.8 (the
//! libc-free box's lock) sets it at the IPv4 level (ENOPROTOOPT; fixed in
//! 1.1).

use crate::rawsock::{cmsg_u32, recvmsg, setsockopt, Control};
use linux_raw_sys::net::{
    AF_INET6, IPV6_HOPLIMIT, IPV6_MULTICAST_HOPS, IPV6_RECVHOPLIMIT, SOL_IPV6, SOL_SOCKET,
    SO_BINDTODEVICE,
};
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::OwnedFd;

fn bind_device(fd: &OwnedFd, name: &str) -> io::Result<()> {
    Ok(setsockopt(
        fd,
        SOL_SOCKET,
        SO_BINDTODEVICE,
        name.as_bytes(),
    )?)
}

/// A raw ICMPv6 socket on interface `name`, non-blocking, whose multicast
/// hop limit is 255 (router solicitations must carry 255), and which tells
/// each message's IP hop limit ([`recv6_hop_limit`]).
pub fn icmp6_socket(name: &str) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::INET6,
        SocketType::RAW,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        Some(net::ipproto::ICMPV6),
    )?;
    bind_device(&fd, name)?;
    setsockopt(&fd, SOL_IPV6, IPV6_MULTICAST_HOPS, &255i32)?;
    net::sockopt::set_ipv6_unicast_hops(&fd, Some(255))?;
    setsockopt(&fd, SOL_IPV6, IPV6_RECVHOPLIMIT, &1i32)?;
    Ok(fd)
}

/// A UDP socket on `[::]:546` of interface `name`, non-blocking.
pub fn dhcp6_socket(name: &str) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::INET6,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::sockopt::set_ipv6_v6only(&fd, true)?;
    net::sockopt::set_socket_reuseaddr(&fd, true)?;
    bind_device(&fd, name)?;
    net::bind(&fd, &SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 546, 0, 0))?;
    Ok(fd)
}

/// Receive one datagram: its length and IPv6 source (None: would block).
pub fn recv6(fd: &OwnedFd, buf: &mut [u8]) -> Option<(usize, Option<SocketAddrV6>)> {
    let len = buf.len();
    match net::recvfrom(fd, buf, net::RecvFlags::DONTWAIT) {
        Ok((n, _, from)) => Some((n.min(len), from.and_then(|a| a.try_into().ok()))),
        Err(_) => None,
    }
}

/// Receive one datagram of a socket set up by [`icmp6_socket`]: its
/// length, IPv6 source and the IP hop limit it arrived with (None: would
/// block). std and rustix have no way to the IPV6_HOPLIMIT control
/// message: [`crate::rawsock::recvmsg`].
pub fn recv6_hop_limit(
    fd: &OwnedFd,
    buf: &mut [u8],
) -> Option<(usize, Option<Ipv6Addr>, Option<u8>)> {
    // struct sockaddr_in6: family, port, flow info, address, scope.
    let mut from = [0u8; 28];
    let mut control = Control::default();
    let (n, used) = recvmsg(fd, buf, &mut from, &mut control).ok()?;
    let family = u16::from_ne_bytes([from[0], from[1]]);
    let src = (u32::from(family) == AF_INET6).then(|| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&from[8..24]);
        Ipv6Addr::from(a)
    });
    let hops =
        cmsg_u32(&control.0[..used], SOL_IPV6, IPV6_HOPLIMIT).and_then(|h| u8::try_from(h).ok());
    Some((n, src, hops))
}

/// Send to a link-local multicast group on interface `index`.
pub fn send_link(
    fd: &OwnedFd,
    data: &[u8],
    group: Ipv6Addr,
    port: u16,
    index: u32,
) -> io::Result<()> {
    let to = SocketAddrV6::new(group, port, 0, index);
    net::sendto(fd, data, net::SendFlags::empty(), &to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rawsock::tests::cmsg;

    #[test]
    fn hop_limit_is_read_from_its_control_message() {
        let c = [
            cmsg(SOL_IPV6, 50, &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            cmsg(SOL_IPV6, IPV6_HOPLIMIT, &64i32.to_ne_bytes()),
        ]
        .concat();
        let hops = cmsg_u32(&c, SOL_IPV6, IPV6_HOPLIMIT);
        assert_eq!(hops, Some(64));
    }
}
