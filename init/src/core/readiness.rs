//! Readiness lines out of a helper's pipe (sans-IO): the bytes as they
//! come, complete lines out, a line without an end bounded.

/// The longest readiness line kept; a helper writing more without a
/// newline has the excess dropped (init's memory stays bounded).
pub const MAX_READY_LINE: usize = 1024;

/// The partial line read so far from one pipe.
#[derive(Debug, Default)]
pub struct LineBuf {
    buf: Vec<u8>,
}

impl LineBuf {
    /// Add `bytes` read from the pipe; return the complete lines. A line
    /// longer than [`MAX_READY_LINE`] is cut there and ends with `...`.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for part in bytes.split_inclusive(|b| *b == b'\n') {
            let (text, complete) = match part.split_last() {
                Some((b'\n', text)) => (text, true),
                _ => (part, false),
            };
            let room = (MAX_READY_LINE + 1).saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&text[..text.len().min(room)]);
            if complete {
                let mut line = String::from_utf8_lossy(&self.buf).trim_end().to_string();
                if self.buf.len() > MAX_READY_LINE {
                    line = line.chars().take(MAX_READY_LINE).collect::<String>() + "...";
                }
                lines.push(line);
                self.buf.clear();
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15 defect 4: a helper writing without a newline grew init's
    /// buffer without bound.
    #[test]
    fn readiness_lines_are_bounded() {
        let mut p = LineBuf::default();
        assert_eq!(p.push(b"rea"), Vec::<String>::new());
        assert_eq!(
            p.push(b"dy\nonline eth0 10.0.2.15/24\r\npart"),
            ["ready", "online eth0 10.0.2.15/24"]
        );
        let chunk = [b'x'; 512];
        for _ in 0..10_000 {
            assert!(p.push(&chunk).is_empty());
            assert!(
                p.buf.len() <= MAX_READY_LINE + 1,
                "buffer grew to {}",
                p.buf.len()
            );
        }
        let lines = p.push(b"\nready\n");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("partxxx") && lines[0].ends_with("..."));
        assert_eq!(lines[0].len(), MAX_READY_LINE + 3);
        assert_eq!(lines[1], "ready");
    }
}
