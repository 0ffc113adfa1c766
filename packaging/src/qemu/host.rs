//! The host side of a run: QEMU as a child that cannot outlive the
//! runner, the stop signals read from a signalfd, and the terminal the
//! runner owns while QEMU reads a pipe.
//!
//! QEMU runs in a process group of its own, so a terminal's Ctrl-C reaches
//! only `nodistro run`, which turns it into a clean power-off (see
//! [`crate::core::qemu::stop`]); it dies with the runner (PR_SET_PDEATHSIG), so even a
//! SIGKILL of `nodistro run` leaves no QEMU behind.
#![allow(unsafe_code)]

use nodistro_common::signal::{SIGHUP, SIGINT, SIGTERM};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;

/// The signals that stop a run.
pub const STOP_SIGNALS: [i32; 3] = [SIGTERM, SIGINT, SIGHUP];

/// Block [`STOP_SIGNALS`] in this thread and return a non-blocking
/// signalfd for them. Call before QEMU and the console threads start:
/// threads inherit the mask (and QEMU gets an empty one back, see
/// [`set_up_child`]).
pub fn stop_signals() -> std::io::Result<OwnedFd> {
    nodistro_common::sys::signal_fd(&STOP_SIGNALS, true)
}

/// The stop signals that arrived since the last call.
pub fn pending(fd: &OwnedFd) -> Vec<i32> {
    nodistro_common::sys::read_signals(fd)
}

/// Make `cmd` (QEMU) start in its own process group, with no signal
/// blocked, and die with SIGKILL when the thread that starts it ends.
pub fn set_up_child(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls (rt_sigprocmask, prctl, getppid); it
    // allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            nodistro_common::syscall::set_signal_mask(0)?;
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // The runner may have died before the death signal was armed.
            if rustix::process::getppid() != Some(parent) {
                return Err(std::io::Error::other("nodistro run has exited"));
            }
            Ok(())
        });
    }
}

/// The terminal on stdin in the mode QEMU's own stdio console would set
/// (no line editing, no echo: the guest echoes), but with signals kept, so
/// Ctrl-C reaches the runner. Restored on drop.
pub struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    /// `None` when stdin is not a terminal (or cannot be changed).
    pub fn enter() -> Option<RawTerminal> {
        use rustix::termios::{
            tcgetattr, tcsetattr, ControlModes, InputModes, LocalModes, OptionalActions,
            OutputModes, SpecialCodeIndex,
        };
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        if !rustix::termios::isatty(fd) {
            return None;
        }
        let saved = tcgetattr(fd).ok()?;
        let mut t = saved.clone();
        t.input_modes -= InputModes::IGNBRK
            | InputModes::BRKINT
            | InputModes::PARMRK
            | InputModes::ISTRIP
            | InputModes::INLCR
            | InputModes::IGNCR
            | InputModes::ICRNL
            | InputModes::IXON;
        t.output_modes |= OutputModes::OPOST;
        t.local_modes -=
            LocalModes::ECHO | LocalModes::ECHONL | LocalModes::ICANON | LocalModes::IEXTEN;
        t.local_modes |= LocalModes::ISIG;
        t.control_modes -= ControlModes::CSIZE | ControlModes::PARENB;
        t.control_modes |= ControlModes::CS8;
        t.special_codes[SpecialCodeIndex::VMIN] = 1;
        t.special_codes[SpecialCodeIndex::VTIME] = 0;
        tcsetattr(fd, OptionalActions::Now, &t).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = rustix::termios::tcsetattr(
            stdin.as_fd(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}
