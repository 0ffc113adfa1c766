//! Signed A/B updates under bad downloads (issue 24, "Bad input"): a
//! truncated image, one larger than its manifest says, one whose bytes
//! differ from the signed sha256, a release too big for the ESP, and power
//! lost mid-download (QEMU quit). Each is one line and the running slot
//! keeps booting; nothing half-written is ever booted: after the power
//! loss the machine boots its old slot, and the next good download is
//! installed and tried.
//!
//! The server is the test's own (it must misbehave on purpose); the
//! releases it serves are `nodistro publish`'s.

use nodistro_tests::ab::{self, expect, expect_reboot, Keys, WAIT};
use nodistro_tests::qemu::{Guest, Outcome};
use nodistro_tests::TempDir;
use nodistro_update::core::{keys, manifest::Manifest};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers for the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Half the bytes, then the connection closes.
    Truncated,
    /// More bytes than the manifest's size.
    Oversized,
    /// The right size, one byte changed.
    Corrupt,
    /// A manifest (signed) of a release larger than the ESP.
    TooBig,
    /// Half the bytes, then nothing (the test pulls the plug).
    Stall,
    Good,
}

struct Served {
    mode: Mode,
    manifest: Vec<u8>,
    image: Vec<u8>,
    big_manifest: Vec<u8>,
}

fn serve(listener: TcpListener, state: Arc<Mutex<Served>>) {
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let st = state.clone();
            std::thread::spawn(move || answer(s, &st));
        }
    });
}

fn answer(mut s: TcpStream, st: &Mutex<Served>) {
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let req = String::from_utf8_lossy(&buf[..n]).to_string();
    let (mode, manifest, image, big) = {
        let g = st.lock().expect("lock");
        (
            g.mode,
            g.manifest.clone(),
            g.image.clone(),
            g.big_manifest.clone(),
        )
    };
    let head = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    if req.starts_with("GET /manifest ") {
        let m = if mode == Mode::TooBig { big } else { manifest };
        let _ = s.write_all(head(m.len()).as_bytes());
        let _ = s.write_all(&m);
        return;
    }
    match mode {
        Mode::Truncated => {
            let _ = s.write_all(head(image.len()).as_bytes());
            let _ = s.write_all(&image[..image.len() / 2]);
        }
        Mode::Oversized => {
            let mut more = image.clone();
            more.extend_from_slice(&[0u8; 4096]);
            let _ = s.write_all(head(more.len()).as_bytes());
            let _ = s.write_all(&more);
        }
        Mode::Corrupt => {
            let mut bad = image.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0xff;
            let _ = s.write_all(head(bad.len()).as_bytes());
            let _ = s.write_all(&bad);
        }
        Mode::Stall => {
            let _ = s.write_all(head(image.len()).as_bytes());
            let _ = s.write_all(&image[..image.len() / 2]);
            std::thread::sleep(Duration::from_secs(600));
        }
        Mode::TooBig | Mode::Good => {
            let _ = s.write_all(head(image.len()).as_bytes());
            let _ = s.write_all(&image);
        }
    }
}

fn build(dir: &Path, keys: &Keys, port: u16, version: u64, format: &str) -> PathBuf {
    ab::build_update_app(
        dir,
        keys,
        port,
        version,
        format,
        &[],
        &["update.interval=3", "update.trial=5"],
    )
}

fn boot(disk: &Path, vars: &Path) -> Guest {
    ab::boot(disk, vars, &[])
}

#[test]
fn bad_downloads_and_power_loss_never_boot_a_half_written_slot() {
    let dir = TempDir::new("update-bad");
    let keys_ = Keys::new(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let disk = build(dir.path(), &keys_, port, 1, "disk");
    let v2 = build(dir.path(), &keys_, port, 2, "uki");
    let rel = dir.path().join("rel");
    ab::publish(&v2, 2, &keys_.release, &rel);
    let manifest = std::fs::read(rel.join("manifest")).expect("manifest");
    let image = std::fs::read(rel.join(v2.file_name().expect("name"))).expect("image");
    let seed =
        keys::seed_from_pem(&std::fs::read_to_string(&keys_.release).expect("key")).expect("seed");
    let big = Manifest {
        version: 2,
        arch: std::env::consts::ARCH.into(),
        image: v2.file_name().expect("name").to_string_lossy().into(),
        size: 4 << 30,
        sha256: [0; 32],
    }
    .signed(&seed)
    .into_bytes();
    let state = Arc::new(Mutex::new(Served {
        mode: Mode::Truncated,
        manifest,
        image,
        big_manifest: big,
    }));
    serve(listener, state.clone());
    let set = |m| state.lock().expect("lock").mode = m;
    let vars = dir.path().join("efi-vars.fd");

    let mut g = boot(&disk, &vars);
    expect(&g, "UPDATE-APP version 1 history 1");
    expect(&g, "bytes; slot A keeps booting");
    let c = g.console();
    assert!(
        c.contains("the download ended after"),
        "truncated download not reported:\n{}",
        g.console_tail(30)
    );
    set(Mode::Oversized);
    expect(&g, "larger than the");
    set(Mode::Corrupt);
    expect(&g, "is not the manifest's");
    set(Mode::TooBig);
    expect(&g, "the ESP is full");
    let from = g.console_len();
    set(Mode::Stall);
    if let Err(e) = g.wait_for_from(from, "version 2 offered at", WAIT) {
        panic!(
            "no download after the stall began: {e}\n{}",
            g.console_tail(30)
        );
    }
    // The image is half sent: pull the plug.
    std::thread::sleep(Duration::from_secs(5));
    let _ = g.monitor("quit");
    let out = g.wait_exit(Duration::from_secs(30));
    assert_ne!(out, Outcome::Rebooted, "{}", g.console_tail(20));
    assert!(
        !g.console().contains("installed in slot"),
        "{}",
        g.console_tail(30)
    );
    assert!(!c.contains("UPDATE-APP version 2"), "v2 ran half-written");

    // The old slot boots; the half download is never booted, and a good
    // one is installed and tried.
    set(Mode::Good);
    let mut g = boot(&disk, &vars);
    expect(&g, "update: running version 1 from slot A");
    expect(&g, "UPDATE-APP version 1 history 1,1");
    expect(&g, "update: version 2 installed in slot B");
    expect_reboot(&mut g, "after installing v2");
    let mut g = boot(&disk, &vars);
    expect(&g, "update: trial boot of version 2 in slot B");
    expect(&g, "UPDATE-APP version 2 history 1,1,2");
    expect(&g, "update: version 2 in slot B blessed");
    let out = g.power_button(WAIT);
    assert_eq!(out, Outcome::PoweredOff, "{}", g.console_tail(20));
}
