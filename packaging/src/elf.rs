//! Is the app something that can run alone in an image with no libraries?

use goblin::elf::program_header::PT_INTERP;

/// What kind of executable a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppKind {
    /// An ELF file with no program interpreter: runs alone.
    Static,
    /// A dynamically linked ELF file and the loader it names.
    Dynamic { interpreter: String },
    /// A `#!` script and the interpreter it names.
    Script { interpreter: String },
    /// Neither ELF nor a script.
    Unknown,
}

/// Classify a file from its full contents.
pub fn classify(bytes: &[u8]) -> AppKind {
    if let Some(rest) = bytes.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        let interpreter = String::from_utf8_lossy(line).trim().to_string();
        return AppKind::Script { interpreter };
    }
    if !bytes.starts_with(b"\x7fELF") {
        return AppKind::Unknown;
    }
    match goblin::elf::Elf::parse(bytes) {
        Ok(elf) => match elf.interpreter {
            Some(interp) => AppKind::Dynamic {
                interpreter: interp.to_string(),
            },
            None if elf.program_headers.iter().any(|p| p.p_type == PT_INTERP) => AppKind::Dynamic {
                interpreter: "(unreadable)".into(),
            },
            None => AppKind::Static,
        },
        Err(_) => AppKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_junk() {
        assert_eq!(
            classify(b"#!/bin/sh -e\necho hi\n"),
            AppKind::Script {
                interpreter: "/bin/sh -e".into()
            }
        );
        assert_eq!(classify(b"hello"), AppKind::Unknown);
        assert_eq!(classify(b"\x7fELF\x02\x01"), AppKind::Unknown);
    }

    #[test]
    fn real_binaries_on_this_machine() {
        // The test binary itself is static (the workspace builds static).
        let me = std::env::current_exe().expect("own path");
        let bytes = std::fs::read(me).expect("own bytes");
        assert_eq!(classify(&bytes), AppKind::Static);
        let ls = std::fs::read("/bin/ls").expect("/bin/ls exists on Debian");
        assert!(matches!(
            classify(&ls),
            AppKind::Dynamic { interpreter } if interpreter.contains("ld-linux")
        ));
    }
}
