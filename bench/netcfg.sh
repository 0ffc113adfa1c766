#!/usr/bin/env bash
# netcfg vs busybox udhcpc vs dhcpcd: wall time from "interface up" to
# "address and default route applied" (each client run once per round, in
# one-shot mode, against the same dnsmasq across a veth pair between two
# network namespaces), then the stripped binary sizes.
#
#   sudo bash bench/netcfg.sh [RUNS]     (default 30; needs root)
#
# Nothing outside the namespaces is touched: /etc/netns/<ns>/resolv.conf is
# bind-mounted over /etc/resolv.conf by `ip netns exec`, dhcpcd gets a hook
# script that does nothing (no resolv.conf, no hostname), udhcpc's script
# applies the address and route with `ip` inside the namespace and records
# the lease in the temp dir, netcfg writes its resolv.conf in the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
NETCFG=target/x86_64-unknown-linux-gnu/release/netcfg
[ -x "$NETCFG" ] || cargo build --release -p nodistro-netcfg --bin netcfg
for p in dnsmasq:dnsmasq-base dhcpcd:dhcpcd-base busybox:busybox-static ip:iproute2; do
    command -v "${p%%:*}" >/dev/null || { echo "missing ${p%%:*}: apt-get install ${p#*:}"; exit 1; }
done

T=$(mktemp -d /tmp/nc-bench.XXXXXX)
S=ncb$$s C=ncb$$c A=ncb$$a B=ncb$$b
cleanup() {
    [ -f "$T/dnsmasq.pid" ] && kill "$(cat "$T/dnsmasq.pid")" 2>/dev/null || true
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "/etc/netns/$S" "/etc/netns/$C" "$T"
}
trap cleanup EXIT
for ns in "$S" "$C"; do
    ip netns add "$ns"
    mkdir -p "/etc/netns/$ns"
    echo "# bench namespace" > "/etc/netns/$ns/resolv.conf"
done
ip link add "$A" netns "$S" type veth peer name "$B" netns "$C"
ip -n "$S" addr add 10.99.0.1/24 dev "$A"
ip -n "$S" link set "$A" up
ip netns exec "$S" dnsmasq --no-ping --keep-in-foreground --conf-file=/dev/null --port=0 \
    --bind-interfaces --interface="$A" --dhcp-range=10.99.0.50,10.99.0.90,1h \
    --dhcp-option=option:dns-server,10.99.0.1 \
    --dhcp-leasefile="$T/leases" --pid-file="$T/dnsmasq.pid" 2>"$T/dnsmasq.log" &
sleep 0.5

cat > "$T/udhcpc.sh" <<EOF
#!/bin/sh
# record the lease; apply it inside the namespace only
env | grep -E '^(interface|ip|subnet|mask|router|dns|lease)=' > "$T/udhcpc.lease"
[ "\$1" = bound ] || exit 0
ip addr add "\$ip/\${mask:-24}" dev "\$interface"
for r in \$router; do ip route add default via "\$r" dev "\$interface"; break; done
EOF
printf '#!/bin/sh\nexit 0\n' > "$T/nohooks.sh"
chmod +x "$T/udhcpc.sh" "$T/nohooks.sh"

reset_link() {
    ip -n "$C" link set "$B" down
    ip -n "$C" addr flush dev "$B"
    ip -n "$C" route flush dev "$B" 2>/dev/null || true
    ip -n "$C" link set "$B" up
    # carrier comes back within a few ms on veth: wait for it
    for _ in $(seq 100); do
        [ "$(ip netns exec "$C" cat /sys/class/net/$B/carrier 2>/dev/null)" = 1 ] && break
        sleep 0.01
    done
}

now_ns() { date +%s%N; }

run_netcfg() {
    ip netns exec "$C" "$NETCFG" --oneshot --timeout 20 --resolv-conf "$T/resolv.conf" "$B" \
        >/dev/null 2>>"$T/netcfg.log"
}
run_udhcpc() {
    ip netns exec "$C" busybox udhcpc -i "$B" -f -q -n -t 10 -s "$T/udhcpc.sh" \
        >/dev/null 2>>"$T/udhcpc.log"
}
run_dhcpcd() {
    # -1 exit once configured, -4 IPv4 only, -A no ARP probe, -B foreground,
    # -c a hook script that does nothing (no resolv.conf, no hostname).
    ip netns exec "$C" timeout -k 2 20 dhcpcd -1 -4 -A -B -c "$T/nohooks.sh" \
        --nohook resolv.conf "$B" >>"$T/dhcpcd.log" 2>&1 </dev/null || true
}
# dhcpcd can leave an instance behind that deconfigures the link when it
# ends: stop the one for this interface (through its control socket)
# before the next client runs.
stop_dhcpcd() {
    ip netns exec "$C" timeout -k 1 5 dhcpcd -x "$B" >/dev/null 2>&1 </dev/null || true
}

# (no grep -q: with pipefail, ip's SIGPIPE would fail the check)
check_applied() {
    ip -n "$C" -4 addr show dev "$B" | grep 'inet 10.99.0.' >/dev/null &&
        ip -n "$C" route | grep '^default via 10.99.0.1' >/dev/null
}

for tool in netcfg udhcpc dhcpcd; do : > "$T/$tool.times"; done
# One client after the other (dhcpcd last: its helper processes can outlive
# a run and deconfigure the link later, which would spoil the others' runs).
for tool in netcfg udhcpc dhcpcd; do
    for i in $(seq "$RUNS"); do
        reset_link
        t0=$(now_ns)
        "run_$tool"
        t1=$(now_ns)
        if check_applied; then
            echo $(( (t1 - t0) / 1000 )) >> "$T/$tool.times"
        else
            echo "run $i: $tool did not apply address and default route:" >&2
            tail -n 3 "$T/$tool.log" >&2 2>/dev/null || true
            ip -n "$C" -4 addr show dev "$B" >&2; ip -n "$C" -4 route >&2
        fi
        [ "$tool" = dhcpcd ] && stop_dhcpcd
    done
done

stats() { # microseconds in, ms out: n median min p90 max
    sort -n "$1" | awk '{a[NR]=$1} END {
        if (NR == 0) { print "0 - - - -"; exit }
        printf "%d %.1f %.1f %.1f %.1f\n", NR, a[int((NR+1)/2)]/1000, a[1]/1000, a[int(NR*0.9+0.5)]/1000, a[NR]/1000 }'
}
read -r _ base _ _ _ < <(stats "$T/netcfg.times")
echo
echo "Interface up -> address + default route applied (ms, $RUNS rounds, one dnsmasq)"
printf '%-8s %4s %8s %8s %8s %8s %10s\n' client runs median min p90 max "vs netcfg"
for tool in netcfg udhcpc dhcpcd; do
    read -r n med min p90 max < <(stats "$T/$tool.times")
    ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
    printf '%-8s %4s %8s %8s %8s %8s %10s\n' "$tool" "$n" "$med" "$min" "$p90" "$max" "$ratio"
done
echo
echo "Binary sizes (bytes)"
printf '%-40s %10s\n' "netcfg (static, stripped, alone)" "$(stat -c %s "$NETCFG")"
printf '%-40s %10s\n' "busybox (static; udhcpc is one applet)" "$(stat -c %s "$(command -v busybox)")"
dh=$(command -v dhcpcd)
printf '%-40s %10s\n' "dhcpcd (dynamic, PIE; + libc.so.6)" "$(stat -c %s "$dh")"
