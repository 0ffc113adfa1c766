//! netcfg against a hostile DHCP server: a thread of this test, moved into
//! the server's network namespace, answers a DISCOVER with offers for
//! another xid and another MAC, a truncated packet and a zero lease time
//! before a real offer, and acknowledges with poisoned options (router
//! outside the subnet, a domain with a newline and a nameserver line, a host
//! name with shell characters, an MTU of 100, a 0.0.0.0 DNS server). netcfg
//! must take the address and nothing else, saying why on its console.

use nodistro_tests::netns::{self, Netns};
use nodistro_tests::{release_bin, TempDir};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const NET: u8 = 87;

/// A BOOTREPLY: fixed header, magic cookie, options, End unless `truncate`.
fn reply(xid: &[u8], chaddr: &[u8], opts: &[(u8, Vec<u8>)], truncate: bool) -> Vec<u8> {
    let mut m = vec![0u8; 236];
    m[..3].copy_from_slice(&[2, 1, 6]);
    m[4..8].copy_from_slice(xid);
    m[16..20].copy_from_slice(&[10, NET, 0, 50]);
    m[28..28 + chaddr.len()].copy_from_slice(chaddr);
    m.extend_from_slice(&[99, 130, 83, 99]);
    for (code, data) in opts {
        m.push(*code);
        m.push(data.len() as u8);
        m.extend_from_slice(data);
    }
    if truncate {
        m.truncate(m.len() - 3);
    } else {
        m.push(255);
    }
    m
}

fn msg_type(p: &[u8]) -> Option<u8> {
    let mut i = 240;
    while i + 1 < p.len() {
        match p[i] {
            0 => i += 1,
            255 => return None,
            53 => return p.get(i + 2).copied(),
            _ => i += 2 + usize::from(p[i + 1]),
        }
    }
    None
}

fn serve(sock: &UdpSocket, stop: &AtomicBool) {
    let to = format!("10.{NET}.0.255:68");
    let base = |ty: u8, lease: u32| {
        vec![
            (53, vec![ty]),
            (54, vec![10, NET, 0, 1]),
            (51, lease.to_be_bytes().to_vec()),
            (1, vec![255, 255, 255, 0]),
        ]
    };
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let p = &buf[..n];
        if n < 240 {
            continue;
        }
        let (xid, chaddr) = (&p[4..8], &p[28..34]);
        let mut other_xid = xid.to_vec();
        other_xid[3] ^= 1;
        let mut other_mac = chaddr.to_vec();
        other_mac[5] ^= 1;
        let send = |m: Vec<u8>| {
            let _ = sock.send_to(&m, &to);
        };
        match msg_type(p) {
            Some(1) => {
                send(reply(&other_xid, chaddr, &base(2, 3600), false));
                send(reply(xid, &other_mac, &base(2, 3600), false));
                send(reply(xid, chaddr, &base(2, 3600), true));
                send(reply(xid, chaddr, &base(2, 0), false));
                send(reply(xid, chaddr, &base(2, 3600), false));
            }
            Some(3) => {
                let mut o = base(5, 3600);
                o.push((3, vec![192, 168, 77, 1]));
                o.push((6, vec![0, 0, 0, 0, 10, NET, 0, 1]));
                o.push((15, b"evil.example\nnameserver 6.6.6.6".to_vec()));
                o.push((12, b"x;reboot".to_vec()));
                o.push((26, 100u16.to_be_bytes().to_vec()));
                send(reply(xid, chaddr, &o, false));
            }
            _ => {}
        }
    }
}

/// Run `serve` on UDP port 67 in `server`'s namespace, in a thread; set
/// the flag to stop it and join the handle.
fn start_server(
    server: &Netns,
    serve: fn(&UdpSocket, &AtomicBool),
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let ns_path = format!("/var/run/netns/{}", server.name);
    let stop2 = stop.clone();
    let srv = std::thread::spawn(move || {
        let ns = std::fs::File::open(&ns_path).expect("namespace file");
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns into the server namespace");
        let sock = UdpSocket::bind("0.0.0.0:67").expect("bind port 67 in the namespace");
        sock.set_broadcast(true).expect("SO_BROADCAST");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let _ = ready_tx.send(());
        serve(&sock, &stop2);
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("hostile server ready");
    (stop, srv)
}

#[test]
fn hostile_server_gets_only_the_address_through() {
    let server = Netns::new("hs");
    let client = Netns::new("hc");
    let (s_if, c_if) = netns::veth(&server, "ha", &client, "hb");
    server.ip(&["addr", "add", &format!("10.{NET}.0.1/24"), "dev", &s_if]);
    let (stop, srv) = start_server(&server, serve);
    let dir = TempDir::new("netcfg-hostile");
    let resolv = dir.path().join("resolv.conf");
    let out = client
        .command(release_bin("netcfg"))
        .args(["--oneshot", "--timeout", "20", "--resolv-conf"])
        .arg(&resolv)
        .arg(&c_if)
        .output()
        .expect("netcfg runs");
    stop.store(true, Ordering::Relaxed);
    let _ = srv.join();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "netcfg failed: {log}");
    let addrs = client.ip(&["-4", "addr", "show", "dev", &c_if]);
    assert!(addrs.contains(&format!("inet 10.{NET}.0.50/24")), "{addrs}");
    let routes = client.ip(&["-4", "route"]);
    assert!(
        !routes.contains("default"),
        "router outside the subnet used: {routes}"
    );
    let link = client.ip(&["link", "show", "dev", &c_if]);
    assert!(link.contains("mtu 1500"), "{link}");
    let text = std::fs::read_to_string(&resolv).expect("resolv.conf");
    assert_eq!(
        text,
        format!("# written by nodistro netcfg\nnameserver 10.{NET}.0.1\n")
    );
    for said in [
        "another transaction",
        "another MAC",
        "malformed DHCP message",
        "lease time is 0",
        "outside 10.87.0.50/24; no default route",
        "DomainName \"evil.example\\nnameserver 6.6.6.6\" is not a valid DNS name",
        "Hostname \"x;reboot\" is not a valid DNS name",
        "MTU 100 below 576",
        "DNS server 0.0.0.0 dropped",
    ] {
        assert!(log.contains(said), "no {said:?} in netcfg's log:\n{log}");
    }
}

/// Offers the address, then NAKs every REQUEST; counts the REQUESTs.
static NAK_REQUESTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn serve_nak_all(sock: &UdpSocket, stop: &AtomicBool) {
    let to = format!("10.{NET}.0.255:68");
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let p = &buf[..n];
        if n < 240 {
            continue;
        }
        let (xid, chaddr) = (&p[4..8], &p[28..34]);
        let ty = match msg_type(p) {
            Some(1) => 2,
            Some(3) => {
                NAK_REQUESTS.fetch_add(1, Ordering::Relaxed);
                6
            }
            _ => continue,
        };
        let opts = vec![
            (53, vec![ty]),
            (54, vec![10, NET, 0, 1]),
            (51, 3600u32.to_be_bytes().to_vec()),
            (1, vec![255, 255, 255, 0]),
        ];
        let _ = sock.send_to(&reply(xid, chaddr, &opts, false), &to);
    }
}

/// Issue 26, hostile peers: a server that NAKs every REQUEST. netcfg asks
/// again with a growing pause (not as fast as the server answers) and
/// says so on a few lines, not one per NAK.
#[test]
fn server_that_naks_everything_is_asked_at_a_bounded_rate() {
    let server = Netns::new("ns");
    let client = Netns::new("nc");
    let (s_if, c_if) = netns::veth(&server, "na", &client, "nb");
    server.ip(&["addr", "add", &format!("10.{NET}.0.1/24"), "dev", &s_if]);
    let (stop, srv) = start_server(&server, serve_nak_all);
    let dir = TempDir::new("netcfg-nak-all");
    let resolv = dir.path().join("resolv.conf");
    let out = client
        .command(release_bin("netcfg"))
        .args([
            "--oneshot",
            "--timeout",
            "30",
            "--arp-probe",
            "0",
            "--resolv-conf",
        ])
        .arg(&resolv)
        .arg(&c_if)
        .output()
        .expect("netcfg runs");
    stop.store(true, Ordering::Relaxed);
    let _ = srv.join();
    let log = String::from_utf8_lossy(&out.stderr);
    let requests = NAK_REQUESTS.load(Ordering::Relaxed);
    let nak_lines = log.lines().filter(|l| l.contains("DHCPNAK")).count();
    eprintln!("NAK-everything server, 30 s: {requests} REQUESTs, {nak_lines} NAK lines");
    assert!(
        !out.status.success(),
        "no lease from a NAK-only server: {log}"
    );
    assert!(requests >= 3, "netcfg keeps asking: {requests}\n{log}");
    // Pauses of 1, 2, 4, 8, 16 s after the first NAK: about 6 in 30 s.
    assert!(requests <= 10, "{requests} REQUESTs in 30 s\n{log}");
    assert!(nak_lines <= 6, "{nak_lines} NAK lines:\n{log}");
    let addrs = client.ip(&["-4", "addr", "show", "dev", &c_if]);
    assert!(!addrs.contains(&format!("10.{NET}.0.")), "{addrs}");
}
