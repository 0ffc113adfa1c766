//! logfwd between real peers: `logger` (util-linux) and raw datagrams as
//! clients on logfwd's socket, rsyslog as the receiving server on loopback.

use nodistro_tests::logfwd::{
    free_port, lost_in, remote_queued, ring_dump, start_logfwd, vm_rss_kib, Received, Rsyslog,
};
use nodistro_tests::{require_program, TempDir};
use rustix::process::Signal;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// `logger -u SOCK ARGS...` with `lines` on stdin (one message per line).
fn logger(sock: &Path, args: &[&str], lines: &[String]) {
    let prog = require_program("logger", "bsdutils");
    let mut child = Command::new(prog)
        .arg("--socket-errors=on")
        .arg("-u")
        .arg(sock)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run logger");
    let mut stdin = child.stdin.take().expect("logger stdin");
    for l in lines {
        writeln!(stdin, "{l}").expect("write to logger");
    }
    drop(stdin);
    assert!(
        child.wait().expect("wait logger").success(),
        "logger failed"
    );
}

fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

fn msgs(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i:05}")).collect()
}

fn ours<'a>(got: &'a [Received], prefix: &str) -> Vec<&'a Received> {
    got.iter()
        .filter(|r| r.msg.trim().starts_with(prefix))
        .collect()
}

#[test]
fn tcp_rfc5424_every_message_once_in_order_with_fields() {
    let dir = TempDir::new(&format!("logfwd-tcp-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let remote = format!("tcp://127.0.0.1:{}", rs.port);
    let (mut lf, sock) = start_logfwd(dir.path(), &["--remote", &remote], |_| {});

    // Local (glibc-style) format: no host name in the datagram, logfwd adds its own.
    let a = msgs("local-fmt", 300);
    logger(
        &sock,
        &["-t", "alpha", "--id=4242", "-p", "local3.warning"],
        &a,
    );
    let b = msgs("rfc5424-fmt", 300);
    logger(
        &sock,
        &["--rfc5424", "-t", "beta", "--id=77", "-p", "user.err"],
        &b,
    );
    let c = msgs("rfc3164-fmt", 300);
    logger(
        &sock,
        &["--rfc3164", "-t", "gamma", "-p", "daemon.info"],
        &c,
    );

    // SIGTERM right away: what logfwd read goes out before it exits.
    assert!(
        lf.terminate(Duration::from_secs(10)),
        "logfwd stops on SIGTERM"
    );
    let got = rs.wait_for(WAIT, |g| g.len() >= 900);
    let host = hostname();
    for (prefix, sent, app, pid, fac, sev) in [
        ("local-fmt", &a, "alpha", "4242", 19, 4),
        ("rfc5424-fmt", &b, "beta", "77", 1, 3),
        ("rfc3164-fmt", &c, "gamma", "-", 3, 6),
    ] {
        let recv = ours(&got, prefix);
        let texts: Vec<&str> = recv.iter().map(|r| r.msg.trim()).collect();
        assert_eq!(&texts, sent, "{prefix}: every message once, in order");
        for r in recv {
            assert_eq!(
                (r.hostname.as_str(), r.app.as_str(), r.facility, r.severity),
                (host.as_str(), app, fac, sev),
                "{prefix}: {r:?}"
            );
            if pid != "-" {
                assert_eq!(r.procid, pid, "{r:?}");
            }
        }
    }
    assert_eq!(got.len(), 900, "nothing else arrived: {got:?}");
    assert!(
        lf.terminate(Duration::from_secs(10)),
        "logfwd stops on SIGTERM"
    );
}

#[test]
fn udp_rfc3164_with_min_severity() {
    let dir = TempDir::new(&format!("logfwd-udp-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let remote = format!("udp://127.0.0.1:{}", rs.port);
    let args = [
        "--remote",
        &remote,
        "--format",
        "rfc3164",
        "--min-severity",
        "notice",
    ];
    let (mut lf, sock) = start_logfwd(dir.path(), &args, |_| {});

    let quiet = msgs("too-low", 50);
    logger(&sock, &["-t", "delta", "-p", "local0.info"], &quiet);
    let loud = msgs("wanted", 200);
    logger(
        &sock,
        &["-t", "delta", "--id=9", "-p", "local0.notice"],
        &loud,
    );

    // A last notice: once it is in, everything sent before it is (one
    // sender, one socket, one queue, loopback UDP).
    logger(
        &sock,
        &["-t", "delta", "-p", "local0.notice"],
        &["fence".into()],
    );
    let got = rs.wait_for(WAIT, |g| g.iter().any(|r| r.msg.contains("fence")));
    let mut texts: Vec<&str> = ours(&got, "wanted").iter().map(|r| r.msg.trim()).collect();
    texts.sort();
    assert_eq!(texts, loud, "every notice once over UDP");
    assert!(
        ours(&got, "too-low").is_empty(),
        "info is below --min-severity notice"
    );
    let r = ours(&got, "wanted")[0];
    assert_eq!(
        (
            r.hostname.clone(),
            r.app.as_str(),
            r.procid.as_str(),
            r.facility,
            r.severity
        ),
        (hostname(), "delta", "9", 16, 5)
    );
    assert!(lf.terminate(Duration::from_secs(10)));
}

#[test]
fn remote_down_and_back_loses_nothing_within_the_buffer() {
    let dir = TempDir::new(&format!("logfwd-restart-{}", std::process::id()));
    let mut rs = Rsyslog::start(&dir, free_port());
    let remote = format!("tcp://127.0.0.1:{}", rs.port);
    let (mut lf, sock) = start_logfwd(
        dir.path(),
        &["--remote", &remote, "--buffer", "2000"],
        |_| {},
    );

    let first = msgs("before", 200);
    logger(&sock, &["-t", "eps"], &first);
    rs.wait_for(WAIT, |g| g.len() >= 200);
    rs.stop();

    // The server is gone: these wait in logfwd's buffer (1,500 < 2,000).
    let second = msgs("during", 1500);
    logger(&sock, &["-t", "eps"], &second);
    let stderr = dir.path().join("logfwd.stderr");
    nodistro_tests::wait_until(WAIT, "logfwd does not notice the outage", || {
        std::fs::read_to_string(&stderr).is_ok_and(|t| t.contains("wait in the buffer, retrying"))
    });
    assert!(lf.alive(), "logfwd survives the remote going away");
    rs.restart();
    let third = msgs("after", 200);
    logger(&sock, &["-t", "eps"], &third);

    let got = rs.wait_for(WAIT, |g| g.len() >= 1900);
    let texts: Vec<&str> = got.iter().map(|r| r.msg.trim()).collect();
    let want: Vec<&str> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(String::as_str)
        .collect();
    assert_eq!(texts, want, "all 1,900 once, in order, across the restart");
    assert!(lf.terminate(Duration::from_secs(10)));
}

#[test]
fn flood_and_garbage_while_remote_down_memory_bounded_drops_counted() {
    let dir = TempDir::new(&format!("logfwd-flood-{}", std::process::id()));
    let port = free_port();
    let remote = format!("tcp://127.0.0.1:{port}");
    let (mut lf, sock) = start_logfwd(
        dir.path(),
        &["--remote", &remote, "--buffer", "500"],
        |_| {},
    );
    let rss_start = vm_rss_kib(lf.pid());

    let client = UnixDatagram::unbound().expect("unix socket");
    const N: usize = 30_000;
    let pad = "x".repeat(800);
    for i in 0..N {
        let payload: Vec<u8> = match i % 3 {
            0 => format!("<14>flood: seq={i:06} {pad}").into_bytes(),
            // Invalid UTF-8 and control bytes, no header at all.
            1 => [
                &b"\xff\xfe\x00\x1b[2J seq="[..],
                format!("{i:06} ").as_bytes(),
                &[0x80, 0xc3],
            ]
            .concat(),
            _ => [
                &format!("<999>1 garbage seq={i:06} ").into_bytes()[..],
                &[0u8, 1, 2, 0xff][..],
            ]
            .concat(),
        };
        client.send_to(&payload, &sock).expect("send datagram");
    }
    assert!(lf.alive(), "logfwd survives the flood");
    let rss = vm_rss_kib(lf.pid());
    assert!(
        rss < rss_start + 16 * 1024,
        "memory stays bounded: VmRSS {rss} KiB after {N} datagrams, {rss_start} KiB at start"
    );

    // The server comes up: the buffer's content and the drop count arrive.
    let dir_rs = TempDir::new(&format!("logfwd-flood-rs-{}", std::process::id()));
    let rs = Rsyslog::start(&dir_rs, port);
    let got = rs.wait_for(WAIT, |g| {
        g.iter().filter(|r| r.msg.contains("seq=")).count()
            + g.iter().filter_map(lost_in).sum::<u64>() as usize
            >= N
    });
    let seqs: Vec<usize> = got
        .iter()
        .filter_map(|r| r.msg.split_once("seq=")?.1.get(..6)?.parse().ok())
        .collect();
    let lost: u64 = got.iter().filter_map(lost_in).sum();
    eprintln!(
        "flood: {N} sent, {} delivered, {lost} counted lost, VmRSS {rss_start} -> {rss} KiB",
        seqs.len()
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "survivors in order, once each"
    );
    assert_eq!(
        seqs.len() as u64 + lost,
        N as u64,
        "every datagram delivered or counted as lost"
    );
    assert!(
        seqs.len() >= 500,
        "at least the buffer's worth arrives: {}",
        seqs.len()
    );
    assert!(seqs.last() == Some(&(N - 1)), "the newest survive");
    assert!(lf.terminate(Duration::from_secs(10)));
}

#[test]
fn app_pipes_megabyte_line_partial_tail_and_ring_dump() {
    let dir = TempDir::new(&format!("logfwd-app-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let remote = format!("tcp://127.0.0.1:{}", rs.port);
    // The app's stdout pipe arrives as logfwd's fd 0, its stderr pipe as fd 1.
    // --buffer 4000 bounds the queue at 4 MiB: room for the 1 MiB line.
    let pipe = || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let (mut out_w, mut err_w) = (std::fs::File::from(out_w), std::fs::File::from(err_w));
    let (mut lf, _sock) = start_logfwd(
        dir.path(),
        &["--remote", &remote, "--buffer", "4000"],
        |c| {
            c.stdin(out_r)
                .stdout(err_r)
                .env("NODISTRO_APP_STDOUT_FD", "0")
                .env("NODISTRO_APP_STDERR_FD", "1")
                .env("NODISTRO_APP_NAME", "webapp");
        },
    );
    let big: String = (0..1_048_576)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    out_w
        .write_all(format!("first line\n{big}\nafter big\npartial tail").as_bytes())
        .expect("write stdout");
    err_w
        .write_all(b"something failed\n\xff\xfe bad utf8\n")
        .expect("write stderr");
    drop(out_w);
    let got = rs.wait_for(WAIT, |g| {
        g.iter().any(|r| r.msg.contains("partial tail")) && g.len() >= 4
    });
    lf.signal(Signal::USR1);

    let app: Vec<&Received> = got.iter().filter(|r| r.app == "webapp").collect();
    assert!(app.iter().all(|r| r.facility == 1), "user facility");
    let stdout: Vec<&str> = app
        .iter()
        .filter(|r| r.severity == 6)
        .map(|r| r.msg.trim())
        .collect();
    assert_eq!(stdout.first(), Some(&"first line"));
    assert_eq!(&stdout[stdout.len() - 2..], ["after big", "partial tail"]);
    let pieces = &stdout[1..stdout.len() - 2];
    assert!(
        pieces.len() >= 128,
        "1 MiB in pieces of at most 8 KiB: {}",
        pieces.len()
    );
    let joined: String = pieces
        .iter()
        .map(|p| p.strip_suffix("[cont]").unwrap_or(p).trim_end())
        .collect();
    let big_no_ws: String = big.clone();
    assert_eq!(
        joined.len(),
        big_no_ws.len(),
        "no byte of the long line lost"
    );
    assert_eq!(joined, big_no_ws);
    let stderr: Vec<&str> = app
        .iter()
        .filter(|r| r.severity == 3)
        .map(|r| r.msg.trim())
        .collect();
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert_eq!(stderr[0], "something failed");
    assert!(stderr[1].contains("bad utf8"));

    // SIGUSR1 dumped the ring on logfwd's stderr (the console).
    let path = dir.path().join("logfwd.stderr");
    nodistro_tests::wait_until(WAIT, "no ring dump", || {
        std::fs::read_to_string(&path).is_ok_and(|t| t.contains("end of ring dump"))
    });
    let console = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(console.contains("ring dump"), "{console}");
    assert!(
        console.contains("webapp: err: something failed"),
        "{console}"
    );
    drop(err_w);
    assert!(lf.terminate(Duration::from_secs(10)));
}

#[test]
fn sigterm_with_remote_down_exits_in_bounded_time_and_counts_the_undelivered() {
    let dir = TempDir::new(&format!("logfwd-term-{}", std::process::id()));
    let remote = format!("tcp://127.0.0.1:{}", free_port());
    let (mut lf, sock) = start_logfwd(dir.path(), &["--remote", &remote], |_| {});
    logger(&sock, &["-t", "zeta"], &msgs("stuck", 10));
    nodistro_tests::wait_until(Duration::from_secs(10), "logfwd holds the 10", || {
        remote_queued(&ring_dump(&lf, dir.path())) >= 10
    });
    let t = std::time::Instant::now();
    assert!(
        lf.terminate(Duration::from_secs(8)),
        "logfwd exits while the remote is down"
    );
    eprintln!("exit took {:?}", t.elapsed());
    let stderr = std::fs::read_to_string(dir.path().join("logfwd.stderr")).unwrap_or_default();
    assert!(
        stderr.contains(&format!("{remote}: ")),
        "the failure is reported: {stderr}"
    );
    assert!(
        stderr.contains(&format!("10 messages not delivered to {remote} at exit")),
        "{stderr}"
    );
}

#[test]
fn refuses_a_socket_another_daemon_listens_on() {
    let dir = TempDir::new(&format!("logfwd-inuse-{}", std::process::id()));
    let (_first, sock) = start_logfwd(dir.path(), &[], |_| {});
    let out = Command::new(nodistro_tests::logfwd::logfwd_bin())
        .arg("--socket")
        .arg(&sock)
        .args(["--no-kmsg", "--no-console", "--config", "/nonexistent"])
        .output()
        .expect("run a second logfwd");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another syslog daemon is listening on"),
        "{err}"
    );
    assert!(sock.exists(), "the first one's socket is left alone");
}

/// Kernel records in the /dev/kmsg format, one per sequence number.
fn kmsg_records(seqs: impl IntoIterator<Item = u64>) -> String {
    seqs.into_iter()
        .map(|s| format!("6,{s},{},-;kmsg-replay {s:05}\n SUBSYSTEM=test\n", s * 1000))
        .collect()
}

fn replayed(got: &[Received]) -> Vec<String> {
    ours(got, "kmsg-replay")
        .iter()
        .map(|r| r.msg.trim().to_string())
        .collect()
}

fn names(seqs: impl IntoIterator<Item = u64>) -> Vec<String> {
    seqs.into_iter()
        .map(|s| format!("kmsg-replay {s:05}"))
        .collect()
}

#[test]
fn restarted_logfwd_does_not_send_the_kernel_log_again() {
    let dir = TempDir::new(&format!("logfwd-kmsg-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let remote = format!("tcp://127.0.0.1:{}", rs.port);
    let kmsg = dir.path().join("kmsg");
    let state = dir.path().join("state");
    let seq_file = state.join("kmsg.seq");
    let kmsg_arg = kmsg.display().to_string();
    let state_arg = state.display().to_string();
    let args = [
        "--remote",
        remote.as_str(),
        "--kmsg",
        &kmsg_arg,
        "--state-dir",
        &state_arg,
    ];
    let append = |text: String| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&kmsg)
            .expect("open the kmsg file");
        f.write_all(text.as_bytes()).expect("append kernel records");
    };

    // First run: everything, then a crash (SIGKILL: no exit handler runs,
    // the periodic save must have written the position).
    append(kmsg_records(100..=104));
    let (lf, _) = start_logfwd(dir.path(), &args, |_| {});
    let got = rs.wait_for(WAIT, |g| replayed(g).len() >= 5);
    assert_eq!(replayed(&got), names(100..=104));
    let k = ours(&got, "kmsg-replay")[0];
    assert_eq!((k.app.as_str(), k.facility, k.severity), ("kernel", 0, 6));
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&seq_file).is_ok_and(|t| t.trim_end().ends_with(" 104")) {
        assert!(std::time::Instant::now() < end, "kmsg.seq never says 104");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(lf); // SIGKILL

    // The kernel logged more meanwhile, and overwrote 108..=110.
    append(kmsg_records((105..=107).chain(111..=112)));
    let (mut lf, _) = start_logfwd(dir.path(), &args, |_| {});
    let got = rs.wait_for(WAIT, |g| replayed(g).len() >= 10);
    assert!(
        lf.terminate(Duration::from_secs(10)),
        "logfwd stops on SIGTERM"
    );
    let got = rs.wait_for(Duration::from_secs(2), |g| g.len() > got.len());
    assert_eq!(
        replayed(&got),
        names((100..=107).chain(111..=112)),
        "every kernel record once, in order"
    );
    let lost: Vec<&Received> = got
        .iter()
        .filter(|r| r.app == "logfwd" && r.msg.contains("kernel messages lost"))
        .collect();
    assert_eq!(lost.len(), 1, "{got:?}");
    assert!(lost[0].msg.trim().starts_with("3 kernel"), "{lost:?}");
    let saved = std::fs::read_to_string(&seq_file).expect("kmsg.seq");
    assert!(saved.trim_end().ends_with(" 112"), "{saved:?}");

    // A state file that is not understood: start from the beginning, say so.
    std::fs::write(&seq_file, "\u{1}garbage").expect("spoil kmsg.seq");
    let (mut lf, _) = start_logfwd(dir.path(), &args, |_| {});
    let got = rs.wait_for(WAIT, |g| replayed(g).len() >= 20);
    assert!(
        lf.terminate(Duration::from_secs(10)),
        "logfwd stops on SIGTERM"
    );
    let twice: Vec<String> = names((100..=107).chain(111..=112))
        .into_iter()
        .cycle()
        .take(20)
        .collect();
    assert_eq!(replayed(&got), twice);
    let stderr = std::fs::read_to_string(dir.path().join("logfwd.stderr")).unwrap_or_default();
    assert!(stderr.contains("is not understood"), "{stderr}");
}

#[test]
fn rfc5424_structured_data_is_forwarded_as_sent() {
    let dir = TempDir::new(&format!("logfwd-sd-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let remote = format!("tcp://127.0.0.1:{}", rs.port);
    let (mut lf, sock) = start_logfwd(dir.path(), &["--remote", &remote], |_| {});
    logger(
        &sock,
        &[
            "--rfc5424=notq",
            "-t",
            "sd",
            "--sd-id",
            "zoo@32473",
            "--sd-param",
            r#"tiger="hungry""#,
            "--sd-param",
            r#"note="say \"hi\" \] ok""#,
            "--sd-id",
            "mgr@32473",
            "--sd-param",
            r#"room="b2""#,
        ],
        &["with-sd 1".to_string()],
    );
    logger(
        &sock,
        &["--rfc5424=notq", "-t", "sd"],
        &["without-sd 2".to_string()],
    );
    let got = rs.wait_for(WAIT, |g| g.len() >= 2);
    assert!(
        lf.terminate(Duration::from_secs(10)),
        "logfwd stops on SIGTERM"
    );
    let with = ours(&got, "with-sd");
    assert_eq!(with.len(), 1, "{got:?}");
    assert_eq!(
        with[0].sd,
        r#"[zoo@32473 tiger="hungry" note="say \"hi\" \] ok"][mgr@32473 room="b2"]"#
    );
    let without = ours(&got, "without-sd");
    assert_eq!(without.len(), 1, "{got:?}");
    assert_eq!(without[0].sd, "-");
}

/// Issue 16: an app that writes faster than the server takes its lines is
/// slowed down (logfwd stops reading its pipe for a while), not dropped:
/// 100,000 lines written at once all reach rsyslog, once each, in order,
/// and no loss notice is sent. (Before back-pressure, the queue dropped
/// the oldest: a third to two thirds of such a flood in bench/logfwd-mibs.sh.)
/// Short lines and a small buffer: one 64 KiB read holds five times more
/// lines than the queue takes, so lines wait in logfwd, not only in the pipe.
#[test]
fn app_flood_is_pushed_back_not_dropped() {
    const N: usize = 100_000;
    let dir = TempDir::new(&format!("logfwd-flood-{}", std::process::id()));
    let rs = Rsyslog::start(&dir, free_port());
    let remote = format!("tcp://127.0.0.1:{}", rs.port);
    let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    let args = ["--remote", &remote, "--buffer", "1000"];
    let (mut lf, _sock) = start_logfwd(dir.path(), &args, |c| {
        c.stdin(out_r)
            .env("NODISTRO_APP_STDOUT_FD", "0")
            .env("NODISTRO_APP_NAME", "flood");
    });
    let text: String = (0..N).map(|i| format!("flood {i:06}\n")).collect();
    // The app: blocks on its pipe while logfwd pushes back.
    let app = std::thread::spawn(move || std::fs::File::from(out_w).write_all(text.as_bytes()));
    let flood = |g: &[Received]| g.iter().filter(|r| r.app == "flood").count();
    // All of them, or a loss notice (then the test fails without waiting).
    let got = rs.wait_for(Duration::from_secs(90), |g| {
        flood(g) >= N || g.iter().any(|r| lost_in(r).is_some())
    });
    assert!(
        app.join().is_ok_and(|r| r.is_ok()),
        "the app wrote all its lines"
    );
    let seqs: Vec<usize> = got
        .iter()
        .filter(|r| r.app == "flood")
        .filter_map(|r| r.msg.trim().strip_prefix("flood ")?.get(..6)?.parse().ok())
        .collect();
    let lost: Vec<u64> = got.iter().filter_map(lost_in).collect();
    assert!(lost.is_empty(), "loss notices: {lost:?}");
    assert_eq!(seqs.len(), N, "lines that arrived");
    assert!(
        seqs.iter().enumerate().all(|(i, &s)| i == s),
        "every line once, in order"
    );
    assert!(lf.terminate(Duration::from_secs(10)));
}

/// Issue 26, hostile peers: a server that accepts the connection and never
/// reads. logfwd's memory stays bounded while the producers flood it, the
/// stall is reported once (not once per retry), and when the server starts
/// reading the newest records and the count of the dropped ones arrive, in
/// order, and the return is reported once.
#[test]
fn server_that_accepts_and_never_reads_bounded_memory_one_report() {
    use std::io::Read;
    use std::net::TcpListener;
    let dir = TempDir::new(&format!("logfwd-stuck-{}", std::process::id()));
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let remote = format!("tcp://{}", listener.local_addr().expect("address"));
    let (mut lf, sock) = start_logfwd(
        dir.path(),
        &["--remote", &remote, "--buffer", "500"],
        |_| {},
    );
    let rss_start = vm_rss_kib(lf.pid());
    let client = UnixDatagram::unbound().expect("unix socket");
    const N: usize = 30_000;
    let pad = "x".repeat(800);
    for i in 0..N {
        client
            .send_to(format!("<14>stuck: seq={i:06} {pad}").as_bytes(), &sock)
            .expect("send datagram");
    }
    let stderr = || std::fs::read_to_string(dir.path().join("logfwd.stderr")).unwrap_or_default();
    nodistro_tests::wait_until(WAIT, "the stall is not reported", || {
        stderr().contains("the server stopped reading")
    });
    // The connection waited in the listen backlog; it is taken, never read.
    let (mut conn, _) = listener.accept().expect("logfwd connected");
    // Stuck a while longer: still one report.
    std::thread::sleep(Duration::from_secs(3));
    assert!(lf.alive(), "logfwd survives");
    let rss = vm_rss_kib(lf.pid());
    assert!(
        rss < rss_start + 16 * 1024,
        "memory stays bounded: VmRSS {rss} KiB, {rss_start} KiB at start"
    );

    // The server reads at last: the last record arrives.
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let last = format!("seq={:06}", N - 1);
        let end = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < end {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if String::from_utf8_lossy(&all).contains(&last) {
                break;
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let text = reader.join().expect("reader");
    nodistro_tests::wait_until(WAIT, "the return is not reported", || {
        stderr().contains("the server reads again")
    });
    let seqs: Vec<usize> = text
        .split("seq=")
        .skip(1)
        .filter_map(|t| t.get(..6)?.parse().ok())
        .collect();
    let lost: u64 = text
        .split(" messages lost")
        .filter_map(|before| before.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    let err = stderr();
    eprintln!(
        "stuck server: {N} sent, {} delivered, {lost} counted lost, VmRSS {rss_start} -> {rss} KiB",
        seqs.len()
    );
    assert_eq!(seqs.last(), Some(&(N - 1)), "the newest arrive");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order, once each");
    assert_eq!(seqs.len() as u64 + lost, N as u64, "delivered or counted");
    assert_eq!(
        err.matches("the server stopped reading").count(),
        1,
        "{err}"
    );
    assert_eq!(err.matches("the server reads again").count(), 1, "{err}");
    assert!(lf.terminate(Duration::from_secs(10)));
}
