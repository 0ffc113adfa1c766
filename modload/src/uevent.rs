//! Kernel uevents (NETLINK_KOBJECT_UEVENT, multicast group 1): the message
//! format (sans-IO) and the socket.

use std::os::fd::{AsFd, OwnedFd};

/// The parts of a kernel uevent modload needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    pub action: String,
    pub devpath: String,
    pub modalias: Option<String>,
}

/// Parse one kernel uevent datagram: `ACTION@DEVPATH\0KEY=VALUE\0...`.
/// udev's own re-broadcasts (`libudev\0...`) and junk give `None`.
pub fn parse_uevent(msg: &[u8]) -> Option<Uevent> {
    let mut fields = msg.split(|&b| b == 0).filter(|f| !f.is_empty());
    let header = std::str::from_utf8(fields.next()?).ok()?;
    let (action, devpath) = header.split_once('@')?;
    let mut ev = Uevent {
        action: action.to_string(),
        devpath: devpath.to_string(),
        modalias: None,
    };
    for f in fields {
        let Ok(f) = std::str::from_utf8(f) else {
            continue;
        };
        match f.split_once('=') {
            Some(("ACTION", v)) => ev.action = v.to_string(),
            Some(("DEVPATH", v)) => ev.devpath = v.to_string(),
            Some(("MODALIAS", v)) if !v.is_empty() => ev.modalias = Some(v.to_string()),
            _ => {}
        }
    }
    Some(ev)
}

/// A socket receiving the kernel's uevents.
pub struct UeventSocket(OwnedFd);

impl UeventSocket {
    pub fn open() -> std::io::Result<Self> {
        use rustix::net::{netlink, socket_with, AddressFamily, SocketFlags, SocketType};
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::KOBJECT_UEVENT),
        )?;
        // A coldplug burst can queue many events: ask for a large buffer
        // (the forced variant needs root; the plain one is the fallback).
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, 4 << 20).is_err() {
            let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&fd, 1 << 20);
        }
        rustix::net::bind(&fd, &netlink::SocketAddrNetlink::new(0, 1))?;
        Ok(UeventSocket(fd))
    }

    /// Block until the next uevent; `Ok(None)` for datagrams that are not
    /// kernel uevents.
    pub fn recv(&self, buf: &mut [u8]) -> std::io::Result<Option<Uevent>> {
        let n = rustix::net::recv(self.0.as_fd(), &mut *buf, rustix::net::RecvFlags::empty())?.0;
        Ok(parse_uevent(&buf[..n.min(buf.len())]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_uevents_and_ignores_udev_ones() {
        let msg = b"add@/devices/pci0000:00/0000:00:03.0/virtio0\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:03.0/virtio0\0SUBSYSTEM=virtio\0MODALIAS=virtio:d00000001v00001AF4\0SEQNUM=1234\0";
        let ev = parse_uevent(msg).expect("uevent");
        assert_eq!(ev.action, "add");
        assert_eq!(ev.devpath, "/devices/pci0000:00/0000:00:03.0/virtio0");
        assert_eq!(ev.modalias.as_deref(), Some("virtio:d00000001v00001AF4"));
        let ev = parse_uevent(b"remove@/devices/x\0ACTION=remove\0").expect("uevent");
        assert_eq!((ev.action.as_str(), ev.modalias), ("remove", None));
        assert_eq!(parse_uevent(b"libudev\0\xfe\xed\xca\xfe"), None);
        assert_eq!(parse_uevent(b""), None);
    }
}
