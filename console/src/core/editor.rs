//! The line editor, sans-IO: fed the bytes typed on the serial line, it
//! returns what to echo and, at Enter, the line. Backspace (DEL or ^H),
//! Ctrl-C (drop the line), Ctrl-U (erase it); escape sequences (arrow
//! keys) and other control bytes are ignored. A line is bounded: bytes
//! beyond [`MAX_LINE`] are dropped and the line is refused at Enter.

/// Longest line accepted, in bytes.
pub const MAX_LINE: usize = 256;

/// What a byte completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line typed (without the newline).
    Line(String),
    /// Enter after more than [`MAX_LINE`] bytes: the line was dropped.
    TooLong,
    /// Ctrl-C: the line was dropped.
    Cancel,
}

#[derive(Debug, Default)]
pub struct Editor {
    buf: Vec<u8>,
    overflow: bool,
    after_cr: bool,
    /// 0: text; 1: after ESC; 2: inside `ESC [` ... final byte.
    esc: u8,
}

impl Editor {
    pub fn new() -> Self {
        Self::default()
    }

    /// The line so far.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Feed one byte; what to echo is appended to `echo`.
    pub fn feed(&mut self, b: u8, echo: &mut Vec<u8>) -> Option<Event> {
        let after_cr = std::mem::take(&mut self.after_cr);
        match self.esc {
            1 => {
                self.esc = if b == b'[' || b == b'O' { 2 } else { 0 };
                return None;
            }
            2 => {
                if (0x40..=0x7e).contains(&b) {
                    self.esc = 0;
                }
                return None;
            }
            _ => {}
        }
        match b {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                self.after_cr = b == b'\r';
                echo.push(b'\n');
                let line = std::mem::take(&mut self.buf);
                if std::mem::take(&mut self.overflow) {
                    Some(Event::TooLong)
                } else {
                    Some(Event::Line(String::from_utf8_lossy(&line).into_owned()))
                }
            }
            0x7f | 0x08 => {
                // Drop one character (its UTF-8 continuation bytes too).
                while let Some(c) = self.buf.pop() {
                    if c & 0xc0 != 0x80 {
                        break;
                    }
                }
                if !self.overflow || self.buf.len() < MAX_LINE {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                None
            }
            0x03 => {
                self.buf.clear();
                self.overflow = false;
                echo.extend_from_slice(b"^C\n");
                Some(Event::Cancel)
            }
            0x15 => {
                let chars = self.buf.iter().filter(|c| **c & 0xc0 != 0x80).count();
                for _ in 0..chars {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                self.buf.clear();
                self.overflow = false;
                None
            }
            0x1b => {
                self.esc = 1;
                None
            }
            b if b < 0x20 => None,
            b => {
                if self.buf.len() >= MAX_LINE {
                    if !self.overflow {
                        echo.push(0x07);
                    }
                    self.overflow = true;
                } else {
                    self.buf.push(b);
                    echo.push(b);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<Event>, Vec<u8>, Editor) {
        let mut e = Editor::new();
        let mut echo = Vec::new();
        let ev = input.iter().filter_map(|b| e.feed(*b, &mut echo)).collect();
        (ev, echo, e)
    }

    fn line(s: &str) -> Event {
        Event::Line(s.into())
    }

    #[test]
    fn enter_gives_the_line_once_for_crlf() {
        let (ev, echo, _) = run(b"ps\r\nls /\r");
        assert_eq!(ev, [line("ps"), line("ls /")]);
        assert_eq!(echo, b"ps\nls /\n");
        let (ev, _, _) = run(b"\n\n");
        assert_eq!(ev, [line(""), line("")]);
    }

    #[test]
    fn backspace_ctrl_u_ctrl_c() {
        let (ev, echo, _) = run(b"lz\x7fs\r");
        assert_eq!(ev, [line("ls")]);
        assert_eq!(echo, b"lz\x08 \x08s\n");
        let (ev, _, _) = run(b"\x7f\x7fok\x08\x08ps\n");
        assert_eq!(ev, [line("ps")]);
        let (ev, _, _) = run(b"reboot\x15free\n");
        assert_eq!(ev, [line("free")]);
        let (ev, echo, e) = run(b"poweroff\x03");
        assert_eq!(ev, [Event::Cancel]);
        assert!(echo.ends_with(b"^C\n"));
        assert!(e.pending().is_empty());
        let (ev, _, _) = run("é\x7fe\n".as_bytes());
        assert_eq!(ev, [line("e")]);
    }

    #[test]
    fn escapes_and_controls_are_ignored() {
        let (ev, _, _) = run(b"p\x1b[A\x1b[1;5Cs\x01\x02\x1bOx\n");
        assert_eq!(ev, [line("ps")]);
    }

    #[test]
    fn a_flood_is_bounded_and_refused() {
        let mut input = vec![b'x'; 100_000];
        input.push(b'\r');
        input.extend_from_slice(b"help\r");
        let (ev, echo, _) = run(&input);
        assert_eq!(ev, [Event::TooLong, line("help")]);
        assert!(echo.len() < MAX_LINE + 16, "echo is bounded too");
        let (ev, _, _) = run(&[&[b'y'; 1000][..], b"\x15ok\r"].concat());
        assert_eq!(ev, [line("ok")], "Ctrl-U clears an overflow");
    }
}
