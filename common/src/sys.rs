//! File descriptors handed from init to its helpers by number, named in
//! environment variables (the s6/systemd notification habit); signals read
//! from a signalfd (rustix does not wrap signalfd: see [`crate::syscall`]).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Errors taking an inherited descriptor.
#[derive(Debug, thiserror::Error)]
pub enum FdError {
    #[error("environment variable {var}={value:?} is not a file descriptor number")]
    NotANumber { var: String, value: String },
    #[error("environment variable {var} names fd {fd}, which is not open")]
    NotOpen {
        var: String,
        fd: RawFd,
        #[source]
        source: rustix::io::Errno,
    },
}

/// Take ownership of the fd named by environment variable `var`, if set.
/// The variable is removed so that children of the caller do not see it.
pub fn take_inherited_fd(var: &str) -> Result<Option<OwnedFd>, FdError> {
    let Some(value) = std::env::var_os(var) else {
        return Ok(None);
    };
    let value = value.to_string_lossy().into_owned();
    let fd: RawFd = match value.trim().parse() {
        Ok(fd) if fd >= 0 => fd,
        _ => {
            return Err(FdError::NotANumber {
                var: var.to_string(),
                value,
            })
        }
    };
    // SAFETY: fcntl(F_GETFD) on an arbitrary number only queries flags; the
    // borrowed fd does not outlive this call.
    let probe = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    if let Err(source) = rustix::io::fcntl_getfd(probe) {
        return Err(FdError::NotOpen {
            var: var.to_string(),
            fd,
            source,
        });
    }
    // SAFETY: the fd is open (checked above) and, by the protocol with init,
    // handed to this process alone; the env var is removed below so nothing
    // else in this process takes it twice.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // Removing our own variable: single-threaded at this point by contract
    // (called at the start of main).
    std::env::remove_var(var);
    Ok(Some(owned))
}

/// Write a readiness line to the fd named by [`crate::READY_FD_ENV`], if init
/// gave one; the fd is kept open (netcfg may report several interfaces).
pub struct Notifier {
    fd: Option<std::fs::File>,
}

impl Notifier {
    /// Take the readiness fd from the environment (none: notifications are
    /// no-ops, e.g. when a tool runs by hand).
    pub fn from_env() -> Result<Self, FdError> {
        Ok(Notifier {
            fd: take_inherited_fd(crate::READY_FD_ENV)?.map(std::fs::File::from),
        })
    }

    /// A notifier that sends nothing.
    pub fn none() -> Self {
        Notifier { fd: None }
    }

    /// Send one line (a newline is added).
    pub fn notify(&mut self, line: &str) {
        use std::io::Write;
        if let Some(f) = &mut self.fd {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// Block `signals` in this thread (call before spawning threads, which
/// inherit the mask) and return a signalfd that reports them; non-blocking
/// if `nonblocking`.
pub fn signal_fd(signals: &[i32], nonblocking: bool) -> io::Result<OwnedFd> {
    let set = crate::syscall::sigset(signals);
    crate::syscall::block_signals(set)?;
    Ok(crate::syscall::signalfd(set, nonblocking)?)
}

/// Signal numbers waiting on a non-blocking signalfd (empty when none).
pub fn read_signals(fd: &OwnedFd) -> Vec<i32> {
    const SIZE: usize = crate::syscall::SIGNALFD_SIGINFO_SIZE;
    let mut buf = [0u8; SIZE * 8];
    let mut out = Vec::new();
    while let Ok(n) = rustix::io::read(fd, &mut buf) {
        if n < SIZE {
            break;
        }
        // ssi_signo is the first u32 of each record.
        for rec in buf[..n].chunks_exact(SIZE) {
            out.push(u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]) as i32);
        }
    }
    out
}

/// The first `max` bytes of a file or device (fewer if it is shorter):
/// a block device's superblocks and partition table, a seed file.
pub fn read_prefix(path: &str, max: usize) -> Option<Vec<u8>> {
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let mut buf = vec![0u8; max];
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
    buf.truncate(n);
    Some(buf)
}
