//! Network namespaces joined by veth pairs, and servers run inside them,
//! all removed on drop. Names start with `nc` + the test process's pid so
//! concurrent test runs never collide (interface names stay within 15
//! characters: keep tags short).
//!
//! Every namespace gets its own /etc/netns/<name>/resolv.conf, which
//! `ip netns exec` bind-mounts over /etc/resolv.conf: a DHCP client run in
//! it can never rewrite the machine's own.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `nc<pid><tag>`, at most 15 characters.
pub fn unique(tag: &str) -> String {
    let name = format!("nc{}{tag}", std::process::id());
    assert!(
        name.len() <= 15,
        "interface name {name} is too long: use a shorter tag"
    );
    name
}

fn run(cmd: &mut Command) -> Output {
    crate::run_ok(cmd)
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
    etc: PathBuf,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        crate::require_root();
        crate::require_program("ip", "iproute2");
        let name = unique(tag);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(Command::new("ip").args(["netns", "add", &name]));
        let etc = PathBuf::from(format!("/etc/netns/{name}"));
        std::fs::create_dir_all(&etc)
            .and_then(|()| std::fs::write(etc.join("resolv.conf"), "# test namespace\n"))
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", etc.display()));
        let ns = Netns { name, etc };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS...`, stdout as text; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = run(Command::new("ip").arg("-n").arg(&self.name).args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// A veth pair `<a_tag>` in `a` and `<b_tag>` in `b` (both up), returning
/// the two interface names. Deleting either namespace removes the pair.
pub fn veth(a: &Netns, a_tag: &str, b: &Netns, b_tag: &str) -> (String, String) {
    let (an, bn) = (unique(a_tag), unique(b_tag));
    run(Command::new("ip").args([
        "link", "add", &an, "netns", &a.name, "type", "veth", "peer", "name", &bn, "netns", &b.name,
    ]));
    a.ip(&["link", "set", &an, "up"]);
    b.ip(&["link", "set", &bn, "up"]);
    (an, bn)
}

/// A child process killed (SIGKILL) and reaped on drop.
pub use crate::ChildGuard as Guard;

/// dnsmasq as a DHCP server only (`--port=0`) on `iface` in `ns`, with its
/// lease and pid files in `dir`, logging to `dir/dnsmasq.log`. Returns once
/// its pid file exists (it is listening by then). It offers at once
/// (`--no-ping`); see [`dnsmasq_pinging`].
pub fn dnsmasq(ns: &Netns, iface: &str, dir: &std::path::Path, extra: &[&str]) -> Guard {
    start_dnsmasq(ns, iface, dir, &["--no-ping"], extra)
}

/// [`dnsmasq`] that pings an address before offering it to a new client,
/// so it does not offer one another host holds (or one a client declined).
pub fn dnsmasq_pinging(ns: &Netns, iface: &str, dir: &std::path::Path, extra: &[&str]) -> Guard {
    start_dnsmasq(ns, iface, dir, &[], extra)
}

fn start_dnsmasq(
    ns: &Netns,
    iface: &str,
    dir: &std::path::Path,
    flags: &[&str],
    extra: &[&str],
) -> Guard {
    crate::require_program("dnsmasq", "dnsmasq-base");
    let pid = dir.join("dnsmasq.pid");
    let _ = std::fs::remove_file(&pid);
    let log = std::fs::File::create(dir.join("dnsmasq.log"))
        .unwrap_or_else(|e| panic!("cannot create the dnsmasq log in {}: {e}", dir.display()));
    let child = ns
        .command("dnsmasq")
        .args(flags)
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--port=0",
            "--log-dhcp",
            "--log-facility=-",
            "--bind-interfaces",
        ])
        .arg(format!("--interface={iface}"))
        .arg(format!(
            "--dhcp-leasefile={}",
            dir.join("dnsmasq.leases").display()
        ))
        .arg(format!("--pid-file={}", pid.display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start dnsmasq: {e}"));
    let mut g = Guard(child);
    let started = crate::poll_until(Duration::from_secs(10), Duration::from_millis(10), || {
        if let Ok(Some(st)) = g.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("dnsmasq.log")).unwrap_or_default();
            panic!("dnsmasq exited at start ({st}): {log}");
        }
        pid.exists()
    });
    assert!(started, "dnsmasq did not start within 10 s");
    g
}

/// The netcfg tests' fixture: a server and a client namespace joined by a
/// veth pair; the server side has 10.<net>.0.1/24 and fd00:<net>::1/64.
/// `dir` holds the client's resolv.conf (never the machine's), its lease
/// memory and the logs.
pub struct Link {
    pub server: Netns,
    pub client: Netns,
    pub s_if: String,
    pub c_if: String,
    pub net: u8,
    pub dir: crate::TempDir,
}

impl Link {
    pub fn new(tag: &str, net: u8) -> Link {
        let server = Netns::new(&format!("{tag}s"));
        let client = Netns::new(&format!("{tag}c"));
        let (s_if, c_if) = veth(&server, &format!("{tag}a"), &client, &format!("{tag}b"));
        server.ip(&["addr", "add", &format!("10.{net}.0.1/24"), "dev", &s_if]);
        server.ip(&[
            "addr",
            "add",
            &format!("fd00:{net}::1/64"),
            "dev",
            &s_if,
            "nodad",
        ]);
        Link {
            server,
            client,
            s_if,
            c_if,
            net,
            dir: crate::TempDir::new(&format!("netcfg-{tag}")),
        }
    }

    /// dnsmasq on the server side, logging to `dir/dnsmasq.log`.
    pub fn dnsmasq(&self, extra: &[&str]) -> Guard {
        dnsmasq(&self.server, &self.s_if, self.dir.path(), extra)
    }

    pub fn resolv(&self) -> PathBuf {
        self.dir.path().join("resolv.conf")
    }

    /// netcfg in the client namespace, writing the temporary resolv.conf.
    pub fn netcfg(&self, args: &[&str]) -> Command {
        let mut c = self.client.command(crate::release_bin("netcfg"));
        c.arg("--resolv-conf").arg(self.resolv()).args(args);
        c
    }

    /// netcfg as a daemon on the client's interface: stderr to
    /// `netcfg.log`, readiness lines (fd 1) to `ready.log`.
    pub fn daemon(&self, args: &[&str]) -> Guard {
        let file = |n: &str| std::fs::File::create(self.dir.path().join(n)).expect("log file");
        Guard(
            self.netcfg(&["--timeout", "5", "--lease-dir"])
                .arg(self.dir.path())
                .args(args)
                .arg(&self.c_if)
                .env("NODISTRO_READY_FD", "1")
                .stdin(Stdio::null())
                .stdout(file("ready.log"))
                .stderr(file("netcfg.log"))
                .spawn()
                .expect("netcfg starts"),
        )
    }

    /// A file of `dir` (a log), empty if absent.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Wait until `cond` holds (polling), or fail with `what`, the client's
    /// addresses and the logs.
    pub fn wait(&self, secs: u64, what: &str, cond: impl Fn(&Link) -> bool) {
        let limit = Duration::from_secs(secs);
        let held = crate::poll_until(limit, Duration::from_millis(100), || cond(self));
        assert!(
            held,
            "{what} within {secs} s; addresses:\n{}\nnetcfg:\n{}\nserver:\n{}",
            self.client.ip(&["addr", "show", "dev", &self.c_if]),
            self.log("netcfg.log"),
            self.log("dnsmasq.log") + &self.log("udhcpd.log")
        );
    }
}
