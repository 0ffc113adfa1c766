//! `nodistro build --format uki|disk|iso` and `nodistro run --image`: each
//! output built twice (byte-identical), checked by a peer tool (sfdisk,
//! fsck.fat and mtools, xorriso), booted in QEMU (TCG) through its
//! firmware, and the demo app's page fetched through a forwarded port.
//! One boot per format and firmware: the UKI on OVMF (from a FAT image),
//! the disk on OVMF, the ISO on SeaBIOS and on OVMF.

use nodistro_packaging::demo::{GREETING, GUEST_PORT};
use nodistro_tests::qemu::{BootOpts, Firmware, Guest, Outcome};
use nodistro_tests::{release_bin, require_program, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const EPOCH: &str = "1700000000";

/// `nodistro build` of the demo app with EXTRA, at a fixed
/// SOURCE_DATE_EPOCH.
fn nodistro_build(extra: &[&str]) -> Output {
    nodistro_tests::build_demo_app(extra, EPOCH)
}

/// Build FORMAT into DIR/NAME twice (two names) and check the bytes are
/// the same; returns the first.
fn build_twice(dir: &TempDir, format: &str, name: &str, extra: &[&str]) -> PathBuf {
    let mut outs = Vec::new();
    for n in 0..2 {
        let out = dir.path().join(format!("{n}-{name}"));
        let mut args = vec!["--format", format, "-o", out.to_str().expect("utf-8")];
        args.extend(extra);
        let r = nodistro_build(&args);
        assert!(
            r.status.success() && out.is_file(),
            "nodistro build {args:?}: {}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
        outs.push(out);
    }
    let (a, b) = (
        std::fs::read(&outs[0]).expect("read"),
        std::fs::read(&outs[1]).expect("read"),
    );
    assert!(
        a == b,
        "{format}: two builds differ ({} and {} bytes)",
        a.len(),
        b.len()
    );
    outs.swap_remove(0)
}

/// Boot, fetch the page through the forward, power off cleanly.
fn boot_and_fetch(opts: BootOpts, what: &str) {
    let mut g = Guest::boot(opts.forward(GUEST_PORT).timeout(Duration::from_secs(400)));
    let body = g
        .http_poll(GUEST_PORT, "/", GREETING, Duration::from_secs(300))
        .unwrap_or_else(|e| panic!("{what}: no page: {e}"));
    assert!(body.contains(GREETING), "{what}: {body}");
    assert_eq!(
        g.power_button(Duration::from_secs(60)),
        Outcome::PoweredOff,
        "{what}: console tail:\n{}",
        g.console_tail(2000)
    );
}

fn run(program: &str, package: &str, args: &[&str]) -> String {
    let out = Command::new(require_program(program, package))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed: {text}");
    text
}

#[test]
fn uki_boots_on_ovmf_from_a_fat_image() {
    let dir = TempDir::new("uki");
    let uki = build_twice(&dir, "uki", "app.efi", &[]);
    let pe = std::fs::read(&uki).expect("read");
    assert!(pe.starts_with(b"MZ"));
    // `nodistro run --image app.efi` puts it on a FAT image as
    // /EFI/BOOT/BOOTX64.EFI and boots OVMF.
    boot_and_fetch(BootOpts::image(&uki), "UKI on OVMF");
}

#[test]
fn disk_passes_sfdisk_and_fsck_and_boots_on_ovmf() {
    let dir = TempDir::new("disk");
    let disk = build_twice(&dir, "disk", "app.img", &["--data-size", "64M"]);
    let d = disk.to_str().expect("utf-8");
    let dump = run("sfdisk", "fdisk", &["--dump", d]);
    assert!(dump.contains("label: gpt"), "{dump}");
    assert!(
        dump.contains("start=        2048")
            && dump.contains("type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        "{dump}"
    );
    assert!(
        dump.contains("size=      131072, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4"),
        "{dump}"
    );
    let verify = run("sfdisk", "fdisk", &["--verify", d]);
    assert!(verify.contains("No errors detected"), "{verify}");
    // The ESP: copy it out, fsck.fat it, list it with mtools.
    let line = dump
        .lines()
        .find(|l| l.contains("C12A7328"))
        .expect("ESP line");
    let size: u64 = line
        .split("size=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .expect("ESP size");
    let bytes = std::fs::read(&disk).expect("read");
    let esp = dir.path().join("esp.img");
    std::fs::write(&esp, &bytes[2048 * 512..(2048 + size as usize) * 512]).expect("write esp");
    let e = esp.to_str().expect("utf-8");
    let fsck = run("fsck.fat", "dosfstools", &["-n", e]);
    assert!(
        !fsck.contains("differ") && !fsck.contains("Free cluster summary"),
        "{fsck}"
    );
    let listing = run("mdir", "mtools", &["-i", e, "::/EFI/BOOT"]);
    assert!(listing.contains("BOOTX64  EFI"), "{listing}");
    boot_and_fetch(BootOpts::image(&disk), "disk on OVMF");
}

#[test]
fn iso_passes_xorriso_and_boots_on_seabios_and_ovmf() {
    let dir = TempDir::new("iso");
    let iso = build_twice(&dir, "iso", "app.iso", &[]);
    let i = iso.to_str().expect("utf-8");
    let report = run(
        "xorriso",
        "xorriso",
        &[
            "-indev",
            i,
            "-report_el_torito",
            "plain",
            "-report_system_area",
            "plain",
        ],
    );
    assert!(
        report.contains("El Torito boot img :   1  BIOS"),
        "{report}"
    );
    assert!(
        report.contains("El Torito boot img :   2  UEFI"),
        "{report}"
    );
    assert!(
        report.contains("/isolinux/isolinux.bin") && report.contains("/EFI/efiboot.img"),
        "{report}"
    );
    assert!(report.contains("MBR isohybrid"), "{report}");
    boot_and_fetch(BootOpts::image(&iso), "ISO on SeaBIOS");
    boot_and_fetch(
        BootOpts::image(&iso).firmware(Firmware::Uefi),
        "ISO on OVMF",
    );
}

/// Run nodistro with ARGS expecting failure: one stderr line containing
/// every NEEDLE.
fn fails_with(args: &[&str], build: bool, needles: &[&str]) {
    let out = if build {
        nodistro_build(args)
    } else {
        Command::new(release_bin("nodistro"))
            .args(args)
            .output()
            .expect("run nodistro")
    };
    eprintln!("{args:?}");
    nodistro_tests::one_line_failure(&out, needles);
}

fn no_files_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn bad_input_is_one_line_and_leaves_no_file() {
    let dir = TempDir::new("bad");
    let out = dir.path().join("out");
    let o = out.to_str().expect("utf-8");
    // A kernel without the EFI stub: the Debian bzImage with its PE header
    // (the "MZ" the EFI stub brings) erased.
    let vmlinuz = nodistro_packaging::kernel::find_kernel().expect("a /boot/vmlinuz-*");
    let mut k = std::fs::read(&vmlinuz).expect("read kernel");
    k[..2].copy_from_slice(b"\0\0");
    let nostub_dir = TempDir::new("nostub");
    let nostub = nostub_dir.path().join(vmlinuz.file_name().expect("name"));
    std::fs::write(&nostub, &k).expect("write");
    let ns = nostub.to_str().expect("utf-8");
    fails_with(
        &["--format", "uki", "--kernel", ns, "-o", o],
        true,
        &["CONFIG_EFI_STUB"],
    );
    fails_with(
        &[
            "--format",
            "uki",
            "--efi-stub",
            "/nonexistent/linuxx64.efi.stub",
            "-o",
            o,
        ],
        true,
        &["systemd-boot-efi", "/nonexistent/linuxx64.efi.stub"],
    );
    fails_with(
        &["--format", "iso", "--isolinux-dir", "/nonexistent", "-o", o],
        true,
        &["apt-get install isolinux", "isolinux.bin"],
    );
    let long = "x".repeat(4000);
    fails_with(
        &["--format", "uki", "--cmdline", &long, "-o", o],
        true,
        &["4000 bytes", "shorten --cmdline"],
    );
    fails_with(
        &["--format", "disk", "--data-size", "lots", "-o", o],
        true,
        &["\"lots\" is not a size"],
    );
    fails_with(
        &["--format", "uki", "--data-size", "1G", "-o", o],
        true,
        &["only for --format disk, or --format uki with --update-key"],
    );
    fails_with(
        &["--format", "disk", "-o", "/nonexistent-dir/app.img"],
        true,
        &["cannot create the output /nonexistent-dir/app.img"],
    );
    fails_with(
        &[
            "--format",
            "uki",
            "--kernel-version",
            "0.0.1-other",
            "-o",
            o,
        ],
        true,
        &["0.0.1-other", "use one kernel for both"],
    );
    // A failure after the output was opened (a module that does not
    // exist) leaves nothing behind.
    fails_with(
        &[
            "--format",
            "disk",
            "--module",
            "no_such_module_xyz",
            "-o",
            o,
        ],
        true,
        &["no_such_module_xyz"],
    );
    no_files_left(dir.path());
    // Booting: OVMF missing names the package.
    let fake = dir.path().join("fake.efi");
    std::fs::write(&fake, b"MZ fake").expect("write");
    fails_with(
        &[
            "run",
            "--image",
            fake.to_str().expect("utf-8"),
            "--ovmf-dir",
            "/nonexistent",
        ],
        false,
        &["apt-get install ovmf"],
    );
}
