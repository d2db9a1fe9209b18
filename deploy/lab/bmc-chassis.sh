#!/usr/bin/env bash
# The chassis of one lab hypervisor, as its BMC (ipmi_sim's chassis_control program) sees it.
#
#   bmc-chassis.sh HV get power      prints power:1 or power:0
#   bmc-chassis.sh HV set power 0    power loss: the agent-HV.stop hook, then lab.sh kill-hv HV
#   bmc-chassis.sh HV set power 1    boot: lab.sh start-hv HV, then the agent-HV.start hook
#   bmc-chassis.sh HV set shutdown 1 soft off (`ipmitool chassis power soft`, an ACPI shutdown on a
#                                    real server): the lab has no OS to shut down cleanly around
#                                    libvirtd, so it ends the same way as a power loss
#
# ipmi_sim runs this synchronously and answers nothing meanwhile: a call that takes longer than
# ipmitool's retry interval (1 s) makes ipmitool resend, and the command runs again. So `set`
# only records the request and starts a detached worker; `get` reports the truth: off while a
# power-off is under way, on while a boot is under way, otherwise whether HV's libvirtd lives.
#
# Environment: BALLAST_LAB_DIR, BALLAST_LAB_PREFIX, BALLAST_LAB_CACHE (the BMC's wrapper sets
# them). Files in $BALLAST_LAB_DIR/state:
#   agent-HV.stop, agent-HV.start   hooks run (if executable) with HV as argument
#   bmc-HV.noboot                   power-on is accepted, but the hypervisor does not come back
#   bmc/HV/events.log               one line per request and per step
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${BALLAST_LAB_DIR:?BALLAST_LAB_DIR not set}"
STATE="$BALLAST_LAB_DIR/state"
hv="${1:?hv}"
shift
case "$hv" in hv-a | hv-b | hv-c) ;; *) echo "bmc-chassis: unknown hypervisor '$hv'" >&2; exit 2 ;; esac
dir="$STATE/bmc/$hv"
events="$dir/events.log"
HOOK_TIMEOUT="${BALLAST_LAB_HOOK_TIMEOUT:-30}"

note() { mkdir -p "$dir"; echo "$(date -u +%FT%T.%3NZ) $hv $*" >>"$events"; }
lab() { bash "$here/lab.sh" "$@"; }

# PID in $dir/<kind>.pid if that worker of ours is still running (PIDs get reused: cmdline checked).
worker_pid() {
  local f="$dir/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "bmc-chassis.sh $hv worker $1" || return 1
  echo "$pid"
}

run_hook() {
  local hook="$STATE/agent-$hv.$1" rc=0
  [ -f "$hook" ] && [ -x "$hook" ] || return 0
  timeout -s KILL "$HOOK_TIMEOUT" "$hook" "$hv" </dev/null >>"$events" 2>&1 || rc=$?
  note "hook agent-$hv.$1 exit $rc"
}

# Starts `worker KIND` in its own session with none of ipmi_sim's descriptors (its UDP socket,
# the pipe it reads our answer from): a libvirtd started later must not hold them.
spawn() {
  local kind="$1" fd
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
    done
    exec setsid bash "$here/bmc-chassis.sh" "$hv" worker "$kind" </dev/null >>"$events" 2>&1
  ) &
  echo $! >"$dir/$kind.pid"
}

power_state() {
  if worker_pid off >/dev/null; then echo power:0; return; fi
  if worker_pid on >/dev/null && [ ! -e "$STATE/bmc-$hv.noboot" ]; then echo power:1; return; fi
  if lab hv-pid "$hv" >/dev/null 2>&1; then echo power:1; else echo power:0; fi
}

worker() {
  local pid
  case "$1" in
    off)
      # a boot under way is cut short (its worker leads its own process group)
      if pid="$(worker_pid on)"; then kill -KILL -- "-$pid" 2>/dev/null || true; note "boot interrupted"; fi
      run_hook stop
      lab kill-hv "$hv" 2>>"$events" || note "kill-hv failed"
      note "off"
      ;;
    on)
      # a power-off still under way finishes first
      while pid="$(worker_pid off)"; do sleep 0.1; done
      if [ -e "$STATE/bmc-$hv.noboot" ]; then note "noboot flag: the hypervisor does not come back"; return 0; fi
      if lab start-hv "$hv" 2>>"$events"; then
        note "libvirtd up"
        run_hook start
      else
        note "start-hv failed"
      fi
      ;;
  esac
}

case "${1:-} ${2:-}" in
  "get power") power_state ;;
  "set power")
    mkdir -p "$dir"
    case "${3:-}" in
      0) note "set power 0"; worker_pid off >/dev/null || spawn off ;;
      1)
        note "set power 1"
        if [ "$(power_state)" = power:1 ]; then note "already on"; else spawn on; fi
        ;;
      *) echo "bmc-chassis: set power 0|1" >&2; exit 2 ;;
    esac
    ;;
  "set shutdown")
    mkdir -p "$dir"
    case "${3:-}" in
      1) note "set shutdown 1 (soft off)"; worker_pid off >/dev/null || spawn off ;;
      *) echo "bmc-chassis: set shutdown 1" >&2; exit 2 ;;
    esac
    ;;
  "worker off" | "worker on") worker "$2" ;;
  *) echo "bmc-chassis: unsupported: $*" >&2; exit 2 ;;
esac
