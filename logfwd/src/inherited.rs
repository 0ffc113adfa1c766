//! What init hands down through the environment (the app's stdout and
//! stderr pipes, its name), taken before logfwd starts any thread.

use crate::core::lines::{LineSplitter, MAX_MSG};
use crate::error::RunError;
use rustix::fs::OFlags;
use std::os::fd::OwnedFd;

/// One of the app's output pipes.
pub(crate) struct AppPipe {
    pub(crate) fd: OwnedFd,
    pub(crate) splitter: LineSplitter,
    pub(crate) severity: u8,
    pub(crate) open: bool,
    /// Bytes read but not split yet: the sink had no room (back-pressure).
    /// At most one read's worth; nothing more is read until it is taken.
    pub(crate) pending: Vec<u8>,
    /// When `pending` was read.
    pub(crate) pending_time: u64,
}

/// What init hands down through the environment: the app's stdout and
/// stderr pipes and its name. Taken by [`Inherited::take`] at the start of
/// `main_with_args`, while the process has one thread: taking an fd
/// removes its environment variable, and `remove_var` with other threads
/// running is unsound (they may read the environment meanwhile).
pub struct Inherited {
    pub(crate) pipes: Vec<AppPipe>,
    pub(crate) app_name: String,
}

impl Inherited {
    /// Call before any thread starts.
    pub fn take() -> Result<Self, RunError> {
        let pipes = [
            take_pipe(nodistro_common::APP_STDOUT_FD_ENV, 6)?,
            take_pipe(nodistro_common::APP_STDERR_FD_ENV, 3)?,
        ]
        .into_iter()
        .flatten()
        .collect();
        let app_name =
            std::env::var(nodistro_common::APP_NAME_ENV).unwrap_or_else(|_| "app".into());
        Ok(Inherited { pipes, app_name })
    }
}

fn take_pipe(var: &str, severity: u8) -> Result<Option<AppPipe>, RunError> {
    let Some(fd) = nodistro_common::sys::take_inherited_fd(var).map_err(RunError::AppFd)? else {
        return Ok(None);
    };
    if let Ok(fl) = rustix::fs::fcntl_getfl(&fd) {
        let _ = rustix::fs::fcntl_setfl(&fd, fl | OFlags::NONBLOCK);
    }
    Ok(Some(AppPipe {
        fd,
        splitter: LineSplitter::new(MAX_MSG),
        severity,
        open: true,
        pending: Vec::new(),
        pending_time: 0,
    }))
}
