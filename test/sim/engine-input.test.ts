import { describe, expect, it } from "vitest";
import { EngineError, simulate } from "../../sim/engine.js";
import type { ConsolidationPolicy, SimView } from "../../sim/policies/policy.js";
import { toMetricsJson } from "../../sim/report/metrics-json.js";
import { constTrace, TINY_SPEC } from "./builders.js";

// What the engine takes as input and reports: the trace's own timing apart from the decision
// step, VMs that fit nowhere, metrics that do not apply, and a view without the trace's future.

const SPEC = TINY_SPEC;

function watching(placement: number[]): ConsolidationPolicy & { seen: { now: number; mips: number[] }[] } {
  const seen: { now: number; mips: number[] }[] = [];
  return {
    name: "watching",
    seen,
    initialPlacement: () => placement,
    decide: (v: SimView) => {
      seen.push({ now: v.now, mips: v.vms.map((x) => x.requestedMips) });
      return [];
    },
  };
}

const ramp = (n: number) => ({ name: "ramp", cpu: Float64Array.from({ length: n }, (_, i) => (i + 1) / 100) });

describe("trace timing: the step is the decision interval, the samples keep their own spacing", () => {
  it("runs for samples × sample interval whatever the trace length", () => {
    const p = watching([0]);
    const m = simulate([ramp(10)], p, { spec: SPEC, startOffset: 0 });
    // 10 samples at 300 s = 3000 s: steps at 300 .. 2700
    expect(m.durationS).toBe(3000);
    expect(m.steps).toBe(9);
    expect(m.simulatedS).toBe(2700);
    const long = simulate([ramp(600)], watching([0]), { spec: SPEC, startOffset: 0 });
    expect(long.durationS).toBe(180_000);
    expect(long.steps).toBe(599);
  });

  it("a 600 s step reads the trace at its own 300 s spacing and stops at the trace's end", () => {
    const p = watching([0]);
    const m = simulate([ramp(10)], p, { spec: SPEC, startOffset: 0, interval: 600, sampleInterval: 300 });
    expect(p.seen.map((s) => s.now)).toEqual([600, 1200, 1800, 2400]);
    // at t = 600 s the trace is at sample 2 (0.03), not sample 1 stretched over 600 s
    expect(p.seen[0]!.mips[0]).toBeCloseTo(0.03 * 500, 12);
    expect(p.seen[3]!.mips[0]).toBeCloseTo(0.09 * 500, 12);
    expect(m.stepS).toBe(600);
    expect(m.sampleIntervalS).toBe(300);
  });

  it("a step that is neither a whole multiple nor a whole divisor of the sample interval is an error", () => {
    expect(() => simulate([ramp(10)], watching([0]), { spec: SPEC, interval: 700 })).toThrow(/whole multiple or a whole divisor/);
    expect(() => simulate([ramp(10)], watching([0]), { spec: SPEC, interval: 150, startOffset: 0 })).not.toThrow();
  });

  it("traces of different lengths are an error naming both", () => {
    expect(() => simulate([ramp(10), { name: "short", cpu: new Float64Array(4).fill(0.2) }], watching([0, 1]), { spec: SPEC })).toThrow(
      /ramp has 10 samples, short 4/,
    );
  });
});

describe("VMs that fit nowhere at t = 0", () => {
  const traces = [constTrace("a", 0.4, 4), constTrace("b", 0.2, 4)];
  it("are an error unless allowed", () => {
    expect(() => simulate(traces, watching([0, -1]), { spec: SPEC })).toThrow(EngineError);
    expect(() => simulate(traces, watching([0, -1]), { spec: SPEC })).toThrow(/1 of 2 VMs fit on no host at t = 0 \(first: b\)/);
  });
  it("are counted apart from idle removals when allowed", () => {
    const m = simulate([...traces, { name: "idle", cpu: Float64Array.from([0.3, 0, 0, 0]) }], watching([0, -1, 1]), { spec: SPEC, allowUnplaced: true });
    expect(m.vms).toBe(3);
    expect(m.vmsUnplaced).toBe(1);
    expect(m.vmsRemoved).toBe(1);
    expect(m.removeIdleVms).toBe(true);
  });
});

describe("metrics that do not apply are absent", () => {
  it("a CPU-only run has no memory metrics, in the object or in the JSON", () => {
    const m = simulate([constTrace("a", 0.4, 4), constTrace("b", 0.2, 4)], watching([0, 0]), { spec: SPEC });
    expect(m.memorySimulated).toBe(false);
    expect(m.memOverCapacityShare).toBeUndefined();
    expect(m.memOverCapacityHostS).toBeUndefined();
    expect(m.meanHostMemStdDev).toBeUndefined();
    expect(toMetricsJson([{ workload: "w", policy: "p", metrics: m }])).not.toMatch(/memOverCapacity|meanHostMemStdDev/);
  });
  it("a two-resource run has them", () => {
    const m = simulate([constTrace("a", 0.4, 4, 1), constTrace("b", 0.2, 4, 1)], watching([0, 0]), { spec: SPEC });
    expect(m.memorySimulated).toBe(true);
    expect(m.memOverCapacityHostS).toBe(600); // both on host 0, 1250 MB > 1000 MB, active 300..900 s
    expect(m.memOverCapacityShare).toBe(1);
  });
});

describe("policies see only the past", () => {
  // A marker value that occurs in the trace only after the last step the policy sees.
  const MARK = 0.4242;
  const future = (n: number) => ({ name: "vm", cpu: Float64Array.from({ length: n }, (_, i) => (i >= 20 ? MARK : 0.1)), mem: new Float64Array(n).fill(0.5) });

  /** Everything reachable from the view: every number, and whether any typed array is there. */
  function reachable(root: unknown): { numbers: Set<number>; typedArrays: number } {
    const seen = new Set<unknown>();
    const numbers = new Set<number>();
    let typedArrays = 0;
    const walk = (x: unknown): void => {
      if (typeof x === "number") numbers.add(x);
      if (x === null || typeof x !== "object" || seen.has(x)) return;
      seen.add(x);
      if (ArrayBuffer.isView(x)) {
        typedArrays++;
        for (const v of x as unknown as Iterable<number>) numbers.add(v);
        return;
      }
      for (const k of Reflect.ownKeys(x)) walk((x as Record<string | symbol, unknown>)[k]);
      walk(Object.getPrototypeOf(x));
    };
    walk(root);
    return { numbers, typedArrays };
  }

  it("a policy walking the whole view finds no sample it has not lived through", () => {
    const found: ReturnType<typeof reachable>[] = [];
    const reader: ConsolidationPolicy = {
      name: "reads-ahead",
      initialPlacement: (v) => {
        found.push(reachable(v));
        return [0];
      },
      decide: (v) => {
        found.push(reachable(v));
        // the obvious attempts: the trace arrays the engine used to hand out
        const vm = v.vms[0] as unknown as Record<string, unknown>;
        expect(vm["cpu"]).toBeUndefined();
        expect(vm["mem"]).toBeUndefined();
        expect(v.vms[0]!.history.length).toBeLessThanOrEqual(v.step);
        return [];
      },
    };
    simulate([future(40)], reader, { spec: SPEC, startOffset: 0, maxSteps: 5 });
    expect(found).toHaveLength(6);
    for (const f of found) {
      expect(f.typedArrays).toBe(0);
      expect(f.numbers.has(MARK)).toBe(false);
    }
  });
});
