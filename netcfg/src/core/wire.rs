//! Fixed-width fields of the IPv6 messages (router advertisements, DHCPv6),
//! read from slices whose length the decoder has already checked.

use std::net::Ipv6Addr;

/// The big-endian u32 at the start of `b` (at least 4 bytes).
pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The IPv6 address at the start of `b` (at least 16 bytes).
pub(crate) fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_leading_bytes() {
        assert_eq!(be32(&[0, 0, 1, 2, 9]), 0x0102);
        let mut b = [0u8; 17];
        b[0] = 0xfd;
        b[15] = 1;
        assert_eq!(addr(&b), "fd00::1".parse::<Ipv6Addr>().expect("addr"));
    }
}
