//! Power buttons' event devices: found under /sys/class/input, opened,
//! and read for a KEY_POWER press (`core::buttons` decides both).

use crate::core::buttons::{has_power_press, is_power_button, INPUT_EVENT_SIZE};
use nodistro_common::timeline::log;
use std::os::fd::{AsFd, OwnedFd};

/// Open every power button's event device not in `open` yet
/// ([`is_power_button`]).
pub fn scan(open: &mut Vec<OwnedFd>) {
    let Ok(dir) = std::fs::read_dir("/sys/class/input") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("event") {
            continue;
        }
        let label = std::fs::read_to_string(e.path().join("device/name")).unwrap_or_default();
        if !is_power_button(&label) {
            continue;
        }
        let dev = format!("/dev/input/{name}");
        let dup = open.iter().any(|b| {
            rustix::fs::fstat(b).ok().map(|s| s.st_rdev)
                == rustix::fs::stat(&dev).ok().map(|s| s.st_rdev)
        });
        if dup {
            continue;
        }
        match rustix::fs::open(
            &dev,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            Ok(fd) => {
                log("init", &format!("power button on {dev}"));
                open.push(fd);
            }
            Err(e) => log("init", &format!("cannot open power button {dev}: {e}")),
        }
    }
}

/// Read pending input events; true if one is a KEY_POWER press.
pub fn power_key_pressed(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; INPUT_EVENT_SIZE * 16];
    let mut pressed = false;
    while let Ok(n) = rustix::io::read(fd.as_fd(), &mut buf) {
        if n == 0 {
            break;
        }
        pressed |= has_power_press(&buf[..n]);
    }
    pressed
}
