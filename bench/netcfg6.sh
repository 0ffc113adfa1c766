#!/usr/bin/env bash
# netcfg vs dhcpcd -6: wall time from "interface up" to "IPv6 address from
# DHCPv6 usable (DAD done) and DNS known", each client in one-shot mode,
# against the same dnsmasq (router advertisements with M and O set, a
# stateful DHCPv6 range, a DNS server) across a veth pair between two
# network namespaces.
#
#   sudo bash bench/netcfg6.sh [RUNS]     (default 20; needs root)
#
# Nothing outside the namespaces is touched: netcfg writes resolv.conf in
# the temp dir, dhcpcd gets a hook script that only records the DNS server
# it was given (no resolv.conf, no hostname).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
NETCFG=target/x86_64-unknown-linux-gnu/release/netcfg
[ -x "$NETCFG" ] || cargo build --release -p nodistro-netcfg --bin netcfg
for p in dnsmasq:dnsmasq-base dhcpcd:dhcpcd-base ip:iproute2; do
    command -v "${p%%:*}" >/dev/null || { echo "missing ${p%%:*}: apt-get install ${p#*:}"; exit 1; }
done

T=$(mktemp -d /tmp/nc6-bench.XXXXXX)
S=nc6b$$s C=nc6b$$c A=nc6b$$a B=nc6b$$b
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
ip -n "$S" addr add fd00:99::1/64 dev "$A" nodad
ip -n "$S" link set "$A" up
ip netns exec "$S" dnsmasq --no-ping --keep-in-foreground --conf-file=/dev/null --port=0 \
    --bind-interfaces --interface="$A" --enable-ra --ra-param="$A",4 \
    --dhcp-range=fd00:99::100,fd00:99::1ff,64,1h \
    --dhcp-option=option6:dns-server,[fd00:99::53] \
    --dhcp-leasefile="$T/leases" --pid-file="$T/dnsmasq.pid" 2>"$T/dnsmasq.log" &
sleep 1

cat > "$T/hook.sh" <<EOF
#!/bin/sh
# record the DNS servers dhcpcd was given; apply nothing else
[ -n "\$new_dhcp6_name_servers" ] && echo "\$new_dhcp6_name_servers" > "$T/dhcpcd.dns"
exit 0
EOF
chmod +x "$T/hook.sh"

reset_link() {
    ip -n "$C" link set "$B" down
    ip -n "$C" addr flush dev "$B" scope global 2>/dev/null || true
    rm -f "$T/resolv.conf" "$T/dhcpcd.dns"
    ip -n "$C" link set "$B" up
    for _ in $(seq 100); do
        [ "$(ip netns exec "$C" cat /sys/class/net/$B/carrier 2>/dev/null)" = 1 ] && break
        sleep 0.01
    done
}

now_ns() { date +%s%N; }

run_netcfg() {
    ip netns exec "$C" "$NETCFG" --oneshot --ip dhcp6 --timeout 30 --resolv-conf "$T/resolv.conf" "$B" \
        >/dev/null 2>>"$T/netcfg.log"
}
run_dhcpcd() {
    # -1 exit once configured, -6 IPv6 only, -B foreground, -c the hook.
    ip netns exec "$C" timeout -k 2 30 dhcpcd -1 -6 -B -c "$T/hook.sh" \
        --nohook resolv.conf "$B" >>"$T/dhcpcd.log" 2>&1 </dev/null || true
}
stop_dhcpcd() {
    ip netns exec "$C" timeout -k 1 5 dhcpcd -6 -x "$B" >/dev/null 2>&1 </dev/null || true
}

# A DHCPv6 address (not tentative) and the DNS server known to the client.
check_applied() { # tool
    ip -n "$C" -6 addr show dev "$B" | grep 'inet6 fd00:99::1' | grep -v tentative >/dev/null || return 1
    case $1 in
        netcfg) grep 'nameserver fd00:99::53' "$T/resolv.conf" >/dev/null 2>&1 ;;
        dhcpcd) grep 'fd00:99::53' "$T/dhcpcd.dns" >/dev/null 2>&1 ;;
    esac
}

for tool in netcfg dhcpcd; do : > "$T/$tool.times"; done
for tool in netcfg dhcpcd; do
    for i in $(seq "$RUNS"); do
        reset_link
        t0=$(now_ns)
        "run_$tool"
        t1=$(now_ns)
        if check_applied "$tool"; then
            echo $(( (t1 - t0) / 1000 )) >> "$T/$tool.times"
        else
            echo "run $i: $tool did not get an IPv6 address and DNS:" >&2
            tail -n 3 "$T/$tool.log" >&2 2>/dev/null || true
            ip -n "$C" -6 addr show dev "$B" >&2
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
echo "Interface up -> DHCPv6 address usable + DNS known (ms, $RUNS rounds, one dnsmasq)"
printf '%-8s %4s %8s %8s %8s %8s %10s\n' client runs median min p90 max "vs netcfg"
for tool in netcfg dhcpcd; do
    read -r n med min p90 max < <(stats "$T/$tool.times")
    ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
    printf '%-8s %4s %8s %8s %8s %8s %10s\n' "$tool" "$n" "$med" "$min" "$p90" "$max" "$ratio"
done
