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
# Fuzzing (issue 26): every cargo-fuzz target of the tree with libFuzzer
# for NODISTRO_FUZZ_SECONDS each (default 20) over its kept corpus; a
# crash fails CI and its input joins the kept corpus. libFuzzer needs the
# nightly toolchain the machine image has beside stable (setup.sh installs
# cargo-fuzz); without it the stable harness tests above, which run every
# target over its corpus and mutations, are what remains.
if cargo +nightly --version >/dev/null 2>&1 && command -v cargo-fuzz >/dev/null; then
  bash bench/fuzz.sh "${NODISTRO_FUZZ_SECONDS:-20}"
else
  echo "test.sh: no nightly toolchain or cargo-fuzz here: libFuzzer runs skipped"
fi
