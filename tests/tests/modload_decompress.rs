//! modload's decoders of compressed modules against the real compressors'
//! output (gzip, xz as kbuild calls it, zstd): decoded exactly, truncation,
//! corruption and damaged checksums named, output bounded; and the tree
//! reader (a tree without depmod's files) reading `.ko.xz` and `.ko.zst`
//! and refusing a `.ko.gz` that inflates past the loader's 64 MiB bound.
//! (Moved out of the crate's unit tests: they spawn gzip, xz and zstd.)

use nodistro_modload::decompress::{
    decode as decompress, Compression, DecompressError, MAX_MODULE_SIZE,
};
use nodistro_modload::tree::ModuleTree;
use nodistro_tests::{require_program, TempDir};
use std::io::Write;

use std::process::{Command, Stdio};

/// A payload that compresses (repeated text) but not to nothing.
fn payload() -> Vec<u8> {
    let mut p = Vec::new();
    let mut x: u32 = 1;
    for i in 0..20_000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        p.extend_from_slice(format!("line {i} {}\n", x >> 20).as_bytes());
    }
    p
}

/// Compress `data` with the real CLI (`xz`, `zstd`, `gzip`), as kbuild
/// and distributions do.
fn compress(cmd: &str, args: &[&str], data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd} (install it): {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let data = data.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder").expect("write to compressor");
    assert!(out.status.success(), "{cmd} {args:?} failed");
    out.stdout
}

fn cases() -> Vec<(Compression, Vec<u8>)> {
    let p = payload();
    vec![
        (Compression::Gzip, compress("gzip", &["-9", "-c"], &p)),
        // xz's default check is CRC64; kbuild uses --check=crc32.
        (Compression::Xz, compress("xz", &["-c"], &p)),
        (
            Compression::Xz,
            compress("xz", &["-c", "--check=crc32", "--lzma2=dict=1MiB"], &p),
        ),
        (
            Compression::Zstd,
            compress("zstd", &["-q", "-c", "-19"], &p),
        ),
        (
            Compression::Zstd,
            compress("zstd", &["-q", "-c", "--no-check"], &p),
        ),
    ]
}

#[test]
fn cli_output_decodes_to_the_payload() {
    let p = payload();
    for (comp, data) in cases() {
        assert!(data.len() < p.len() / 2, "{comp:?} did not compress");
        let out =
            decompress(comp, &data, MAX_MODULE_SIZE).unwrap_or_else(|e| panic!("{comp:?}: {e:?}"));
        assert!(out == p, "{comp:?}: output differs from the payload");
    }
}

#[test]
fn truncated_input_is_reported_as_truncated() {
    for (comp, data) in cases() {
        for cut in [0, 6, data.len() / 2, data.len() - 1] {
            let e = decompress(comp, &data[..cut], MAX_MODULE_SIZE)
                .expect_err(&format!("{comp:?} cut at {cut} decoded"));
            assert!(
                matches!(e, DecompressError::Truncated { .. }),
                "{comp:?} cut at {cut} of {}: {e:?}",
                data.len()
            );
        }
    }
}

#[test]
fn corrupt_input_is_refused() {
    for (comp, data) in cases() {
        // A flipped byte in the middle of the compressed stream.
        let mut bad = data.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let e = decompress(comp, &bad, MAX_MODULE_SIZE);
        assert!(
            matches!(
                e,
                Err(DecompressError::Corrupt { .. }
                    | DecompressError::Checksum { .. }
                    | DecompressError::Truncated { .. })
            ),
            "{comp:?}: {e:?}"
        );
        // Not compressed data at all.
        let e = decompress(comp, b"\x7fELF this is no compressed stream", 1 << 20);
        assert!(
            matches!(e, Err(DecompressError::Corrupt { .. })),
            "{comp:?}: {e:?}"
        );
    }
}

#[test]
fn a_damaged_checksum_is_a_checksum_error() {
    let p = payload();
    // The last 4 bytes of a zstd frame with a checksum are the checksum.
    let mut z = compress("zstd", &["-q", "-c"], &p);
    let n = z.len();
    z[n - 1] ^= 1;
    let e = decompress(Compression::Zstd, &z, MAX_MODULE_SIZE);
    assert!(matches!(e, Err(DecompressError::Checksum { .. })), "{e:?}");
    let mut g = compress("gzip", &["-c"], &p);
    let n = g.len();
    g[n - 8] ^= 1; // CRC32 of the trailer
    let e = decompress(Compression::Gzip, &g, MAX_MODULE_SIZE);
    assert!(matches!(e, Err(DecompressError::Corrupt { .. })), "{e:?}");
}

#[test]
fn output_beyond_the_limit_is_refused() {
    // 4 MiB of zeros compresses to a few KiB: a tiny file, a big output.
    let zeros = vec![0u8; 4 << 20];
    for (comp, cmd, args) in [
        (Compression::Gzip, "gzip", &["-c"][..]),
        (Compression::Xz, "xz", &["-c"][..]),
        (Compression::Zstd, "zstd", &["-q", "-c"][..]),
    ] {
        let data = compress(cmd, args, &zeros);
        assert!(data.len() < 64 << 10, "{comp:?}: {}", data.len());
        let e = decompress(comp, &data, 1 << 20);
        assert!(
            matches!(e, Err(DecompressError::TooLarge { limit }) if limit == 1 << 20),
            "{comp:?}: {e:?}"
        );
        let msg = DecompressError::TooLarge { limit: 1 << 20 }.to_string();
        assert!(msg.contains("more than 1 MiB"), "{msg}");
        // The same file under a limit it fits in decodes.
        let out = decompress(comp, &data, 4 << 20).expect("fits");
        assert_eq!(out.len(), 4 << 20);
    }
}

/// Issue 15, defect 4: the tree reader decompresses with the loader's bound
/// and knows .xz and .zst.
#[test]
fn the_tree_reader_reads_xz_and_zstd_and_bounds_gzip() {
    for p in ["gzip", "xz", "zstd"] {
        require_program(p, p);
    }
    let debian = std::fs::read_dir("/lib/modules")
        .expect("/lib/modules")
        .flatten()
        .map(|e| e.path().join("kernel/drivers/virtio"))
        .find(|d| d.join("virtio_ring.ko").is_file())
        .expect("a Debian tree with virtio_ring.ko (linux-image-amd64)");
    let tmp = TempDir::new("modload-modinfo-compressed");
    let k = tmp.path().join("kernel");
    std::fs::create_dir_all(&k).expect("mkdir");
    let ring = std::fs::read(debian.join("virtio_ring.ko")).expect("virtio_ring.ko");
    let virtio = std::fs::read(debian.join("virtio.ko")).expect("virtio.ko");
    std::fs::write(
        k.join("virtio_ring.ko.xz"),
        compress("xz", &["-c", "--check=crc32"], &ring),
    )
    .expect("write");
    std::fs::write(
        k.join("virtio.ko.zst"),
        compress("zstd", &["-q", "-c"], &virtio),
    )
    .expect("write");
    // 65 MiB of zeros: a 65 KiB file the reader must not inflate whole.
    let bomb = compress("gzip", &["-c"], &vec![0u8; 65 << 20]);
    assert!(bomb.len() < 1 << 20);
    std::fs::write(k.join("bomb.ko.gz"), bomb).expect("write");
    // The standalone modload's reader (nodistro-box has no decoders).
    nodistro_modload::decompress::enable();
    let t = ModuleTree::open(tmp.path()).expect("open");
    assert_eq!(
        t.closure(&["virtio".into()]).expect("closure"),
        ["virtio_ring", "virtio"]
    );
    assert_eq!(
        t.module_path("virtio_ring"),
        Some("kernel/virtio_ring.ko.xz")
    );
    assert!(
        t.warnings()
            .iter()
            .any(|w| w.contains("bomb.ko.gz") && w.contains("more than 64 MiB")),
        "{:?}",
        t.warnings()
    );
}
