#!/usr/bin/env bash
# Run every cargo-fuzz target of the repository for SECONDS each (default
# 60): each `<crate>/fuzz/` directory is found, `cargo fuzz list` names its
# targets, `cargo +nightly fuzz run` runs each with libFuzzer over a scratch
# copy of the kept corpus (`<crate>/fuzz/corpus/<target>/`). A crash input
# is copied into the kept corpus (the stable tests then run it on every CI
# build) and the script exits 1 after the table; so does a target that
# did not run (a build failure).
#
#   bench/fuzz.sh [SECONDS] [FILTER]   FILTER: run only targets whose
#                                      "crate/target" contains it
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# One target at a time, one libFuzzer process: the machine is shared.
set -uo pipefail
secs=${1:-60}
filter=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/fuzz-work
# One target dir for every fuzz crate: dependencies build once.
export CARGO_TARGET_DIR=$root/target/fuzz
mkdir -p "$work"
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz missing (cargo install cargo-fuzz)" >&2; exit 2; }

printf '%-12s %-12s %8s %12s %10s %8s\n' crate target seconds executions exec/s crashes
total_crashes=0
not_run=0
for dir in "$root"/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  crate_dir=$(dirname "$dir")
  crate=$(basename "$crate_dir")
  for t in $(cd "$crate_dir" && cargo +nightly fuzz list 2>/dev/null); do
    [[ "$crate/$t" == *"$filter"* ]] || continue
    kept=$dir/corpus/$t
    scratch=$work/$crate/$t
    arts=$work/$crate/$t-artifacts
    mkdir -p "$kept" "$scratch" "$arts"
    log=$work/$crate-$t.log
    (cd "$crate_dir" && cargo +nightly fuzz run "$t" "$scratch" "$kept" -- \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 \
        -artifact_prefix="$arts/") >"$log" 2>&1
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=0
    for a in "$arts"/*; do
      [ -f "$a" ] || continue
      cp "$a" "$kept/$(basename "$a")"
      crashes=$((crashes + 1))
      echo "fuzz.sh: $crate/$t: $(basename "$a") kept in ${kept#"$root"/}" >&2
      rm -f "$a"
    done
    if [ -z "$runs" ]; then
      echo "fuzz.sh: $crate/$t did not run; see $log" >&2
      tail -5 "$log" >&2
      runs=0
      not_run=$((not_run + 1))
    fi
    total_crashes=$((total_crashes + crashes))
    printf '%-12s %-12s %8s %12s %10s %8s\n' "$crate" "$t" "$secs" "$runs" "$((runs / (secs > 0 ? secs : 1)))" "$crashes"
  done
done
[ "$not_run" -eq 0 ] || echo "fuzz.sh: $not_run targets did not run" >&2
[ "$total_crashes" -eq 0 ] && [ "$not_run" -eq 0 ]
