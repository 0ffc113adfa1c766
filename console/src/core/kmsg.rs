//! /dev/kmsg records, sans-IO: `prio,seq,usec,flags;text` to the kernel's
//! own `[    1.234567] text` lines, and the firmware the kernel asked for
//! and did not get.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub level: u8,
    pub usec: u64,
    pub text: String,
}

/// One record as read(2) returns it (continuation lines ` KEY=value` are
/// dropped).
pub fn parse(rec: &[u8]) -> Option<Record> {
    let semi = rec.iter().position(|b| *b == b';')?;
    let head = std::str::from_utf8(&rec[..semi]).ok()?;
    let mut f = head.split(',');
    let prio: u32 = f.next()?.parse().ok()?;
    let _seq = f.next()?;
    let usec = f.next()?.parse().ok()?;
    let body = &rec[semi + 1..];
    let end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    Some(Record {
        level: (prio & 7) as u8,
        usec,
        text: unescape(&body[..end]),
    })
}

/// The kernel writes unprintable bytes as `\xNN`; keep them escaped but
/// make sure nothing raw reaches the terminal.
fn unescape(b: &[u8]) -> String {
    crate::core::files::escape(b).replace(['\n', '\t'], " ")
}

pub fn format(r: &Record) -> String {
    format!(
        "[{:5}.{:06}] {}",
        r.usec / 1_000_000,
        r.usec % 1_000_000,
        r.text
    )
}

/// Firmware files the kernel failed to load, from its messages.
pub fn missing_firmware<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in texts {
        let name = if let Some(i) = t.find("Direct firmware load for ") {
            t[i + 25..].split(" failed").next()
        } else if let Some(i) = t.find("firmware: failed to load ") {
            t[i + 25..].split(' ').next()
        } else {
            None
        };
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let r = parse(b"6,339,5140900,-;virtio_net virtio0 eth0: renamed\n SUBSYSTEM=net\n")
            .expect("test input");
        assert_eq!(r.level, 6);
        assert_eq!(
            format(&r),
            "[    5.140900] virtio_net virtio0 eth0: renamed"
        );
        assert_eq!(
            parse(b"4,1,2,-;bell\x07").expect("test input").text,
            "bell\\x07"
        );
        assert!(parse(b"garbage").is_none());
        assert!(parse(b"x,1,2;y").is_none());
    }

    #[test]
    fn firmware() {
        let log = [
            "iwlwifi 0000:00:14.3: Direct firmware load for iwlwifi-so-a0-gf-a0-72.ucode failed with error -2",
            "i915 0000:00:02.0: firmware: failed to load i915/tgl_dmc_ver2_12.bin (-2)",
            "iwlwifi 0000:00:14.3: Direct firmware load for iwlwifi-so-a0-gf-a0-72.ucode failed with error -2",
            "e1000: Intel(R) PRO/1000 Network Driver",
        ];
        assert_eq!(
            missing_firmware(log),
            ["iwlwifi-so-a0-gf-a0-72.ucode", "i915/tgl_dmc_ver2_12.bin"]
        );
    }
}
