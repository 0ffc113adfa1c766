//! A URL's host to addresses: an IP address as written, else a name from
//! /etc/hosts. (glibc's getaddrinfo would add about 200 KB to the static
//! box.)

use nodistro_common::hosts;
use std::io;
use std::net::{IpAddr, SocketAddr};

pub fn addresses(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let hosts = std::fs::read_to_string(hosts::PATH).unwrap_or_default();
    let found: Vec<SocketAddr> = hosts::lookup(&hosts, host)
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
