//! logfwd in a real boot: the Debian kernel under QEMU, init starting
//! logfwd with `logfwd.remote=tcp://10.0.2.2:PORT` from the kernel command
//! line; rsyslog on the host's loopback (10.0.2.2 from the guest through
//! user-mode networking) must receive the kernel's own records and the
//! app's stdout lines with the guest's host name.

use nodistro_tests::logfwd::{free_port, Received, Rsyslog};
use nodistro_tests::qemu::{build_demo_image, BootOpts, Guest, Outcome};
use nodistro_tests::{require_program, TempDir};
use std::time::Duration;

#[test]
fn kernel_and_app_records_reach_rsyslog_on_the_host() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let dir = TempDir::new(&format!("logfwd-qemu-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let img = build_demo_image();
    let remote = format!("logfwd.remote=tcp://10.0.2.2:{}", rs.port);
    let opts = BootOpts::new(img.path())
        .append(&remote)
        .append("hostname=logbox")
        .timeout(Duration::from_secs(150));
    let mut g = Guest::boot(opts);

    let is_kernel_banner = |r: &Received| r.app == "kernel" && r.msg.contains("Linux version");
    let is_app_line = |r: &Received| r.app == "demo-app" && r.msg.contains("listening on");
    let got = rs.wait_for(Duration::from_secs(120), |g| {
        g.iter().any(is_kernel_banner) && g.iter().any(is_app_line)
    });
    let summary = |got: &[Received]| {
        format!(
            "{} records at rsyslog; console tail:\n{}",
            got.len(),
            g.console_tail(3000)
        )
    };
    let banner = got
        .iter()
        .find(|r| is_kernel_banner(r))
        .unwrap_or_else(|| panic!("no kernel banner: {}", summary(&got)));
    assert_eq!(
        (banner.hostname.as_str(), banner.facility),
        ("logbox", 0),
        "{banner:?}"
    );
    let line = got
        .iter()
        .find(|r| is_app_line(r))
        .unwrap_or_else(|| panic!("no app line: {}", summary(&got)));
    assert_eq!(
        (line.hostname.as_str(), line.facility, line.severity),
        ("logbox", 1, 6),
        "app stdout is user.info: {line:?}"
    );
    assert!(line.app.contains("demo-app"), "app name: {line:?}");
    // Boot records arrive once each, in the kernel's order (TCP).
    let kernel: Vec<&str> = got
        .iter()
        .filter(|r| r.app == "kernel")
        .map(|r| r.msg.as_str())
        .collect();
    eprintln!(
        "rsyslog received {} records, {} from the kernel",
        got.len(),
        kernel.len()
    );
    let mut dedup = kernel.clone();
    dedup.dedup();
    assert_eq!(kernel.len(), dedup.len(), "no kernel record twice in a row");

    // On the console: init got logfwd's readiness line, and logfwd's console
    // sink printed the app's line in the short format.
    let console = g.console();
    assert!(
        console.contains("init: logfwd: ready"),
        "{}",
        g.console_tail(3000)
    );
    assert!(
        console.contains("] demo-app: listening on"),
        "{}",
        g.console_tail(3000)
    );

    let outcome = g.power_button(Duration::from_secs(60));
    assert_eq!(outcome, Outcome::PoweredOff, "{}", g.console_tail(3000));
}
