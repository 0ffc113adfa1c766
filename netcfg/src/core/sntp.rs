//! SNTP (RFC 4330, client mode of RFC 5905), sans-IO: the 48-byte request
//! and the checks a reply must pass before its time is believed. Times are
//! nanoseconds since the Unix epoch (i64: 1900 and 2106 both fit).

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_UNIX: i64 = 2_208_988_800;
const NS: i64 = 1_000_000_000;
pub const LEN: usize = 48;

/// Unix ns -> 64-bit NTP timestamp (era 0/1 by wrapping, RFC 4330 3).
pub fn to_ntp(unix_ns: i64) -> u64 {
    let secs = unix_ns.div_euclid(NS) + NTP_UNIX;
    let frac = (unix_ns.rem_euclid(NS) << 32) / NS;
    ((secs as u64) << 32) | frac as u64
}

/// NTP timestamp -> Unix ns, in the NTP era of `floor_unix_ns` (the
/// build time): a timestamp that reads as earlier than the build is
/// refused, not moved to the next era (so "1900" is never taken for 2036;
/// an image built before 2036 needs a rebuild to run after it, as with
/// systemd-timesyncd).
pub fn from_ntp(ts: u64, floor_unix_ns: i64) -> i64 {
    let secs = (ts >> 32) as i64;
    let frac = ((ts & 0xffff_ffff) as i64 * NS) >> 32;
    let era = 1i64 << 32;
    let k = (floor_unix_ns.div_euclid(NS) + NTP_UNIX).div_euclid(era);
    (secs + k * era - NTP_UNIX) * NS + frac
}

/// A client request (LI 0, version 4, mode 3) whose transmit timestamp is
/// `tx` (echoed back as the originate timestamp: our nonce).
pub fn request(tx: u64) -> [u8; LEN] {
    let mut p = [0u8; LEN];
    p[0] = 0x23;
    p[40..48].copy_from_slice(&tx.to_be_bytes());
    p
}

/// A believed answer: offset of the server's clock from ours and the
/// round-trip delay, both ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub offset_ns: i64,
    pub delay_ns: i64,
    pub stratum: u8,
    /// The server's transmit time, Unix ns.
    pub server_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SntpError {
    #[error("NTP reply of {0} bytes (at least 48)")]
    Short(usize),
    #[error("NTP reply is not from a server (mode {0})")]
    Mode(u8),
    #[error("NTP reply with version {0}")]
    Version(u8),
    #[error("NTP server is not synchronised (leap indicator 3)")]
    Unsynchronised,
    #[error("NTP server sent a kiss-o'-death ({0})")]
    Kiss(String),
    #[error("NTP reply with stratum {0}")]
    Stratum(u8),
    #[error("NTP reply does not answer our request (originate timestamp differs)")]
    NotOurs,
    #[error("NTP reply without a transmit time")]
    NoTime,
    #[error(
        "NTP server says it is {0} s after 1970, before this image was built ({1}): not believed"
    )]
    BeforeBuild(i64, i64),
    #[error("NTP reply with a negative round trip")]
    Delay,
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Check a reply to the request sent at `t1` (Unix ns, our clock, whose
/// NTP form was `sent`) received at `t4`; `floor` is the build time
/// (Unix s): a server saying it is earlier is lying or broken.
pub fn parse(b: &[u8], sent: u64, t1: i64, t4: i64, floor: i64) -> Result<Sample, SntpError> {
    if b.len() < LEN {
        return Err(SntpError::Short(b.len()));
    }
    let (li, vn, mode) = (b[0] >> 6, (b[0] >> 3) & 7, b[0] & 7);
    if mode != 4 {
        return Err(SntpError::Mode(mode));
    }
    if !(1..=4).contains(&vn) {
        return Err(SntpError::Version(vn));
    }
    let stratum = b[1];
    if stratum == 0 {
        let code: String = b[12..16]
            .iter()
            .map(|&c| {
                if c.is_ascii_alphanumeric() {
                    c as char
                } else {
                    '?'
                }
            })
            .collect();
        return Err(SntpError::Kiss(code));
    }
    if li == 3 {
        return Err(SntpError::Unsynchronised);
    }
    if stratum > 15 {
        return Err(SntpError::Stratum(stratum));
    }
    if be64(&b[24..]) != sent {
        return Err(SntpError::NotOurs);
    }
    let (rx, tx) = (be64(&b[32..]), be64(&b[40..]));
    if rx == 0 || tx == 0 {
        return Err(SntpError::NoTime);
    }
    let near = floor * NS;
    let (t2, t3) = (from_ntp(rx, near), from_ntp(tx, near));
    if t3 < near {
        return Err(SntpError::BeforeBuild(t3.div_euclid(NS), floor));
    }
    let delay_ns = (t4 - t1) - (t3 - t2);
    if delay_ns < 0 {
        return Err(SntpError::Delay);
    }
    Ok(Sample {
        offset_ns: ((t2 - t1) + (t3 - t4)) / 2,
        delay_ns,
        stratum,
        server_ns: t3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: i64 = 1_790_000_000; // 2026-09
    const NOW: i64 = 1_796_000_000 * NS; // 2026-11

    /// A server reply to `req` whose clock is `server` (Unix ns).
    pub fn reply(req: &[u8; LEN], server: i64) -> [u8; LEN] {
        let mut r = [0u8; LEN];
        r[0] = 0x24; // LI 0, VN 4, mode 4
        r[1] = 2;
        r[24..32].copy_from_slice(&req[40..48]);
        r[32..40].copy_from_slice(&to_ntp(server).to_be_bytes());
        r[40..48].copy_from_slice(&to_ntp(server + 1000).to_be_bytes());
        r
    }

    #[test]
    fn offset_from_a_clock_years_behind() {
        // Our clock says 2001; the server 2026.
        let t1 = 978_307_200 * NS;
        let sent = to_ntp(t1);
        let req = request(sent);
        let r = reply(&req, NOW);
        let s = parse(&r, sent, t1, t1 + 2_000_000, FLOOR).expect("believed");
        let want = NOW - t1 - 1_000_000 + 500;
        assert!((s.offset_ns - want).abs() < 10, "{} vs {want}", s.offset_ns);
        assert!((s.delay_ns - 1_999_000).abs() < 10);
        assert_eq!(from_ntp(to_ntp(NOW), NOW), NOW);
        // After 2036 (era 1), for an image built then.
        let y2037 = 2_130_000_000 * NS;
        assert_eq!(from_ntp(to_ntp(y2037), y2037).div_euclid(NS), 2_130_000_000);
    }

    #[test]
    fn lies_and_garbage_are_not_believed() {
        let t1 = NOW;
        let sent = to_ntp(t1);
        let req = request(sent);
        // The year 1900 (timestamp 0 is "no time"; 1 s after is 1900).
        let mut r = reply(&req, 0);
        r[40..48].copy_from_slice(&(1u64 << 32).to_be_bytes());
        assert!(matches!(
            parse(&r, sent, t1, t1 + 1, FLOOR),
            Err(SntpError::BeforeBuild(..))
        ));
        // Years before the build.
        let r = reply(&req, (FLOOR - 86_400) * NS);
        assert!(matches!(
            parse(&r, sent, t1, t1 + 1, FLOOR),
            Err(SntpError::BeforeBuild(..))
        ));
        // Not an answer to us, a kiss, unsynchronised, short, garbage.
        let mut r = reply(&req, NOW);
        r[24] ^= 1;
        assert_eq!(parse(&r, sent, t1, t1 + 1, FLOOR), Err(SntpError::NotOurs));
        let mut r = reply(&req, NOW);
        r[1] = 0;
        r[12..16].copy_from_slice(b"RATE");
        assert_eq!(
            parse(&r, sent, t1, t1 + 1, FLOOR),
            Err(SntpError::Kiss("RATE".into()))
        );
        let mut r = reply(&req, NOW);
        r[0] = 0xe4;
        assert_eq!(
            parse(&r, sent, t1, t1 + 1, FLOOR),
            Err(SntpError::Unsynchronised)
        );
        assert_eq!(
            parse(&r[..47], sent, t1, t1 + 1, FLOOR),
            Err(SntpError::Short(47))
        );
        assert!(parse(&[0xff; 48], sent, t1, t1 + 1, FLOOR).is_err());
    }
}
