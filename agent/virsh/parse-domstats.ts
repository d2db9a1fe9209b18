import type { VmState } from "../../shared/schemas/vm.js";
import type { DomainStats } from "../ports/hypervisor.js";

// Parser for `virsh domstats --raw` (libvirt 9): one block per domain,
//   Domain: 'name'
//     state.state=1
//     cpu.time=590000000
//     balloon.current=131072
//     ...
// separated by empty lines. Pure: text in, records out.

/** virDomainState numbers (libvirt-domain.h) to our coarse VmState. */
export function vmStateFromLibvirt(n: number): VmState {
  switch (n) {
    case 1: // VIR_DOMAIN_RUNNING
    case 2: // VIR_DOMAIN_BLOCKED (running, waiting on a resource)
      return "running";
    case 3:
      return "paused";
    case 4: // VIR_DOMAIN_SHUTDOWN (being shut down)
    case 5:
      return "shutoff";
    case 6:
      return "crashed";
    case 7:
      return "suspended"; // VIR_DOMAIN_PMSUSPENDED
    default:
      return "other";
  }
}

/** Each domain's raw key=value fields, in output order. */
export function parseDomstatsBlocks(text: string): Array<{ name: string; fields: Map<string, string> }> {
  const out: Array<{ name: string; fields: Map<string, string> }> = [];
  let cur: { name: string; fields: Map<string, string> } | undefined;
  for (const line of text.split(/\r?\n/)) {
    const head = /^Domain: '(.*)'\s*$/.exec(line);
    if (head) {
      cur = { name: head[1]!, fields: new Map() };
      out.push(cur);
      continue;
    }
    const kv = /^\s+([^=\s]+)=(.*)$/.exec(line);
    if (kv && cur) cur.fields.set(kv[1]!, kv[2]!.trim());
  }
  return out;
}

function num(fields: Map<string, string>, key: string): number | undefined {
  const v = fields.get(key);
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Domains of one `virsh domstats --raw --state --cpu-total --balloon --vcpu` call. */
export function parseDomstats(text: string): DomainStats[] {
  return parseDomstatsBlocks(text).map(({ name, fields }) => {
    const maxKiB = num(fields, "balloon.maximum");
    const curKiB = num(fields, "balloon.current") ?? maxKiB;
    const state = vmStateFromLibvirt(num(fields, "state.state") ?? 0);
    return {
      name,
      state,
      vcpus: num(fields, "vcpu.current") ?? 0,
      memMiB: curKiB === undefined ? 0 : curKiB / 1024,
      maxMemMiB: maxKiB === undefined ? (curKiB ?? 0) / 1024 : maxKiB / 1024,
      // A shut-off domain may still report a stale cpu.time; it is not consuming CPU now.
      cpuTimeNs: state === "shutoff" ? null : (num(fields, "cpu.time") ?? null),
    };
  });
}
