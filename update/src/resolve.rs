//! A URL's host to addresses: an IP address as written, else a name from
//! /etc/hosts. (glibc's getaddrinfo would add about 200 KB to the static
//! box.)

use std::io;
use std::net::{IpAddr, SocketAddr};

pub fn addresses(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let found: Vec<SocketAddr> = lookup(&hosts, host)
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    if found.is_empty() {
        return Err(io::Error::other(format!(
            "{host:?} is not an IP address and not in /etc/hosts (give update.url an address)"
        )));
    }
    Ok(found)
}

/// The addresses /etc/hosts text gives `name` (case-insensitive).
pub fn lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let ip = w.next()?.parse::<IpAddr>().ok()?;
            w.any(|n| n.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts_lookup() {
        let h = "127.0.0.1 localhost\n10.0.2.2 releases Rel.example # host\n# 1.2.3.4 releases\nbad line\n";
        assert_eq!(
            super::lookup(h, "rel.EXAMPLE"),
            vec!["10.0.2.2".parse::<std::net::IpAddr>().expect("ip")]
        );
        assert!(super::lookup(h, "nothere").is_empty());
    }
}
