import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HostMetrics } from "../../shared/schemas/host-metrics.js";
import { currentSchemaJson, FAST_PATH_ENABLED, FAST_PATH_SCHEMA, fastHostMetrics, HostMetricsFast } from "../../shared/schemas/host-metrics-fast.js";

// The fast path must accept exactly what HostMetrics (zod, the definition) accepts, with the same
// output, on JSON input (what arrives on the bus). Generated messages are valid ones with fields
// replaced by boundary values, wrong types and junk, so both verdicts are well represented.

const RUNS = 3000;

const boundaryNumber = fc.constantFrom(0, -0, 1, -1, 0.5, -0.5, 4096, 4097, 2 ** 53 - 1, 2 ** 53, 1e300, -1e-300, Number.MAX_VALUE);
const junk = fc.oneof(fc.jsonValue(), boundaryNumber, fc.constantFrom("", "running", "host", "1", null, true, false, [], {}));
const str = (chars: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...chars.split("")), maxLength });
const okName = fc.oneof(
  { weight: 20, arbitrary: str("aZ09_.+:@-", 12).map((x) => "v" + x) },
  str("aZ09_.+:@-", 3),
  fc.constant("a".repeat(200)),
  fc.constant("a".repeat(201)),
  fc.constant(".x"),
  fc.constant("-x"),
  fc.constant("a b"),
  fc.constant("é"),
);
const okHost = fc.oneof(
  { weight: 20, arbitrary: str("aZ09_-", 8).map((x) => "h" + x) },
  str("aZ09_-", 2),
  fc.constant("h".repeat(63)),
  fc.constant("h".repeat(64)),
  fc.constant("_h"),
  fc.constant("h.x"),
  fc.constant("h*"),
);
const maybe = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 40, arbitrary: valid }, { weight: 1, arbitrary: junk });
const nonNeg = fc.oneof({ weight: 8, arbitrary: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.nat()) }, { weight: 1, arbitrary: boundaryNumber });

const arbVm = fc.record(
  {
    name: maybe(okName),
    uuid: maybe(fc.oneof(fc.string({ maxLength: 64 }), fc.constant("u".repeat(65)))),
    state: maybe(
      fc.oneof({ weight: 20, arbitrary: fc.constantFrom("running", "paused", "shutoff", "crashed", "suspended", "other") }, fc.constantFrom("Running", "")),
    ),
    vcpus: maybe(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 4096 }) }, boundaryNumber)),
    memMiB: maybe(nonNeg),
    maxMemMiB: maybe(nonNeg),
    cpuPercent: maybe(fc.oneof(nonNeg, fc.constant(null))),
    migrating: maybe(fc.boolean()),
    extra: junk,
  },
  { requiredKeys: ["name", "state", "vcpus", "memMiB", "maxMemMiB", "cpuPercent"] },
);

const arbMetrics = fc.record(
  {
    v: maybe(fc.oneof({ weight: 20, arbitrary: fc.constant(1) }, fc.constantFrom(2, "1"))),
    host: maybe(okHost),
    ts: maybe(fc.oneof({ weight: 8, arbitrary: fc.nat() }, boundaryNumber)),
    seq: maybe(fc.oneof({ weight: 8, arbitrary: fc.nat() }, boundaryNumber)),
    cpus: maybe(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 1024 }) }, boundaryNumber)),
    hostCpuPercent: maybe(nonNeg),
    load1: maybe(nonNeg),
    load5: maybe(nonNeg),
    load15: maybe(nonNeg),
    memTotalMiB: maybe(nonNeg),
    memAvailableMiB: maybe(nonNeg),
    loadSource: maybe(fc.oneof({ weight: 20, arbitrary: fc.constantFrom("host", "domains") }, fc.constant("guest"))),
    cpuPercent: maybe(nonNeg),
    vms: maybe(fc.array(maybe(arbVm), { maxLength: 6 })),
    extra: junk,
  },
  {
    requiredKeys: [
      "v",
      "host",
      "ts",
      "seq",
      "cpus",
      "hostCpuPercent",
      "load1",
      "load5",
      "load15",
      "memTotalMiB",
      "memAvailableMiB",
      "loadSource",
      "cpuPercent",
      "vms",
    ],
  },
);

/** As it arrives: through JSON (no undefined, no NaN, -0 becomes 0). */
const viaJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

function expectSame(input: unknown): void {
  const z = HostMetrics.safeParse(input);
  const f = fastHostMetrics(input);
  expect(f !== undefined).toBe(z.success);
  if (f !== undefined && z.success) {
    expect(f).toStrictEqual(z.data);
    // Same keys in the same order, down to the VMs (the output is serialised again downstream).
    expect(JSON.stringify(f)).toBe(JSON.stringify(z.data));
  }
  const wrapped = HostMetricsFast.safeParse(input);
  expect(wrapped.success).toBe(z.success);
}

describe("HostMetrics fast path", () => {
  it("is written against the current schema (update it together with HostMetrics / VmInfo)", () => {
    expect(currentSchemaJson()).toBe(FAST_PATH_SCHEMA);
    expect(FAST_PATH_ENABLED).toBe(true);
  });

  it("accepts and rejects what zod does, with the same output (generated messages)", () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(arbMetrics, (m) => {
        const input = viaJson(m);
        expectSame(input);
        if (HostMetrics.safeParse(input).success) accepted += 1;
        else rejected += 1;
      }),
      { numRuns: RUNS },
    );
    // Both verdicts are exercised.
    expect(accepted).toBeGreaterThan(RUNS / 20);
    expect(rejected).toBeGreaterThan(RUNS / 20);
  });

  it("agrees with zod on arbitrary JSON and on a valid message with each field broken in turn", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (j) => expectSame(j)),
      { numRuns: 500 },
    );
    const valid = {
      v: 1,
      host: "hv-1",
      ts: 1,
      seq: 0,
      cpus: 4,
      hostCpuPercent: 1,
      load1: 0,
      load5: 0,
      load15: 0,
      memTotalMiB: 1024,
      memAvailableMiB: 0,
      loadSource: "host",
      cpuPercent: 0,
      vms: [{ name: "vm-1", uuid: "u", state: "running", vcpus: 1, memMiB: 1, maxMemMiB: 1, cpuPercent: null }],
    };
    expectSame(valid);
    expect(fastHostMetrics(valid)?.vms[0]?.migrating).toBe(false);
    const bad = [null, "x", -1, 0.5, 2 ** 53, [], {}, true];
    for (const key of Object.keys(valid)) for (const b of bad) expectSame({ ...valid, [key]: b });
    for (const key of Object.keys(valid.vms[0]!)) for (const b of bad) expectSame({ ...valid, vms: [{ ...valid.vms[0], [key]: b }] });
    for (const key of Object.keys(valid)) {
      const { [key as keyof typeof valid]: _gone, ...rest } = valid;
      expectSame(rest);
    }
    expectSame({ ...valid, vms: Array.from({ length: 10_001 }, () => valid.vms[0]) });
  });

  it("leaves anything unusual to zod, which still decides", () => {
    class Metrics {}
    const odd = Object.assign(new Metrics(), { v: 1 });
    expect(fastHostMetrics(odd)).toBeUndefined();
    const r = HostMetricsFast.safeParse({ v: 1, host: "h", vms: [] });
    expect(r.success).toBe(false);
  });
});
