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
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A T S C
TIMEFORMAT='%R %U %S'
run() { # name, output file, shell command: wall ms, CPU ms (user+sys), bytes
  local name=$1 out=$2 cmd=$3 t
  t=$( { time bash -c "$cmd" 2>/dev/null; } 2>&1 | tail -1)
  read -r real user sys <<<"$t"
  T[$name]=$(awk -v r="$real" 'BEGIN { printf "%d", r * 1000 }')
  C[$name]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')
  S[$name]=$(stat -c %s "$out")
}
nd() { "$REL/nodistro" build --app "$APP" --tools-dir "$REL" --modules all --kernel-version "$KVER" "$@"; }
pipe() { (cd "$TREE" && find . | cpio -o -H newc --quiet | "$@"); }
export -f nd pipe
export REL APP KVER TREE

run nodistro-gzip6  "$OUT/n6.gz"   "nd -o $OUT/n6.gz --compression gzip --level 6"
run cpio-gzip6      "$OUT/c6.gz"   "pipe gzip -6 > $OUT/c6.gz"
run nodistro-none   "$OUT/n.cpio"  "nd -o $OUT/n.cpio --compression none"
run samebytes-gzip6 "$OUT/s6.gz"   "gzip -6 < $OUT/n.cpio > $OUT/s6.gz"
run nodistro-zstd3  "$OUT/n3.zst"  "nd -o $OUT/n3.zst --compression zstd --level 3"
run cpio-zstd3      "$OUT/c3.zst"  "pipe zstd -q -3 > $OUT/c3.zst"
run cpio-zstd3-T0   "$OUT/c3t.zst" "pipe zstd -q -3 -T0 > $OUT/c3t.zst"

echo "load average before: $LOAD"
echo "Packing $TREE ($(find "$TREE" -name '*.ko*' | wc -l) modules, $(du -sm "$TREE" | cut -f1) MB) on $(nproc) cores, $(date -u +%F)"
printf '%-18s %9s %9s %13s\n' contender "wall ms" "CPU ms" "bytes"
for k in nodistro-gzip6 cpio-gzip6 samebytes-gzip6 nodistro-zstd3 cpio-zstd3 cpio-zstd3-T0 nodistro-none; do
  printf '%-18s %9d %9d %13d\n' "$k" "${T[$k]}" "${C[$k]}" "${S[$k]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "gzip -6: nodistro is $(ratio "${T[cpio-gzip6]}" "${T[nodistro-gzip6]}")x faster (wall) than cpio|gzip, uses $(ratio "${C[nodistro-gzip6]}" "${C[cpio-gzip6]}")x its CPU time; size ratio $(ratio "${S[nodistro-gzip6]}" "${S[cpio-gzip6]}")"
echo "same bytes (nodistro's own cpio through gzip -6): $(ratio "${T[samebytes-gzip6]}" "${T[nodistro-gzip6]}")x faster, size ratio $(ratio "${S[nodistro-gzip6]}" "${S[samebytes-gzip6]}")"
echo "zstd -3: nodistro is $(ratio "${T[cpio-zstd3]}" "${T[nodistro-zstd3]}")x faster than cpio|zstd ($(ratio "${T[cpio-zstd3-T0]}" "${T[nodistro-zstd3]}")x than zstd -T0), size ratio $(ratio "${S[nodistro-zstd3]}" "${S[cpio-zstd3]}")"
