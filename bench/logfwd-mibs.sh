#!/usr/bin/env bash
# Forwarding throughput in bytes: what logfwd itself can do, side by side
# with rsyslog and syslog-ng in one run (issue 16). Two cases:
#   pipe   an app writes 136-byte lines as fast as it can, in 256 KiB
#          writes, to its output; the forwarder reads it (logfwd: the pipe
#          init hands over, NODISTRO_APP_STDOUT_FD; syslog-ng: pipe();
#          rsyslog has no pipe input (no improg in Debian 12), so imfile on
#          a tmpfs file the app appends to, the nearest it has)
#   dgram  K concurrent clients send N datagrams (what syslog(3) sends) to
#          the forwarder's /dev/log-style unix datagram socket
# Every forwarder sends RFC 5424 over TCP with RFC 6587 octet counting to a
# compiled receiver that parses the frames and marks each message's
# sequence number, so lost and duplicated messages are counted exactly.
# Per forwarder: MiB/s and msg/s of the app's own bytes (first write to last
# byte received; of what arrived), CPU seconds (user+sys of the forwarder's process, all
# threads, during the run), MiB per CPU second, peak RSS (VmHWM). "other":
# frames without a sequence number (a forwarder's own notices).
#
# Usage: bench/logfwd-mibs.sh [N_PIPE] [N_DGRAM] [CLIENTS]
#        (defaults 2000000 lines, 1000000 datagrams, 4 clients)
#        LOGFWD_BIN=PATH: the logfwd measured (default: target's release build)
#        LOGFWD_BEFORE=PATH: also measure this logfwd, as "logfwd-old" (a
#        before/after pair from one run)
# Needs: cc, rsyslog; syslog-ng is fetched (apt-get download, unpacked
# under /var/cache/nodistro-bench: its package conflicts with rsyslog's).
# Vector and Fluent Bit are not in Debian 12, crates.io, PyPI or npm.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${LOGFWD_BIN:-$ROOT/target/x86_64-unknown-linux-gnu/release/logfwd}
N_PIPE=${1:-2000000}
N_DGRAM=${2:-1000000}
CLIENTS=${3:-4}
IDLE_MS=5000
SNG=/var/cache/nodistro-bench/syslog-ng

for p in cc rsyslogd; do
    command -v "$p" > /dev/null || { echo "bench/logfwd-mibs.sh: $p is missing (scripts/setup.sh installs rsyslog; apt-get install gcc)" >&2; exit 1; }
done
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -p nodistro-logfwd)

# syslog-ng-core replaces rsyslog when installed, so it is unpacked beside.
if [ ! -x "$SNG/usr/sbin/syslog-ng" ]; then
    echo "bench/logfwd-mibs.sh: fetching syslog-ng-core (apt-get download) into $SNG" >&2
    apt-get install -y -q libivykis0 libnet1 libpcre3 libwrap0 > /dev/null
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -q syslog-ng-core > /dev/null)
    mkdir -p "$SNG" && dpkg-deb -x "$tmp"/syslog-ng-core_*.deb "$SNG" && rm -rf "$tmp"
fi
SNG_VERSION=$(ls "$SNG/usr/lib/syslog-ng" | grep -E '^[0-9]+\.[0-9]+$' | head -1)

W=$(mktemp -d "/dev/shm/logfwd-mibs-$$-XXXX")
cleanup() {
    for f in "$W"/*/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2> /dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
H=$W/logfwd-mibs
cc -O2 -pthread -o "$H" "$ROOT/bench/logfwd-mibs.c"

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hwm_kib() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
wait_open() { # PID PATH: until the process has PATH open or bound (or 10 s)
    for _ in $(seq 200); do
        [ -S "$2" ] && return 0
        ls -l "/proc/$1/fd" 2> /dev/null | grep -qF -- "$2" && return 0
        sleep 0.05
    done
    echo "bench/logfwd-mibs.sh: pid $1 did not open $2" >&2
    return 1
}

start_receiver() { # DIR N
    "$H" recv "$1/port" "$2" "$IDLE_MS" > "$1/recv.out" & echo $! > "$1/recv.pid"
    for _ in $(seq 100); do [ -s "$1/port" ] && break; sleep 0.05; done
}

# NAME CASE DIR PID N MSGBYTES LOADCMD...: run the load, wait for the
# receiver, record one line of results.
measure() {
    local name=$1 case=$2 d=$3 pid=$4 n=$5 bytes=$6 c0 c1 t0
    shift 6
    c0=$(cpu_ticks "$pid")
    "$@"
    wait "$(cat "$d/recv.pid")" || true
    c1=$(cpu_ticks "$pid")
    t0=$(cat "$d/t0")
    read -r frames distinct dups bad wire last conns < "$d/recv.out"
    echo "$name $case $n $bytes $distinct $dups $bad $t0 $last $((c1 - c0)) $(hwm_kib "$pid") $wire" >> "$W/results"
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
}

run_logfwd() { # CASE [NAME BIN]
    local name=${2:-logfwd} bin=${3:-$BIN}
    local d=$W/$name-$1 port
    mkdir -p "$d"; start_receiver "$d" "$([ "$1" = pipe ] && echo "$N_PIPE" || echo "$N_DGRAM")"
    port=$(cat "$d/port")
    mkfifo "$d/fifo"
    # The app's pipe as init hands it over: an fd named in the environment.
    NODISTRO_APP_STDOUT_FD=3 NODISTRO_APP_NAME=app "$bin" --socket "$d/sock" \
        --remote "tcp://127.0.0.1:$port" --no-kmsg --no-console --config /nonexistent \
        3<> "$d/fifo" 2> "$d/stderr" & echo $! > "$d/fwd.pid"
    local pid; pid=$(cat "$d/fwd.pid")
    wait_open "$pid" "$d/sock"
    if [ "$1" = pipe ]; then
        measure "$name" pipe "$d" "$pid" "$N_PIPE" 136 sh -c "'$H' write $N_PIPE '$d/t0' > '$d/fifo'"
    else
        measure "$name" dgram "$d" "$pid" "$N_DGRAM" 168 "$H" dgram "$d/sock" "$N_DGRAM" "$CLIENTS" "$d/t0"
    fi
}

run_rsyslog() { # CASE
    local d=$W/rsyslog-$1 port input
    mkdir -p "$d/work"; start_receiver "$d" "$([ "$1" = pipe ] && echo "$N_PIPE" || echo "$N_DGRAM")"
    port=$(cat "$d/port")
    : > "$d/app.log"
    if [ "$1" = pipe ]; then
        input="module(load=\"imfile\" mode=\"inotify\")
input(type=\"imfile\" file=\"$d/app.log\" tag=\"app\")"
    else
        input="module(load=\"imuxsock\" SysSock.Use=\"off\")
input(type=\"imuxsock\" socket=\"$d/sock\" ratelimit.interval=\"0\")"
    fi
    cat > "$d/rsyslog.conf" <<EOF
global(workDirectory="$d/work")
$input
action(type="omfwd" target="127.0.0.1" port="$port" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
EOF
    rsyslogd -n -f "$d/rsyslog.conf" -i "$d/rsyslogd.pidfile" 2> "$d/stderr" & echo $! > "$d/fwd.pid"
    local pid; pid=$(cat "$d/fwd.pid")
    if [ "$1" = pipe ]; then
        wait_open "$pid" "$d/app.log"
        measure rsyslogd pipe "$d" "$pid" "$N_PIPE" 136 sh -c "'$H' write $N_PIPE '$d/t0' >> '$d/app.log'"
    else
        wait_open "$pid" "$d/sock"
        measure rsyslogd dgram "$d" "$pid" "$N_DGRAM" 168 "$H" dgram "$d/sock" "$N_DGRAM" "$CLIENTS" "$d/t0"
    fi
}

run_syslog_ng() { # CASE
    local d=$W/syslog-ng-$1 port src
    mkdir -p "$d"; start_receiver "$d" "$([ "$1" = pipe ] && echo "$N_PIPE" || echo "$N_DGRAM")"
    port=$(cat "$d/port")
    mkfifo "$d/fifo"
    if [ "$1" = pipe ]; then
        src="pipe(\"$d/fifo\" flags(no-parse) program-override(\"app\"))"
    else
        src="unix-dgram(\"$d/sock\")"
    fi
    # flow-control: stop reading the source while the destination is
    # behind, instead of dropping (zero loss, as asked of every peer).
    cat > "$d/syslog-ng.conf" <<EOF
@version: $SNG_VERSION
source s { $src; };
destination d { syslog("127.0.0.1" port($port) transport("tcp")); };
log { source(s); destination(d); flags(flow-control); };
EOF
    LD_LIBRARY_PATH=$SNG/usr/lib/syslog-ng "$SNG/usr/sbin/syslog-ng" -F -f "$d/syslog-ng.conf" \
        --module-path="$SNG/usr/lib/syslog-ng/$SNG_VERSION" --persist-file="$d/persist" \
        --pidfile="$d/syslog-ng.pidfile" --control="$d/ctl" 2> "$d/stderr" & echo $! > "$d/fwd.pid"
    local pid; pid=$(cat "$d/fwd.pid")
    if [ "$1" = pipe ]; then
        wait_open "$pid" "$d/fifo"
        measure syslog-ng pipe "$d" "$pid" "$N_PIPE" 136 sh -c "'$H' write $N_PIPE '$d/t0' > '$d/fifo'"
    else
        wait_open "$pid" "$d/sock"
        measure syslog-ng dgram "$d" "$pid" "$N_DGRAM" 168 "$H" dgram "$d/sock" "$N_DGRAM" "$CLIENTS" "$d/t0"
    fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for c in pipe dgram; do
    run_logfwd "$c"
    if [ -n "${LOGFWD_BEFORE:-}" ]; then run_logfwd "$c" logfwd-old "$LOGFWD_BEFORE"; fi
    run_rsyslog "$c"
    run_syslog_ng "$c"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "logfwd-mibs: pipe $N_PIPE lines of 136 B; dgram $N_DGRAM datagrams of 168 B from $CLIENTS clients; TCP (RFC 6587) to a counting receiver on loopback"
echo "$(nproc) cores, load average before $load_before, after $load_after; logfwd $(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo '?'), rsyslogd $(rsyslogd -v | awk 'NR==1{print $2}'), syslog-ng $SNG_VERSION"
awk -v hz="$(getconf CLK_TCK)" '
{ s = ($9 - $8) / 1e9; mib = $5 * $4 / 1048576; cpu = $10 / hz
  row[NR] = sprintf("%-10s %-5s %8d %8d %7d %4d %5d %6.2f %7.1f %8.0f %6.2f %9.1f %9d", $1, $2, $3, $5, $3 - $5, $6, $7, s,
    (s > 0) ? mib / s : 0, (s > 0) ? $5 / s : 0, cpu, (cpu > 0) ? mib / cpu : 0, $11) }
END {
  printf "%-10s %-5s %8s %8s %7s %4s %5s %6s %7s %8s %6s %9s %9s\n", "forwarder", "case", "sent", "received", "lost", "dup", "other", "s", "MiB/s", "msg/s", "CPU s", "MiB/CPU s", "VmHWM KiB"
  for (i = 1; i <= NR; i++) print row[i]
}' "$W/results"
