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

/// `e_machine` of x86-64, the only architecture images are built for.
pub const EM_X86_64: u16 = 62;

/// What ld.so needs to know of a shared object (or the app) to load what
/// it depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynInfo {
    pub interpreter: Option<String>,
    pub soname: Option<String>,
    /// DT_NEEDED, in order.
    pub needed: Vec<String>,
    /// DT_RPATH and DT_RUNPATH as written (colon lists, unexpanded).
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    /// DF_1_NODEFLIB: no cache, no default directories.
    pub nodeflib: bool,
    /// Undefined dynamic symbols (what it calls in other objects).
    pub imports: Vec<String>,
}

/// What a candidate library file is, as ld.so's open_verify sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfCheck {
    Usable(DynInfo),
    /// An ELF file of another class or machine: ld.so skips it and goes
    /// on searching.
    WrongArch(String),
    /// Not ELF, or ELF that does not parse: ld.so stops with an error.
    Bad(String),
}

/// Read the dynamic section of an x86-64 ELF file.
pub fn dyn_info(bytes: &[u8]) -> ElfCheck {
    if bytes.len() < 20 || !bytes.starts_with(b"\x7fELF") {
        return ElfCheck::Bad("not an ELF file".into());
    }
    let class = bytes[4];
    let data = bytes[5];
    let machine = if data == 2 {
        u16::from_be_bytes([bytes[18], bytes[19]])
    } else {
        u16::from_le_bytes([bytes[18], bytes[19]])
    };
    if class != 2 || data != 1 || machine != EM_X86_64 {
        let bits = match class {
            1 => "32-bit",
            2 => "64-bit",
            _ => "unknown class",
        };
        let order = if data == 2 {
            "big-endian"
        } else {
            "little-endian"
        };
        return ElfCheck::WrongArch(format!("ELF {bits} {order}, machine {machine}, not x86-64"));
    }
    let elf = match goblin::elf::Elf::parse(bytes) {
        Ok(e) => e,
        Err(e) => return ElfCheck::Bad(format!("damaged ELF ({e})")),
    };
    let nodeflib = elf
        .dynamic
        .as_ref()
        .is_some_and(|d| d.info.flags_1 & goblin::elf::dynamic::DF_1_NODEFLIB != 0);
    let imports = elf
        .dynsyms
        .iter()
        .filter(|s| s.st_shndx == 0 && s.st_name != 0)
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name))
        .map(str::to_string)
        .collect();
    ElfCheck::Usable(DynInfo {
        interpreter: elf.interpreter.map(str::to_string),
        soname: elf.soname.map(str::to_string),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        // ld.so keeps the last entry of each tag.
        rpath: elf.rpaths.last().map(|s| s.to_string()),
        runpath: elf.runpaths.last().map(|s| s.to_string()),
        nodeflib,
        imports,
    })
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

    #[test]
    fn dynamic_sections_of_real_files() {
        let id = std::fs::read("/usr/bin/id").expect("coreutils' id");
        let ElfCheck::Usable(i) = dyn_info(&id) else {
            panic!("id is usable");
        };
        assert_eq!(
            i.interpreter.as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        assert!(i.needed.iter().any(|n| n == "libc.so.6"), "{:?}", i.needed);
        assert!(i.imports.iter().any(|n| n == "getpwnam"), "{:?}", i.imports);
        let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").expect("libc");
        let ElfCheck::Usable(c) = dyn_info(&libc) else {
            panic!("libc is usable");
        };
        assert_eq!(c.soname.as_deref(), Some("libc.so.6"));
        assert_eq!(c.needed, ["ld-linux-x86-64.so.2"]);
        assert!(matches!(dyn_info(b"#!/bin/sh\n"), ElfCheck::Bad(_)));
        let mut other = libc.clone();
        other[4] = 1;
        assert!(matches!(dyn_info(&other), ElfCheck::WrongArch(w) if w.contains("32-bit")));
        let mut arm = libc;
        arm[18] = 183;
        assert!(matches!(dyn_info(&arm), ElfCheck::WrongArch(w) if w.contains("machine 183")));
    }
}
