//! Static configuration (`ip=` with an address): the link up, the lease
//! applied, the readiness line.

use crate::apply::Target;
use crate::core::lease::Lease;
use crate::error::RunError;
use crate::link::{link_up, netlink, Iface};
use crate::shared::{online, Options, Shared};
use nodistro_common::timeline::log;
use std::time::Instant;

/// Static configuration (`ip=` with an address).
pub fn static_config(
    name: &str,
    lease: &Lease,
    o: &Options,
    shared: &Shared,
) -> Result<(), RunError> {
    let t0 = Instant::now();
    let iface = Iface::find(name)?;
    let mut nl = netlink(name)?;
    link_up(&mut nl, &iface, t0 + o.timeout)?;
    let target = Target {
        iface: name,
        index: iface.index,
        resolv_conf: &o.resolv_conf,
        take_hostname: o.take_hostname,
        resolv: &shared.resolv,
        ntp: &shared.ntp,
    };
    for n in target.apply(&mut nl, None, lease)? {
        log("netcfg", &format!("{name}: {n}"));
    }
    online(shared, o, name, lease, t0.elapsed());
    Ok(())
}
