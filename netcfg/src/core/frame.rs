//! Ethernet II / IPv4 / UDP framing for DHCP on a raw packet socket, with
//! checksums built and verified. Sans-IO: bytes in, bytes out.
//!
//! Hand-written instead of smoltcp's wire types: three fixed headers and one
//! checksum are about as much code as the glue to smoltcp would be.

use std::net::Ipv4Addr;

pub const ETH_HDR: usize = 14;
pub const IP_HDR: usize = 20;
pub const UDP_HDR: usize = 8;
pub const CLIENT_PORT: u16 = 68;
pub const SERVER_PORT: u16 = 67;
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// Why a received frame was not a DHCP reply for us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame too short ({0} bytes)")]
    Short(usize),
    #[error("not IPv4/UDP")]
    NotUdp,
    #[error("IPv4 fragment (DHCP replies are never fragmented here)")]
    Fragment,
    #[error("IPv4 header checksum wrong")]
    IpChecksum,
    #[error("UDP checksum wrong")]
    UdpChecksum,
    #[error("lengths in the IPv4/UDP headers do not fit the frame")]
    BadLength,
    #[error("not to the DHCP client port")]
    WrongPort,
}

/// A UDP datagram extracted from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub src_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub payload: &'a [u8],
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn udp_pseudo(src: Ipv4Addr, dst: Ipv4Addr, udp_len: usize) -> u32 {
    let acc = sum16(&src.octets(), 0);
    let acc = sum16(&dst.octets(), acc);
    acc + 17 + udp_len as u32
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn ip4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// Build an Ethernet frame carrying `payload` from port 68 to port 67.
pub fn build(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = UDP_HDR + payload.len();
    let ip_len = IP_HDR + udp_len;
    let mut f = Vec::with_capacity(ETH_HDR + ip_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    // IPv4: version 4, IHL 5, TOS 0x10 (low delay, as udhcpc), DF, TTL 64.
    let ip_start = f.len();
    f.extend_from_slice(&[0x45, 0x10]);
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&dst_ip.octets());
    let csum = fold(sum16(&f[ip_start..], 0));
    f[ip_start + 10..ip_start + 12].copy_from_slice(&csum.to_be_bytes());
    let udp_start = f.len();
    f.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    f.extend_from_slice(&SERVER_PORT.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    let mut csum = fold(sum16(&f[udp_start..], udp_pseudo(src_ip, dst_ip, udp_len)));
    if csum == 0 {
        csum = 0xffff;
    }
    f[udp_start + 6..udp_start + 8].copy_from_slice(&csum.to_be_bytes());
    f
}

/// Parse a received Ethernet frame; only UDP to port 68 passes. The UDP
/// checksum is checked when `verify_udp` (the IPv4 header's always is).
pub fn parse(f: &[u8], verify_udp: bool) -> Result<Datagram<'_>, FrameError> {
    if f.len() < ETH_HDR + IP_HDR + UDP_HDR {
        return Err(FrameError::Short(f.len()));
    }
    let mut src_mac = [0; 6];
    src_mac.copy_from_slice(&f[6..12]);
    if be16(f, 12) != 0x0800 {
        return Err(FrameError::NotUdp);
    }
    let ip = &f[ETH_HDR..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[0] >> 4 != 4 || ihl < IP_HDR || ip[9] != 17 {
        return Err(FrameError::NotUdp);
    }
    let total = usize::from(be16(ip, 2));
    if total < ihl + UDP_HDR || total > ip.len() {
        return Err(FrameError::BadLength);
    }
    if be16(ip, 6) & 0x3fff != 0 {
        return Err(FrameError::Fragment);
    }
    if fold(sum16(&ip[..ihl], 0)) != 0 {
        return Err(FrameError::IpChecksum);
    }
    let (src_ip, dst_ip) = (ip4(ip, 12), ip4(ip, 16));
    let udp = &ip[ihl..total];
    if be16(udp, 2) != CLIENT_PORT {
        return Err(FrameError::WrongPort);
    }
    let udp_len = usize::from(be16(udp, 4));
    if udp_len < UDP_HDR || udp_len > udp.len() {
        return Err(FrameError::BadLength);
    }
    let udp = &udp[..udp_len];
    if verify_udp && be16(udp, 6) != 0 && fold(sum16(udp, udp_pseudo(src_ip, dst_ip, udp_len))) != 0
    {
        return Err(FrameError::UdpChecksum);
    }
    Ok(Datagram {
        src_mac,
        src_ip,
        dst_ip,
        payload: &udp[UDP_HDR..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a server would send it (ports swapped compared to build()).
    pub fn server_frame(payload: &[u8]) -> Vec<u8> {
        let mut f = build(
            [2, 0, 0, 0, 0, 1],
            BROADCAST_MAC,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::BROADCAST,
            payload,
        );
        // swap ports and recompute the UDP checksum
        let u = ETH_HDR + IP_HDR;
        f[u..u + 2].copy_from_slice(&SERVER_PORT.to_be_bytes());
        f[u + 2..u + 4].copy_from_slice(&CLIENT_PORT.to_be_bytes());
        f[u + 6..u + 8].copy_from_slice(&[0, 0]);
        let len = f.len() - u;
        let c = fold(sum16(
            &f[u..],
            udp_pseudo(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::BROADCAST, len),
        ));
        f[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn round_trip_and_checksums() {
        let f = server_frame(b"hello dhcp");
        let d = parse(&f, true).expect("valid frame");
        assert_eq!(d.payload, b"hello dhcp");
        assert_eq!(d.src_ip, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(d.src_mac, [2, 0, 0, 0, 0, 1]);
        // Known-answer IPv4 header checksum (RFC 1071 example-style header).
        let hdr = [
            0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0,
            0xc7,
        ];
        assert_eq!(fold(sum16(&hdr, 0)), 0xb861);
    }

    #[test]
    fn rejects_corruption_and_truncation() {
        let f = server_frame(b"payload!");
        for cut in 0..f.len() {
            assert!(
                parse(&f[..cut], true).is_err(),
                "truncated at {cut} accepted"
            );
        }
        let mut bad = f.clone();
        bad[ETH_HDR + 8] ^= 1; // TTL: IP checksum
        assert_eq!(parse(&bad, true), Err(FrameError::IpChecksum));
        let mut bad = f.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert_eq!(parse(&bad, true), Err(FrameError::UdpChecksum));
        let mut bad = f.clone();
        bad[ETH_HDR + IP_HDR + 5] = 0xff; // UDP length past the end
        assert_eq!(parse(&bad, true), Err(FrameError::BadLength));
        // Our own request (to port 67) is not for us.
        let own = build(
            [2; 6],
            BROADCAST_MAC,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            b"x",
        );
        assert_eq!(parse(&own, true), Err(FrameError::WrongPort));
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut f = server_frame(b"ab");
        f.extend_from_slice(&[0; 20]);
        assert_eq!(parse(&f, true).map(|d| d.payload.len()), Ok(2));
    }
}
