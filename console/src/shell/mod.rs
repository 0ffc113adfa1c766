//! The terminal side: raw mode on the console device, the prompt loop, and
//! the IO of each command. Long commands (`dmesg -f`, `ping`, `run`) watch
//! the line for Ctrl-C. Output lines longer than 80 columns are wrapped.
//!
//! Here the prompt loop and the dispatch; `term` the terminal itself; the
//! commands' IO by concern: `files` (ls, cat, hexdump), `logs` (dmesg,
//! log), `modules` (modprobe, rmmod), `process` (kill, run), `ping`,
//! `dhcp` (dhcp-renew).

mod dhcp;
mod files;
mod logs;
mod modules;
mod ping;
mod process;
mod term;

pub use term::print_stdout;

use crate::core::command::{self, Cmd};
use crate::core::editor::{Editor, Event};
use crate::core::paths::Paths;
use crate::gather;
use nodistro_common::protocol::ready;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;
use term::{open_console, raw_mode, write_all, write_wrapped};

/// The prompt.
pub const PROMPT: &str = "# ";

struct Console {
    fd: OwnedFd,
    editor: Editor,
    notifier: Option<nodistro_common::sys::Notifier>,
    /// After `exit`: input is ignored until Enter.
    closed: bool,
    /// The other tools' files.
    paths: Paths,
}

/// The prompt loop; returns only when the console cannot be read.
pub fn run() -> i32 {
    let fd = match open_console() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("console: cannot open /dev/console: {e}");
            return 1;
        }
    };
    raw_mode(&fd);
    let notifier = nodistro_common::sys::Notifier::from_env().ok();
    let mut c = Console {
        fd,
        editor: Editor::new(),
        notifier,
        closed: false,
        paths: gather::paths(),
    };
    c.out("\nnodistro debug console (root on this line; init.debug=console). Type help.\n");
    c.out(PROMPT);
    let mut buf = [0u8; 256];
    loop {
        let n = match rustix::io::read(&c.fd, &mut buf) {
            Ok(0) => {
                // Hang-up: wait a little and read again (a serial line).
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            Ok(n) => n,
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
            Err(e) => {
                eprintln!("console: cannot read the console: {e}");
                return 1;
            }
        };
        for &b in &buf[..n] {
            c.byte(b);
        }
    }
}

impl Console {
    fn out(&self, text: &str) {
        write_wrapped(self.fd.as_fd(), text);
    }

    fn byte(&mut self, b: u8) {
        if self.closed {
            if b == b'\r' || b == b'\n' {
                self.closed = false;
                self.out(PROMPT);
            }
            return;
        }
        let mut echo = Vec::new();
        let ev = self.editor.feed(b, &mut echo);
        write_all(self.fd.as_fd(), &echo);
        match ev {
            None => {}
            Some(Event::Cancel) => self.out(PROMPT),
            Some(Event::TooLong) => {
                self.out(&format!(
                    "line too long (more than {} bytes); ignored\n",
                    crate::core::editor::MAX_LINE
                ));
                self.out(PROMPT);
            }
            Some(Event::Line(line)) => {
                match command::parse(&line) {
                    Ok(None) => {}
                    Ok(Some(cmd)) => self.exec(cmd),
                    Err(e) => self.out(&format!("error: {e}\n")),
                }
                if !self.closed {
                    self.out(PROMPT);
                }
            }
        }
    }

    /// Wait up to `d` for Ctrl-C on the console; other typed bytes are
    /// dropped. True if Ctrl-C came.
    fn interrupted(&self, d: Duration) -> bool {
        let mut p = [PollFd::new(&self.fd, PollFlags::IN)];
        let t = Timespec {
            tv_sec: d.as_secs() as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        };
        if !matches!(poll(&mut p, Some(&t)), Ok(n) if n > 0) {
            return false;
        }
        let mut b = [0u8; 256];
        match rustix::io::read(&self.fd, &mut b) {
            Ok(n) => b[..n].contains(&0x03),
            Err(_) => false,
        }
    }

    fn tell_init(&mut self, word: &str) -> bool {
        match &mut self.notifier {
            Some(n) => {
                n.notify(word);
                true
            }
            None => {
                self.out("error: not started by init (no control pipe)\n");
                false
            }
        }
    }

    fn exec(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Help => self.out(&format!("{}\n", command::HELP)),
            Cmd::Ps => self.out(&crate::core::procfs::ps(&gather::processes())),
            Cmd::Kill { sig, pid } => self.kill(sig, pid),
            Cmd::Ls(dir) => self.ls(&dir),
            Cmd::Cat(path) => self.cat(&path),
            Cmd::Hexdump { path, offset, len } => self.hexdump(&path, offset, len),
            Cmd::Mounts => self.out(&crate::core::procfs::mounts(&gather::text("/proc/mounts"))),
            Cmd::Df => self.out(&crate::core::procfs::df(&gather::usage())),
            Cmd::Free => self.out(&crate::core::procfs::free(&gather::text("/proc/meminfo"))),
            Cmd::Uptime => self.out(&crate::core::procfs::uptime(
                &gather::text("/proc/uptime"),
                &gather::text("/proc/loadavg"),
            )),
            Cmd::Dmesg { follow } => self.dmesg(follow),
            Cmd::Log => self.log(),
            Cmd::Lsmod => self.out(&crate::core::procfs::lsmod(&gather::text("/proc/modules"))),
            Cmd::Modprobe { name, params } => self.modprobe(&name, &params),
            Cmd::Rmmod(name) => self.rmmod(&name),
            Cmd::Devices => self.out(&crate::core::devices::devices(&gather::devices())),
            Cmd::Net => self.out(&gather::net_page(&self.paths)),
            Cmd::Ping(addr) => self.ping(addr),
            Cmd::DhcpRenew(iface) => self.dhcp_renew(&iface),
            Cmd::Timeline => self.out(&crate::core::report::timeline(&gather::boot_stages())),
            Cmd::Report => {
                let data = gather::facts_for_report();
                self.out(&crate::core::report::report(&data.as_facts()));
            }
            Cmd::Reboot => {
                if self.tell_init(ready::REBOOT) {
                    self.out("rebooting\n");
                }
            }
            Cmd::Poweroff => {
                if self.tell_init(ready::POWEROFF) {
                    self.out("powering off\n");
                }
            }
            Cmd::Continue => {
                if self.tell_init(ready::CONTINUE) {
                    self.out(
                        "asked init to go on (nothing happens unless init.break paused the boot)\n",
                    );
                }
            }
            Cmd::Exit => {
                self.out("console closed; press Enter for a new prompt\n");
                self.closed = true;
            }
            Cmd::Run { path, args } => self.run_program(&path, &args),
        }
    }
}
