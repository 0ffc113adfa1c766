//! DHCPv6 (RFC 8415): [`msg`] the codec, [`client`] the state machine.
//! Both sans-IO; the IO shell is crate::v6.

pub mod client;
pub mod msg;
