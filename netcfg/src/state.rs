//! What netcfg publishes for the debug console's `net` (sans-IO text, one
//! atomic write): `/run/netcfg/IFACE.state`, `key=value` lines with the DHCP
//! state, the lease and when it was bound (ms since boot). And the renew
//! request: `dhcp renew IFACE` writes IFACE to `/run/netcfg/renew` and sends
//! SIGUSR1 (without the file, SIGUSR1 renews every interface).

use crate::core::lease::Lease;
use nodistro_common::timeline::log;
use std::io;
use std::net::Ipv4Addr;
use std::path::Path;

/// The state file's text.
pub fn render(iface: &str, state: &str, l: Option<&Lease>, now_ms: u64) -> String {
    let mut s = format!("iface={iface}\nstate={state}\n");
    if let Some(l) = l {
        s += &format!("addr={}/{}\n", l.addr, l.prefix);
        if !l.server.is_unspecified() {
            s += &format!("server={}\n", l.server);
        }
        if let Some(r) = l.router() {
            s += &format!("router={r}\n");
        }
        let dns: Vec<String> = l.dns.iter().map(|d| d.to_string()).collect();
        if !dns.is_empty() {
            s += &format!("dns={}\n", dns.join(","));
        }
        s += &format!(
            "lease_s={}\nt1_s={}\nt2_s={}\nbound_at_ms={now_ms}\n",
            l.lease_secs,
            l.t1_ms / 1000,
            l.t2_ms / 1000
        );
    }
    s
}

/// Write `dir/IFACE.state` (errors ignored: the console only reads it).
pub fn publish(dir: &Path, iface: &str, state: &str, l: Option<&Lease>) {
    let text = render(iface, state, l, nodistro_common::timeline::since_boot_ms());
    let _ = std::fs::create_dir_all(dir);
    let _ = nodistro_common::atomic_file::write_atomic(
        &nodistro_common::protocol::netcfg::state_file(dir, iface),
        text.as_bytes(),
    );
}

/// The interface named in `dir/renew` (the file is removed).
pub fn take_renew_request(dir: &Path) -> Option<String> {
    let p = nodistro_common::protocol::netcfg::renew_file(dir);
    let text = std::fs::read_to_string(&p).ok()?;
    let _ = std::fs::remove_file(&p);
    let name = text.trim();
    (!name.is_empty() && name.len() <= 15).then(|| name.to_string())
}

/// Write (or with None remove) the remembered address; failures are only
/// logged: INIT-REBOOT is an optimisation.
pub(crate) fn remember(path: &std::path::Path, addr: Option<Ipv4Addr>) {
    let r = match addr {
        Some(a) => path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                nodistro_common::atomic_file::write_atomic(path, format!("{a}\n").as_bytes())
            }),
        None => std::fs::remove_file(path).or_else(|e| match e.kind() {
            io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }),
    };
    if let Err(e) = r {
        log("netcfg", &format!("cannot update {}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn state_text() {
        assert_eq!(
            render("eth0", "selecting", None, 5),
            "iface=eth0\nstate=selecting\n"
        );
        let l = Lease {
            addr: Ipv4Addr::new(10, 0, 2, 15),
            prefix: 24,
            broadcast: Ipv4Addr::new(10, 0, 2, 255),
            server: Ipv4Addr::new(10, 0, 2, 2),
            routes: vec![],
            dns: vec![Ipv4Addr::new(10, 0, 2, 3)],
            domain: None,
            search: vec![],
            hostname: None,
            mtu: None,
            ntp: vec![],
            lease_secs: 86400,
            t1_ms: 43_200_000,
            t2_ms: 75_600_000,
        };
        let t = render("eth0", "bound", Some(&l), 1234);
        assert_eq!(
            t,
            "iface=eth0\nstate=bound\naddr=10.0.2.15/24\nserver=10.0.2.2\ndns=10.0.2.3\n\
             lease_s=86400\nt1_s=43200\nt2_s=75600\nbound_at_ms=1234\n"
        );
    }
}
