//! Output compression for the initramfs, and detection on the way back in.
//!
//! gzip is written pigz-style: the stream is cut into fixed 1 MiB blocks,
//! each block is deflated on a worker thread (zlib's classic match finder,
//! see [`crate::deflate`]), primed with the last 32 KiB of the block before
//! it (so the ratio matches a single-threaded gzip) and ended with a sync
//! flush, and the pieces are joined in order into one
//! ordinary gzip member with the CRC of the whole. Block boundaries do not
//! depend on the number of threads, so the output is the same on every
//! machine. zstd uses libzstd's own worker threads (its output does not
//! depend on the thread count either) and ends with a content checksum.

use crate::deflate::deflate_block;
use flate2::Crc;
use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Write};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

/// How the archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            other => Err(format!(
                "unknown compression {other:?}: use gzip, zstd or none"
            )),
        }
    }
}

impl Compression {
    /// The level used when none is given: gzip's and zstd's own defaults.
    pub fn default_level(self) -> i32 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 6,
            Compression::Zstd => 3,
        }
    }

    /// Valid levels, for the error message.
    pub fn level_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Compression::None => 0..=0,
            Compression::Gzip => 0..=9,
            Compression::Zstd => 1..=19,
        }
    }

    /// The usual file name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "cpio",
            Compression::Gzip => "cpio.gz",
            Compression::Zstd => "cpio.zst",
        }
    }
}

/// Size of the independent gzip blocks.
pub const GZ_BLOCK: usize = 1 << 20;
/// Deflate's window: how much of the previous block primes the next.
const GZ_DICT: usize = 32 * 1024;

struct Job {
    seq: u64,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

type Done = (u64, io::Result<Vec<u8>>);

/// A `Write` that produces one gzip member, deflating blocks in parallel.
pub struct ParallelGz<W: Write> {
    out: W,
    level: u32,
    block: Vec<u8>,
    dict: Vec<u8>,
    crc: Crc,
    next_seq: u64,
    next_out: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    jobs: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    max_in_flight: usize,
}

impl<W: Write> ParallelGz<W> {
    /// Start a member at `level` (0-9) using `threads` workers (at least 1).
    pub fn new(mut out: W, level: u32, threads: usize) -> io::Result<Self> {
        let xfl = match level {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        // magic, deflate, no flags, mtime 0, extra flags, OS = Unix.
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3])?;
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let threads = threads.max(1);
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                let tx = done_tx.clone();
                std::thread::spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let result = deflate_block(level, &job.dict, &job.data, job.last);
                    if tx.send((job.seq, result)).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Ok(ParallelGz {
            out,
            level,
            block: Vec::with_capacity(GZ_BLOCK),
            dict: Vec::new(),
            crc: Crc::new(),
            next_seq: 0,
            next_out: 0,
            pending: BTreeMap::new(),
            jobs: Some(job_tx),
            done: done_rx,
            workers,
            max_in_flight: threads * 3,
        })
    }

    fn submit(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(GZ_BLOCK));
        self.crc.update(&data);
        let dict = std::mem::take(&mut self.dict);
        if self.level > 0 {
            self.dict = data[data.len().saturating_sub(GZ_DICT)..].to_vec();
        }
        let job = Job {
            seq: self.next_seq,
            dict,
            data,
            last,
        };
        self.next_seq += 1;
        let sent = self.jobs.as_ref().map(|tx| tx.send(job).is_ok());
        if sent != Some(true) {
            return Err(io::Error::other("gzip worker threads stopped"));
        }
        while self.next_seq - self.next_out > self.max_in_flight as u64 {
            self.collect_one()?;
        }
        Ok(())
    }

    /// Wait for one finished block and write every block now in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, result) = self
            .done
            .recv()
            .map_err(|_| io::Error::other("gzip worker threads stopped"))?;
        self.pending.insert(seq, result?);
        while let Some(bytes) = self.pending.remove(&self.next_out) {
            self.out.write_all(&bytes)?;
            self.next_out += 1;
        }
        Ok(())
    }

    /// Compress what is left, write the trailer, return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while self.next_out < self.next_seq {
            self.collect_one()?;
        }
        let trailer = [
            self.crc.sum().to_le_bytes(),
            self.crc.amount().to_le_bytes(),
        ]
        .concat();
        self.out.write_all(&trailer)?;
        self.out.flush()?;
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = GZ_BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == GZ_BLOCK {
            self.submit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A compressing writer of any of the three kinds.
pub enum Encoder<W: Write> {
    None(W),
    Gzip(ParallelGz<W>),
    Zstd(zstd::stream::Encoder<'static, W>),
}

/// Worker threads to use: the machine's cores.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl<W: Write> Encoder<W> {
    /// Start compressing into `out`. `level` must be in `kind.level_range()`.
    pub fn new(out: W, kind: Compression, level: i32) -> io::Result<Self> {
        Ok(match kind {
            Compression::None => Encoder::None(out),
            Compression::Gzip => {
                Encoder::Gzip(ParallelGz::new(out, level.clamp(0, 9) as u32, threads())?)
            }
            Compression::Zstd => {
                let mut z = zstd::stream::Encoder::new(out, level)?;
                // Always multithreaded (even with one core) so the bytes do
                // not depend on the machine: libzstd's single-threaded mode
                // cuts blocks differently from its multithreaded mode.
                z.multithread(threads().max(1) as u32)?;
                z.include_checksum(true)?;
                Encoder::Zstd(z)
            }
        })
    }

    /// End the stream and return the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Encoder::Gzip(g) => g.finish(),
            Encoder::Zstd(z) => z.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(g) => g.write(buf),
            Encoder::Zstd(z) => z.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(g) => g.flush(),
            Encoder::Zstd(z) => z.flush(),
        }
    }
}

/// What the first bytes of a file say it is.
pub fn detect(head: &[u8]) -> Result<Compression, String> {
    const FORMATS: [(&[u8], &str); 5] = [
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz"),
        (b"BZh", "bzip2"),
        (&[0x5d, 0, 0], "lzma"),
        (&[0x89, b'L', b'Z', b'O'], "lzo"),
        (&[0x02, 0x21, 0x4c, 0x18], "lz4"),
    ];
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Compression::Zstd)
    } else if head.starts_with(b"0707") {
        Ok(Compression::None)
    } else if let Some((_, name)) = FORMATS.iter().find(|(m, _)| head.starts_with(m)) {
        Err(format!(
            "it is {name}-compressed; nodistro reads gzip, zstd or uncompressed cpio archives"
        ))
    } else {
        Err("it is neither a cpio archive nor gzip- or zstd-compressed".into())
    }
}

/// Open a reader that decompresses whatever `input` holds.
pub fn decoder<'a, R: BufRead + 'a>(mut input: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = input.fill_buf()?.to_vec();
    let kind = detect(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(match kind {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial: text with a counter.
        let mut v = Vec::with_capacity(n);
        let mut i = 0u64;
        while v.len() < n {
            v.extend_from_slice(format!("line {i} of the sample {}\n", i * 7919 % 1013).as_bytes());
            i += 1;
        }
        v.truncate(n);
        v
    }

    fn gz(data: &[u8], level: u32, threads: usize) -> Vec<u8> {
        let mut g = ParallelGz::new(Vec::new(), level, threads).expect("start");
        for chunk in data.chunks(7777) {
            g.write_all(chunk).expect("write");
        }
        g.finish().expect("finish")
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn parallel_gzip_round_trips_at_block_edges() {
        for n in [0, 1, GZ_BLOCK - 1, GZ_BLOCK, GZ_BLOCK + 1, 3 * GZ_BLOCK + 5] {
            let data = sample(n);
            // Every level on one size; the default level on every size.
            let levels: &[u32] = if n == GZ_BLOCK + 1 {
                &[0, 1, 4, 6, 9]
            } else {
                &[6]
            };
            for &level in levels {
                assert_eq!(gunzip(&gz(&data, level, 2)), data, "n={n} level={level}");
            }
        }
    }

    #[test]
    fn parallel_gzip_is_independent_of_thread_count_and_as_small_as_serial() {
        let data = sample(5 * GZ_BLOCK / 2);
        let one = gz(&data, 6, 1);
        assert!(one == gz(&data, 6, 3), "output depends on the thread count");
        let mut serial = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        serial.write_all(&data).expect("write");
        let serial = serial.finish().expect("finish");
        // Priming each block with the previous 32 KiB keeps the ratio: a
        // few bytes per block of sync-flush markers at most.
        assert!(
            one.len() <= serial.len() + 3 * 16,
            "{} vs {}",
            one.len(),
            serial.len()
        );
    }

    #[test]
    fn encoders_round_trip_through_detecting_decoder() {
        let mut data = b"070701".to_vec();
        data.extend(sample(100_000));
        for kind in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut e = Encoder::new(Vec::new(), kind, kind.default_level()).expect("start");
            e.write_all(&data).expect("write");
            let bytes = e.finish().expect("finish");
            let mut back = Vec::new();
            decoder(&bytes[..])
                .expect("detected")
                .read_to_end(&mut back)
                .expect("decodes");
            assert_eq!(back, data, "{kind:?}");
        }
    }

    #[test]
    fn detect_names_unsupported_formats() {
        assert!(detect(b"\xfd7zXZ\0rest")
            .expect_err("refused")
            .contains("xz"));
        assert!(detect(b"hello").expect_err("refused").contains("neither"));
        assert!(detect(b"").is_err());
    }
}
