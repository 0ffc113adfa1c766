#!/usr/bin/env bash
# Image bytes per driver selection (issue 10): the same app packed with
# `nodistro build --drivers none|vm|all` (gzip -6, the default), beside
# Debian's own initramfs for the same kernel (initramfs-tools, MODULES=most).
# Usage: bench/drivers.sh [APP]   (after cargo build --release --workspace --bins;
#        APP defaults to the release demo-app)
set -euo pipefail
cd "$(dirname "$0")/.."
REL=target/x86_64-unknown-linux-gnu/release
APP=${1:-$REL/demo-app}
[[ -x $REL/nodistro && -x $APP ]] || { echo "run cargo build --release --workspace --bins"; exit 1; }
OUT=$(mktemp -d /tmp/nodistro-bench-drivers.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "| image | modules | entries | cpio bytes | gzip bytes | build s |"
echo "|---|---:|---:|---:|---:|---:|"
for d in none vm all; do
  line=$("$REL/nodistro" build --app "$APP" --drivers "$d" -o "$OUT/$d.cpio.gz" 2>&1 | grep wrote)
  # "wrote X (N entries, M modules, C bytes of cpio, G bytes written) in S s"
  read -r entries modules cpio gzb secs < <(echo "$line" |
    sed -E 's/.*\(([0-9]+) entries, ([0-9]+) modules, ([0-9]+) bytes of cpio, ([0-9]+) bytes written\) in ([0-9.]+) s/\1 \2 \3 \4 \5/')
  echo "| nodistro \`--drivers $d\` | $modules | $entries | $cpio | $gzb | $secs |"
done
for f in /boot/initrd.img-*; do
  [[ -f $f ]] && echo "| Debian $(basename "$f") (initramfs-tools, MODULES=most) | | | | $(stat -c %s "$f") | |"
done
