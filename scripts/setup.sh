#!/usr/bin/env bash
# Install what building, demoing and testing nodistro needs on a Debian 12
# machine (run as root). Packages already present are left alone.
set -euo pipefail
pkgs=(
  qemu-system-x86   # boots the images (TCG)
  linux-image-amd64 # the stock kernel and its module tree the images use
  cpio              # GNU cpio reads our archives in the tests
  kmod              # modprobe: the reference for modload's resolution
  dnsmasq-base      # the DHCP server netcfg is tested against
  dhcpcd-base       # peer DHCP client for the netcfg benchmark
  busybox-static    # peer tools: udhcpc, syslogd, the busybox image
  rsyslog           # the syslog receiver and peer forwarder
  bsdutils          # logger
  iproute2          # ip netns, veth
  libxml2-utils     # xmllint checks nodistro chart's SVG
  librsvg2-bin      # rsvg-convert renders the boot chart to PNG in its test
  curl xz-utils zstd file
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# rsyslog's package may start a system daemon; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active -q rsyslog 2>/dev/null; then
  systemctl stop rsyslog || true
fi
