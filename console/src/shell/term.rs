//! The terminal: writing (wrapped at 80 columns, waiting out a full
//! buffer), opening the console device, raw mode.

use crate::core::width::wrap;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::os::fd::{BorrowedFd, OwnedFd};

/// Write `text` to stdout, wrapped at 80 columns.
pub fn print_stdout(text: &str) {
    write_wrapped(rustix::stdio::stdout(), text);
}

pub(super) fn write_all(fd: BorrowedFd<'_>, mut b: &[u8]) {
    while !b.is_empty() {
        match rustix::io::write(fd, b) {
            Ok(0) => return,
            Ok(n) => b = &b[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let mut p = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
                let _ = poll(
                    &mut p,
                    Some(&Timespec {
                        tv_sec: 1,
                        tv_nsec: 0,
                    }),
                );
            }
            Err(_) => return,
        }
    }
}

pub(super) fn write_wrapped(fd: BorrowedFd<'_>, text: &str) {
    write_all(fd, wrap(text).as_bytes());
}

pub(super) fn open_console() -> std::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let stdin = rustix::stdio::stdin();
    if rustix::termios::isatty(stdin) {
        return Ok(rustix::io::dup(stdin)?);
    }
    Ok(rustix::fs::open(
        "/dev/console",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Raw input (no echo, no line discipline, no signals from keys); output
/// processing stays on so `\n` ends a line on the terminal.
pub(super) fn raw_mode(fd: &OwnedFd) {
    use rustix::termios::{
        tcgetattr, tcsetattr, InputModes, LocalModes, OptionalActions, SpecialCodeIndex,
    };
    let Ok(mut t) = tcgetattr(fd) else { return };
    t.local_modes &=
        !(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG | LocalModes::IEXTEN);
    t.input_modes &= !(InputModes::ICRNL | InputModes::IXON | InputModes::INLCR);
    t.special_codes[SpecialCodeIndex::VMIN] = 1;
    t.special_codes[SpecialCodeIndex::VTIME] = 0;
    let _ = tcsetattr(fd, OptionalActions::Now, &t);
}
