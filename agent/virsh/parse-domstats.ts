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

/** The fields parseDomstats keeps; a domain's other lines (per-vCPU times, ...) are skipped unread. */
const WANTED = ["state.state", "cpu.time", "balloon.current", "balloon.maximum", "vcpu.current"] as const;
type Wanted = (typeof WANTED)[number];

const toNum = (v: string | undefined): number | undefined => {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
};

/**
 * Domains of one `virsh domstats --raw --state --cpu-total --balloon --vcpu` call. Reads the
 * text in place and keeps five fields per domain: with 200 domains the output has thousands of
 * lines, and splitting them all into strings and maps was most of the agent's garbage per cycle.
 * Gives what reading parseDomstatsBlocks' fields would give.
 */
export function parseDomstats(text: string): DomainStats[] {
  const out: DomainStats[] = [];
  let name: string | undefined;
  let f: Partial<Record<Wanted, string>> = {};
  const flush = () => {
    if (name !== undefined) out.push(toStats(name, f));
  };
  const n = text.length;
  for (let start = 0; start < n;) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = n;
    const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (text.startsWith("Domain: '", start)) {
      const head = /^Domain: '(.*)'\s*$/.exec(text.slice(start, lineEnd));
      if (head) {
        flush();
        name = head[1]!;
        f = {};
      }
    } else if (name !== undefined) {
      // A field line is indented: "  key=value".
      let p = start;
      while (p < lineEnd && (text.charCodeAt(p) === 32 || text.charCodeAt(p) === 9)) p++;
      if (p > start) {
        for (const key of WANTED) {
          if (text.startsWith(key, p) && text.charCodeAt(p + key.length) === 61) {
            f[key] = text.slice(p + key.length + 1, lineEnd).trim();
            break;
          }
        }
      }
    }
    start = end + 1;
  }
  flush();
  return out;
}

function toStats(name: string, f: Partial<Record<Wanted, string>>): DomainStats {
  const maxKiB = toNum(f["balloon.maximum"]);
  const curKiB = toNum(f["balloon.current"]) ?? maxKiB;
  const state = vmStateFromLibvirt(toNum(f["state.state"]) ?? 0);
  return {
    name,
    state,
    vcpus: toNum(f["vcpu.current"]) ?? 0,
    memMiB: curKiB === undefined ? 0 : curKiB / 1024,
    maxMemMiB: maxKiB === undefined ? (curKiB ?? 0) / 1024 : maxKiB / 1024,
    // A shut-off domain may still report a stale cpu.time; it is not consuming CPU now.
    cpuTimeNs: state === "shutoff" ? null : (toNum(f["cpu.time"]) ?? null),
  };
}
