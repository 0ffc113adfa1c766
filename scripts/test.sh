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
# with it as the box every image packs, so both builds stay working; then
# the tests only that box can pass (#[ignore]d in a plain `cargo test`):
# half of busybox-static's size (static_binaries), no glibc in it
# (box_tools).
LF=$(bash scripts/build-box.sh --libc-free)
NODISTRO_TOOLS_DIR="$PWD/$LF" cargo test -p nodistro-tests --no-fail-fast
NODISTRO_TOOLS_DIR="$PWD/$LF" cargo test -p nodistro-tests --test static_binaries --test box_tools -- --ignored
