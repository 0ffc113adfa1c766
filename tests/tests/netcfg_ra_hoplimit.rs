//! RFC 4861 6.1.2 against the kernel's own IPv6 stack: a router
//! advertisement that arrives with an IP hop limit other than 255 was
//! forwarded from off the link and is dropped (its DNS server never reaches
//! resolv.conf); the same RA with hop limit 255 is followed.

use nodistro_tests::netns::Link;
use nodistro_tests::{release_bin, run_ok};
use std::time::{Duration, Instant};

/// Send the RA (`ra-sender` in the server namespace) until netcfg's log
/// holds `expect`: the first sends can go before netcfg listens or before
/// the server's link-local address is usable.
fn send_until(l: &Link, hops: &str, rdnss: &str, expect: impl Fn(&Link) -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        run_ok(
            l.server
                .command(release_bin("ra-sender"))
                .args([l.s_if.as_str(), hops, rdnss]),
        );
        let sent = Instant::now();
        while sent.elapsed() < Duration::from_millis(500) {
            if expect(l) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            Instant::now() < end,
            "no effect of the RA with hop limit {hops} within 30 s:\n{}",
            l.log("netcfg.log")
        );
    }
}

#[test]
fn an_ra_forwarded_from_off_the_link_is_dropped() {
    let l = Link::new("h", 98);
    let _nc = l.daemon(&["--ip", "auto6"]);
    let forwarded = format!("fd00:{}::64", l.net);
    let on_link = format!("fd00:{}::255", l.net);
    send_until(&l, "64", &forwarded, |l| {
        l.log("netcfg.log").contains("IP hop limit 64 ignored")
    });
    send_until(&l, "255", &on_link, |l| {
        std::fs::read_to_string(l.resolv()).is_ok_and(|r| r.contains(&on_link))
    });
    let resolv = std::fs::read_to_string(l.resolv()).expect("resolv.conf");
    assert!(!resolv.contains(&forwarded), "{resolv}");
    let log = l.log("netcfg.log");
    assert!(!log.contains(&forwarded), "{log}");
}
