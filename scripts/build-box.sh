#!/usr/bin/env bash
# Build nodistro-box, the one runtime binary an image ships.
#
#   scripts/build-box.sh [--libc-free] [--tools init,netcfg,...] [--arch aarch64]
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
# --arch aarch64
#              an aarch64 static-glibc box, and the demo app beside it, with
#              Debian's rustc-web and its arm64 std (libstd-rust-web-dev:arm64),
#              linked by aarch64-linux-gnu-gcc against libc6-dev-arm64-cross
#              (scripts/setup.sh installs them; .cargo/config.toml has the
#              target's linker and flags). Its own target dir, target/cross.
#              x86_64 (the default) is this machine's own.
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
arch=x86_64
while [[ $# -gt 0 ]]; do
  case $1 in
    --libc-free) libc_free=1 ;;
    --tools) shift; tools=${1:?--tools needs a list} ;;
    --arch) shift; arch=${1:?--arch needs x86_64 or aarch64} ;;
    *) echo "build-box.sh: unknown argument $1 (use --libc-free, --tools LIST, --arch aarch64)" >&2; exit 2 ;;
  esac
  shift
done
case $arch in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "build-box.sh: unknown --arch $arch (use x86_64 or aarch64)" >&2; exit 2 ;;
esac
if [[ $arch == aarch64 ]]; then
  [[ $libc_free == 0 ]] || { echo "build-box.sh: --libc-free is x86_64 only for now" >&2; exit 2; }
  # One line naming what is missing and the package that brings it.
  rustc=${NODISTRO_CROSS_RUSTC:-/usr/bin/rustc}
  cargo=$(dirname "$rustc")/cargo
  need() { echo "build-box.sh: $1 not found: $2 (scripts/setup.sh installs it)" >&2; exit 1; }
  [[ -x $rustc && -x $cargo ]] || need "$rustc and $cargo" "apt-get install rustc-web cargo-web"
  [[ -d $("$rustc" --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu/lib ]] ||
    need "the aarch64 std of $rustc" "dpkg --add-architecture arm64; apt-get update; apt-get install libstd-rust-web-dev:arm64"
  command -v aarch64-linux-gnu-gcc >/dev/null || need "aarch64-linux-gnu-gcc" "apt-get install gcc-aarch64-linux-gnu"
  [[ -f /usr/aarch64-linux-gnu/lib/libc.a ]] || need "/usr/aarch64-linux-gnu/lib/libc.a" "apt-get install libc6-dev-arm64-cross"
  tdir=${BOX_TARGET_DIR:-target/cross}
  feat=()
  # Two packages: the features are named by package (nodistro-box/init,...).
  [[ -z $tools ]] || feat=(--no-default-features --features "$(sed 's/[^,]*/nodistro-box\/&/g' <<<"$tools")")
  RUSTC="$rustc" RUSTDOC="$(dirname "$rustc")/rustdoc" CARGO_TARGET_DIR="$tdir" \
    "$cargo" build --release --target aarch64-unknown-linux-gnu \
    -p nodistro-box -p nodistro-demo-app "${feat[@]}" >&2
  out=$tdir/aarch64-unknown-linux-gnu/release
  # This machine cannot run the box to ask it (--list): nodistro build
  # reads its tools from here, and the links are made from the same list.
  tools=${tools:-init,modload,netcfg,logfwd}
  echo "$tools" >"$out/nodistro-box.features"
  for t in ${tools//,/ }; do ln -sfn nodistro-box "$out/$t"; done
  echo "$out"
  exit 0
fi
if [[ $libc_free == 1 ]]; then
  tools=${tools:-init,modload,netcfg,logfwd,console,update}
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
