//! Appending sections to a PE32+ image, as ukify does to systemd's EFI stub
//! (sans-IO: bytes in, bytes out).
//!
//! goblin parses and validates the stub; the new section headers go into
//! the room the stub leaves after its section table (ukify's rule: no
//! moving of existing sections), the data is appended at the file
//! alignment, each section's virtual address follows the previous one at
//! the section alignment, and NumberOfSections, SizeOfInitializedData,
//! SizeOfImage, TimeDateStamp and CheckSum are rewritten. Anything after
//! the last section (a COFF symbol table, an Authenticode signature) is
//! dropped, and the header fields pointing at it are cleared.

use goblin::pe::PE;

/// `IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ`.
const DATA_READ: u32 = 0x0000_0040 | 0x4000_0000;
/// Size of one section header.
const SECTION_HEADER: usize = 40;
/// The PE32+ optional header magic.
const PE32_PLUS: u16 = 0x20b;

/// A section to append: a name of at most 8 bytes and its contents.
#[derive(Debug, Clone, Copy)]
pub struct NewSection<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeError {
    #[error("not a PE image: {0}")]
    Parse(String),
    #[error("not a 64-bit (PE32+) EFI image")]
    NotPe32Plus,
    #[error("its headers have no room for {0} more section headers")]
    NoHeaderRoom(usize),
    #[error("section name {0:?} is not 1 to 8 bytes")]
    Name(String),
    #[error("the image would be larger than 4 GiB")]
    TooLarge,
    #[error("a header field points outside the file")]
    Truncated,
}

fn rd16(b: &[u8], at: usize) -> Result<u16, PeError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(PeError::Truncated)
}

fn rd32(b: &[u8], at: usize) -> Result<u32, PeError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(PeError::Truncated)
}

fn wr32(b: &mut [u8], at: usize, v: u32) -> Result<(), PeError> {
    b.get_mut(at..at + 4)
        .ok_or(PeError::Truncated)?
        .copy_from_slice(&v.to_le_bytes());
    Ok(())
}

fn round_up(v: u64, align: u64) -> u64 {
    if align <= 1 {
        v
    } else {
        v.div_ceil(align) * align
    }
}

/// Where the fields this module rewrites live in the file.
struct Offsets {
    coff: usize,
    opt: usize,
    sections: usize,
}

fn offsets(image: &[u8]) -> Result<Offsets, PeError> {
    let pe = rd32(image, 0x3c)? as usize;
    if image.get(pe..pe + 4) != Some(b"PE\0\0".as_slice()) {
        return Err(PeError::Parse("no PE signature".into()));
    }
    let coff = pe + 4;
    let opt = coff + 20;
    let opt_size = rd16(image, coff + 16)? as usize;
    if rd16(image, opt)? != PE32_PLUS {
        return Err(PeError::NotPe32Plus);
    }
    Ok(Offsets {
        coff,
        opt,
        sections: opt + opt_size,
    })
}

/// The PE checksum (what `ImageHlp!CheckSumMappedFile` computes): the
/// 16-bit one's-complement-style sum of the file with the CheckSum field
/// read as zero, plus the file length.
pub fn checksum(image: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    let mut i = 0;
    while i < image.len() {
        let lo = image[i];
        let hi = image.get(i + 1).copied().unwrap_or(0);
        let word = if (checksum_at..checksum_at + 4).contains(&i) {
            0
        } else {
            u64::from(u16::from_le_bytes([lo, hi]))
        };
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(image.len() as u32)
}

/// Offset of the CheckSum field in a PE image.
pub fn checksum_offset(image: &[u8]) -> Result<usize, PeError> {
    Ok(offsets(image)?.opt + 64)
}

/// The stub with `sections` appended, TimeDateStamp set to `timestamp`.
pub fn add_sections(
    stub: &[u8],
    sections: &[NewSection<'_>],
    timestamp: u32,
) -> Result<Vec<u8>, PeError> {
    let pe = PE::parse(stub).map_err(|e| PeError::Parse(e.to_string()))?;
    if !pe.is_64 {
        return Err(PeError::NotPe32Plus);
    }
    let win = pe
        .header
        .optional_header
        .ok_or_else(|| PeError::Parse("no optional header".into()))?
        .windows_fields;
    let file_align = u64::from(win.file_alignment.max(1));
    let sect_align = u64::from(win.section_alignment.max(1));
    let off = offsets(stub)?;
    let count = pe.sections.len();
    // Room for the new headers: up to SizeOfHeaders and the first
    // section's data.
    let first_data = pe
        .sections
        .iter()
        .map(|s| s.pointer_to_raw_data as usize)
        .filter(|&p| p > 0)
        .min()
        .unwrap_or(win.size_of_headers as usize);
    let limit = first_data.min(win.size_of_headers as usize);
    let table_end = off.sections + (count + sections.len()) * SECTION_HEADER;
    if table_end > limit {
        return Err(PeError::NoHeaderRoom(sections.len()));
    }
    let raw_end = pe
        .sections
        .iter()
        .map(|s| u64::from(s.pointer_to_raw_data) + u64::from(s.size_of_raw_data))
        .max()
        .unwrap_or(u64::from(win.size_of_headers));
    let mut va_end = pe
        .sections
        .iter()
        .map(|s| u64::from(s.virtual_address) + u64::from(s.virtual_size.max(s.size_of_raw_data)))
        .max()
        .unwrap_or(u64::from(win.size_of_headers));
    let raw_end = usize::try_from(raw_end).map_err(|_| PeError::TooLarge)?;
    let mut out = stub.get(..raw_end).ok_or(PeError::Truncated)?.to_vec();
    out.resize(round_up(raw_end as u64, file_align) as usize, 0);
    let mut init_data = u64::from(rd32(&out, off.opt + 8)?);
    for (i, s) in sections.iter().enumerate() {
        let name = s.name.as_bytes();
        if name.is_empty() || name.len() > 8 {
            return Err(PeError::Name(s.name.to_string()));
        }
        let raw_ptr = out.len() as u64;
        let raw_size = round_up(s.data.len() as u64, file_align);
        let va = round_up(va_end, sect_align);
        va_end = va + s.data.len() as u64;
        init_data += raw_size;
        if raw_ptr + raw_size > u64::from(u32::MAX) || va_end > u64::from(u32::MAX) {
            return Err(PeError::TooLarge);
        }
        let hdr = section_header(name, s.data.len(), va, raw_size, raw_ptr);
        let at = off.sections + (count + i) * SECTION_HEADER;
        out[at..at + SECTION_HEADER].copy_from_slice(&hdr);
        out.extend_from_slice(s.data);
        out.resize((raw_ptr + raw_size) as usize, 0);
    }
    fix_headers(
        &mut out,
        &off,
        count + sections.len(),
        timestamp,
        init_data,
        round_up(va_end, sect_align),
    )?;
    let sum_at = off.opt + 64;
    let sum = checksum(&out, sum_at);
    wr32(&mut out, sum_at, sum)?;
    Ok(out)
}

/// A new section's header: read-only initialized data, `size` bytes at
/// `va` in memory, `raw_size` at `raw_ptr` in the file (all checked to
/// fit 32 bits).
fn section_header(
    name: &[u8],
    size: usize,
    va: u64,
    raw_size: u64,
    raw_ptr: u64,
) -> [u8; SECTION_HEADER] {
    let mut hdr = [0u8; SECTION_HEADER];
    hdr[..name.len()].copy_from_slice(name);
    hdr[8..12].copy_from_slice(&(size as u32).to_le_bytes());
    hdr[12..16].copy_from_slice(&(va as u32).to_le_bytes());
    hdr[16..20].copy_from_slice(&(raw_size as u32).to_le_bytes());
    hdr[20..24].copy_from_slice(&(raw_ptr as u32).to_le_bytes());
    hdr[36..40].copy_from_slice(&DATA_READ.to_le_bytes());
    hdr
}

/// The COFF and optional headers after [`add_sections`] added sections
/// (`sections` in all now): the count, the time stamp, no symbol table,
/// the initialized data and image sizes, no certificate table (it signed
/// the old image). The checksum is left to the caller.
fn fix_headers(
    out: &mut [u8],
    off: &Offsets,
    sections: usize,
    timestamp: u32,
    init_data: u64,
    size_of_image: u64,
) -> Result<(), PeError> {
    let n = u16::try_from(sections).map_err(|_| PeError::TooLarge)?;
    out[off.coff + 2..off.coff + 4].copy_from_slice(&n.to_le_bytes());
    wr32(out, off.coff + 4, timestamp)?;
    // The symbol table, if any, was after the sections and is gone.
    wr32(out, off.coff + 8, 0)?;
    wr32(out, off.coff + 12, 0)?;
    wr32(
        out,
        off.opt + 8,
        u32::try_from(init_data).map_err(|_| PeError::TooLarge)?,
    )?;
    wr32(
        out,
        off.opt + 56,
        u32::try_from(size_of_image).map_err(|_| PeError::TooLarge)?,
    )?;
    // The certificate table (data directory 4) signed the old image.
    let dirs = rd32(out, off.opt + 108)?;
    if dirs > 4 {
        wr32(out, off.opt + 112 + 4 * 8, 0)?;
        wr32(out, off.opt + 112 + 4 * 8 + 4, 0)?;
    }
    Ok(())
}

/// Systemd's stub on this machine, for tests that use real data.
#[cfg(test)]
pub(crate) fn test_stub() -> Option<Vec<u8>> {
    std::fs::read(crate::core::uki::DEFAULT_STUB).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_the_installed_stub_matches_its_header() {
        let Some(stub) = test_stub() else {
            panic!(
                "{} missing: apt-get install systemd-boot-efi (scripts/setup.sh does)",
                crate::core::uki::DEFAULT_STUB
            );
        };
        let at = checksum_offset(&stub).expect("offsets");
        let stored = rd32(&stub, at).expect("field");
        assert_eq!(checksum(&stub, at), stored);
    }

    #[test]
    fn appended_sections_parse_back_aligned() {
        let stub = test_stub().expect("stub installed");
        let a = vec![0xAAu8; 1000];
        let b = vec![0xBBu8; 5000];
        let out = add_sections(
            &stub,
            &[
                NewSection {
                    name: ".osrel",
                    data: &a,
                },
                NewSection {
                    name: ".linux",
                    data: &b,
                },
            ],
            1234,
        )
        .expect("add");
        let pe = PE::parse(&out).expect("parses");
        let win = pe.header.optional_header.expect("opt").windows_fields;
        let n = pe.sections.len();
        let (s1, s2) = (&pe.sections[n - 2], &pe.sections[n - 1]);
        assert_eq!(s1.name().ok(), Some(".osrel"));
        assert_eq!(s2.name().ok(), Some(".linux"));
        assert_eq!(s2.virtual_size, 5000);
        assert_eq!(s1.pointer_to_raw_data % win.file_alignment, 0);
        assert_eq!(s2.virtual_address % win.section_alignment, 0);
        assert!(s2.virtual_address >= s1.virtual_address + 1000);
        let p = s2.pointer_to_raw_data as usize;
        assert_eq!(&out[p..p + 5000], &b[..]);
        assert_eq!(
            win.size_of_image as u64,
            round_up(
                u64::from(s2.virtual_address) + 5000,
                u64::from(win.section_alignment)
            )
        );
        assert_eq!(pe.header.coff_header.time_date_stamp, 1234);
        let at = checksum_offset(&out).expect("offsets");
        assert_eq!(checksum(&out, at), rd32(&out, at).expect("sum"));
        assert_eq!(out.len() as u32 % win.file_alignment, 0);
    }

    #[test]
    fn refuses_bad_input() {
        let stub = test_stub().expect("stub installed");
        let long = NewSection {
            name: ".toolongname",
            data: b"x",
        };
        assert_eq!(
            add_sections(&stub, &[long], 0),
            Err(PeError::Name(".toolongname".into()))
        );
        let many: Vec<NewSection> = (0..100)
            .map(|_| NewSection {
                name: ".x",
                data: b"x",
            })
            .collect();
        assert_eq!(
            add_sections(&stub, &many, 0),
            Err(PeError::NoHeaderRoom(100))
        );
        assert!(matches!(
            add_sections(b"MZ not a pe", &[], 0),
            Err(PeError::Parse(_))
        ));
        // Every truncation of the stub gives an error, never a panic.
        for len in (0..stub.len()).step_by(997) {
            let _ = add_sections(&stub[..len], &[long], 0);
        }
    }
}
