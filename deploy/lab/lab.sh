#!/usr/bin/env bash
# Ballast libvirt lab: three real libvirtd "hypervisors" on one Debian 12 machine (root needed).
#
#   hub netns  <prefix>-hub   bridge br0 10.77.0.254/24
#   hv  netns  <prefix>-hv-a  10.77.0.1   libvirtd --listen (own mount namespace, private
#              <prefix>-hv-b  10.77.0.2   /run /var/lib/libvirt /var/cache/libvirt
#              <prefix>-hv-c  10.77.0.3   /var/log/libvirt /etc/libvirt)
# virsh reaches each daemon from the root namespace over its unix socket:
#   qemu+unix:///system?socket=$BALLAST_LAB_DIR/hv/<hv>/run/libvirt/libvirt-sock
# Daemons reach each other over qemu+tcp://10.77.0.N/system (auth none, only inside the netns).
#
# Usage (BALLAST_LAB_DIR defaults to <repo>/.lab; BALLAST_LAB_PREFIX, default "ballast", names
# the namespaces so two labs can coexist; BALLAST_LAB_CACHE, default $BALLAST_LAB_DIR/cache, holds
# the guest kernel/initrd and the QEMU capability caches that make a warm `up` take < 1 s):
#   deploy/lab/lab.sh up [--locks]              # ~10-20 s; builds guest artefacts if missing or stale
#       --locks (or BALLAST_LAB_LOCKS=1): libvirt's lock manager, one virtlockd per hv, leases in
#       $BALLAST_LAB_DIR/shared/lockspace (shared by all hvs): a disk runs on one hv at a time
#   deploy/lab/lab.sh status [--json]           # daemons alive? domains and their state
#   deploy/lab/lab.sh start-guest hv-a g1 [--burn] [--mem MiB] [--disk MiB] [--shared-disk MiB]
#                                          [--cdrom] [--network NET] [--cpu-model M]   # define + start
#   deploy/lab/lab.sh define-guest hv-a g1 [same options]     # define only
#       --disk: a local qcow2 (cache=none) in hv-a's private /var/lib/libvirt/images (pool ballast-images)
#       --shared-disk: a qcow2 in $BALLAST_LAB_DIR/shared, which every hv sees (shared storage)
#       --shared-disk-file FILE: an existing file in $BALLAST_LAB_DIR/shared as the disk (another guest's disk)
#       --qemu-locks-off: run QEMU without its own image locks (only virtlockd guards the disks)
#       --cdrom: a small ISO-sized raw file in hv-a's private images dir, as a read-only CD-ROM
#       --network NET: an interface on libvirt network NET (see net-define)
#   deploy/lab/lab.sh net-define hv-a NET       # bridge br-NET in hv-a's netns + libvirt network NET (bridge mode) on it
#   deploy/lab/lab.sh disk-write g1 WORD        # the guest writes "BALLAST-MARK WORD" to its disk's first sector
#   deploy/lab/lab.sh disk-read g1              # the guest reads that sector back (caches dropped): prints the line
#   deploy/lab/lab.sh vol-path hv-a FILE        # does FILE exist in hv-a's images dir? prints its path and size
#   deploy/lab/lab.sh images-pool hv-a          # the storage pool over hv-a's images dir (made if missing)
#   deploy/lab/lab.sh burn g1 on|off            # toggle the CPU burner at runtime (ttyS1)
#   deploy/lab/lab.sh ticks g1 [--raw]          # tick numbers from the console log
#   deploy/lab/lab.sh where g1                  # hv(s) on which g1 is running
#   deploy/lab/lab.sh migrate g1 hv-b           # virsh migrate --live --p2p ... from where it runs
#   deploy/lab/lab.sh destroy-guest g1          # destroy + undefine wherever it is
#   deploy/lab/lab.sh virsh hv-a list --all     # any virsh command against one hv (with timeout)
#   deploy/lab/lab.sh uri hv-a                  # print the hv's unix-socket URI
#   deploy/lab/lab.sh lockd-pid hv-a            # PID of the hv's virtlockd (labs up with --locks)
#   deploy/lab/lab.sh stop-hv hv-c [--destroy-guests]   # SIGTERM libvirtd (QEMU keeps running)
#   deploy/lab/lab.sh kill-hv hv-c              # "power loss": SIGKILL libvirtd and its QEMUs
#   deploy/lab/lab.sh start-hv hv-c             # (re)start that libvirtd; it reattaches to QEMUs
#   deploy/lab/lab.sh net-down hv-c | net-up hv-c       # cut / restore hv-c's link to the bridge
#   deploy/lab/lab.sh down                      # stop BMCs, destroy domains, stop daemons, delete netns
#
# BMCs (IPMI over LAN, one ipmi_sim per hv on 127.0.0.1; needs openipmi, and ipmitool to drive them):
#   deploy/lab/lab.sh bmc-up [hv-a hv-b ...]    # start the BMCs (default: all three); idempotent, ~0.1 s each
#   deploy/lab/lab.sh bmc hv-b                  # its connection info (JSON): address, port, user, password_file
#   deploy/lab/lab.sh bmc-stop hv-b             # a dead BMC: stop only that ipmi_sim (bmc-up hv-b restarts it)
#   deploy/lab/lab.sh bmc-down                  # stop every BMC (down does it too)
#   ipmitool -I lanplus -C 3 -H 127.0.0.1 -p PORT -U admin -f PASSWORD_FILE chassis power status|on|off
#       off = power loss: hook $BALLAST_LAB_DIR/state/agent-<hv>.stop (if executable), then kill-hv
#       on  = boot: start-hv, then hook state/agent-<hv>.start; with the flag file state/bmc-<hv>.noboot
#             the request is accepted but the hypervisor does not come back
#       status = is that hv's libvirtd alive (on while a boot, off while a power-off is under way)
#
# Watching a migration by hand:
#   eval "$(deploy/lab/lab.sh env)"             # exports LAB_URI_HV_A, LAB_URI_HV_B, ...
#   deploy/lab/lab.sh start-guest hv-a g1 --burn
#   tail -f .lab/consoles/g1.log &              # TICK <n> <uptime> burn=1 every second
#   virsh -c "$LAB_URI_HV_A" migrate --live --p2p --persistent --undefinesource --verbose \
#        --migrateuri tcp://10.77.0.2 g1 qemu+tcp://10.77.0.2/system
#   virsh -c "$LAB_URI_HV_B" list               # g1 now runs on hv-b; ticks went on
#
# Guest agent channel: every guest has <channel type='unix'><target type='virtio'
# name='org.qemu.guest_agent.0'/></channel> with no source path, so each hv's libvirtd picks its own
# socket under its private /var/lib/libvirt/qemu/channel/target (and leaves it out of the migratable
# XML: a migrated or start-recorded guest gets the destination's). The guest's init opens the port
# right after its BOOT line ("AGENT up /dev/vport..." on the console), as a started qemu-ga would:
#   deploy/lab/lab.sh virsh hv-a dumpxml g1 | grep guest_agent   # state='connected' once it has
#
# Files: $BALLAST_LAB_DIR/cache (kernel, initrd; kept), state/ (PIDs, lab.json, lab.env, bmc/<hv>/: the BMC's
# config, 0600 password file, events.log), shared/ (shared disks),
# host_mapping.csv, lab.json, hv/<hv>/ (daemon dirs, log/ kept after down), consoles/<guest>.log
# (shared by all hvs at the same path, opened in append mode, so a migrated guest's ticks continue
# in the same file), guests/<guest>.xml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
LAB="${BALLAST_LAB_DIR:-$repo/.lab}"
mkdir -p "$LAB"
LAB="$(cd "$LAB" && pwd)"
PREFIX="${BALLAST_LAB_PREFIX:-ballast}"
CACHE="${BALLAST_LAB_CACHE:-$LAB/cache}"   # guest artefacts + QEMU capability caches (kept)
mkdir -p "$CACHE"; CACHE="$(cd "$CACHE" && pwd)"
HUB="$PREFIX-hub"
STATE="$LAB/state"
HVS=(hv-a hv-b hv-c)
VIRSH_TIMEOUT="${BALLAST_LAB_VIRSH_TIMEOUT:-30}"

log() { echo "lab: $*" >&2; }
die() { echo "lab: error: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

hv_ip() {
  case "$1" in
    hv-a) echo 10.77.0.1 ;; hv-b) echo 10.77.0.2 ;; hv-c) echo 10.77.0.3 ;;
    *) die "unknown hypervisor '$1' (hv-a, hv-b, hv-c)" ;;
  esac
}
hv_ns() { hv_ip "$1" >/dev/null; echo "$PREFIX-$1"; }
hv_dir() { echo "$LAB/hv/$1"; }
hv_sock() { echo "$LAB/hv/$1/run/libvirt/libvirt-sock"; }
hv_uri() { echo "qemu+unix:///system?socket=$(hv_sock "$1")"; }
hv_uuid() {
  case "$1" in
    hv-a) echo 6b0a11a5-7000-4a00-8a00-00000000000a ;;
    hv-b) echo 6b0a11a5-7000-4a00-8a00-00000000000b ;;
    hv-c) echo 6b0a11a5-7000-4a00-8a00-00000000000c ;;
  esac
}
ns_exists() { [ -e "/run/netns/$1" ]; }

# virsh against one hv, always bounded (virsh can hang and ignore SIGTERM).
vsh() {
  local hv="$1"; shift
  timeout -s KILL "$VIRSH_TIMEOUT" virsh -q -c "$(hv_uri "$hv")" "$@"
}

# PID of the hv's libvirtd if it is alive and really ours (comm + netns checked, PIDs get reused).
hv_pid() {
  local f="$STATE/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ] || return 1
  [ "$(ip netns identify "$pid" 2>/dev/null)" = "$(hv_ns "$1")" ] || return 1
  echo "$pid"
}

write_configs() {
  local hv="$1" d ip
  d="$(hv_dir "$hv")"; ip="$(hv_ip "$hv")"
  mkdir -p "$d"/{run/libvirt,run/ballast-lab,lib/qemu,lib/dnsmasq,cache/qemu,log/qemu,etc/qemu}
  cat >"$d/etc/libvirtd.conf" <<EOF
# Ballast lab daemon $hv (generated by deploy/lab/lab.sh)
listen_tls = 0
listen_tcp = 1
listen_addr = "$ip"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
unix_sock_rw_perms = "0770"
host_uuid = "$(hv_uuid "$hv")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
keepalive_interval = 5
keepalive_count = 5
EOF
  cat >"$d/etc/qemu.conf" <<EOF
# Ballast lab daemon $hv (generated by deploy/lab/lab.sh)
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = "$ip"
migration_host = "$ip"
EOF
  if locks_on; then
    # libvirt's lock manager: every disk gets an automatic lease (auto_disk_leases, the default),
    # held by this hv's virtlockd in a lockspace directory that all hvs share, so a disk in use on
    # one hv cannot be started on another.
    echo 'lock_manager = "lockd"' >>"$d/etc/qemu.conf"
    cat >"$d/etc/qemu-lockd.conf" <<EOF
# Ballast lab daemon $hv (generated by deploy/lab/lab.sh)
auto_disk_leases = 1
file_lockspace_dir = "$(lockspace_dir)"
EOF
    cat >"$d/etc/virtlockd.conf" <<EOF
# Ballast lab daemon $hv (generated by deploy/lab/lab.sh)
log_outputs = "3:file:/var/log/libvirt/virtlockd.log"
EOF
  fi
  # Keep the QEMU capability cache across lab cycles: probing costs several seconds per daemon.
  mkdir -p "$CACHE/libvirt-caps/$hv"
}

# ---- lock manager (virtlockd), with `up --locks` or BALLAST_LAB_LOCKS=1 ---------------------------
# Whether this lab runs with locks is decided at `up` and recorded in $STATE/locks, so that a later
# start-hv (by hand or from a BMC power-on) brings virtlockd back too.
locks_on() { [ -f "$STATE/locks" ]; }
lockspace_dir() { echo "$LAB/shared/lockspace"; }
lockd_sock() { echo "$LAB/hv/$1/run/libvirt/virtlockd-sock"; }

# PID of the hv's virtlockd if alive and really ours (comm + netns checked).
lockd_pid() {
  local f="$STATE/$1.lockd.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = virtlockd ] || return 1
  [ "$(ip netns identify "$pid" 2>/dev/null)" = "$(hv_ns "$1")" ] || return 1
  echo "$pid"
}

# Starts the hv's virtlockd and waits for its socket. It runs in the hv's netns (a power loss,
# kill-hv, takes it down with the QEMUs, which frees their leases) and in a mount namespace of its
# own with the hv's /run, /etc/libvirt and /var/log/libvirt, so its socket is the
# /run/libvirt/virtlockd-sock that the hv's libvirtd and QEMUs see. libvirtd's lockd plugin
# registers the lockspace with virtlockd when the QEMU driver loads, and no daemon is started on
# demand without systemd's socket units: virtlockd must be up before libvirtd.
launch_lockd() {
  local hv="$1" d ns pid i
  d="$(hv_dir "$hv")"; ns="$(hv_ns "$hv")"
  if lockd_pid "$hv" >/dev/null; then return 0; fi
  mkdir -p "$(lockspace_dir)"
  rm -f "$(lockd_sock "$hv")" "$d/run/libvirt/virtlockd-admin-sock"
  setsid ip netns exec "$ns" unshare --mount --propagation private -- sh -c '
      set -e
      d="$1"
      mount --bind "$d/run" /run
      mount --bind "$d/log" /var/log/libvirt
      mount --bind "$d/etc" /etc/libvirt
      exec virtlockd -f /etc/libvirt/virtlockd.conf
    ' sh "$d" </dev/null >>"$d/log/virtlockd.stdout" 2>&1 &
  pid=$!
  echo "$pid" >"$STATE/$hv.lockd.pid"
  for i in $(seq 1 100); do
    if [ -S "$(lockd_sock "$hv")" ] && lockd_pid "$hv" >/dev/null; then return 0; fi
    [ -d "/proc/$pid" ] || break
    sleep 0.05
  done
  log "$hv: virtlockd did not come up; last log lines:"
  tail -n 20 "$d/log/virtlockd.stdout" "$d/log/virtlockd.log" >&2 2>/dev/null || true
  return 1
}

# Starts the hv's libvirtd in its netns + a fresh private mount namespace. Does not wait.
launch_hv() {
  local hv="$1" d ns pid
  d="$(hv_dir "$hv")"; ns="$(hv_ns "$hv")"
  ns_exists "$ns" || die "namespace $ns missing (lab not up?)"
  if pid="$(hv_pid "$hv")"; then log "$hv: libvirtd already running (pid $pid)"; return 0; fi
  if locks_on; then launch_lockd "$hv" || die "$hv: virtlockd failed to start"; fi
  rm -f "$d/run/libvirt/libvirt-sock" "$d/run/libvirtd.pid"
  # The capability cache lives in the (kept) lab cache; bind it below /var/cache/libvirt/qemu.
  setsid ip netns exec "$ns" unshare --mount --propagation private -- sh -c '
      set -e
      d="$1"; caps="$2"
      mount --bind "$d/run" /run
      mount --bind "$d/lib" /var/lib/libvirt
      mount --bind "$d/cache" /var/cache/libvirt
      mount --bind "$caps" /var/cache/libvirt/qemu
      mount --bind "$d/log" /var/log/libvirt
      mount --bind "$d/etc" /etc/libvirt
      exec libvirtd --listen -f /etc/libvirt/libvirtd.conf
    ' sh "$d" "$CACHE/libvirt-caps/$hv" </dev/null >>"$d/log/libvirtd.stdout" 2>&1 &
  pid=$!
  echo "$pid" >"$STATE/$hv.pid"
}

# Waits until the hv's daemon answers (first connection probes QEMU capabilities).
wait_hv() {
  local hv="$1" deadline=$(( $(date +%s) + ${2:-90} )) pid
  while :; do
    if ! pid="$(hv_pid "$hv")"; then
      # give exec a moment to turn unshare/sh into libvirtd
      sleep 0.2
      if ! pid="$(hv_pid "$hv")"; then
        log "$hv: libvirtd died; last log lines:"; tail -n 20 "$(hv_dir "$hv")/log/libvirtd.stdout" >&2 || true
        tail -n 20 "$(hv_dir "$hv")/log/libvirtd.log" >&2 2>/dev/null || true
        return 1
      fi
    fi
    if [ -S "$(hv_sock "$hv")" ] && vsh "$hv" version >/dev/null 2>&1; then return 0; fi
    [ "$(date +%s)" -lt "$deadline" ] || { log "$hv: libvirtd did not answer in time"; return 1; }
    sleep 0.2
  done
}

# A real host's libvirtd probes its emulator when it starts. The lab's qemu-nolock wrapper (below)
# would be probed at its first use instead: about 4 s, during which every call to that daemon waits
# (the kept capability cache is mostly outdated: libvirt finds "host cpuid changed" between runs on
# this machine), and that first use was a timed restart on another hv. So labs with locks, the ones
# whose guests run through the wrapper, probe it as each daemon comes up.
warm_emulators() {
  local hv="$1"
  locks_on || return 0
  ensure_nolock_qemu
  vsh "$hv" domcapabilities --emulatorbin "$NOLOCK_QEMU" --virttype qemu >/dev/null 2>&1 ||
    log "$hv: could not probe $NOLOCK_QEMU (its first guest will)"
}

ensure_user() {
  if ! getent passwd libvirt-qemu >/dev/null; then
    getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
    useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
      -g libvirt-qemu libvirt-qemu
    log "created system user libvirt-qemu (libvirt needs it even with user = root)"
  fi
}

preflight() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  local c
  for c in ip unshare libvirtd virsh qemu-system-x86_64 timeout setsid perl busybox; do
    command -v "$c" >/dev/null || die "$c not found (deploy/setup.sh --test installs the lab)"
  done
}

write_mapping() {
  local hv first=1
  # Atomic (temp + rename): BMC power workers run start-hv, hence this, concurrently.
  : >"$LAB/host_mapping.csv.$$"
  {
    echo "{"
    echo "  \"dir\": \"$LAB\", \"prefix\": \"$PREFIX\", \"hub\": \"$HUB\", \"bridge_ip\": \"10.77.0.254\","
    echo "  \"consoles\": \"$LAB/consoles\", \"cache\": \"$CACHE\", \"shared\": \"$LAB/shared\","
    if locks_on; then echo "  \"locks\": true, \"lockspace\": \"$(lockspace_dir)\","; else echo "  \"locks\": false, \"lockspace\": null,"; fi
    echo "  \"hosts\": ["
    for hv in "${HVS[@]}"; do
      [ $first = 1 ] || echo ","
      first=0
      printf '    {"id": "%s", "ip": "%s", "uri": "%s", "socket": "%s", "tcp_uri": "qemu+tcp://%s/system", "netns": "%s", "pid": %s, "virtlockd_pid": %s, "bmc": %s}' \
        "$hv" "$(hv_ip "$hv")" "$(hv_uri "$hv")" "$(hv_sock "$hv")" "$(hv_ip "$hv")" "$(hv_ns "$hv")" "$(cat "$STATE/$hv.pid" 2>/dev/null || echo null)" \
        "$(lockd_pid "$hv" || echo null)" "$(bmc_json "$hv")"
    done
    echo
    echo "  ]"
    echo "}"
  } >"$STATE/lab.json.$$"
  cp "$STATE/lab.json.$$" "$LAB/lab.json.$$"
  mv "$STATE/lab.json.$$" "$STATE/lab.json"
  mv "$LAB/lab.json.$$" "$LAB/lab.json"
  for hv in "${HVS[@]}"; do echo "$hv,$(hv_ip "$hv")" >>"$LAB/host_mapping.csv.$$"; done
  mv "$LAB/host_mapping.csv.$$" "$LAB/host_mapping.csv"
  cmd_env >"$STATE/lab.env.$$"
  mv "$STATE/lab.env.$$" "$STATE/lab.env"
}

cmd_env() {
  local hv v
  echo "export BALLAST_LAB_DIR='$LAB'"
  for hv in "${HVS[@]}"; do
    v="$(echo "$hv" | tr 'a-z-' 'A-Z_')"
    echo "export LAB_URI_$v='$(hv_uri "$hv")'"
    echo "export LAB_IP_$v='$(hv_ip "$hv")'"
  done
}

net_up() {
  local hv ip ns
  ip netns add "$HUB"
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link add br0 type bridge
  ip -n "$HUB" addr add 10.77.0.254/24 dev br0
  ip -n "$HUB" link set br0 up
  for hv in "${HVS[@]}"; do
    ns="$(hv_ns "$hv")"; ip="$(hv_ip "$hv")"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$HUB" link add "v-$hv" type veth peer name eth0 netns "$ns"
    ip -n "$HUB" link set "v-$hv" master br0 up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
}

cmd_up() {
  preflight
  local t0 hv pids=() rc=0 locks="${BALLAST_LAB_LOCKS:-0}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --locks) locks=1 ;;
      *) die "up: unknown option $1" ;;
    esac
    shift
  done
  [ "$locks" = 1 ] && { command -v virtlockd >/dev/null || die "virtlockd not found (deploy/setup.sh --test installs libvirt-daemon)"; }
  t0="$(now_ms)"
  if [ -f "$STATE/up" ]; then
    local healthy=1 had=0
    for hv in "${HVS[@]}"; do hv_pid "$hv" >/dev/null || healthy=0; done
    if locks_on; then
      had=1
      for hv in "${HVS[@]}"; do lockd_pid "$hv" >/dev/null || healthy=0; done
    fi
    if [ $healthy = 1 ] && [ "$had" = "$locks" ]; then log "already up"; return 0; fi
    if [ $healthy = 1 ]; then log "up with locks=$had, locks=$locks wanted: tearing it down first"; else log "stale lab state found, tearing it down first"; fi
    cmd_down
  fi
  ns_exists "$HUB" && { log "leftover namespaces found, cleaning up first"; cmd_down; }
  # Every time (idempotent, ~30 ms when fresh): a cache from before a guest change (a module, the
  # init script) is refreshed. Without the network an existing, older cache still boots guests.
  if ! BALLAST_LAB_DIR="$LAB" BALLAST_LAB_CACHE="$CACHE" "$here/prepare-guest.sh" >/dev/null; then
    [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initrd.gz" ] || die "cannot build the guest artefacts (deploy/lab/prepare-guest.sh)"
    log "warning: cannot refresh the guest artefacts in $CACHE; using the ones there (their guests may lack newer features)"
  fi
  [ "${#LAB}" -le 60 ] || die "BALLAST_LAB_DIR path too long (${#LAB} > 60 chars): unix socket paths are limited to 108"
  ensure_user
  for d in /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt; do mkdir -p "$d"; done
  rm -rf "$LAB/hv" "$STATE" "$LAB/consoles" "$LAB/guests" "$LAB/shared"
  mkdir -p "$STATE" "$LAB/consoles" "$LAB/guests" "$LAB/shared"
  [ "$locks" = 1 ] && touch "$STATE/locks"
  # Any failure (or Ctrl-C) from here on tears down whatever was created.
  trap 'rc=$?; trap - EXIT INT TERM; if [ ! -f "$STATE/up" ]; then log "up failed, tearing down"; cmd_down || true; fi; exit $rc' EXIT
  trap 'exit 130' INT TERM
  net_up
  for hv in "${HVS[@]}"; do write_configs "$hv"; done
  for hv in "${HVS[@]}"; do launch_hv "$hv"; done
  # Written once, before the daemons are probed in parallel (each would write it otherwise).
  if locks_on; then ensure_nolock_qemu; fi
  for hv in "${HVS[@]}"; do { wait_hv "$hv" && warm_emulators "$hv"; } & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || die "a daemon failed to come up"
  # the data path between the namespaces (source daemon -> destination daemon)
  ip netns exec "$(hv_ns hv-a)" busybox ping -c1 -W2 10.77.0.3 >/dev/null || die "no connectivity hv-a -> hv-c"
  touch "$STATE/up"
  trap - EXIT INT TERM
  write_mapping
  log "up in $(( $(now_ms) - t0 )) ms$(locks_on && echo " (locks: virtlockd, lockspace $(lockspace_dir))"): $(for hv in "${HVS[@]}"; do printf '%s=%s ' "$hv" "$(hv_ip "$hv")"; done)"
  log "mapping: $LAB/host_mapping.csv, $LAB/lab.json, env: $STATE/lab.env"
}

# Kills every process left in the namespace (QEMUs orphaned by a dead libvirtd). These are
# processes our daemons started in our own namespace.
kill_ns_procs() {
  local ns="$1" sig="${2:-TERM}" p
  ns_exists "$ns" || return 0
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill "-$sig" "$p" 2>/dev/null || true; done
}

wait_ns_empty() {
  local ns="$1" i
  for i in $(seq 1 50); do
    [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 1
}

destroy_all_domains() {
  local hv="$1" dom
  hv_pid "$hv" >/dev/null || return 0
  for dom in $(vsh "$hv" list --name 2>/dev/null || true); do
    vsh "$hv" destroy "$dom" >/dev/null 2>&1 || log "$hv: destroy $dom failed"
  done
}

stop_daemon() {
  local hv="$1" pid i
  pid="$(hv_pid "$hv")" || { rm -f "$STATE/$hv.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  if [ -d "/proc/$pid" ]; then log "$hv: libvirtd ignored SIGTERM, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  for i in $(seq 1 20); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
  rm -f "$STATE/$hv.pid"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  local t0 hv ns p
  t0="$(now_ms)"
  # 0. BMCs and their power workers first, so that no power-on restarts a daemon behind our back.
  bmc_down_all
  # 1. destroy domains first (in parallel): a dying libvirtd leaves QEMU running.
  local pids=()
  for hv in "${HVS[@]}"; do destroy_all_domains "$hv" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || true; done
  # 2. stop daemons by recorded PID.
  pids=()
  for hv in "${HVS[@]}"; do stop_daemon "$hv" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || true; done
  # 3. anything still alive inside our namespaces (orphaned QEMU) goes too.
  for hv in "${HVS[@]}"; do kill_ns_procs "$(hv_ns "$hv")" TERM; done
  for hv in "${HVS[@]}"; do
    ns="$(hv_ns "$hv")"
    if ns_exists "$ns" && ! wait_ns_empty "$ns"; then kill_ns_procs "$ns" KILL; wait_ns_empty "$ns" || log "$ns: processes remain: $(ip netns pids "$ns" | tr '\n' ' ')"; fi
  done
  kill_ns_procs "$HUB" KILL
  # 4. namespaces (their veths and the bridge go with them); private mount namespaces die with
  #    their last process, nothing was mounted in the root namespace.
  for hv in "${HVS[@]}"; do ns="$(hv_ns "$hv")"; ns_exists "$ns" && ip netns del "$ns"; done
  ns_exists "$HUB" && ip netns del "$HUB"
  # 5. runtime dirs (logs and the cache stay).
  for hv in "${HVS[@]}"; do
    [ -d "$LAB/hv/$hv" ] && rm -rf "$LAB/hv/$hv"/{run,lib,cache,etc}
  done
  rm -rf "$STATE" "$LAB/shared"
  rm -f "$LAB/lab.json" "$LAB/host_mapping.csv"
  log "down in $(( $(now_ms) - t0 )) ms"
}

cmd_status() {
  local json=0 hv pid doms alive first=1
  [ "${1:-}" = --json ] && json=1
  [ $json = 1 ] && printf '{"locks": %s, "hosts": [\n' "$(locks_on && echo true || echo false)"
  for hv in "${HVS[@]}"; do
    alive=false; doms=""
    if pid="$(hv_pid "$hv")"; then
      alive=true
      doms="$(vsh "$hv" list --all 2>/dev/null | awk 'NF>=3 {n=$2; $1="";$2=""; sub(/^ +/,""); print n"="$0}' | tr ' ' '_' || true)"
    fi
    if [ $json = 1 ]; then
      [ $first = 1 ] || echo ","
      first=0
      printf '  {"id": "%s", "ip": "%s", "netns": %s, "libvirtd": %s, "pid": %s, "domains": {' "$hv" "$(hv_ip "$hv")" \
        "$(ns_exists "$(hv_ns "$hv")" && echo true || echo false)" "$alive" "${pid:-null}"
      local f2=1 kv
      for kv in $doms; do [ $f2 = 1 ] || printf ', '; f2=0; printf '"%s": "%s"' "${kv%%=*}" "${kv#*=}" | tr '_' ' '; done
      printf '}, "virtlockd_pid": %s, "bmc": %s}' "$(lockd_pid "$hv" || echo null)" "$(bmc_json "$hv")"
    else
      printf '%-5s %-10s netns=%s libvirtd=%s' "$hv" "$(hv_ip "$hv")" \
        "$(ns_exists "$(hv_ns "$hv")" && echo up || echo absent)" "$([ $alive = true ] && echo "alive(pid $pid)" || echo down)"
      if locks_on; then printf ' virtlockd=%s' "$(lockd_pid "$hv" | sed 's/^/alive(pid /; s/$/)/' | grep . || echo down)"; fi
      [ -n "$doms" ] && printf ' domains: %s' "$(echo $doms | tr '_' ' ')"
      if [ -f "$STATE/bmc/$hv/port" ]; then
        printf ' bmc=127.0.0.1:%s(%s)' "$(cat "$STATE/bmc/$hv/port")" "$(bmc_pid "$hv" >/dev/null && echo alive || echo stopped)"
      fi
      echo
    fi
  done
  [ $json = 1 ] && printf '\n]}\n'
  return 0
}

guest_xml() {
  local name="$1" burn="$2" mem="$3" devices="${4:-}" cpu="${5:-qemu64}" emulator="${6:-/usr/bin/qemu-system-x86_64}"
  cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <currentMemory unit='MiB'>$mem</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$CACHE/vmlinuz</kernel>
    <initrd>$CACHE/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet loglevel=3 panic=-1 ballast.name=$name ballast.burn=$burn</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>$cpu</model></cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$emulator</emulator>
    <serial type='file'>
      <source path='$LAB/consoles/$name.log' append='on'/>
      <target port='0'/>
    </serial>
    <serial type='unix'>
      <source mode='bind' path='/run/ballast-lab/$name.ctl'/>
      <target port='1'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <controller type='usb' model='none'/>
$devices
    <memballoon model='virtio'>
      <stats period='5'/>
    </memballoon>
  </devices>
</domain>
EOF
}

# The hv's private images directory as a libvirt dir pool (created on first use, transient: it
# goes with the daemon). Volumes are made through libvirt because the directory exists only in the
# hv's own mount namespace.
IMAGES=/var/lib/libvirt/images
# Prints the name of the active pool over $IMAGES (libvirt refuses a second pool over the same
# directory, and the agent may have made one), creating ballast-images when there is none.
ensure_pool() {
  local hv="$1" p
  for p in $(vsh "$hv" pool-list --name 2>/dev/null); do
    if vsh "$hv" pool-dumpxml "$p" 2>/dev/null | grep -q "<path>$IMAGES</path>"; then echo "$p"; return 0; fi
  done
  mkdir -p "$(hv_dir "$hv")/lib/images"
  vsh "$hv" pool-create-as ballast-images dir --target "$IMAGES" >/dev/null
  echo ballast-images
}

disk_xml() {
  local file="$1" target="$2" device="${3:-disk}" format="${4:-qcow2}"
  if [ "$device" = cdrom ]; then
    printf "    <disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n      <source file='%s'/>\n      <target dev='%s' bus='ide'/>\n      <readonly/>\n    </disk>" "$file" "$target"
  else
    printf "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s' cache='none'/>\n      <source file='%s'/>\n      <target dev='%s' bus='virtio'/>\n    </disk>" "$format" "$file" "$target"
  fi
}

# QEMU with its own image locking switched off: libvirt's -blockdev "file" nodes get "locking":"off".
# All lab hvs share one kernel, so QEMU's OFD locks on an image would refuse a second writer on
# another hv before libvirt's lock manager is asked (libvirt acquires leases only when it resumes
# the CPUs). A guest run through this emulator stands for a host whose QEMU locks the other hosts
# cannot see (block storage, a file system that keeps OFD locks node-local): only virtlockd's
# leases guard its disks. Written into the kept cache, and only when changed, so libvirt probes its
# capabilities once per machine.
NOLOCK_QEMU="$CACHE/qemu-nolock"
ensure_nolock_qemu() {
  local want
  want='#!/usr/bin/perl
# Ballast lab (deploy/lab/lab.sh): qemu-system-x86_64 without its own image locking.
exec "/usr/bin/qemu-system-x86_64", map { /^\{.*"driver":"file"/ ? s/"driver":"file"/"driver":"file","locking":"off"/r : $_ } @ARGV;'
  if [ ! -x "$NOLOCK_QEMU" ] || [ "$(cat "$NOLOCK_QEMU")" != "$want" ]; then
    # $BASHPID, not $$: a subshell keeps its parent's $$, so two writers would share one file.
    printf '%s\n' "$want" >"$NOLOCK_QEMU.$BASHPID"
    chmod 755 "$NOLOCK_QEMU.$BASHPID"
    mv "$NOLOCK_QEMU.$BASHPID" "$NOLOCK_QEMU"
  fi
}

cmd_define_guest() {
  local start="$1"; shift
  local hv="${1:?hv}" name="${2:?guest name}" burn=0 mem=128 disk="" shared="" cdrom=0 net="" cpu=qemu64 devices="" pool
  local emulator=/usr/bin/qemu-system-x86_64 disk_file=""
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --burn) burn=1 ;;
      --mem) mem="$2"; shift ;;
      --disk) disk="$2"; shift ;;
      --shared-disk) shared="$2"; shift ;;
      --cdrom) cdrom=1 ;;
      --network) net="$2"; shift ;;
      --cpu-model) cpu="$2"; shift ;;
      --shared-disk-file) disk_file="$2"; shift ;;
      --qemu-locks-off) ensure_nolock_qemu; emulator="$NOLOCK_QEMU" ;;
      *) die "unknown option $1" ;;
    esac
    shift
  done
  hv_pid "$hv" >/dev/null || die "$hv: libvirtd not running"
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad guest name '$name'"
  [[ "$cpu" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad CPU model '$cpu'"
  mkdir -p "$LAB/guests" "$LAB/consoles"
  if [ -n "$disk" ]; then
    [[ "$disk" =~ ^[0-9]+$ ]] || die "--disk wants MiB"
    pool="$(ensure_pool "$hv")"
    vsh "$hv" vol-create-as "$pool" "$name.qcow2" "${disk}M" --format qcow2 >/dev/null
    devices+="$(disk_xml "$IMAGES/$name.qcow2" vda)"$'\n'
  elif [ -n "$shared" ]; then
    [[ "$shared" =~ ^[0-9]+$ ]] || die "--shared-disk wants MiB"
    mkdir -p "$LAB/shared"
    rm -f "$LAB/shared/$name.qcow2"
    qemu-img create -q -f qcow2 "$LAB/shared/$name.qcow2" "${shared}M"
    devices+="$(disk_xml "$LAB/shared/$name.qcow2" vda)"$'\n'
  elif [ -n "$disk_file" ]; then
    [[ "$disk_file" =~ ^[A-Za-z0-9_.-]+$ ]] && [ -f "$LAB/shared/$disk_file" ] || die "--shared-disk-file: no file '$disk_file' in $LAB/shared"
    devices+="$(disk_xml "$LAB/shared/$disk_file" vda)"$'\n'
  fi
  if [ "$cdrom" = 1 ]; then
    pool="$(ensure_pool "$hv")"
    vsh "$hv" vol-create-as "$pool" "$name.iso" 1M --format raw >/dev/null
    devices+="$(disk_xml "$IMAGES/$name.iso" hdc cdrom)"$'\n'
  fi
  if [ -n "$net" ]; then
    [[ "$net" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad network name '$net'"
    devices+="    <interface type='network'><source network='$net'/><model type='e1000'/></interface>"$'\n'
  fi
  guest_xml "$name" "$burn" "$mem" "$devices" "$cpu" "$emulator" >"$LAB/guests/$name.xml"
  : >"$LAB/consoles/$name.log"
  vsh "$hv" define "$LAB/guests/$name.xml" >/dev/null
  if [ "$start" = 1 ]; then
    vsh "$hv" start "$name" >/dev/null
    log "$name started on $hv (burn=$burn, ${mem} MiB), console: $LAB/consoles/$name.log"
  else
    log "$name defined on $hv"
  fi
}

cmd_where() {
  local name="${1:?guest name}" hv out=()
  for hv in "${HVS[@]}"; do
    hv_pid "$hv" >/dev/null || continue
    if vsh "$hv" list --name 2>/dev/null | grep -qx -- "$name"; then out+=("$hv"); fi
  done
  [ ${#out[@]} -gt 0 ] && printf '%s\n' "${out[@]}"
  return 0
}

# Sends one line to the guest's control port (ttyS1), wherever it runs.
guest_command() {
  local name="$1" line="$2" hv sock
  hv="$(cmd_where "$name" | head -n1)"
  [ -n "$hv" ] || die "$name is not running anywhere"
  sock="$(hv_dir "$hv")/run/ballast-lab/$name.ctl"
  perl -MIO::Socket::UNIX -e '
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect $ARGV[0]: $!\n";
    print $s "$ARGV[1]\n"; $s->flush; select(undef, undef, undef, 0.3); close $s;' "$sock" "$line"
}

cmd_burn() {
  local name="${1:?guest name}" state="${2:?on|off}"
  case "$state" in on|off) ;; *) die "burn: on|off" ;; esac
  guest_command "$name" "burn $state"
}

# Waits (bounded) for a console line matching a pattern that appears after `from` lines.
wait_console() {
  local f="$1" from="$2" pattern="$3" deadline=$(( $(date +%s) + ${4:-30} )) line
  while :; do
    line="$(tail -n +"$((from + 1))" "$f" | tr -d '\r' | grep -a -m1 -E "$pattern" || true)"
    [ -n "$line" ] && { echo "$line"; return 0; }
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

cmd_disk_write() {
  local name="${1:?guest name}" word="${2:?word}" f n
  [[ "$word" =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad marker '$word'"
  f="$LAB/consoles/$name.log"; n="$(wc -l <"$f")"
  guest_command "$name" "disk-write $word"
  wait_console "$f" "$n" '^CMD disk-write (ok|failed)' | grep -q ' ok$' || die "$name: disk-write failed (no /dev/vda?)"
}

cmd_disk_read() {
  local name="${1:?guest name}" f n line
  f="$LAB/consoles/$name.log"; n="$(wc -l <"$f")"
  guest_command "$name" "disk-read"
  line="$(wait_console "$f" "$n" '^DISK ')" || die "$name: no answer to disk-read"
  echo "${line#DISK }"
}

cmd_net_define() {
  local hv="${1:?hv}" net="${2:?network name}" x
  [[ "$net" =~ ^[A-Za-z0-9_-]{1,10}$ ]] || die "network name: 1-10 of A-Z a-z 0-9 _ - (it names the bridge br-NET)"
  x="$LAB/state/net-$hv-$net.xml"
  # A Linux bridge in the hv's namespace, and a libvirt network in bridge mode on it: libvirt's own
  # NAT/isolated networks need iptables (not installed: libvirt-daemon-system is left out).
  ip -n "$(hv_ns "$hv")" link add "br-$net" type bridge
  ip -n "$(hv_ns "$hv")" link set "br-$net" up
  printf "<network><name>%s</name><forward mode='bridge'/><bridge name='br-%s'/></network>\n" "$net" "$net" >"$x"
  vsh "$hv" net-create "$x" >/dev/null
  log "$hv: network $net (bridge br-$net) up"
}

cmd_vol_path() {
  local hv="${1:?hv}" file="${2:?file}" pool
  pool="$(ensure_pool "$hv")"
  vsh "$hv" pool-refresh "$pool" >/dev/null
  vsh "$hv" vol-info --pool "$pool" "$file" --bytes
}

cmd_ticks() {
  local name="${1:?guest name}" f="$LAB/consoles/${1:-}.log"
  [ -f "$f" ] || die "no console log $f"
  if [ "${2:-}" = --raw ]; then grep -a '^TICK ' "$f" | tr -d '\r' || true; else { grep -a '^TICK ' "$f" || true; } | awk '{print $2}'; fi
}

cmd_destroy_guest() {
  local name="${1:?guest name}" hv
  for hv in "${HVS[@]}"; do
    hv_pid "$hv" >/dev/null || continue
    vsh "$hv" destroy "$name" >/dev/null 2>&1 || true
    vsh "$hv" undefine "$name" >/dev/null 2>&1 || true
  done
}

cmd_migrate() {
  local name="${1:?guest name}" dst="${2:?destination hv}" src dip
  shift 2
  src="$(cmd_where "$name" | head -n1)"
  [ -n "$src" ] || die "$name is not running"
  dip="$(hv_ip "$dst")"
  VIRSH_TIMEOUT="${BALLAST_LAB_MIGRATE_TIMEOUT:-120}" vsh "$src" migrate --live --p2p --persistent --undefinesource \
    --migrateuri "tcp://$dip" "$@" "$name" "qemu+tcp://$dip/system"
}

cmd_stop_hv() {
  local hv="${1:?hv}"
  hv_ip "$hv" >/dev/null
  [ "${2:-}" = --destroy-guests ] && destroy_all_domains "$hv"
  stop_daemon "$hv"
  log "$hv: libvirtd stopped"
}

cmd_kill_hv() {
  local hv="${1:?hv}" pid ns
  ns="$(hv_ns "$hv")"
  if pid="$(hv_pid "$hv")"; then kill -KILL "$pid" 2>/dev/null || true; fi
  kill_ns_procs "$ns" KILL
  wait_ns_empty "$ns" || true
  rm -f "$STATE/$hv.pid" "$STATE/$hv.lockd.pid"
  log "$hv: libvirtd and its guests killed"
}

cmd_start_hv() {
  local hv="${1:?hv}" t0
  t0="$(now_ms)"
  hv_ip "$hv" >/dev/null
  [ -f "$STATE/up" ] || die "lab is not up"
  launch_hv "$hv"
  wait_hv "$hv" 60
  warm_emulators "$hv"
  write_mapping
  log "$hv: libvirtd up in $(( $(now_ms) - t0 )) ms"
}

cmd_net() {
  local hv="${1:?hv}" state="$2"
  hv_ip "$hv" >/dev/null
  ip -n "$HUB" link set "v-$hv" "$state"
  log "$hv: link $state"
}

# ---- BMCs: one ipmi_sim (OpenIPMI's LAN BMC simulator) per hv, on 127.0.0.1 ----------------------
# The orchestrator runs in the root namespace, so the BMCs listen on loopback there, each on its own
# UDP port. Its chassis_control program (bmc-chassis.sh) turns "power off" into a power loss of
# that hv and "power on" into a boot. Files: $STATE/bmc/<hv>/{lan.conf,emu.cmd,chassis,password,
# port,pid,sim/,ipmi_sim.log,events.log}.
BMC_USER=admin

bmc_dir() { echo "$STATE/bmc/$1"; }

# PID of the hv's ipmi_sim if alive and really ours (comm and its config path checked).
bmc_pid() {
  local d pid
  d="$(bmc_dir "$1")"
  [ -f "$d/pid" ] || return 1
  pid="$(cat "$d/pid")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ipmi_sim ] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "-c $d/lan.conf " || return 1
  echo "$pid"
}

bmc_json() {
  local hv="$1" d pid alive=false
  d="$(bmc_dir "$hv")"
  [ -f "$d/port" ] || { echo null; return 0; }
  pid="$(bmc_pid "$hv")" && alive=true
  printf '{"address": "127.0.0.1", "port": %s, "user": "%s", "password_file": "%s", "alive": %s, "pid": %s}' \
    "$(cat "$d/port")" "$BMC_USER" "$d/password" "$alive" "${pid:-null}"
}

udp_port_used() { [ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]; }

bmc_write_config() {
  local hv="$1" port="$2" d
  d="$(bmc_dir "$hv")"
  (
    umask 077
    cat >"$d/lan.conf" <<EOF
# Ballast lab BMC for $hv (generated by deploy/lab/lab.sh; holds the password: 0600)
name "$PREFIX-$hv"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid $(hv_uuid "$hv" | tr -d '-')
  endlan
  chassis_control "$d/chassis"
  user 2 true "$BMC_USER" "$(cat "$d/password")" admin 10 md5
EOF
  )
}

bmc_start() {
  local hv="$1" d pid port tries i
  d="$(bmc_dir "$hv")"
  if pid="$(bmc_pid "$hv")"; then log "$hv: BMC already running (pid $pid, port $(cat "$d/port"))"; return 0; fi
  mkdir -p "$d/sim"
  chmod 700 "$STATE/bmc" "$d"
  if [ ! -s "$d/password" ]; then
    # IPMI passwords are at most 16 bytes (longer ones: every session is refused).
    ( umask 077; head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/password" )
  fi
  chmod 600 "$d/password"
  printf 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n' >"$d/emu.cmd"
  # ipmi_sim runs chassis_control with no arguments of ours: a wrapper carries the lab's identity.
  cat >"$d/chassis" <<EOF
#!/bin/sh
BALLAST_LAB_DIR='$LAB' BALLAST_LAB_PREFIX='$PREFIX' BALLAST_LAB_CACHE='$CACHE' exec bash '$here/bmc-chassis.sh' '$hv' "\$@"
EOF
  chmod 700 "$d/chassis"
  # The same port across bmc-stop/bmc-up; the first one derived from the lab's prefix so labs side
  # by side rarely collide, and checked: ipmi_sim stays alive even when it cannot bind its port.
  if [ -s "$d/port" ]; then
    port="$(cat "$d/port")"
  else
    local idx=0 h
    for h in "${HVS[@]}"; do [ "$h" = "$hv" ] && break; idx=$((idx + 1)); done
    port=$(( 20000 + ($(printf '%s' "$PREFIX" | cksum | cut -d' ' -f1) % 3000) * 4 + idx ))
  fi
  for tries in $(seq 1 20); do
    if udp_port_used "$port"; then port=$((port + 3)); continue; fi
    bmc_write_config "$hv" "$port"
    setsid ipmi_sim -c "$d/lan.conf" -f "$d/emu.cmd" -s "$d/sim" -n </dev/null >>"$d/ipmi_sim.log" 2>&1 &
    pid=$!
    echo "$pid" >"$d/pid"
    for i in $(seq 1 40); do
      if ss -Hlunp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
        echo "$port" >"$d/port"
        log "$hv: BMC on 127.0.0.1:$port (pid $pid)"
        return 0
      fi
      [ -d "/proc/$pid" ] || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    log "$hv: BMC could not listen on port $port, trying another"
    port=$((port + 3))
  done
  die "$hv: BMC did not start (see $d/ipmi_sim.log)"
}

bmc_stop() {
  local hv="$1" pid i
  pid="$(bmc_pid "$hv")" || { rm -f "$(bmc_dir "$hv")/pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 20); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
  if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$(bmc_dir "$hv")/pid"
}

# The power workers bmc-chassis.sh started (each leads its own process group).
bmc_stop_workers() {
  local hv="$1" kind f pid
  for kind in on off; do
    f="$(bmc_dir "$hv")/$kind.pid"
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "bmc-chassis.sh $hv worker $kind"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

bmc_down_all() {
  local hv
  [ -d "$STATE/bmc" ] || return 0
  for hv in "${HVS[@]}"; do
    bmc_stop "$hv"
    bmc_stop_workers "$hv"
  done
  rm -rf "$STATE/bmc"
}

write_mapping_if_up() { if [ -f "$STATE/up" ]; then write_mapping; fi; }

cmd_bmc_up() {
  local hv c hvs=("$@")
  [ "$(id -u)" = 0 ] || die "must run as root"
  for c in ipmi_sim ss setsid; do command -v "$c" >/dev/null || die "$c not found (deploy/setup.sh --test installs openipmi)"; done
  [ -f "$STATE/up" ] || die "lab is not up"
  [ ${#hvs[@]} -gt 0 ] || hvs=("${HVS[@]}")
  for hv in "${hvs[@]}"; do hv_ip "$hv" >/dev/null; bmc_start "$hv"; done
  write_mapping
}

cmd_bmc_stop() {
  local hv="${1:?hv}"
  hv_ip "$hv" >/dev/null
  bmc_stop "$hv"
  write_mapping_if_up
  log "$hv: BMC stopped"
}

cmd_bmc() {
  local hv="${1:?hv}"
  hv_ip "$hv" >/dev/null
  [ -f "$(bmc_dir "$hv")/port" ] || die "$hv: no BMC (lab.sh bmc-up $hv)"
  printf '{"id": "%s", %s\n' "$hv" "$(bmc_json "$hv" | sed 's/^{//')"
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env ;;
    uri) hv_uri "${1:?hv}" ;;
    start-guest) cmd_define_guest 1 "$@" ;;
    define-guest) cmd_define_guest 0 "$@" ;;
    destroy-guest) cmd_destroy_guest "$@" ;;
    burn) cmd_burn "$@" ;;
    disk-write) cmd_disk_write "$@" ;;
    disk-read) cmd_disk_read "$@" ;;
    net-define) cmd_net_define "$@" ;;
    vol-path) cmd_vol_path "$@" ;;
    images-pool) ensure_pool "${1:?hv}" ;;
    ticks) cmd_ticks "$@" ;;
    where) cmd_where "$@" ;;
    migrate) cmd_migrate "$@" ;;
    virsh) local hv="${1:?hv}"; shift; vsh "$hv" "$@" ;;
    stop-hv) cmd_stop_hv "$@" ;;
    kill-hv) cmd_kill_hv "$@" ;;
    start-hv) cmd_start_hv "$@" ;;
    net-down) cmd_net "${1:-}" down ;;
    net-up) cmd_net "${1:-}" up ;;
    hv-pid) hv_pid "${1:?hv}" ;;
    lockd-pid) lockd_pid "${1:?hv}" ;;
    bmc-up) cmd_bmc_up "$@" ;;
    bmc-down) bmc_down_all; write_mapping_if_up ;;
    bmc-stop) cmd_bmc_stop "$@" ;;
    bmc) cmd_bmc "$@" ;;
    -h|--help|help|"") sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$cmd' (lab.sh help)" ;;
  esac
}
main "$@"
