//! nodistro's superblock probes (common::blkid) against filesystems made by
//! the real mkfs tools and read by util-linux blkid: same type, label and
//! UUID.

use nodistro_common::blkid::{probe, PROBE_BYTES};
use nodistro_tests::{require_program, run_ok, TempDir};
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// `blkid -p -o export FILE` as (key, value) pairs.
fn blkid(path: &Path) -> Vec<(String, String)> {
    let out = Command::new(require_program("blkid", "util-linux"))
        .args(["-p", "-o", "export"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run blkid: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn head(path: &Path) -> Vec<u8> {
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(PROBE_BYTES as u64).read_to_end(&mut buf))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    buf
}

fn run(program: &str, package: &str, args: &[&str], file: &Path) {
    run_ok(
        Command::new(require_program(program, package))
            .args(args)
            .arg(file),
    );
}

fn check(dir: &Path, name: &str, size_mb: u64, program: &str, package: &str, args: &[&str]) {
    let file = dir.join(format!("{name}.img"));
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(size_mb << 20))
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", file.display()));
    run(program, package, args, &file);
    let theirs = blkid(&file);
    let get = |k: &str| {
        theirs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let ours = probe(&head(&file)).unwrap_or_else(|| panic!("{name}: nothing recognised"));
    assert_eq!(Some(ours.fstype.name().to_string()), get("TYPE"), "{name}");
    assert_eq!(ours.label, get("LABEL"), "{name}");
    assert_eq!(ours.uuid, get("UUID"), "{name}");
}

#[test]
fn probes_agree_with_blkid() {
    let tmp = TempDir::new("blkid");
    let d = tmp.path();
    let e2 = ("mke2fs", "e2fsprogs");
    check(
        d,
        "ext4",
        16,
        e2.0,
        e2.1,
        &["-q", "-F", "-t", "ext4", "-L", "appdata"],
    );
    check(d, "ext3", 16, e2.0, e2.1, &["-q", "-F", "-t", "ext3"]);
    check(
        d,
        "ext2",
        16,
        e2.0,
        e2.1,
        &["-q", "-F", "-t", "ext2", "-L", "old"],
    );
    check(
        d,
        "xfs",
        300,
        "mkfs.xfs",
        "xfsprogs",
        &["-q", "-L", "xdata"],
    );
    check(
        d,
        "btrfs",
        128,
        "mkfs.btrfs",
        "btrfs-progs",
        &["-q", "-L", "bdata"],
    );
    check(d, "fat16", 40, "mkfs.vfat", "dosfstools", &["-n", "CIDATA"]);
    check(
        d,
        "fat32",
        64,
        "mkfs.vfat",
        "dosfstools",
        &["-F", "32", "-n", "DATA32"],
    );
    check(d, "fat12", 2, "mkfs.vfat", "dosfstools", &["-F", "12"]);
    // cloud-localds writes an ISO9660 seed labelled cidata.
    let seed = d.join("seed.iso");
    std::fs::write(d.join("user-data"), "#nodistro-config\n").unwrap_or_default();
    std::fs::write(d.join("meta-data"), "local-hostname: x\n").unwrap_or_default();
    let out = Command::new(require_program("cloud-localds", "cloud-image-utils"))
        .arg(&seed)
        .arg(d.join("user-data"))
        .arg(d.join("meta-data"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run cloud-localds: {e}"));
    assert!(out.status.success(), "cloud-localds failed");
    let theirs = blkid(&seed);
    let ours = probe(&head(&seed)).unwrap_or_else(|| panic!("seed: nothing recognised"));
    assert_eq!(ours.fstype.name(), "iso9660");
    assert_eq!(ours.label.as_deref(), Some("cidata"));
    assert!(theirs.contains(&("UUID".into(), ours.uuid.clone().unwrap_or_default())));
}
