//! netcfg's DHCPv4 hardening against real peers: RFC 5227 address
//! conflict detection with a second host on the link that already holds
//! the address dnsmasq offers.

use nodistro_tests::netns::{self, Guard, Netns};
use nodistro_tests::{release_bin, run_ok, TempDir};
use std::process::Stdio;
use std::time::Duration;

fn wait(secs: u64, what: &str, cond: impl Fn() -> bool, logs: impl Fn() -> String) {
    let held =
        nodistro_tests::poll_until(Duration::from_secs(secs), Duration::from_millis(100), cond);
    assert!(held, "{what} within {secs} s:\n{}", logs());
}

#[test]
fn declines_an_address_another_host_holds_and_binds_another() {
    let server = Netns::new("ks");
    let client = Netns::new("kc");
    let squatter = Netns::new("kq");
    // A bridge in the server's namespace joins the client and the squatter.
    let (s_if, c_if) = netns::veth(&server, "ka", &client, "kb");
    let (s2_if, q_if) = netns::veth(&server, "kd", &squatter, "ke");
    let br = netns::unique("kbr");
    server.ip(&["link", "add", &br, "type", "bridge"]);
    for i in [&s_if, &s2_if] {
        server.ip(&["link", "set", i, "master", &br]);
    }
    server.ip(&["link", "set", &br, "up"]);
    server.ip(&["addr", "add", "10.96.0.1/24", "dev", &br]);
    let dir = TempDir::new("netcfg-decline");
    // dnsmasq's own ping is what keeps it from offering the declined
    // address again.
    let _srv = netns::dnsmasq_pinging(
        &server,
        &br,
        dir.path(),
        &["--dhcp-range=10.96.0.50,10.96.0.60,2m"],
    );
    let dnsmasq_log =
        || std::fs::read_to_string(dir.path().join("dnsmasq.log")).unwrap_or_default();
    let resolv = dir.path().join("resolv.conf");
    let netcfg = |args: &[&str]| {
        let mut c = client.command(release_bin("netcfg"));
        c.arg("--resolv-conf").arg(&resolv).args(args).arg(&c_if);
        c
    };
    // First, which address does dnsmasq give this client? (No probing.)
    let out = run_ok(&mut netcfg(&[
        "--oneshot",
        "--arp-probe",
        "0",
        "--timeout",
        "20",
    ]));
    let first = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.split('/').next().map(String::from))
        .expect("an address on stdout");
    client.ip(&["addr", "flush", "dev", &c_if]);
    // Now another host holds it. dnsmasq still has the lease for our
    // client and offers it again at once (no ping for a known client).
    squatter.ip(&["addr", "add", &format!("{first}/24"), "dev", &q_if]);
    let log_file = dir.path().join("netcfg.log");
    let _nc = Guard(
        netcfg(&[
            "--timeout",
            "5",
            "--lease-dir",
            &dir.path().display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_file).expect("log"))
        .spawn()
        .expect("netcfg starts"),
    );
    let netcfg_log = || std::fs::read_to_string(&log_file).unwrap_or_default();
    let addrs = || client.ip(&["-4", "addr", "show", "dev", &c_if]);
    wait(
        40,
        "no other address bound",
        || {
            let a = addrs();
            a.contains("inet 10.96.0.") && !a.contains(&format!("inet {first}/"))
        },
        || format!("{}\n{}\n{}", addrs(), netcfg_log(), dnsmasq_log()),
    );
    let log = netcfg_log();
    assert!(log.contains(&format!("{first} is in use by")), "{log}");
    assert!(
        dnsmasq_log().contains(&format!("DHCPDECLINE({br}) {first}")),
        "{}",
        dnsmasq_log()
    );
    // The squatter's address was never configured here.
    assert!(!log.contains(&format!("{c_if} {first}/24")), "{log}");
}

/// Option overload (52): a small responder puts the options in the file
/// and sname fields; netcfg's lease line must say what dhcproto reads from
/// the same bytes.
#[test]
fn option_overload_is_decoded_like_dhcproto() {
    use dhcproto::v4::{DhcpOption, DhcpOptions, Message, OptionCode};
    use dhcproto::{Decodable, Decoder};
    let server = Netns::new("os");
    let client = Netns::new("oc");
    let (s_if, c_if) = netns::veth(&server, "oa", &client, "ob");
    server.ip(&["addr", "add", "10.97.0.1/24", "dev", &s_if]);
    let dir = TempDir::new("netcfg-overload");
    let ack = dir.path().join("ack.bin");
    let mut responder = Guard(
        server
            .command(release_bin("dhcp-overload-responder"))
            .args(["10.97.0.1", "10.97.0.77"])
            .arg(&ack)
            .stdin(Stdio::null())
            .spawn()
            .expect("responder starts"),
    );
    let resolv = dir.path().join("resolv.conf");
    let out = client
        .command(release_bin("netcfg"))
        .arg("--resolv-conf")
        .arg(&resolv)
        .args(["--oneshot", "--timeout", "20", "--arp-probe", "0"])
        .arg(&c_if)
        .output()
        .expect("netcfg runs");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success(),
        "{line}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = responder.0.wait();
    // dhcproto: the header, then the file and sname fields as options.
    let bytes = std::fs::read(&ack).expect("the ACK the responder sent");
    let m = Message::decode(&mut Decoder::new(&bytes)).expect("dhcproto decodes the ACK");
    assert_eq!(
        m.opts().get(OptionCode::OptionOverload),
        Some(&DhcpOption::OptionOverload(3))
    );
    let file = DhcpOptions::decode(&mut Decoder::new(&bytes[108..236])).expect("file options");
    let sname = DhcpOptions::decode(&mut Decoder::new(&bytes[44..108])).expect("sname options");
    let ip = |o: Option<&DhcpOption>| match o {
        Some(
            DhcpOption::Router(v) | DhcpOption::DomainNameServer(v) | DhcpOption::NtpServers(v),
        ) => v[0].to_string(),
        other => panic!("unexpected {other:?}"),
    };
    let Some(DhcpOption::SubnetMask(mask)) = file.get(OptionCode::SubnetMask) else {
        panic!("no netmask in file")
    };
    let Some(DhcpOption::AddressLeaseTime(lease)) = file.get(OptionCode::AddressLeaseTime) else {
        panic!("no lease time in file")
    };
    let Some(DhcpOption::DomainName(domain)) = file.get(OptionCode::DomainName) else {
        panic!("no domain in file")
    };
    let want = format!(
        "{c_if} {}/{} router {} dns {} domain {domain} ntp {} lease {lease}s",
        m.yiaddr(),
        u32::from(*mask).leading_ones(),
        ip(file.get(OptionCode::Router)),
        ip(sname.get(OptionCode::DomainNameServer)),
        ip(sname.get(OptionCode::NtpServers)),
    );
    assert_eq!(line, want);
    let r = std::fs::read_to_string(&resolv).expect("resolv.conf");
    assert!(
        r.contains("nameserver 10.97.0.53\n") && r.contains("search over.test\n"),
        "{r}"
    );
}
