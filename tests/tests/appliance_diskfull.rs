//! A full data disk and one the kernel remounts read-only (issue 26,
//! point 5): the app fills /data to ENOSPC and makes ext4 on /spool fail
//! (`errors=remount-ro`), then keeps printing. init and logfwd keep
//! running (the app's lines after both faults reach the console through
//! logfwd), the power button still shuts down cleanly, and a file the app
//! wrote without fsync before the disk filled is on the disk afterwards
//! (debugfs reads it): init's shutdown synced and unmounted.

use nodistro_tests::qemu::{app_image, BootOpts, Guest, Nic, Outcome};
use nodistro_tests::{require_program, run_ok, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// An ext4 image of `mb` MiB, no blocks reserved for root (the app runs as
/// root and must hit ENOSPC), errors=remount-ro in its superblock.
fn ext4(dir: &Path, name: &str, label: &str, mb: u64) -> String {
    let mke2fs = require_program("mke2fs", "e2fsprogs");
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(mb << 20))
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    run_ok(
        Command::new(mke2fs)
            .args([
                "-q",
                "-F",
                "-t",
                "ext4",
                "-m",
                "0",
                "-e",
                "remount-ro",
                "-L",
                label,
            ])
            .arg(&path),
    );
    path.to_str().expect("utf-8 path").to_string()
}

#[test]
fn full_and_read_only_disks_leave_init_and_logfwd_running() {
    let debugfs = require_program("debugfs", "e2fsprogs");
    let tmp = TempDir::new("diskfull");
    let data = ext4(tmp.path(), "data.img", "data", 8);
    let spool = ext4(tmp.path(), "spool.img", "spool", 8);
    let img = app_image(
        "disk-chaos",
        &["virtio_pci", "virtio_blk", "ext4", "button", "evdev"],
        &[
            "init.mount=/dev/vda:/data",
            "init.mount=/dev/vdb:/spool",
            "init.mount_timeout=20",
        ],
        &[],
    );
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .drive(std::path::Path::new(&data))
            .drive(std::path::Path::new(&spool))
            .timeout(Duration::from_secs(240)),
    );
    let t = Duration::from_secs(150);
    g.expect_line("disk-chaos: wrote /data/unsynced", t);
    g.expect_line("disk-chaos: /data full: ENOSPC after ", t);
    g.expect_line("disk-chaos: ext4 error triggered on /spool", t);
    g.expect_line("disk-chaos: /spool write: EROFS", t);
    // After both faults: the app's lines still come through logfwd.
    g.expect_line("disk-chaos: alive 5", t);
    let console = g.console();
    assert!(
        console.contains("Remounting filesystem read-only"),
        "the kernel did not remount /spool read-only:\n{}",
        g.console_tail(3000)
    );
    assert_eq!(
        g.power_button(Duration::from_secs(60)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(3000)
    );
    let console = g.console();
    assert!(
        !console.contains("Kernel panic"),
        "{}",
        g.console_tail(3000)
    );
    // logfwd stopped on its SIGTERM, not killed after the grace period.
    let killed = console
        .lines()
        .find(|l| l.contains("init: logfwd (pid") && l.contains("signal 9"));
    assert!(killed.is_none(), "{killed:?}\n{}", g.console_tail(3000));
    // What the app wrote without fsync before the disk filled is on it.
    let out = run_ok(
        Command::new(debugfs)
            .args(["-R", "cat /unsynced"])
            .arg(&data),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "kept-by-init-sync",
        "{}",
        g.console_tail(3000)
    );
}
