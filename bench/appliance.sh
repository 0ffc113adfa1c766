#!/usr/bin/env bash
# Whole appliance (issue 7): the nodistro demo image against a busybox image
# doing the same job the classic way (busybox init, an rc script that mounts,
# loads drivers with `find /sys -name modalias | xargs sort -u | xargs
# modprobe -b -a`, udhcpc, syslogd -R, then the app), same kernel, same QEMU,
# same app, same modules, booted alternately.
#
# Usage: bench/appliance.sh [RUNS]   (default 10; needs root for mknod)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-10}
qemu_bench_setup nodistro-appliance-bench

# Both images send their logs to 10.0.2.2:5514 (nobody listens: same work).
mods=(--module virtio_pci --module virtio_net --module e1000 --module button --module evdev)
"$REL/nodistro" build --app "$REL/demo-app" --kernel-version "$KVER" "${mods[@]}" \
    --config logfwd.remote=udp://10.0.2.2:5514 --level 9 -o "$W/nodistro.img" >&2

# The busybox root: the same modules tree (taken from the nodistro image),
# the same app, busybox-static, the rc script and inittab.
busybox_root
(cd "$W/bb" && mkdir -p sbin usr/bin usr/sbin run tmp app)
cp "$REL/demo-app" "$W/bb/app/"
B=bench/appliance-busybox
install -m 755 $B/rc "$W/bb/etc/rc"
install -m 755 $B/udhcpc.script "$W/bb/etc/udhcpc.script"
install -m 644 $B/inittab "$W/bb/etc/inittab"
pack "$W/bb" | gzip -9 -n > "$W/busybox.img"

# Sizes without the kernel modules both carry, packed the same way (cpio newc
# + gzip -9) so the packer's own choices do not count.
size_row() { # label dir
    local raw gz
    raw=$(cd "$2" && find . -path ./lib/modules -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
    gz=$(pack "$2" -path ./lib/modules -prune -o -print | gzip -9 -n | wc -c)
    echo "$raw $gz"
}
read -r nd_raw nd_gz < <(size_row nodistro "$W/nd")
read -r bb_raw bb_gz < <(size_row busybox "$W/bb")
echo "kernel $KVER, qemu $(qemu_version), TCG, virtio-net, $RUNS runs each"
echo
printf '%-44s %12s %12s %7s\n' "image without kernel modules" nodistro busybox ratio
row() { printf '%-44s %12s %12s %7s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN {printf "%.2f", a / b}')"; }
row "uncompressed, bytes" "$nd_raw" "$bb_raw"
row "cpio + gzip -9, bytes" "$nd_gz" "$bb_gz"
row "whole image as booted (with modules), bytes" "$(stat -c %s "$W/nodistro.img")" "$(stat -c %s "$W/busybox.img")"
echo
"$REL/appliance-bench" "$RUNS" "nodistro=$W/nodistro.img" "busybox=$W/busybox.img"
