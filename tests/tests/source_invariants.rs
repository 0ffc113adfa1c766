//! Invariants ARCHITECTURE.md promises, checked on the source tree.
//!
//! 1. The sans-IO modules (listed below, by hand: a new protocol or format
//!    module joins the list) do no IO: outside `#[cfg(test)]` they name no
//!    rustix, std::fs, std::process, std::os::unix::net, no socket type of
//!    std::net (its address types are plain values and allowed), no stdin
//!    or stdout.
//! 2. logfwd takes the fds init hands down before it starts a thread
//!    (taking one removes its environment variable: unsound with threads).

use nodistro_tests::workspace_root;

/// Protocol and format logic fed bytes and time.
const SANS_IO: &[&str] = &[
    "common/src/cmdline.rs",
    "common/src/protocol.rs",
    "console/src/paths.rs",
    "init/src/config.rs",
    "init/src/policy.rs",
    "init/src/signals.rs",
    "netcfg/src/dhcp.rs",
    "netcfg/src/frame.rs",
    "netcfg/src/fuzzing.rs",
    "netcfg/src/ipconf.rs",
    "netcfg/src/lease.rs",
    "netcfg/src/msg.rs",
    "netcfg/src/solicit.rs",
    "netcfg/src/wire.rs",
    "logfwd/src/format.rs",
    "logfwd/src/kmsg.rs",
    "logfwd/src/lines.rs",
    "logfwd/src/options.rs",
    "logfwd/src/queue.rs",
    "logfwd/src/record.rs",
    "logfwd/src/syslog.rs",
    "modload/src/fnmatch.rs",
    "modload/src/modinfo.rs",
    "packaging/src/arch.rs",
    "packaging/src/buildfile/keys.rs",
    "packaging/src/buildfile/parse.rs",
    "packaging/src/cpio.rs",
    "packaging/src/digest.rs",
    "packaging/src/dynlink.rs",
    "packaging/src/elf.rs",
    "packaging/src/fat.rs",
    "packaging/src/fuzzing.rs",
    "packaging/src/gpt.rs",
    "packaging/src/ldcache.rs",
    "packaging/src/oci/layers.rs",
    "packaging/src/oci/locate.rs",
    "packaging/src/oci/runspec.rs",
    "packaging/src/oci/tarlayer.rs",
    "packaging/src/pe.rs",
    "packaging/src/qemu/stop.rs",
    "packaging/src/signcheck.rs",
    "packaging/src/uki.rs",
];

/// What a sans-IO module must not name.
const FORBIDDEN: &[&str] = &[
    "rustix",
    "std::fs",
    "std::process",
    "std::os::unix::net",
    "UdpSocket",
    "TcpStream",
    "TcpListener",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "io::stdout()",
    "io::stderr()",
    "println!",
    "eprintln!",
];

/// The non-test part of a source file: up to its `#[cfg(test)]` module.
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// Lines of `text` naming something in `forbidden` (comments aside).
fn violations(text: &str, forbidden: &[&str]) -> Vec<String> {
    non_test(text)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter_map(|(i, l)| {
            let hit = forbidden.iter().find(|f| l.contains(*f))?;
            Some(format!("line {}: {hit}: {}", i + 1, l.trim()))
        })
        .collect()
}

#[test]
fn the_checker_sees_io() {
    let io = "use std::net::Ipv4Addr;\nuse std::fs::File;\n// rustix in a comment\n#[cfg(test)]\nmod tests { use rustix; }\n";
    assert_eq!(violations(io, FORBIDDEN).len(), 1);
    assert!(
        violations("let s = std::net::UdpSocket::bind(a);", FORBIDDEN)[0].contains("UdpSocket")
    );
}

#[test]
fn sans_io_modules_do_no_io() {
    let root = workspace_root();
    let mut bad = Vec::new();
    for f in SANS_IO {
        let text = std::fs::read_to_string(root.join(f))
            .unwrap_or_else(|e| panic!("{f} is listed as sans-IO but cannot be read: {e}"));
        bad.extend(
            violations(&text, FORBIDDEN)
                .into_iter()
                .map(|v| format!("{f} {v}")),
        );
    }
    assert!(
        bad.is_empty(),
        "sans-IO modules doing IO:\n{}",
        bad.join("\n")
    );
}

/// Issue 15 defect 5: logfwd took the app's pipes (removing their
/// environment variables) in run.rs after its sink threads had started.
/// Now no file that starts threads takes an inherited fd, and
/// main_with_args takes them all before it calls run::run.
#[test]
fn logfwd_takes_inherited_fds_before_any_thread() {
    let root = workspace_root();
    let takers = ["take_inherited_fd", "Notifier::from_env", "Inherited::take"];
    for entry in std::fs::read_dir(root.join("logfwd/src")).expect("logfwd/src") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("source");
        if !non_test(&text).contains("spawn(") {
            continue;
        }
        let calls = violations(&text, &takers);
        assert!(
            calls.is_empty(),
            "{} starts threads and takes inherited fds: {calls:?}",
            path.display()
        );
    }
    let lib = std::fs::read_to_string(root.join("logfwd/src/lib.rs")).expect("lib.rs");
    let run = lib
        .find("run::run(")
        .expect("main_with_args calls run::run");
    for t in takers.iter().skip(1) {
        let at = lib
            .find(t)
            .unwrap_or_else(|| panic!("lib.rs does not call {t}"));
        assert!(
            at < run,
            "{t} comes after run::run (which starts the threads)"
        );
    }
}
