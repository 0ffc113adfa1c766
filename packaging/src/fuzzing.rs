//! The boot-image readers as one function of untrusted bytes: what
//! `nodistro build --format` and `nodistro run --image` read from files a
//! user names (a kernel, an EFI stub, an image to boot or to publish, a
//! signing key and certificate). None may panic.
//! The cargo-fuzz target (packaging/fuzz) calls it, and a unit test runs it
//! on stable over mutations of systemd's real stub and a kernel header.
//!
//! The build file (`nodistro build -f`) as one function of its text.
//!
//! Fuzz harness: an initramfs image as `nodistro ls` reads it (cpio newc
//! archives, each plain or in a gzip member or zstd frame). The cargo-fuzz
//! target (packaging/fuzz) calls this; a stable test runs it over the kept
//! corpus.

use crate::core::pe::{self, NewSection};

/// Feed `data` to every reader: as a kernel, as an EFI stub taking
/// sections, as an image whose kind `nodistro run` tells.
#[doc(hidden)]
pub fn boot_inputs(data: &[u8]) {
    let _ = crate::core::uki::inspect_kernel(data);
    let _ = pe::add_sections(
        data,
        &[NewSection {
            name: ".linux",
            data: b"kernel",
        }],
        0,
    );
    let _ = crate::qemu::image::detect(data);
    // A kernel for --format rpi (an arm64 Image, or gzip-compressed).
    let _ = crate::rpi::kernel_image(data);
    // A release's image as `nodistro publish` reads it (`--image`).
    let _ = crate::publish::pe_arch(data);
    // The signing key and certificate (`--sign-key`, `--sign-cert`) and
    // what the signer printed.
    let _ = crate::core::signcheck::key_pem(data);
    let _ = crate::core::signcheck::cert_pem(data);
    let _ = crate::core::signcheck::signer_failure(&String::from_utf8_lossy(data));
}

/// A build file (`nodistro build -f`), as its text: read into flags,
/// each checked, merged with a command line. A file accepted gives flags
/// that `nodistro build` parses.
#[doc(hidden)]
pub fn buildfile(data: &[u8]) {
    use argh::FromArgs;
    let text = String::from_utf8_lossy(data);
    let Ok(settings) = crate::buildfile::settings(&text, Path::new("/fuzz")) else {
        return;
    };
    let given = ["hostname".to_string(), "arg".to_string()];
    let mut argv = crate::buildfile::merge(&settings, &given);
    if !settings.iter().any(|s| s.key.flag == "app") {
        argv.splice(0..0, ["--app".to_string(), "app".to_string()]);
    }
    argv.extend(["--hostname", "h", "--arg", "a"].map(String::from));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    if let Err(e) = crate::build::args::BuildArgs::from_args(&["nodistro build"], &argv) {
        panic!("accepted file gives bad flags {argv:?}: {}", e.output);
    }
}

use crate::core::cpio::{self, Reader};
use std::path::Path;

/// Read every entry of `data` as a bare cpio stream and as an image; no
/// panic, names and link targets within PATH_MAX.
#[doc(hidden)]
pub fn cpio(data: &[u8]) {
    let mut r = Reader::new(data);
    while let Ok(Some(e)) = r.next_entry() {
        assert!(e.header.name.len() < cpio::PATH_MAX);
        assert!(e.link.as_ref().is_none_or(|l| l.len() <= cpio::PATH_MAX));
    }
    let _ = crate::ls::visit_from(Path::new("fuzz.img"), data, &mut |e| {
        let _ = crate::ls::format_entry(&e);
        Ok(())
    });
}

/// Fuzz harness: a host's /etc/ld.so.cache and a library file, as
/// `nodistro build --allow-dynamic` reads them. No panic; a cache that
/// parses writes back to one that parses with the same x86-64 entries.
#[doc(hidden)]
pub fn ld_inputs(data: &[u8]) {
    if let Ok(c) = crate::core::ldcache::parse(data) {
        let pairs: Vec<(String, String)> = c
            .entries
            .iter()
            .filter(|e| !e.name.contains('\0') && !e.path.contains('\0'))
            .map(|e| (e.name.clone(), e.path.clone()))
            .collect();
        let again =
            crate::core::ldcache::parse(&crate::core::ldcache::write(&pairs)).expect("own output");
        assert!(again.is_sorted());
        for (name, _) in &pairs {
            assert!(again.lookup(name).is_some());
        }
    }
    let _ = crate::core::elf::dyn_info(data);
}

/// Fuzz harness: what `nodistro build --from-oci` reads from an image:
/// the JSON documents (an index.json, a docker manifest.json, a config),
/// a layer blob (compressed or not) applied twice over one root (the
/// second time its whiteouts meet the first's files), and the config's
/// user and program looked up in that root. None may panic.
#[doc(hidden)]
pub fn oci_inputs(data: &[u8]) {
    use crate::oci::{layers::Rootfs, locate, runspec, tarlayer};
    for doc in ["index.json", "manifest.json"] {
        let mut get = |n: &str| Ok((n == doc).then(|| data.to_vec()));
        let _ = locate::plan(&mut get);
    }
    if let Ok(c) = oci_spec::image::ImageConfiguration::from_reader(data) {
        let _ = runspec::ImageConfig::from_oci(c.config().as_ref());
    }
    let Ok(tar) = tarlayer::tar_bytes_within(1, data, 16 << 20) else {
        return;
    };
    let Ok(entries) = tarlayer::entries(1, &tar) else {
        return;
    };
    let mut root = Rootfs::new();
    let _ = root.apply(1, entries.clone());
    let _ = root.apply(2, entries.clone());
    for e in entries.iter().take(16) {
        let name = e.path.rsplit('/').next().unwrap_or_default().to_string();
        let cfg = runspec::ImageConfig {
            entrypoint: vec![e.path.clone()],
            cmd: vec![name.clone()],
            env: vec!["PATH=/bin:/usr/bin".into()],
            workdir: Some("/".into()),
            user: Some(format!("{name}:{name}")),
        };
        let _ = runspec::run_spec(&cfg, &root, None);
        let _ = runspec::user_ids(&root, &name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutated_stubs_and_kernel_headers_never_panic() {
        let stub = pe::test_stub().expect("systemd-boot-efi installed");
        let vmlinuz = crate::kernel::find_kernel().expect("a /boot/vmlinuz-*");
        let kernel = std::fs::read(vmlinuz).expect("read kernel");
        let head = &kernel[..kernel.len().min(0x8000)];
        let mut rng = nodistro_common::fuzzing::Rng::new();
        for base in [&stub[..], head] {
            // Only the headers matter: mutate the first 4 KiB.
            for _ in 0..300 {
                let mut m = base.to_vec();
                for _ in 0..(rng.next() % 8 + 1) {
                    let at = (rng.next() as usize) % m.len().min(4096);
                    m[at] = rng.next() as u8;
                }
                let cut = (rng.next() as usize) % (m.len() + 1);
                boot_inputs(&m);
                boot_inputs(&m[..cut]);
            }
        }
        boot_inputs(&[]);
    }

    #[test]
    fn buildfile_corpus_and_mutations() {
        let demo = include_bytes!("../../demo-app/nodistro.toml");
        let dir = env!("CARGO_MANIFEST_DIR");
        let inputs = nodistro_common::fuzzing::inputs(dir, "buildfile", &[demo]);
        for i in &inputs {
            buildfile(i);
        }
        let mut accepted = 0;
        nodistro_common::fuzzing::mutations(&inputs[..1], 5000, b"=\"[]{}.,#\n'", |_, m| {
            accepted += usize::from(
                crate::buildfile::settings(&String::from_utf8_lossy(m), Path::new("/f")).is_ok(),
            );
            buildfile(m)
        });
        // The mutants reach past the parser.
        assert!(accepted > 100, "{accepted} of 5000 mutants accepted");
    }

    use crate::core::cpio::{Header, Writer, S_IFLNK, S_IFREG};

    #[test]
    fn cpio_corpus() {
        let mut w = Writer::new(Vec::new());
        let file = Header {
            mode: S_IFREG | 0o644,
            nlink: 1,
            filesize: 3,
            name: "etc/x".into(),
            ..Header::default()
        };
        w.entry(&file, &mut &b"abc"[..]).expect("entry");
        let link = Header {
            mode: S_IFLNK | 0o777,
            filesize: 1,
            name: "l".into(),
            ..file
        };
        w.entry(&link, &mut &b"x"[..]).expect("link");
        let (archive, _) = w.finish().expect("trailer");
        for i in nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "cpio", &[&archive]) {
            super::cpio(&i);
        }
    }

    #[test]
    fn oci_inputs_corpus_and_mutations() {
        use crate::image::{Image, Node, Source};
        // Seeds: a layer with whiteouts, links and a passwd; the index,
        // manifest and config of an oci-archive written by --format oci.
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, kind: tar::EntryType, data: &[u8], link: &str| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o755);
            h.set_size(data.len() as u64);
            if link.is_empty() {
                b.append_data(&mut h, name, data).expect("entry");
            } else {
                b.append_link(&mut h, name, link).expect("link");
            }
        };
        add("usr/bin/", tar::EntryType::Directory, b"", "");
        add("bin", tar::EntryType::Symlink, b"", "usr/bin");
        add("bin/app", tar::EntryType::Regular, b"\x7fELF", "");
        add(
            "etc/passwd",
            tar::EntryType::Regular,
            b"app:x:1:2::/:\n",
            "",
        );
        add("etc/group", tar::EntryType::Regular, b"app:x:2:\n", "");
        add("bin/ln", tar::EntryType::Link, b"", "bin/app");
        add("d/.wh..wh..opq", tar::EntryType::Regular, b"", "");
        add("etc/.wh.shadow", tar::EntryType::Regular, b"", "");
        let layer = b.into_inner().expect("tar");
        let mut img = Image::new();
        img.add(
            "app",
            Node::File {
                source: Source::Bytes(b"x".to_vec()),
                mode: 0o755,
            },
        )
        .expect("app");
        let entrypoint = crate::oci::write::entrypoint(&["logfwd"]);
        let (archive, _) =
            crate::oci::write::archive(&img, &entrypoint, "latest", 0, Vec::new()).expect("oci");
        let mut seeds: Vec<Vec<u8>> = vec![layer];
        for e in crate::core::oci::tarlayer::entries(0, &archive).expect("archive") {
            if let crate::core::oci::layers::Item::File { data, .. } = e.item {
                seeds.push(data);
            }
        }
        let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
        let inputs =
            nodistro_common::fuzzing::inputs(env!("CARGO_MANIFEST_DIR"), "oci_inputs", &refs);
        for i in &inputs {
            oci_inputs(i);
        }
        nodistro_common::fuzzing::mutations(&inputs, 3000, b"./{}\":[]wh", |_, m| oci_inputs(m));
    }

    #[test]
    fn ld_inputs_corpus() {
        let pairs = [
            (
                "libz.so.1".to_string(),
                "/lib/x86_64-linux-gnu/libz.so.1".to_string(),
            ),
            (
                "libc.so.6".to_string(),
                "/lib/x86_64-linux-gnu/libc.so.6".to_string(),
            ),
        ];
        let cache = crate::core::ldcache::write(&pairs);
        let libz = std::fs::read("/lib/x86_64-linux-gnu/libz.so.1").expect("zlib1g");
        let head = &libz[..libz.len().min(8192)];
        for i in nodistro_common::fuzzing::inputs(
            env!("CARGO_MANIFEST_DIR"),
            "ld_inputs",
            &[&cache, head],
        ) {
            super::ld_inputs(&i);
        }
    }
}
