//! The cpio "newc" format (magic `070701`), the one the Linux kernel unpacks
//! as an initramfs: a 110-byte ASCII-hex header, the NUL-terminated name,
//! padding to 4 bytes, the data, padding to 4 bytes; `TRAILER!!!` ends it.
//!
//! Header encoding and decoding are pure functions; [`Writer`] and [`Reader`]
//! are thin streaming shells over `Write` / `Read`.

use std::io::{self, Read, Write};

/// The newc magic.
pub const MAGIC: &[u8; 6] = b"070701";
/// The newc magic with a checksum field (read, never written).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Size of the fixed header.
pub const HEADER_LEN: usize = 110;
/// The longest name (with its NUL) or symlink target the reader accepts:
/// the kernel's PATH_MAX, which its initramfs unpacker applies too. A
/// damaged or hostile header cannot make the reader allocate more.
pub const PATH_MAX: usize = 4096;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// File type bits of `mode` (as in `st_mode`).
pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;

/// One header's fields (the newc `check` field is always 0 here).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub name: String,
}

/// Bytes needed to pad `n` to a multiple of 4.
pub fn pad4(n: u64) -> usize {
    ((4 - (n % 4)) % 4) as usize
}

/// What is wrong with an archive or an entry.
#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    #[error("bad cpio magic {0:?} at byte {1} (expected 070701, a newc archive)")]
    BadMagic(String, u64),
    #[error("cpio header field {field} is not hexadecimal ({text:?}) at byte {offset}")]
    BadField {
        field: &'static str,
        text: String,
        offset: u64,
    },
    #[error("cpio entry name at byte {0} is not NUL-terminated UTF-8")]
    BadName(u64),
    #[error("file {name} is {size} bytes; cpio newc entries hold at most 4 GiB - 1")]
    TooLarge { name: String, size: u64 },
    #[error("entry name {0:?} contains a NUL byte")]
    NulInName(String),
    #[error("cpio entry at byte {offset} has a {what} of {size} bytes; the kernel accepts at most 4096 (a damaged archive?)")]
    TooLong {
        what: &'static str,
        size: u64,
        offset: u64,
    },
    #[error("archive ends inside the entry at byte {0} (truncated; no TRAILER!!!)")]
    Truncated(u64),
    #[error("i/o error")]
    Io(#[from] io::Error),
}

const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// Encode the header, the name, its NUL and the padding after the name.
pub fn encode_header(h: &Header) -> Result<Vec<u8>, CpioError> {
    if h.name.as_bytes().contains(&0) {
        return Err(CpioError::NulInName(h.name.clone()));
    }
    let namesize = h.name.len() as u64 + 1;
    let values = [
        h.ino,
        h.mode,
        h.uid,
        h.gid,
        h.nlink,
        h.mtime,
        h.filesize,
        h.devmajor,
        h.devminor,
        h.rdevmajor,
        h.rdevminor,
        namesize as u32,
        0,
    ];
    let mut out = Vec::with_capacity(HEADER_LEN + h.name.len() + 4);
    out.extend_from_slice(MAGIC);
    for v in values {
        out.extend_from_slice(format!("{v:08X}").as_bytes());
    }
    out.extend_from_slice(h.name.as_bytes());
    out.push(0);
    out.resize(out.len() + pad4(HEADER_LEN as u64 + namesize), 0);
    Ok(out)
}

/// Decode the fixed 110-byte header. Returns the header (name still empty)
/// and the name size including its NUL. `offset` is only for messages.
pub fn decode_fixed(buf: &[u8; HEADER_LEN], offset: u64) -> Result<(Header, usize), CpioError> {
    let magic = &buf[..6];
    if magic != MAGIC && magic != MAGIC_CRC {
        return Err(CpioError::BadMagic(
            String::from_utf8_lossy(magic).into_owned(),
            offset,
        ));
    }
    let mut v = [0u32; 13];
    for (i, field) in FIELDS.iter().enumerate() {
        let raw = &buf[6 + i * 8..6 + (i + 1) * 8];
        let text = std::str::from_utf8(raw).ok();
        v[i] = text
            .and_then(|t| u32::from_str_radix(t, 16).ok())
            .ok_or_else(|| CpioError::BadField {
                field,
                text: String::from_utf8_lossy(raw).into_owned(),
                offset,
            })?;
    }
    let h = Header {
        ino: v[0],
        mode: v[1],
        uid: v[2],
        gid: v[3],
        nlink: v[4],
        mtime: v[5],
        filesize: v[6],
        devmajor: v[7],
        devminor: v[8],
        rdevmajor: v[9],
        rdevminor: v[10],
        name: String::new(),
    };
    Ok((h, v[11] as usize))
}

/// Decode an entry name (with its NUL).
pub fn decode_name(raw: &[u8], offset: u64) -> Result<String, CpioError> {
    match raw.split_last() {
        Some((0, name)) if !name.contains(&0) => {
            String::from_utf8(name.to_vec()).map_err(|_| CpioError::BadName(offset))
        }
        _ => Err(CpioError::BadName(offset)),
    }
}

/// Streams entries into a newc archive.
pub struct Writer<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Writer { out, written: 0 }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Write an entry whose data is `h.filesize` bytes read from `data`.
    /// Fails if `data` holds fewer bytes (a file shrank while being read).
    pub fn entry(&mut self, h: &Header, data: &mut dyn Read) -> Result<(), CpioError> {
        let head = encode_header(h)?;
        self.put(&head)?;
        let want = u64::from(h.filesize);
        let copied = io::copy(&mut data.take(want), &mut self.out)?;
        self.written += copied;
        if copied != want {
            return Err(CpioError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} changed while being read: {copied} of {want} bytes",
                    h.name
                ),
            )));
        }
        self.put(&[0u8; 3][..pad4(want)])?;
        Ok(())
    }

    /// Write the trailer; return the inner writer and the archive's size.
    pub fn finish(mut self) -> Result<(W, u64), CpioError> {
        let h = Header {
            nlink: 1,
            name: TRAILER.into(),
            ..Header::default()
        };
        let head = encode_header(&h)?;
        self.put(&head)?;
        Ok((self.out, self.written))
    }
}

/// One entry read back: its header, and for symlinks the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadEntry {
    pub header: Header,
    /// Symlink target, when the entry is a symlink.
    pub link: Option<String>,
}

/// Reads the entries of a newc archive, skipping file data.
pub struct Reader<R: Read> {
    inner: R,
    offset: u64,
    done: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            offset: 0,
            done: false,
        }
    }

    fn read_exact_at(&mut self, buf: &mut [u8], start: u64) -> Result<(), CpioError> {
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                CpioError::Truncated(start)
            } else {
                CpioError::Io(e)
            }
        })?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64, start: u64) -> Result<(), CpioError> {
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.offset += skipped;
        if skipped != n {
            return Err(CpioError::Truncated(start));
        }
        Ok(())
    }

    /// The next entry, `None` after the trailer.
    pub fn next_entry(&mut self) -> Result<Option<ReadEntry>, CpioError> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let mut fixed = [0u8; HEADER_LEN];
        self.read_exact_at(&mut fixed, start)?;
        let (mut header, namesize) = decode_fixed(&fixed, start)?;
        if namesize > PATH_MAX {
            return Err(CpioError::TooLong {
                what: "name",
                size: namesize as u64,
                offset: start,
            });
        }
        let mut name = vec![0u8; namesize];
        self.read_exact_at(&mut name, start)?;
        header.name = decode_name(&name, start)?;
        let mut pad = [0u8; 3];
        let n = pad4(HEADER_LEN as u64 + namesize as u64);
        self.read_exact_at(&mut pad[..n], start)?;
        if header.name == TRAILER {
            self.done = true;
            return Ok(None);
        }
        let size = u64::from(header.filesize);
        let link = if header.mode & S_IFMT == S_IFLNK {
            if size > PATH_MAX as u64 {
                return Err(CpioError::TooLong {
                    what: "symlink target",
                    size,
                    offset: start,
                });
            }
            let mut target = vec![0u8; header.filesize as usize];
            self.read_exact_at(&mut target, start)?;
            Some(String::from_utf8_lossy(&target).into_owned())
        } else {
            self.skip(size, start)?;
            None
        };
        self.skip(pad4(size) as u64, start)?;
        Ok(Some(ReadEntry { header, link }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, mode: u32, size: u32) -> Header {
        Header {
            ino: 7,
            mode,
            nlink: 1,
            mtime: 1_700_000_000,
            filesize: size,
            name: name.into(),
            ..Header::default()
        }
    }

    #[test]
    fn header_layout_matches_newc() {
        let h = file("init", S_IFREG | 0o755, 3);
        let b = encode_header(&h).expect("encodes");
        assert_eq!(&b[..6], b"070701");
        assert_eq!(&b[6..14], b"00000007");
        assert_eq!(&b[14..22], b"000081ED");
        assert_eq!(&b[94..102], b"00000005"); // namesize "init\0"
        assert_eq!(&b[110..115], b"init\0");
        assert_eq!(b.len() % 4, 0);
        assert_eq!(b.len(), 116);
    }

    #[test]
    fn round_trip_through_writer_and_reader() {
        let mut w = Writer::new(Vec::new());
        w.entry(&file("a", S_IFREG | 0o644, 5), &mut &b"hello"[..])
            .expect("a");
        w.entry(&file("link", S_IFLNK | 0o777, 1), &mut &b"a"[..])
            .expect("link");
        w.entry(&file("d", S_IFDIR | 0o755, 0), &mut io::empty())
            .expect("d");
        let (bytes, _) = w.finish().expect("trailer");
        assert_eq!(bytes.len() % 4, 0);
        let mut r = Reader::new(&bytes[..]);
        let a = r.next_entry().expect("ok").expect("a");
        assert_eq!(a.header, file("a", S_IFREG | 0o644, 5));
        let l = r.next_entry().expect("ok").expect("link");
        assert_eq!(l.link.as_deref(), Some("a"));
        let d = r.next_entry().expect("ok").expect("d");
        assert_eq!(d.header.name, "d");
        assert!(r.next_entry().expect("trailer").is_none());
        assert!(r.next_entry().expect("still done").is_none());
    }

    #[test]
    fn short_data_is_an_error_not_a_corrupt_archive() {
        let mut w = Writer::new(Vec::new());
        let err = w
            .entry(&file("a", S_IFREG | 0o644, 10), &mut &b"abc"[..])
            .expect_err("short");
        assert!(err.to_string().contains("i/o") || matches!(err, CpioError::Io(_)));
    }

    #[test]
    fn garbage_and_truncation_are_reported() {
        let mut r = Reader::new(&b"070707garbage"[..]);
        assert!(matches!(r.next_entry(), Err(CpioError::Truncated(0))));
        let mut junk = [b'x'; 120];
        junk[..6].copy_from_slice(b"123456");
        let mut r = Reader::new(&junk[..]);
        assert!(matches!(r.next_entry(), Err(CpioError::BadMagic(_, 0))));
        let mut w = Writer::new(Vec::new());
        w.entry(&file("a", S_IFREG, 8), &mut &b"12345678"[..])
            .expect("a");
        let (bytes, _) = w.finish().expect("trailer");
        let mut r = Reader::new(&bytes[..117]);
        assert!(matches!(r.next_entry(), Err(CpioError::Truncated(0))));
        let mut bad = bytes.clone();
        bad[10] = b'Z';
        let mut r = Reader::new(&bad[..]);
        assert!(matches!(
            r.next_entry(),
            Err(CpioError::BadField { field: "ino", .. })
        ));
    }

    /// Issue 15 defect 8: a header's namesize or a symlink's filesize was
    /// allocated as asked (4 GiB each) before reading a byte of it.
    #[test]
    fn huge_name_and_link_sizes_are_refused_before_allocating() {
        let mut h = encode_header(&file("a", S_IFREG, 0)).expect("header");
        h[94..102].copy_from_slice(b"ffffffff"); // namesize
        let mut r = Reader::new(&h[..]);
        assert!(matches!(
            r.next_entry(),
            Err(CpioError::TooLong {
                what: "name",
                size: 0xffff_ffff,
                offset: 0
            })
        ));
        let mut l = encode_header(&file("l", S_IFLNK | 0o777, 0)).expect("header");
        l[54..62].copy_from_slice(b"ffffffff"); // filesize
        let mut r = Reader::new(&l[..]);
        let err = r.next_entry().expect_err("refused");
        assert!(
            matches!(
                err,
                CpioError::TooLong {
                    what: "symlink target",
                    ..
                }
            ),
            "{err}"
        );
        // At the limit a name still reads (then the archive ends).
        let long = "n".repeat(PATH_MAX - 1);
        let mut w = Writer::new(Vec::new());
        w.entry(&file(&long, S_IFREG, 0), &mut &b""[..])
            .expect("entry");
        let (bytes, _) = w.finish().expect("trailer");
        let e = Reader::new(&bytes[..])
            .next_entry()
            .expect("ok")
            .expect("entry");
        assert_eq!(e.header.name, long);
    }

    #[test]
    fn nul_in_name_is_refused() {
        assert!(matches!(
            encode_header(&file("a\0b", S_IFREG, 0)),
            Err(CpioError::NulInName(_))
        ));
    }
}
