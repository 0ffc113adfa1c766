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
. "$(dirname "$0")/lib.sh"
RUNS=${1:-20}
NETCFG=$REL/netcfg
[ -x "$NETCFG" ] || cargo build --release -p nodistro-netcfg --bin netcfg
need dnsmasq:dnsmasq-base dhcpcd:dhcpcd-base ip:iproute2
netns_pair nc6b
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
    wait_carrier
}

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

show_state() { ip -n "$C" -6 addr show dev "$B"; }

time_clients "$RUNS" "get an IPv6 address and DNS" netcfg dhcpcd
times_table "Interface up -> DHCPv6 address usable + DNS known (ms, $RUNS rounds, one dnsmasq)" \
    netcfg dhcpcd
