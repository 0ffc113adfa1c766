//! A module's own metadata: the `.modinfo` ELF section (`key=value` strings
//! separated by NUL bytes), found with a small bounded reader of the ELF
//! header and section headers (32/64-bit, either byte order; goblin cost
//! the runtime binary about 48 KB for this). Every offset is checked
//! against the file before it is read.

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
    #[error("not an ELF file ({0}; truncated or corrupt module?)")]
    NotElf(&'static str),
    #[error("ELF file without a .modinfo section: not a kernel module")]
    NoModinfo,
    #[error(".modinfo section lies outside the file (truncated module?)")]
    Truncated,
}

/// The ELF header fields the section lookup needs, read with bounds.
struct Elf<'a> {
    file: &'a [u8],
    wide: bool,
    big: bool,
}

impl<'a> Elf<'a> {
    fn int(&self, at: usize, n: usize) -> Option<u64> {
        let b = self.file.get(at..at.checked_add(n)?)?;
        let fold = |v: u64, &x: &u8| v << 8 | u64::from(x);
        Some(if self.big {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        })
    }

    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, at: usize) -> Option<u64> {
        self.int(at, if self.wide { 8 } else { 4 })
    }

    /// Where the section header table of `shnum` entries ends.
    fn table_end(&self, shnum: u64) -> Option<usize> {
        let (shoff, entsize) = if self.wide {
            (self.int(0x28, 8)?, self.int(0x3a, 2)?)
        } else {
            (self.int(0x20, 4)?, self.int(0x2e, 2)?)
        };
        usize::try_from(shnum.checked_mul(entsize)?.checked_add(shoff)?).ok()
    }

    /// (sh_name, file range) of section header `i`; NOBITS sections have
    /// no bytes in the file (empty range).
    fn section(&self, i: u64) -> Result<(u64, std::ops::Range<usize>), ModinfoError> {
        let bad = ModinfoError::NotElf("section headers outside the file");
        let (shoff, entsize) = if self.wide {
            (self.int(0x28, 8), self.int(0x3a, 2))
        } else {
            (self.int(0x20, 4), self.int(0x2e, 2))
        };
        let (shoff, entsize) = (
            shoff.ok_or(ModinfoError::NotElf("short header"))?,
            entsize.unwrap_or(0),
        );
        if entsize < if self.wide { 64 } else { 40 } {
            return Err(ModinfoError::NotElf("section header size too small"));
        }
        let at = i
            .checked_mul(entsize)
            .and_then(|o| o.checked_add(shoff))
            .and_then(|o| usize::try_from(o).ok())
            .ok_or(bad)?;
        let (off_at, size_at) = if self.wide {
            (0x18, 0x20)
        } else {
            (0x10, 0x14)
        };
        let fields = (
            self.int(at, 4),
            self.int(at + 4, 4),
            self.word(at + off_at),
            self.word(at + size_at),
        );
        let (Some(name), Some(kind), Some(off), Some(size)) = fields else {
            return Err(ModinfoError::NotElf("section headers outside the file"));
        };
        const SHT_NOBITS: u64 = 8;
        if kind == SHT_NOBITS {
            return Ok((name, 0..0));
        }
        let range = usize::try_from(off)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, n)| Some(o..o.checked_add(n)?))
            .filter(|r| r.end <= self.file.len())
            .ok_or(ModinfoError::Truncated)?;
        Ok((name, range))
    }
}

/// Read the `.modinfo` section of an uncompressed `.ko`.
pub fn modinfo(ko: &[u8]) -> Result<ModInfo, ModinfoError> {
    if ko.len() < 0x34 || &ko[..4] != b"\x7fELF" {
        return Err(ModinfoError::NotElf("no ELF header"));
    }
    let elf = Elf {
        file: ko,
        wide: match ko[4] {
            1 => false,
            2 => true,
            _ => return Err(ModinfoError::NotElf("unknown ELF class")),
        },
        big: match ko[5] {
            1 => false,
            2 => true,
            _ => return Err(ModinfoError::NotElf("unknown byte order")),
        },
    };
    let (shnum, shstrndx) = if elf.wide {
        (elf.int(0x3c, 2), elf.int(0x3e, 2))
    } else {
        (elf.int(0x30, 2), elf.int(0x32, 2))
    };
    let (Some(shnum), Some(shstrndx)) = (shnum, shstrndx) else {
        return Err(ModinfoError::NotElf("short header"));
    };
    if shstrndx >= shnum {
        return Err(ModinfoError::NotElf("no section name table"));
    }
    // The whole table must be in the file (a cut one means a cut module).
    elf.table_end(shnum)
        .filter(|&end| end <= ko.len())
        .ok_or(ModinfoError::NotElf("section headers outside the file"))?;
    let strtab = &ko[elf.section(shstrndx)?.1];
    for i in 0..shnum {
        let (name, range) = elf.section(i)?;
        let Some(rest) = usize::try_from(name).ok().and_then(|n| strtab.get(n..)) else {
            continue;
        };
        if rest.split(|&b| b == 0).next() == Some(b".modinfo") {
            return Ok(parse_modinfo(&ko[range]));
        }
    }
    Err(ModinfoError::NoModinfo)
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
        // Offsets that overflow or point past the end are errors.
        let mut huge = tiny_ko(b"name=x\0");
        huge[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(modinfo(&huge), Err(ModinfoError::NotElf(_))));
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

    /// goblin (which this reader replaced; still the packager's ELF
    /// parser) finds the same .modinfo bytes in the machine's modules.
    #[test]
    fn agrees_with_goblin_on_real_modules() {
        use goblin::elf::Elf;
        let Some(dir) = std::fs::read_dir("/lib/modules")
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).max())
        else {
            return; // no module tree on this machine
        };
        let net = dir.join("kernel/drivers/net");
        let mut checked = 0;
        for e in std::fs::read_dir(&net).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "ko") {
                continue;
            }
            let ko = std::fs::read(&p).expect("read module");
            let elf = Elf::parse(&ko).expect("goblin parses");
            let sh = elf
                .section_headers
                .iter()
                .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".modinfo"))
                .expect(".modinfo");
            let want = parse_modinfo(&ko[sh.file_range().expect("range")]);
            assert_eq!(modinfo(&ko).expect("ours"), want, "{}", p.display());
            checked += 1;
        }
        assert!(
            checked > 5,
            "only {checked} modules under {}",
            net.display()
        );
    }
}
