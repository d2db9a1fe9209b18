#!/usr/bin/env bash
# Installs what Ballast needs on Debian 12 (as root), then builds it.
#   deploy/setup.sh          runtime: nats-server, ipmitool (IPMI power driver), node modules, build
#   deploy/setup.sh --test   also what the test suite uses: the libvirt lab (libvirtd and virtlockd, both
#                            in libvirt-daemon; QEMU, qemu-img,
#                            a guest kernel and busybox), openssh-server, chromium, the IPMI BMC
#                            simulator (openipmi) and openssl (test certificates)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

pkgs=(nats-server ca-certificates ipmitool)
if [ "$want_test" = 1 ]; then
  pkgs+=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils xz-utils busybox-static
         iproute2 cpio procps openssh-server openssh-client chromium systemd openipmi openssl)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps libvirt-daemon-system (and its iptables, polkit, ...) out; the
  # systemd package is only wanted for systemd-analyze in the unit tests.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$want_test" = 1 ] && [ -x deploy/lab/prepare-guest.sh ]; then
  deploy/lab/prepare-guest.sh
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
echo "setup.sh: ready (bin/ballast --help)"
