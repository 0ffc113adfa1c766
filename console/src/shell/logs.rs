//! `dmesg [-f]` (the kernel log, followed until Ctrl-C) and `log`
//! (logfwd's recent lines, from its socket).

use super::Console;
use crate::gather;
use rustix::event::{poll, PollFd, PollFlags};
use std::io::Read;
use std::time::Duration;

impl Console {
    pub(super) fn dmesg(&self, follow: bool) {
        let mut text = String::new();
        for r in gather::kernel_records() {
            text += &crate::core::kmsg::format(&r);
            text.push('\n');
        }
        self.out(&text);
        if !follow {
            return;
        }
        self.out("(following the kernel log; Ctrl-C stops)\n");
        let Ok(k) = gather::open_kmsg() else { return };
        let _ = rustix::fs::seek(&k, rustix::fs::SeekFrom::End(0));
        let mut buf = vec![0u8; 8192];
        loop {
            let (kin, cin) = {
                let mut p = [
                    PollFd::new(&k, PollFlags::IN),
                    PollFd::new(&self.fd, PollFlags::IN),
                ];
                if poll(&mut p, None).is_err() {
                    return;
                }
                (!p[0].revents().is_empty(), !p[1].revents().is_empty())
            };
            if cin && self.interrupted(Duration::ZERO) {
                self.out("^C\n");
                return;
            }
            if kin {
                loop {
                    match rustix::io::read(&k, &mut buf) {
                        Ok(n) if n > 0 => {
                            if let Some(r) = crate::core::kmsg::parse(&buf[..n]) {
                                self.out(&format!("{}\n", crate::core::kmsg::format(&r)));
                            }
                        }
                        Err(rustix::io::Errno::PIPE) => continue,
                        _ => break,
                    }
                }
            }
        }
    }

    pub(super) fn log(&self) {
        use std::os::unix::net::UnixStream;
        let socket = self.paths.recent_socket();
        let s = match UnixStream::connect(&socket) {
            Ok(s) => s,
            Err(e) => {
                self.out(&format!(
                    "error: logfwd does not answer on {} ({e}); is it running? (ps)\n",
                    socket.display()
                ));
                return;
            }
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        let mut bytes = Vec::new();
        let _ = s.take(1 << 20).read_to_end(&mut bytes);
        self.out(&crate::core::files::escape(&bytes));
    }
}
