#!/usr/bin/env bash
# Packing the whole Debian module tree: `nodistro build --modules all`
# against `find . | cpio -o -H newc | gzip` (same level) and the same with
# zstd, side by side in one run, page cache warm for every contender.
# Usage: bench/pack.sh [KERNEL_VERSION]   (default: newest under /lib/modules)
# Needs: cargo build --release --workspace --bins; cpio, gzip, zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
REL=target/x86_64-unknown-linux-gnu/release
KVER=${1:-$(ls /lib/modules | sort -V | tail -1)}
TREE=/lib/modules/$KVER
for p in cpio gzip zstd; do command -v $p >/dev/null || { echo "install $p"; exit 1; }; done
[[ -x $REL/nodistro && -x $REL/nodistro-box ]] || { echo "run: cargo build --release --workspace --bins"; exit 1; }
# The smallest static app we have (the bench measures the modules).
APP=$REL/marker-init; [[ -x $APP ]] || APP=$REL/demo-app
OUT=$(mktemp -d /tmp/nodistro-bench-pack.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
find "$TREE" -type f -exec cat {} + >/dev/null   # warm the page cache

now() { date +%s%N; }
declare -A T S
run() { # name, output file, shell command
  local name=$1 out=$2 cmd=$3
  local t0; t0=$(now)
  bash -c "$cmd" 2>/dev/null
  T[$name]=$(( ($(now) - t0) / 1000000 ))
  S[$name]=$(stat -c %s "$out")
}
nd() { "$REL/nodistro" build --app "$APP" --tools-dir "$REL" --modules all --kernel-version "$KVER" "$@"; }
pipe() { (cd "$TREE" && find . | cpio -o -H newc --quiet | "$@"); }
export -f nd pipe
export REL APP KVER TREE

run nodistro-gzip6  "$OUT/n6.gz"   "nd -o $OUT/n6.gz --compression gzip --level 6"
run cpio-gzip6      "$OUT/c6.gz"   "pipe gzip -6 > $OUT/c6.gz"
run nodistro-gzip7  "$OUT/n7.gz"   "nd -o $OUT/n7.gz --compression gzip --level 7"
run nodistro-none   "$OUT/n.cpio"  "nd -o $OUT/n.cpio --compression none"
run samebytes-gzip6 "$OUT/s6.gz"   "gzip -6 < $OUT/n.cpio > $OUT/s6.gz"
run nodistro-zstd3  "$OUT/n3.zst"  "nd -o $OUT/n3.zst --compression zstd --level 3"
run cpio-zstd3      "$OUT/c3.zst"  "pipe zstd -q -3 > $OUT/c3.zst"
run cpio-zstd3-T0   "$OUT/c3t.zst" "pipe zstd -q -3 -T0 > $OUT/c3t.zst"

echo "Packing $TREE ($(find "$TREE" -name '*.ko*' | wc -l) modules, $(du -sm "$TREE" | cut -f1) MB) on $(nproc) cores, $(date -u +%F)"
printf '%-34s %9s %13s\n' contender "time ms" "bytes"
for k in nodistro-gzip6 cpio-gzip6 nodistro-gzip7 samebytes-gzip6 nodistro-zstd3 cpio-zstd3 cpio-zstd3-T0 nodistro-none; do
  printf '%-34s %9d %13d\n' "$k" "${T[$k]}" "${S[$k]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "gzip -6: cpio|gzip time / nodistro time = $(ratio "${T[cpio-gzip6]}" "${T[nodistro-gzip6]}")x, nodistro size / cpio|gzip size = $(ratio "${S[nodistro-gzip6]}" "${S[cpio-gzip6]}")"
echo "nodistro -7 vs cpio|gzip -6: time $(ratio "${T[cpio-gzip6]}" "${T[nodistro-gzip7]}")x faster, size $(ratio "${S[nodistro-gzip7]}" "${S[cpio-gzip6]}")"
echo "same bytes (nodistro's cpio): gzip -6 $(ratio "${T[samebytes-gzip6]}" "${T[nodistro-gzip6]}")x slower, nodistro -6 size / gzip -6 size = $(ratio "${S[nodistro-gzip6]}" "${S[samebytes-gzip6]}")"
echo "zstd -3: cpio|zstd time / nodistro time = $(ratio "${T[cpio-zstd3]}" "${T[nodistro-zstd3]}")x (with -T0: $(ratio "${T[cpio-zstd3-T0]}" "${T[nodistro-zstd3]}")x), size ratio $(ratio "${S[nodistro-zstd3]}" "${S[cpio-zstd3]}")"
