//! A small DHCP server for the option-overload test: answers one DISCOVER
//! with an OFFER and one REQUEST with an ACK whose options sit in the file
//! and sname fields (option 52 = 3), as an old or space-starved server
//! sends them. Broadcasts replies to the subnet; writes the ACK it sent to
//! OUT, then exits.
//!
//!   dhcp-overload-responder SERVER_IP OFFERED_IP OUT

use std::net::{Ipv4Addr, UdpSocket};

fn opt(v: &mut Vec<u8>, code: u8, data: &[u8]) {
    v.push(code);
    v.push(data.len() as u8);
    v.extend_from_slice(data);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, offered, out] = &args[..] else {
        eprintln!("usage: dhcp-overload-responder SERVER_IP OFFERED_IP OUT");
        std::process::exit(2);
    };
    let server: Ipv4Addr = server.parse().expect("server address");
    let offered: Ipv4Addr = offered.parse().expect("offered address");
    let o = server.octets();
    let (router, dns, ntp) = (
        server,
        Ipv4Addr::new(o[0], o[1], o[2], 53),
        Ipv4Addr::new(o[0], o[1], o[2], 123),
    );
    let bcast = Ipv4Addr::new(o[0], o[1], o[2], 255);
    let sock = UdpSocket::bind("0.0.0.0:67").expect("bind port 67");
    sock.set_broadcast(true).expect("SO_BROADCAST");
    let mut buf = [0u8; 1500];
    loop {
        let (n, _) = sock.recv_from(&mut buf).expect("receive");
        let m = &buf[..n];
        if n < 244 || m[0] != 1 || m[236..240] != [99, 130, 83, 99] {
            continue;
        }
        // Message type (option 53) from the options field.
        let mut i = 240;
        let mut ty = 0;
        while i + 1 < n && m[i] != 255 {
            if m[i] == 0 {
                i += 1;
                continue;
            }
            if m[i] == 53 && i + 2 < n {
                ty = m[i + 2];
            }
            i += 2 + usize::from(m[i + 1]);
        }
        let reply_ty = match ty {
            1 => 2, // DISCOVER -> OFFER
            3 => 5, // REQUEST -> ACK
            _ => continue,
        };
        let mut r = vec![0u8; 240];
        r[..4].copy_from_slice(&[2, 1, 6, 0]);
        r[4..8].copy_from_slice(&m[4..8]); // xid
        r[10..12].copy_from_slice(&m[10..12]); // flags
        r[16..20].copy_from_slice(&offered.octets()); // yiaddr
        r[28..44].copy_from_slice(&m[28..44]); // chaddr
        r[236..240].copy_from_slice(&[99, 130, 83, 99]);
        // sname (44..108): DNS and NTP servers.
        let mut sname = Vec::new();
        opt(&mut sname, 6, &dns.octets());
        opt(&mut sname, 42, &ntp.octets());
        sname.push(255);
        r[44..44 + sname.len()].copy_from_slice(&sname);
        // file (108..236): netmask, router, lease time, domain.
        let mut file = Vec::new();
        opt(&mut file, 1, &[255, 255, 255, 0]);
        opt(&mut file, 3, &router.octets());
        opt(&mut file, 51, &600u32.to_be_bytes());
        opt(&mut file, 15, b"over.test");
        file.push(255);
        r[108..108 + file.len()].copy_from_slice(&file);
        // options field: type, server id, overload = both.
        opt(&mut r, 53, &[reply_ty]);
        opt(&mut r, 54, &server.octets());
        opt(&mut r, 52, &[3]);
        r.push(255);
        r.resize(300, 0);
        sock.send_to(&r, (bcast, 68)).expect("send");
        if reply_ty == 5 {
            std::fs::write(out, &r).expect("write the ACK");
            return;
        }
    }
}
