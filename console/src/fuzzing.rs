//! Every parser of outside bytes as one function: what is typed on the
//! serial line (through the line editor into the command parser), /proc and
//! /sys text, kmsg records, an rtnetlink address dump, ICMP packets,
//! netcfg's state file, the boot timeline and a file for `cat`/`hexdump`.
//! None may panic. The cargo-fuzz target (console/fuzz) calls it, and a
//! unit test runs it on stable over mutations of real inputs.

/// Feed `data` to every parser.
#[doc(hidden)]
pub fn inputs(data: &[u8]) {
    let mut ed = crate::core::editor::Editor::new();
    let mut echo = Vec::new();
    for &b in data {
        if let Some(crate::core::editor::Event::Line(l)) = ed.feed(b, &mut echo) {
            let _ = crate::core::command::parse(&l);
        }
        if echo.len() > 4096 {
            echo.clear();
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = crate::core::command::parse(&text);
    let _ = crate::core::procfs::proc_of(&text, &text, data);
    let _ = crate::core::procfs::free(&text);
    let _ = crate::core::procfs::uptime(&text, &text);
    let _ = crate::core::procfs::mounts(&text);
    let _ = crate::core::procfs::lsmod(&text);
    let _ = crate::core::kmsg::parse(data);
    let _ = crate::core::kmsg::missing_firmware(text.lines());
    let _ = crate::core::net::parse_addr_dump(data, &mut Vec::new());
    let _ = crate::core::net::routes(&text);
    let _ = crate::core::net::nameservers(&text);
    let _ = crate::core::net::dhcp_line(&text, 1000);
    let _ = crate::core::icmp::parse(data, 0x1234);
    let _ = crate::core::report::failed_modules(&text);
    let _ = crate::core::report::timeline(&nodistro_common::bootlog::stages(&text));
    let _ = crate::core::files::cat("/f", data, data.len() as u64);
    let _ = crate::core::files::hexdump(&data[..data.len().min(4096)], 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: &[&[u8]] = &[
        b"ps\rkill -9 1\rhexdump /x 0x10 16\rcat 'a b'\r\x1b[A\x7f\x15\x03",
        b"93 (demo app) S 1 93 93 0 -1\nVmRSS:\t 12 kB\n",
        b"MemTotal: 100 kB\nMemFree: 50 kB\n",
        b"proc /proc proc rw 0 0\nnone /a\\040b tmpfs rw 0 0\n",
        b"6,339,5140900,-;virtio_net virtio0 eth0: renamed\n SUBSYSTEM=net\n",
        b"Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\n",
        b"iface=eth0\nstate=bound\nlease_s=86400\nt1_s=43200\nbound_at_ms=5\n",
        b"[   0.880] init: mounts done in 6 ms\n[   1.190] modload: loaded virtio_pci in 131 ms\n[   1.3] init: app /a started (pid 9)\n",
        b"\x45\x00\x00\x54\x00\x00\x00\x00\x40\x01\x00\x00\x0a\x00\x02\x02\x0a\x00\x02\x0f\x00\x00\x00\x00\x12\x34\x00\x01",
        b"\x24\x00\x00\x00\x14\x00\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x18\x00\x00\x02\x00\x00\x00\x08\x00\x02\x00\x0a\x00\x02\x0f",
    ];

    /// The fuzz harness on stable: every seed, each truncation, and byte
    /// flips (xorshift-chosen) of each.
    #[test]
    fn inputs_never_panic() {
        let mut rng = nodistro_common::fuzzing::Rng::new();
        for seed in SEEDS {
            for cut in 0..=seed.len() {
                inputs(&seed[..cut]);
            }
            for _ in 0..300 {
                let mut m = seed.to_vec();
                for _ in 0..3 {
                    let r = rng.next();
                    let i = r as usize % m.len();
                    m[i] = (r >> 32) as u8;
                }
                inputs(&m);
            }
        }
        inputs(&[0xff; 70_000]);
    }
}
