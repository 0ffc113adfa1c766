#!/usr/bin/env bash
# The main job: build the demo image against the Debian kernel and boot it in
# QEMU; the demo app answers on http://127.0.0.1:8080/ from the host.
# Pass --check for the non-interactive form (boot, fetch, power off, exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace --bins
# The default box (static musl), which nodistro build packs when it is there.
bash scripts/build-box.sh >/dev/null
exec target/x86_64-unknown-linux-gnu/release/nodistro demo "$@"
