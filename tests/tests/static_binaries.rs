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

/// Issue 17's goal: the box holding every tool (every Cargo feature of
/// multicall/Cargo.toml, the console too) weighs at most half of
/// busybox-static. Only the libc-free box with std rebuilt for size
/// (`scripts/build-box.sh --libc-free`) reaches it, so a plain `cargo test`
/// (the static glibc box) ignores this; scripts/test.sh runs it with
/// `--ignored` on that box (NODISTRO_TOOLS_DIR).
#[test]
#[ignore = "only the libc-free box reaches it: NODISTRO_TOOLS_DIR=$(scripts/build-box.sh --libc-free) with --ignored (scripts/test.sh does it)"]
fn the_full_box_is_at_most_half_of_busybox_static() {
    let manifest = nodistro_tests::workspace_root().join("multicall/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read multicall/Cargo.toml");
    let start = text.find("[features]").expect("a [features] table");
    let features: Vec<&str> = text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim()))
        .filter(|k| *k != "default" && !k.starts_with('#'))
        .collect();
    let full = release_bin("nodistro-box");
    let out = Command::new(&full)
        .arg("--list")
        .output()
        .expect("run nodistro-box --list");
    let listed = String::from_utf8_lossy(&out.stdout);
    for f in &features {
        assert!(
            listed.lines().any(|l| l == *f),
            "{} lacks {f}: the goal is for the box with every tool (it lists {listed:?})",
            full.display()
        );
    }
    let busybox = require_program("busybox", "busybox-static");
    let half = std::fs::metadata(&busybox).expect("busybox").len() / 2;
    let ours = std::fs::metadata(&full).expect("nodistro-box").len();
    assert!(
        ours <= half,
        "{} is {ours} bytes, over half of busybox-static ({half}): BENCHMARKS.md, issue 17",
        full.display()
    );
}
