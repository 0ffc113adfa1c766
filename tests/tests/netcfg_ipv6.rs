//! netcfg's IPv6 side and the merged resolv.conf against dnsmasq as router
//! (RA) and DHCPv6 server, across a veth pair between two network
//! namespaces. resolv.conf is always a temporary file.

use nodistro_tests::netns::Link;
use std::process::Output;
use std::time::Duration;

/// The IPv6 side of the fixture ([`Link`]).
trait V6 {
    fn v6(&self, suffix: &str) -> String;
    fn addrs(&self) -> String;
    fn routes(&self) -> String;
    fn assert_default_route(&self);
}

impl V6 for Link {
    fn v6(&self, suffix: &str) -> String {
        format!("fd00:{}::{suffix}", self.net)
    }

    fn addrs(&self) -> String {
        self.client.ip(&["-6", "addr", "show", "dev", &self.c_if])
    }

    fn routes(&self) -> String {
        self.client.ip(&["-6", "route"])
    }

    /// The default route the kernel takes from the RA (with `ip=dhcp6`
    /// the DHCPv6 reply may come before the first RA: wait for it).
    fn assert_default_route(&self) {
        self.wait(10, "no default route from the RA", |l| {
            l.routes()
                .lines()
                .any(|x| x.starts_with("default via fe80::") && x.contains("proto ra"))
        });
    }
}

fn ok(out: &Output) -> (String, String) {
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "netcfg failed: {o}{e}");
    (o, e)
}

#[test]
fn ra_only_gives_slaac_address_route_and_rdnss_dnssl() {
    let l = Link::new("o", 91);
    let _srv = l.dnsmasq(&[
        "--enable-ra",
        &format!("--dhcp-range={},ra-only,64,10m", l.v6("")),
        &format!("--dhcp-option=option6:dns-server,[{}]", l.v6("53")),
        "--dhcp-option=option6:domain-search,ra.test,two.test",
    ]);
    let (out, err) = ok(&l
        .netcfg(&["--oneshot", "--ip", "auto6", "--timeout", "20"])
        .arg(&l.c_if)
        .output()
        .expect("netcfg runs"));
    // The kernel's SLAAC address in the advertised prefix, named by netcfg.
    let prefix = format!("inet6 fd00:{}:", l.net);
    let addrs = l.addrs();
    assert!(addrs.contains(&prefix), "{addrs}");
    assert!(
        out.starts_with(&format!("{} fd00:{}:", l.c_if, l.net)),
        "{out}"
    );
    assert!(err.contains("(SLAAC, by the kernel)"), "{err}");
    assert!(
        err.contains(&format!("prefix fd00:{}::/64 (RA, on-link, SLAAC)", l.net)),
        "{err}"
    );
    l.assert_default_route();
    assert_eq!(
        std::fs::read_to_string(l.resolv()).expect("resolv.conf written"),
        format!(
            "# written by nodistro netcfg\nsearch ra.test two.test\nnameserver {}\n",
            l.v6("53")
        )
    );
    // RA only: no DHCPv6 traffic at all.
    assert!(!l.log("dnsmasq.log").contains("DHCPSOLICIT"));
    assert!(!err.contains("DHCPv6"), "{err}");
}

#[test]
fn stateless_dhcpv6_when_the_o_flag_is_set() {
    let l = Link::new("i", 92);
    let _srv = l.dnsmasq(&[
        "--enable-ra",
        &format!("--dhcp-range={},ra-stateless,64,10m", l.v6("")),
        &format!("--dhcp-option=option6:dns-server,[{}]", l.v6("53")),
        "--dhcp-option=option6:domain-search,stateless.test",
        &format!("--dhcp-option=option6:ntp-server,[{}]", l.v6("123")),
    ]);
    let (_, err) = ok(&l
        .netcfg(&["--oneshot", "--ip", "auto6", "--timeout", "20"])
        .arg(&l.c_if)
        .output()
        .expect("netcfg runs"));
    assert!(l.addrs().contains(&format!("inet6 fd00:{}:", l.net)));
    l.assert_default_route();
    let log = l.log("dnsmasq.log");
    assert!(log.contains("DHCPINFORMATION-REQUEST"), "{log}");
    assert!(!log.contains("DHCPSOLICIT"), "{log}");
    assert!(
        err.contains(&format!(
            "DHCPv6: dns {} search stateless.test ntp {}",
            l.v6("53"),
            l.v6("123")
        )),
        "{err}"
    );
    let resolv = std::fs::read_to_string(l.resolv()).expect("resolv.conf written");
    assert!(
        resolv.contains(&format!("nameserver {}\n", l.v6("53"))),
        "{resolv}"
    );
    assert!(resolv.contains("search stateless.test\n"), "{resolv}");
}

#[test]
fn stateful_dhcpv6_address_renewal_and_release() {
    let l = Link::new("f", 93);
    // dnsmasq's shortest lease is 2 minutes: T1 (renewal) at 60 s.
    let _srv = l.dnsmasq(&[
        "--enable-ra",
        &format!("--dhcp-range={},{},64,2m", l.v6("100"), l.v6("1ff")),
        &format!("--dhcp-option=option6:dns-server,[{}]", l.v6("53")),
        "--dhcp-option=option6:domain-search,stateful.test",
    ]);
    let mut nc = l.daemon(&["--ip", "dhcp6"]);
    let got = |l: &Link| {
        l.addrs().lines().find_map(|x| {
            let a = x.trim().strip_prefix("inet6 ")?.split_whitespace().next()?;
            a.strip_suffix("/128").map(String::from)
        })
    };
    l.wait(20, "no DHCPv6 address", |l| got(l).is_some());
    let addr = got(&l).expect("address");
    assert!(
        addr.starts_with(&format!("fd00:{}::1", l.net)),
        "{addr} not from the range"
    );
    l.wait(10, "no readiness line", |l| {
        l.log("ready.log").contains("online")
    });
    assert!(
        l.log("ready.log")
            .contains(&format!("online {} {addr}/128", l.c_if)),
        "{}",
        l.log("ready.log")
    );
    l.assert_default_route();
    let resolv = std::fs::read_to_string(l.resolv()).expect("resolv.conf written");
    assert_eq!(
        resolv,
        format!(
            "# written by nodistro netcfg\nsearch stateful.test\nnameserver {}\n",
            l.v6("53")
        )
    );
    // Renewal at T1 (60 s), answered.
    l.wait(90, "no DHCPv6 renewal", |l| {
        let log = l.log("dnsmasq.log");
        log.contains("DHCPRENEW") && log.matches("DHCPREPLY").count() >= 2
    });
    assert!(!l.log("netcfg.log").contains("rebinding"));
    // SIGTERM: Release (in dnsmasq's log), the address gone.
    assert!(nc.terminate(Duration::from_secs(5)), "netcfg did not stop");
    assert!(!l.addrs().contains(&addr), "{}", l.addrs());
    l.wait(5, "no DHCPRELEASE", |l| {
        l.log("dnsmasq.log").contains("DHCPRELEASE")
    });
}

#[test]
fn dual_stack_gives_one_merged_resolv_conf_and_waits_for_all() {
    let l = Link::new("d", 94);
    let _srv = l.dnsmasq(&[
        "--enable-ra",
        &format!("--dhcp-range=10.{}.0.50,10.{}.0.60,2m", l.net, l.net),
        &format!("--dhcp-option=option:dns-server,10.{}.0.1", l.net),
        "--dhcp-option=option:domain-search,four.test",
        &format!("--dhcp-range={},ra-stateless,64,10m", l.v6("")),
        &format!("--dhcp-option=option6:dns-server,[{}]", l.v6("53")),
        "--dhcp-option=option6:domain-search,six.test",
    ]);
    let _nc = l.daemon(&["--wait", "all"]);
    let want = format!(
        "# written by nodistro netcfg\nsearch four.test six.test\nnameserver 10.{}.0.1\nnameserver {}\n",
        l.net,
        l.v6("53")
    );
    l.wait(20, "no merged resolv.conf", |l| {
        std::fs::read_to_string(l.resolv()).is_ok_and(|t| t == want)
    });
    // netcfg.wait=all: one readiness line, once both families are up.
    l.wait(20, "not ready", |l| l.log("ready.log").contains("online"));
    let ready = l.log("ready.log");
    assert_eq!(ready.lines().count(), 1, "{ready}");
    let log = l.log("netcfg.log");
    assert!(log.contains("IPv6 ready"), "{log}");
    assert!(l
        .client
        .ip(&["-4", "addr", "show", "dev", &l.c_if])
        .contains(&format!("inet 10.{}.0.", l.net)));
}

#[test]
fn static_ipv6_from_the_kernel_syntax() {
    let l = Link::new("s", 95);
    let ip = format!("[{}]::[{}]:64::{}:none", l.v6("5"), l.v6("1"), l.c_if);
    let mut nc = l.daemon(&["--ip", &ip]);
    l.wait(10, "no static address", |l| {
        l.addrs().contains(&format!("inet6 {}/64", l.v6("5")))
    });
    l.wait(10, "no default route", |l| {
        l.routes()
            .contains(&format!("default via {} dev {}", l.v6("1"), l.c_if))
    });
    l.wait(10, "not ready", |l| {
        l.log("ready.log")
            .contains(&format!("online {} {}/64", l.c_if, l.v6("5")))
    });
    assert!(nc.terminate(Duration::from_secs(5)));
}
