//! Kernel-only steps of PID 1 on a machine: mounts, console, `lo`, host
//! name, Ctrl-Alt-Del, and the final sync/unmount/reboot. Each failing step
//! is reported on the console and the boot goes on.

use crate::policy::Halt;
use nodistro_common::signal;
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

/// Bring up the loopback interface (ifindex 1).
pub fn lo_up() {
    let res = nodistro_common::netlink::Netlink::open().and_then(|mut nl| nl.link_up(1, None));
    if let Err(e) = res {
        log("init", &format!("cannot bring up lo: {e}"));
    }
}

/// Last steps: everything else killed, sync, unmount (the data disks
/// first), reboot(2). Never returns: if reboot(2) fails, init sleeps
/// forever rather than exit.
pub fn end(halt: Halt, data: &[crate::datadisk::Mounted]) -> ! {
    // Stray processes (orphans of the app): SIGTERM, up to 1 s to go, SIGKILL.
    crate::sys::kill_all(signal::SIGTERM);
    for _ in 0..100 {
        match rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG) {
            Err(_) => break, // ECHILD: nobody left
            Ok(Some(_)) => continue,
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    crate::sys::kill_all(signal::SIGKILL);
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
