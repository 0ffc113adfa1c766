# What the bench scripts share; sourced (`. "$(dirname "$0")/lib.sh"`), not
# run. Sourcing moves to the repository root and sets REL (the release
# binaries' directory).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REL=target/x86_64-unknown-linux-gnu/release

# need CMD:PACKAGE...: stop with the apt-get line for the first one missing.
need() {
    local p
    for p in "$@"; do
        command -v "${p%%:*}" >/dev/null || { echo "missing ${p%%:*}: apt-get install ${p#*:}"; exit 1; }
    done
}

now_ns() { date +%s%N; }

# The newest kernel release in /boot.
newest_kernel() { ls /boot/vmlinuz-* | sed 's|/boot/vmlinuz-||' | sort -V | tail -1; }

# The QEMU version, for the header line.
qemu_version() { qemu-system-x86_64 --version | head -1 | awk '{print $4}'; }

# stats FILE: microseconds in (one a line), ms out: n median min p90 max.
stats() {
    sort -n "$1" | awk '{a[NR]=$1} END {
        if (NR == 0) { print "0 - - - -"; exit }
        printf "%d %.1f %.1f %.1f %.1f\n", NR, a[int((NR+1)/2)]/1000, a[1]/1000, a[int(NR*0.9+0.5)]/1000, a[NR]/1000 }'
}

# ---- DHCP clients between two network namespaces (netcfg.sh, netcfg6.sh)

# netns_pair TAG: a scratch dir $T and two namespaces, $S (server) and $C
# (client), joined by a veth pair ($A in S, $B in C). Each namespace gets
# its own /etc/netns/<ns>/resolv.conf, which `ip netns exec` bind-mounts
# over /etc/resolv.conf, so no client can touch the machine's. Everything
# (and the dnsmasq whose pid is in $T/dnsmasq.pid) goes away on exit.
netns_pair() {
    T=$(mktemp -d "/tmp/$1-bench.XXXXXX")
    S=$1$$s C=$1$$c A=$1$$a B=$1$$b
    trap netns_cleanup EXIT
    local ns
    for ns in "$S" "$C"; do
        ip netns add "$ns"
        mkdir -p "/etc/netns/$ns"
        echo "# bench namespace" > "/etc/netns/$ns/resolv.conf"
    done
    ip link add "$A" netns "$S" type veth peer name "$B" netns "$C"
}
netns_cleanup() {
    [ -f "$T/dnsmasq.pid" ] && kill "$(cat "$T/dnsmasq.pid")" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "/etc/netns/$S" "/etc/netns/$C" "$T"
}

# The client's link is up again: carrier comes back within a few ms on
# veth, wait for it.
wait_carrier() {
    for _ in $(seq 100); do
        [ "$(ip netns exec "$C" cat /sys/class/net/$B/carrier 2>/dev/null)" = 1 ] && break
        sleep 0.01
    done
}

# time_clients RUNS WHAT TOOL...: RUNS rounds of each client one after the
# other, each after reset_link, timed around run_<tool> into
# $T/<tool>.times (microseconds); a run that check_applied <tool> refuses
# is reported ("did not WHAT") with show_state and not counted. A dhcpcd
# run is followed by stop_dhcpcd (its helpers can outlive a run).
time_clients() {
    local runs=$1 what=$2 tool i t0 t1
    shift 2
    for tool in "$@"; do : > "$T/$tool.times"; done
    for tool in "$@"; do
        for i in $(seq "$runs"); do
            reset_link
            t0=$(now_ns)
            "run_$tool"
            t1=$(now_ns)
            if check_applied "$tool"; then
                echo $(( (t1 - t0) / 1000 )) >> "$T/$tool.times"
            else
                echo "run $i: $tool did not $what:" >&2
                tail -n 3 "$T/$tool.log" >&2 2>/dev/null || true
                show_state >&2
            fi
            [ "$tool" = dhcpcd ] && stop_dhcpcd
        done
    done
}

# times_table TITLE TOOL...: the table of $T/<tool>.times, the first tool
# the baseline of the ratio column.
times_table() {
    local title=$1 tool n med min p90 max base ratio
    shift
    read -r _ base _ _ _ < <(stats "$T/$1.times")
    echo
    echo "$title"
    printf '%-10s %4s %8s %8s %8s %8s %10s\n' client runs median min p90 max "vs $1"
    for tool in "$@"; do
        read -r n med min p90 max < <(stats "$T/$tool.times")
        ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
        printf '%-10s %4s %8s %8s %8s %8s %10s\n' "$tool" "$n" "$med" "$min" "$p90" "$max" "$ratio"
    done
}

# ---- nodistro against busybox in QEMU (appliance.sh, modload-qemu.sh)

# qemu_bench_setup TAG: fresh release binaries, KVER the newest kernel in
# /boot, W a scratch dir (/tmp/TAG.XXXXXX) removed on exit.
qemu_bench_setup() {
    cargo build --release --workspace --bins >&2
    KVER=$(newest_kernel)
    W=$(mktemp -d "/tmp/$1.XXXXXX")
    trap 'rm -rf "$W"' EXIT
}

# busybox_root: $W/nodistro.img unpacked into $W/nd, and the start of the
# busybox root in $W/bb: the same modules tree (taken from the nodistro
# image), busybox-static as /bin/busybox and /init, the console node.
busybox_root() {
    mkdir -p "$W/nd" "$W/bb"
    (cd "$W/nd" && gzip -dc ../nodistro.img | cpio -idm --quiet)
    (cd "$W/bb" && mkdir -p bin proc sys dev lib etc)
    cp -a "$W/nd/lib/modules" "$W/bb/lib/"
    cp /bin/busybox "$W/bb/bin/busybox"
    ln -s bin/busybox "$W/bb/init"
    mknod "$W/bb/dev/console" c 5 1
}

# pack DIR [FIND ARGS]: DIR as a cpio newc archive on stdout, sorted, owned
# by root.
pack() { (cd "$1" && find . "${@:2}" | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }
