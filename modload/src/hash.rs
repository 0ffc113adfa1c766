//! The hash for module-name maps: names are short and many; SipHash costs
//! more than the rest of a lookup.

use std::collections::HashMap;

pub(crate) fn hash_name(name: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = Fx::default();
    h.write(name.as_bytes());
    h.finish()
}

/// FxHash: module names are short and trusted enough; SipHash costs more
/// than the rest of a lookup.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mix = |h: u64, v: u64| (h.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = mix(self.0, u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.0 = mix(self.0, u64::from(b));
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;
