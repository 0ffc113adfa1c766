//! Issue 12: `nodistro chart CONSOLE_LOG -o boot.svg` on a recorded console
//! log (tests/data/boot-console.log, a `nodistro run` capture of the demo
//! with init.debug=console init.break=network): xmllint accepts the SVG,
//! there is one labelled bar per stage the log names, and rsvg-convert
//! renders it (the PNG is kept next to the SVG for a person to look at).

use nodistro_tests::{release_bin, require_program, run_ok, TempDir};
use std::path::Path;
use std::process::Command;

fn log_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/boot-console.log")
}

#[test]
fn chart_of_a_recorded_boot_is_valid_svg_with_a_bar_per_stage() {
    let tmp = TempDir::new("chart");
    let svg = tmp.path().join("boot.svg");
    run_ok(
        Command::new(release_bin("nodistro"))
            .arg("chart")
            .arg(log_path())
            .arg("-o")
            .arg(&svg),
    );
    let text = std::fs::read_to_string(&svg).expect("the svg");
    let xmllint = require_program("xmllint", "libxml2-utils");
    run_ok(Command::new(xmllint).arg("--noout").arg(&svg));
    let log = std::fs::read_to_string(log_path()).expect("the log");
    let stages = nodistro_common::bootlog::stages(&log);
    assert!(stages.len() >= 10, "{stages:#?}");
    assert_eq!(text.matches("<g><title>").count(), stages.len());
    for label in [
        "kernel (",
        "mounts (",
        "modload until coldplug-done (",
        "virtio_net (",
        "logfwd until ready (",
        "paused before netcfg (",
        "DHCP eth0 10.0.2.15/24 (",
        "app /app/demo-app (started at",
    ] {
        assert!(text.contains(label), "no bar labelled {label:?}");
    }
    let rsvg = require_program("rsvg-convert", "librsvg2-bin");
    let png = tmp.path().join("boot.png");
    let r = Command::new(rsvg)
        .arg(&svg)
        .arg("-o")
        .arg(&png)
        .output()
        .expect("rsvg-convert");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let bytes = std::fs::read(&png).expect("png");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    // A log without a nodistro boot: one line, exit 1.
    let empty = tmp.path().join("empty.log");
    std::fs::write(&empty, "nothing here\n").expect("write");
    let out = Command::new(release_bin("nodistro"))
        .args([
            "chart".as_ref(),
            empty.as_os_str(),
            "-o".as_ref(),
            svg.as_os_str(),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no nodistro boot timeline"));
}
