//! The boot-image readers as one function of untrusted bytes: what
//! `nodistro build --format` and `nodistro run --image` read from files a
//! user names (a kernel, an EFI stub, an image to boot). None may panic.
//! The cargo-fuzz target (packaging/fuzz) calls it, and a unit test runs it
//! on stable over mutations of systemd's real stub and a kernel header.
//!
//! The build file (`nodistro build -f`) as one function of its text.
//!
//! Fuzz harness: an initramfs image as `nodistro ls` reads it (cpio newc
//! archives, each plain or in a gzip member or zstd frame). The cargo-fuzz
//! target (packaging/fuzz) calls this; a stable test runs it over the kept
//! corpus.

use crate::pe::{self, NewSection};

/// Feed `data` to every reader: as a kernel, as an EFI stub taking
/// sections, as an image whose kind `nodistro run` tells.
#[doc(hidden)]
pub fn boot_inputs(data: &[u8]) {
    let _ = crate::uki::inspect_kernel(data);
    let _ = pe::add_sections(
        data,
        &[NewSection {
            name: ".linux",
            data: b"kernel",
        }],
        0,
    );
    let _ = crate::qemu::image::detect(data);
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
    if let Err(e) = crate::build::BuildArgs::from_args(&["nodistro build"], &argv) {
        panic!("accepted file gives bad flags {argv:?}: {}", e.output);
    }
}

use crate::cpio::{self, Reader};
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

    use crate::cpio::{Header, Writer, S_IFLNK, S_IFREG};

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
}
