#!/usr/bin/env bash
# Build nodistro-box, the one runtime binary an image ships.
#
#   scripts/build-box.sh [--libc-free] [--tools init,netcfg,...]
#
# (no switch)  static glibc, the tools of multicall's default features: what
#              `cargo build --release` gives.
# --libc-free  the one switch for the smallest box: no C library at all
#              (eyra: origin + c-scape, a libc written in Rust on rustix,
#              from the libc-free/ workspace), holding every tool (console
#              too) unless --tools says otherwise. With Debian's rustc-web
#              and rust-web-src (scripts/setup.sh installs them) std is
#              rebuilt for size with the box (-Zbuild-std, panic =
#              immediate-abort, no unwind tables: 0.72 MB with every
#              tool); without them the stable toolchain links eyra against
#              the prebuilt std (1.26 MB) and says so. Both need
#              RUSTC_BOOTSTRAP=1 (c-scape's printf, -Z flags), set here.
#              BENCHMARKS.md, "Decisions".
# --tools LIST the tools the box holds (Cargo features). An unknown name
#              is refused by cargo; a box without init cannot be an image's
#              /init and `nodistro build` refuses it.
#
# Prints the directory holding the box; pass it to
# `nodistro build --tools-dir DIR` (or set NODISTRO_TOOLS_DIR=DIR, which the
# tests honour too). The directory also holds the links init, modload, ...
# -> nodistro-box, so each tool can be run by name, and (libc-free)
# nodistro-box.features, the features it was built with.
set -euo pipefail
cd "$(dirname "$0")/.."
libc_free=0
tools=
while [[ $# -gt 0 ]]; do
  case $1 in
    --libc-free) libc_free=1 ;;
    --tools) shift; tools=${1:?--tools needs a list} ;;
    *) echo "build-box.sh: unknown argument $1 (use --libc-free, --tools LIST)" >&2; exit 2 ;;
  esac
  shift
done
if [[ $libc_free == 1 ]]; then
  tools=${tools:-init,modload,netcfg,logfwd,console}
  # BOX_TARGET_DIR: another cargo target dir (bench/footprint.sh's builds).
  tdir=${BOX_TARGET_DIR:-target/libc-free}
  out=$tdir/x86_64-unknown-linux-gnu/release
  [[ $tdir == /* ]] || tdir=$PWD/$tdir
  # std rebuilt for size needs std's source of the compiler's exact version:
  # Debian's rustc-web ships it (rust-web-src); rustup's toolchains here
  # have no rust-src.
  rustc=${NODISTRO_BUILD_STD_RUSTC:-/usr/bin/rustc}
  cargo=$(dirname "$rustc")/cargo
  if [[ -x $rustc && -x $cargo && -d $("$rustc" --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/std ]]; then
    # immediate-abort: a panic is one abort instruction, so std's panic
    # printing, backtrace symbolizer and most formatting go; nothing
    # unwinds, so no unwind tables (.eh_frame, 145 KB). The target
    # rustflags of .cargo/config.toml (static, non-PIE) are kept: --config
    # appends to them.
    (cd libc-free && RUSTC_BOOTSTRAP=1 RUSTC="$rustc" RUSTDOC="$(dirname "$rustc")/rustdoc" \
      CARGO_TARGET_DIR="$tdir" "$cargo" build --release \
      --no-default-features --features "$tools" -Zbuild-std=std,panic_abort \
      --config 'target.x86_64-unknown-linux-gnu.rustflags=["-Zunstable-options", "-Cpanic=immediate-abort", "-Cforce-unwind-tables=no"]' >&2)
  else
    echo "build-box.sh: $rustc with std's source not found (apt-get install rustc-web cargo-web rust-web-src): linking the prebuilt std, a bigger box" >&2
    (cd libc-free && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$tdir" \
      cargo build --release --no-default-features --features "$tools" >&2)
  fi
  for t in $("$out/nodistro-box" --list); do ln -sfn nodistro-box "$out/$t"; done
  echo "$tools" >"$out/nodistro-box.features"
else
  out=target/x86_64-unknown-linux-gnu/release
  if [[ -n $tools ]]; then
    cargo build --release -p nodistro-box --no-default-features --features "$tools" >&2
  else
    cargo build --release -p nodistro-box >&2
  fi
fi
echo "$out"
