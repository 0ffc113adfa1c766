//! The socket calls rustix does not wrap for netcfg, as named raw-syscall
//! wrappers (nodistro_common::syscall, so netcfg calls no C library):
//! setsockopt with any value, recvmsg with a control buffer, and walking
//! the control messages the kernel wrote back (in safe code).
#![allow(unsafe_code)]

use linux_raw_sys::general::{__NR_recvmsg, __NR_setsockopt};
use nodistro_common::syscall::syscall6;
use rustix::io::Errno;
use std::os::fd::{AsRawFd, OwnedFd};

/// `MSG_DONTWAIT`.
const MSG_DONTWAIT: usize = 0x40;

/// `setsockopt(fd, level, name, value, size_of_val(value))`.
pub(crate) fn setsockopt<T: ?Sized>(
    fd: &OwnedFd,
    level: u32,
    name: u32,
    value: &T,
) -> Result<(), Errno> {
    // SAFETY: `value` is live for the call and its exact size is passed;
    // the kernel only reads (copies) it; `fd` is open (borrowed).
    unsafe {
        syscall6(
            __NR_setsockopt,
            [
                fd.as_raw_fd() as usize,
                level as usize,
                name as usize,
                value as *const T as *const u8 as usize,
                std::mem::size_of_val(value),
                0,
            ],
        )
    }
    .map(drop)
}

/// `struct iovec`.
#[repr(C)]
struct IoVec {
    base: *mut u8,
    len: usize,
}

/// `struct msghdr` (Linux, 64-bit and 32-bit alike in field order).
#[repr(C)]
struct MsgHdr {
    name: *mut u8,
    namelen: u32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: u32,
}

/// A control buffer for [`recvmsg`], aligned for `struct cmsghdr`.
#[repr(C, align(8))]
pub(crate) struct Control(pub [u8; 64]);

impl Default for Control {
    fn default() -> Self {
        Control([0; 64])
    }
}

/// `recvmsg(fd, ..., MSG_DONTWAIT)` into `buf`, the sender's address into
/// `name` (its bytes as the kernel's `struct sockaddr_*`), the control
/// messages into `control`. Returns the datagram's length and how many
/// bytes of `control` the kernel filled.
pub(crate) fn recvmsg(
    fd: &OwnedFd,
    buf: &mut [u8],
    name: &mut [u8],
    control: &mut Control,
) -> Result<(usize, usize), Errno> {
    let mut iov = IoVec {
        base: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let mut msg = MsgHdr {
        // Empty: namelen 0, the kernel writes no address.
        name: name.as_mut_ptr(),
        namelen: name.len() as u32,
        iov: &mut iov,
        iovlen: 1,
        control: control.0.as_mut_ptr(),
        controllen: control.0.len(),
        flags: 0,
    };
    // SAFETY: msg points at iov (covering `buf`), `name` and `control`, all
    // alive and exclusively borrowed for the call, with their true lengths;
    // the kernel writes within them and updates msg's lengths and flags.
    let n = unsafe {
        syscall6(
            __NR_recvmsg,
            [
                fd.as_raw_fd() as usize,
                &mut msg as *mut MsgHdr as usize,
                MSG_DONTWAIT,
                0,
                0,
                0,
            ],
        )
    }?;
    Ok((n.min(buf.len()), msg.controllen.min(control.0.len())))
}

/// The first 4 bytes of data, as a native-endian u32 (an `int` value or
/// a struct's first field), of the first control message of `level` and
/// `kind` among those the kernel wrote (`CMSG_FIRSTHDR`/`NXTHDR`: `struct
/// cmsghdr { size_t len; int level; int type; }`, data and messages
/// aligned to a size_t). Truncated or lying lengths end the walk.
pub(crate) fn cmsg_u32(control: &[u8], level: u32, kind: u32) -> Option<u32> {
    const WORD: usize = std::mem::size_of::<usize>();
    const HDR: usize = WORD + 8;
    let align = |n: usize| n.div_ceil(WORD) * WORD;
    let int = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
    };
    let mut at = 0;
    while let Some(hdr) = control.get(at..at + HDR) {
        let mut w = [0u8; WORD];
        w.copy_from_slice(&hdr[..WORD]);
        let len = usize::from_ne_bytes(w);
        if len < HDR || len > control.len() - at {
            return None;
        }
        if int(hdr, WORD) == Some(level) && int(hdr, WORD + 4) == Some(kind) {
            return int(&control[..at + len], at + align(HDR));
        }
        at += align(len);
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A control message as the kernel writes it, padded.
    pub(crate) fn cmsg(level: u32, kind: u32, data: &[u8]) -> Vec<u8> {
        const WORD: usize = std::mem::size_of::<usize>();
        let mut m = (WORD + 8 + data.len()).to_ne_bytes().to_vec();
        m.extend_from_slice(&level.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(data);
        m.resize(m.len().div_ceil(WORD) * WORD, 0);
        m
    }

    #[test]
    fn reads_the_first_matching_message() {
        let c = [cmsg(1, 99, &[1, 2, 3]), cmsg(41, 52, &7u32.to_ne_bytes())].concat();
        assert_eq!(cmsg_u32(&c, 41, 52), Some(7));
        // Shorter than 4 bytes of data: no value.
        assert_eq!(cmsg_u32(&c, 1, 99), None);
        assert_eq!(cmsg_u32(&c, 41, 50), None);
        // Truncated or lying lengths stop the walk instead of reading past.
        assert_eq!(cmsg_u32(&c[..30], 41, 52), None);
        let mut bad = cmsg(41, 52, &7u32.to_ne_bytes());
        bad[..8].copy_from_slice(&4096usize.to_ne_bytes());
        assert_eq!(cmsg_u32(&bad, 41, 52), None);
        bad[..8].copy_from_slice(&0usize.to_ne_bytes());
        assert_eq!(cmsg_u32(&bad, 41, 52), None);
        assert_eq!(cmsg_u32(&[], 41, 52), None);
    }
}
