//! `nodistro build --arch aarch64 --format rpi` (issue 23): the Raspberry
//! Pi SD-card image, read by real peers (sfdisk and fdisk for the MBR,
//! fsck.fat and mtools for the FAT32 partition, GNU cpio for the
//! initramfs), reproducible, and its kernel, device tree, initramfs and
//! command line booted on QEMU's `raspi3b` (no firmware: QEMU loads what
//! the Pi's firmware would) to the app's first line. Test names start
//! with `aarch64_` so the libc-free pass skips them.

use nodistro_packaging::arch::Arch;
use nodistro_tests::qemu::aarch64_tools;
use nodistro_tests::{nodistro, require_program, run_ok, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Build the demo app's rpi image at `out` with a fixed epoch; the log.
fn build_rpi(out: &Path) -> String {
    let dir = aarch64_tools();
    let app = dir.join("demo-app");
    let o = Command::new(nodistro_tests::release_bin("nodistro"))
        .args(["build", "--arch", "aarch64", "--tools-dir"])
        .arg(&dir)
        .arg("--app")
        .arg(&app)
        .args(["--format", "rpi", "-o"])
        .arg(out)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("run nodistro build");
    let log = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{log}");
    log
}

/// Copy `name` out of the FAT partition image `part` with mtools' mcopy.
fn mcopy(part: &Path, name: &str, dest: &Path) -> Vec<u8> {
    let to = dest.join(name);
    run_ok(
        Command::new("mcopy")
            .args(["-n", "-i"])
            .arg(part)
            .arg(format!("::{name}"))
            .arg(&to),
    );
    std::fs::read(&to).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn aarch64_rpi_image_is_mbr_fat32_with_firmware_kernel_and_boots_on_raspi3b() {
    for (p, pkg) in [
        ("sfdisk", "fdisk"),
        ("fdisk", "fdisk"),
        ("fsck.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("mdir", "mtools"),
        ("cpio", "cpio"),
        ("qemu-system-aarch64", "qemu-system-arm"),
    ] {
        require_program(p, pkg);
    }
    let t = TempDir::new("rpi");
    let img = t.path().join("rpi.img");
    let log = build_rpi(&img);
    assert!(
        log.contains("aarch64 kernel") && log.contains("Rpi"),
        "{log}"
    );
    // Same inputs, same bytes.
    let again = t.path().join("again.img");
    build_rpi(&again);
    let bytes = std::fs::read(&img).expect("read the image");
    assert!(
        bytes == std::fs::read(&again).expect("read"),
        "two builds differ"
    );

    // The MBR as sfdisk reads it: one bootable FAT32 (LBA) partition at 4 MiB.
    let dump =
        String::from_utf8_lossy(&run_ok(Command::new("sfdisk").arg("--dump").arg(&img)).stdout)
            .into_owned();
    assert!(dump.contains("label: dos"), "{dump}");
    let part_line = dump
        .lines()
        .find(|l| l.contains("start="))
        .unwrap_or_else(|| panic!("no partition: {dump}"));
    assert!(
        part_line.contains("start=        8192")
            && part_line.contains("type=c")
            && part_line.contains("bootable"),
        "{part_line}"
    );
    assert_eq!(dump.matches("start=").count(), 1, "{dump}");
    let size: usize = part_line
        .split("size=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no size: {part_line}"));
    assert_eq!(
        8192 * 512 + size * 512,
        bytes.len(),
        "the partition ends the image"
    );
    let fdisk = String::from_utf8_lossy(&run_ok(Command::new("fdisk").arg("-l").arg(&img)).stdout)
        .into_owned();
    assert!(fdisk.contains("W95 FAT32 (LBA)"), "{fdisk}");

    // The partition, checked and listed by dosfstools and mtools.
    let part = t.path().join("boot.fat");
    std::fs::write(&part, &bytes[8192 * 512..]).expect("write the partition");
    drop(bytes);
    let fsck = run_ok(Command::new("fsck.fat").arg("-n").arg("-v").arg(&part));
    let fsck = String::from_utf8_lossy(&fsck.stdout);
    assert!(fsck.contains("2 FATs, 32 bit entries"), "{fsck}");
    assert!(fsck.contains("8192 hidden sectors"), "{fsck}");
    let listing = String::from_utf8_lossy(
        &run_ok(Command::new("mdir").args(["-i"]).arg(&part).arg("::")).stdout,
    )
    .into_owned();
    for name in [
        "bootcode",
        "start4",
        "fixup4",
        "bcm2837-rpi-3-b.dtb",
        "bcm2837-rpi-3-b-plus.dtb",
        "bcm2711-rpi-4-b.dtb",
        "config",
        "cmdline",
        "kernel8",
        "initrd",
    ] {
        assert!(listing.contains(name), "no {name} in:\n{listing}");
    }
    assert!(
        !listing.contains(" 0 bytes free"),
        "room is left: {listing}"
    );

    // What the files say.
    let out = t.path().join("files");
    std::fs::create_dir_all(&out).expect("mkdir");
    let config = String::from_utf8(mcopy(&part, "config.txt", &out)).expect("text");
    for line in [
        "arm_64bit=1",
        "enable_uart=1",
        "upstream_kernel=1",
        "kernel=kernel8.img",
        "initramfs initrd.img followkernel",
    ] {
        assert!(config.lines().any(|l| l == line), "{line} in:\n{config}");
    }
    let cmdline = String::from_utf8(mcopy(&part, "cmdline.txt", &out)).expect("text");
    assert_eq!(cmdline.lines().count(), 1, "{cmdline:?}");
    assert!(
        cmdline.starts_with("console=tty1 console=serial0,115200 ") && cmdline.contains("panic=-1"),
        "{cmdline:?}"
    );
    // The kernel is Debian's arm64 Image as it is; the firmware Debian's.
    let deb = nodistro_packaging::debkernel::fetch(Arch::Aarch64)
        .unwrap_or_else(|e| panic!("{}", nodistro_common::report::chain(&e)));
    let kernel = mcopy(&part, "kernel8.img", &out);
    assert!(
        kernel == std::fs::read(&deb.vmlinuz).expect("read the Debian kernel"),
        "kernel8.img is not {}",
        deb.vmlinuz.display()
    );
    let fw = nodistro_packaging::debkernel::cache_root(Arch::Aarch64)
        .join("raspi-firmware/usr/lib/raspi-firmware");
    for f in ["bootcode.bin", "start4.elf", "fixup.dat"] {
        assert!(
            mcopy(&part, f, &out) == std::fs::read(fw.join(f)).expect("read the firmware"),
            "{f} differs from raspi-firmware's"
        );
    }
    let dtb = mcopy(&part, "bcm2837-rpi-3-b.dtb", &out);
    assert_eq!(
        &dtb[..4],
        &[0xd0, 0x0d, 0xfe, 0xed],
        "a flattened device tree"
    );
    // The initramfs: the app and the Pi's drivers, as GNU cpio lists them.
    mcopy(&part, "initrd.img", &out);
    let list = run_ok(Command::new("sh").arg("-c").arg(format!(
        "gzip -dc < '{}' | cpio -t --quiet",
        out.join("initrd.img").display()
    )));
    let list = String::from_utf8_lossy(&list.stdout);
    for entry in [
        "app/demo-app",
        "init",
        "/sdhci-iproc.ko",
        "/bcm2835.ko",
        "/dwc2.ko",
        "/smsc95xx.ko",
        "/lan78xx.ko",
        "/genet.ko",
    ] {
        assert!(
            list.lines().any(|l| l.ends_with(entry)),
            "no {entry} in the initramfs:\n{list}"
        );
    }

    // Boot what the firmware would load on a Pi 3B: QEMU's raspi3b, the
    // serial console on the PL011 (the firmware's serial0 there).
    let append = cmdline.trim().replace("serial0", "ttyAMA0");
    let (console, secs) = nodistro_tests::qemu::boot_raspi3b(
        &out.join("kernel8.img"),
        &out.join("bcm2837-rpi-3-b.dtb"),
        &out.join("initrd.img"),
        &append,
        "demo-app: listening on",
        Duration::from_secs(480),
    );
    for line in [
        "Machine model: Raspberry Pi 3 Model B",
        "init: app /app/demo-app started",
    ] {
        assert!(console.contains(line), "no {line:?} in:\n{console}");
    }
    eprintln!("raspi3b: the app's first line {secs:.1} s after QEMU started");
}

#[test]
fn aarch64_rpi_is_refused_for_x86_64_in_one_line() {
    let t = TempDir::new("rpi-x86");
    let out = t.path().join("x.img").display().to_string();
    let o = nodistro(&[
        "build",
        "--arch",
        "x86_64",
        "--app",
        "/nonexistent",
        "--format",
        "rpi",
        "-o",
        &out,
    ]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    assert!(e.contains("--format rpi is for --arch aarch64"), "{e}");
    assert!(!Path::new(&out).exists());
}
