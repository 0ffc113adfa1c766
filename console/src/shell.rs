//! The terminal side: raw mode on the console device, the prompt loop, and
//! the IO of each command. Long commands (`dmesg -f`, `ping`, `run`) watch
//! the line for Ctrl-C. Output lines longer than 80 columns are wrapped.

use crate::core::command::{self, Cmd};
use crate::core::editor::{Editor, Event};
use crate::core::paths::Paths;
use crate::gather;
use nodistro_common::protocol::ready;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// The prompt.
pub const PROMPT: &str = "# ";

/// Write `text` to stdout, wrapped at 80 columns.
pub fn print_stdout(text: &str) {
    write_wrapped(rustix::stdio::stdout(), text);
}

fn write_all(fd: BorrowedFd<'_>, mut b: &[u8]) {
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

/// `text` with every line cut into pieces of at most 80 characters.
pub fn wrap(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut n = 0;
        for c in line.chars() {
            if n == crate::WIDTH {
                out.push('\n');
                n = 0;
            }
            out.push(c);
            n += 1;
        }
    }
    out
}

fn write_wrapped(fd: BorrowedFd<'_>, text: &str) {
    write_all(fd, wrap(text).as_bytes());
}

struct Console {
    fd: OwnedFd,
    editor: Editor,
    notifier: Option<nodistro_common::sys::Notifier>,
    /// After `exit`: input is ignored until Enter.
    closed: bool,
    /// The other tools' files.
    paths: Paths,
}

fn open_console() -> std::io::Result<OwnedFd> {
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
fn raw_mode(fd: &OwnedFd) {
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

    fn kill(&self, sig: i32, pid: i32) {
        let (Some(p), Some(s)) = (
            rustix::process::Pid::from_raw(pid),
            rustix::process::Signal::from_named_raw(sig),
        ) else {
            self.out(&format!("error: signal {sig} cannot be sent from here\n"));
            return;
        };
        if let Err(e) = rustix::process::kill_process(p, s) {
            self.out(&format!("error: kill {pid}: {e}\n"));
        }
    }

    fn ls(&self, dir: &str) {
        let rd = match std::fs::read_dir(dir) {
            Ok(d) => d,
            Err(e) => {
                let mut t = format!("error: {dir}: {e}\n");
                if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
                    t = format!("{dir} is not a directory (try cat or hexdump)\n");
                }
                self.out(&t);
                return;
            }
        };
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let mut entries = Vec::new();
        let mut more = 0usize;
        for e in rd.flatten() {
            if entries.len() >= 2000 {
                more += 1;
                continue;
            }
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                'd'
            } else if ft.is_symlink() {
                'l'
            } else if ft.is_char_device() {
                'c'
            } else if ft.is_block_device() {
                'b'
            } else if ft.is_fifo() {
                'p'
            } else if ft.is_socket() {
                's'
            } else {
                '-'
            };
            entries.push(crate::core::files::Entry {
                name: e.file_name().to_string_lossy().into_owned(),
                kind,
                mode: m.permissions().mode() & 0o777,
                size: m.len(),
                target: ft
                    .is_symlink()
                    .then(|| std::fs::read_link(e.path()).ok())
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned()),
            });
        }
        let mut t = crate::core::files::ls(&mut entries);
        if more > 0 {
            t += &format!("... and {more} more entries\n");
        }
        self.out(&t);
    }

    fn open_file(&self, path: &str) -> Option<std::fs::File> {
        match std::fs::File::open(path) {
            Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                self.out(&format!("{path} is a directory (try ls)\n"));
                None
            }
            Ok(f) => Some(f),
            Err(e) => {
                self.out(&format!("error: {path}: {e}\n"));
                None
            }
        }
    }

    fn cat(&self, path: &str) {
        let Some(f) = self.open_file(path) else {
            return;
        };
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut bytes = Vec::new();
        if let Err(e) = f
            .take(crate::core::files::CAT_MAX as u64 + 1)
            .read_to_end(&mut bytes)
        {
            self.out(&format!("error: {path}: {e}\n"));
            return;
        }
        self.out(&crate::core::files::cat(path, &bytes, size));
    }

    fn hexdump(&self, path: &str, offset: u64, len: u64) {
        let Some(mut f) = self.open_file(path) else {
            return;
        };
        use std::io::{Seek, SeekFrom};
        if f.seek(SeekFrom::Start(offset)).is_err() {
            // /proc and /sys files may not seek: skip by reading.
            let mut skip = (&mut f).take(offset.min(1 << 20));
            let _ = std::io::copy(&mut skip, &mut std::io::sink());
        }
        let mut bytes = Vec::new();
        let _ = f.take(len).read_to_end(&mut bytes);
        self.out(&crate::core::files::hexdump(&bytes, offset));
    }

    fn dmesg(&self, follow: bool) {
        let mut text = String::new();
        for r in gather::kernel_records() {
            text += &crate::core::kmsg::format(&r);
            text.push('\n');
        }
        self.out(&text);
        if !follow {
            return;
        }
        self.out("(following the kernel log; Ctrl-C stops)\n");
        let Ok(k) = gather::open_kmsg() else { return };
        let _ = rustix::fs::seek(&k, rustix::fs::SeekFrom::End(0));
        let mut buf = vec![0u8; 8192];
        loop {
            let (kin, cin) = {
                let mut p = [
                    PollFd::new(&k, PollFlags::IN),
                    PollFd::new(&self.fd, PollFlags::IN),
                ];
                if poll(&mut p, None).is_err() {
                    return;
                }
                (!p[0].revents().is_empty(), !p[1].revents().is_empty())
            };
            if cin && self.interrupted(Duration::ZERO) {
                self.out("^C\n");
                return;
            }
            if kin {
                loop {
                    match rustix::io::read(&k, &mut buf) {
                        Ok(n) if n > 0 => {
                            if let Some(r) = crate::core::kmsg::parse(&buf[..n]) {
                                self.out(&format!("{}\n", crate::core::kmsg::format(&r)));
                            }
                        }
                        Err(rustix::io::Errno::PIPE) => continue,
                        _ => break,
                    }
                }
            }
        }
    }

    fn log(&self) {
        use std::os::unix::net::UnixStream;
        let socket = self.paths.recent_socket();
        let s = match UnixStream::connect(&socket) {
            Ok(s) => s,
            Err(e) => {
                self.out(&format!(
                    "error: logfwd does not answer on {} ({e}); is it running? (ps)\n",
                    socket.display()
                ));
                return;
            }
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        let mut bytes = Vec::new();
        let _ = s.take(1 << 20).read_to_end(&mut bytes);
        self.out(&crate::core::files::escape(&bytes));
    }

    fn modprobe(&self, name: &str, params: &[String]) {
        match nodistro_modload::probe::probe(name, params) {
            Ok(lines) => {
                let mut t = String::new();
                for (m, what) in lines {
                    t += &if m.is_empty() {
                        what
                    } else {
                        format!("{m}: {what}")
                    };
                    t.push('\n');
                }
                self.out(&t);
            }
            Err(e) => self.out(&format!("error: {e}\n")),
        }
    }

    fn rmmod(&self, name: &str) {
        let norm = name.replace('-', "_");
        let Ok(c) = std::ffi::CString::new(norm.clone()) else {
            self.out("error: bad module name\n");
            return;
        };
        use rustix::io::Errno;
        let nonblock = rustix::fs::OFlags::NONBLOCK.bits() as i32;
        match rustix::system::delete_module(&c, nonblock) {
            Ok(()) => self.out(&format!("{norm}: removed\n")),
            Err(e) => {
                let why = match e {
                    Errno::NOENT => "not loaded (see lsmod)".to_string(),
                    Errno::WOULDBLOCK => "in use (see lsmod's USED BY)".to_string(),
                    e => e.to_string(),
                };
                self.out(&format!("error: rmmod {norm}: {why}\n"));
            }
        }
    }

    fn ping(&self, to: std::net::Ipv4Addr) {
        use rustix::net::{self, AddressFamily, SocketAddrV4, SocketFlags, SocketType};
        let proto = net::ipproto::ICMP;
        let sock = match net::socket_with(
            AddressFamily::INET,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(proto),
        ) {
            Ok(s) => s,
            Err(e) => {
                self.out(&format!("error: cannot open an ICMP socket: {e}\n"));
                return;
            }
        };
        let id = (std::process::id() & 0xffff) as u16;
        let dest = SocketAddrV4::new(to, 0);
        let (mut sent, mut got, mut rtts) = (0u32, 0u32, Vec::new());
        let mut buf = [0u8; 1500];
        'tries: for seq in 1..=4u16 {
            let t0 = Instant::now();
            let req = crate::core::icmp::echo_request(id, seq);
            let deadline = t0 + Duration::from_secs(1);
            let ok = match net::sendto(&sock, &req, net::SendFlags::empty(), &dest) {
                Ok(_) => true,
                Err(e) => {
                    self.out(&format!("{to}: seq {seq}: cannot send: {e}\n"));
                    false
                }
            };
            sent += u32::from(ok);
            loop {
                if !ok {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.out(&format!("{to}: seq {seq}: no answer within 1 s\n"));
                    break;
                }
                let (sin, cin) = {
                    let mut p = [
                        PollFd::new(&sock, PollFlags::IN),
                        PollFd::new(&self.fd, PollFlags::IN),
                    ];
                    let t = Timespec {
                        tv_sec: left.as_secs() as i64,
                        tv_nsec: i64::from(left.subsec_nanos()),
                    };
                    let _ = poll(&mut p, Some(&t));
                    (!p[0].revents().is_empty(), !p[1].revents().is_empty())
                };
                if cin && self.interrupted(Duration::ZERO) {
                    self.out("^C\n");
                    break 'tries;
                }
                if !sin {
                    continue;
                }
                let Ok((n, _)) = net::recv(&sock, &mut buf[..], net::RecvFlags::DONTWAIT) else {
                    continue;
                };
                match crate::core::icmp::parse(&buf[..n.min(buf.len())], id) {
                    Some(crate::core::icmp::Reply::Echo {
                        seq: s,
                        ttl,
                        from,
                        bytes,
                    }) if s == seq => {
                        let us = t0.elapsed().as_micros() as u64;
                        got += 1;
                        rtts.push(us);
                        self.out(&format!(
                            "{bytes} bytes from {from}: seq {seq} ttl {ttl} time {} ms\n",
                            crate::core::icmp::ms(us)
                        ));
                        break;
                    }
                    Some(crate::core::icmp::Reply::Error { seq: s, from, what }) if s == seq => {
                        self.out(&format!("{to}: seq {seq}: {what} (from {from})\n"));
                        break;
                    }
                    _ => {}
                }
            }
            if seq < 4 {
                let wait = Duration::from_secs(1).saturating_sub(t0.elapsed());
                if self.interrupted(wait) {
                    self.out("^C\n");
                    break;
                }
            }
        }
        self.out(&format!(
            "{}\n",
            crate::core::icmp::summary(to, sent, got, &rtts)
        ));
    }

    fn dhcp_renew(&self, iface: &str) {
        let state = self.paths.dhcp_state(iface);
        let before = gather::text(&state);
        if before.is_empty() {
            self.out(&format!(
                "error: netcfg runs no DHCP on {iface:?} (see net)\n"
            ));
            return;
        }
        let Some(pid) = gather::processes()
            .into_iter()
            .find(|p| {
                p.command
                    .split_whitespace()
                    .next()
                    .is_some_and(|c| c.ends_with("netcfg"))
            })
            .map(|p| p.pid)
        else {
            self.out("error: netcfg is not running (see ps)\n");
            return;
        };
        // netcfg reads the interface from this file on SIGUSR1.
        let _ = std::fs::write(self.paths.dhcp_renew(), iface);
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            if let Err(e) = rustix::process::kill_process(p, rustix::process::Signal::USR1) {
                self.out(&format!("error: cannot signal netcfg: {e}\n"));
                return;
            }
        }
        self.out(&format!("asked netcfg (pid {pid}) to renew {iface}\n"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.interrupted(Duration::from_millis(100)) {
                return;
            }
            let now = gather::text(&state);
            if now != before && now.contains("state=bound") {
                self.out(&format!(
                    "{iface}: {}\n",
                    crate::core::net::dhcp_line(&now, nodistro_common::timeline::since_boot_ms())
                ));
                return;
            }
        }
        self.out(&format!(
            "{iface}: no new lease within 5 s (see net, dmesg)\n"
        ));
    }

    fn run_program(&self, path: &str, args: &[String]) {
        let out = match rustix::io::dup(&self.fd) {
            Ok(o) => o,
            Err(e) => {
                self.out(&format!("error: {e}\n"));
                return;
            }
        };
        let err = rustix::io::dup(&self.fd).ok();
        let mut cmd = std::process::Command::new(path);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(out));
        if let Some(e) = err {
            cmd.stderr(std::process::Stdio::from(e));
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.out(&format!("error: cannot run {path}: {e}\n"));
                return;
            }
        };
        self.out(&format!("[pid {}; Ctrl-C kills it]\n", child.id()));
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    self.out(&format!("[{path}: {st}]\n"));
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    self.out(&format!("error: {e}\n"));
                    return;
                }
            }
            if self.interrupted(Duration::from_millis(100)) {
                let _ = child.kill();
                let _ = child.wait();
                self.out("[killed]\n");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_at_80() {
        let w = super::wrap(&format!("{}\nshort\n", "x".repeat(170)));
        let lines: Vec<&str> = w.lines().collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [80, 80, 10, 5]
        );
        assert!(w.ends_with('\n'));
    }
}
