//! netcfg's sans-IO core: the protocols' codecs and state machines, fed
//! bytes and time (no system call, no clock; source_invariants checks this
//! directory). DHCPv4 (`dhcp` the state machine, `msg` the codec, `frame`
//! Ethernet/IPv4/UDP, `lease` a reply made safe, `arp` RFC 5227 probing),
//! `ip=` (`ipconf`, `ipconf6`), `linkwait` the rule of waiting for an
//! interface, IPv6 (`ra` and `ra_state` router
//! advertisements, `solicit` the solicitation schedule, `dhcp6`, `rtnl6`
//! the address messages, `if_inet6` the kernel's address list, `v6_loop`
//! the IPv6 loop's decisions), `sntp` the SNTP packet codec and reply
//! checks, `sntp_poll` the SNTP client's schedule, `resolv` the merged resolv.conf, `ready` when to say `online`, `wire` the shared byte helpers.

pub mod arp;
pub mod dhcp;
pub mod dhcp6;
pub mod frame;
pub mod if_inet6;
pub mod ipconf;
pub mod ipconf6;
pub mod lease;
pub mod linkwait;
pub mod msg;
pub mod ra;
pub mod ra_state;
pub mod ready;
pub mod resolv;
pub mod rtnl6;
pub mod sntp;
pub mod sntp_poll;
pub mod solicit;
pub mod v6_loop;
pub(crate) mod wire;
