#!/usr/bin/env bash
# Coldplug in QEMU (TCG), same kernel, same modules, same virtio machine:
# modload (started by nodistro's init; wall time from init's "starting
# modload" to its "coldplug-done" line) against busybox running
# `find /sys -name modalias | xargs sort -u | xargs modprobe -b -a` until no
# new alias appears (wall time from /proc/uptime around the loop).
#
# Usage: bench/modload-qemu.sh [RUNS]   (default 5; needs root for mknod)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-5}
qemu_bench_setup modload-qemu-bench

mods=(--module virtio_pci --module virtio_net --module virtio_blk --module e1000)
# nodistro: the app exits at once (busybox true), init powers off.
"$REL/nodistro" build --app /bin/busybox --arg true --kernel-version "$KVER" "${mods[@]}" \
    --config init.helpers=modload -o "$W/nodistro.img" >&2
# busybox: the same modules tree, taken from the nodistro image.
busybox_root
install -m 755 bench/modload-busybox/rc "$W/bb/etc/rc"
echo '::sysinit:/bin/busybox sh /etc/rc' > "$W/bb/etc/inittab"
pack "$W/bb" | gzip -n > "$W/busybox.img"

boot() { "$REL/nodistro" run --initrd "$1" --nic virtio --timeout 120 2>&1 | tr -d '\r'; }
nd_ms() { # console -> ms from "starting modload" to "coldplug-done"
    awk -F'[][]' '/init: starting modload/ {a=$2} /init: modload: coldplug-done/ {b=$2} END {printf "%d", (b - a) * 1000}'
}
bb_ms() { awk '/^BB-COLDPLUG/ {printf "%d", ($3 - $2) * 1000}'; }
echo "kernel $KVER, qemu $(qemu_version), TCG, i440fx + virtio-net NIC, image with virtio_pci virtio_net virtio_blk e1000, $RUNS runs each, coldplug wall ms"
printf '%-4s %10s %10s\n' run modload busybox
nd_all=(); bb_all=()
for i in $(seq "$RUNS"); do
    nd_con=$(boot "$W/nodistro.img")
    bb_con=$(boot "$W/busybox.img")
    n=$(echo "$nd_con" | nd_ms); b=$(echo "$bb_con" | bb_ms)
    grep -q 'modload: loaded virtio_net' <<<"$nd_con" || { echo "nodistro run $i: virtio_net not loaded" >&2; echo "$nd_con" | tail -30 >&2; exit 1; }
    grep -q '^BB-COLDPLUG.* virtio_net ' <<<"$bb_con" || { echo "busybox run $i: virtio_net not loaded" >&2; echo "$bb_con" | tail -30 >&2; exit 1; }
    printf '%-4s %10s %10s\n' "$i" "$n" "$b"
    nd_all+=("$n"); bb_all+=("$b")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
n=$(median "${nd_all[@]}"); b=$(median "${bb_all[@]}")
printf 'median: modload %s ms, busybox pipeline %s ms, busybox/modload %s\n' "$n" "$b" \
    "$(awk -v a="$b" -v c="$n" 'BEGIN {printf "%.2f", a / c}')"
echo "modload's own report (last run): $(echo "$nd_con" | grep -o 'modload: coldplug: .*' | tail -1)"
