#!/usr/bin/env bash
# Boot images (issue 11): the size of each output format for the demo app,
# and QEMU start to the app's first HTTP answer for each format beside the
# -kernel/-initrd boot: same kernel, same app, same modules, the formats
# booted in turn, RUNS rounds.
#
# Usage: bench/images.sh [RUNS]   (default 3)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
qemu_bench_setup nodistro-images-bench
export SOURCE_DATE_EPOCH=1700000000
K=/boot/vmlinuz-$KVER
mods=(--module virtio_pci --module virtio_net --module e1000 --module button --module evdev)
ms() { echo $(( $(date +%s%N) / 1000000 )); }
# build NAME ARGS...: build the demo app, print how long it took.
build() {
  local name=$1 t0 t1
  shift
  t0=$(ms)
  "$REL/nodistro" build --app "$REL/demo-app" --kernel "$K" "${mods[@]}" "$@" 2>"$W/build.log" ||
    { cat "$W/build.log" >&2; exit 1; }
  t1=$(ms)
  echo "build $name: $((t1 - t0)) ms" >&2
}
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kernel: $K"
build initramfs -o "$W/initrd.img"
build uki --format uki -o "$W/app.efi"
# Secure Boot (issue 24): the same UKI signed with OVMF's snakeoil key.
openssl pkey -in /usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out "$W/db.key"
build "signed uki" --format uki -o "$W/signed.efi" --sign-key "$W/db.key" \
  --sign-cert /usr/share/ovmf/PkKek-1-snakeoil.pem
build disk --format disk -o "$W/app.img"
build iso --format iso -o "$W/app.iso"
# xorriso alone on a tree of the same files and sizes as the ISO build stages.
mkdir -p "$W/stage/isolinux" "$W/stage/boot" "$W/stage/EFI"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$W/stage/isolinux/"
echo "DEFAULT x" >"$W/stage/isolinux/isolinux.cfg"
cp "$K" "$W/stage/boot/vmlinuz"
gzip -dc "$W/initrd.img" | gzip -6 >"$W/stage/boot/initrd.img"
cp "$W/app.efi" "$W/stage/EFI/efiboot.img"
t0=$(ms)
xorriso -as mkisofs -quiet -o "$W/x.iso" -V NODISTRO -R -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
  -c isolinux/boot.cat -b isolinux/isolinux.bin -no-emul-boot -boot-load-size 4 -boot-info-table \
  -eltorito-alt-boot -e EFI/efiboot.img -no-emul-boot -isohybrid-gpt-basdat "$W/stage" 2>/dev/null
echo "xorriso alone on the staged tree: $(($(ms) - t0)) ms"

echo
echo "| output | file bytes | allocated bytes |"
echo "|---|---:|---:|"
for f in initrd.img app.efi signed.efi app.img app.iso; do
  echo "| $f | $(stat -c %s "$W/$f") | $(( $(stat -c %b "$W/$f") * 512 )) |"
done
echo "| kernel $(basename "$K") (beside the initramfs) | $(stat -c %s "$K") | |"

# boot NAME ARGS...: QEMU start to the first answer, in ms.
boot() {
  local name=$1 port pid t0 t1
  shift
  port=$((20000 + RANDOM % 20000))
  t0=$(ms)
  "$REL/nodistro" run "$@" --forward "$port:8080" --timeout 300 >"$W/console.log" 2>&1 &
  pid=$!
  until curl -s -m 1 "http://127.0.0.1:$port/" 2>/dev/null | grep -q "Hello from nodistro"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name: no answer; console tail:" >&2
      tail -20 "$W/console.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  t1=$(ms)
  for c in $(ps -o pid= --ppid "$pid"); do kill "$c"; done
  wait "$pid" || true
  echo "$name $((t1 - t0))" >>"$W/times"
  echo "  $name: $((t1 - t0)) ms" >&2
}
for r in $(seq 1 "$RUNS"); do
  echo "round $r" >&2
  boot "initramfs, -kernel vmlinux (nodistro run's default)" --initrd "$W/initrd.img" --kernel "$K"
  boot "initramfs, -kernel vmlinuz (compressed, as in the images)" --initrd "$W/initrd.img" --kernel "$K" --raw-kernel
  boot "UKI on OVMF (q35)" --image "$W/app.efi"
  boot "signed UKI on OVMF with Secure Boot (q35, SMM)" --image "$W/signed.efi" --secure-boot
  boot "disk on OVMF (q35)" --image "$W/app.img"
  boot "ISO on SeaBIOS (pc)" --image "$W/app.iso"
  boot "ISO on OVMF (q35)" --image "$W/app.iso" --firmware uefi
done
echo
echo "QEMU start to first HTTP answer, ms, $RUNS runs each (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| boot | median | min | max |"
echo "|---|---:|---:|---:|"
awk '{t=$NF; $NF=""; sub(/ $/, ""); v[$0]=v[$0] " " t; if (!($0 in seen)) {seen[$0]=1; order[++n]=$0}}
  END {for (i=1; i<=n; i++) {k=order[i]; m=split(substr(v[k],2), a, " ");
    for (x=1; x<=m; x++) for (y=x+1; y<=m; y++) if (a[y]+0 < a[x]+0) {t=a[x]; a[x]=a[y]; a[y]=t}
    printf "| %s | %d | %d | %d |\n", k, a[int((m+1)/2)], a[1], a[m]}}' "$W/times"
