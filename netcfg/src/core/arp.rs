//! IPv4 address conflict detection (RFC 5227), sans-IO: ARP probe and
//! announcement frames, and whether a received ARP frame shows that
//! another host uses (or is probing for) an address.
//!
//! Timing: RFC 5227 spaces three probes over 1-2 s each and waits 2 s more
//! (about 5 s before an address may be used). Like systemd-networkd
//! (IPv4DuplicateAddressDetectionTimeoutSec, 200 ms by default), netcfg
//! spreads its three probes over a shorter window, `netcfg.arp_probe`
//! milliseconds (default 200; 0 or off skips probing).

use std::net::Ipv4Addr;

pub const PROBES: u32 = 3;
pub const DEFAULT_WINDOW_MS: u64 = 200;
const ETH_P_ARP: u16 = 0x0806;
pub const FRAME_LEN: usize = 42;

/// An ARP request frame from `mac`: `sender_ip` unspecified for a probe,
/// equal to `target` for an announcement.
fn request(mac: [u8; 6], sender_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 (request)
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&sender_ip.octets());
    // target hardware address: zero
    f[38..42].copy_from_slice(&target.octets());
    f
}

pub fn probe(mac: [u8; 6], addr: Ipv4Addr) -> [u8; FRAME_LEN] {
    request(mac, Ipv4Addr::UNSPECIFIED, addr)
}

pub fn announce(mac: [u8; 6], addr: Ipv4Addr) -> [u8; FRAME_LEN] {
    request(mac, addr, addr)
}

/// If `frame` (Ethernet + ARP) shows another host with `addr` (its sender
/// address is `addr`) or probing for it (sender unspecified, target
/// `addr`), that host's MAC (RFC 5227 2.1.1).
pub fn conflict(frame: &[u8], our_mac: [u8; 6], addr: Ipv4Addr) -> Option<[u8; 6]> {
    let f = frame.get(..FRAME_LEN)?;
    if f[12..14] != ETH_P_ARP.to_be_bytes() || f[14..20] != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let mut sha = [0u8; 6];
    sha.copy_from_slice(&f[22..28]);
    if sha == our_mac {
        return None;
    }
    let spa = Ipv4Addr::new(f[28], f[29], f[30], f[31]);
    let tpa = Ipv4Addr::new(f[38], f[39], f[40], f[41]);
    let probing = spa.is_unspecified() && tpa == addr && f[21] == 1;
    (spa == addr || probing).then_some(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const THEM: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn frames_and_conflicts() {
        let a = Ipv4Addr::new(10, 0, 0, 5);
        let p = probe(US, a);
        assert_eq!(&p[12..14], &[8, 6]);
        assert_eq!(&p[28..32], &[0, 0, 0, 0]);
        assert_eq!(&p[38..42], &[10, 0, 0, 5]);
        assert_eq!(&announce(US, a)[28..32], &[10, 0, 0, 5]);
        // Our own frames are no conflict; another host's are.
        assert_eq!(conflict(&p, US, a), None);
        assert_eq!(conflict(&probe(THEM, a), US, a), Some(THEM));
        assert_eq!(conflict(&announce(THEM, a), US, a), Some(THEM));
        let mut reply = announce(THEM, a);
        reply[21] = 2;
        assert_eq!(
            conflict(&reply, US, a),
            Some(THEM),
            "an ARP reply from the holder"
        );
        assert_eq!(
            conflict(&probe(THEM, Ipv4Addr::new(10, 0, 0, 6)), US, a),
            None
        );
        assert_eq!(conflict(&p[..30], US, a), None);
    }
}
