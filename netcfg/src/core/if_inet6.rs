//! The kernel's IPv6 addresses of an interface, from /proc/net/if_inet6
//! text. Sans-IO.

use std::net::Ipv6Addr;

/// Global addresses of `name` in /proc/net/if_inet6 text
/// (`<32 hex> <ifindex> <prefix> <scope> <flags> <name>`): (address,
/// prefix, tentative or DAD failed).
pub fn globals(text: &str, name: &str) -> Vec<(Ipv6Addr, u8, bool)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (hex, prefix, scope, flags, dev) =
                (f.first()?, f.get(2)?, f.get(3)?, f.get(4)?, f.get(5)?);
            if *dev != name || *scope != "00" || hex.len() != 32 {
                return None;
            }
            let a = u128::from_str_radix(hex, 16).ok()?;
            let p = u8::from_str_radix(prefix, 16).ok()?;
            let fl = u32::from_str_radix(flags, 16).ok()?;
            Some((Ipv6Addr::from(a), p, fl & 0x48 != 0))
        })
        .collect()
}

/// Global IPv6 addresses of interface `name` in /proc/net/if_inet6 text
/// (`<32 hex> <ifindex> <prefix> <scope> <flags> <name>`), as `addr/prefix`.
pub fn ipv6_globals(text: &str, name: &str) -> Vec<String> {
    globals(text, name)
        .into_iter()
        .map(|(a, p, _)| format!("{a}/{p}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_globals_as_addr_slash_prefix() {
        // Which lines count is globals' test (in v6.rs).
        let text = "20010db8000000001cb476fffe193ee2 05 40 00 00 eth0\n";
        assert_eq!(
            ipv6_globals(text, "eth0"),
            vec!["2001:db8::1cb4:76ff:fe19:3ee2/64".to_string()]
        );
    }

    #[test]
    fn global_addresses_with_tentative_flag() {
        let text = "fe800000000000001cb476fffe193ee2 05 40 20 80 eth0\n\
                    20010db8000000001cb476fffe193ee2 05 40 00 00 eth0\n\
                    20010db8000000000000000000000042 05 80 00 40 eth0\n\
                    20010db8000000000000000000000001 06 40 00 00 eth1\n\
                    garbage\n";
        let g = globals(text, "eth0");
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0],
            (
                "2001:db8::1cb4:76ff:fe19:3ee2".parse().expect("a"),
                64,
                false
            )
        );
        assert!(g[1].2, "tentative");
    }
}
