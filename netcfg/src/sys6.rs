//! The IPv6 sockets netcfg listens on: ICMPv6 (router advertisements) and
//! UDP port 546 (DHCPv6 client), each bound to one interface.
//! SO_BINDTODEVICE and IPV6_RECVHOPLIMIT have no rustix wrapper, nor does
//! the IPV6_HOPLIMIT control message: a raw setsockopt and recvmsg here.
#![allow(unsafe_code)]

use linux_raw_sys::general::{__NR_recvmsg, __NR_setsockopt};
use linux_raw_sys::net::{
    cmsghdr, msghdr, AF_INET6, IPV6_HOPLIMIT, IPV6_RECVHOPLIMIT, MSG_DONTWAIT, SOL_IPV6,
    SOL_SOCKET, SO_BINDTODEVICE,
};
use nodistro_common::syscall::syscall6;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType};
use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

/// `setsockopt(fd, level, name, b, b.len())`.
fn setsockopt_bytes(fd: &OwnedFd, level: u32, name: u32, b: &[u8]) -> io::Result<()> {
    // SAFETY: `b` is alive for the call and its exact length is passed;
    // the kernel only reads (copies) it; `fd` is open (borrowed).
    unsafe {
        syscall6(
            __NR_setsockopt,
            [
                fd.as_raw_fd() as usize,
                level as usize,
                name as usize,
                b.as_ptr() as usize,
                b.len(),
                0,
            ],
        )
    }
    .map(drop)
    .map_err(io::Error::from)
}

fn bind_device(fd: &OwnedFd, name: &str) -> io::Result<()> {
    setsockopt_bytes(fd, SOL_SOCKET, SO_BINDTODEVICE, name.as_bytes())
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
    net::sockopt::set_ipv6_multicast_hops(&fd, 255)?;
    net::sockopt::set_ipv6_unicast_hops(&fd, Some(255))?;
    setsockopt_bytes(&fd, SOL_IPV6, IPV6_RECVHOPLIMIT, &1i32.to_ne_bytes())?;
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

/// `struct iovec`.
#[repr(C)]
struct IoVec {
    base: *mut u8,
    len: usize,
}

/// `struct sockaddr_in6`, the address as bytes.
#[repr(C)]
#[derive(Default)]
struct SockaddrIn6 {
    family: u16,
    port: u16,
    flowinfo: u32,
    addr: [u8; 16],
    scope_id: u32,
}

/// A recvmsg control buffer, aligned for `struct cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 64]);

/// Receive one datagram of a socket set up by [`icmp6_socket`]: its
/// length, IPv6 source and the IP hop limit it arrived with (None: would
/// block). std and rustix have no way to the IPV6_HOPLIMIT control
/// message: one raw recvmsg here.
pub fn recv6_hop_limit(
    fd: &OwnedFd,
    buf: &mut [u8],
) -> Option<(usize, Option<Ipv6Addr>, Option<u8>)> {
    let mut from = SockaddrIn6::default();
    let mut iov = IoVec {
        base: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let mut control = Control([0; 64]);
    let mut msg = msghdr {
        msg_name: (&mut from as *mut SockaddrIn6).cast(),
        msg_namelen: std::mem::size_of::<SockaddrIn6>() as i32,
        msg_iov: (&mut iov as *mut IoVec).cast(),
        msg_iovlen: 1,
        msg_control: control.0.as_mut_ptr().cast(),
        msg_controllen: control.0.len(),
        msg_flags: 0,
    };
    // SAFETY: `msg` points at `from`, `iov` (and through it `buf`) and
    // `control`, all alive and exclusively borrowed for the call, with
    // their true sizes; the kernel writes within those sizes and updates
    // `msg`'s lengths. `fd` is open (borrowed).
    let n = unsafe {
        syscall6(
            __NR_recvmsg,
            [
                fd.as_raw_fd() as usize,
                &mut msg as *mut msghdr as usize,
                MSG_DONTWAIT as usize,
                0,
                0,
                0,
            ],
        )
    }
    .ok()?;
    let used = msg.msg_controllen.min(control.0.len());
    let src = (from.family == AF_INET6 as u16).then(|| Ipv6Addr::from(from.addr));
    Some((n.min(buf.len()), src, hop_limit_of(&control.0[..used])))
}

/// The IPV6_HOPLIMIT value among the control messages of a recvmsg
/// (`struct cmsghdr`: a usize length, level and type as i32, the data
/// after the header, each message aligned to a usize).
fn hop_limit_of(control: &[u8]) -> Option<u8> {
    const W: usize = std::mem::size_of::<usize>();
    let head = std::mem::size_of::<cmsghdr>();
    let mut at = 0;
    while let Some(h) = control.get(at..at + head) {
        let len = usize::from_ne_bytes(h[..W].try_into().ok()?);
        let level = i32::from_ne_bytes(h[W..W + 4].try_into().ok()?);
        let ty = i32::from_ne_bytes(h[W + 4..W + 8].try_into().ok()?);
        if len < head {
            return None;
        }
        if level == SOL_IPV6 as i32 && ty == IPV6_HOPLIMIT as i32 {
            let v = control.get(at + head..at + head + 4)?;
            return u8::try_from(i32::from_ne_bytes(v.try_into().ok()?)).ok();
        }
        at = at.checked_add(len.checked_add(W - 1)? & !(W - 1))?;
    }
    None
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

    fn cmsg(level: u32, ty: u32, data: &[u8]) -> Vec<u8> {
        let head = std::mem::size_of::<cmsghdr>();
        let mut v = (head + data.len()).to_ne_bytes().to_vec();
        v.extend((level as i32).to_ne_bytes());
        v.extend((ty as i32).to_ne_bytes());
        v.extend(data);
        while v.len() % std::mem::size_of::<usize>() != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn hop_limit_found_among_control_messages() {
        let hops = cmsg(SOL_IPV6, IPV6_HOPLIMIT, &255i32.to_ne_bytes());
        assert_eq!(hop_limit_of(&hops), Some(255));
        let other = cmsg(SOL_IPV6, 50, &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let both = [other.clone(), cmsg(SOL_IPV6, IPV6_HOPLIMIT, &64i32.to_ne_bytes())].concat();
        assert_eq!(hop_limit_of(&both), Some(64));
        assert_eq!(hop_limit_of(&other), None);
        assert_eq!(hop_limit_of(&[]), None);
        // Cut short, or a length that would not move on: no answer, no panic.
        assert_eq!(hop_limit_of(&hops[..hops.len() - 8]), None);
        let mut zero = hops.clone();
        zero[..8].fill(0);
        assert_eq!(hop_limit_of(&zero), None);
    }
}
