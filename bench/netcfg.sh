#!/usr/bin/env bash
# netcfg vs busybox udhcpc vs dhcpcd (none of them ARP-probing the
# address; netcfg with its default 200 ms probe as well): wall time from "interface up" to
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
. "$(dirname "$0")/lib.sh"
RUNS=${1:-30}
NETCFG=$REL/netcfg
[ -x "$NETCFG" ] || cargo build --release -p nodistro-netcfg --bin netcfg
need dnsmasq:dnsmasq-base dhcpcd:dhcpcd-base busybox:busybox-static ip:iproute2
netns_pair ncb
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
    wait_carrier
}

# netcfg as the peers run here: no ARP probe before using the address
# (udhcpc without -a, dhcpcd -A); netcfg-arp: netcfg's default, a 200 ms
# RFC 5227 probe (netcfg.arp_probe) before a new address.
run_netcfg() {
    ip netns exec "$C" "$NETCFG" --oneshot --timeout 20 --arp-probe 0 --resolv-conf "$T/resolv.conf" "$B" \
        >/dev/null 2>>"$T/netcfg.log"
}
run_netcfg-arp() {
    ip netns exec "$C" "$NETCFG" --oneshot --timeout 20 --resolv-conf "$T/resolv.conf" "$B" \
        >/dev/null 2>>"$T/netcfg-arp.log"
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
check_applied() { # tool (the same check for each)
    ip -n "$C" -4 addr show dev "$B" | grep 'inet 10.99.0.' >/dev/null &&
        ip -n "$C" route | grep '^default via 10.99.0.1' >/dev/null
}

show_state() { ip -n "$C" -4 addr show dev "$B"; ip -n "$C" -4 route; }

# One client after the other (dhcpcd last: its helper processes can outlive
# a run and deconfigure the link later, which would spoil the others' runs).
time_clients "$RUNS" "apply address and default route" netcfg netcfg-arp udhcpc dhcpcd
times_table "Interface up -> address + default route applied (ms, $RUNS rounds, one dnsmasq)" \
    netcfg netcfg-arp udhcpc dhcpcd
echo
echo "Binary sizes (bytes)"
printf '%-40s %10s\n' "netcfg (static, stripped, alone)" "$(stat -c %s "$NETCFG")"
printf '%-40s %10s\n' "busybox (static; udhcpc is one applet)" "$(stat -c %s "$(command -v busybox)")"
dh=$(command -v dhcpcd)
printf '%-40s %10s\n' "dhcpcd (dynamic, PIE; + libc.so.6)" "$(stat -c %s "$dh")"
