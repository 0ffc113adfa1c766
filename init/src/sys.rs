//! The few system calls rustix has no safe wrapper for: blocking signals
//! and reading them from a signalfd, and kill(-1).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// The signals init handles; all are blocked and read from a signalfd.
/// Children get an empty mask back: see [`unblock_signals_in_child`].
pub const SIGNALS: [i32; 8] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGPWR,
    libc::SIGQUIT,
];

/// Block [`SIGNALS`] and return a non-blocking signalfd for them.
pub fn block_signals() -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for s in SIGNALS {
        // SAFETY: as above; `s` is a valid signal number.
        unsafe { libc::sigaddset(&mut set, s) };
    }
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: -1 asks for a new fd; `set` is initialised; flags are valid.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: signalfd returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Make `cmd`'s child start with no signal blocked (the mask survives
/// fork and exec, and std's `Command` does not reset it).
pub fn unblock_signals_in_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls
    // sigemptyset and sigprocmask, both async-signal-safe; it allocates
    // nothing and touches no lock.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            if libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

/// Signal numbers read from the signalfd (empty when none is pending).
pub fn read_signals(fd: &OwnedFd) -> Vec<i32> {
    const SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();
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

/// kill(-1, sig): every process but init itself.
pub fn kill_all(sig: i32) {
    // SAFETY: kill has no memory effects; errors (no processes) are fine.
    unsafe { libc::kill(-1, sig) };
}
