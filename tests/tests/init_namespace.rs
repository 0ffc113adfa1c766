//! init as PID 1 of a real PID namespace (`unshare --pid --fork
//! --mount-proc init --namespace ...`): zombie reaping, signal forwarding,
//! helper restarts with backoff, readiness, app output pipes, exit policy and
//! shutdown order, with small shell scripts as the app and the helpers.

use nodistro_tests::{release_bin, require_program, require_root, ChildGuard, TempDir};
use rustix::process::Signal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// The init binary: `NODISTRO_INIT_BIN` if set (quick local iterations on a
/// debug build), else the release binary.
fn init_bin() -> PathBuf {
    std::env::var_os("NODISTRO_INIT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| release_bin("init"))
}

/// init running as PID 1 of a fresh PID namespace; killed with the whole
/// namespace on drop (`--kill-child`).
struct NsInit {
    child: ChildGuard,
    dir: TempDir,
}

impl NsInit {
    /// `init --namespace INIT_ARGS -- sh APP_SCRIPT DIR`
    fn start(tag: &str, init_args: &[&str], app_script: &str) -> Self {
        Self::start_in(TempDir::new(&format!("init-{tag}")), init_args, app_script)
    }

    /// Same, in a directory the test already put helper scripts in.
    fn start_in(dir: TempDir, init_args: &[&str], app_script: &str) -> Self {
        require_root();
        require_program("unshare", "util-linux");
        require_program("sh", "dash");
        let app = script(dir.path(), "app.sh", app_script);
        let console = std::fs::File::create(dir.path().join("console")).expect("console file");
        let child = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(init_bin())
            .arg("--namespace")
            .args(init_args)
            .arg("--")
            .arg("/bin/sh")
            .arg(&app)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(console.try_clone().expect("dup console"))
            .stderr(console)
            .spawn()
            .expect("cannot run unshare");
        NsInit {
            child: ChildGuard(child),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.path("console")).unwrap_or_default()
    }

    /// init's pid as seen from here (the child of unshare).
    fn init_pid(&self) -> i32 {
        let f = format!("/proc/{0}/task/{0}/children", self.child.0.id());
        nodistro_tests::poll_for(Duration::from_secs(10), Duration::from_millis(20), || {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            text.split_whitespace().next().and_then(|p| p.parse().ok())
        })
        .expect("unshare did not start init")
    }

    fn signal(&self, sig: Signal) {
        let pid = rustix::process::Pid::from_raw(self.init_pid()).expect("pid");
        rustix::process::kill_process(pid, sig).expect("kill init");
    }

    /// Wait until file `name` has at least `n` lines; returns them.
    fn lines(&mut self, name: &str, n: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let enough = nodistro_tests::poll_until(
            Duration::from_secs(20),
            Duration::from_millis(20),
            || {
                let text = std::fs::read_to_string(self.path(name)).unwrap_or_default();
                lines = text.lines().map(String::from).collect();
                if lines.len() >= n {
                    return true;
                }
                if let Ok(Some(st)) = self.child.0.try_wait() {
                    panic!(
                        "init exited ({st}) before {name} had {n} lines (it has {lines:?}); console:\n{}",
                        self.console()
                    );
                }
                false
            },
        );
        assert!(
            enough,
            "{name} has {lines:?}, not {n} lines, after 20 s; console:\n{}",
            self.console()
        );
        lines
    }

    fn wait(&mut self) -> ExitStatus {
        let child = &mut self.child.0;
        let st =
            nodistro_tests::poll_for(Duration::from_secs(30), Duration::from_millis(20), || {
                child.try_wait().expect("wait")
            });
        st.unwrap_or_else(|| {
            panic!(
                "init still running after 30 s; console:\n{}",
                self.console()
            )
        })
    }

    fn code(&mut self) -> i32 {
        let st = self.wait();
        st.code()
            .unwrap_or_else(|| panic!("unshare ended by {st}; console:\n{}", self.console()))
    }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

#[test]
fn reaps_orphans_and_passes_the_exit_status() {
    // Three orphans report their parent after being re-parented, a child
    // leaves two grandchildren behind; then the app counts zombies.
    let mut ns = NsInit::start(
        "reap",
        &[],
        r#"d=$1
for i in 1 2 3; do
  ( sh -c 'sleep 0.3; read -r _ _ _ p _ < /proc/self/stat; echo $p >> "$0/ppids"' "$d" & )
done
sh -c 'sleep 0.2 & sleep 0.2 & exit 0'
sleep 1.5
n=0
for f in /proc/[0-9]*/stat; do
  read -r _ _ s _ < "$f" 2>/dev/null && [ "$s" = Z ] && n=$((n+1))
done
echo $n > "$d/zombies"
exit 3"#,
    );
    assert_eq!(ns.code(), 3, "console:\n{}", ns.console());
    let ppids = std::fs::read_to_string(ns.path("ppids")).expect("orphans ran");
    assert_eq!(
        ppids.lines().collect::<Vec<_>>(),
        ["1", "1", "1"],
        "orphans re-parented to init"
    );
    let zombies = std::fs::read_to_string(ns.path("zombies")).expect("app counted zombies");
    assert_eq!(
        zombies.trim(),
        "0",
        "zombies left; console:\n{}",
        ns.console()
    );
}

#[test]
fn killed_app_gives_128_plus_signal() {
    let mut ns = NsInit::start("sigexit", &[], "kill -KILL $$");
    assert_eq!(ns.code(), 137, "console:\n{}", ns.console());
    assert!(
        ns.console().contains("killed by signal 9 (SIGKILL)"),
        "{}",
        ns.console()
    );
}

#[test]
fn forwards_signals_to_the_app() {
    let mut ns = NsInit::start(
        "fwd",
        &[],
        r#"d=$1
trap 'echo USR1 >> "$d/got"' USR1
trap 'echo HUP >> "$d/got"' HUP
trap 'echo USR2 >> "$d/got"' USR2
trap 'echo TERM >> "$d/got"; exit 7' TERM
echo ready > "$d/ready"
while :; do sleep 0.1 & wait $!; done"#,
    );
    ns.lines("ready", 1);
    for (i, sig) in [Signal::USR1, Signal::HUP, Signal::USR2]
        .into_iter()
        .enumerate()
    {
        ns.signal(sig);
        ns.lines("got", i + 1);
    }
    ns.signal(Signal::TERM);
    assert_eq!(ns.code(), 7, "console:\n{}", ns.console());
    let got = std::fs::read_to_string(ns.path("got")).expect("got");
    assert_eq!(got, "USR1\nHUP\nUSR2\nTERM\n");
}

#[test]
fn forwards_only_the_configured_signals() {
    // init.forward=USR2: USR1 is no longer passed on (ignored by init), USR2
    // is, and SIGTERM, now outside the set, stops init itself, which stops
    // the app with SIGTERM: the app's TERM trap still runs, once.
    let mut ns = NsInit::start(
        "fwdset",
        &["--set", "init.forward=USR2"],
        r#"d=$1
trap 'echo USR1 >> "$d/got"' USR1
trap 'echo USR2 >> "$d/got"' USR2
trap 'echo TERM >> "$d/got"; exit 7' TERM
echo ready > "$d/ready"
while :; do sleep 0.1 & wait $!; done"#,
    );
    ns.lines("ready", 1);
    ns.signal(Signal::USR1);
    ns.signal(Signal::USR2);
    ns.lines("got", 1);
    ns.signal(Signal::TERM);
    ns.code();
    let got = std::fs::read_to_string(ns.path("got")).expect("got");
    assert_eq!(got, "USR2\nTERM\n", "console:\n{}", ns.console());
    assert!(
        ns.console().contains("SIGTERM (15): shutting down"),
        "{}",
        ns.console()
    );
}

#[test]
fn restarts_a_dying_helper_with_growing_gaps() {
    let dir = TempDir::new("init-flaky");
    let flaky = script(
        dir.path(),
        "flaky.sh",
        &format!("date +%s.%N >> {}/starts; exit 1", dir.path().display()),
    );
    let helper = format!("flaky={}", flaky.display());
    let mut ns = NsInit::start_in(
        dir,
        &["--helper", &helper],
        r#"while [ "$(wc -l < "$1/starts" 2>/dev/null || echo 0)" -lt 5 ]; do sleep 0.05; done"#,
    );
    assert_eq!(ns.code(), 0, "console:\n{}", ns.console());
    let starts: Vec<f64> = std::fs::read_to_string(ns.path("starts"))
        .expect("starts")
        .lines()
        .map(|l| l.parse().expect("timestamp"))
        .collect();
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() >= 4, "{gaps:?}");
    assert!(
        gaps[0] >= 0.09,
        "first restart after the base delay: {gaps:?}"
    );
    assert!(
        gaps.windows(2).take(3).all(|w| w[1] > w[0]),
        "gaps must grow: {gaps:?}"
    );
    let console = ns.console();
    for ms in [100, 200, 400, 800] {
        assert!(
            console.contains(&format!("restarting flaky in {ms} ms")),
            "no {ms} ms restart line:\n{console}"
        );
    }
}

#[test]
fn waits_for_readiness_and_feeds_app_output_to_logfwd_across_restarts() {
    let dir = TempDir::new("init-ready");
    let d = dir.path().display().to_string();
    // netcfg reports online after 0.3 s; modload never reports (timeout);
    // logfwd reads one line of the app's stdout per run, then exits.
    let netcfg = script(
        dir.path(),
        "netcfg.sh",
        &format!(
            "sleep 0.3; date +%s.%N > {d}/online; echo 'online eth0 10.0.2.15/24' > /proc/self/fd/$NODISTRO_READY_FD; exec sleep 100"
        ),
    );
    let modload = script(dir.path(), "modload.sh", "exec sleep 100");
    let logfwd = script(
        dir.path(),
        "logfwd.sh",
        &format!(
            "read -r l < /proc/self/fd/$NODISTRO_APP_STDOUT_FD && echo \"$NODISTRO_APP_NAME: $l\" >> {d}/out"
        ),
    );
    let args = [
        "--set".to_string(),
        "init.modload_timeout=0.5".into(),
        "--helper".into(),
        format!("netcfg={}", netcfg.display()),
        "--helper".into(),
        format!("logfwd={}", logfwd.display()),
        "--helper".into(),
        format!("modload={}", modload.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut ns = NsInit::start_in(
        dir,
        &args,
        r#"date +%s.%N > "$1/app"
echo line1; sleep 0.05; echo line2; echo line3
sleep 1.5"#,
    );
    let out = ns.lines("out", 3);
    assert_eq!(out, ["sh: line1", "sh: line2", "sh: line3"]);
    assert_eq!(ns.code(), 0, "console:\n{}", ns.console());
    let t = |f: PathBuf| -> f64 {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        text.trim().parse().expect("timestamp")
    };
    assert!(
        t(ns.path("app")) >= t(ns.path("online")),
        "app started before netcfg was online"
    );
    let console = ns.console();
    assert!(
        console.contains("modload not ready after 500 ms"),
        "{console}"
    );
    // The overlapped start (issue 16): logfwd first, then modload and
    // netcfg together; the app after netcfg's word and modload's timeout.
    let order: Vec<usize> = [
        "starting logfwd",
        "starting modload",
        "starting netcfg",
        "modload not ready after 500 ms",
        "app /bin/sh started",
    ]
    .iter()
    .map(|s| {
        console
            .find(s)
            .unwrap_or_else(|| panic!("no {s:?} in:\n{console}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "start order:\n{console}"
    );
}

#[test]
fn restart_policy_then_sigpwr_shutdown() {
    let mut ns = NsInit::start(
        "restart",
        &["--set", "init.on_exit=restart"],
        r#"echo run >> "$1/runs"
[ "$(wc -l < "$1/runs")" -lt 3 ] && exit 1
trap 'exit 5' TERM
kill -PWR 1
while :; do sleep 0.1 & wait $!; done"#,
    );
    assert_eq!(ns.code(), 5, "console:\n{}", ns.console());
    assert_eq!(ns.lines("runs", 3).len(), 3);
}

#[test]
fn stay_policy_keeps_init_up_until_sigterm() {
    let mut ns = NsInit::start(
        "stay",
        &["--set", "init.on_exit=stay"],
        r#"echo done > "$1/done"; exit 4"#,
    );
    ns.lines("done", 1);
    // init has seen the app's exit and decided (its console line says so);
    // had it decided to end, it would have exited already.
    nodistro_tests::wait_until(Duration::from_secs(10), "no stay decision", || {
        ns.console().contains("init.on_exit=stay: staying up")
    });
    assert!(
        ns.child.0.try_wait().expect("wait").is_none(),
        "init exited although init.on_exit=stay; console:\n{}",
        ns.console()
    );
    ns.signal(Signal::TERM);
    assert_eq!(ns.code(), 4, "console:\n{}", ns.console());
}

#[test]
fn shutdown_stops_the_app_before_the_helpers_and_kills_after_grace() {
    let dir = TempDir::new("init-order");
    let d = dir.path().display().to_string();
    let polite = script(
        dir.path(),
        "polite.sh",
        &format!(
            "trap 'echo helper-stopped >> {d}/order; exit 0' TERM\necho up >> {d}/helpers\nwhile :; do sleep 0.1 & wait $!; done"
        ),
    );
    let stubborn = script(
        dir.path(),
        "stubborn.sh",
        &format!(
            "trap 'echo stubborn-ignored >> {d}/order' TERM\necho up >> {d}/helpers\nwhile :; do sleep 0.1 & wait $!; done"
        ),
    );
    let args = [
        "--set".to_string(),
        "init.grace=0.5".into(),
        "--helper".into(),
        format!("polite={}", polite.display()),
        "--helper".into(),
        format!("stubborn={}", stubborn.display()),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut ns = NsInit::start_in(
        dir,
        &args,
        &format!(
            "trap 'sleep 0.3; echo app-stopped >> {d}/order; exit 0' TERM\necho up > \"$1/app\"\nwhile :; do sleep 0.1 & wait $!; done"
        ),
    );
    ns.lines("app", 1);
    ns.lines("helpers", 2);
    ns.signal(Signal::POWER);
    assert_eq!(ns.code(), 0, "console:\n{}", ns.console());
    let order = std::fs::read_to_string(ns.path("order")).expect("order");
    let order: Vec<&str> = order.lines().collect();
    assert_eq!(order[0], "app-stopped", "{order:?}");
    assert!(order[1..].contains(&"helper-stopped"), "{order:?}");
    assert!(order[1..].contains(&"stubborn-ignored"), "{order:?}");
    let console = ns.console();
    assert!(
        console.contains("grace period over: SIGKILL to the helpers"),
        "{console}"
    );
    // ARCHITECTURE.md: the helpers stop in reverse start order.
    let at = |what: &str| {
        console
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} on the console:\n{console}"))
    };
    assert!(
        at("SIGTERM to stubborn") < at("SIGTERM to polite"),
        "{console}"
    );
}

#[test]
fn runs_the_app_with_configured_ids_env_workdir_and_args() {
    // The app comes from a configuration file (init.app, init.arg); --set
    // adds the rest; a bad value is reported and its default used.
    let dir = TempDir::new("init-conf");
    let app = script(
        dir.path(),
        "app.sh",
        r#"echo "ids $(id -u) $(id -g) env $FOO $BAR dir $(pwd) args $*""#,
    );
    let conf = dir.path().join("nodistro.conf");
    std::fs::write(
        &conf,
        format!(
            "init.app={}\ninit.arg=one\ninit.arg=two words\ninit.env=FOO=from-file\n",
            app.display()
        ),
    )
    .expect("write config");
    require_root();
    require_program("unshare", "util-linux");
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(init_bin())
        .arg("--namespace")
        .arg("--config")
        .arg(&conf)
        .args(["--set", "init.uid=65534", "--set", "init.gid=65533"])
        .args(["--set", "init.env=FOO=foo", "--set", "init.env=BAR=bar"])
        .args(["--set", "init.workdir=/tmp", "--set", "init.grace=later"])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stdout}{stderr}", out.status);
    assert!(
        stdout.contains("ids 65534 65533 env foo bar dir /tmp args one two words"),
        "{stdout}{stderr}"
    );
    assert!(
        stderr.contains("init.grace=\"later\" is not a number of seconds"),
        "{stderr}"
    );
}

#[test]
fn sigterm_stops_a_restarting_app_for_good() {
    // `docker stop`: SIGTERM to PID 1 reaches the app, and its exit ends
    // init even though init.on_exit=restart.
    let mut ns = NsInit::start(
        "stop",
        &["--set", "init.on_exit=restart"],
        r#"trap 'exit 9' TERM
echo run >> "$1/runs"
while :; do sleep 0.1 & wait $!; done"#,
    );
    ns.lines("runs", 1);
    ns.signal(Signal::TERM);
    assert_eq!(ns.code(), 9, "console:\n{}", ns.console());
    assert_eq!(ns.lines("runs", 1).len(), 1, "the app was restarted");
}
