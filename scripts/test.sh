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
