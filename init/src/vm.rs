//! Kernel-only steps of PID 1 on a machine: mounts, console, `lo`, host
//! name, Ctrl-Alt-Del, and the final sync/unmount/reboot. Each failing step
//! is reported on the console and the boot goes on.

use crate::policy::Halt;
use nodistro_common::timeline::log;
use rustix::fs::{Mode, OFlags};
use rustix::mount::{mount, unmount, MountFlags, UnmountFlags};

/// (source/fstype, target, flags, data)
const MOUNTS: &[(&str, &str, MountFlags, &std::ffi::CStr)] = &[
    (
        "proc",
        "/proc",
        MountFlags::NOSUID
            .union(MountFlags::NODEV)
            .union(MountFlags::NOEXEC),
        c"",
    ),
    (
        "sysfs",
        "/sys",
        MountFlags::NOSUID
            .union(MountFlags::NODEV)
            .union(MountFlags::NOEXEC),
        c"",
    ),
    ("devtmpfs", "/dev", MountFlags::NOSUID, c"mode=0755"),
    (
        "devpts",
        "/dev/pts",
        MountFlags::NOSUID.union(MountFlags::NOEXEC),
        c"gid=5,mode=0620,ptmxmode=0666",
    ),
    (
        "tmpfs",
        "/dev/shm",
        MountFlags::NOSUID.union(MountFlags::NODEV),
        c"mode=1777",
    ),
    (
        "tmpfs",
        "/run",
        MountFlags::NOSUID.union(MountFlags::NODEV),
        c"mode=0755",
    ),
    (
        "tmpfs",
        "/tmp",
        MountFlags::NOSUID.union(MountFlags::NODEV),
        c"mode=1777",
    ),
];

/// Mount the API file systems.
pub fn mount_all() {
    for (fs, target, flags, data) in MOUNTS {
        let _ = std::fs::create_dir_all(target);
        if let Err(e) = mount(*fs, *target, *fs, *flags, *data) {
            log(
                "init",
                &format!("cannot mount {fs} on {target}: {e}; going on without it"),
            );
        }
    }
    // /dev/ptmx for openpty: devpts provides it inside /dev/pts.
    let _ = std::os::unix::fs::symlink("pts/ptmx", "/dev/ptmx");
}

/// stdin, stdout, stderr on /dev/console.
pub fn console_stdio() {
    match rustix::fs::open("/dev/console", OFlags::RDWR | OFlags::NOCTTY, Mode::empty()) {
        Ok(fd) => {
            let _ = rustix::stdio::dup2_stdin(&fd);
            let _ = rustix::stdio::dup2_stdout(&fd);
            let _ = rustix::stdio::dup2_stderr(&fd);
        }
        Err(e) => log(
            "init",
            &format!("cannot open /dev/console: {e}; keeping the kernel's stdio"),
        ),
    }
}

/// Ctrl-Alt-Del sends SIGINT to init instead of rebooting at once.
pub fn cad_off() {
    if let Err(e) = rustix::system::reboot(rustix::system::RebootCommand::CadOff) {
        log(
            "init",
            &format!("cannot disable the Ctrl-Alt-Del reboot: {e}"),
        );
    }
}

pub fn set_hostname(name: &str) {
    if let Err(e) = rustix::system::sethostname(name.as_bytes()) {
        log("init", &format!("cannot set the host name to {name}: {e}"));
    }
}

/// One rtnetlink RTM_NEWLINK request: set IFF_UP on ifindex 1 (`lo`).
pub fn lo_up_request() -> [u8; 32] {
    const RTM_NEWLINK: u16 = 16;
    const NLM_F_REQUEST_ACK: u16 = 0x1 | 0x4;
    let mut m = [0u8; 32];
    m[0..4].copy_from_slice(&32u32.to_ne_bytes()); // nlmsg_len
    m[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    m[6..8].copy_from_slice(&NLM_F_REQUEST_ACK.to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes()); // seq
                                                   // ifinfomsg: family 0, pad, type 0, index 1, flags IFF_UP, change IFF_UP
    m[20..24].copy_from_slice(&1i32.to_ne_bytes());
    m[24..28].copy_from_slice(&1u32.to_ne_bytes());
    m[28..32].copy_from_slice(&1u32.to_ne_bytes());
    m
}

/// The errno in a netlink ACK (`NLMSG_ERROR` with 0 for success).
pub fn ack_errno(reply: &[u8]) -> Option<i32> {
    const NLMSG_ERROR: u16 = 2;
    let ty = u16::from_ne_bytes([*reply.get(4)?, *reply.get(5)?]);
    if ty != NLMSG_ERROR {
        return None;
    }
    let e = reply.get(16..20)?;
    Some(-i32::from_ne_bytes([e[0], e[1], e[2], e[3]]))
}

/// Bring up the loopback interface.
pub fn lo_up() {
    use rustix::net::{
        recv, send, socket_with, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType,
    };
    let res = (|| -> std::io::Result<Option<i32>> {
        let s = socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None,
        )?;
        send(&s, &lo_up_request(), SendFlags::empty())?;
        let mut buf = [0u8; 256];
        let (n, _) = recv(&s, &mut buf, RecvFlags::empty())?;
        Ok(ack_errno(&buf[..n]))
    })();
    match res {
        Ok(Some(0)) => {}
        Ok(Some(e)) => log(
            "init",
            &format!(
                "cannot bring up lo: {}",
                std::io::Error::from_raw_os_error(e)
            ),
        ),
        Ok(None) => log("init", "cannot bring up lo: unexpected netlink reply"),
        Err(e) => log("init", &format!("cannot bring up lo: {e}")),
    }
}

/// Last steps: everything else killed, sync, unmount (the data disks
/// first), reboot(2). Never returns: if reboot(2) fails, init sleeps
/// forever rather than exit.
pub fn end(halt: Halt, data: &[crate::datadisk::Mounted]) -> ! {
    // Stray processes (orphans of the app): SIGTERM, up to 1 s to go, SIGKILL.
    crate::sys::kill_all(libc::SIGTERM);
    for _ in 0..100 {
        match rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG) {
            Err(_) => break, // ECHILD: nobody left
            Ok(Some(_)) => continue,
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    crate::sys::kill_all(libc::SIGKILL);
    rustix::fs::sync();
    crate::datadisk::unmount_all(data);
    for (_, target, _, _) in MOUNTS.iter().rev() {
        let _ = unmount(*target, UnmountFlags::DETACH);
    }
    let (cmd, what) = match halt {
        Halt::PowerOff => (rustix::system::RebootCommand::PowerOff, "power-off"),
        Halt::Reboot => (rustix::system::RebootCommand::Restart, "reboot"),
    };
    log("init", what);
    if let Err(e) = rustix::system::reboot(cmd) {
        log("init", &format!("reboot(2) failed: {e}; halting here"));
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lo_request_and_ack() {
        let m = lo_up_request();
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 32);
        assert_eq!(i32::from_ne_bytes([m[20], m[21], m[22], m[23]]), 1);
        let mut ack = [0u8; 36];
        ack[4..6].copy_from_slice(&2u16.to_ne_bytes());
        ack[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(ack_errno(&ack), Some(1));
        assert_eq!(ack_errno(&[0u8; 8]), None);
    }
}
