#!/usr/bin/env bash
# Footprint of the runtime: the multicall nodistro-box against each tool
# built alone, Debian's busybox-static and the seed experiment's Go init;
# and what the runtime weighs inside a compressed initramfs.
# Usage: bench/footprint.sh   (after cargo build --release --workspace --bins)
set -euo pipefail
cd "$(dirname "$0")/.."
REL=target/x86_64-unknown-linux-gnu/release
BUSYBOX=${BUSYBOX:-/bin/busybox}
for b in nodistro-box init modload netcfg logfwd nodistro; do
  [[ -x $REL/$b ]] || { echo "$REL/$b missing: run cargo build --release --workspace --bins"; exit 1; }
done
[[ -x $BUSYBOX ]] || { echo "$BUSYBOX missing: apt-get install busybox-static"; exit 1; }
size() { stat -c %s "$1"; }
gz() { gzip -6 -c "$1" | wc -c; }
static() { file -L "$1" | grep -qE 'statically linked|static-pie' && echo static || echo DYNAMIC; }
OUT=$(mktemp -d /tmp/nodistro-bench-footprint.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

echo "| binary | bytes | gzip -6 bytes | linking |"
echo "|---|---:|---:|---|"
total=0; total_gz=0
for t in init modload netcfg logfwd; do
  s=$(size "$REL/$t"); g=$(gz "$REL/$t"); total=$((total + s)); total_gz=$((total_gz + g))
  echo "| \`$t\` built alone | $s | $g | $(static "$REL/$t") |"
done
echo "| the four alone, total | $total | $total_gz | |"
echo "| **\`nodistro-box\` (multicall: all four)** | **$(size "$REL/nodistro-box")** | **$(gz "$REL/nodistro-box")** | $(static "$REL/nodistro-box") |"
echo "| Debian busybox-static \`$BUSYBOX\` (~300 applets) | $(size "$BUSYBOX") | $(gz "$BUSYBOX") | $(static "$BUSYBOX") |"
echo "| seed experiment's Go init (quoted) | 6,700,000 | | static |"
echo
# The runtime's share of a real image: an image with an empty static app
# and no modules is the runtime plus a few directory entries.
APP=$REL/marker-init; [[ -x $APP ]] || APP=$REL/demo-app
"$REL/nodistro" build --app "$APP" --tools-dir "$REL" -o "$OUT/img.gz" 2>/dev/null
app_gz=$(gz "$APP")
img=$(size "$OUT/img.gz")
echo "Image with $(basename "$APP") and no modules: $img bytes gzip; the app alone compresses to $app_gz bytes,"
echo "so the runtime's share of the compressed initramfs is about $((img - app_gz)) bytes (budget: 1,000,000)."
