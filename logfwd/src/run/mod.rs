//! The IO shell: one poll loop over the sources (signalfd, /dev/kmsg, the
//! syslog socket, the app's pipes) feeding the sinks' queues; the
//! sources' readers are in `read`.

mod read;

use crate::clock::now_us;
use crate::core::format::{self, Origin};
use crate::core::kmsg::KmsgParser;
use crate::core::lines::{split_long, MAX_MSG};
use crate::core::options::{Options, Remote, BYTES_PER_SLOT};
use crate::core::queue::{Batch, Ring};
use crate::core::record::{Record, Source, View, FACILITY_SYSLOG};
pub use crate::error::RunError;
use crate::inherited::Inherited;
use crate::sink::{self, Room, Sink};
use crate::state::{load_kmsg_state, KmsgState};
use nodistro_common::signal;
use nodistro_common::{sys::Notifier, timeline};
use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long SIGTERM may take to deliver what is queued.
const FLUSH_TIME: Duration = Duration::from_secs(3);
/// Datagrams read per wake-up before other sources get their turn.
const BURST: usize = 256;
/// Reads at shutdown, per source, at most.
const LAST_WORDS: usize = 100_000;
/// Longest partial kernel record kept between reads of a `--kmsg` file.
const MAX_KMSG_CARRY: usize = 64 * 1024;

struct Logfwd {
    opts: Options,
    console: Option<Sink>,
    remote: Option<Sink>,
    ring: Ring,
    /// Records for the console and remote sinks in their compact form,
    /// handed over once per wake-up.
    to_console: Batch,
    to_remote: Batch,
    /// One record's compact form.
    compact: Vec<u8>,
    app_name: String,
    kmsg_parser: KmsgParser,
    /// Bytes of a kernel record whose end was not read yet (files).
    kmsg_carry: Vec<u8>,
    /// Sequence number of the last kernel record read, handed to the sinks
    /// at the next flush.
    kmsg_last: Option<u64>,
    /// Writing `kmsg.seq`: `None` when there is no state directory.
    kmsg_state: Option<KmsgState>,
    kmsg_overruns: u64,
    truncated: u64,
    boot_wall_us: u64,
}

impl Logfwd {
    fn emit(&mut self, r: Record) {
        self.emit_view(&r.view());
    }

    /// Keep a record in the ring and queue it for the sinks, in its compact
    /// form (written once, copied into each).
    fn emit_view(&mut self, r: &View<'_>) {
        self.compact.clear();
        r.write_compact(&mut self.compact);
        self.ring.push(&self.compact);
        if r.severity > self.opts.min_severity && r.source != Source::Internal {
            return;
        }
        // The kernel prints its own messages on the console already.
        if r.source != Source::Kernel && self.console.is_some() {
            self.to_console.push(&self.compact);
        }
        if self.remote.is_some() {
            self.to_remote.push(&self.compact);
        }
    }

    /// Whether the records gathered for the remote fill `room` (the
    /// reader stops reading its producers for this wake-up).
    fn remote_full(&self, room: Option<Room>) -> bool {
        room.is_some_and(|r| self.to_remote.len() >= r.records || self.to_remote.cost() >= r.bytes)
    }

    /// Hand what was read to the sinks (one lock and one wake-up each).
    fn flush(&mut self) {
        if let Some(c) = &self.console {
            c.push_batch(&mut self.to_console);
        }
        if let Some(s) = &self.remote {
            s.push_batch(&mut self.to_remote);
        }
        if let (Some(seq), Some(st)) = (self.kmsg_last.take(), &mut self.kmsg_state) {
            st.clock.handed(seq);
        }
    }

    fn notice(&mut self, msg: String) {
        let mut r = Record::new(Source::Internal, FACILITY_SYSLOG, 4, "logfwd", msg);
        r.time_us = now_us();
        self.emit(r);
    }

    /// Emit `r`, cut into pieces of at most [`MAX_MSG`] bytes.
    fn emit_split(&mut self, r: Record) {
        if r.msg.len() <= MAX_MSG {
            return self.emit(r);
        }
        for msg in split_long(r.msg.clone(), MAX_MSG) {
            self.emit(Record { msg, ..r.clone() });
        }
    }

    fn dump_ring(&self) {
        let text = self.ring_text();
        // In its own thread: a slow serial console must not stall the loop.
        let _ = std::thread::Builder::new()
            .name("logfwd-dump".into())
            .spawn(move || {
                use std::io::Write;
                let _ = io::stderr().lock().write_all(text.as_bytes());
            });
    }

    /// The ring as console lines, between a header with the counters and
    /// an end line.
    fn ring_text(&self) -> String {
        let stats = |name: &str, s: &Option<Sink>| {
            s.as_ref().map_or(String::new(), |s| {
                let st = s.stats();
                format!(", {name} queued {} dropped {}", st.queued, st.dropped)
            })
        };
        let mut text = format!(
            "logfwd: ring dump; kernel overruns {}, kernel messages lost {}, truncated datagrams {}{}{}\n",
            self.kmsg_overruns,
            self.kmsg_parser.lost,
            self.truncated,
            stats("console", &self.console),
            stats("remote", &self.remote),
        );
        for r in self.ring.records() {
            text.push_str(&format::console(&r, sink::boot_ms_of(r.time_us)));
            text.push('\n');
        }
        text.push_str("logfwd: end of ring dump\n");
        text
    }
}

fn bind_socket(path: &Path) -> Result<UnixDatagram, RunError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            // A stale socket is replaced; a live one belongs to someone else.
            let probe = UnixDatagram::unbound().and_then(|s| s.connect(path));
            if probe.is_ok() {
                return Err(RunError::InUse(path.to_path_buf()));
            }
            let _ = std::fs::remove_file(path);
        }
        Ok(_) => return Err(RunError::NotASocket(path.to_path_buf())),
        Err(_) => {}
    }
    let bind = |e| RunError::Bind(path.to_path_buf(), e);
    let sock = UnixDatagram::bind(path).map_err(bind)?;
    sock.set_nonblocking(true).map_err(bind)?;
    // Every program may log, as with any syslog daemon.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(bind)?;
    Ok(sock)
}

/// Run until SIGTERM/SIGINT.
// long: the poll loop; its locals (the poll set, the buffers, the sources
// still open) are its state between turns. Split into wait/handle over a
// struct it grew the box by 457 B (issue 27), so it stays one function.
pub fn run(opts: Options, inherited: Inherited, notifier: &mut Notifier) -> Result<(), RunError> {
    let Inherited {
        mut pipes,
        app_name,
    } = inherited;
    let sigfd = nodistro_common::sys::signal_fd(
        &[
            signal::SIGTERM,
            signal::SIGINT,
            signal::SIGUSR1,
            signal::SIGHUP,
        ],
        true,
    )
    .map_err(RunError::Signals)?;
    let origin = Origin {
        hostname: rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
    };
    let max_bytes = opts.buffer.saturating_mul(BYTES_PER_SLOT);
    let spawn = |t: Box<dyn sink::Transport>| {
        let name = t.describe();
        Sink::spawn(t, opts.buffer, max_bytes).map_err(|e| RunError::Thread(name, e))
    };
    let console = match opts.console {
        true => Some(spawn(Box::new(sink::Console))?),
        false => None,
    };
    let remote = match opts.remote {
        Some(Remote::Udp(a)) => Some(spawn(Box::new(sink::Udp::new(a, opts.format, origin)))?),
        Some(Remote::Tcp(a)) => Some(spawn(Box::new(sink::Tcp::new(a, opts.format, origin)))?),
        None => None,
    };
    let mut kmsg_state = None;
    let mut kmsg_parser = KmsgParser::default();
    let mut kmsg = if opts.kmsg {
        if let Some((st, resume)) = load_kmsg_state(&opts.state_dir) {
            if let Some(seq) = resume {
                kmsg_parser = KmsgParser::resuming(seq);
            }
            kmsg_state = Some(st);
        }
        match rustix::fs::open(
            &opts.kmsg_path,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Some(fd),
            Err(e) => {
                timeline::log(
                    "logfwd",
                    &format!(
                        "cannot read {}: {e}; kernel messages are not forwarded",
                        opts.kmsg_path.display()
                    ),
                );
                None
            }
        }
    } else {
        None
    };
    let sock = bind_socket(&opts.socket)?;
    let boot_wall_us = now_us().saturating_sub(timeline::since_boot_ms() * 1000);
    let mut lf = Logfwd {
        ring: Ring::new(opts.ring_bytes),
        to_console: Batch::default(),
        to_remote: Batch::default(),
        compact: Vec::new(),
        opts,
        console,
        remote,
        app_name,
        kmsg_parser,
        kmsg_carry: Vec::new(),
        kmsg_last: None,
        kmsg_state,
        kmsg_overruns: 0,
        truncated: 0,
        boot_wall_us,
    };
    let recent = crate::recent::bind(&lf.opts.state_dir);
    notifier.notify(nodistro_common::protocol::ready::READY);
    let mut dgram = vec![0u8; 256 * 1024];
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Back-pressure: while the remote's queue is over its mark, the
        // app's pipes and the socket are not read (the app and the
        // senders wait, nothing is dropped) until the sink signals room.
        let room = lf.remote.as_ref().and_then(Sink::room);
        let throttled = room.is_some_and(|r| r.is_full());
        let mut fds = vec![PollFd::new(&sigfd, PollFlags::IN)];
        fn at<'a>(fds: &mut Vec<PollFd<'a>>, fd: BorrowedFd<'a>, on: bool) -> Option<usize> {
            on.then(|| {
                fds.push(PollFd::from_borrowed_fd(fd, PollFlags::IN));
                fds.len() - 1
            })
        }
        let sock_at = at(&mut fds, sock.as_fd(), !throttled);
        let kmsg_at = kmsg.as_ref().and_then(|k| at(&mut fds, k.as_fd(), true));
        let open: Vec<usize> = (0..pipes.len())
            .filter(|&i| pipes[i].open && !throttled)
            .collect();
        let pipe_at: Vec<(usize, usize)> = open
            .iter()
            .filter_map(|&i| at(&mut fds, pipes[i].fd.as_fd(), true).map(|k| (i, k)))
            .collect();
        let recent_at = recent.as_ref().and_then(|l| at(&mut fds, l.as_fd(), true));
        // Lines held back for room are taken as soon as there is room,
        // without waiting for the app to write again.
        let held: Vec<usize> = (0..pipes.len())
            .filter(|&i| !pipes[i].pending.is_empty() && !throttled)
            .collect();
        let room_at = match (&lf.remote, throttled) {
            (Some(r), true) => at(&mut fds, r.room_fd().as_fd(), true),
            _ => None,
        };
        // Wake up to write the remembered kernel sequence number, and,
        // throttled, to look again at a sink whose write stalled.
        let mut wait_ms = lf
            .kmsg_state
            .as_ref()
            .and_then(|st| st.clock.wait_ms(timeline::since_boot_ms()));
        if throttled {
            let stall = sink::STALLED.as_millis() as u64;
            wait_ms = Some(wait_ms.map_or(stall, |ms| ms.min(stall)));
        }
        if !held.is_empty() {
            wait_ms = Some(0);
        }
        let timeout = wait_ms.map(|ms| rustix::event::Timespec {
            tv_sec: (ms / 1000) as i64,
            tv_nsec: ((ms % 1000) * 1_000_000) as i64,
        });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(RunError::Poll(e)),
        }
        let ready = |k: Option<usize>| k.is_some_and(|k| !fds[k].revents().is_empty());
        let (sig_ev, kmsg_ev, sock_ev, recent_ev, room_ev) = (
            ready(Some(0)),
            ready(kmsg_at),
            ready(sock_at),
            ready(recent_at),
            ready(room_at),
        );
        let mut pipe_ev: Vec<usize> = pipe_at
            .iter()
            .filter(|&&(_, k)| ready(Some(k)))
            .map(|&(i, _)| i)
            .chain(held)
            .collect();
        pipe_ev.sort_unstable();
        pipe_ev.dedup();
        drop(fds);
        if room_ev {
            if let Some(r) = &lf.remote {
                r.take_room();
            }
        }
        if recent_ev {
            if let Some(l) = &recent {
                crate::recent::serve(l, &|| lf.ring_text());
            }
        }
        if kmsg_ev {
            if let Some(k) = &kmsg {
                if !lf.read_kmsg(k, &mut chunk) {
                    kmsg = None;
                }
            }
        }
        if sock_ev {
            lf.read_socket(&sock, &mut dgram, BURST, room);
        }
        for i in pipe_ev {
            lf.read_pipe(&mut pipes[i], &mut chunk, 16, false, room);
        }
        lf.flush();
        if let Some(st) = &mut lf.kmsg_state {
            st.save(false);
        }
        if sig_ev {
            let sigs = nodistro_common::sys::read_signals(&sigfd);
            if sigs.contains(&signal::SIGUSR1) {
                lf.dump_ring();
            }
            if sigs.contains(&signal::SIGTERM) || sigs.contains(&signal::SIGINT) {
                break;
            }
        }
    }
    // Last words: what the producers already wrote, then flush the sinks.
    // Everything already queued in the socket and the pipes (bounded: a
    // producer that never stops must not keep us from exiting).
    lf.read_socket(&sock, &mut dgram, LAST_WORDS, None);
    for p in pipes.iter_mut().filter(|p| p.open || !p.pending.is_empty()) {
        lf.read_pipe(p, &mut chunk, LAST_WORDS, true, None);
    }
    lf.flush();
    drop(sock);
    let _ = std::fs::remove_file(&lf.opts.socket);
    let deadline = Instant::now() + FLUSH_TIME;
    if let Some(r) = lf.remote.take() {
        r.close(deadline);
    }
    if let Some(c) = lf.console.take() {
        c.close(deadline);
    }
    if let Some(st) = &mut lf.kmsg_state {
        st.save(true);
    }
    Ok(())
}
