//! Issue 25, dynamic apps: programs linked against glibc and libraries
//! beyond it, packed with `nodistro build --allow-dynamic` (the ELF
//! interpreter, the DT_NEEDED closure as ld.so resolves it, libgcc_s for
//! pthread_exit, an /etc/ld.so.cache), boot under QEMU, look a user up by
//! name, drop privileges to it and answer over the forwarded port:
//!
//! - a C server compiled here with gcc against zlib and OpenSSL
//!   (tests/c/dynweb.c);
//! - a cgo Go server (tests/go/cgo: os/user and the net resolver through
//!   glibc);
//! - dnsmasq from Debian's archive (22 libraries), which drops to
//!   nobody:nogroup by name and answers a DNS query over TCP.

use nodistro_tests::qemu::{build_image_logged, BootOpts, Guest, Outcome};
use nodistro_tests::{release_bin, require_program, workspace_root};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn out_dir() -> PathBuf {
    let d = workspace_root().join("target/dynamic-apps");
    std::fs::create_dir_all(&d).expect("target/dynamic-apps");
    d
}

/// tests/c/dynweb.c built with Debian's gcc, zlib and OpenSSL.
fn dynweb() -> PathBuf {
    let gcc = require_program("gcc", "gcc");
    let out = out_dir().join("dynweb");
    let res = Command::new(gcc)
        .arg("-O2")
        .arg("-Wall")
        .arg(workspace_root().join("tests/c/dynweb.c"))
        .arg("-o")
        .arg(&out)
        .args(["-lz", "-lssl", "-lcrypto", "-pthread"])
        .output()
        .expect("run gcc");
    assert!(
        res.status.success(),
        "gcc failed (apt-get install zlib1g-dev libssl-dev): {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// tests/go/cgo built with cgo (CGO_ENABLED=1, the cgo resolver).
fn cgo_app() -> PathBuf {
    let go = require_program("go", "golang-go");
    let dir = out_dir();
    let out = dir.join("cgoapp");
    let res = Command::new(go)
        .current_dir(workspace_root().join("tests/go/cgo"))
        .args(["build", "-tags", "netcgo", "-o"])
        .arg(&out)
        .arg("main.go")
        .env("CGO_ENABLED", "1")
        .env("GOCACHE", dir.join("gocache"))
        .env("GO111MODULE", "off")
        .output()
        .expect("run go");
    assert!(
        res.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// The "N bytes added" of `--allow-dynamic`'s summary line.
fn bytes_added(log: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("got its interpreter"))
        .unwrap_or_else(|| panic!("no summary line in:\n{log}"));
    eprintln!("{line}");
    line.rsplit(": ")
        .next()
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {line:?}"))
}

/// `nodistro build` of `app` without `--allow-dynamic`: refused in one
/// line saying what the flag would add.
fn refused_saying_what_it_adds(app: &str, libraries: &str) {
    let o = Command::new(release_bin("nodistro"))
        .args(["build", "--app", app, "-o"])
        .arg(out_dir().join("refused.img"))
        .output()
        .expect("run nodistro");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for n in [
        "is dynamically linked",
        "interpreter /lib64/ld-linux-x86-64.so.2",
        libraries,
        "bytes with /etc/ld.so.cache",
        "--allow-dynamic",
    ] {
        assert!(err.contains(n), "{n:?} missing: {err}");
    }
    assert!(!out_dir().join("refused.img").exists());
}

#[test]
fn c_app_with_zlib_and_openssl_drops_to_nobody_and_serves() {
    let app = dynweb();
    let app = app.to_str().expect("utf-8 path");
    refused_saying_what_it_adds(app, "and 5 libraries");
    let (img, log) = build_image_logged(&["--app", app, "--allow-dynamic", "--ca-certs"]);
    for added in [
        "dynamic: + /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "dynamic: + /lib/x86_64-linux-gnu/libz.so.1 -> libz.so.1.2.13",
        "dynamic: + /lib/x86_64-linux-gnu/libssl.so.3 ",
        "dynamic: + /lib/x86_64-linux-gnu/libcrypto.so.3 ",
        "dynamic: + /lib/x86_64-linux-gnu/libc.so.6 ",
        "dynamic: + /lib/x86_64-linux-gnu/libgcc_s.so.1 ",
        "libgcc_s.so.1: glibc loads it at run time for /app/dynweb (pthread_exit)",
        "dynamic: + /etc/ld.so.cache ",
    ] {
        assert!(log.contains(added), "{added:?} missing:\n{log}");
    }
    let added = bytes_added(&log);
    assert!(added > 1_000_000, "{added}");
    let mut g = Guest::boot(BootOpts::new(img.path()).forward(80).restrict());
    let t = Duration::from_secs(120);
    for line in [
        "dynweb: user nobody uid=65534 gid=65534 group=nogroup",
        "dynweb: zlib ",
        "tls-ctx=ok",
        "dynweb: getaddrinfo localhost=127.0.0.1 (ok)",
        "dynweb: running as uid=65534 gid=65534",
        "dynweb: pthread_exit returned 42",
        "dynweb: serving on :80",
    ] {
        g.expect_line(line, t);
    }
    let page = g
        .http_poll(80, "/", "running as uid=65534", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(page.contains("compress=0"), "{page}");
    // The CA bundle of --ca-certs, read by OpenSSL in the guest.
    let ca: u32 = page
        .split("ca=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(ca > 0, "{page}");
    assert!(
        !g.console().contains("cannot start"),
        "{}",
        g.console_tail(3000)
    );
    assert_eq!(
        g.power_button(Duration::from_secs(30)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(2000)
    );
}

#[test]
fn cgo_go_app_finds_its_user_through_glibc_and_serves() {
    let app = cgo_app();
    let app = app.to_str().expect("utf-8 path");
    refused_saying_what_it_adds(app, "and 1 libraries");
    let (img, log) = build_image_logged(&["--app", app, "--allow-dynamic"]);
    assert!(
        log.contains("dynamic: + /lib/x86_64-linux-gnu/libc.so.6 "),
        "{log}"
    );
    bytes_added(&log);
    let mut g = Guest::boot(BootOpts::new(img.path()).forward(80).restrict());
    let t = Duration::from_secs(120);
    for line in [
        "cgo: glibc 2.",
        "cgo: user nobody uid=65534 gid=65534",
        "cgo: host localhost=",
        "cgo: running as uid=65534 gid=65534",
        "cgo: serving on :80",
    ] {
        g.expect_line(line, t);
    }
    let page = g
        .http_poll(80, "/", "running as uid=65534", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(page.contains("127.0.0.1"), "{page}");
    assert_eq!(
        g.power_button(Duration::from_secs(30)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(2000)
    );
}

/// A DNS query for `name` (type A) over TCP.
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend(q);
    framed
}

/// Ask 127.0.0.1:`port` over TCP until it answers; the answer.
fn ask_dns(port: u16, name: &str, limit: Duration) -> Result<Vec<u8>, String> {
    let end = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < end {
        let attempt = (|| -> std::io::Result<Vec<u8>> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(&dns_query(name))?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut msg)?;
            Ok(msg)
        })();
        match attempt {
            Ok(m) => return Ok(m),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!("no DNS answer on port {port}: {last}"))
}

#[test]
fn dnsmasq_from_debian_drops_to_nobody_by_name_and_answers() {
    let dnsmasq = require_program("dnsmasq", "dnsmasq-base");
    let app = dnsmasq.to_str().expect("utf-8 path");
    let (img, log) = build_image_logged(&[
        "--app",
        app,
        "--allow-dynamic",
        "--arg",
        "--keep-in-foreground",
        "--arg",
        "--conf-file=/dev/null",
        "--arg",
        "--no-resolv",
        "--arg",
        "--no-hosts",
        "--arg",
        "--address=/app.nodistro.test/10.9.8.7",
        "--arg",
        "--user=nobody",
        "--arg",
        "--group=nogroup",
        "--arg",
        "--pid-file=/run/dnsmasq.pid",
        "--arg",
        "--log-facility=-",
        "--arg",
        "--log-queries",
    ]);
    for lib in [
        "libidn2.so.0",
        "libnettle.so.8",
        "libgmp.so.10",
        "libdbus-1.so.3",
    ] {
        assert!(log.contains(&format!("({lib})")), "{lib} missing:\n{log}");
    }
    bytes_added(&log);
    let g = Guest::boot(BootOpts::new(img.path()).forward(53).restrict());
    g.expect_line("]: started, version", Duration::from_secs(120));
    let answer = ask_dns(
        g.host_port(53),
        "app.nodistro.test",
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", g.console_tail(3000)));
    // Our id, no error, one answer, the address it was told.
    assert_eq!(&answer[..2], &[0x12, 0x34]);
    assert_eq!(answer[3] & 0x0f, 0, "rcode: {answer:?}");
    assert!(
        u16::from_be_bytes([answer[6], answer[7]]) >= 1,
        "{answer:?}"
    );
    assert!(answer.windows(4).any(|w| w == [10, 9, 8, 7]), "{answer:?}");
    g.expect_line("query[A] app.nodistro.test", Duration::from_secs(30));
    // It ran on after dropping to nobody:nogroup (a name it could not
    // look up, or a failed setuid, ends it at start).
    let console = g.console();
    assert!(
        !console.contains("unknown user or group") && !console.contains("cannot start"),
        "{}",
        g.console_tail(3000)
    );
}
