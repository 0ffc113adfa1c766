//! NTP servers learned from DHCP (option 42, DHCPv6 option 56), per
//! interface and family: the interface threads publish, the SNTP thread
//! reads. One per run, in [`crate::shared::Shared`].

use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub struct Learned(Mutex<Vec<(String, bool, Vec<IpAddr>)>>);

impl Learned {
    fn lock(&self) -> MutexGuard<'_, Vec<(String, bool, Vec<IpAddr>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `iface`'s DHCPv4 (`v6` false) or DHCPv6 servers are now `servers`.
    pub fn publish(&self, iface: &str, v6: bool, servers: Vec<IpAddr>) {
        let mut l = self.lock();
        l.retain(|(i, f, _)| !(i == iface && *f == v6));
        if !servers.is_empty() {
            l.push((iface.to_string(), v6, servers));
            l.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        }
    }

    /// Every learned server, port 123, in (interface, family) order.
    pub fn servers(&self) -> Vec<SocketAddr> {
        self.lock()
            .iter()
            .flat_map(|(_, _, s)| s.iter().map(|a| SocketAddr::new(*a, 123)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_interface_and_family_in_stable_order() {
        let l = Learned::default();
        let a = |s: &str| s.parse::<IpAddr>().expect("addr");
        l.publish("eth1", false, vec![a("10.1.0.1")]);
        l.publish("eth0", true, vec![a("fd00::1")]);
        l.publish("eth0", false, vec![a("10.0.0.1")]);
        let s: Vec<String> = l.servers().iter().map(|s| s.to_string()).collect();
        assert_eq!(s, ["10.0.0.1:123", "[fd00::1]:123", "10.1.0.1:123"]);
        l.publish("eth0", true, Vec::new());
        assert_eq!(l.servers().len(), 2, "withdrawn");
        // Two runs do not share what they learned.
        assert!(Learned::default().servers().is_empty());
    }
}
