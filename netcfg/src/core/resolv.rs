//! The merge of every source's name servers into one resolv.conf
//! (sans-IO): each interface's DHCPv4 lease or `ip=`, its router
//! advertisements and its DHCPv6 replies publish servers and search
//! domains; the text is their merge in a stable order (interface name,
//! then source: IPv4, DHCPv6, RA), duplicates dropped, cut to what
//! resolvers read (3 servers, 6 search domains), and is due for writing
//! only when it changed. `crate::resolv` writes it.

use std::net::IpAddr;

/// glibc's MAXNS: later `nameserver` lines are ignored by the resolver.
pub const MAX_SERVERS: usize = 3;
/// glibc's MAXDNSRCH.
pub const MAX_DOMAINS: usize = 6;

/// Where a set of servers came from; the order here is the merge order
/// within one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A DHCPv4 lease or static `ip=`.
    V4,
    Dhcp6,
    Ra,
}

/// Servers and search domains of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub servers: Vec<IpAddr>,
    pub domains: Vec<String>,
}

/// The merged file and what did not fit in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    pub servers: Vec<IpAddr>,
    pub domains: Vec<String>,
    pub left_out: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Registry {
    /// Sorted by (interface, source): the merge order. A Vec, not a map:
    /// a handful of entries, and every byte of code is paid in the box.
    entries: Vec<((String, Source), Entry)>,
    /// The text last written (None: never written).
    written: Option<String>,
    /// What was last reported as left out, so it is said once.
    noted: Vec<String>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set (or with an empty entry, remove) what `iface`'s `source` says.
    pub fn set(&mut self, iface: &str, source: Source, entry: Entry) {
        let key = (iface.to_string(), source);
        match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) if entry == Entry::default() => {
                self.entries.remove(i);
            }
            Ok(i) => self.entries[i].1 = entry,
            Err(_) if entry == Entry::default() => {}
            Err(i) => self.entries.insert(i, (key, entry)),
        }
    }

    /// The merge of every entry.
    pub fn merged(&self) -> Merged {
        let mut servers: Vec<IpAddr> = Vec::new();
        let mut domains: Vec<String> = Vec::new();
        for (_, e) in &self.entries {
            for s in &e.servers {
                if !servers.contains(s) {
                    servers.push(*s);
                }
            }
            for d in &e.domains {
                if !domains.iter().any(|x| x.eq_ignore_ascii_case(d)) {
                    domains.push(d.clone());
                }
            }
        }
        let mut left_out: Vec<String> = Vec::new();
        if servers.len() > MAX_SERVERS {
            left_out.extend(servers.split_off(MAX_SERVERS).iter().map(|s| s.to_string()));
        }
        if domains.len() > MAX_DOMAINS {
            left_out.extend(domains.split_off(MAX_DOMAINS));
        }
        let mut text = String::from("# written by nodistro netcfg\n");
        if !domains.is_empty() {
            text += &format!("search {}\n", domains.join(" "));
        }
        for s in &servers {
            text += &format!("nameserver {s}\n");
        }
        Merged {
            text,
            servers,
            domains,
            left_out,
        }
    }

    /// What to write now (None: unchanged, or nothing ever had servers)
    /// and a console note when the left-out list changed. Marks the text
    /// as written: call [`Registry::write_failed`] if writing fails.
    pub fn pending(&mut self) -> (Option<Merged>, Option<String>) {
        let m = self.merged();
        let note = (m.left_out != self.noted).then(|| {
            self.noted = m.left_out.clone();
            if m.left_out.is_empty() {
                "resolv.conf: every server and domain fits again".to_string()
            } else {
                format!(
                    "resolv.conf holds {MAX_SERVERS} servers and {MAX_DOMAINS} search domains; left out: {}",
                    m.left_out.join(" ")
                )
            }
        });
        // Nothing to say before any source had a server: leave the file.
        if self.written.is_none() && m.servers.is_empty() && m.domains.is_empty() {
            return (None, note);
        }
        if self.written.as_deref() == Some(m.text.as_str()) {
            return (None, note);
        }
        self.written = Some(m.text.clone());
        (Some(m), note)
    }

    /// Forget the last write so the next change tries again.
    pub fn write_failed(&mut self) {
        self.written = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(servers: &[&str], domains: &[&str]) -> Entry {
        Entry {
            servers: servers.iter().map(|s| s.parse().expect("addr")).collect(),
            domains: domains.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn merged_in_stable_order_without_duplicates() {
        let mut r = Registry::new();
        // Insertion order must not matter: interface, then source.
        r.set("eth1", Source::V4, e(&["10.1.0.1"], &["b.test"]));
        r.set("eth0", Source::Ra, e(&["fd00::1"], &["a.test", "B.test"]));
        r.set("eth0", Source::V4, e(&["10.0.0.1", "fd00::1"], &["a.test"]));
        let m = r.merged();
        assert_eq!(
            m.text,
            "# written by nodistro netcfg\nsearch a.test B.test\n\
             nameserver 10.0.0.1\nnameserver fd00::1\nnameserver 10.1.0.1\n"
        );
        assert!(m.left_out.is_empty());
    }

    #[test]
    fn written_once_per_change_and_limits_noted_once() {
        let mut r = Registry::new();
        assert_eq!(r.pending(), (None, None), "nothing yet: file left alone");
        r.set("eth0", Source::V4, e(&["10.0.0.1"], &[]));
        assert!(r.pending().0.is_some());
        r.set("eth0", Source::V4, e(&["10.0.0.1"], &[]));
        assert_eq!(r.pending(), (None, None), "same text: no rewrite");
        let many: Vec<String> = (1..=5).map(|i| format!("fd00::{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let doms = ["a", "b", "c", "d", "e", "f", "g"];
        r.set("eth0", Source::Ra, e(&many, &doms));
        let (m, note) = r.pending();
        let m = m.expect("changed");
        assert_eq!(m.servers.len(), MAX_SERVERS);
        assert_eq!(m.domains.len(), MAX_DOMAINS);
        assert_eq!(m.left_out, ["fd00::3", "fd00::4", "fd00::5", "g"]);
        assert!(note.expect("noted").contains("left out: fd00::3"));
        // Same overflow again (a duplicate server): not noted again.
        r.set("eth0", Source::Dhcp6, e(&["10.0.0.1"], &[]));
        assert_eq!(r.pending().1, None);
        // Everything withdrawn: the file is rewritten without servers.
        for s in [Source::V4, Source::Ra, Source::Dhcp6] {
            r.set("eth0", s, Entry::default());
        }
        let (m, note) = r.pending();
        assert_eq!(m.expect("rewritten").text, "# written by nodistro netcfg\n");
        assert!(note.is_some());
    }
}
