//! Splitting byte streams (the app's stdout/stderr) into bounded lines, and
//! cutting over-long messages into marked pieces.

/// Appended to every piece of a cut message except the last one.
pub const CONT_MARK: &str = " [cont]";

/// Largest message text forwarded in one record, in bytes.
pub const MAX_MSG: usize = 8 * 1024;

/// Length of `buf` without a UTF-8 sequence left incomplete at its end, so
/// that a cut never splits a character (invalid bytes are left as they are).
fn complete_utf8_len(buf: &[u8]) -> usize {
    for back in 1..=buf.len().min(3) {
        let i = buf.len() - back;
        let need = match buf[i] {
            b if b & 0xE0 == 0xC0 => 2,
            b if b & 0xF0 == 0xE0 => 3,
            b if b & 0xF8 == 0xF0 => 4,
            b if b & 0xC0 == 0x80 => continue,
            _ => return buf.len(),
        };
        return if back < need && i > 0 { i } else { buf.len() };
    }
    buf.len()
}

/// Cut a message into pieces of at most `max` bytes (marker included); all
/// but the last end with [`CONT_MARK`]. Short messages come back whole.
pub fn split_long(msg: String, max: usize) -> Vec<String> {
    if msg.len() <= max {
        return vec![msg];
    }
    let room = max.saturating_sub(CONT_MARK.len()).max(4);
    let mut out = Vec::new();
    let mut rest = msg.as_str();
    while rest.len() > max {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(format!("{}{CONT_MARK}", &rest[..cut]));
        rest = &rest[cut..];
    }
    out.push(rest.to_string());
    out
}

/// Index of the first `\n`, eight bytes at a time.
pub fn find_newline(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        // Bytes equal to '\n' become zero; a zero byte borrows into its
        // high bit (the first one exactly, which is all we need).
        let x = u64::from_le_bytes(b) ^ (ONES * u64::from(b'\n'));
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = words.remainder();
    rest.iter().position(|&b| b == b'\n').map(|i| at + i)
}

fn strip_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// A piece of the stream: one line, or a part of a line that was too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// The line continues in the next piece (it was longer than the bound).
    pub cut: bool,
}

impl Line {
    /// The text as forwarded: cut pieces carry [`CONT_MARK`].
    pub fn into_message(self) -> String {
        if self.cut {
            self.text + CONT_MARK
        } else {
            self.text
        }
    }
}

/// Accumulates bytes and yields complete lines, each at most `max` bytes
/// (longer lines come out in pieces marked `cut`). Invalid UTF-8 is
/// replaced, a trailing `\r` removed. Memory use is bounded by `max`.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            max: max.max(4),
        }
    }

    fn piece(bytes: &[u8], cut: bool) -> Line {
        Line {
            text: String::from_utf8_lossy(strip_cr(bytes)).into_owned(),
            cut,
        }
    }

    /// Feed bytes; complete lines (and pieces of over-long ones) are pushed to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Line>) {
        self.feed_with(data, |bytes, cut| out.push(Self::piece(bytes, cut)));
    }

    /// [`LineSplitter::feed`] without an allocation per line: `emit` gets
    /// each line's bytes (a trailing `\r` removed, not yet checked as
    /// UTF-8) and whether it was cut. A line that lies whole in `data` is
    /// handed out from `data` itself, not copied.
    pub fn feed_with(&mut self, data: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        self.feed_until(data, |bytes, cut| {
            emit(bytes, cut);
            true
        });
    }

    /// [`LineSplitter::feed_with`] that stops after a piece for which
    /// `emit` returns false. Returns how many bytes of `data` were taken;
    /// the rest is for a later call (back-pressure: the reader holds it
    /// until its sink has room).
    pub fn feed_until(&mut self, data: &[u8], mut emit: impl FnMut(&[u8], bool) -> bool) -> usize {
        let mut rest = data;
        while !rest.is_empty() {
            let room = self.max - self.buf.len();
            let window = &rest[..rest.len().min(room + 1)];
            let go = if let Some(nl) = find_newline(window) {
                let go = if self.buf.is_empty() {
                    emit(strip_cr(&rest[..nl]), false)
                } else {
                    self.buf.extend_from_slice(&rest[..nl]);
                    let go = emit(strip_cr(&self.buf), false);
                    self.buf.clear();
                    go
                };
                rest = &rest[nl + 1..];
                go
            } else if rest.len() > room {
                // The line does not fit: emit a piece and keep going.
                self.buf.extend_from_slice(&rest[..room]);
                let cut = complete_utf8_len(&self.buf);
                let go = emit(strip_cr(&self.buf[..cut]), true);
                self.buf.drain(..cut);
                rest = &rest[room..];
                go
            } else {
                self.buf.extend_from_slice(rest);
                rest = &[];
                true
            };
            if !go {
                break;
            }
        }
        data.len() - rest.len()
    }

    /// End of stream: the partial last line, if any.
    pub fn finish(&mut self) -> Option<Line> {
        if self.buf.is_empty() {
            return None;
        }
        let line = Self::piece(&self.buf, false);
        self.buf.clear();
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(s: &mut LineSplitter, chunks: &[&[u8]]) -> Vec<Line> {
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        out
    }

    #[test]
    fn lines_across_chunks_and_partial_last_line() {
        let mut s = LineSplitter::new(100);
        let out = feed_all(&mut s, &[b"hel", b"lo\nwor", b"ld\r\n\nlast"]);
        let texts: Vec<_> = out.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["hello", "world", ""]);
        assert!(out.iter().all(|l| !l.cut));
        assert_eq!(s.finish().map(|l| l.text), Some("last".into()));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn long_lines_are_cut_bounded_and_nothing_is_lost() {
        let mut s = LineSplitter::new(10);
        let long: Vec<u8> = (0..35).map(|i| b'a' + (i % 26) as u8).collect();
        let mut input = long.clone();
        input.extend_from_slice(b"\nnext\n");
        let out = feed_all(&mut s, &[&input[..7], &input[7..]]);
        assert!(out.iter().all(|l| l.text.len() <= 10));
        let first_line: String = out
            .iter()
            .take_while(|l| l.text != "next")
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(first_line.as_bytes(), &long[..]);
        assert!(out[0].cut);
        assert_eq!(out.last().map(|l| l.text.as_str()), Some("next"));
        assert!(
            !out[out.len() - 2].cut,
            "last piece of a cut line is not marked"
        );
    }

    #[test]
    fn cuts_at_char_boundaries_and_replaces_invalid_utf8() {
        let mut s = LineSplitter::new(5);
        let out = feed_all(&mut s, &["ééééé\n".as_bytes()]);
        assert!(out.iter().all(|l| !l.text.contains('\u{fffd}')));
        assert_eq!(
            out.iter().map(|l| l.text.as_str()).collect::<String>(),
            "ééééé"
        );
        let out = feed_all(&mut s, &[b"a\xffb\n"]);
        assert_eq!(out[0].text, "a\u{fffd}b");
    }

    #[test]
    fn megabyte_line_stays_bounded() {
        let mut s = LineSplitter::new(MAX_MSG);
        let mut out = Vec::new();
        let chunk = vec![b'x'; 65536];
        for _ in 0..16 {
            s.feed(&chunk, &mut out);
            assert!(s.buf.len() <= MAX_MSG);
        }
        s.feed(b"\n", &mut out);
        let total: usize = out.iter().map(|l| l.text.len()).sum();
        assert_eq!(total, 16 * 65536);
        assert_eq!(out.iter().filter(|l| !l.cut).count(), 1);
    }

    /// The allocation-free path gives what `feed` gives, over every cut of
    /// the input into two reads.
    #[test]
    fn feed_with_matches_feed() {
        let input = b"one\r\ntwo\n\nthree is longer than ten\n\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\nend";
        for cut in 0..=input.len() {
            let mut a = LineSplitter::new(10);
            let mut want = Vec::new();
            a.feed(&input[..cut], &mut want);
            a.feed(&input[cut..], &mut want);
            let mut b = LineSplitter::new(10);
            let mut got = Vec::new();
            for part in [&input[..cut], &input[cut..]] {
                b.feed_with(part, |bytes, c| got.push(LineSplitter::piece(bytes, c)));
            }
            assert_eq!(got, want, "cut at {cut}");
            assert_eq!(a.finish(), b.finish());
        }
    }

    /// Stopping after any piece and feeding the rest later gives the same
    /// pieces as one feed.
    #[test]
    fn feed_until_stops_and_resumes_without_loss() {
        let input = b"one\ntwo\r\n\nthree is longer than ten\nend\nta";
        let mut a = LineSplitter::new(10);
        let mut want = Vec::new();
        a.feed(input, &mut want);
        for stop_every in 1..5 {
            let mut b = LineSplitter::new(10);
            let mut got = Vec::new();
            let mut rest: &[u8] = input;
            let mut calls = 0;
            while !rest.is_empty() {
                let mut n = 0;
                let used = b.feed_until(rest, |bytes, cut| {
                    got.push(LineSplitter::piece(bytes, cut));
                    n += 1;
                    n < stop_every
                });
                assert!(used > 0 || rest.is_empty());
                rest = &rest[used..];
                calls += 1;
            }
            assert_eq!(got, want, "stopping every {stop_every}");
            assert!(stop_every > 3 || calls > 2);
            assert_eq!(b.finish().map(|l| l.text), Some("ta".into()));
        }
    }

    #[test]
    fn find_newline_matches_position() {
        for len in 0..20 {
            for nl in 0..=len {
                for other in 0..=255u8 {
                    let mut s = vec![other; len];
                    if other == b'\n' {
                        continue;
                    }
                    if nl < len {
                        s[nl] = b'\n';
                    }
                    let want = s.iter().position(|&b| b == b'\n');
                    assert_eq!(find_newline(&s), want, "len {len} nl {nl} byte {other:#x}");
                }
            }
        }
        assert_eq!(find_newline(b"ab\n\n\ncdefghij\n"), Some(2));
    }

    #[test]
    fn split_long_marks_pieces() {
        assert_eq!(split_long("short".into(), 100), ["short"]);
        let parts = split_long("x".repeat(50), 20);
        assert!(parts.iter().all(|p| p.len() <= 20));
        assert!(parts[..parts.len() - 1]
            .iter()
            .all(|p| p.ends_with(CONT_MARK)));
        let joined: String = parts
            .iter()
            .map(|p| p.strip_suffix(CONT_MARK).unwrap_or(p))
            .collect();
        assert_eq!(joined, "x".repeat(50));
    }
}
