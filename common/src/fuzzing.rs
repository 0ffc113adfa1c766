//! Fuzz harnesses for common's parsers (the kernel command line,
//! `/etc/nodistro.conf`, rtnetlink acks) and the stable stand-in every
//! crate's fuzz test uses: [`inputs`] gives a target's kept corpus plus
//! truncations and byte flips of each input, so CI (stable, no libFuzzer)
//! runs each harness function over what the fuzzer found.
//!
//! Layout: `<crate>/fuzz/fuzz_targets/<target>.rs` calls a harness function
//! `<crate>::fuzzing::<target>`; `<crate>/fuzz/corpus/<target>/` holds the
//! seeds and every crash input `bench/fuzz.sh` found (kept, not the whole
//! working corpus).

use crate::{netlink, Cmdline, Config};

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
        for i in inputs(dir, "netlink_ack", &[&ack]) {
            netlink_ack(&i);
        }
    }

    #[test]
    fn inputs_mutate_each_seed() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let v = inputs(dir, "netlink_ack", &[b"abcdef"]);
        assert!(v.contains(&b"abc".to_vec()) && v.contains(&b"\x9ebcdef".to_vec()));
    }
}
