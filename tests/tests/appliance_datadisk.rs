//! A data disk (issue 14, point 1): an ext4 image made here with mke2fs on
//! a virtio-blk drive. The app counts its boots in a file on it: the first
//! boot mounts it by path and reboots through init, the second mounts it
//! by LABEL= and powers off; the count goes 1, then 2, so the file was
//! written, synced and unmounted cleanly. In the same boots, an
//! unformatted second disk (probed, then forced as ext4: the kernel's
//! reason is quoted) and a device that never appears are each reported
//! once and the boot goes on.

use nodistro_tests::qemu::{app_image, BootOpts, Guest, Image, Nic, Outcome};
use nodistro_tests::{require_program, run_ok, TempDir};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn image() -> Image {
    app_image(
        "boot-counter",
        &["virtio_pci", "virtio_blk", "ext4"],
        &["init.helpers=modload,logfwd", "init.mount_timeout=3"],
        &["--arg", "/data/count"],
    )
}

fn disk(dir: &Path, name: &str, mb: u64) -> String {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(mb << 20))
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    path.to_str().expect("utf-8 path").to_string()
}

fn boot(img: &Image, data: &str, scratch: &str, mount: &str, on_exit: &str) -> (Outcome, String) {
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append(&format!("init.mount={mount}"))
            .append("init.mount=/dev/vdb:/scratch")
            .append("init.mount=/dev/vdb:/forced:ext4")
            .append("init.mount=/dev/vdz:/missing")
            .append(&format!("init.on_exit={on_exit}"))
            .drive(Path::new(data))
            .drive(Path::new(scratch))
            .timeout(Duration::from_secs(150)),
    );
    g.expect_line("BOOT-COUNT", Duration::from_secs(120));
    let outcome = g.wait_exit(Duration::from_secs(60));
    (outcome, g.console())
}

fn count_line(console: &str) -> &str {
    console
        .lines()
        .find(|l| l.starts_with("BOOT-COUNT"))
        .unwrap_or_default()
}

#[test]
fn the_app_counts_its_boots_on_a_data_disk() {
    let tmp = TempDir::new("datadisk");
    let data = disk(tmp.path(), "data.img", 32);
    let scratch = disk(tmp.path(), "scratch.img", 8);
    run_ok(
        Command::new(require_program("mke2fs", "e2fsprogs"))
            .args(["-q", "-F", "-t", "ext4", "-L", "appdata", &data]),
    );
    let img = image();

    let (outcome, c) = boot(
        &img,
        &data,
        &scratch,
        "/dev/vda:/data:ext4:noatime",
        "reboot",
    );
    assert_eq!(outcome, Outcome::Rebooted, "console:\n{c}");
    assert_eq!(count_line(&c), "BOOT-COUNT 1", "console:\n{c}");
    assert!(c.contains("init: mounted /dev/vda on /data (ext4)"), "{c}");
    assert!(c.contains("init: unmounted /data (/dev/vda)"), "{c}");
    let bad = [
        "no ext4, xfs, btrfs, vfat or iso9660 filesystem on /dev/vdb",
        "cannot mount /dev/vdb (ext4) on /forced: Invalid argument (os error 22); kernel: EXT4-fs (vdb): VFS: Can't find ext4 filesystem",
        "/dev/vdz did not appear within init.mount_timeout",
    ];
    for b in bad {
        assert_eq!(c.matches(b).count(), 1, "{b:?} not reported once:\n{c}");
    }

    let (outcome, c) = boot(&img, &data, &scratch, "LABEL=appdata:/data", "poweroff");
    assert_eq!(outcome, Outcome::PoweredOff, "console:\n{c}");
    assert_eq!(count_line(&c), "BOOT-COUNT 2", "console:\n{c}");
    assert!(
        c.contains("init: mounted /dev/vda (LABEL=appdata) on /data (ext4)"),
        "{c}"
    );
    assert!(c.contains("init: unmounted /data (/dev/vda)"), "{c}");

    // The host reads what the guest wrote: the filesystem is clean.
    let fsck = Command::new(require_program("e2fsck", "e2fsprogs"))
        .args(["-n", "-f", &data])
        .output()
        .expect("run e2fsck");
    assert!(
        fsck.status.success(),
        "e2fsck: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
}
