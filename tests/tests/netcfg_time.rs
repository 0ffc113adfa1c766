//! The SNTP client in a real boot: the guest's clock starts in 2001
//! (`-rtc base=2001-01-01`), chrony on this machine serves time on a
//! loopback port the test picks (`-x`: it never touches this machine's
//! clock), the guest reaches it as 10.0.2.2 through QEMU's user network,
//! and `init.wait_time=on` holds the app (which prints the year) until the
//! first sync.

use nodistro_tests::qemu::{build_image, kernel_release, BootOpts, Guest};
use nodistro_tests::{release_bin, require_program, ChildGuard, TempDir};
use std::process::{Command, Stdio};
use std::time::Duration;

/// chronyd serving its own clock (local stratum 8) on 127.0.0.1:`port`.
fn chrony(dir: &TempDir, port: u16) -> ChildGuard {
    let chronyd = require_program("chronyd", "chrony");
    let conf = dir.path().join("chrony.conf");
    let pid = dir.path().join("chronyd.pid");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\n\
             pidfile {}\nuser root\n",
            pid.display()
        ),
    )
    .expect("chrony.conf");
    let log = std::fs::File::create(dir.path().join("chronyd.log")).expect("log");
    let g = ChildGuard(
        Command::new(chronyd)
            .args(["-x", "-d", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("chronyd starts"),
    );
    let started =
        nodistro_tests::poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
            pid.exists()
        });
    assert!(
        started,
        "chronyd did not start: {}",
        std::fs::read_to_string(dir.path().join("chronyd.log")).unwrap_or_default()
    );
    g
}

fn this_year() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn guest_from_2001_gets_the_time_before_its_app_starts() {
    require_program("qemu-system-x86_64", "qemu-system-x86");
    let dir = TempDir::new("netcfg-time");
    let port = nodistro_tests::qemu::free_port();
    let _chrony = chrony(&dir, port);
    let app = release_bin("print-year").display().to_string();
    let release = kernel_release();
    let mut args = vec!["--app", &app, "--kernel-version", &release];
    for m in nodistro_packaging::demo::DEMO_MODULES {
        args.extend(["--module", m]);
    }
    let img = build_image(&args);
    let g = Guest::boot(
        BootOpts::new(img.path())
            .rtc_base("2001-01-01")
            .append(&format!("ntp=10.0.2.2:{port}"))
            .append("init.wait_time=on")
            .append("init.net_timeout=60")
            .timeout(Duration::from_secs(120)),
    );
    let wait = |needle: &str| {
        g.wait_for(needle, Duration::from_secs(100))
            .unwrap_or_else(|e| panic!("{needle:?}: {e}\n{}", g.console_tail(4000)));
    };
    wait("netcfg: time: stepped by +");
    let year = this_year();
    wait(&format!("NODISTRO-YEAR {year}"));
    let c = g.console();
    // The step came first, and the app did not see 2001.
    assert!(!c.contains("NODISTRO-YEAR 2001"), "{c}");
    assert!(
        c.find("netcfg: time: stepped").expect("step") < c.find("NODISTRO-YEAR").expect("year"),
        "{c}"
    );
    assert!(
        c.contains(&format!("from 10.0.2.2:{port} (stratum 8")),
        "{c}"
    );
}
