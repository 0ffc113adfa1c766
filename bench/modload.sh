#!/bin/bash
# modload vs kmod on the same work, side by side in one run: resolving
# modalias lists against the Debian kernel's module tree as depmod left it
# (kmod's files only: modules.*.bin and the text files), dry runs: nothing
# is loaded; the tree is for another kernel than the host's.
#
#   bench/modload.sh [RUNS]        (default 50 runs of each)
#
# Columns: modload on the tree (it reads depmod's .bin files, as kmod does),
# modload on a copy holding the text files only (its fallback), and
# `modprobe --show-depends -a -b`. Before timing, the module lists and their
# order are checked equal to modprobe's.
#
# OLD_MODLOAD=PATH adds a column for a modload built before the .bin reader
# (commit 9741eb8, which read its private modules.nodistro index; the
# script writes that index with `PATH index` into a copy).
#
# Needs: linux-image-amd64 (the tree), kmod (modprobe), findutils, coreutils.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-50}
VER=$(ls /lib/modules | grep -E '^6\.1\.0-[0-9]+-amd64$' | sort -t- -k2 -n | tail -1)
[ -n "$VER" ] || { echo "no /lib/modules/6.1.0-*-amd64: install linux-image-amd64" >&2; exit 1; }
[ -f "/lib/modules/$VER/modules.alias.bin" ] || { echo "no modules.alias.bin in /lib/modules/$VER: run depmod $VER" >&2; exit 1; }
command -v modprobe >/dev/null || { echo "modprobe missing: install kmod" >&2; exit 1; }
cargo build --release -q -p nodistro-modload
ML=target/x86_64-unknown-linux-gnu/release/modload
T=$(mktemp -d /tmp/modload-bench-$$-XXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/empty"; : > "$T/nodistro.conf"
# The tree itself under a root of its own: modload reads <root>/etc/modprobe.d
# and <root>/lib/modprobe.d, and modprobe gets an empty -C: the same (no)
# configuration for both.
mkdir -p "$T/bin/lib/modules"
ln -s "/lib/modules/$VER" "$T/bin/lib/modules/$VER"
# The same tree with the text files only.
mkdir -p "$T/text/lib/modules/$VER"
for f in modules.dep modules.alias modules.symbols modules.softdep modules.builtin modules.builtin.modinfo; do
  cp "/lib/modules/$VER/$f" "$T/text/lib/modules/$VER/"
done
if [ -n "${OLD_MODLOAD:-}" ]; then
  mkdir -p "$T/old/lib/modules/$VER"
  cp "$T/text/lib/modules/$VER/"* "$T/old/lib/modules/$VER/"
  "$OLD_MODLOAD" --root "$T/old" --kernel-version "$VER" index
fi

# This machine's aliases, found the way coldplug finds them.
for d in /sys/bus/*/devices/*; do
  if [ -f "$d/modalias" ]; then cat "$d/modalias"
  else sed -n 's/^MODALIAS=//p' "$d/uevent" 2>/dev/null || true; fi
done | sort -u > "$T/host.txt"
# A QEMU pc machine with a virtio NIC, an e1000 and the PIIX IDE controller
# (ata_piix and ata_generic both match it: order matters).
cat > "$T/qemu.txt" <<'EOF'
pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00
pci:v00008086d00007000sv00001AF4sd00001100bc06sc01i00
pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80
pci:v00008086d00007113sv00001AF4sd00001100bc06sc80i00
pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00
pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00
pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00
virtio:d00000001v00001AF4
acpi:PNP0303:
acpi:PNP0501:
platform:i8042
serio:ty01pr00id00ex00
EOF
# A bigger machine: 400 concrete aliases instantiated from modules.alias
# patterns (every 65th line: pci, usb, acpi, of, hid, ...).
awk 'NR % 65 == 0 && $1 == "alias" {print $2}' "/lib/modules/$VER/modules.alias" \
  | sed 's/\*//g; s/?/0/g' | grep -v '\[' | sort -u > "$T/big.txt"

# time_it CMD...: "WALL CPU", mean ms per run over $RUNS runs (CPU: user +
# system; it is what a busy machine disturbs least).
time_it() {
  local out
  out=$( { TIMEFORMAT='%R %U %S'; time ( for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1 || true; done ); } 2>&1 )
  awk -v n="$RUNS" '{ printf "%.2f %.2f", $1 * 1000 / n, ($2 + $3) * 1000 / n }' <<< "$out"
}
MLARGS=(--kernel-version "$VER" --config "$T/nodistro.conf" --cmdline /dev/null --dry-run)
# modprobe exits 1 when an alias matches nothing; its output is complete.
modprobe_list() { modprobe -C "$T/empty" -S "$VER" --show-depends -a -b $(cat "$1") || true; }
pipeline() {
  sh -c "find /sys -name modalias -type f -print0 | xargs -0 sort -u | xargs modprobe -C $T/empty -S $VER -n -b -a"
}
# Load order as paths under /lib/modules, each once.
ordered() { sed "s|^$1||; s/^insmod //; s/ *$//" | awk '!seen[$0]++'; }

# Same answers first: the modules and their order.
for list in host qemu big; do
  b=$(modprobe_list "$T/$list.txt" 2>/dev/null | ordered "")
  a=$("$ML" --root "$T/bin" "${MLARGS[@]}" --modaliases "$T/$list.txt" 2>/dev/null | ordered "$T/bin")
  t=$("$ML" --root "$T/text" "${MLARGS[@]}" --modaliases "$T/$list.txt" 2>/dev/null | ordered "$T/text")
  [ "$a" = "$b" ] && [ "$t" = "$b" ] || { echo "MISMATCH on $list list" >&2; diff <(echo "$a") <(echo "$b") >&2; diff <(echo "$t") <(echo "$b") >&2; exit 1; }
done
echo "same modules in the same order as modprobe on every list"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# show NAME "WALL CPU": one column.
show() { set -- "$1" $2; printf '%s %6.2f ms (CPU %5.2f)' "$1" "$2" "$3"; }
echo "modload vs kmod $(modprobe --version | head -1), tree $VER, $RUNS runs each, mean ms per run: wall (CPU user+sys)"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for list in host qemu big; do
  n=$(wc -l < "$T/$list.txt")
  m=$(time_it "$ML" --root "$T/bin" "${MLARGS[@]}" --modaliases "$T/$list.txt")
  x=$(time_it "$ML" --root "$T/text" "${MLARGS[@]}" --modaliases "$T/$list.txt")
  k=$(time_it modprobe_list "$T/$list.txt")
  old=""
  if [ -n "${OLD_MODLOAD:-}" ]; then
    old=", $(show "old modload + modules.nodistro" "$(time_it "$OLD_MODLOAD" --root "$T/old" "${MLARGS[@]}" --modaliases "$T/$list.txt")")"
  fi
  set -- $m; mw=$1 mc=$2; set -- $k; kw=$1 kc=$2
  printf '%-5s list (%3d aliases): %s, %s%s | %s | kmod/modload .bin: wall %sx, CPU %sx\n' \
    "$list" "$n" "$(show "modload .bin" "$m")" "$(show "text only" "$x")" "$old" \
    "$(show "modprobe --show-depends -a -b" "$k")" "$(ratio "$kw" "$mw")" "$(ratio "$kc" "$mc")"
done
s=$(time_it "$ML" --root "$T/bin" "${MLARGS[@]}")
x=$(time_it "$ML" --root "$T/text" "${MLARGS[@]}")
p=$(time_it pipeline)
set -- $s; sw=$1; set -- $p; pw=$1
printf 'whole machine from /sys: %s, %s | %s | pipeline/modload .bin wall %sx\n' \
  "$(show "modload --dry-run .bin" "$s")" "$(show "text only" "$x")" \
  "$(show "find /sys | xargs sort -u | xargs modprobe -n -b -a" "$p")" "$(ratio "$pw" "$sw")"
