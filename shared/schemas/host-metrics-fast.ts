import { z } from "zod";
import { HostMetrics } from "./host-metrics.js";

// A fast path for the one hot message, HostMetrics (10,000 agents every interval): a hand-written
// check of exactly the constraints of the zod schema, about 10× cheaper than HostMetrics.safeParse.
// The zod schema stays the definition:
//  - the fast path only ever ACCEPTS. Whatever it does not accept outright (an invalid message, or
//    anything unusual such as an object that is not a plain one) goes to HostMetrics.safeParse,
//    which decides and words the error. So it can make a valid message slower, never an invalid
//    one valid, provided that what it accepts zod accepts with the same output;
//  - that is proven by a property test (test/shared/host-metrics-fast.test.ts) that compares it
//    with zod on generated valid, boundary and broken messages: same verdict, same output;
//  - it is tied to the schema it was written against: the schema's JSON Schema (zod's own
//    rendering of every constraint, descriptions left out) must equal FAST_PATH_SCHEMA. Any change
//    to a constraint of HostMetrics or VmInfo changes it, and the fast path then switches itself
//    off (zod only) and the test fails until the fast path is updated with the schema. A changed
//    description (documentation only) does not.

/** z.toJSONSchema(HostMetrics, { io: "input" }), descriptions left out, of the schema this fast path implements. */
export const FAST_PATH_SCHEMA =
  '{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"v":{"type":"number","const":1},"host":{"type":"string","pattern":"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"},"ts":{"type":"integer","minimum":0,"maximum":9007199254740991},"seq":{"type":"integer","minimum":0,"maximum":9007199254740991},"cpus":{"type":"integer","exclusiveMinimum":0,"maximum":9007199254740991},"hostCpuPercent":{"type":"number","minimum":0},"load1":{"type":"number","minimum":0},"load5":{"type":"number","minimum":0},"load15":{"type":"number","minimum":0},"memTotalMiB":{"type":"number","exclusiveMinimum":0},"memAvailableMiB":{"type":"number","minimum":0},"loadSource":{"type":"string","enum":["host","domains"]},"cpuPercent":{"type":"number","minimum":0},"vms":{"maxItems":10000,"type":"array","items":{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":200,"pattern":"^[A-Za-z0-9_][A-Za-z0-9_.+:@-]*$"},"uuid":{"type":"string","maxLength":64},"state":{"type":"string","enum":["running","paused","shutoff","crashed","suspended","other"]},"vcpus":{"type":"integer","minimum":0,"maximum":4096},"memMiB":{"type":"number","minimum":0},"maxMemMiB":{"type":"number","minimum":0},"cpuPercent":{"anyOf":[{"type":"number","minimum":0},{"type":"null"}]},"migrating":{"default":false,"type":"boolean"}},"required":["name","state","vcpus","memMiB","maxMemMiB","cpuPercent"]}}},"required":["v","host","ts","seq","cpus","hostCpuPercent","load1","load5","load15","memTotalMiB","memAvailableMiB","loadSource","cpuPercent","vms"]}';

/** The current schema rendered as FAST_PATH_SCHEMA is. */
export const currentSchemaJson = (): string => JSON.stringify(withoutDescriptions(z.toJSONSchema(HostMetrics, { io: "input" })));

/** A JSON Schema without its `description`s: they document, they do not constrain. */
function withoutDescriptions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDescriptions);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "description") continue;
    // `properties` maps field names (any name, "description" too) to schemas.
    out[k] =
      k === "properties" && typeof v === "object" && v !== null
        ? Object.fromEntries(Object.entries(v).map(([f, s]) => [f, withoutDescriptions(s)]))
        : withoutDescriptions(v);
  }
  return out;
}

/** Whether the fast path matches the schema (otherwise every message goes through zod). */
export const FAST_PATH_ENABLED: boolean = currentSchemaJson() === FAST_PATH_SCHEMA;

// The patterns come from the schema itself (equal to the pinned ones when enabled).
const pinned = JSON.parse(FAST_PATH_SCHEMA) as { properties: { host: { pattern: string }; vms: { items: { properties: { name: { pattern: string } } } } } };
const HOST_ID = new RegExp(pinned.properties.host.pattern);
const VM_NAME = new RegExp(pinned.properties.vms.items.properties.name.pattern);
const VM_STATES: ReadonlySet<unknown> = new Set(["running", "paused", "shutoff", "crashed", "suspended", "other"]);

type Plain = Record<string, unknown>;
const isPlain = (o: unknown): o is Plain => typeof o === "object" && o !== null && Object.getPrototypeOf(o) === Object.prototype;
/** z.number(): finite. */
const num = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const min0 = (x: unknown): x is number => num(x) && x >= 0;
/** z.number().int(): a safe integer. */
const int0 = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const own = Object.prototype.hasOwnProperty;

function vmInfo(o: unknown): HostMetrics["vms"][number] | undefined {
  if (!isPlain(o)) return undefined;
  const { name, state, vcpus, memMiB, maxMemMiB, cpuPercent } = o;
  if (typeof name !== "string" || name.length < 1 || name.length > 200 || !VM_NAME.test(name)) return undefined;
  if (!VM_STATES.has(state)) return undefined;
  if (!int0(vcpus) || vcpus > 4096) return undefined;
  if (!min0(memMiB) || !min0(maxMemMiB)) return undefined;
  if (cpuPercent !== null && !min0(cpuPercent)) return undefined;
  let migrating = false;
  if (own.call(o, "migrating")) {
    if (typeof o.migrating !== "boolean") return undefined;
    migrating = o.migrating;
  }
  if (own.call(o, "uuid")) {
    const uuid = o.uuid;
    if (typeof uuid !== "string" || uuid.length > 64) return undefined;
    return { name, uuid, state: state as HostMetrics["vms"][number]["state"], vcpus, memMiB, maxMemMiB, cpuPercent, migrating };
  }
  return { name, state: state as HostMetrics["vms"][number]["state"], vcpus, memMiB, maxMemMiB, cpuPercent, migrating };
}

/**
 * HostMetrics exactly as HostMetrics.safeParse would return it (same keys, same order, unknown keys
 * dropped, defaults applied), or undefined: then ask zod (invalid, or not a case the fast path takes).
 */
export function fastHostMetrics(o: unknown): HostMetrics | undefined {
  if (!FAST_PATH_ENABLED || !isPlain(o)) return undefined;
  const { v, host, ts, seq, cpus, hostCpuPercent, load1, load5, load15, memTotalMiB, memAvailableMiB, loadSource, cpuPercent, vms } = o;
  if (v !== 1 || typeof host !== "string" || !HOST_ID.test(host)) return undefined;
  if (!int0(ts) || !int0(seq) || !int0(cpus) || cpus <= 0) return undefined;
  if (!min0(hostCpuPercent) || !min0(load1) || !min0(load5) || !min0(load15)) return undefined;
  if (!num(memTotalMiB) || memTotalMiB <= 0 || !min0(memAvailableMiB)) return undefined;
  if (loadSource !== "host" && loadSource !== "domains") return undefined;
  if (!min0(cpuPercent)) return undefined;
  if (!Array.isArray(vms) || vms.length > 10_000) return undefined;
  const out: HostMetrics["vms"] = [];
  for (let i = 0; i < vms.length; i++) {
    const x = vmInfo(vms[i]);
    if (x === undefined) return undefined;
    out.push(x);
  }
  return { v: 1, host, ts, seq, cpus, hostCpuPercent, load1, load5, load15, memTotalMiB, memAvailableMiB, loadSource, cpuPercent, vms: out };
}

/** A drop-in for HostMetrics where only safeParse is used (decodeJson): the fast path, else zod. */
export const HostMetricsFast = {
  safeParse(o: unknown): { success: true; data: HostMetrics } | ReturnType<typeof HostMetrics.safeParse> {
    const fast = fastHostMetrics(o);
    return fast !== undefined ? { success: true, data: fast } : HostMetrics.safeParse(o);
  },
};
