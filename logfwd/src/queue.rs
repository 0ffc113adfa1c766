//! Bounded buffers: the per-sink queue (drops the oldest when full and says
//! so once), and the ring kept for dumping on the console (`logread`).

use crate::record::Record;
use std::collections::VecDeque;

/// Bytes a record is charged in the ring: its text plus a fixed overhead.
pub fn cost(r: &Record) -> usize {
    r.msg.len() + r.app.len() + r.hostname.as_ref().map_or(0, |h| h.len()) + 96
}

/// A record as a sink will write it (a console line, a datagram, an
/// octet-counted TCP frame): formatted once when queued, so that a queue
/// holding tens of thousands of records holds one allocation each, of
/// about the size of the bytes on the wire, instead of a parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Box<[u8]>,
    /// For a drop notice: how many records it reports lost.
    pub drops: u64,
}

impl Frame {
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Self {
        Frame {
            bytes: bytes.into(),
            drops: 0,
        }
    }

    /// Bytes a frame is charged in a queue: its bytes plus its slot and
    /// the allocator's overhead.
    pub fn cost(&self) -> usize {
        self.bytes.len() + 40
    }
}

/// What [`BoundedQueue::pop`] returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped {
    Frame(Frame),
    /// This many records were dropped here (the sink says so).
    Lost(u64),
}

/// A FIFO bounded by count and by bytes. When a push would exceed either
/// bound the oldest frames are dropped and counted; the next [`pop`]
/// returns [`Popped::Lost`] with their count before the frames that follow
/// the gap.
///
/// [`pop`]: BoundedQueue::pop
#[derive(Debug)]
pub struct BoundedQueue {
    items: VecDeque<Frame>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
    /// Dropped since the last notice.
    pending_drops: u64,
    /// Dropped since start.
    pub total_drops: u64,
}

impl BoundedQueue {
    pub fn new(max_items: usize, max_bytes: usize) -> Self {
        BoundedQueue {
            items: VecDeque::new(),
            bytes: 0,
            max_items: max_items.max(1),
            max_bytes: max_bytes.max(1),
            pending_drops: 0,
            total_drops: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.pending_drops == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn drop_oldest(&mut self) {
        if let Some(old) = self.items.pop_front() {
            self.bytes -= old.cost();
            self.pending_drops += 1;
            self.total_drops += 1;
        }
    }

    /// Append, dropping the oldest frames while the queue is over a bound.
    /// Returns how many were dropped.
    pub fn push(&mut self, f: Frame) -> u64 {
        let before = self.total_drops;
        self.bytes += f.cost();
        self.items.push_back(f);
        while self.items.len() > 1
            && (self.items.len() > self.max_items || self.bytes > self.max_bytes)
        {
            self.drop_oldest();
        }
        self.total_drops - before
    }

    /// Take the next frame; after drops, first their count.
    pub fn pop(&mut self) -> Option<Popped> {
        if self.pending_drops > 0 {
            return Some(Popped::Lost(std::mem::take(&mut self.pending_drops)));
        }
        let f = self.items.pop_front()?;
        self.bytes -= f.cost();
        // A queue drained after a burst gives its memory back.
        if self.items.is_empty() && self.items.capacity() > 1024 {
            self.items.shrink_to(1024);
        }
        Some(Popped::Frame(f))
    }

    /// Put frames taken with [`BoundedQueue::pop`] but not delivered back
    /// at the front, in their order. They are not subject to the bounds
    /// again until the next push, and never counted twice. A drop notice
    /// (`drops > 0`) goes back to being a count, so that later drops add
    /// to it.
    pub fn unpop(&mut self, frames: impl DoubleEndedIterator<Item = Frame>) {
        for f in frames.rev() {
            if f.drops > 0 {
                self.pending_drops += f.drops;
                continue;
            }
            self.bytes += f.cost();
            self.items.push_front(f);
        }
    }
}

/// The last records, bounded by bytes (charged by [`cost`]).
#[derive(Debug)]
pub struct Ring {
    records: VecDeque<Record>,
    bytes: usize,
    max_bytes: usize,
}

impl Ring {
    pub fn new(max_bytes: usize) -> Self {
        Ring {
            records: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    pub fn push(&mut self, r: Record) {
        self.bytes += cost(&r);
        self.records.push_back(r);
        while self.bytes > self.max_bytes {
            match self.records.pop_front() {
                Some(old) => self.bytes -= cost(&old),
                None => break,
            }
        }
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Source;

    fn r(n: usize) -> Record {
        Record::new(Source::App, 1, 6, "a", n.to_string())
    }

    fn f(n: usize) -> Frame {
        Frame::new(n.to_string().into_bytes())
    }

    fn drain(q: &mut BoundedQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop())
            .map(|p| match p {
                Popped::Frame(f) => String::from_utf8_lossy(&f.bytes).into_owned(),
                Popped::Lost(n) => format!("lost {n}"),
            })
            .collect()
    }

    fn notice(n: u64) -> Frame {
        Frame {
            bytes: b"notice".to_vec().into(),
            drops: n,
        }
    }

    fn taken(q: &mut BoundedQueue, n: usize) -> Vec<Frame> {
        (0..n)
            .filter_map(|_| q.pop())
            .map(|p| match p {
                Popped::Frame(f) => f,
                Popped::Lost(n) => notice(n),
            })
            .collect()
    }

    #[test]
    fn fifo_within_bounds() {
        let mut q = BoundedQueue::new(10, 1 << 20);
        for i in 0..5 {
            assert_eq!(q.push(f(i)), 0);
        }
        assert_eq!(drain(&mut q), ["0", "1", "2", "3", "4"]);
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn drops_oldest_and_reports_once() {
        let mut q = BoundedQueue::new(3, 1 << 20);
        let dropped: u64 = (0..7).map(|i| q.push(f(i))).sum();
        assert_eq!(dropped, 4);
        assert_eq!(q.total_drops, 4);
        assert_eq!(drain(&mut q), ["lost 4", "4", "5", "6"]);
        q.push(f(9));
        assert_eq!(drain(&mut q), ["9"]);
    }

    #[test]
    fn byte_bound() {
        let mut q = BoundedQueue::new(1000, 3 * f(0).cost());
        for i in 0..10 {
            q.push(f(i));
        }
        assert_eq!(q.len(), 3);
        assert!(q.bytes() <= 3 * f(0).cost());
    }

    #[test]
    fn unpop_restores_order() {
        let mut q = BoundedQueue::new(10, 1 << 20);
        for i in 0..4 {
            q.push(f(i));
        }
        let t = taken(&mut q, 3);
        q.unpop(t.into_iter().skip(1));
        assert_eq!(drain(&mut q), ["1", "2", "3"]);
    }

    #[test]
    fn unpopped_notice_keeps_counting() {
        let mut q = BoundedQueue::new(2, 1 << 20);
        for i in 0..4 {
            q.push(f(i));
        }
        let t = taken(&mut q, 3);
        assert_eq!(t[0].drops, 2);
        q.unpop(t.into_iter());
        q.push(f(4));
        assert_eq!(drain(&mut q), ["lost 3", "3", "4"]);
    }

    #[test]
    fn drained_queue_gives_memory_back() {
        let mut q = BoundedQueue::new(100_000, usize::MAX);
        for i in 0..50_000 {
            q.push(f(i));
        }
        assert_eq!(drain(&mut q).len(), 50_000);
        assert!(q.items.capacity() <= 1024, "{}", q.items.capacity());
    }

    #[test]
    fn ring_keeps_newest() {
        let mut ring = Ring::new(2 * cost(&r(0)));
        for i in 0..5 {
            ring.push(r(i));
        }
        let kept: Vec<_> = ring.records().map(|r| r.msg.as_str()).collect();
        assert_eq!(kept, ["3", "4"]);
    }
}
