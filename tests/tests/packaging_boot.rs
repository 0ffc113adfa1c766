//! The kernel accepts what `nodistro build` writes in every compression:
//! a zstd image (libzstd's multithreaded frames with a content checksum)
//! and an uncompressed one, each carrying a few MB of modules, unpack
//! without complaint and run the app. (The gzip default is booted by every
//! other QEMU test.)

use nodistro_tests::qemu::{boot_marker, build_image, Outcome};
use nodistro_tests::release_bin;
use std::time::Duration;

fn boots(compression: &str) {
    let marker = release_bin("marker-init");
    let img = build_image(&[
        "--app",
        marker.to_str().expect("utf-8 path"),
        "--compression",
        compression,
        "--module",
        "ext4",
        "--module",
        "e1000",
    ]);
    let (mut g, _) = boot_marker(&img, &format!("{compression}{}", std::process::id()));
    assert_eq!(g.wait_exit(Duration::from_secs(30)), Outcome::PoweredOff);
    let c = g.console();
    assert!(
        !c.contains("Initramfs unpacking failed"),
        "{compression}:\n{c}"
    );
    assert!(!c.contains("junk"), "{compression}:\n{c}");
}

#[test]
fn kernel_unpacks_zstd_images() {
    boots("zstd");
}

#[test]
fn kernel_unpacks_uncompressed_images() {
    boots("none");
}
