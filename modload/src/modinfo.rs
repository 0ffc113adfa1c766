//! A module's own metadata: the `.modinfo` ELF section (`key=value` strings
//! separated by NUL bytes), read with goblin's header and section-header
//! parsers only (no symbol or relocation parsing).

use goblin::container::Ctx;
use goblin::elf::section_header::SectionHeader;
use goblin::elf::Elf;

/// What `modinfo` shows about a module.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModInfo {
    /// `name=` (absent in very old modules).
    pub name: Option<String>,
    pub alias: Vec<String>,
    /// `depends=` split at commas.
    pub depends: Vec<String>,
    /// `softdep=` values as written (`pre: a b post: c`).
    pub softdep: Vec<String>,
    pub firmware: Vec<String>,
    pub vermagic: Option<String>,
    /// `parm=` values (`name:description`).
    pub parm: Vec<String>,
}

/// Why a file's `.modinfo` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModinfoError {
    #[error("not an ELF file (truncated or corrupt module?)")]
    NotElf(#[source] goblin::error::Error),
    #[error("ELF file without a .modinfo section: not a kernel module")]
    NoModinfo,
    #[error(".modinfo section lies outside the file (truncated module?)")]
    Truncated,
}

/// Read the `.modinfo` section of an uncompressed `.ko`.
pub fn modinfo(ko: &[u8]) -> Result<ModInfo, ModinfoError> {
    let header = Elf::parse_header(ko).map_err(ModinfoError::NotElf)?;
    let ctx = Ctx::new(
        header.container().map_err(ModinfoError::NotElf)?,
        header.endianness().map_err(ModinfoError::NotElf)?,
    );
    let shdrs = SectionHeader::parse(ko, header.e_shoff as usize, header.e_shnum as usize, ctx)
        .map_err(ModinfoError::NotElf)?;
    let strtab = shdrs
        .get(header.e_shstrndx as usize)
        .and_then(|s| ko.get(s.file_range()?))
        .ok_or(ModinfoError::Truncated)?;
    let section_name = |sh: &SectionHeader| -> Option<&[u8]> {
        let rest = strtab.get(sh.sh_name..)?;
        Some(&rest[..rest.iter().position(|&b| b == 0)?])
    };
    let sh = shdrs
        .iter()
        .find(|sh| section_name(sh) == Some(b".modinfo"))
        .ok_or(ModinfoError::NoModinfo)?;
    let data = sh
        .file_range()
        .and_then(|r| ko.get(r))
        .ok_or(ModinfoError::Truncated)?;
    Ok(parse_modinfo(data))
}

/// Parse the section's bytes (`key=value\0key=value\0...`).
pub fn parse_modinfo(data: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    for rec in data.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let Some((key, value)) = rec.split_once('=') else {
            continue;
        };
        let value = value.to_string();
        match key {
            "name" => info.name = Some(value),
            "alias" => info.alias.push(value),
            "depends" => info.depends.extend(
                value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            "softdep" => info.softdep.push(value),
            "firmware" => info.firmware.push(value),
            "vermagic" => info.vermagic = Some(value),
            "parm" => info.parm.push(value),
            _ => {}
        }
    }
    info
}

/// The kernel release a module was built for (first word of vermagic).
pub fn vermagic_release(info: &ModInfo) -> Option<&str> {
    info.vermagic.as_deref()?.split_whitespace().next()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF64 relocatable file with a .modinfo section, for tests.
    pub(crate) fn tiny_ko(modinfo: &[u8]) -> Vec<u8> {
        let shstr = b"\0.modinfo\0.shstrtab\0";
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // little endian
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        f[60..62].copy_from_slice(&3u16.to_le_bytes()); // e_shnum
        f[62..64].copy_from_slice(&2u16.to_le_bytes()); // e_shstrndx
        let modinfo_off = f.len();
        f.extend_from_slice(modinfo);
        let shstr_off = f.len();
        f.extend_from_slice(shstr);
        while !f.len().is_multiple_of(8) {
            f.push(0);
        }
        let shoff = f.len();
        f[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
        let sh = |name: u32, typ: u32, off: usize, size: usize| {
            let mut s = vec![0u8; 64];
            s[0..4].copy_from_slice(&name.to_le_bytes());
            s[4..8].copy_from_slice(&typ.to_le_bytes());
            s[24..32].copy_from_slice(&(off as u64).to_le_bytes());
            s[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            s[48..56].copy_from_slice(&1u64.to_le_bytes());
            s
        };
        f.extend(sh(0, 0, 0, 0));
        f.extend(sh(1, 1, modinfo_off, modinfo.len()));
        f.extend(sh(10, 3, shstr_off, shstr.len()));
        f
    }

    #[test]
    fn reads_modinfo_of_a_synthetic_module() {
        let ko = tiny_ko(
            b"alias=pci:v00008086d*\0depends=a,b\0name=e1000\0vermagic=6.1.0-56-amd64 SMP mod_unload \0parm=debug:Debug level\0firmware=e1000/x.bin\0softdep=pre: crc32c\0",
        );
        let info = modinfo(&ko).expect("modinfo");
        assert_eq!(info.name.as_deref(), Some("e1000"));
        assert_eq!(info.alias, ["pci:v00008086d*"]);
        assert_eq!(info.depends, ["a", "b"]);
        assert_eq!(info.softdep, ["pre: crc32c"]);
        assert_eq!(info.firmware, ["e1000/x.bin"]);
        assert_eq!(info.parm, ["debug:Debug level"]);
        assert_eq!(vermagic_release(&info), Some("6.1.0-56-amd64"));
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        assert!(matches!(modinfo(b"hello"), Err(ModinfoError::NotElf(_))));
        let ko = tiny_ko(b"name=x\0");
        for cut in [10, 64, 80, ko.len() - 10] {
            assert!(modinfo(&ko[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = ko.clone();
        // Rename the section: a valid ELF file without .modinfo.
        let pos = other
            .windows(8)
            .position(|w| w == b".modinfo")
            .expect("name");
        other[pos + 1] = b'X';
        assert!(matches!(modinfo(&other), Err(ModinfoError::NoModinfo)));
    }
}
