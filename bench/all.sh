#!/usr/bin/env bash
# Every benchmark in one go, each beside its peer: the figures of
# BENCHMARKS.md's table. Runs each bench/*.sh below with a small repeat
# count, one after the other, records the date and the load average
# (uptime) before and after each, keeps going when one fails, and prints
# each bench's result lines (nodistro and its peer) as it finishes, then a
# summary naming the ones that failed.
#
#   sudo bench/all.sh [NAME...]   (default: every NAME below, in order)
#
#   NAME_ARGS="..."   a bench's arguments instead of the default, NAME in
#                     capitals with - as _: APPLIANCE_ARGS=10 BOOT_ARGS=10
#                     LOGFWD_MIBS_ARGS="2000000 1000000 4"
#   BENCH_OUT=DIR     where the full logs go (default target/bench-all/<UTC>)
#   BENCH_TIMEOUT=S   a bench still running after S seconds is stopped
#                     (SIGTERM to its process group, SIGKILL 30 s later) and
#                     counted as failed (default 1800)
#
# Needs root (namespaces, mknod) and what scripts/setup.sh installs. Builds
# the release binaries first, and the libc-free box if it is not there
# (scripts/build-box.sh --libc-free, about 3 minutes). fuzz.sh (no peer,
# nightly toolchain) runs only when named: `bench/all.sh fuzz`.
# Exit status: 0 if every bench ran, 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# NAME and its default arguments, in the order they run: the quick,
# host-only ones first, the QEMU boots last.
BENCHES=(
    "footprint:"
    "modload:20"
    "netcfg:10"
    "netcfg6:5"
    "logfwd:200000"
    "logfwd-mibs:500000 250000 4"
    "pack:"
    "oci:3"
    "arm64:3"
    "drivers:"
    "appliance:5"
    "modload-qemu:3"
    "images:1"
    "boot:3"
)
OPTIONAL=("fuzz:20")

# The lines of a bench's output that hold its result (nodistro and the
# peer); the rest (headers, progress) stays in the log.
result_lines() { # NAME LOG
    local pat
    case $1 in
        footprint) pat='nodistro-box|busybox|^Image with|share of the compressed|^(median|QEMU start|/init -> app|memory in use|runs where)' ;;
        modload) pat='^(same modules|modload vs|host|qemu|big|whole)' ;;
        netcfg | netcfg6) pat='^(Interface up|client|netcfg|netcfg-arp|udhcpc|dhcpcd|busybox) ' ;;
        logfwd) pat='^(logfwd benchmark|forwarder|logfwd|rsyslogd|busybox)' ;;
        logfwd-mibs) pat='^(logfwd-mibs:|[0-9]+ cores|forwarder |logfwd |logfwd-old |rsyslogd |syslog-ng )' ;;
        pack) pat='^(load average|Packing|contender|nodistro|cpio|samebytes|gzip -6:|same bytes|zstd -3:)' ;;
        oci) pat='^(load average|OCI image|contender|nodistro|umoci)' ;;
        arm64) pat='^(aarch64 box|x86_64 box|first HTTP answer)' ;;
        drivers) pat='^\| (image|nodistro|Debian)' ;;
        appliance) pat='^(kernel|image without|uncompressed|cpio|whole image|median|QEMU start|/init -> app|memory in use|runs where)' ;;
        modload-qemu) pat='^(kernel|median|modload.s own)' ;;
        images) pat='^(\| |xorriso|QEMU start)' ;;
        boot) pat='^(\| (pc|microvm|/init -> app|floor)|load average|[0-9]+ boots could not)' ;;
        fuzz) pat='' ;;
    esac
    if [[ -n $pat ]]; then grep -E -- "$pat" "$2"; else cat "$2"; fi
}

args_of() { # NAME: $NAME_ARGS if set, else the default
    local var entry
    var=$(echo "$1" | tr 'a-z-' 'A-Z_')_ARGS
    if [[ -n ${!var+x} ]]; then echo "${!var}"; return; fi
    for entry in "${BENCHES[@]}" "${OPTIONAL[@]}"; do
        [[ ${entry%%:*} == "$1" ]] && { echo "${entry#*:}"; return; }
    done
}

known() { # NAME: a bench this script knows
    local entry
    for entry in "${BENCHES[@]}" "${OPTIONAL[@]}"; do [[ ${entry%%:*} == "$1" ]] && return 0; done
    return 1
}

if [[ $# -gt 0 ]]; then
    names=("$@")
else
    names=()
    for entry in "${BENCHES[@]}"; do names+=("${entry%%:*}"); done
fi
for n in "${names[@]}"; do
    known "$n" && [[ -f bench/$n.sh ]] || {
        echo "bench/all.sh: no bench named $n (known: $(printf '%s ' "${BENCHES[@]%%:*}" "${OPTIONAL[@]%%:*}"))" >&2
        exit 2
    }
done
[[ $(id -u) == 0 ]] || echo "bench/all.sh: not root: netcfg, netcfg6, logfwd and the QEMU benches need it and will fail" >&2

OUT=${BENCH_OUT:-target/bench-all/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
LIMIT=${BENCH_TIMEOUT:-1800}
load() { cut -d' ' -f1-3 /proc/loadavg; }

{
    echo "bench/all.sh $(date -u '+%F %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
    echo "host: $(nproc) cores, $(uname -r), qemu $(qemu-system-x86_64 --version 2>/dev/null | head -1 | awk '{print $4}')"
    echo "logs: $OUT"
} | tee "$OUT/summary"

echo "building: cargo build --release --workspace --bins" | tee -a "$OUT/summary"
if ! cargo build --release --workspace --bins >"$OUT/build.log" 2>&1; then
    echo "bench/all.sh: the release build failed (see $OUT/build.log); nothing measured" | tee -a "$OUT/summary" >&2
    exit 1
fi
echo "building: scripts/build-box.sh (the default box, which nodistro build packs)" | tee -a "$OUT/summary"
bash scripts/build-box.sh >>"$OUT/build.log" 2>&1 ||
    echo "  the default (musl) box did not build (see $OUT/build.log): images pack the glibc box" | tee -a "$OUT/summary"
if [[ ! -x target/libc-free/x86_64-unknown-linux-gnu/release/nodistro-box ]]; then
    echo "building: scripts/build-box.sh --libc-free (for footprint's libc-free row)" | tee -a "$OUT/summary"
    bash scripts/build-box.sh --libc-free >>"$OUT/build.log" 2>&1 ||
        echo "  the libc-free box did not build (see $OUT/build.log): footprint shows it as not built" | tee -a "$OUT/summary"
fi

failed=()
for n in "${names[@]}"; do
    a=$(args_of "$n")
    log=$OUT/$n.log
    l0=$(load)
    t0=$(date +%s)
    {
        echo
        echo "== $n: bench/$n.sh $a   ($(date -u '+%F %H:%M UTC'), load $l0)"
    } | tee -a "$OUT/summary"
    # shellcheck disable=SC2086 # the arguments are words on purpose
    timeout -k 30 "$LIMIT" bash "bench/$n.sh" $a >"$log" 2>&1 </dev/null
    rc=$?
    secs=$(($(date +%s) - t0))
    {
        result_lines "$n" "$log"
        if [[ $rc == 0 ]]; then
            echo "-- $n: done in $secs s, load after $(load)"
        else
            why="exit status $rc"
            [[ $rc == 124 || $rc == 137 ]] && why="stopped after $LIMIT s (BENCH_TIMEOUT)"
            echo "-- $n: FAILED ($why) after $secs s, load after $(load); last lines of $log:"
            tail -n 8 "$log" | sed 's/^/    /'
        fi
    } | tee -a "$OUT/summary"
    [[ $rc == 0 ]] || failed+=("$n")
done

{
    echo
    if [[ ${#failed[@]} == 0 ]]; then
        echo "all ${#names[@]} benches ran; summary in $OUT/summary"
    else
        echo "FAILED: ${failed[*]} (${#failed[@]} of ${#names[@]}); logs in $OUT"
    fi
} | tee -a "$OUT/summary"
[[ ${#failed[@]} == 0 ]]
