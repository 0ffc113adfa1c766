//! Every parser of outside bytes in modload as a function of untrusted
//! bytes: kmod's text index files, its binary indexes, a module's
//! `.modinfo`, the compressed-module decoders and modprobe.d. None may
//! panic or run away. The cargo-fuzz targets (modload/fuzz) call these, and
//! a unit test runs them on stable over seeds and many mutations, so CI
//! exercises the harness too.

use crate::core::decompress::{decode, Compression};
use crate::core::kmodbin::Trie;
use crate::tree::ModuleTree;

/// Queries taken from the data itself (its lines), plus fixed ones.
fn queries(data: &[u8]) -> Vec<String> {
    let mut q: Vec<String> = data
        .split(|&b| b == b'\n' || b == 0)
        .take(8)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    q.extend(
        [
            "virtio:d00000001v00001AF4",
            "pci:v00008086d00007010sv0",
            "symbol:x",
            "a",
            "",
        ]
        .map(String::from),
    );
    q
}

/// modules.dep, modules.alias, modules.softdep, modules.builtin and
/// modules.builtin.modinfo: `data` split at 0xFF bytes into those five.
#[doc(hidden)]
pub fn text_index(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0xFF);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (dep, alias, softdep, builtin) = (next(), next(), next(), next());
    let modinfo = next();
    let t = ModuleTree::from_texts(&dep, &alias, &softdep, &builtin, modinfo.as_bytes());
    let qs = queries(data);
    let refs: Vec<&str> = qs.iter().map(String::as_str).collect();
    let _ = t.lookup_many(&refs);
    let names: Vec<String> = t.module_names().take(16).map(str::to_string).collect();
    let plan = t.plan(&names);
    let subset = plan.order.iter().cloned().collect();
    let _ = t.write_subset_index(&subset, &Default::default());
    let mut conf = crate::modprobe_d::ModprobeConf::default();
    conf.parse("fuzz.conf", &softdep);
    let mut t = t;
    t.apply_modprobe_conf(&conf);
    let _ = t.lookup_many(&refs);
}

/// One of kmod's binary indexes: every search, the dump, a rewrite.
#[doc(hidden)]
pub fn kmod_bin(data: &[u8]) {
    let Ok(t) = Trie::open(data) else {
        return;
    };
    for q in queries(data) {
        let _ = t.search(q.as_bytes());
        let _ = t.search_wild(q.as_bytes());
    }
    if let Ok(entries) = t.entries() {
        let _ = crate::core::kmodbin::write(
            entries
                .iter()
                .map(|(k, v)| (k.as_slice(), v.value, v.priority)),
        );
    }
}

/// A module file: its `.modinfo`.
#[doc(hidden)]
pub fn modinfo(data: &[u8]) {
    let _ = crate::core::modinfo::modinfo(data);
    let _ = crate::core::modinfo::parse_modinfo(data);
}

/// A compressed module, for each decoder, bounded at 1 MiB.
#[doc(hidden)]
pub fn decompressors(data: &[u8]) {
    for c in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
        if let Ok(out) = decode(c, data, 1 << 20) {
            assert!(out.len() <= 1 << 20, "{c:?} went past its bound");
        }
    }
}

/// modprobe.d text.
#[doc(hidden)]
pub fn modprobe_d(data: &[u8]) {
    let mut c = crate::modprobe_d::ModprobeConf::default();
    c.parse("fuzz.conf", &String::from_utf8_lossy(data));
    let _ = c.with_options(Default::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic mutations of `seed`: byte flips, truncations,
    /// duplicated spans.
    fn mutations(seed: &[u8], n: usize, each: &mut dyn FnMut(&[u8])) {
        each(seed);
        let mut rng = nodistro_common::fuzzing::Rng::new();
        let mut rnd = || rng.next();
        for _ in 0..n {
            let mut v = seed.to_vec();
            if v.is_empty() {
                v.push(0);
            }
            match rnd() % 4 {
                0 => {
                    let i = (rnd() as usize) % v.len();
                    v[i] = rnd() as u8;
                }
                1 => v.truncate((rnd() as usize) % (v.len() + 1)),
                2 => {
                    let a = (rnd() as usize) % v.len();
                    let b = a + (rnd() as usize) % (v.len() - a);
                    let span = v[a..b].to_vec();
                    v.splice(a..a, span);
                }
                _ => {
                    for _ in 0..4 {
                        let i = (rnd() as usize) % v.len();
                        v[i] = b"*?[]-:\\ \n\0\xff"[(rnd() % 11) as usize];
                    }
                }
            }
            each(&v);
        }
    }

    fn seed_text() -> Vec<u8> {
        let mut s = Vec::new();
        for part in [
            &b"kernel/a/virtio_net.ko: kernel/b/virtio.ko\nkernel/b/virtio.ko:\nx.ko: y.ko\ny.ko: x.ko\n"[..],
            b"alias virtio:d00000001v* virtio_net\nalias pci:v*d*sv*sd*bc01sc01i* virtio\nalias a[b-]c- x\n",
            b"softdep virtio_net pre: virtio post: x\nalias q virtio\noptions x a=1\ninstall y z\n",
            b"kernel/c/builtin1.ko\n",
            b"builtin1.alias=pci:v00008086*\0builtin1.file=x\0",
        ] {
            s.extend_from_slice(part);
            s.push(0xFF);
        }
        s
    }

    fn seed_bin() -> Vec<u8> {
        crate::core::kmodbin::write([
            (&b"pci:v00008086d00007010sv*"[..], &b"ata_piix"[..], 3),
            (b"pci:v*d*sv*sd*bc01sc01i*", b"ata_generic", 5),
            (b"virtio:d00000001v*", b"virtio_net", 1),
            (b"a?[bc]", b"x", 2),
        ])
    }

    #[test]
    fn the_fuzz_harness_survives_mutated_seeds() {
        mutations(&seed_text(), 1500, &mut |d| text_index(d));
        mutations(&seed_bin(), 3000, &mut |d| kmod_bin(d));
        let ko = crate::core::modinfo::tests::tiny_ko(b"name=x\0alias=a*\0depends=y\0");
        mutations(&ko, 2000, &mut |d| modinfo(d));
        mutations(&seed_text(), 1000, &mut |d| modprobe_d(d));
        // Decoders: a raw-block zstd frame and garbage; the real
        // compressors' output is fuzzed in tests/modload_decompress.
        let mut zst = vec![0x28, 0xB5, 0x2F, 0xFD, 0x20, 5];
        zst.extend((5u32 << 3 | 1).to_le_bytes().into_iter().take(3));
        zst.extend(b"hello");
        mutations(&zst, 500, &mut |d| decompressors(d));
        mutations(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], 300, &mut |d| {
            decompressors(d)
        });
    }
}
