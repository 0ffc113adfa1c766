#!/usr/bin/env bash
# Build nodistro-box, the one runtime binary an image ships.
#
#   scripts/build-box.sh [--libc-free] [--tools init,netcfg,...]
#
# --libc-free  the one switch for the libc-free box: linked against eyra
#              (origin + c-scape, a libc written in Rust on rustix) from the
#              libc-free/ workspace instead of static glibc (needs
#              RUSTC_BOOTSTRAP=1 for c-scape's printf; set here).
# --tools LIST the tools the box holds (Cargo features; default: all). An
#              unknown name is refused by cargo; a box without init cannot
#              be an image's /init and `nodistro build` refuses it.
#
# Prints the directory holding the box; pass it to
# `nodistro build --tools-dir DIR` (or set NODISTRO_TOOLS_DIR=DIR, which the
# tests honour too). The directory also holds the links init, modload, ...
# -> nodistro-box, so each tool can be run by name.
set -euo pipefail
cd "$(dirname "$0")/.."
libc_free=0
features=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --libc-free) libc_free=1 ;;
    --tools) shift; features=(--no-default-features --features "${1:?--tools needs a list}") ;;
    *) echo "build-box.sh: unknown argument $1 (use --libc-free, --tools LIST)" >&2; exit 2 ;;
  esac
  shift
done
if [[ $libc_free == 1 ]]; then
  out=target/libc-free/x86_64-unknown-linux-gnu/release
  (cd libc-free && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=../target/libc-free \
    cargo build --release "${features[@]}" >&2)
else
  out=target/x86_64-unknown-linux-gnu/release
  cargo build --release -p nodistro-box "${features[@]}" >&2
fi
if [[ $libc_free == 1 ]]; then
  for t in $("$out/nodistro-box" --list); do ln -sfn nodistro-box "$out/$t"; done
fi
echo "$out"
