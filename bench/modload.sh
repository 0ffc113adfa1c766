#!/bin/bash
# modload vs kmod on the same work, side by side in one run: resolving a
# machine's modalias list against the Debian kernel's module tree (dry runs:
# nothing is loaded; the tree is for another kernel than the host's).
#
#   bench/modload.sh [RUNS]        (default 50 runs of each)
#
# Needs: linux-image-amd64 (the tree), kmod (modprobe), findutils, coreutils.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-50}
VER=$(ls /lib/modules | grep -E '^6\.1\.0-[0-9]+-amd64$' | sort -t- -k2 -n | tail -1)
[ -n "$VER" ] || { echo "no /lib/modules/6.1.0-*-amd64: install linux-image-amd64" >&2; exit 1; }
command -v modprobe >/dev/null || { echo "modprobe missing: install kmod" >&2; exit 1; }
cargo build --release -q -p nodistro-modload
ML=target/x86_64-unknown-linux-gnu/release/modload
T=$(mktemp -d /tmp/modload-bench-$$-XXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/empty"; : > "$T/nodistro.conf"
# The same tree with modload's precompiled index (what `nodistro build`
# writes into images; kmod likewise reads depmod's .bin files).
mkdir -p "$T/root/lib/modules/$VER"
for f in modules.dep modules.alias modules.softdep modules.builtin modules.builtin.modinfo; do
  cp "/lib/modules/$VER/$f" "$T/root/lib/modules/$VER/"
done
"$ML" --root "$T/root" --kernel-version "$VER" index

# This machine's aliases, found the way coldplug finds them.
for d in /sys/bus/*/devices/*; do
  if [ -f "$d/modalias" ]; then cat "$d/modalias"
  else sed -n 's/^MODALIAS=//p' "$d/uevent" 2>/dev/null || true; fi
done | sort -u > "$T/host.txt"
# A bigger machine: 400 concrete aliases instantiated from modules.alias
# patterns (every 65th line: pci, usb, acpi, of, hid, ...).
awk 'NR % 65 == 0 && $1 == "alias" {print $2}' "/lib/modules/$VER/modules.alias" \
  | sed 's/\*//g; s/?/0/g' | grep -v '\[' | sort -u > "$T/big.txt"

now() { date +%s%N; }
# time_it NAME CMD...: mean ms per run over $RUNS runs.
time_it() {
  local t0 t1
  t0=$(now)
  for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1 || true; done
  t1=$(now)
  awk -v a="$t0" -v b="$t1" -v n="$RUNS" 'BEGIN { printf "%.2f", (b - a) / 1e6 / n }'
}
MLARGS=(--kernel-version "$VER" --config "$T/nodistro.conf" --cmdline /dev/null --dry-run)
# modprobe exits 1 when an alias matches nothing; its output is complete.
modprobe_list() { modprobe -C "$T/empty" -S "$VER" --show-depends -a -b $(cat "$1") || true; }
pipeline() {
  sh -c "find /sys -name modalias -type f -print0 | xargs -0 sort -u | xargs modprobe -C $T/empty -S $VER -n -b -a"
}

# Same answers first (module sets).
for list in host big; do
  a=$("$ML" "${MLARGS[@]}" --modaliases "$T/$list.txt" 2>/dev/null | sort -u)
  i=$("$ML" --root "$T/root" "${MLARGS[@]}" --modaliases "$T/$list.txt" 2>/dev/null | sed "s|^$T/root||" | sort -u)
  b=$(modprobe_list "$T/$list.txt" 2>/dev/null | sed 's/^insmod //; s/ *$//' | sort -u)
  [ "$a" = "$b" ] && [ "$i" = "$b" ] || { echo "MISMATCH on $list list" >&2; diff <(echo "$a") <(echo "$b") >&2; diff <(echo "$i") <(echo "$b") >&2; exit 1; }
done

echo "modload vs kmod $(modprobe --version | head -1), tree $VER, $RUNS runs each, mean wall ms per run"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for list in host big; do
  n=$(wc -l < "$T/$list.txt")
  m=$(time_it "$ML" "${MLARGS[@]}" --modaliases "$T/$list.txt")
  x=$(time_it "$ML" --root "$T/root" "${MLARGS[@]}" --modaliases "$T/$list.txt")
  k=$(time_it modprobe_list "$T/$list.txt")
  printf '%-5s list (%3d aliases): modload text %6.2f ms, indexed %6.2f ms | modprobe --show-depends -a -b %6.2f ms | kmod/modload text %.2fx, indexed %.2fx\n' \
    "$list" "$n" "$m" "$x" "$k" "$(awk -v a="$k" -v b="$m" 'BEGIN { print a / b }')" "$(awk -v a="$k" -v b="$x" 'BEGIN { print a / b }')"
done
s=$(time_it "$ML" "${MLARGS[@]}")
x=$(time_it "$ML" --root "$T/root" "${MLARGS[@]}")
p=$(time_it pipeline)
printf 'whole machine from /sys: modload --dry-run text %6.2f ms, indexed %6.2f ms | find /sys | xargs sort -u | xargs modprobe -n -b -a %6.2f ms | pipeline/modload text %.2fx, indexed %.2fx\n' \
  "$s" "$x" "$p" "$(awk -v a="$p" -v b="$s" 'BEGIN { print a / b }')" "$(awk -v a="$p" -v b="$x" 'BEGIN { print a / b }')"
