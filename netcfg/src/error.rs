//! Why configuring an interface failed.

use crate::apply::ApplyError;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("interface {0} not found (is its driver loaded? see /sys/class/net)")]
    NoIface(String, #[source] io::Error),
    #[error("cannot open a {what} socket for {iface}")]
    Socket {
        what: &'static str,
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot bring {0} up")]
    LinkUp(String, #[source] io::Error),
    #[error("no DHCP lease on {0} within {1} s (is a DHCP server on that link?)")]
    Timeout(String, u64),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}
