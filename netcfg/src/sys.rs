//! The packet socket DHCP uses: socket(2) through rustix; binding to an
//! interface (sockaddr_ll), attaching a classic BPF filter and reading
//! PACKET_AUXDATA, which rustix does not wrap, through named raw-syscall
//! wrappers (nodistro_common::syscall and [`crate::rawsock`]), so netcfg
//! calls no C library.
#![allow(unsafe_code)]

use crate::rawsock::{cmsg_u32, recvmsg, setsockopt, Control};
use linux_raw_sys::general::__NR_bind;
use linux_raw_sys::if_packet::{sockaddr_ll, PACKET_AUXDATA, TP_STATUS_CSUMNOTREADY};
use linux_raw_sys::net::{AF_PACKET, SOL_PACKET, SOL_SOCKET, SO_ATTACH_FILTER};
use nodistro_common::syscall::syscall6;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// `ETH_P_IP`: the IPv4 EtherType.
const ETH_P_IP: u16 = 0x0800;

/// Classic BPF: IPv4 UDP, not a fragment, destination port 68 (the DHCP
/// client port); everything else never reaches the socket.
const FILTER: [(u16, u8, u8, u32); 9] = [
    (0x30, 0, 0, 23),     // ldb [23]          ip protocol
    (0x15, 0, 6, 17),     // jeq #17 else drop
    (0x28, 0, 0, 20),     // ldh [20]          flags + fragment offset
    (0x45, 4, 0, 0x1fff), // jset #0x1fff -> drop
    (0xb1, 0, 0, 14),     // ldxb 4*([14]&0xf) ip header length
    (0x48, 0, 0, 16),     // ldh [x+16]        udp destination port
    (0x15, 0, 1, 68),     // jeq #68 else drop
    (0x06, 0, 0, 0xffff), // ret whole frame
    (0x06, 0, 0, 0),      // drop
];

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// `struct sock_fprog`: the program's length and address.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// `bind(fd, sockaddr_ll)`.
fn bind_link(fd: &OwnedFd, addr: &sockaddr_ll) -> Result<(), Errno> {
    // SAFETY: `addr` is a live sockaddr_ll of the size passed, only read by
    // the kernel during the call; `fd` is open (borrowed).
    unsafe {
        syscall6(
            __NR_bind,
            [
                fd.as_raw_fd() as usize,
                addr as *const sockaddr_ll as usize,
                std::mem::size_of::<sockaddr_ll>(),
                0,
                0,
                0,
            ],
        )
    }
    .map(drop)
}

/// A non-blocking AF_PACKET socket (SOCK_RAW: Ethernet headers included),
/// bound to nothing yet.
fn raw_packet_socket() -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        AddressFamily::PACKET,
        SocketType::RAW,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?)
}

/// A raw packet socket (SOCK_RAW, Ethernet headers included) receiving the
/// DHCP client port on interface `ifindex` only.
pub fn packet_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let fd = raw_packet_socket()?;
    let prog: Vec<SockFilter> = FILTER
        .iter()
        .map(|&(code, jt, jf, k)| SockFilter { code, jt, jf, k })
        .collect();
    let fprog = SockFprog {
        len: prog.len() as u16,
        filter: prog.as_ptr(),
    };
    // The kernel copies the program during the call; `prog` outlives it.
    setsockopt(&fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog)?;
    // Bind with the protocol only now, so nothing unfiltered was queued.
    bind_link(&fd, &link_addr(ETH_P_IP, ifindex))?;
    Ok(fd)
}

/// The link-layer address a packet socket binds to: `protocol` (an
/// EtherType) on interface `ifindex`.
fn link_addr(protocol: u16, ifindex: u32) -> sockaddr_ll {
    sockaddr_ll {
        sll_family: AF_PACKET as u16,
        sll_protocol: protocol.to_be(),
        sll_ifindex: ifindex as i32,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

/// A raw packet socket receiving ARP frames on interface `ifindex`
/// (address conflict detection) and sending whole Ethernet frames.
pub fn arp_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let fd = raw_packet_socket()?;
    bind_link(&fd, &link_addr(0x0806, ifindex))?;
    Ok(fd)
}

/// Ask the kernel to say, with each received frame, whether its checksum is
/// still to be filled in (veth and other offloading devices hand packet
/// sockets frames with a partial UDP checksum).
pub fn enable_auxdata(fd: &OwnedFd) -> io::Result<()> {
    Ok(setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &1i32)?)
}

/// Receive one frame without blocking. Returns its length and whether the
/// kernel says its checksum is not filled in yet (TP_STATUS_CSUMNOTREADY).
pub fn recv_frame(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut control = Control::default();
    let (n, used) = recvmsg(fd, buf, &mut [], &mut control)?;
    Ok((n, checksum_not_ready(&control.0[..used])))
}

/// True if a PACKET_AUXDATA record among the control messages says
/// TP_STATUS_CSUMNOTREADY (tp_status is the first field of struct
/// tpacket_auxdata).
fn checksum_not_ready(control: &[u8]) -> bool {
    cmsg_u32(control, SOL_PACKET, PACKET_AUXDATA)
        .is_some_and(|status| status & TP_STATUS_CSUMNOTREADY != 0)
}

#[cfg(test)]
mod tests {
    use super::checksum_not_ready;
    use linux_raw_sys::if_packet::{PACKET_AUXDATA, TP_STATUS_CSUMNOTREADY};
    use linux_raw_sys::net::SOL_PACKET;

    fn cmsg(level: u32, kind: u32, status: u32) -> Vec<u8> {
        // A 20-byte tpacket_auxdata, tp_status first.
        let mut data = status.to_ne_bytes().to_vec();
        data.resize(20, 0);
        crate::rawsock::tests::cmsg(level, kind, &data)
    }

    #[test]
    fn finds_the_auxdata_status_among_control_messages() {
        let mut c = cmsg(1, 99, TP_STATUS_CSUMNOTREADY);
        assert!(!checksum_not_ready(&c));
        c.extend(cmsg(SOL_PACKET, PACKET_AUXDATA, TP_STATUS_CSUMNOTREADY | 1));
        assert!(checksum_not_ready(&c));
        assert!(!checksum_not_ready(&cmsg(SOL_PACKET, PACKET_AUXDATA, 1)));
        // Truncated or lying lengths stop the walk instead of reading past.
        assert!(!checksum_not_ready(&c[..30]));
        let mut bad = cmsg(SOL_PACKET, PACKET_AUXDATA, TP_STATUS_CSUMNOTREADY);
        bad[..8].copy_from_slice(&4096usize.to_ne_bytes());
        assert!(!checksum_not_ready(&bad));
        assert!(!checksum_not_ready(&[]));
    }
}
