#!/usr/bin/env bash
# Builds the lab guest's boot artefacts (idempotent):
#   $BALLAST_LAB_DIR/cache/vmlinuz     kernel from Debian's linux-image-*-cloud-amd64 package
#   $BALLAST_LAB_DIR/cache/modules/    the kernel's virtio-blk and virtio-console modules (same package), for
#                                      guests with a disk and for the guest-agent channel
#   $BALLAST_LAB_DIR/cache/initrd.gz   busybox-static initrd whose /init ticks on the console
# BALLAST_LAB_DIR defaults to <repo>/.lab.  Needs: apt-get, dpkg-deb, cpio, busybox-static.
#   deploy/lab/prepare-guest.sh [--force]
#
# Guest behaviour (see the /init below):
#   * mounts proc/sys/dev, prints "TICK <n> <uptime-s> burn=<0|1>" on ttyS0 once a second;
#     <n> starts at 1 at boot, so a restart shows up as the sequence starting over.
#   * ballast.burn=1 on the kernel command line starts a CPU burner at boot;
#   * reads commands from the second serial port (ttyS1): "burn on", "burn off", "ping",
#     "disk-write <word>" (writes "BALLAST-MARK <word>" to the first sector of /dev/vda, synced),
#     "disk-read" (drops the guest's caches, reads that sector back and prints "DISK <line>");
#     each answer is written to the console as "CMD <command> ok".
#   * loads the virtio-blk modules at boot, so a guest defined with a virtio disk sees /dev/vda.
#   * loads virtio_console at boot and, right after the BOOT line, opens the virtio port named
#     org.qemu.guest_agent.0 read-write and holds it open for the guest's life, as a started qemu-ga
#     would: libvirt then shows that channel state='connected' (Ballast's guest-state endpoint).
#     Prints "AGENT up <device>" on the console, or "AGENT none" when the domain has no such channel.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
lab="${BALLAST_LAB_DIR:-$repo/.lab}"
cache="${BALLAST_LAB_CACHE:-$lab/cache}"
force=0
[ "${1:-}" = "--force" ] && force=1

mkdir -p "$cache"
log() { echo "prepare-guest: $*" >&2; }

# ---------------------------------------------------------------- kernel
# The modules ship in the kernel's package: a cache without one of them (made before it was kept)
# is refreshed whole, kernel included, so kernel and modules always come from the same package.
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console"
modules_cached() {
  local m
  for m in $MODULES; do [ -s "$cache/modules/$m.ko" ] || return 1; done
}
if [ "$force" = 1 ] || [ ! -s "$cache/vmlinuz" ] || ! modules_cached; then
  command -v apt-get >/dev/null || { log "apt-get missing (Debian needed)"; exit 1; }
  pkg=""
  resolve() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
  pkg="$(resolve || true)"
  if [ -z "$pkg" ]; then
    log "apt-get update (package lists missing)"
    apt-get update -qq >/dev/null
    pkg="$(resolve)"
  fi
  [ -n "$pkg" ] || { log "cannot resolve linux-image-cloud-amd64"; exit 1; }
  tmp="$(mktemp -d "$cache/kernel.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "downloading $pkg"
  if ! (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
    apt-get update -qq >/dev/null
    (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null)
  fi
  deb="$(ls "$tmp"/*.deb)"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/virtio_blk.ko*' \
    './lib/modules/*/kernel/drivers/char/virtio_console.ko*'
  k="$(ls "$tmp"/boot/vmlinuz-* | head -n1)"
  rm -rf "$cache/modules" && mkdir -p "$cache/modules"
  for m in $MODULES; do
    f="$(find "$tmp/lib/modules" -name "$m.ko*" | head -n1)"
    [ -n "$f" ] || { log "module $m not in $pkg"; exit 1; }
    case "$f" in
      *.xz) xz -dc "$f" >"$cache/modules/$m.ko" ;;
      *.zst) zstd -qdc "$f" >"$cache/modules/$m.ko" ;;
      *) cp "$f" "$cache/modules/$m.ko" ;;
    esac
  done
  cp "$k" "$cache/vmlinuz.new" && mv "$cache/vmlinuz.new" "$cache/vmlinuz"
  basename "$k" > "$cache/vmlinuz.version"
  rm -rf "$tmp"
  trap - EXIT
  log "kernel: $(cat "$cache/vmlinuz.version")"
fi

# ---------------------------------------------------------------- initrd
bb=/bin/busybox
[ -x "$bb" ] || bb="$(command -v busybox || true)"
[ -n "$bb" ] && file_is_static=$(ldd "$bb" 2>&1 | grep -c 'not a dynamic' || true) || file_is_static=0
[ "$file_is_static" -ge 1 ] || { log "busybox-static needed (apt-get install busybox-static)"; exit 1; }

init_script=$(cat <<'INIT'
#!/bin/busybox sh
# Ballast lab guest init (PID 1).
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
name=guest; burn=0
for a in $(cat /proc/cmdline); do
  case "$a" in
    ballast.name=*) name="${a#ballast.name=}" ;;
    ballast.burn=*) burn="${a#ballast.burn=}" ;;
  esac
done
echo 0 > /tmp/burn
burner=""
burn_on() {
  [ -n "$burner" ] && return 0
  ( trap 'exit 0' TERM; while :; do :; done ) &
  burner=$!
  renice 19 -p "$burner" >/dev/null 2>&1 || true
  echo 1 > /tmp/burn
}
burn_off() {
  [ -n "$burner" ] && kill "$burner" 2>/dev/null
  burner=""
  echo 0 > /tmp/burn
}
# virtio-blk and virtio-console, in dependency order (virtio needs virtio_ring: loaded the other way
# round, insmod refused virtio and with it every module above); a guest without a disk just has no
# /dev/vda, one without a virtio-serial controller no virtio ports.
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console; do
  [ -f "/lib/modules/$m.ko" ] && insmod "/lib/modules/$m.ko" 2>/dev/null
done
# The disk is waited for (bounded) only when there is a virtio block device (id 0x0002): a guest
# without one boots without waiting.
if grep -qx 0x0002 /sys/bus/virtio/devices/*/device 2>/dev/null; then
  for i in $(seq 1 25); do [ -e /sys/block/vda ] && break; sleep 0.2; done
fi
[ -e /sys/block/vda ] && { [ -e /dev/vda ] || mdev -s; }
echo "BOOT $name $(cut -d' ' -f1 /proc/uptime) disk=$([ -e /dev/vda ] && echo vda || echo none)"
# The guest-agent channel: the virtio port named org.qemu.guest_agent.0, opened read-write on fd 3
# of PID 1 and never closed, as a started qemu-ga holds it (nothing here reads or answers it).
# Ports are announced by the host after the virtio-serial device probed: waited for (bounded) only
# when there is such a device (virtio device id 0x0003).
agent=""
find_agent_port() {
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && { agent="/dev/${p##*/}"; return 0; }
  done
  return 1
}
if grep -qx 0x0003 /sys/bus/virtio/devices/*/device 2>/dev/null; then
  for i in $(seq 1 25); do find_agent_port && break; sleep 0.2; done
fi
if [ -n "$agent" ]; then
  [ -e "$agent" ] || mdev -s
  # `command exec`: a failed redirection of a plain `exec` ends a non-interactive shell (PID 1
  # here); and one open only, so libvirt never sees the port open, close and open again.
  if command exec 3<>"$agent"; then
    echo "AGENT up $agent"
  else
    echo "AGENT none (cannot open $agent)"
  fi
else
  echo "AGENT none"
fi
[ "$burn" = 1 ] && burn_on
# Control channel: ttyS1. Runs in a subshell that reports wanted state through a fifo-less file.
if [ -e /dev/ttyS1 ]; then
  stty -F /dev/ttyS1 -echo -icrnl 2>/dev/null || true
  (
    while :; do
      while read -r cmd arg; do
        cmd="$(echo "$cmd" | tr -d '\r')"; arg="$(echo "$arg" | tr -d '\r')"
        case "$cmd $arg" in
          "burn on"|"burn 1") echo on > /tmp/want ;;
          "burn off"|"burn 0") echo off > /tmp/want ;;
          "ping "*|"ping") echo "CMD ping ok" ;;
          "disk-write "*)
            if printf 'BALLAST-MARK %s\n' "$arg" | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; then
              sync; echo "CMD disk-write ok"
            else echo "CMD disk-write failed"; fi ;;
          "disk-read "*|"disk-read")
            sync; echo 3 > /proc/sys/vm/drop_caches
            echo "DISK $(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n1)"; echo "CMD disk-read ok" ;;
          " ") ;;
          *) echo "CMD unknown: $cmd $arg" ;;
        esac
      done < /dev/ttyS1
      sleep 1
    done
  ) &
else
  echo "WARN no /dev/ttyS1: runtime control disabled"
fi
n=0
while :; do
  if [ -f /tmp/want ]; then
    w="$(cat /tmp/want)"; rm -f /tmp/want
    if [ "$w" = on ]; then burn_on; else burn_off; fi
    echo "CMD burn $w ok"
  fi
  n=$((n + 1))
  echo "TICK $n $(cut -d' ' -f1 /proc/uptime) burn=$(cat /tmp/burn)"
  sleep 1
done
INIT
)

want_sum="$( { printf '%s' "$init_script"; sha256sum < "$bb"; cat "$cache"/modules/*.ko | sha256sum; } | sha256sum | cut -d' ' -f1)"
if [ "$force" = 1 ] || [ ! -s "$cache/initrd.gz" ] || [ "$(cat "$cache/initrd.sum" 2>/dev/null)" != "$want_sum" ]; then
  root="$(mktemp -d "$cache/initrd.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
  cp "$bb" "$root/bin/busybox"
  cp "$cache"/modules/*.ko "$root/lib/modules/"
  ln -s busybox "$root/bin/sh"
  printf '%s\n' "$init_script" > "$root/init"
  chmod 755 "$root/init"
  (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -9 > "$cache/initrd.gz.new"
  mv "$cache/initrd.gz.new" "$cache/initrd.gz"
  echo "$want_sum" > "$cache/initrd.sum"
  rm -rf "$root"
  trap - EXIT
  log "initrd: $cache/initrd.gz ($(stat -c %s "$cache/initrd.gz") bytes)"
fi
echo "$cache"
