//! `ping ADDR`: four ICMP echo requests on a raw socket, a second apart,
//! each answered, refused or unanswered within its second; Ctrl-C stops.
//! The packets and the lines are core::icmp's.

use super::Console;
use crate::core::icmp;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{self, AddressFamily, SocketAddrV4, SocketFlags, SocketType};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Requests sent.
const TRIES: u16 = 4;
/// The time each request gets, and the interval between them.
const SECOND: Duration = Duration::from_secs(1);

/// How a try ended.
enum Try {
    Over,
    Interrupted,
}

/// One `ping`: the socket and the counts for the summary.
struct Ping<'c> {
    console: &'c Console,
    to: Ipv4Addr,
    sock: OwnedFd,
    id: u16,
    sent: u32,
    got: u32,
    /// Round trips of the answers, in microseconds.
    rtts: Vec<u64>,
    buf: [u8; 1500],
}

impl Console {
    pub(super) fn ping(&self, to: Ipv4Addr) {
        let Some(mut p) = Ping::open(self, to) else {
            return;
        };
        p.tries();
        self.out(&format!("{}\n", icmp::summary(to, p.sent, p.got, &p.rtts)));
    }
}

impl<'c> Ping<'c> {
    fn open(console: &'c Console, to: Ipv4Addr) -> Option<Self> {
        let sock = match net::socket_with(
            AddressFamily::INET,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(net::ipproto::ICMP),
        ) {
            Ok(s) => s,
            Err(e) => {
                console.out(&format!("error: cannot open an ICMP socket: {e}\n"));
                return None;
            }
        };
        Some(Ping {
            console,
            to,
            sock,
            id: (std::process::id() & 0xffff) as u16,
            sent: 0,
            got: 0,
            rtts: Vec::new(),
            buf: [0; 1500],
        })
    }

    /// The tries, a second apart, until the last or Ctrl-C.
    fn tries(&mut self) {
        for seq in 1..=TRIES {
            let t0 = Instant::now();
            if self.send(seq) {
                if let Try::Interrupted = self.await_answer(seq, t0) {
                    return;
                }
            }
            if seq < TRIES
                && self
                    .console
                    .interrupted(SECOND.saturating_sub(t0.elapsed()))
            {
                self.console.out("^C\n");
                return;
            }
        }
    }

    fn send(&mut self, seq: u16) -> bool {
        let req = icmp::echo_request(self.id, seq);
        let dest = SocketAddrV4::new(self.to, 0);
        match net::sendto(&self.sock, &req, net::SendFlags::empty(), &dest) {
            Ok(_) => {
                self.sent += 1;
                true
            }
            Err(e) => {
                let to = self.to;
                self.console
                    .out(&format!("{to}: seq {seq}: cannot send: {e}\n"));
                false
            }
        }
    }

    /// Wait for what answers request `seq` (sent at `t0`) until its second
    /// is over.
    fn await_answer(&mut self, seq: u16, t0: Instant) -> Try {
        let deadline = t0 + SECOND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let to = self.to;
                self.console
                    .out(&format!("{to}: seq {seq}: no answer within 1 s\n"));
                return Try::Over;
            }
            let (sin, cin) = self.poll(left);
            if cin && self.console.interrupted(Duration::ZERO) {
                self.console.out("^C\n");
                return Try::Interrupted;
            }
            if sin && self.receive(seq, t0) {
                return Try::Over;
            }
        }
    }

    /// Wait up to `left` for the socket or the console: which is readable.
    fn poll(&self, left: Duration) -> (bool, bool) {
        let mut p = [
            PollFd::new(&self.sock, PollFlags::IN),
            PollFd::new(&self.console.fd, PollFlags::IN),
        ];
        let t = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let _ = poll(&mut p, Some(&t));
        (!p[0].revents().is_empty(), !p[1].revents().is_empty())
    }

    /// Read a packet; true when it ends try `seq` (its answer, or an
    /// error about it), which is then printed.
    fn receive(&mut self, seq: u16, t0: Instant) -> bool {
        let Ok((n, _)) = net::recv(&self.sock, &mut self.buf[..], net::RecvFlags::DONTWAIT) else {
            return false;
        };
        let Some(reply) = icmp::parse(&self.buf[..n.min(self.buf.len())], self.id) else {
            return false;
        };
        let us = t0.elapsed().as_micros() as u64;
        let Some(answer) = icmp::answer(self.to, seq, &reply, us) else {
            return false;
        };
        if let Some(rtt) = answer.rtt_us {
            self.got += 1;
            self.rtts.push(rtt);
        }
        self.console.out(&answer.line);
        true
    }
}
