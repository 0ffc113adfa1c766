//! Fuzz harnesses for common's parsers (the kernel command line,
//! `/etc/nodistro.conf`, HTTP response heads, rtnetlink acks) and the stable stand-in every
//! crate's fuzz test uses: [`inputs`] gives a target's kept corpus plus
//! truncations and byte flips of each input, so CI (stable, no libFuzzer)
//! runs each harness function over what the fuzzer found, and
//! [`mutations`] (on a [`Rng`]) gives random edits of valid seeds for the
//! tests that go further than the kept corpus.
//!
//! Layout: `<crate>/fuzz/fuzz_targets/<target>.rs` calls a harness function
//! `<crate>::fuzzing::<target>`; `<crate>/fuzz/corpus/<target>/` holds the
//! seeds and every crash input `bench/fuzz.sh` found (kept, not the whole
//! working corpus).

use crate::{http, netlink, Cmdline, Config};

/// The kernel command line and the configuration file from the same
/// bytes, merged as the tools merge them. Rendering what parsed reads back
/// the same entries.
#[doc(hidden)]
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let cmdline = Cmdline::parse(&text);
    for p in cmdline.params() {
        let _ = cmdline.get(&p.key);
    }
    let (mut cfg, _warnings) = Config::parse(&text);
    if let Ok(rendered) = cfg.render() {
        assert_eq!(Config::parse(&rendered).0, cfg, "render/parse round trip");
    }
    cfg.override_with(&cmdline, &["ip", "hostname"]);
    for (k, _) in cfg.entries() {
        let _ = cfg.get_bool(k);
        let _ = cfg.get_parsed::<u64>(k);
    }
}

/// A server's answer, under a small and a large cap: a head found lies
/// within the cap and within the bytes given.
#[doc(hidden)]
pub fn http_head(data: &[u8]) {
    for max in [64, 16 * 1024] {
        if let Ok(Some(h)) = http::parse_head(data, max) {
            assert!(h.len <= data.len() && h.len <= max + 4, "head past its end");
        }
    }
}

/// An rtnetlink reply as the kernel (or anyone on the socket) sends it.
#[doc(hidden)]
pub fn netlink_ack(data: &[u8]) {
    for seq in [0, 1, u32::MAX] {
        let _ = netlink::parse_ack(data, seq);
    }
}

/// Every input the stable test feeds target `target` of the crate at
/// `manifest_dir` (its `CARGO_MANIFEST_DIR`): each file of
/// `fuzz/corpus/<target>/` and each of `seeds`, each also truncated at
/// every length up to 64 bytes and beyond in steps, and with single bytes
/// flipped. Panics if the corpus directory is missing (a target without
/// kept seeds is a mistake).
pub fn inputs(manifest_dir: &str, target: &str, seeds: &[&[u8]]) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(manifest_dir)
        .join("fuzz/corpus")
        .join(target);
    let mut base: Vec<Vec<u8>> = seeds.iter().map(|s| s.to_vec()).collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    base.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
    let mut out = Vec::new();
    for b in &base {
        out.push(b.clone());
        let cuts = (0..b.len().min(64)).chain((64..b.len()).step_by(b.len() / 32 + 1));
        out.extend(cuts.map(|n| b[..n].to_vec()));
        for (i, flip) in (0..b.len())
            .step_by(b.len() / 64 + 1)
            .zip([0xff, 0x80, 0x01, 0x7f].iter().cycle())
        {
            let mut m = b.clone();
            m[i] ^= flip;
            out.push(m);
        }
    }
    out
}

/// A small deterministic xorshift64 generator: the stable fuzz tests'
/// source of mutations (the same sequence every run, no crate).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Rng(0x9e37_79b9_7f4a_7c15)
    }
}

impl Rng {
    pub fn new() -> Rng {
        Rng::default()
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A byte: from `alphabet` half the time when it is not empty (the
    /// bytes a format gives meaning to), else any.
    pub fn byte(&mut self, alphabet: &[u8]) -> u8 {
        if !alphabet.is_empty() && self.next().is_multiple_of(2) {
            alphabet[self.below(alphabet.len())]
        } else {
            self.next() as u8
        }
    }

    /// One to eight random edits of `m`, each a byte replaced (see
    /// [`Rng::byte`]), a bit flipped, a cut (never to empty) or a byte
    /// inserted. An empty `m` only grows.
    pub fn mutate(&mut self, m: &mut Vec<u8>, alphabet: &[u8]) {
        for _ in 0..1 + self.next() % 8 {
            if m.is_empty() {
                m.push(self.byte(alphabet));
                continue;
            }
            let at = self.below(m.len());
            match self.next() % 4 {
                0 => m[at] = self.byte(alphabet),
                1 => m[at] ^= 1 << (self.next() % 8),
                2 => m.truncate(at.max(1)),
                _ => {
                    let b = self.byte(alphabet);
                    m.insert(at, b)
                }
            }
        }
    }
}

/// `n` mutants of `seeds` (taken in turn, each [`Rng::mutate`]d), passed
/// to `each` with their number: the stable stand-in for a fuzzer run over
/// valid inputs. Panics if `seeds` is empty.
pub fn mutations<S: AsRef<[u8]>>(
    seeds: &[S],
    n: usize,
    alphabet: &[u8],
    mut each: impl FnMut(usize, &[u8]),
) {
    assert!(!seeds.is_empty(), "mutations need at least one seed");
    let mut rng = Rng::new();
    for i in 0..n {
        let mut m = seeds[i % seeds.len()].as_ref().to_vec();
        rng.mutate(&mut m, alphabet);
        each(i, &m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harnesses_over_the_corpora() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let config_seeds: &[&[u8]] = &[
            b"init.app=/app/x\ninit.arg=-v\n# c\nbad line\n k = v\r\n",
            b"console=ttyS0 ip=dhcp \"init.env=A=b c\" -- single",
        ];
        for i in inputs(dir, "config", config_seeds) {
            config(&i);
        }
        let ack = [
            &36u32.to_ne_bytes()[..],
            &2u16.to_ne_bytes(),
            &[0; 2],
            &1u32.to_ne_bytes(),
            &[0; 4],
            &(-17i32).to_ne_bytes(),
            &[0; 16],
        ]
        .concat();
        let head: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        for i in inputs(dir, "http_head", &[head]) {
            http_head(&i);
        }
        for i in inputs(dir, "netlink_ack", &[&ack]) {
            netlink_ack(&i);
        }
    }

    #[test]
    fn mutations_are_deterministic_edits_of_the_seeds() {
        let seeds: [&[u8]; 2] = [b"abcdefgh", b"12345678"];
        let mut first = Vec::new();
        mutations(&seeds, 200, b"=", |i, m| {
            assert!(!m.is_empty(), "mutation {i} is empty");
            first.push(m.to_vec());
        });
        let mut again = Vec::new();
        mutations(&seeds, 200, b"=", |_, m| again.push(m.to_vec()));
        assert_eq!(first, again);
        // Edits happened: most mutants differ from their seed, and the
        // alphabet's byte was inserted or written somewhere.
        let changed = (first.iter().enumerate())
            .filter(|(i, m)| m.as_slice() != seeds[i % 2])
            .count();
        assert!(changed > 180, "{changed} of 200 changed");
        assert!(first.iter().any(|m| m.contains(&b'=')));
        assert!(first.iter().any(|m| m.len() < 8) && first.iter().any(|m| m.len() > 8));
    }

    #[test]
    fn inputs_mutate_each_seed() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let v = inputs(dir, "netlink_ack", &[b"abcdef"]);
        assert!(v.contains(&b"abc".to_vec()) && v.contains(&b"\x9ebcdef".to_vec()));
    }
}
