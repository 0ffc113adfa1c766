#!/usr/bin/env bash
# Install what building, demoing and testing nodistro needs on a Debian 12
# machine (run as root). Packages already present are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/qemu-suite.sh
export DEBIAN_FRONTEND=noninteractive
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# QEMU first, from the suite that matches the machine's qemu-utils.
suite=$(qemu_suite "$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)")
if ! installed qemu-system-x86; then
  if [[ $suite == bookworm-backports ]]; then
    src=/etc/apt/sources.list.d/nodistro-bookworm-backports.sources
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "setup: qemu-utils comes from bookworm-backports: naming that suite in $src"
      backports_sources /etc/apt/sources.list /etc/apt/sources.list.d/*.sources >"$src"
    fi
    echo "setup: installing qemu-system-x86 from bookworm-backports (to match qemu-utils)"
    apt-get update -q
    apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-x86
  else
    echo "setup: installing qemu-system-x86 from bookworm"
    apt-get update -q
    apt-get install -y -q --no-install-recommends qemu-system-x86
  fi
fi
echo "setup: QEMU: $(qemu-system-x86_64 --version | head -n1) ($(dpkg-query -W -f='${Version}' qemu-system-x86), $suite)"

pkgs=(
  linux-image-amd64 # the stock kernel and its module tree the images use
  cpio              # GNU cpio reads our archives in the tests
  kmod              # modprobe: the reference for modload's resolution
  dnsmasq-base      # the DHCP server netcfg is tested against
  kea-dhcp4-server  # ISC Kea: 1 s leases for netcfg's short-lease test
  dhcpcd-base       # peer DHCP client for the netcfg benchmark
  chrony            # NTP server the SNTP test runs itself (-x: never sets the clock)
  busybox-static    # peer tools: udhcpc, syslogd, the busybox image
  rsyslog           # the syslog receiver and peer forwarder
  bsdutils          # logger
  iproute2          # ip netns, veth
  libxml2-utils     # xmllint checks nodistro chart's SVG
  librsvg2-bin      # rsvg-convert renders the boot chart to PNG in its test
  curl xz-utils zstd file
  golang-go         # builds the static Go app of the first-image test
  gcc               # builds the dynamic C apps of the dynamic-apps tests (and cgo)
  zlib1g-dev        # zlib for the dynamic C app (a library beyond libc)
  libssl-dev        # OpenSSL's libssl/libcrypto for the dynamic C app
  ca-certificates   # the bundle nodistro build --ca-certs packs by default
  ovmf              # UEFI firmware: boots UKIs, disks and ISOs (nodistro run --image)
  systemd-boot-efi  # linuxx64.efi.stub, the EFI stub of every UKI
  osslsigncode      # signs the UKI for Secure Boot (--sign-key), with a fixed signing time
  sbsigntool        # sbverify checks those signatures in the tests
  openssl           # the tests take the passphrase off OVMF's snakeoil key
  isolinux          # isolinux.bin, isohdpfx.bin: the ISO's BIOS boot
  syslinux-common   # ldlinux.c32, which isolinux.bin loads
  xorriso           # writes the hybrid ISO; checks it in the tests
  mtools            # lists the ESP in the tests
  dosfstools        # fsck.fat checks the ESP; mkfs.vfat for superblock probes and NoCloud seeds
  fdisk             # sfdisk checks the disk's GPT in the tests
  e2fsprogs         # mke2fs/e2fsck: data disks in the appliance-state tests
  xfsprogs          # mkfs.xfs: superblock probe test against blkid
  btrfs-progs       # mkfs.btrfs: superblock probe test against blkid
  cloud-image-utils # cloud-localds: NoCloud seeds (cidata) for the tests
  rustc-web         # rustc 1.96 whose std source ships: the default (musl) and libc-free boxes rebuild std (scripts/build-box.sh)
  cargo-web         # its cargo (-Zbuild-std)
  rust-web-src      # std's source for rustc-web (/usr/lib/rustlib/src/rust)
  musl-tools        # musl-gcc and (musl-dev) musl's libc.a: the default box is static musl (scripts/build-box.sh)
  umoci             # unpacks OCI layers: the reference for --from-oci's whiteouts
  skopeo            # writes oci-archive and docker save forms of a test image; reads --format oci's
  podman            # runs --format oci images (with runc: crun refuses this machine's hybrid cgroups)
  runc
  uidmap            # podman's newuidmap/newgidmap
  python3           # http.server: the static server the A/B update test publishes releases on
)
missing=()
for p in "${pkgs[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# arm64 (issue 23): the cross toolchain and the aarch64 emulator. The
# aarch64 std of rustc-web comes from Debian's arm64 archive
# (libstd-rust-web-dev:arm64 is Multi-Arch: same), so dpkg learns the
# foreign architecture first; gcc-aarch64-linux-gnu links, and
# libc6-dev-arm64-cross is the static glibc it links against. The kernel
# (linux-image-arm64) is not installed: `nodistro build --arch aarch64`
# fetches it with apt-get download into its cache.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
  apt-get update -q
fi
arm=(
  "libstd-rust-web-dev:arm64=$(dpkg-query -W -f='${Version}' rustc-web)" # aarch64 std of the same rustc-web
  gcc-aarch64-linux-gnu  # the linker of the aarch64 static box
  libc6-dev-arm64-cross  # static glibc for aarch64
  qemu-efi-aarch64       # AAVMF: UEFI firmware of aarch64 images
)
arm_missing=()
for p in "${arm[@]}"; do
  installed "${p%%=*}" || arm_missing+=("$p")
done
if ! installed qemu-system-arm; then
  # Same suite as qemu-system-x86 (qemu-system-common is shared).
  if [[ $suite == bookworm-backports ]]; then
    arm_missing+=(qemu-system-arm/bookworm-backports)
  else
    arm_missing+=(qemu-system-arm)
  fi
fi
if ((${#arm_missing[@]})); then
  echo "setup: installing ${arm_missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${arm_missing[@]}"
fi

# The Raspberry Pi's boot firmware (`nodistro build --format rpi`):
# raspi-firmware is in Debian's non-free-firmware component, which a
# machine's sources may lack. Name that component of the same archive;
# the package itself is not installed (nodistro fetches it with apt-get
# download into its cache, like the arm64 kernel).
if ! apt-cache show raspi-firmware >/dev/null 2>&1; then
  src=/etc/apt/sources.list.d/nodistro-non-free-firmware.sources
  echo "setup: raspi-firmware is in non-free-firmware: naming that component in $src"
  debian_sources "bookworm bookworm-updates" non-free-firmware /etc/apt/sources.list /etc/apt/sources.list.d/*.sources >"$src"
  apt-get update -q
fi

# Kea's package may start a system DHCP server; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active -q kea-dhcp4-server 2>/dev/null; then
  systemctl stop kea-dhcp4-server || true
fi
# chrony's package may start a system chronyd that would set this
# machine's clock; the time test runs its own with -x. Stop it.
if command -v systemctl >/dev/null && systemctl is-active -q chrony 2>/dev/null; then
  systemctl stop chrony || true
fi
# rsyslog's package may start a system daemon; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active -q rsyslog 2>/dev/null; then
  systemctl stop rsyslog || true
fi
# cargo-fuzz for the libFuzzer runs of scripts/test.sh, where the machine
# has a nightly toolchain beside stable (libFuzzer needs it).
if cargo +nightly --version >/dev/null 2>&1 && ! command -v cargo-fuzz >/dev/null; then
  echo "setup: installing cargo-fuzz (libFuzzer runs on the nightly toolchain)"
  cargo install --version 0.13.2 cargo-fuzz
fi
