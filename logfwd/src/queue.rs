//! Bounded buffers: the per-sink queue (drops the oldest when full and says
//! so once), and the ring kept for dumping on the console (`logread`).

use crate::record::{Record, Source, FACILITY_SYSLOG};
use std::collections::VecDeque;

/// Bytes a record is charged in a buffer: its text plus a fixed overhead.
pub fn cost(r: &Record) -> usize {
    r.msg.len() + r.app.len() + r.hostname.as_ref().map_or(0, |h| h.len()) + 96
}

/// A FIFO bounded by count and by bytes. When a push would exceed either
/// bound the oldest records are dropped and counted; the next [`pop`]
/// returns one notice saying how many were lost before the records that
/// follow the gap.
///
/// [`pop`]: BoundedQueue::pop
#[derive(Debug)]
pub struct BoundedQueue {
    items: VecDeque<Record>,
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
            self.bytes -= cost(&old);
            self.pending_drops += 1;
            self.total_drops += 1;
        }
    }

    /// Append, dropping the oldest records while the queue is over a bound.
    /// Returns how many were dropped.
    pub fn push(&mut self, r: Record) -> u64 {
        let before = self.total_drops;
        self.bytes += cost(&r);
        self.items.push_back(r);
        while self.items.len() > 1
            && (self.items.len() > self.max_items || self.bytes > self.max_bytes)
        {
            self.drop_oldest();
        }
        self.total_drops - before
    }

    /// Take the next record; after drops, first a notice counting them.
    pub fn pop(&mut self, now_us: u64) -> Option<Record> {
        if self.pending_drops > 0 {
            let n = std::mem::take(&mut self.pending_drops);
            let mut notice = Record::new(
                Source::Internal,
                FACILITY_SYSLOG,
                4,
                "logfwd",
                format!("{n} messages lost: buffer full (logfwd.buffer; is the console or the remote slow or down?)"),
            );
            notice.time_us = now_us;
            notice.drops = n;
            return Some(notice);
        }
        let r = self.items.pop_front()?;
        self.bytes -= cost(&r);
        Some(r)
    }

    /// Put records taken with [`BoundedQueue::pop`] but not delivered back
    /// at the front, in their order. They are not subject to the bounds
    /// again until the next push, and never counted twice. A drop notice
    /// goes back to being a count, so that later drops add to it.
    pub fn unpop(&mut self, records: impl DoubleEndedIterator<Item = Record>) {
        for r in records.rev() {
            if r.drops > 0 {
                self.pending_drops += r.drops;
                continue;
            }
            self.bytes += cost(&r);
            self.items.push_front(r);
        }
    }
}

/// The last records, bounded by bytes (charged as in [`BoundedQueue`]).
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

    fn r(n: usize) -> Record {
        Record::new(Source::App, 1, 6, "a", n.to_string())
    }

    fn drain(q: &mut BoundedQueue) -> Vec<String> {
        std::iter::from_fn(|| q.pop(0)).map(|r| r.msg).collect()
    }

    #[test]
    fn fifo_within_bounds() {
        let mut q = BoundedQueue::new(10, 1 << 20);
        for i in 0..5 {
            assert_eq!(q.push(r(i)), 0);
        }
        assert_eq!(drain(&mut q), ["0", "1", "2", "3", "4"]);
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn drops_oldest_and_reports_once() {
        let mut q = BoundedQueue::new(3, 1 << 20);
        let dropped: u64 = (0..7).map(|i| q.push(r(i))).sum();
        assert_eq!(dropped, 4);
        assert_eq!(q.total_drops, 4);
        let out = drain(&mut q);
        assert!(out[0].starts_with("4 messages lost"), "{out:?}");
        assert_eq!(&out[1..], ["4", "5", "6"]);
        q.push(r(9));
        assert_eq!(drain(&mut q), ["9"]);
    }

    #[test]
    fn byte_bound() {
        let mut q = BoundedQueue::new(1000, 3 * cost(&r(0)));
        for i in 0..10 {
            q.push(r(i));
        }
        assert_eq!(q.len(), 3);
        assert!(q.bytes() <= 3 * cost(&r(0)));
    }

    #[test]
    fn unpop_restores_order() {
        let mut q = BoundedQueue::new(10, 1 << 20);
        for i in 0..4 {
            q.push(r(i));
        }
        let taken: Vec<_> = (0..3).filter_map(|_| q.pop(0)).collect();
        q.unpop(taken.into_iter().skip(1));
        assert_eq!(drain(&mut q), ["1", "2", "3"]);
    }

    #[test]
    fn unpopped_notice_keeps_counting() {
        let mut q = BoundedQueue::new(2, 1 << 20);
        for i in 0..4 {
            q.push(r(i));
        }
        let taken: Vec<_> = (0..3).filter_map(|_| q.pop(0)).collect();
        assert_eq!(taken[0].drops, 2);
        q.unpop(taken.into_iter());
        q.push(r(4));
        let out = drain(&mut q);
        assert!(out[0].starts_with("3 messages lost"), "{out:?}");
        assert_eq!(&out[1..], ["3", "4"]);
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
