#!/usr/bin/env bash
# Which Debian suite QEMU's system emulators come from (sourced by setup.sh;
# tests/tests/setup_qemu.rs checks the choice on both dpkg states).
#
# qemu-system-x86 must match qemu-utils exactly (qemu-system-common pins
# qemu-utils' version through Breaks). Debian 12 ships 7.2 in bookworm;
# some machine images carry qemu-utils 10.x from bookworm-backports, and
# then bookworm's 7.2 cannot be installed beside it ("qemu-utils Breaks
# qemu-system-common (< 8.0)"): the emulators must come from backports too.

# qemu_suite VERSION: VERSION is the installed qemu-utils version as
# `dpkg-query -W -f='${Version}'` prints it, empty when it is not installed.
# Prints the suite to install qemu-system-* from.
qemu_suite() {
  case "$1" in
    *~bpo12*) echo bookworm-backports ;;
    *) echo bookworm ;;
  esac
}

# backports_sources FILE: the deb822 sources file that names
# bookworm-backports, with the URI and key of the machine's own Debian
# sources (FILE is one of them; deb.debian.org when none names one).
backports_sources() {
  debian_sources bookworm-backports main "$@"
}

# debian_sources SUITES COMPONENTS FILE...: a deb822 sources entry for
# SUITES and COMPONENTS (space-separated) of the Debian archive the FILEs
# (the machine's own sources) name, with their key; deb.debian.org when
# none names one. setup.sh uses it for bookworm-backports and for the
# non-free-firmware component (raspi-firmware, `--format rpi`).
debian_sources() {
  local suites=$1 components=$2 uri key
  shift 2
  # deb822 ("URIs: http://.../debian") or one-line ("deb [opts] http://.../debian bookworm main").
  uri=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}
             /^deb / {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) {print $i; exit}}' "$@" 2>/dev/null || true)
  key=$(awk '/^Signed-By:/ {print $2; exit}' "$@" 2>/dev/null || true)
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n' \
    "${uri:-http://deb.debian.org/debian}" "$suites" "$components" "${key:-/usr/share/keyrings/debian-archive-keyring.gpg}"
}
