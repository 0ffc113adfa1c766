//! The aliases of one batch of lookups, sorted so that a pattern's literal
//! prefix finds the queries it may match by binary search; and the two-byte
//! buckets the text scan groups modules.alias lines by.

use crate::core::fnmatch::{fnmatch, literal_prefix};

/// Aliases being resolved together, sorted so that those starting with a
/// pattern's literal prefix form one contiguous run.
pub(crate) struct Queries<'a> {
    pub(crate) sorted: Vec<(&'a [u8], usize)>,
    /// Bit per value of a query's first two bytes: most patterns are
    /// rejected by one lookup.
    first2: Vec<u64>,
}

fn first2(s: &[u8]) -> usize {
    usize::from(s[0]) << 8 | usize::from(s[1])
}

impl<'a> Queries<'a> {
    pub(crate) fn new(items: impl Iterator<Item = (&'a [u8], usize)>) -> Self {
        let mut sorted: Vec<(&[u8], usize)> = items.collect();
        sorted.sort_unstable();
        let mut bits = vec![0u64; 1024];
        for (q, _) in &sorted {
            if q.len() >= 2 {
                let k = first2(q);
                bits[k / 64] |= 1 << (k % 64);
            }
        }
        Queries {
            sorted,
            first2: bits,
        }
    }

    /// Cheap pre-check on a raw pattern's first two bytes (`false`: no
    /// query can match it).
    pub(crate) fn may_match(&self, pat: &[u8]) -> bool {
        match pat {
            [a, b, ..] if !b"*?[\\-".contains(a) && !b"*?[\\-".contains(b) => {
                let k = first2(pat);
                self.first2[k / 64] & (1 << (k % 64)) != 0
            }
            _ => true,
        }
    }

    /// Call `hit(query index)` for every query the (normalised) pattern
    /// matches.
    pub(crate) fn match_pattern(&self, pat: &[u8], mut hit: impl FnMut(usize)) {
        let lp = literal_prefix(pat);
        if lp.len() >= 2 {
            let k = first2(lp);
            if self.first2[k / 64] & (1 << (k % 64)) == 0 {
                return;
            }
        }
        let start = self.sorted.partition_point(|(q, _)| *q < lp);
        for &(q, i) in &self.sorted[start..] {
            if !q.starts_with(lp) {
                break;
            }
            if (lp.len() == pat.len() && q.len() == lp.len())
                || (lp.len() < pat.len() && fnmatch(pat, q))
            {
                hit(i);
            }
        }
    }
}

/// The first two bytes of a pattern or alias as a bucket number; 0 (no
/// bucket: every query must look) when they hold a wildcard or `-`.
pub(crate) fn bucket(s: &[u8]) -> u16 {
    match s {
        [a, b, ..] if !b"*?[\\-".contains(a) && !b"*?[\\-".contains(b) => {
            u16::from(*a) << 8 | u16::from(*b)
        }
        _ => 0,
    }
}
