//! Reading the sources: kernel records from /dev/kmsg (or a `--kmsg`
//! file), datagrams from the syslog socket, the app's lines from its
//! pipes, each bounded per wake-up and stopped while the remote has no
//! room.

use super::{Logfwd, BURST, MAX_KMSG_CARRY};
use crate::clock::now_us;
use crate::core::kmsg::split_records;
use crate::core::lines::CONT_MARK;
use crate::core::record::{Source, View, FACILITY_USER};
use crate::core::syslog::parse_datagram;
use crate::inherited::AppPipe;
use crate::sink::Room;
use rustix::io::Errno;
use std::borrow::Cow;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;

impl Logfwd {
    /// Read kernel records; false at the end of a file given as `--kmsg`
    /// (/dev/kmsg itself never ends).
    pub(super) fn read_kmsg(&mut self, fd: &OwnedFd, buf: &mut [u8]) -> bool {
        for _ in 0..BURST {
            match rustix::io::read(fd, &mut *buf) {
                Ok(0) => {
                    self.kmsg_records(true);
                    return false;
                }
                Ok(n) => {
                    self.kmsg_carry.extend_from_slice(&buf[..n]);
                    self.kmsg_records(false);
                }
                Err(Errno::AGAIN) => break,
                // Our position was overwritten; the next read continues at
                // the oldest record and the sequence gap says how many.
                Err(Errno::PIPE) => self.kmsg_overruns += 1,
                Err(Errno::INTR) => {}
                Err(e) => {
                    self.notice(format!("reading kernel messages failed: {e}"));
                    break;
                }
            }
        }
        // /dev/kmsg gives whole records: nothing is left half read.
        self.kmsg_records(true);
        true
    }

    /// Parse the records in `kmsg_carry`; the last one only if `all` (it
    /// may continue in the next read of a file).
    fn kmsg_records(&mut self, all: bool) {
        let carry = std::mem::take(&mut self.kmsg_carry);
        let mut records: Vec<&[u8]> = split_records(&carry).collect();
        let keep = match all {
            true => None,
            false => records.pop(),
        };
        for raw in records {
            match self.kmsg_parser.parse(raw, self.boot_wall_us) {
                Ok(k) if k.seen => {}
                Ok(k) => {
                    if k.gap > 0 {
                        self.notice(format!(
                            "{} kernel messages lost (kernel log buffer overrun)",
                            k.gap
                        ));
                    }
                    self.kmsg_last = Some(k.seq);
                    self.emit(k.record);
                }
                Err(e) => self.notice(format!("kernel record skipped: {e}")),
            }
        }
        let mut carry_next = keep.map(<[u8]>::to_vec).unwrap_or_default();
        // A "record" without a record's end in a file: bounded all the same.
        if carry_next.len() > MAX_KMSG_CARRY {
            carry_next.clear();
        }
        self.kmsg_carry = carry_next;
    }

    pub(super) fn read_socket(
        &mut self,
        sock: &UnixDatagram,
        buf: &mut [u8],
        limit: usize,
        room: Option<Room>,
    ) {
        for _ in 0..limit {
            if self.remote_full(room) {
                return;
            }
            match sock.recv(buf) {
                Ok(n) => {
                    if n == buf.len() {
                        self.truncated += 1;
                    }
                    let r = parse_datagram(&buf[..n], now_us());
                    self.emit_split(r);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.notice(format!("reading the syslog socket failed: {e}"));
                    return;
                }
            }
        }
    }

    /// Read what the app wrote; `last` also flushes a partial last line
    /// (shutdown: the pipe stays open in init, so no EOF will come).
    pub(super) fn read_pipe(
        &mut self,
        p: &mut AppPipe,
        buf: &mut [u8],
        limit: usize,
        last: bool,
        room: Option<Room>,
    ) {
        // First what an earlier read left when the sink had no room.
        if !p.pending.is_empty() {
            let pending = std::mem::take(&mut p.pending);
            let used = self.feed_pipe(p, &pending, p.pending_time, room);
            p.pending = pending;
            p.pending.drain(..used);
        }
        for _ in 0..limit {
            if !p.pending.is_empty() || self.remote_full(room) {
                break;
            }
            match rustix::io::read(&p.fd, &mut *buf) {
                Ok(0) => {
                    p.open = false;
                    break;
                }
                Ok(n) => {
                    // The lines of one read arrived together: one clock reading.
                    let now = now_us();
                    let used = self.feed_pipe(p, &buf[..n], now, room);
                    if used < n {
                        p.pending.extend_from_slice(&buf[used..n]);
                        p.pending_time = now;
                    }
                }
                Err(Errno::AGAIN) => break,
                Err(Errno::INTR) => {}
                Err(e) => {
                    p.open = false;
                    self.notice(format!("reading the app's output failed: {e}"));
                    break;
                }
            }
        }
        if (last || !p.open) && p.pending.is_empty() {
            if let Some(line) = p.splitter.finish() {
                self.app_line(line.text.as_bytes(), line.cut, now_us(), p.severity);
            }
        }
    }

    /// Split `data` into the app's lines until the remote has no `room`
    /// left; how many bytes were taken.
    fn feed_pipe(&mut self, p: &mut AppPipe, data: &[u8], now: u64, room: Option<Room>) -> usize {
        let severity = p.severity;
        p.splitter.feed_until(data, |bytes, cut| {
            self.app_line(bytes, cut, now, severity);
            !self.remote_full(room)
        })
    }

    /// One line of the app's output, without a `Record` (no allocation
    /// when it is valid UTF-8 and not cut).
    fn app_line(&mut self, bytes: &[u8], cut: bool, now: u64, severity: u8) {
        let mut msg = crate::core::record::lossy(bytes);
        if cut {
            msg.to_mut().push_str(CONT_MARK);
        }
        let app = std::mem::take(&mut self.app_name);
        self.emit_view(&View {
            source: Source::App,
            facility: FACILITY_USER,
            severity,
            time_us: now,
            hostname: None,
            app: Cow::Borrowed(&app),
            pid: None,
            msgid: None,
            sd: None,
            msg,
        });
        self.app_name = app;
    }
}
