//! Per-instance settings (issue 14, point 2), one image for three machines:
//! - a NoCloud seed made by cloud-localds (ISO9660 labelled cidata, on a
//!   virtio disk) names the host and sets `logfwd.remote`, which the boot
//!   uses: logfwd is restarted and the app's lines reach a UDP receiver
//!   here; `logfwd.format` from the seed loses to the kernel command line;
//! - without a seed, and with a metadata service that accepts but never
//!   answers, the boot goes on with the image's defaults;
//! - an IMDSv2 service written here on loopback, reached from the guest at
//!   10.0.2.100 through QEMU's `guestfwd` on a `restrict=on` user network
//!   (nothing leaves the guest but that forward): token first, then
//!   meta-data and user-data with the token; the host name is taken and the
//!   user-data handed to the app under /run.

use nodistro_tests::qemu::{app_image, BootOpts, Guest, Image, Nic, Outcome};
use nodistro_tests::{require_program, run_ok, TempDir};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn image() -> Image {
    app_image(
        "health-app",
        &[
            "virtio_pci",
            "virtio_net",
            "virtio_blk",
            "isofs",
            "button",
            "evdev",
        ],
        &["logfwd.format=rfc3164"],
        &[],
    )
}

fn wait_all(g: &Guest, needles: &[&str]) {
    for n in needles {
        g.expect_line(n, Duration::from_secs(90));
    }
}

/// The test image booted with only the [`restricted_nic`] to
/// 127.0.0.1:`port` and `init.metadata=http://10.0.2.100/` given
/// `timeout_s` seconds (the image lives as long as the guest needs it).
fn boot_with_metadata_service(port: u16, timeout_s: u32) -> (Image, Guest) {
    let img = image();
    let g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .guestfwd_nic("10.0.2.100:80", &relay(port))
            .append("init.metadata=http://10.0.2.100/")
            .append(&format!("init.metadata_timeout={timeout_s}"))
            .timeout(Duration::from_secs(150)),
    );
    (img, g)
}

/// A relay (busybox nc) to 127.0.0.1:`port`, for QEMU's `guestfwd`.
fn relay(port: u16) -> String {
    let nc = require_program("busybox", "busybox-static");
    format!("{} nc 127.0.0.1 {port}", nc.display())
}

#[test]
fn a_nocloud_seed_names_the_host_and_sets_logfwd_remote() {
    let tmp = TempDir::new("nocloud");
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP receiver");
    let port = rx.local_addr().expect("address").port();
    let (ud, md, seed) = (
        tmp.path().join("user-data"),
        tmp.path().join("meta-data"),
        tmp.path().join("seed.iso"),
    );
    std::fs::write(
        &ud,
        format!("#nodistro-config\nlogfwd.remote=udp://10.0.2.2:{port}\nlogfwd.format=rfc3164\n"),
    )
    .expect("write user-data");
    std::fs::write(&md, "instance-id: iid-seed1\nlocal-hostname: seeded\n")
        .expect("write meta-data");
    run_ok(
        Command::new(require_program("cloud-localds", "cloud-image-utils"))
            .arg(&seed)
            .arg(&ud)
            .arg(&md),
    );
    let img = image();
    let mut g = Guest::boot(
        BootOpts::new(img.path())
            .append("logfwd.format=rfc5424")
            .drive_readonly(&seed)
            .timeout(Duration::from_secs(150)),
    );
    let src = "the NoCloud seed on /dev/vda";
    wait_all(
        &g,
        &[
            &format!("init: instance iid-seed1 (from {src})"),
            &format!("init: host name seeded (from local-hostname in {src})"),
            &format!(
                "init: logfwd.format from user-data of {src}: the kernel command line's value wins"
            ),
            &format!("init: logfwd.remote=udp://10.0.2.2:{port} (from user-data of {src})"),
            "init: restarting logfwd for its new configuration",
            "init: app /app/health-app started",
        ],
    );
    rx.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    let line = loop {
        let n = rx
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no record from the guest: {e}\n{}", g.console()));
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.contains("health-app: listening") {
            break text;
        }
    };
    // RFC 5424 (the command line's format) from host "seeded".
    assert!(line.contains(">1 ") && line.contains(" seeded "), "{line}");
    assert_eq!(g.power_button(Duration::from_secs(60)), Outcome::PoweredOff);
}

#[test]
fn no_seed_and_a_hanging_service_keep_the_defaults() {
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("address").port();
    // Accept and never answer; keep the connections open.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in server.incoming().flatten() {
            held.push(c);
        }
    });
    let (_img, mut g) = boot_with_metadata_service(port, 2);
    wait_all(
        &g,
        &[
            "init: metadata service http://10.0.2.100:80/: no answer from 10.0.2.100:80 in time; going on without it",
            "init: no per-instance settings (no NoCloud seed, no metadata service)",
            "init: app /app/health-app started",
        ],
    );
    assert_eq!(g.power_button(Duration::from_secs(60)), Outcome::PoweredOff);
    let c = g.console();
    assert!(c.contains("init: host name nodistro, lo up"), "{c}");
    assert!(!c.contains("restarting logfwd"), "{c}");
    assert_eq!(
        c.matches("metadata service http://10.0.2.100:80/").count(),
        1,
        "{c}"
    );
}

/// A tiny IMDSv2: token on PUT, 401 without it, meta-data and user-data.
fn imds_answer(req: &str) -> (u16, String) {
    let token_ok = req
        .lines()
        .any(|l| l.eq_ignore_ascii_case("X-aws-ec2-metadata-token: tok-123"));
    let first = req.lines().next().unwrap_or_default();
    match first.split(' ').take(2).collect::<Vec<_>>()[..] {
        ["PUT", "/latest/api/token"]
            if req
                .to_ascii_lowercase()
                .contains("x-aws-ec2-metadata-token-ttl-seconds: ") =>
        {
            (200, "tok-123".into())
        }
        [_, _] if !token_ok => (401, String::new()),
        ["GET", "/latest/meta-data/local-hostname"] => (200, "imds-host".into()),
        ["GET", "/latest/meta-data/instance-id"] => (200, "i-0abc".into()),
        ["GET", "/latest/user-data"] => (200, "#!/bin/sh\necho from-imds\n".into()),
        _ => (404, String::new()),
    }
}

fn serve(mut c: TcpStream, log: &Mutex<Vec<String>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let req = String::from_utf8_lossy(&buf).into_owned();
    let (status, body) = imds_answer(&req);
    log.lock().expect("lock").push(req);
    let _ = c.write_all(
        format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

#[test]
fn imdsv2_gives_the_host_name_and_user_data() {
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("address").port();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = log.clone();
    std::thread::spawn(move || {
        for c in server.incoming().flatten() {
            serve(c, &l);
        }
    });
    // Each connection starts a relay process on this machine: give a loaded
    // CI machine time (the hanging service test checks the deadline itself).
    let (_img, mut g) = boot_with_metadata_service(port, 30);
    let src = "the metadata service http://10.0.2.100:80/";
    wait_all(
        &g,
        &[
            &format!("init: instance i-0abc (from {src})"),
            &format!("init: host name imds-host (from local-hostname in {src})"),
            &format!(
                "init: user-data from {src} (25 bytes) is in /run/nodistro/user-data for the app"
            ),
            "init: app /app/health-app started",
        ],
    );
    assert_eq!(g.power_button(Duration::from_secs(60)), Outcome::PoweredOff);
    let reqs = log.lock().expect("lock").clone();
    let firsts: Vec<&str> = reqs
        .iter()
        .map(|r| r.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        firsts,
        [
            "PUT /latest/api/token HTTP/1.1",
            "GET /latest/meta-data/instance-id HTTP/1.1",
            "GET /latest/meta-data/local-hostname HTTP/1.1",
            "GET /latest/user-data HTTP/1.1",
        ]
    );
    assert!(
        reqs[1..]
            .iter()
            .all(|r| r.contains("X-aws-ec2-metadata-token: tok-123")),
        "{reqs:?}"
    );
}
