//! Issue 2's footprint rules, checked on the release binaries: every runtime
//! binary is static (`file` says so: no loader, no libc next to it in an
//! initramfs), and the multicall binary that carries all four tools weighs
//! less than Debian's busybox-static.

use nodistro_tests::{release_bin, require_program};
use std::process::Command;

const RUNTIME: &[&str] = &[
    "nodistro-box",
    "init",
    "modload",
    "netcfg",
    "logfwd",
    "console",
    "demo-app",
];

#[test]
fn runtime_binaries_are_statically_linked() {
    let file = require_program("file", "file");
    for name in RUNTIME {
        let path = release_bin(name);
        let out = Command::new(&file)
            .arg("-L")
            .arg(&path)
            .output()
            .expect("run file");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("statically linked") && !text.contains("interpreter"),
            "{name} is not a static executable: {text}"
        );
    }
}

#[test]
fn multicall_binary_is_smaller_than_busybox_static() {
    let busybox = require_program("busybox", "busybox-static");
    let out = Command::new(require_program("file", "file"))
        .arg("-L")
        .arg(&busybox)
        .output()
        .expect("run file");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("statically linked"),
        "{} is not busybox-static",
        busybox.display()
    );
    let ours = std::fs::metadata(release_bin("nodistro-box"))
        .expect("nodistro-box")
        .len();
    let theirs = std::fs::metadata(&busybox).expect("busybox").len();
    assert!(
        ours < theirs,
        "nodistro-box is {ours} bytes, busybox-static {theirs}: the four tools must weigh less (BENCHMARKS.md, Footprint)"
    );
}
