#!/bin/sh
# Test double of virsh for a whole agent: `-c URI <command> ...`. domstats lists the captured
# libvirt 9 domains (cap-vm1 running); migrate takes a moment and succeeds, and the job-completed
# event comes as libvirt printed it; domjobinfo has no job; anything else succeeds silently.
FIXTURES="$(dirname "$0")/../../fixtures/virsh"
case "$3" in
  domstats) cat "$FIXTURES/domstats-raw-libvirt9.txt" ;;
  migrate) sleep 0.3 ;;
  event) sleep 0.4; cat "$FIXTURES/event-job-completed.txt" ;;
  domjobinfo) cat "$FIXTURES/domjobinfo-none.txt" ;;
  *) ;;
esac
exit 0
