import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { domainSize } from "../../../orchestrator/core/domain-size.js";
import { planRestarts, type RestartInput } from "../../../orchestrator/core/restart-plan.js";
import { RestartPlan, type RecordedRestart } from "../../../shared/schemas/recovery.js";
import type { RestartPriority, VmRecord } from "../../../shared/schemas/vm-record.js";
import { host, NOW, policy, snapshot, vm } from "./builders.js";
import { domainXml, localDisk, record, SEC, sharedDisk } from "./failure-builders.js";

const FAILED_AT = NOW - 120 * SEC;
const silentB = host("b", { lastSeenAgo: 200 });
const cluster = (vms = [vm("b1", "b"), vm("b2", "b"), vm("b3", "b")], hosts = [host("a"), silentB, host("c")]) => snapshot(hosts, vms);
const input = (o: Partial<RestartInput> = {}): RestartInput => ({
  snapshot: cluster(),
  records: [record("b1", "b"), record("b2", "b"), record("b3", "b")],
  fenced: [{ host: "b", failedAt: FAILED_AT }],
  recorded: [],
  ...o,
});
const run = (i: RestartInput, o = {}) => RestartPlan.parse(planRestarts(i, policy(o), NOW));
const codes = (p: RestartPlan) => Object.fromEntries([...p.waiting, ...p.skipped].map((h) => [h.vm, h.code]));

describe("planRestarts", () => {
  it("restarts a fenced host's VMs on the other hosts, highest priority first, spread", () => {
    const p = run(
      input({
        records: [record("b1", "b", { priority: "low" }), record("b2", "b", { priority: "high" }), record("b3", "b")],
      }),
      { restart_wait_for: "none" },
    );
    expect(p.steps.map((s) => [s.order, s.vm, s.priority])).toEqual([
      [0, "b2", "high"],
      [1, "b3", "medium"],
      [2, "b1", "low"],
    ]);
    expect(new Set(p.steps.map((s) => s.destination))).toEqual(new Set(["a", "c"]));
    expect(p.steps.every((s) => s.from === "b" && s.code === "RESTART_PLANNED")).toBe(true);
    expect(p.decisions.filter((d) => d.code === "RESTART_PLANNED")).toHaveLength(3);
  });

  describe("priority waves (restart_wait_for)", () => {
    const records = [
      record("b1", "b", { priority: "low" }),
      record("b2", "b", { priority: "high" }),
      record("b4", "b", { priority: "high" }),
      record("b3", "b"),
    ];
    const recorded = (vm: string, at: number): RecordedRestart => ({ vm, host: "b", destination: "a", at, epoch: 0 });

    it("plans only the highest priority while the default waits for guests to be up", () => {
      const p = run(input({ records }));
      expect(p.steps.map((s) => s.vm)).toEqual(["b2", "b4"]);
      expect(codes(p)).toMatchObject({ b1: "RESTART_PRIORITY_WAIT", b3: "RESTART_PRIORITY_WAIT" });
      const held = p.waiting.find((w) => w.vm === "b3")!;
      expect(held.reason).toMatch(/b2 \(high, this plan\), b4 \(high, this plan\)/);
      expect(held.numbers).toMatchObject({ waitingFor: 2, waitFor: "guest_agent", waitLeftS: 120 });
    });

    it("the next priority waits for recorded restarts not up yet, then goes once they are", () => {
      const done = [recorded("b2", NOW - 10 * SEC), recorded("b4", NOW - 10 * SEC)];
      const waiting = run(
        input({
          records,
          recorded: done,
          awaiting: [{ vm: "b4", priority: "high", destination: "a", since: NOW - 10 * SEC }],
        }),
      );
      expect(waiting.steps).toEqual([]);
      expect(waiting.waiting.find((w) => w.vm === "b3")).toMatchObject({ code: "RESTART_PRIORITY_WAIT", numbers: { waitLeftS: 110 } });
      expect(waiting.waiting.find((w) => w.vm === "b3")!.reason).toMatch(/b4 \(high\); at most 110 s more/);
      // Both up: medium goes, low waits for medium.
      const next = run(input({ records, recorded: done, awaiting: [] }));
      expect(next.steps.map((s) => s.vm)).toEqual(["b3"]);
      expect(codes(next)).toMatchObject({ b1: "RESTART_PRIORITY_WAIT" });
    });

    it("says how long the wait can last: until the newest awaited restart times out", () => {
      const p = run(
        input({
          records,
          recorded: [recorded("b2", NOW - 100 * SEC), recorded("b4", NOW - 5 * SEC)],
          awaiting: [
            { vm: "b2", priority: "high", destination: "a", since: NOW - 100 * SEC },
            { vm: "b4", priority: "high", destination: "a", since: NOW - 5 * SEC },
          ],
        }),
      );
      expect(p.waiting.find((w) => w.vm === "b3")).toMatchObject({ code: "RESTART_PRIORITY_WAIT", numbers: { waitingFor: 2, waitLeftS: 115 } });
    });

    it("a restart that stays down holds the next priority restart_wait_timeout at most, and the step says so", () => {
      const done = [recorded("b2", NOW - 121 * SEC), recorded("b4", NOW - 121 * SEC)];
      const p = run(input({ records, recorded: done, awaiting: [{ vm: "b2", priority: "high", destination: "a", since: NOW - 121 * SEC }] }));
      expect(p.steps.map((s) => s.vm)).toEqual(["b3"]);
      expect(p.steps[0]!.reason).toMatch(/b2 not up after restart_wait_timeout 120 s: started anyway/);
      expect(p.steps[0]!.numbers.notUpAfterTimeout).toBe("b2");
      const longer = run(input({ records, recorded: done, awaiting: [{ vm: "b2", priority: "high", destination: "a", since: NOW - 121 * SEC }] }), {
        restart_wait_timeout: 300,
      });
      expect(longer.steps).toEqual([]);
    });

    it("waits for higher priorities only: the same priority and lower ones do not hold a VM", () => {
      const p = run(
        input({
          records,
          recorded: [recorded("b1", NOW - SEC)],
          awaiting: [{ vm: "b1", priority: "low", destination: "a", since: NOW - SEC }],
        }),
      );
      expect(p.steps.map((s) => s.vm)).toEqual(["b2", "b4"]);
    });

    it("none starts every priority in one plan, still highest first", () => {
      const p = run(input({ records, awaiting: [{ vm: "x", priority: "high", destination: "a", since: NOW }] }), { restart_wait_for: "none" });
      expect(p.steps.map((s) => s.vm)).toEqual(["b2", "b4", "b3", "b1"]);
    });
  });

  it("holds back what must not start: never, local disks, listed elsewhere, stopped, no record", () => {
    const p = run(
      input({
        snapshot: cluster([vm("b1", "b"), vm("b2", "b", { state: "shutoff" }), vm("b3", "b"), vm("b3", "c"), vm("b4", "b"), vm("b5", "b"), vm("b6", "b")]),
        records: [
          record("b1", "b", { priority: "never" }),
          record("b2", "b"),
          record("b3", "b"),
          record("b4", "b", { disks: [sharedDisk, localDisk] }),
          record("b6", "b"),
        ],
      }),
    );
    expect(p.steps.map((s) => s.vm)).toEqual(["b6"]);
    expect(codes(p)).toEqual({
      b1: "RESTART_PRIORITY_NEVER",
      b2: "RESTART_WAS_STOPPED",
      b3: "RESTART_RUNNING_ELSEWHERE",
      b4: "RESTART_LOCAL_DISKS",
      b5: "RESTART_NO_RECORD",
    });
    expect(p.waiting.map((w) => w.vm)).toEqual(["b4"]);
  });

  it("a copy another host lists as alsoListedOn counts as running elsewhere", () => {
    const p = run(input({ snapshot: cluster([{ ...vm("b1", "b"), alsoListedOn: ["a"] }]), records: [record("b1", "b")] }));
    expect(p.steps).toEqual([]);
    expect(codes(p)).toEqual({ b1: "RESTART_RUNNING_ELSEWHERE" });
  });

  it("caps the restarts of one plan at max_concurrent_restarts", () => {
    const p = run(input(), { max_concurrent_restarts: 2 });
    expect(p.steps).toHaveLength(2);
    expect(codes(p)).toEqual({ b3: "RESTART_CAP" });
  });

  it("places with the planner's constraints: a must rule, capacity, and says why a VM waits", () => {
    const p = run(input({ snapshot: cluster([vm("b1", "b", { mem: 200_000 }), vm("b2", "b")]), records: [record("b1", "b"), record("b2", "b")] }), {
      rules: [{ name: "only-c", type: "vm-host", strength: "must", vms: ["b2"], hosts: ["c"] }],
    });
    expect(p.steps.map((s) => [s.vm, s.destination])).toEqual([["b2", "c"]]);
    expect(codes(p)).toEqual({ b1: "NO_DESTINATION" });
    expect(p.decisions.some((d) => d.code === "DEST_MEM" && d.vm === "b1")).toBe(true);
    // The fenced host itself is never a destination, even reporting again.
    const q = run(input({ snapshot: cluster(undefined, [host("a"), host("b"), host("c")]) }));
    expect(q.steps.every((s) => s.destination !== "b")).toBe(true);
  });

  it("a restart already recorded for this failure is never planned again, and its VM stays reserved", () => {
    const recorded: RecordedRestart[] = [{ vm: "b1", host: "b", destination: "a", at: NOW - 10 * SEC, epoch: 4 }];
    const p = run(input({ recorded }));
    expect(p.steps.map((s) => s.vm).sort()).toEqual(["b2", "b3"]);
    expect(codes(p)).toEqual({ b1: "RESTART_RECORDED" });
    // A restart of an earlier incident, since which the record was rewritten, does not hold it back.
    const old: RecordedRestart[] = [{ vm: "b1", host: "x", destination: "b", at: NOW - 7200 * SEC, epoch: 2 }];
    expect(run(input({ recorded: old })).steps.map((s) => s.vm)).toContain("b1");
  });

  it("sizes a VM no host lists from its recorded definition, and stands in for a host the snapshot lost", () => {
    const p = run(
      input({
        snapshot: snapshot([host("a"), host("c")], []),
        records: [
          record("b1", "b", { definition: domainXml("b1", 4 * 1024 * 1024, 3) }),
          record("b2", "b", { definition: "<domain><name>b2</name></domain>" }),
        ],
      }),
    );
    expect(p.steps.map((s) => [s.vm, s.numbers["memMiB"], s.numbers["vcpus"], s.numbers["sizeFrom"]])).toEqual([["b1", 4096, 3, "definition"]]);
    expect(codes(p)).toEqual({ b2: "RESTART_SIZE_UNKNOWN" });
  });

  it("is deterministic whatever the order of its inputs", () => {
    const i = input({ records: [record("b3", "b", { priority: "high" }), record("b1", "b"), record("b2", "b", { priority: "low" })] });
    const j = {
      ...i,
      records: [...i.records].reverse(),
      snapshot: { ...i.snapshot, vms: [...i.snapshot.vms].reverse(), hosts: [...i.snapshot.hosts].reverse() },
    };
    expect(run(j)).toEqual(run(i));
    // With restarts awaited, some timed out, one listed twice: the same plan whatever their order.
    const awaiting = [
      { vm: "x0", priority: "high" as const, destination: "a", since: NOW - 130 * SEC },
      { vm: "x1", priority: "high" as const, destination: "c", since: NOW - 125 * SEC },
      { vm: "x1", priority: "high" as const, destination: "c", since: NOW - 125 * SEC },
      { vm: "x2", priority: "medium" as const, destination: "a", since: NOW - 5 * SEC },
    ];
    const k = input({ records: [record("b1", "b"), record("b2", "b", { priority: "low" })], awaiting });
    const p = run(k);
    expect(run({ ...k, awaiting: [...awaiting].reverse() })).toEqual(p);
    // x0 and x1 (high) timed out: b1 (medium) goes and says so; x2 (medium) holds b2 (low).
    expect(p.steps.map((s) => s.vm)).toEqual(["b1"]);
    expect(p.steps[0]!.numbers.notUpAfterTimeout).toBe("x0,x1");
    expect(p.waiting.find((w) => w.vm === "b2")?.code).toBe("RESTART_PRIORITY_WAIT");
  });
});

describe("domainSize", () => {
  it.each<[string, { memMiB: number; vcpus: number } | null]>([
    [domainXml("x", 2 * 1024 * 1024, 2), { memMiB: 2048, vcpus: 2 }],
    ["<domain><memory unit='GiB'>4</memory><currentMemory unit='MiB'>1024</currentMemory><vcpu current='2'>8</vcpu></domain>", { memMiB: 1024, vcpus: 2 }],
    ['<domain><memory unit="G">1</memory><memoryBacking/><vcpu placement="static">1</vcpu></domain>', { memMiB: 1024, vcpus: 1 }],
    ["<domain><memory>1048576</memory><vcpu>4</vcpu></domain>", { memMiB: 1024, vcpus: 4 }],
    ["<domain><memory unit='parsec'>1</memory><vcpu>4</vcpu></domain>", null],
    ["<domain><memory unit='KiB'>1024</memory></domain>", null],
  ])("%s", (xml, want) => {
    expect(domainSize(xml)).toEqual(want);
  });
});

// A run of plans: after each, every step is recorded (as the shell does before it starts a VM),
// some of the restarted VMs appear on their destination, and the cluster changes a little.
const PRIOS: RestartPriority[] = ["high", "medium", "low", "never"];
const arbRun = fc.record({
  vms: fc.array(fc.record({ prio: fc.constantFrom(...PRIOS), mem: fc.integer({ min: 512, max: 24_000 }), local: fc.boolean(), listed: fc.boolean() }), {
    minLength: 1,
    maxLength: 14,
  }),
  cap: fc.integer({ min: 1, max: 5 }),
  rounds: fc.array(fc.record({ appear: fc.boolean(), freeHostMem: fc.integer({ min: 10, max: 80 }), failover: fc.boolean() }), { minLength: 1, maxLength: 6 }),
});

describe("planRestarts properties", () => {
  it("never restarts a VM twice across any sequence of plans with recorded restarts", () => {
    fc.assert(
      fc.property(arbRun, (r) => {
        const records: VmRecord[] = r.vms.map((v, i) => record(`v${i}`, "b", { priority: v.prio, disks: v.local ? [localDisk] : [sharedDisk] }));
        let vms = r.vms.flatMap((v, i) => (v.listed ? [vm(`v${i}`, "b", { mem: v.mem })] : []));
        let recorded: RecordedRestart[] = [];
        const started = new Map<string, number>();
        let epoch = 1;
        for (const round of r.rounds) {
          if (round.failover) epoch += 1;
          const s = snapshot([host("a", { mem: round.freeHostMem }), host("b", { lastSeenAgo: 300 }), host("c", { mem: 100 - round.freeHostMem })], vms);
          const p = planRestarts(
            { snapshot: s, records, fenced: [{ host: "b", failedAt: FAILED_AT }], recorded },
            policy({ max_concurrent_restarts: r.cap }),
            NOW,
          );
          expect(p.steps.length).toBeLessThanOrEqual(r.cap);
          for (const st of p.steps) {
            started.set(st.vm, (started.get(st.vm) ?? 0) + 1);
            recorded = [...recorded, { vm: st.vm, host: "b", destination: st.destination, at: NOW - 60 * SEC + recorded.length, epoch }];
            if (round.appear) vms = [...vms.filter((v) => v.name !== st.vm || v.host !== "b"), vm(st.vm, st.destination)];
          }
          // Priority order holds within a plan, and neither never nor local-disk VMs are restarted.
          const ranks = p.steps.map((st) => PRIOS.indexOf(st.priority));
          expect([...ranks].sort((x, y) => x - y)).toEqual(ranks);
          for (const st of p.steps) {
            const i = Number(st.vm.slice(1));
            expect(r.vms[i]!.prio).not.toBe("never");
            expect(r.vms[i]!.local).toBe(false);
          }
        }
        expect([...started.values()].filter((n) => n > 1)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
