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
cd "$(dirname "$0")/.."
RUNS=${1:-10}
cargo build --release --workspace --bins >&2
REL=target/x86_64-unknown-linux-gnu/release
W=$(mktemp -d /tmp/nodistro-boot-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
KVER=$(ls /boot/vmlinuz-* | sed 's|/boot/vmlinuz-||' | sort -V | tail -1)
mods=(--module virtio_pci --module virtio_net --module e1000 --module button --module evdev --module virtio_mmio)
"$REL/nodistro" build --app "$REL/demo-app" --kernel-version "$KVER" "${mods[@]}" -o "$W/demo.img" >&2
echo "kernel $KVER, qemu $(qemu-system-x86_64 --version | head -1 | awk '{print $4}'), TCG, virtio-net, $RUNS runs per cell"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$REL/boot-bench" "$RUNS" "$W/demo.img"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
