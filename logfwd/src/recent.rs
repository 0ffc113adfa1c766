//! The recent records on request: a unix stream socket (`recent.sock` in
//! the state directory, /run/logfwd by default) where every connection gets
//! the ring's text, like the SIGUSR1 dump, and is closed. The debug
//! console's `log` reads it.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// The socket's file name in the state directory.
pub use nodistro_common::protocol::logfwd::RECENT_SOCKET as SOCKET;

/// Listen (non-blocking); `None` when the socket cannot be made (logged).
pub fn bind(state_dir: &Path) -> Option<UnixListener> {
    let path = state_dir.join(SOCKET);
    let _ = std::fs::create_dir_all(state_dir);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(&path);
    }
    let l = UnixListener::bind(&path)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(|l| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map(|()| l)
        });
    match l {
        Ok(l) => Some(l),
        Err(e) => {
            nodistro_common::timeline::log(
                "logfwd",
                &format!("cannot offer recent records on {}: {e}", path.display()),
            );
            None
        }
    }
}

/// Accept the waiting connections; `text` makes the answer.
pub fn serve(l: &UnixListener, text: &dyn Fn() -> String) {
    for _ in 0..8 {
        let Ok((s, _)) = l.accept() else { return };
        let body = text();
        // In its own thread: a reader that does not read must not stall us.
        let _ = std::thread::Builder::new()
            .name("logfwd-recent".into())
            .spawn(move || send(s, body.as_bytes()));
    }
}

fn send(mut s: UnixStream, body: &[u8]) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_write_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn every_connection_gets_the_text() {
        let dir = std::env::temp_dir().join(format!("logfwd-recent-{}", std::process::id()));
        let l = bind(&dir).expect("bind");
        for _ in 0..2 {
            let mut c = UnixStream::connect(dir.join(SOCKET)).expect("connect");
            serve(&l, &|| "a record\n".to_string());
            let mut got = String::new();
            c.read_to_string(&mut got).expect("read");
            assert_eq!(got, "a record\n");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
