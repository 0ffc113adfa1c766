//! The hash for module-name maps and sets: rustc-hash's FxHasher (names
//! are short and many; SipHash costs more than the rest of a lookup, and
//! the current FxHasher mixes every byte of 8-byte names, which the old
//! hand copy here did not: 160,000 such names took 3 s to index).

use std::collections::{HashMap, HashSet};

pub(crate) type FxMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;
pub(crate) type FxSet<K> = HashSet<K, rustc_hash::FxBuildHasher>;

pub(crate) fn hash_name(name: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15, defect 8: names that differ only in their 8 bytes must not
    /// share hashes (the old hash sent 160,000 of them into few buckets).
    #[test]
    fn eight_byte_names_spread() {
        let n = 100_000u32;
        let hashes: FxSet<u64> = (0..n).map(|i| hash_name(&format!("m{i:07}"))).collect();
        assert_eq!(hashes.len(), n as usize, "collisions among {n} names");
        // The low bits pick the bucket: they must vary too.
        let low: FxSet<u64> = (0..n)
            .map(|i| hash_name(&format!("m{i:07}")) & 0xffff)
            .collect();
        assert!(
            low.len() > 30_000,
            "only {} distinct low 16 bits",
            low.len()
        );
    }
}
