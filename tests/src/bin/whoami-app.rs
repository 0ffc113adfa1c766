//! A tiny static app for the `--user` test: prints its uid, gid and the name
//! /etc/passwd gives that uid (read directly: static glibc has no NSS),
//! then stays up until init stops it.

fn main() {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() == 7 && f[2].parse() == Ok(uid))
        .map(|f| f[0].to_string())
        .unwrap_or_else(|| "(not in /etc/passwd)".into());
    println!("whoami: uid={uid} gid={gid} name={name}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
