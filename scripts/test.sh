#!/usr/bin/env bash
# The test suite: installs what it needs, checks format and lints, builds the
# release binaries the end-to-end tests pack into images, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --release --workspace --bins
# The default nodistro-box (static musl, std rebuilt for size; issue 23):
# what `nodistro build` and the tests pack unless told otherwise, so the
# first pass below runs on it. (The tests would build it on their own
# too; built here, it is there before the soak starts.)
bash scripts/build-box.sh >/dev/null
# The soak (issue 26; tests/tests/soak.rs, #[ignore]d in a plain cargo
# test): NODISTRO_SOAK_SECS (default 1800) of link flaps, 4 s leases and
# a log flood, run once beside the rest of the suite (its guest takes
# about a fifth of a core) and waited for at the end.
soak_bin=$(cargo test -p nodistro-tests --test soak --no-run 2>&1 |
  grep -o 'target/[^ )]*/deps/soak-[0-9a-f]*' | tail -n 1)
[[ -x $soak_bin ]] || { echo "test.sh: the soak test did not build" >&2; exit 1; }
"$soak_bin" --ignored --exact soak_with_link_flaps_short_leases_and_a_log_flood \
  --nocapture >target/soak.log 2>&1 &
soak_pid=$!
cargo test --workspace --no-fail-fast
# The libc-free nodistro-box with every tool (eyra, std rebuilt for size;
# BENCHMARKS.md issue 17): built, and the whole end-to-end suite run again
# with it as the box every image packs, so it keeps working (c-scape
# aborts in the libc functions it lacks: only a run finds them). The
# static glibc box (`cargo build --release`) is checked by the first pass:
# static, under busybox-static, booted with a user switch (box_tools).
LF=$(bash scripts/build-box.sh --libc-free)
# Every test file but those this box changes nothing in, which the first
# pass ran: the ones that never run a box (source, toolchain and blkid
# checks, modload's host readers) or only ask it for its tools (`--list`,
# which box_tools checks here: the packaging tests), the firmware formats
# (UKI, disk, ISO, Secure Boot: the box boots from their initramfs as from
# --initrd's, which the rest of this pass boots; the A/B update tests are
# firmware boots too), the aarch64 tests (they
# pack the cross-built aarch64 box) and the glibc box's boot (by name
# below). Measured on this machine: the firmware files 68 + 49 s, the
# others about 60 s; about what the default box's build above adds
# (2.5-3 minutes from scratch).
not_box=" source_invariants runtime_no_libc setup_qemu blkid_mkfs modload_kmodbin modload_decompress packaging_build packaging_buildfile packaging_chart packaging_dynamic packaging_firstimage packaging_modules bootable_images secure_boot update_images updates update_bad_downloads rpi "
pass2=()
for f in tests/tests/*.rs; do
  n=$(basename "$f" .rs)
  [[ $not_box == *" $n "* ]] || pass2+=(--test "$n")
done
NODISTRO_TOOLS_DIR="$PWD/$LF" cargo test -p nodistro-tests --no-fail-fast "${pass2[@]}" -- \
  --skip aarch64_ --skip the_static_glibc_box_boots
if wait "$soak_pid"; then
  grep -E '^soak: |test result' target/soak.log
else
  echo "test.sh: the soak failed:" >&2
  tail -n 60 target/soak.log >&2
  exit 1
fi
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
