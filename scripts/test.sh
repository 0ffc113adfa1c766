#!/usr/bin/env bash
# The test suite: installs what it needs, checks format and lints, builds the
# release binaries the end-to-end tests pack into images, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --release --workspace --bins
cargo test --workspace --no-fail-fast
# The libc-free nodistro-box with every tool (eyra, std rebuilt for size;
# BENCHMARKS.md issue 17): built, and the whole end-to-end suite run again
# with it as the box every image packs, so both builds stay working; held
# to half of busybox-static's size (static_binaries).
LF=$(bash scripts/build-box.sh --libc-free)
NODISTRO_TOOLS_DIR="$PWD/$LF" NODISTRO_BOX_HALF_BUSYBOX=1 cargo test -p nodistro-tests --no-fail-fast
