//! Sinks: each has its own thread and its own bounded queue, so a slow
//! console or an unreachable server never blocks the loop that reads the
//! producers. Records wait in the queue in their compact form
//! ([`Record::to_compact`]) and are formatted for the sink ([`Encoding`])
//! straight from it when they are sent (no `Record` per record); the
//! thread takes a
//! batch, hands it to its transport, and puts back what was not delivered
//! (in order) before backing off.
//!
//! Back-pressure: while a sink delivers, [`Sink::room`] tells the reader
//! how much more it may queue before it stops reading its producers, and
//! an eventfd wakes it when the sink has drained its queue to a quarter.
//! A sink that fails or stalls gives no room limit: a dead server must not
//! stop the app, so its oldest records are dropped (and counted) instead.
//!
//! What "sent" means: on UDP, handed to the kernel by `sendto`. On TCP,
//! completely written into the connection's socket buffer; a record whose
//! frame was only partly written when the connection failed is sent again,
//! whole, on the next connection. Before each batch the connection is
//! checked for a close or reset by the server, so records are not written
//! into a connection the server already closed; bytes the kernel accepted
//! but the server never read when it died are beyond our reach.

mod encoding;
mod tcp;
mod transport;
mod udp;

pub use crate::clock::boot_ms_of;
pub use crate::core::stall::{StallReport, STALLED};
pub use encoding::{drop_notice, Encoding, Scratch};
pub use tcp::Tcp;
pub use transport::{Console, Transport};
pub use udp::Udp;

use crate::clock::now_us;
use crate::core::queue::{Batch, BoundedQueue, Frame, Popped};
use crate::core::record::Record;
use nodistro_common::timeline;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One write: up to this many records or bytes.
const BATCH_RECORDS: usize = 1024;
const BATCH_BYTES: usize = 128 * 1024;
const LINGER: Duration = Duration::from_millis(1);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

struct State {
    queue: BoundedQueue,
    /// Set at shutdown: deliver until empty or until this instant.
    deadline: Option<Instant>,
    /// The last delivery failed: the reader must not wait for room.
    failing: bool,
    /// The reader stopped reading its producers until `room` is signalled.
    waiting: bool,
    /// When the batch being written was taken (a write that takes longer
    /// than [`STALLED`] means a server that stopped reading).
    sending_since: Option<Instant>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// An eventfd the worker signals when a waiting reader may go on.
    room: OwnedFd,
}

impl Shared {
    fn signal_room(&self, st: &mut State) {
        if std::mem::take(&mut st.waiting) {
            let _ = rustix::io::write(&self.room, &1u64.to_ne_bytes());
        }
    }
}

/// How much a reader may still hand a sink before it stops reading its
/// producers ([`Sink::room`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    pub records: usize,
    /// As a queue charges them ([`crate::core::queue::Frame::cost`]).
    pub bytes: usize,
}

impl Room {
    pub fn is_full(&self) -> bool {
        self.records == 0 || self.bytes == 0
    }
}

/// Back-pressure: the reader stops reading its producers above half of a
/// queue's bounds, and goes on once the sink delivered it down to a
/// quarter. The reader stops between two lines of a read (it keeps the rest
/// of the read for later), so the other half only takes what one datagram
/// or kernel record adds.
fn room_in(q: &BoundedQueue) -> Room {
    Room {
        records: (q.max_items() / 2).saturating_sub(q.len()),
        bytes: (q.max_bytes() / 2).saturating_sub(q.bytes()),
    }
}

fn drained(q: &BoundedQueue) -> bool {
    q.len() <= q.max_items() / 4 && q.bytes() <= q.max_bytes() / 4
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running sink.
pub struct Sink {
    shared: Arc<Shared>,
    encoding: Encoding,
    thread: Option<JoinHandle<usize>>,
    name: String,
}

/// Counters of a sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    pub queued: usize,
    pub dropped: u64,
}

impl Sink {
    /// Start a sink thread with a queue of `max_items` records / `max_bytes`.
    pub fn spawn(
        transport: impl Transport,
        max_items: usize,
        max_bytes: usize,
    ) -> io::Result<Sink> {
        let room = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: BoundedQueue::new(max_items, max_bytes),
                deadline: None,
                failing: false,
                waiting: false,
                sending_since: None,
            }),
            wake: Condvar::new(),
            room,
        });
        let name = transport.describe();
        let encoding = transport.encoding();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("logfwd-sink".into())
            .spawn(move || worker(&s, transport))?;
        Ok(Sink {
            shared,
            encoding,
            thread: Some(thread),
            name,
        })
    }

    /// Queue records (taken from `records`); never blocks on the transport.
    pub fn push_many(&self, records: &mut Vec<Record>) {
        let mut batch = Batch::default();
        for r in records.drain(..) {
            batch.push(&self.encoding.encode(&r).bytes);
        }
        self.push_batch(&mut batch);
    }

    /// Queue records given in their compact form (the batch is emptied);
    /// never blocks on the transport.
    pub fn push_batch(&self, batch: &mut Batch) {
        if batch.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        // The worker sleeps without a timeout only on an empty queue.
        let was_empty = st.queue.is_empty();
        for f in batch.iter() {
            st.queue.push_bytes(f);
        }
        drop(st);
        batch.clear();
        if was_empty {
            self.shared.wake.notify_one();
        }
    }

    /// How much more the reader may queue here before it stops reading
    /// its producers; `None` while the sink fails to deliver or a write has
    /// been stalled for [`STALLED`] (a server that is down or stuck must not
    /// stop the app: the oldest records are dropped instead). When there is no room left, [`Sink::room_fd`] becomes
    /// readable once the sink delivered enough.
    pub fn room(&self) -> Option<Room> {
        let mut st = self.shared.lock();
        let stalled = st.sending_since.is_some_and(|t| t.elapsed() > STALLED);
        if st.failing || stalled || st.deadline.is_some() {
            return None;
        }
        let room = room_in(&st.queue);
        if room.is_full() {
            st.waiting = true;
        }
        Some(room)
    }

    /// Readable when a reader that found no [`Sink::room`] may go on; read
    /// it with [`Sink::take_room`].
    pub fn room_fd(&self) -> &OwnedFd {
        &self.shared.room
    }

    pub fn take_room(&self) {
        let _ = rustix::io::read(&self.shared.room, &mut [0u8; 8]);
    }

    pub fn stats(&self) -> SinkStats {
        let st = self.shared.lock();
        SinkStats {
            queued: st.queue.len(),
            dropped: st.queue.total_drops,
        }
    }

    /// Deliver what is queued until `deadline`, then stop. Returns how many
    /// records were left undelivered.
    pub fn close(mut self, deadline: Instant) -> usize {
        let mut st = self.shared.lock();
        st.deadline = Some(deadline);
        self.shared.signal_room(&mut st);
        drop(st);
        self.shared.wake.notify_all();
        let left = self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0);
        if left > 0 {
            timeline::log(
                "logfwd",
                &format!("{left} messages not delivered to {} at exit", self.name),
            );
        }
        left
    }
}

fn worker(shared: &Shared, mut transport: impl Transport) -> usize {
    let encoding = transport.encoding();
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    loop {
        let Some((batch, deadline)) = next_batch(shared, &encoding) else {
            return 0;
        };
        let sent = transport.send(&batch, deadline);
        shared.lock().sending_since = None;
        match sent {
            Ok(()) => {
                shared.lock().failing = false;
                if failing {
                    timeline::log(
                        "logfwd",
                        &format!("{}: delivering again", transport.describe()),
                    );
                }
                failing = false;
                backoff = BACKOFF_MIN;
            }
            Err((n, e)) => {
                let mut st = shared.lock();
                st.queue.unpop(batch.into_iter().skip(n));
                let left = st.queue.len();
                // A waiting reader goes on reading (and the oldest records
                // are dropped) rather than stop the app for a dead server.
                st.failing = true;
                shared.signal_room(&mut st);
                drop(st);
                if !failing {
                    timeline::log(
                        "logfwd",
                        &format!(
                            "{}: {e}; {left} messages wait in the buffer, retrying",
                            transport.describe()
                        ),
                    );
                }
                failing = true;
                let pause = match deadline {
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d {
                            return left;
                        }
                        backoff.min(d - now)
                    }
                    None => backoff,
                };
                // Sleep, but wake early at shutdown.
                let st = shared.lock();
                let _ = shared
                    .wake
                    .wait_timeout_while(st, pause, |s| s.deadline == deadline);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                return shared.lock().queue.len();
            }
        }
    }
}

/// The next batch to send and the shutdown deadline, waiting for records;
/// `None` at shutdown with nothing left.
fn next_batch(shared: &Shared, encoding: &Encoding) -> Option<(Vec<Frame>, Option<Instant>)> {
    let mut st = shared.lock();
    while st.queue.is_empty() && st.deadline.is_none() {
        st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
    }
    if st.queue.is_empty() {
        return None;
    }
    // Let a trickle gather into a batch: one write per millisecond
    // instead of one per record under load.
    if st.queue.len() < BATCH_RECORDS && st.deadline.is_none() {
        st = match shared.wake.wait_timeout(st, LINGER) {
            Ok((st, _)) => st,
            Err(e) => e.into_inner().0,
        };
    }
    let mut batch = Vec::new();
    let mut bytes = 0;
    while batch.len() < BATCH_RECORDS && bytes < BATCH_BYTES {
        let f = match st.queue.pop() {
            Some(Popped::Frame(f)) => f,
            Some(Popped::Lost(n)) => encoding.encode(&drop_notice(n, now_us())),
            None => break,
        };
        bytes += f.bytes.len();
        batch.push(f);
    }
    if drained(&st.queue) {
        shared.signal_room(&mut st);
    }
    st.sending_since = Some(Instant::now());
    Some((batch, st.deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::Source;

    /// Delivers into a shared list; the first `fail_after` calls deliver
    /// only `partial` records and then fail.
    struct Flaky {
        got: Arc<Mutex<Vec<String>>>,
        failures: usize,
        partial: usize,
    }

    fn msg(f: &Frame) -> String {
        Record::from_compact(&f.bytes).msg
    }

    impl Transport for Flaky {
        fn send(&mut self, batch: &[Frame], _: Option<Instant>) -> Result<(), (usize, io::Error)> {
            let mut got = self.got.lock().unwrap_or_else(|e| e.into_inner());
            if self.failures > 0 {
                self.failures -= 1;
                let n = self.partial.min(batch.len());
                got.extend(batch[..n].iter().map(msg));
                return Err((n, io::ErrorKind::ConnectionReset.into()));
            }
            got.extend(batch.iter().map(msg));
            Ok(())
        }

        fn describe(&self) -> String {
            "flaky".into()
        }

        fn encoding(&self) -> Encoding {
            Encoding::Console
        }
    }

    fn recs(range: std::ops::Range<usize>) -> Vec<Record> {
        range
            .map(|i| Record::new(Source::App, 1, 6, "t", i.to_string()))
            .collect()
    }

    #[test]
    fn drops_are_reported_in_the_stream() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let t = Flaky {
            got: got.clone(),
            failures: 0,
            partial: 0,
        };
        // Pushed while the worker cannot run yet: the queue keeps the last 3.
        let sink = Sink::spawn(t, 3, 1 << 20).expect("thread");
        {
            let mut st = sink.shared.lock();
            for r in recs(0..10) {
                st.queue.push(sink.encoding.encode(&r));
            }
        }
        sink.shared.wake.notify_one();
        assert_eq!(sink.close(Instant::now() + Duration::from_secs(5)), 0);
        let got = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert!(got[0].starts_with("7 messages lost"), "{got:?}");
        assert_eq!(&got[1..], ["7", "8", "9"]);
    }

    #[test]
    fn failures_mid_batch_lose_and_repeat_nothing() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let t = Flaky {
            got: got.clone(),
            failures: 2,
            partial: 3,
        };
        let sink = Sink::spawn(t, 100, 1 << 20).expect("thread");
        sink.push_many(&mut recs(0..10));
        sink.push_many(&mut recs(10..20));
        let left = sink.close(Instant::now() + Duration::from_secs(5));
        assert_eq!(left, 0);
        let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        assert_eq!(*got.lock().unwrap_or_else(|e| e.into_inner()), want);
    }

    #[test]
    fn close_gives_up_at_the_deadline_and_counts() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let t = Flaky {
            got,
            failures: usize::MAX,
            partial: 0,
        };
        let sink = Sink::spawn(t, 100, 1 << 20).expect("thread");
        sink.push_many(&mut recs(0..7));
        let left = sink.close(Instant::now() + Duration::from_millis(300));
        assert_eq!(left, 7, "returns (does not retry forever) and counts");
    }

    /// Delivers only when the test lets it (one batch per message).
    struct Gate(std::sync::mpsc::Receiver<()>);

    impl Transport for Gate {
        fn send(&mut self, _: &[Frame], _: Option<Instant>) -> Result<(), (usize, io::Error)> {
            let _ = self.0.recv();
            Ok(())
        }

        fn describe(&self) -> String {
            "gate".into()
        }

        fn encoding(&self) -> Encoding {
            Encoding::Console
        }
    }

    fn room_signalled(sink: &Sink, ms: i32) -> bool {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let mut fds = [PollFd::new(sink.room_fd(), PollFlags::IN)];
        let t = Timespec {
            tv_sec: i64::from(ms / 1000),
            tv_nsec: i64::from(ms % 1000) * 1_000_000,
        };
        matches!(poll(&mut fds, Some(&t)), Ok(1))
    }

    fn queued_becomes(sink: &Sink, n: usize) {
        let until = Instant::now() + Duration::from_secs(10);
        while sink.stats().queued != n {
            assert!(
                Instant::now() < until,
                "queue stays at {}",
                sink.stats().queued
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Issue 16: a sink that delivers but is slower than the producers
    /// makes the reader wait (room 0, then signalled) instead of dropping.
    #[test]
    fn back_pressure_while_delivering() {
        let (go, rx) = std::sync::mpsc::channel();
        let sink = Sink::spawn(Gate(rx), 8, 1 << 20).expect("thread");
        assert_eq!(sink.room().map(|r| r.records), Some(4));
        // The worker takes the first 4 and waits in its write.
        sink.push_many(&mut recs(0..4));
        queued_becomes(&sink, 0);
        sink.push_many(&mut recs(4..8));
        let r = sink.room().expect("delivering: back-pressure applies");
        assert!(r.is_full(), "{r:?}");
        assert!(
            !room_signalled(&sink, 50),
            "no room while the queue is full"
        );
        // One write completes: the worker takes the rest, the queue is
        // down to a quarter, and the reader is told to go on.
        go.send(()).expect("worker");
        assert!(room_signalled(&sink, 10_000), "room signalled");
        sink.take_room();
        assert!(!sink.room().expect("room").is_full());
        assert_eq!(sink.stats().dropped, 0);
        go.send(()).expect("worker");
        drop(go);
        assert_eq!(sink.close(Instant::now() + Duration::from_secs(5)), 0);
    }

    /// A sink that fails to deliver never makes the reader wait (the app
    /// must not stop for a dead server): no room to respect.
    #[test]
    fn a_stalled_server_is_reported_once_and_its_return_once() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = StallReport::default();
        assert_eq!(r.no_progress(ms(0), "tcp://x"), None);
        assert_eq!(r.no_progress(ms(500), "tcp://x"), None);
        // Progress restarts the clock.
        r.progress();
        assert_eq!(r.no_progress(ms(1200), "tcp://x"), None);
        let said = r.no_progress(ms(2200), "tcp://x");
        assert!(
            said.as_deref()
                .is_some_and(|s| s.starts_with("tcp://x: the server stopped reading")),
            "{said:?}"
        );
        for n in 3..100 {
            assert_eq!(r.no_progress(ms(n * 500), "tcp://x"), None, "said once");
        }
        r.progress();
        assert_eq!(
            r.delivered("tcp://x").as_deref(),
            Some("tcp://x: the server reads again")
        );
        assert_eq!(r.delivered("tcp://x"), None);
        // A delivery without a stall said nothing says nothing.
        assert_eq!(r.no_progress(ms(60_000), "tcp://x"), None);
        assert_eq!(r.delivered("tcp://x"), None);
    }

    #[test]
    fn no_back_pressure_while_failing() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let t = Flaky {
            got,
            failures: usize::MAX,
            partial: 0,
        };
        let sink = Sink::spawn(t, 8, 1 << 20).expect("thread");
        sink.push_many(&mut recs(0..8));
        let until = Instant::now() + Duration::from_secs(10);
        while sink.room().is_some() {
            assert!(Instant::now() < until, "still waits for a failing sink");
            std::thread::sleep(Duration::from_millis(1));
        }
        sink.close(Instant::now() + Duration::from_millis(100));
    }
}
