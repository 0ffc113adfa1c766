//! The few system calls rustix has no safe wrapper for: binding a packet
//! socket to an interface (sockaddr_ll) and attaching a classic BPF filter.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

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

/// A raw packet socket (SOCK_RAW, Ethernet headers included) receiving the
/// DHCP client port on interface `ifindex` only.
pub fn packet_socket(ifindex: u32) -> io::Result<OwnedFd> {
    let proto = (libc::ETH_P_IP as u16).to_be();
    // SAFETY: plain socket(2) call; the result is checked and owned at once.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut prog: Vec<libc::sock_filter> = FILTER
        .iter()
        .map(|&(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
        .collect();
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: fprog points to `prog`, alive for the call; the kernel copies
    // the program; the size passed is that of the struct given.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    })?;
    // Bind with the protocol only now, so nothing unfiltered was queued.
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a valid sockaddr_ll of the size passed.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// Ask the kernel to say, with each received frame, whether its checksum is
/// still to be filled in (veth and other offloading devices hand packet
/// sockets frames with a partial UDP checksum).
pub fn enable_auxdata(fd: &OwnedFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: the option value is a c_int of the size passed, alive for the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_AUXDATA,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Receive one frame without blocking. Returns its length and whether the
/// kernel says its checksum is not filled in yet (TP_STATUS_CSUMNOTREADY).
pub fn recv_frame(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg points at iov (covering `buf`) and `control`, both alive
    // and writable for the call's duration.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut not_ready = false;
    // SAFETY: CMSG_FIRSTHDR/NXTHDR walk the control buffer the kernel filled,
    // bounded by msg_controllen; each header is checked before its data is
    // read, and tpacket_auxdata is read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            if h.cmsg_level == libc::SOL_PACKET
                && h.cmsg_type == libc::PACKET_AUXDATA
                && h.cmsg_len as usize
                    >= libc::CMSG_LEN(std::mem::size_of::<libc::tpacket_auxdata>() as u32) as usize
            {
                let aux: libc::tpacket_auxdata =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                not_ready = aux.tp_status & libc::TP_STATUS_CSUMNOTREADY != 0;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, not_ready))
}
