//! Signal numbers as plain `i32` constants usable in `match` patterns,
//! taken from rustix (the runtime uses no C library's headers).

use rustix::process::Signal;

pub const SIGHUP: i32 = Signal::HUP.as_raw();
pub const SIGINT: i32 = Signal::INT.as_raw();
pub const SIGQUIT: i32 = Signal::QUIT.as_raw();
pub const SIGILL: i32 = Signal::ILL.as_raw();
pub const SIGABRT: i32 = Signal::ABORT.as_raw();
pub const SIGBUS: i32 = Signal::BUS.as_raw();
pub const SIGFPE: i32 = Signal::FPE.as_raw();
pub const SIGKILL: i32 = Signal::KILL.as_raw();
pub const SIGUSR1: i32 = Signal::USR1.as_raw();
pub const SIGSEGV: i32 = Signal::SEGV.as_raw();
pub const SIGUSR2: i32 = Signal::USR2.as_raw();
pub const SIGPIPE: i32 = Signal::PIPE.as_raw();
pub const SIGALRM: i32 = Signal::ALARM.as_raw();
pub const SIGTERM: i32 = Signal::TERM.as_raw();
pub const SIGCHLD: i32 = Signal::CHILD.as_raw();
pub const SIGCONT: i32 = Signal::CONT.as_raw();
pub const SIGSTOP: i32 = Signal::STOP.as_raw();
pub const SIGWINCH: i32 = Signal::WINCH.as_raw();
pub const SIGPWR: i32 = Signal::POWER.as_raw();

/// The usual name of a signal number.
pub fn name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGQUIT => "SIGQUIT",
        SIGILL => "SIGILL",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGFPE => "SIGFPE",
        SIGKILL => "SIGKILL",
        SIGUSR1 => "SIGUSR1",
        SIGSEGV => "SIGSEGV",
        SIGUSR2 => "SIGUSR2",
        SIGPIPE => "SIGPIPE",
        SIGALRM => "SIGALRM",
        SIGTERM => "SIGTERM",
        SIGPWR => "SIGPWR",
        _ => return None,
    })
}
