//! scripts/setup.sh's QEMU choice (scripts/qemu-suite.sh): the emulators
//! come from the suite of the machine's qemu-utils, bookworm's 7.2 on plain
//! Debian 12 and bookworm-backports beside a backported qemu-utils (whose
//! Breaks forbid bookworm's qemu-system-common); the backports sources
//! file reuses the machine's own Debian mirror and key.

use nodistro_tests::{workspace_root, TempDir};
use std::process::Command;

fn bash(script: &str) -> String {
    let lib = workspace_root().join("scripts/qemu-suite.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {}; {script}", lib.display()))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_suite_follows_the_installed_qemu_utils() {
    for (dpkg_version, suite) in [
        ("1:10.0.2+ds-2+deb13u1~bpo12+1", "bookworm-backports"),
        ("1:7.2+dfsg-7+deb12u18+b2", "bookworm"),
        ("", "bookworm"),
    ] {
        assert_eq!(
            bash(&format!("qemu_suite '{dpkg_version}'")).trim(),
            suite,
            "qemu-utils {dpkg_version:?}"
        );
    }
}

#[test]
fn the_backports_source_reuses_the_machines_mirror() {
    let tmp = TempDir::new("setup-qemu");
    let deb822 = tmp.path().join("debian.sources");
    std::fs::write(
        &deb822,
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k/debian.gpg\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n",
    )
    .expect("write");
    let out = bash(&format!("backports_sources {}", deb822.display()));
    assert!(
        out.contains("URIs: http://mirror.example/debian\n"),
        "{out}"
    );
    assert!(out.contains("Suites: bookworm-backports\n"), "{out}");
    assert!(out.contains("Signed-By: /k/debian.gpg\n"), "{out}");
    let oneline = tmp.path().join("sources.list");
    std::fs::write(
        &oneline,
        "deb [arch=amd64] http://old.example/debian bookworm main\n",
    )
    .expect("write");
    let out = bash(&format!("backports_sources {}", oneline.display()));
    assert!(out.contains("URIs: http://old.example/debian\n"), "{out}");
    let out = bash("backports_sources /nonexistent");
    assert!(
        out.contains("URIs: http://deb.debian.org/debian\n"),
        "{out}"
    );
}
