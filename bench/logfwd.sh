#!/usr/bin/env bash
# Forwarding throughput, loss and memory: logfwd vs rsyslog (imuxsock on a
# custom socket, omfwd) vs busybox syslogd -R, side by side in one run.
# The same client (util-linux logger reading N lines from a file, one
# datagram each) writes to each forwarder's unix socket; the same counting
# receiver on loopback counts what arrives. busybox syslogd forwards over
# UDP only, so logfwd is measured over UDP too for that pair.
#
# Usage: bench/logfwd.sh [N]   (default 200000 messages; root for busybox)
# Needs: rsyslog, busybox-static, bsdutils (logger), util-linux (unshare), python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$ROOT/bench/logfwd.sh
BIN=$ROOT/target/x86_64-unknown-linux-gnu/release/logfwd

receiver() { # DIR: start the counting receiver, print its port
    python3 -u - "$1" <<'EOF' &
import selectors, socket, sys, time
d = sys.argv[1]
mark = b"BENCHMSG"
sel = selectors.DefaultSelector()
lt = socket.socket(); lt.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lt.bind(("127.0.0.1", 0)); lt.listen(16)
port = lt.getsockname()[1]
us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try: us.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (root)
except OSError: us.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
us.bind(("127.0.0.1", port))
sel.register(lt, selectors.EVENT_READ, "listen")
sel.register(us, selectors.EVENT_READ, "udp")
open(d + "/port", "w").write(str(port))
count, last, tails, wrote = 0, 0.0, {}, 0.0
while True:
    for key, _ in sel.select(0.1):
        s = key.fileobj
        if key.data == "listen":
            c, _ = s.accept(); sel.register(c, selectors.EVENT_READ, "tcp"); tails[c] = b""
        elif key.data == "udp":
            for _ in range(256):
                try: b = s.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError: break
                count += b.count(mark); last = time.time()
        else:
            b = s.recv(1 << 20)
            if not b:
                sel.unregister(s); s.close(); continue
            buf = tails[s] + b
            count += buf.count(mark); last = time.time()
            tails[s] = buf[-(len(mark) - 1):] if not buf.endswith(mark) else b""
    now = time.time()
    if now - wrote > 0.1:
        open(d + "/status.tmp", "w").write(f"{count} {last:.6f}\n")
        import os; os.replace(d + "/status.tmp", d + "/status"); wrote = now
EOF
    echo $! > "$1/receiver.pid"
    for _ in $(seq 100); do [ -s "$1/port" ] && break; sleep 0.05; done

}

stop_pid() { [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null || true; }

drive() { # NAME TRANSPORT SOCK PID DIR: send, wait for arrivals, record
    local name=$1 transport=$2 sock=$3 pid=$4 d=$5 n t0 prev=-1 same=0 count last hwm cpu
    n=$(wc -l < "$d/../msgs")
    for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
    t0=$(date +%s.%N)
    timeout 300 logger --socket-errors=on -u "$sock" -t bench < "$d/../msgs"
    # Wait until everything arrived or nothing more for 3 s.
    while :; do
        read -r count last < "$d/status" || { count=0; last=0; }
        [ "$count" -ge "$n" ] && break
        if [ "$count" = "$prev" ]; then same=$((same + 1)); else same=0; prev=$count; fi
        [ "$same" -ge 30 ] && break
        sleep 0.1
    done
    hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
    # utime + stime of the forwarder (all threads), in clock ticks.
    cpu=$(sed 's/.*) //' "/proc/$pid/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($12 + $13) / hz}')
    echo "$name $transport $n $count $t0 $last $hwm $cpu" >> "$d/../results"
}

if [ "${1:-}" = _busybox ]; then
    # Inside `unshare -m`: a private /dev so /dev/log is ours alone.
    d=$2; port=$3
    mount --make-rprivate / && mount -t tmpfs -o size=1m bench-dev /dev && mknod -m 666 /dev/null c 1 3
    busybox syslogd -n -R "127.0.0.1:$port" & bb=$!
    drive "busybox-syslogd" udp /dev/log "$bb" "$d"
    kill "$bb"; wait "$bb" 2>/dev/null || true
    exit 0
fi

N=${1:-200000}
for p in rsyslogd logger unshare python3 busybox; do
    command -v "$p" > /dev/null || { echo "bench/logfwd.sh: $p is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -p nodistro-logfwd)
W=$(mktemp -d "/tmp/logfwd-bench-$$-XXXX")
cleanup() {
    for f in "$W"/*/*.pid; do stop_pid "$f"; done
    rm -rf "$W"
}
trap cleanup EXIT
python3 -c "
import sys
pad = 'x' * 60
sys.stdout.write(''.join(f'BENCHMSG {i:07d} {pad}\n' for i in range($N)))" > "$W/msgs"

run_logfwd() { # TRANSPORT
    local d=$W/logfwd-$1 port
    mkdir -p "$d"; receiver "$d"; port=$(cat "$d/port")
    "$BIN" --socket "$d/sock" --remote "$1://127.0.0.1:$port" --no-kmsg --no-console \
        --config /nonexistent --buffer 100000 2> "$d/stderr" & echo $! > "$d/fwd.pid"
    drive "logfwd" "$1" "$d/sock" "$(cat "$d/fwd.pid")" "$d"
    stop_pid "$d/fwd.pid"; stop_pid "$d/receiver.pid"
}

run_rsyslog() {
    local d=$W/rsyslog-tcp port
    mkdir -p "$d/work"; receiver "$d"; port=$(cat "$d/port")
    cat > "$d/rsyslog.conf" <<EOF
global(workDirectory="$d/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" socket="$d/sock" ratelimit.interval="0")
action(type="omfwd" target="127.0.0.1" port="$port" protocol="tcp" TCP_Framing="octet-counted")
EOF
    rsyslogd -n -f "$d/rsyslog.conf" -i "$d/rsyslogd.pidfile" 2> "$d/stderr" & echo $! > "$d/fwd.pid"
    drive "rsyslogd" tcp "$d/sock" "$(cat "$d/fwd.pid")" "$d"
    stop_pid "$d/fwd.pid"; stop_pid "$d/receiver.pid"
}

run_busybox() {
    local d=$W/busybox-udp port
    mkdir -p "$d"; receiver "$d"; port=$(cat "$d/port")
    unshare -m "$SELF" _busybox "$d" "$port"
    stop_pid "$d/receiver.pid"
}

run_logfwd tcp
run_rsyslog
run_logfwd udp
run_busybox

echo "logfwd benchmark: $N messages of $(head -1 "$W/msgs" | wc -c) bytes from logger to a counting receiver on loopback ($(nproc) cores)"
awk '
{ name[NR]=$1; tr[NR]=$2; sent[NR]=$3; got[NR]=$4; rate[NR]=($6 > $5) ? $4 / ($6 - $5) : 0; hwm[NR]=$7
  cpu[NR]=$8; if ($1 == "logfwd") base[$2] = NR }
END {
  printf "%-16s %-4s %8s %8s %6s %8s %9s %7s %9s %9s %9s\n", "forwarder", "via", "sent", "received", "lost", "msg/s", "vs logfwd", "CPU s", "vs logfwd", "VmHWM KiB", "vs logfwd"
  for (i = 1; i <= NR; i++) {
    b = base[tr[i]]
    printf "%-16s %-4s %8d %8d %6d %8.0f %8.2fx %7.2f %8.2fx %9d %8.2fx\n", name[i], tr[i], sent[i], got[i], sent[i] - got[i], rate[i], rate[i] / rate[b], cpu[i], (cpu[b] > 0) ? cpu[i] / cpu[b] : 0, hwm[i], hwm[i] / hwm[b]
  }
}' "$W/results"
