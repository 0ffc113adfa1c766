//! Raw Linux system calls for what rustix does not wrap (signal masks,
//! signalfd, packet-socket options): the `syscall` instruction itself, so
//! the runtime needs nothing from a C library (the libc-free build links
//! no libc at all, and a Rust libc such as c-scape lacks signalfd).
//!
//! [`syscall6`] is the one unsafe primitive; each call site wraps it in a
//! named function with a `SAFETY:` line. Syscall numbers come from
//! linux-raw-sys (the kernel's own headers, per architecture).
#![allow(unsafe_code)]

use rustix::io::Errno;
use std::os::fd::{FromRawFd, OwnedFd};

pub use linux_raw_sys::general as nr;

/// `syscall(nr, a0..a5)`: the kernel's return value, or the errno it
/// reports (-4095..-1).
///
/// # Safety
/// The caller upholds the system call's contract: every pointer argument
/// points to memory valid for what the kernel reads or writes, for the whole
/// call, and no Rust invariant (fd ownership, memory) is broken by it.
#[inline]
pub unsafe fn syscall6(nr: u32, a: [usize; 6]) -> Result<usize, Errno> {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the x86_64 Linux syscall ABI: number in rax, arguments in rdi,
    // rsi, rdx, r10, r8, r9; the kernel clobbers rcx and r11 only. The
    // caller vouches for the arguments (see # Safety).
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: the aarch64 Linux syscall ABI: number in x8, arguments and
    // result in x0..x5. The caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// A kernel signal set: bit `n - 1` is signal `n` (64 signals on x86_64
/// and aarch64, the size `rt_sigprocmask` and `signalfd4` take).
pub fn sigset(signals: &[i32]) -> u64 {
    signals
        .iter()
        .filter(|s| (1..=64).contains(*s))
        .fold(0, |m, s| m | 1 << (s - 1))
}

const SIGSET_SIZE: usize = std::mem::size_of::<u64>();

/// `rt_sigprocmask(SIG_BLOCK, set)`: add `set` to this thread's mask.
pub fn block_signals(set: u64) -> Result<(), Errno> {
    sigprocmask(nr::SIG_BLOCK, set)
}

/// `rt_sigprocmask(SIG_SETMASK, set)`: replace this thread's mask.
/// Async-signal-safe (one system call, no allocation): usable between fork
/// and exec.
pub fn set_signal_mask(set: u64) -> Result<(), Errno> {
    sigprocmask(nr::SIG_SETMASK, set)
}

fn sigprocmask(how: u32, set: u64) -> Result<(), Errno> {
    // SAFETY: `set` lives on this stack for the call and is SIGSET_SIZE
    // bytes; the old mask is not asked for (null). The kernel silently
    // ignores SIGKILL and SIGSTOP in the set.
    unsafe {
        syscall6(
            nr::__NR_rt_sigprocmask,
            [
                how as usize,
                &set as *const u64 as usize,
                0,
                SIGSET_SIZE,
                0,
                0,
            ],
        )
    }
    .map(drop)
}

/// `signalfd4(-1, set, flags)`: a new signalfd (close-on-exec, and
/// non-blocking if `nonblocking`) reporting the signals in `set`.
pub fn signalfd(set: u64, nonblocking: bool) -> Result<OwnedFd, Errno> {
    // SFD_CLOEXEC and SFD_NONBLOCK are O_CLOEXEC and O_NONBLOCK.
    let mut flags = nr::O_CLOEXEC as usize;
    if nonblocking {
        flags |= nr::O_NONBLOCK as usize;
    }
    // SAFETY: `set` lives on this stack for the call; -1 asks for a new fd.
    let fd = unsafe {
        syscall6(
            nr::__NR_signalfd4,
            [
                -1isize as usize,
                &set as *const u64 as usize,
                SIGSET_SIZE,
                flags,
                0,
                0,
            ],
        )
    }?;
    // SAFETY: signalfd4 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The size of one `struct signalfd_siginfo` record read from a signalfd.
pub const SIGNALFD_SIGINFO_SIZE: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigset_bits() {
        assert_eq!(sigset(&[1]), 1);
        assert_eq!(sigset(&[15, 17]), 1 << 14 | 1 << 16);
        assert_eq!(sigset(&[0, 65, -3]), 0);
    }

    #[test]
    fn signalfd_reports_a_blocked_signal() {
        // A thread of its own, so the mask change stays out of the test
        // harness's other threads.
        std::thread::spawn(|| {
            let usr2 = rustix::process::Signal::USR2.as_raw();
            block_signals(sigset(&[usr2])).expect("block");
            let fd = signalfd(sigset(&[usr2]), true).expect("signalfd");
            let mut buf = [0u8; SIGNALFD_SIGINFO_SIZE];
            assert_eq!(rustix::io::read(&fd, &mut buf), Err(Errno::AGAIN));
            // SAFETY: gettid and tgkill touch no memory; the signal is
            // blocked, so it waits on the signalfd instead of killing us.
            unsafe {
                let tid = syscall6(nr::__NR_gettid, [0; 6]).expect("gettid");
                let pid = std::process::id() as usize;
                syscall6(nr::__NR_tgkill, [pid, tid, usr2 as usize, 0, 0, 0]).expect("tgkill");
            }
            assert_eq!(rustix::io::read(&fd, &mut buf), Ok(SIGNALFD_SIGINFO_SIZE));
            assert_eq!(buf[..4], (usr2 as u32).to_ne_bytes());
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn errors_come_back_as_errno() {
        // SAFETY: close(-1) touches no memory; it fails with EBADF.
        let r = unsafe { syscall6(nr::__NR_close, [-1isize as usize, 0, 0, 0, 0, 0]) };
        assert_eq!(r, Err(Errno::BADF));
    }
}
