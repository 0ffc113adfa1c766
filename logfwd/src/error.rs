//! Why logfwd could not start.

use rustix::io::Errno;
use std::io;
use std::path::PathBuf;

/// Why logfwd could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot set up signal handling")]
    Signals(#[source] io::Error),
    #[error("{0} exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    #[error("another syslog daemon is listening on {0}; stop it or give logfwd --socket PATH")]
    InUse(PathBuf),
    #[error("cannot listen on {0} (is another syslog daemon running?)")]
    Bind(PathBuf, #[source] io::Error),
    #[error("cannot start the {0} sink thread")]
    Thread(String, #[source] io::Error),
    #[error("cannot take the app's output pipe")]
    AppFd(#[source] nodistro_common::sys::FdError),
    #[error("poll failed")]
    Poll(#[source] Errno),
}
