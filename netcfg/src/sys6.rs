//! The IPv6 sockets netcfg listens on: ICMPv6 (router advertisements) and
//! UDP port 546 (DHCPv6 client), each bound to one interface.
//! SO_BINDTODEVICE has no rustix wrapper, and rustix 1.0.8 (the libc-free
//! box's lock) sets IPV6_MULTICAST_HOPS at the IPv4 level (ENOPROTOOPT;
//! fixed in 1.1): one raw setsockopt here for both.
#![allow(unsafe_code)]

use linux_raw_sys::general::__NR_setsockopt;
use linux_raw_sys::net::{IPPROTO_IPV6, IPV6_MULTICAST_HOPS, SOL_SOCKET, SO_BINDTODEVICE};
use nodistro_common::syscall::syscall6;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

/// setsockopt(fd, level, name, value).
fn set_option(fd: &OwnedFd, level: usize, name: usize, value: &[u8]) -> io::Result<()> {
    // SAFETY: `value` is alive for the call and its exact length is passed;
    // the kernel only reads (copies) it; `fd` is open (borrowed).
    unsafe {
        syscall6(
            __NR_setsockopt,
            [
                fd.as_raw_fd() as usize,
                level,
                name,
                value.as_ptr() as usize,
                value.len(),
                0,
            ],
        )
    }
    .map(drop)
    .map_err(io::Error::from)
}

fn bind_device(fd: &OwnedFd, name: &str) -> io::Result<()> {
    set_option(
        fd,
        SOL_SOCKET as usize,
        SO_BINDTODEVICE as usize,
        name.as_bytes(),
    )
}

/// A raw ICMPv6 socket on interface `name`, non-blocking, whose multicast
/// hop limit is 255 (router solicitations must carry 255).
pub fn icmp6_socket(name: &str) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::INET6,
        SocketType::RAW,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        Some(net::ipproto::ICMPV6),
    )?;
    bind_device(&fd, name)?;
    set_option(
        &fd,
        IPPROTO_IPV6 as usize,
        IPV6_MULTICAST_HOPS as usize,
        &255i32.to_ne_bytes(),
    )?;
    net::sockopt::set_ipv6_unicast_hops(&fd, Some(255))?;
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
