//! Bounded buffers: the per-sink queue (drops the oldest when full and says
//! so once), and the ring kept for dumping on the console (`logread`).

use crate::core::record::Record;
use std::collections::VecDeque;

/// A record as a sink will write it (a console line, a datagram, an
/// octet-counted TCP frame): formatted once when queued.
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

    /// Bytes a frame is charged in a queue: its bytes and its end offset.
    pub fn cost(&self) -> usize {
        self.bytes.len() + 8
    }
}

/// What [`BoundedQueue::pop`] returns.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped {
    Frame(Frame),
    /// This many records were dropped here (the sink says so).
    Lost(u64),
}

/// Records in their compact form, back to back: what the reader gathers
/// in one wake-up and hands to a sink in one go (no allocation per record).
#[derive(Debug, Default)]
pub struct Batch {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    pub fn push(&mut self, compact: &[u8]) {
        self.data.extend_from_slice(compact);
        self.ends.push(self.data.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes held, as a queue charges them ([`Frame::cost`]).
    pub fn cost(&self) -> usize {
        self.data.len() + 8 * self.ends.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .filter_map(|(a, b)| self.data.get(a..b))
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }
}

/// Bytes of frames stored back to back in one allocation.
const CHUNK: usize = 64 * 1024;

/// Frames back to back: a queue of tens of thousands of frames is a few
/// dozen allocations, and a frame costs its bytes plus 4.
#[derive(Debug)]
struct Chunk {
    data: Vec<u8>,
    /// End offset of each frame in `data`.
    ends: Vec<u32>,
    /// Frames before this index were taken.
    head: usize,
}

impl Chunk {
    fn with_capacity(bytes: usize) -> Self {
        Chunk {
            data: Vec::with_capacity(bytes),
            ends: Vec::new(),
            head: 0,
        }
    }

    fn fits(&self, n: usize) -> bool {
        self.data.len() + n <= self.data.capacity() && self.data.len() + n <= u32::MAX as usize
    }

    fn append(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len() as u32);
    }

    /// The first frame left (the chunk is not empty).
    fn take(&mut self) -> Option<Box<[u8]>> {
        let end = *self.ends.get(self.head)? as usize;
        let start = match self.head {
            0 => 0,
            i => self.ends[i - 1] as usize,
        };
        self.head += 1;
        self.data.get(start..end).map(Into::into)
    }

    fn is_empty(&self) -> bool {
        self.head >= self.ends.len()
    }
}

/// A FIFO bounded by count and by bytes. When a push would exceed either
/// bound the oldest frames are dropped and counted; the next [`pop`]
/// returns [`Popped::Lost`] with their count before the frames that follow
/// the gap.
///
/// [`pop`]: BoundedQueue::pop
#[derive(Debug)]
pub struct BoundedQueue {
    chunks: VecDeque<Chunk>,
    len: usize,
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
            chunks: VecDeque::new(),
            len: 0,
            bytes: 0,
            max_items: max_items.max(1),
            max_bytes: max_bytes.max(1),
            pending_drops: 0,
            total_drops: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.pending_drops == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn max_items(&self) -> usize {
        self.max_items
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    fn take_front(&mut self) -> Option<Box<[u8]>> {
        loop {
            let front = self.chunks.front_mut()?;
            let taken = front.take();
            if front.is_empty() {
                self.chunks.pop_front();
            }
            if let Some(bytes) = taken {
                self.len -= 1;
                self.bytes -= bytes.len() + 8;
                return Some(bytes);
            }
        }
    }

    /// Append, dropping the oldest frames while the queue is over a bound.
    /// Returns how many were dropped.
    pub fn push(&mut self, f: Frame) -> u64 {
        self.push_bytes(&f.bytes)
    }

    /// [`BoundedQueue::push`] of a frame's bytes, copied in place.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> u64 {
        let before = self.total_drops;
        let n = bytes.len();
        match self.chunks.back_mut() {
            Some(c) if c.fits(n) => c.append(bytes),
            _ => {
                let mut c = Chunk::with_capacity(n.max(CHUNK));
                c.append(bytes);
                self.chunks.push_back(c);
            }
        }
        self.len += 1;
        self.bytes += n + 8;
        while self.len > 1 && (self.len > self.max_items || self.bytes > self.max_bytes) {
            if self.take_front().is_some() {
                self.pending_drops += 1;
                self.total_drops += 1;
            }
        }
        self.total_drops - before
    }

    /// The frames queued, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().flat_map(|c| {
            (c.head..c.ends.len()).filter_map(|i| {
                let start = if i == 0 { 0 } else { c.ends[i - 1] as usize };
                c.data.get(start..c.ends[i] as usize)
            })
        })
    }

    /// Take the next frame; after drops, first their count.
    pub fn pop(&mut self) -> Option<Popped> {
        if self.pending_drops > 0 {
            return Some(Popped::Lost(std::mem::take(&mut self.pending_drops)));
        }
        self.take_front()
            .map(|bytes| Popped::Frame(Frame::new(bytes)))
    }

    /// Put frames taken with [`BoundedQueue::pop`] but not delivered back
    /// at the front, in their order. They are not subject to the bounds
    /// again until the next push, and never counted twice. A drop notice
    /// (`drops > 0`) goes back to being a count, so that later drops add
    /// to it.
    pub fn unpop(&mut self, frames: impl DoubleEndedIterator<Item = Frame>) {
        let mut back = Vec::new();
        for f in frames {
            if f.drops > 0 {
                self.pending_drops += f.drops;
                continue;
            }
            back.push(f);
        }
        if back.is_empty() {
            return;
        }
        let mut c = Chunk::with_capacity(back.iter().map(|f| f.bytes.len()).sum());
        for f in &back {
            c.append(&f.bytes);
            self.len += 1;
            self.bytes += f.cost();
        }
        self.chunks.push_front(c);
    }
}

/// The last records (`logread`, the ring dump), bounded by bytes: each is
/// charged its compact form plus 8.
#[derive(Debug)]
pub struct Ring {
    /// Records in their compact form ([`crate::core::record::View::write_compact`]).
    q: BoundedQueue,
}

impl Ring {
    pub fn new(max_bytes: usize) -> Self {
        Ring {
            q: BoundedQueue::new(usize::MAX, max_bytes),
        }
    }

    /// Keep a record given in its compact form, forgetting the oldest ones
    /// past the byte bound.
    pub fn push(&mut self, compact: &[u8]) {
        self.q.push_bytes(compact);
    }

    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.q.iter().map(Record::from_compact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record::Source;

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
    fn chunks_are_freed_and_large_frames_fit() {
        let mut q = BoundedQueue::new(100_000, usize::MAX);
        for i in 0..50_000 {
            q.push(f(i));
        }
        q.push(Frame::new(vec![b'x'; 3 * CHUNK]));
        q.push(f(7));
        assert!(q.chunks.len() < 10, "{}", q.chunks.len());
        let out = drain(&mut q);
        assert_eq!(out.len(), 50_002);
        assert_eq!(out[49_999], "49999");
        assert_eq!(out[50_000].len(), 3 * CHUNK);
        assert_eq!(out[50_001], "7");
        assert!(q.chunks.is_empty() && q.bytes() == 0 && q.is_empty());
    }

    #[test]
    fn empty_frames_are_frames() {
        let mut q = BoundedQueue::new(10, 1 << 20);
        q.push(f(1));
        q.push(Frame::new(Vec::new()));
        q.push(f(2));
        assert_eq!(drain(&mut q), ["1", "", "2"]);
    }

    #[test]
    fn batch_keeps_frames_apart_and_in_order() {
        let mut b = Batch::default();
        assert!(b.is_empty());
        for m in ["one", "", "three"] {
            b.push(m.as_bytes());
        }
        let got: Vec<&[u8]> = b.iter().collect();
        assert_eq!(got, [&b"one"[..], b"", b"three"]);
        assert_eq!((b.len(), b.cost()), (3, 8 + 3 * 8));
        let mut q = BoundedQueue::new(10, 1 << 20);
        for f in b.iter() {
            q.push_bytes(f);
        }
        assert_eq!(q.iter().collect::<Vec<_>>(), got);
        assert_eq!(drain(&mut q), ["one", "", "three"]);
        b.clear();
        assert_eq!(b.iter().count(), 0);
    }

    #[test]
    fn ring_keeps_newest() {
        let mut ring = Ring::new(2 * (r(0).to_compact().len() + 8));
        for i in 0..5 {
            ring.push(&r(i).to_compact());
        }
        let kept: Vec<_> = ring.records().map(|r| r.msg).collect();
        assert_eq!(kept, ["3", "4"]);
    }
}
