#!/usr/bin/env bash
# Footprint of the runtime: nodistro-box (the default static musl box,
# static glibc, and libc-free when built) against each tool built alone, Debian's busybox-static and the
# seed experiment's Go init; what the runtime weighs inside a compressed
# initramfs; optionally each tool's bytes and the /init-to-app boot time.
#
# Usage: bench/footprint.sh [--per-tool] [--boot RUNS]
#   (after cargo build --release --workspace --bins, scripts/build-box.sh
#    for the default box's rows, scripts/build-box.sh --libc-free for the
#    libc-free rows and scripts/build-box.sh --arch aarch64 for the aarch64
#    ones)
#   --per-tool   also build the box with every tool, without each tool,
#                with init only and with init and netcfg, in the three
#                linkings (separate target dirs; 21 fat-LTO builds, most
#                of an hour)
#   --boot RUNS  also boot the demo image with each box RUNS times and
#                compare /init to app start (tests' appliance-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
PER_TOOL=0; BOOT=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --per-tool) PER_TOOL=1 ;;
    --boot) shift; BOOT=${1:?--boot needs a number of runs} ;;
    *) echo "usage: bench/footprint.sh [--per-tool] [--boot RUNS]" >&2; exit 2 ;;
  esac
  shift
done
REL=target/x86_64-unknown-linux-gnu/release
LF=target/libc-free/x86_64-unknown-linux-gnu/release
MUSL=target/x86_64-unknown-linux-musl/release
BUSYBOX=${BUSYBOX:-/bin/busybox}
for b in nodistro-box init modload netcfg logfwd nodistro; do
  [[ -x $REL/$b ]] || { echo "$REL/$b missing: run cargo build --release --workspace --bins"; exit 1; }
done
[[ -x $BUSYBOX ]] || { echo "$BUSYBOX missing: apt-get install busybox-static"; exit 1; }
size() { stat -L -c %s "$1"; }
gz() { gzip -6 -c "$1" | wc -c; }
static() { file -L "$1" | grep -qE 'statically linked|static-pie' && echo static || echo DYNAMIC; }
OUT=$(mktemp -d /tmp/nodistro-bench-footprint.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "| binary | bytes | gzip -6 bytes | linking |"
echo "|---|---:|---:|---|"
total=0; total_gz=0
for t in $("$REL/nodistro-box" --list); do
  [[ -x $REL/$t ]] || continue
  s=$(size "$REL/$t"); g=$(gz "$REL/$t"); total=$((total + s)); total_gz=$((total_gz + g))
  echo "| \`$t\` built alone | $s | $g | $(static "$REL/$t") |"
done
echo "| the tools alone, total | $total | $total_gz | |"
echo "| **\`nodistro-box\` static glibc ($("$REL/nodistro-box" --list | paste -sd,))** | **$(size "$REL/nodistro-box")** | **$(gz "$REL/nodistro-box")** | $(static "$REL/nodistro-box") |"
if [[ -x $MUSL/nodistro-box ]]; then
  echo "| **\`nodistro-box\` static musl, the default ($("$MUSL/nodistro-box" --list | paste -sd,))** | **$(size "$MUSL/nodistro-box")** | **$(gz "$MUSL/nodistro-box")** | $(static "$MUSL/nodistro-box"), musl |"
else
  echo "| \`nodistro-box\` static musl, the default | not built: scripts/build-box.sh | | |"
fi
if [[ -x $LF/nodistro-box ]]; then
  echo "| **\`nodistro-box\` libc-free, eyra ($("$LF/nodistro-box" --list | paste -sd,))** | **$(size "$LF/nodistro-box")** | **$(gz "$LF/nodistro-box")** | $(static "$LF/nodistro-box"), no libc |"
else
  echo "| \`nodistro-box\` libc-free | not built: scripts/build-box.sh --libc-free | | |"
fi
echo "| Debian busybox-static \`$BUSYBOX\` (~300 applets) | $(size "$BUSYBOX") | $(gz "$BUSYBOX") | $(static "$BUSYBOX") |"
# aarch64 (issue 23), when scripts/build-box.sh --arch aarch64 has built
# its box: beside busybox-static:arm64 (apt-get download, no install).
ARM=target/cross/aarch64-unknown-linux-gnu/release
if [[ -f $ARM/nodistro-box ]]; then
  echo "| **\`nodistro-box\` aarch64, static glibc ($(paste -sd, "$ARM/nodistro-box.features"))** | **$(size "$ARM/nodistro-box")** | **$(gz "$ARM/nodistro-box")** | $(static "$ARM/nodistro-box") |"
  if (cd "$OUT" && apt-get download -q busybox-static:arm64 >/dev/null 2>&1); then
    dpkg-deb -x "$OUT"/busybox-static_*_arm64.deb "$OUT/bb-arm64"
    echo "| Debian busybox-static:arm64 | $(size "$OUT/bb-arm64/bin/busybox") | $(gz "$OUT/bb-arm64/bin/busybox") | $(static "$OUT/bb-arm64/bin/busybox") |"
  else
    echo "| Debian busybox-static:arm64 | apt-get download busybox-static:arm64 failed | | |"
  fi
else
  echo "| \`nodistro-box\` aarch64 | not built: scripts/build-box.sh --arch aarch64 | | |"
fi
echo "| seed experiment's Go init (quoted) | 6,700,000 | | static |"
echo
# The runtime's share of a real image: an image with an empty static app
# and no modules is the runtime plus a few directory entries.
APP=$REL/marker-init; [[ -x $APP ]] || APP=$REL/demo-app
app_gz=$(gz "$APP")
share() { # tools-dir label
  "$REL/nodistro" build --app "$APP" --drivers none --tools-dir "$1" -o "$OUT/img.gz" 2>/dev/null
  local img; img=$(size "$OUT/img.gz")
  echo "Image with $(basename "$APP") and no modules, $2 box: $img bytes gzip; the app alone compresses to $app_gz bytes,"
  echo "so the runtime's share of the compressed initramfs is about $((img - app_gz)) bytes (budget: 1,000,000)."
}
share "$REL" "static glibc"
[[ -x $MUSL/nodistro-box ]] && share "$MUSL" "static musl (default)"
[[ -x $LF/nodistro-box ]] && share "$LF" "libc-free"

if [[ $PER_TOOL == 1 ]]; then
  # Each tool's bytes: the box with every tool minus the box built without
  # it, in both linkings (the libc-free one as scripts/build-box.sh
  # --libc-free builds it: std rebuilt for size when rustc-web is there).
  echo
  echo "| box built with | static glibc bytes | libc-free bytes | static musl bytes |"
  echo "|---|---:|---:|---:|"
  build_glibc() { cargo build -q --release -p nodistro-box --no-default-features --features "$1" \
      --target-dir target/footprint-bench >&2 && size target/footprint-bench/x86_64-unknown-linux-gnu/release/nodistro-box; }
  build_lf() { size "$(BOX_TARGET_DIR=target/footprint-bench-lf bash scripts/build-box.sh --libc-free --tools "$1")/nodistro-box"; }
  build_musl() { size "$(BOX_TARGET_DIR=target/footprint-bench-musl bash scripts/build-box.sh --tools "$1")/nodistro-box"; }
  all=init,modload,netcfg,logfwd,console
  full_g=$(build_glibc "$all"); full_l=$(build_lf "$all"); full_m=$(build_musl "$all")
  echo "| every tool ($all) | $full_g | $full_l | $full_m |"
  for t in ${all//,/ }; do
    rest=$(echo "$all" | tr ',' '\n' | grep -vx "$t" | paste -sd,)
    g=$(build_glibc "$rest"); l=$(build_lf "$rest"); m=$(build_musl "$rest")
    echo "| without $t: $t costs $((full_g - g)) / $((full_l - l)) / $((full_m - m)) | $g | $l | $m |"
  done
  for only in init init,netcfg; do
    echo "| $only only | $(build_glibc $only) | $(build_lf $only) | $(build_musl $only) |"
  done
fi

if [[ $BOOT -gt 0 ]]; then
  [[ -x $MUSL/nodistro-box ]] || { echo "--boot needs the default box: scripts/build-box.sh"; exit 1; }
  echo
  mods=(--module virtio_pci --module virtio_net --module e1000 --module button --module evdev)
  boxes=(musl:$MUSL glibc:$REL)
  [[ -x $LF/nodistro-box ]] && boxes+=(libc-free:$LF)
  for k in "${boxes[@]}"; do
    "$REL/nodistro" build --app "$REL/demo-app" --tools-dir "${k#*:}" "${mods[@]}" \
      -o "$OUT/${k%%:*}.img" >&2
  done
  # The default box against each other one (appliance-bench compares two).
  for k in "${boxes[@]:1}"; do
    "$REL/appliance-bench" "$BOOT" "musl=$OUT/musl.img" "${k%%:*}=$OUT/${k%%:*}.img"
  done
fi
