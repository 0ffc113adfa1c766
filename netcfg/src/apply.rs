//! Applying a lease to the system: address, routes and MTU over rtnetlink
//! (as a difference from what was applied before, never a flush),
//! resolv.conf written atomically, the host name when asked to.

use crate::core::lease::Lease;
use crate::resolv::{self, Resolv, Source};
use crate::rtnl::{self, Netlink};
use crate::sntp::learned::Learned;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot {what} on {iface} over rtnetlink")]
    Netlink {
        what: String,
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {0} (check that its directory exists and is writable)")]
    Resolv(PathBuf, #[source] io::Error),
}

/// Where and how to apply.
pub struct Target<'a> {
    pub iface: &'a str,
    pub index: u32,
    pub resolv_conf: &'a Path,
    pub take_hostname: bool,
    /// The run's resolv.conf registry and learned NTP servers.
    pub resolv: &'a Resolv,
    pub ntp: &'a Learned,
}

impl Target<'_> {
    fn nl(&self, nl: &mut Netlink, what: String, ty: u16, body: &[u8]) -> Result<(), ApplyError> {
        nl.request(ty, body).map_err(|source| ApplyError::Netlink {
            what,
            iface: self.iface.to_string(),
            source,
        })
    }

    /// Apply `new`, given that `old` is what is configured now.
    pub fn apply(
        &self,
        nl: &mut Netlink,
        old: Option<&Lease>,
        new: &Lease,
    ) -> Result<Vec<String>, ApplyError> {
        let mut notes = Vec::new();
        if new.mtu.is_some() && new.mtu != old.and_then(|o| o.mtu) {
            let mtu = new.mtu.map(u32::from);
            self.nl(
                nl,
                format!("set MTU {mtu:?}"),
                rtnl::RTM_NEWLINK,
                &rtnl::link_body(self.index, mtu),
            )?;
        }
        // REPLACE refreshes the lifetimes of an address already there.
        self.nl(
            nl,
            format!("add address {}/{}", new.addr, new.prefix),
            rtnl::RTM_NEWADDR,
            &rtnl::addr_body(
                self.index,
                new.addr,
                new.prefix,
                Some(new.broadcast),
                Some(new.lease_secs),
            ),
        )?;
        let same_addr = old.is_some_and(|o| (o.addr, o.prefix) == (new.addr, new.prefix));
        if let Some(o) = old.filter(|_| !same_addr) {
            self.remove(nl, o);
        }
        if let Some(o) = old.filter(|_| same_addr) {
            for r in o.routes.iter().filter(|r| !new.routes.contains(r)) {
                let _ = nl.request(rtnl::RTM_DELROUTE, &rtnl::route_body(self.index, r, None));
            }
        }
        // Every route again with REPLACE (idempotent): a link that went
        // down and up lost its routes while the address stayed.
        for r in &new.routes {
            let body = rtnl::route_body(self.index, r, Some(new.addr));
            let what = format!("add route {}/{} via {:?}", r.dest, r.prefix, r.gateway);
            self.nl(nl, what, rtnl::RTM_NEWROUTE, &body)?;
        }
        self.ntp.publish(
            self.iface,
            false,
            new.ntp.iter().map(|&a| a.into()).collect(),
        );
        self.resolv
            .publish(self.resolv_conf, self.iface, Source::V4, resolv_entry(new))
            .map_err(|e| ApplyError::Resolv(self.resolv_conf.to_path_buf(), e))?;
        if let (true, Some(h)) = (self.take_hostname, &new.hostname) {
            match rustix::system::sethostname(h.as_bytes()) {
                Ok(()) => {
                    notes.push(format!("hostname set to {h}"));
                    // Keep an image's /etc/hosts naming this machine.
                    if let Err(e) =
                        nodistro_common::hosts::sync(nodistro_common::hosts::PATH, h, true)
                    {
                        notes.push(format!(
                            "cannot update {}: {e}",
                            nodistro_common::hosts::PATH
                        ));
                    }
                }
                Err(e) => notes.push(format!("cannot set hostname {h}: {e}")),
            }
        }
        Ok(notes)
    }

    /// Remove a lease's routes and address (errors are ignored: the kernel
    /// may have removed them already, e.g. with the address's lifetime).
    pub fn remove(&self, nl: &mut Netlink, l: &Lease) {
        for r in &l.routes {
            let _ = nl.request(rtnl::RTM_DELROUTE, &rtnl::route_body(self.index, r, None));
        }
        let _ = nl.request(
            rtnl::RTM_DELADDR,
            &rtnl::addr_body(self.index, l.addr, l.prefix, None, None),
        );
        // The lease is gone (expired, refused, released): its DNS servers
        // leave the machine's resolv.conf with it.
        self.resolv
            .withdraw(self.resolv_conf, self.iface, Source::V4);
    }
}

/// A lease's servers and domains (option 15 first, then option 119).
fn resolv_entry(l: &Lease) -> resolv::Entry {
    resolv::Entry {
        servers: l.dns.iter().map(|&a| a.into()).collect(),
        domains: l.domain.iter().chain(&l.search).cloned().collect(),
    }
}
