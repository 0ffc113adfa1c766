//! Everything outside bytes can hand init's state features, as one
//! function: a block device's first bytes (every superblock probe, with the
//! bytes also placed where each filesystem keeps its superblock), an
//! `init.mount` value, a kernel log record, a metadata service's HTTP
//! answer, NoCloud meta-data and user-data. None may panic. The cargo-fuzz
//! target (init/fuzz) calls it, and a unit test runs it on stable over many
//! mutations of valid superblocks, so CI exercises the harness too.
//!
//! Fuzz harness: the configuration PID 1 reads from outside
//! (/etc/nodistro.conf and the kernel command line) into init's plan. PID 1
//! never panics on it. The cargo-fuzz target (init/fuzz) calls this; a
//! stable test runs it over the kept corpus.

use nodistro_common::blkid::{probe, PROBE_BYTES};

/// Where the probed filesystems keep their superblocks.
pub const SUPERBLOCK_OFFSETS: [usize; 4] = [0, 1024, 0x8000, 0x10000];

/// Feed `data` to every parser of outside input init has.
#[doc(hidden)]
pub fn state_inputs(data: &[u8]) {
    let _ = probe(data);
    let mut dev = vec![0u8; PROBE_BYTES];
    for at in SUPERBLOCK_OFFSETS {
        let n = data.len().min(PROBE_BYTES - at);
        dev[at..at + n].copy_from_slice(&data[..n]);
        let _ = probe(&dev);
        dev[at..at + n].fill(0);
    }
    let _ = crate::mounts::kmsg_text(data);
    let _ = crate::metadata::http::parse_response(data, false);
    let _ = crate::metadata::http::parse_response(data, true);
    let _ = crate::metadata::nocloud::classify(data);
    let _ = crate::execfail::interpreter(data);
    let _ = crate::execfail::explain("/app/x", Some(2), Some(data), Some(0o755), |_| false);
    let _ = crate::execfail::explain("/app/x", Some(8), Some(data), Some(0o755), |_| false);
    let _ = crate::metadata::nocloud::parse_meta_data(&String::from_utf8_lossy(data));
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crate::mounts::parse_entry(s);
    }
}

use crate::config::InitConfig;
use nodistro_common::{Cmdline, Config};

/// `data` up to its first NUL is the file, the rest the command line.
#[doc(hidden)]
pub fn config(data: &[u8]) {
    let (file, cmdline) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (mut cfg, _) = Config::parse(&String::from_utf8_lossy(file));
    let cmdline = Cmdline::parse(&String::from_utf8_lossy(cmdline));
    cfg.override_with(&cmdline, &[]);
    let _ = InitConfig::from_config(&cfg, &cmdline.init_args);
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodistro_common::blkid::FsType;

    /// A device image holding one valid superblock of each kind, by hand.
    fn seeds() -> Vec<(Vec<u8>, FsType)> {
        let put = |b: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            b[at..at + bytes.len()].copy_from_slice(bytes)
        };
        let blank = || vec![0u8; PROBE_BYTES];
        let mut ext = blank();
        put(&mut ext, 1024 + 0x38, &[0x53, 0xEF]);
        put(&mut ext, 1024 + 0x60, &0x2C2u32.to_le_bytes());
        put(&mut ext, 1024 + 0x78, b"appdata");
        let mut xfs = blank();
        put(&mut xfs, 0, b"XFSB\0\0\x10\0");
        put(&mut xfs, 108, b"xdata");
        let mut btrfs = blank();
        put(&mut btrfs, 0x10040, b"_BHRfS_M");
        put(&mut btrfs, 0x1012B, b"bdata");
        let mut iso = blank();
        put(&mut iso, 0x8000, b"\x01CD001");
        put(&mut iso, 0x8000 + 40, b"cidata");
        put(&mut iso, 0x8000 + 813, b"2026112923123600");
        let mut fat = blank();
        put(&mut fat, 11, &[0, 2, 4, 1, 0, 2]);
        put(&mut fat, 0x52, b"FAT32   ");
        put(&mut fat, 0x42, &[0x29, 1, 2, 3, 4]);
        put(&mut fat, 0x47, b"CIDATA     ");
        put(&mut fat, 510, &[0x55, 0xAA]);
        vec![
            (ext, FsType::Ext4),
            (xfs, FsType::Xfs),
            (btrfs, FsType::Btrfs),
            (iso, FsType::Iso9660),
            (fat, FsType::Vfat),
        ]
    }

    #[test]
    fn seeds_are_recognised() {
        for (dev, t) in seeds() {
            assert_eq!(probe(&dev).map(|p| p.fstype), Some(t));
        }
    }

    /// A stable stand-in for the cargo-fuzz run: mutations of valid
    /// superblocks (bytes flipped near each superblock, the device cut
    /// short) and of mount entries; none may panic.
    #[test]
    fn mutated_inputs_never_panic() {
        let seeds = seeds();
        let mut rng = nodistro_common::fuzzing::Rng::new();
        let mut rnd = || rng.next();
        for i in 0..3_000 {
            let (mut dev, _) = seeds[i % seeds.len()].clone();
            for _ in 0..1 + rnd() % 8 {
                let base = SUPERBLOCK_OFFSETS[(rnd() % 4) as usize];
                let at = base + (rnd() as usize) % 1024;
                if at >= dev.len() {
                    break;
                }
                match rnd() % 3 {
                    0 => dev[at] = rnd() as u8,
                    1 => dev[at] ^= 1 << (rnd() % 8),
                    _ => dev.truncate(at.max(1)),
                }
            }
            let _ = probe(&dev);
            let head = &dev[..dev.len().min(2048)];
            state_inputs(head);
        }
        for v in [
            "LABEL=\u{0}:/d",
            "/dev/x:/a:b:c:d:e",
            "UUID=é:/é",
            "::::",
            "6,1,2,-;\u{7f}",
        ] {
            state_inputs(v.as_bytes());
        }
    }

    #[test]
    fn config_corpus() {
        let seeds: &[&[u8]] = &[
            b"init.app=/app/x\ninit.uid=1000\ninit.grace=2.5\ninit.on_exit=restart\n\0init.arg=-v -- a b",
            b"init.helpers=netcfg,logfwd\ninit.uid=root\ninit.grace=-1\ninit.workdir=rel\n",
        ];
        for i in nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "config", seeds) {
            super::config(&i);
        }
    }
}
