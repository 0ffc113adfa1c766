#!/usr/bin/env bash
# arm64 (issue 23): the cross-built aarch64 box beside Debian's
# busybox-static:arm64, and an aarch64 demo image's boot to its first HTTP
# answer under qemu-system-aarch64 -M virt (TCG) beside the same image for
# x86_64 on pc, and the aarch64 UKI through AAVMF beside the initramfs.
#
#   bench/arm64.sh [RUNS]   (default 3)
#
# Needs what scripts/setup.sh installs (the arm64 cross toolchain,
# qemu-system-arm). apt-get download fetches busybox-static:arm64 into a
# scratch directory; nodistro build --arch aarch64 fetches the arm64 kernel
# into ~/.cache/nodistro on first use.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=${1:-3}
need qemu-system-aarch64:qemu-system-arm curl:curl apt-get:apt dpkg-deb:dpkg
cargo build --release --workspace --bins >&2
ARM=$(scripts/build-box.sh --arch aarch64)
W=$(mktemp -d /tmp/arm64-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# ---- bytes
(cd "$W" && apt-get download -q busybox-static:arm64 >/dev/null 2>&1)
dpkg-deb -x "$W"/busybox-static_*_arm64.deb "$W/bb"
box=$(stat -c %s "$ARM/nodistro-box")
bb=$(stat -c %s "$W/bb/bin/busybox")
echo "aarch64 box bytes (init, modload, netcfg, logfwd): $box; busybox-static:arm64 $bb; ratio $(awk "BEGIN {printf \"%.2f\", $box/$bb}")"
echo "x86_64 box bytes, for comparison: $(stat -c %s "$REL/nodistro-box"); aarch64 demo-app $(stat -c %s "$ARM/demo-app"), x86_64 $(stat -c %s "$REL/demo-app")"

# ---- boot to the first answer
"$REL/nodistro" build --arch aarch64 --tools-dir "$ARM" --app "$ARM/demo-app" -o "$W/arm.img" 2>&1 | tail -1
"$REL/nodistro" build --tools-dir "$REL" --app "$REL/demo-app" -o "$W/x86.img" 2>&1 | tail -1
"$REL/nodistro" build --arch aarch64 --tools-dir "$ARM" --app "$ARM/demo-app" --format uki -o "$W/arm.uki" 2>&1 | tail -1
# first_answer ARGS...: ms from `nodistro run ARGS` to the demo's answer,
# then SIGTERM (the power button) and the run's clean end.
first_answer() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local start end pid
    start=$(now_ns)
    "$REL/nodistro" run "$@" --forward "$port:8080" --timeout 300 >"$W/run.log" 2>&1 &
    pid=$!
    until curl -s -m 1 "http://127.0.0.1:$port/" 2>/dev/null | grep -q Hello; do
        kill -0 "$pid" 2>/dev/null || { echo "guest ended before answering:" >&2; tail -5 "$W/run.log" >&2; return 1; }
        sleep 0.05
    done
    end=$(now_ns)
    kill -TERM "$pid"
    wait "$pid" || true
    grep -q "powered off cleanly" "$W/run.log" || { echo "no clean power-off:" >&2; tail -3 "$W/run.log" >&2; return 1; }
    echo $(((end - start) / 1000))
}
: >"$W/arm.times"
: >"$W/x86.times"
: >"$W/uki.times"
for _ in $(seq "$runs"); do
    first_answer --initrd "$W/arm.img" --arch aarch64 >>"$W/arm.times"
    first_answer --initrd "$W/x86.img" >>"$W/x86.times"
    first_answer --image "$W/arm.uki" --arch aarch64 >>"$W/uki.times"
done
read -r n med min p90 max < <(stats "$W/arm.times")
read -r _ xmed xmin _ xmax < <(stats "$W/x86.times")
echo "first HTTP answer, ms, median of $n: aarch64 on virt $med (min $min, max $max); x86_64 on pc $xmed (min $xmin, max $xmax); ratio $(awk "BEGIN {printf \"%.2f\", $med/$xmed}")"
read -r n umed umin _ umax < <(stats "$W/uki.times")
echo "first HTTP answer, ms, median of $n: aarch64 UKI on AAVMF $umed (min $umin, max $umax); the same app as an initramfs on virt $med; ratio $(awk "BEGIN {printf \"%.2f\", $umed/$med}")"
