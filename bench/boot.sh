#!/usr/bin/env bash
# The boot's stages before and after overlapping them (issue 16): the demo
# image (its modules plus virtio_mmio for microvm) booted on QEMU's pc and
# microvm machines, alternating init.sequential=on (before) and the
# overlapped start (after), RUNS times each; figures from init's timeline
# on the console (see tests/src/bin/boot-bench.rs for how the floor, the
# kernel's driver init plus one DHCP exchange, is taken from it).
#
# Usage: bench/boot.sh [RUNS]   (default 10)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-10}
qemu_bench_setup nodistro-boot-bench
mods=(--module virtio_pci --module virtio_net --module e1000 --module button --module evdev --module virtio_mmio)
"$REL/nodistro" build --app "$REL/demo-app" --kernel-version "$KVER" "${mods[@]}" -o "$W/demo.img" >&2
echo "kernel $KVER, qemu $(qemu_version), TCG, virtio-net, $RUNS runs per cell"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$REL/boot-bench" "$RUNS" "$W/demo.img"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
