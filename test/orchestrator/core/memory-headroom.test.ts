import { describe, expect, it } from "vitest";
import { adaptMemoryLevels, memoryRise } from "../../../orchestrator/core/memory-headroom.js";
import { plan } from "../../../orchestrator/core/planner.js";
import type { HostSample } from "../../../shared/schemas/snapshot.js";
import { host, NOW, past, policy, snapshot, vm } from "./builders.js";

// Memory samples every 10 s, oldest first, ending at NOW.
const series = (...mem: number[]): HostSample[] => mem.map((m, i) => ({ ts: NOW - (mem.length - 1 - i) * 10_000, cpu: 20, mem: m }));
// A busy host whose memory rose by `rise` points once in its window.
const riser = (id: string, rise: number) => host(id, { mem: 40 + rise, samples: series(40, 40, 40, 40 + rise, 40 + rise, 40 + rise) });

describe("memoryRise", () => {
  it("is the 99th percentile over busy hosts of each one's largest rise between samples", () => {
    const hosts = [riser("h1", 2), riser("h2", 3), riser("h3", 4), riser("h4", 5), riser("h5", 9), host("idle", { mem: 10, samples: series(0, 50) })];
    const s = snapshot(
      hosts,
      ["h1", "h2", "h3", "h4", "h5"].map((h) => vm(`v-${h}`, h)),
    );
    // 5 busy hosts: the 99th percentile is the largest; the idle host's jump does not count.
    expect(memoryRise(s, policy(), NOW)).toEqual({ rise: 9, hosts: 5 });
  });

  it("leaves out intervals in which a migration to or from the host ended: an arriving VM is not growth", () => {
    const hosts = [riser("h1", 2), riser("h2", 2), riser("h3", 2), riser("h4", 2), riser("h5", 30)];
    const vms = ["h1", "h2", "h3", "h4", "h5"].map((h) => vm(`v-${h}`, h));
    // h5's jump happened between the samples 30 s and 20 s ago; a VM arrived there 25 s ago.
    expect(memoryRise(snapshot(hosts, vms), policy(), NOW)!.rise).toBe(30);
    expect(memoryRise(snapshot(hosts, vms, { history: [past("v-x", "h1", "h5", 25)] }), policy(), NOW)!.rise).toBe(2);
  });

  it("is not measured on fewer than five busy hosts", () => {
    const s = snapshot([riser("h1", 20), riser("h2", 20)], [vm("a", "h1"), vm("b", "h2")]);
    expect(memoryRise(s, policy(), NOW)).toBeNull();
  });
});

describe("adaptMemoryLevels", () => {
  const cluster = (rise: number) =>
    snapshot(
      ["h1", "h2", "h3", "h4", "h5"].map((h) => riser(h, rise)),
      ["h1", "h2", "h3", "h4", "h5"].map((h) => vm(`v-${h}`, h)),
    );

  it("keeps the configured levels while mem_headroom_rises × the rise fits in 100 − max_mem_candidate", () => {
    const r = adaptMemoryLevels(cluster(7), policy(), NOW);
    expect(r.adaptation).toBeNull();
    expect(r.note).toBeNull();
    expect(r.rise).toBe(7);
    expect(r.policy.max_mem_candidate).toBe(85);
  });

  it("lowers max_mem_candidate by what the rise needs beyond it, never the trigger levels, and says so", () => {
    const r = adaptMemoryLevels(cluster(10), policy(), NOW);
    // 2 × 10 points needed, 15 configured: 5 points lower.
    expect(r.policy.max_mem_candidate).toBe(80);
    expect(r.policy.mem_threshold).toBe(90);
    expect(r.policy.mem_target).toBe(85);
    expect(r.note).toMatchObject({
      code: "MEM_HEADROOM_ADAPTED",
      numbers: { rise: 10, hosts: 5, neededHeadroom: 20, configuredHeadroom: 15, max_mem_candidate: 80 },
    });
    expect(r.adaptation).toMatchObject({ rise: 10, hosts: 5, maxMemCandidate: 80 });
  });

  it("never goes below 50 %, and mem_headroom_rises 0 turns it off", () => {
    expect(adaptMemoryLevels(cluster(45), policy(), NOW).policy.max_mem_candidate).toBe(50);
    const off = adaptMemoryLevels(cluster(45), policy({ mem_headroom_rises: 0 }), NOW);
    expect(off).toEqual({ policy: policy({ mem_headroom_rises: 0 }), rise: null, note: null, adaptation: null });
  });

  it("is what the plan uses and returns", () => {
    const s = cluster(10);
    const p = plan(s, policy(), NOW);
    expect(p.memAdaptation).toMatchObject({ maxMemCandidate: 80 });
    expect(p.decisions.find((d) => d.code === "MEM_HEADROOM_ADAPTED")!.message).toMatch(/max_mem_candidate is 80 % \(configured 85 %\)/);
  });
});

describe("the memory trigger", () => {
  // Five hosts whose memory rose 6 points once, and "hot", over mem_threshold (90) in its newest
  // sample only: 80 % for five minutes, then 93 %.
  const hot = () => host("hot", { mem: 93, samples: series(...Array.from({ length: 30 }, () => 80), 93) });
  const cluster = () =>
    snapshot(
      [hot(), ...["h1", "h2", "h3", "h4", "h5"].map((h) => riser(h, 6))],
      [vm("big", "hot", { mem: 8192 }), ...["h1", "h2", "h3", "h4", "h5"].map((h) => vm(`v-${h}`, h))],
    );

  it("relieves a host at once when its memory plus the measured rise reaches capacity less the reserve", () => {
    const p = plan(cluster(), policy(), NOW);
    expect(p.moves).toHaveLength(1);
    expect(p.moves[0]).toMatchObject({ vm: "big", source: "hot", code: "HOST_OVERLOADED", numbers: { metric: "mem" } });
    expect(p.moves[0]!.numbers.memProjectedPercent).toBeGreaterThanOrEqual(100 - (100 * 1024) / 65536);
    expect(p.moves[0]!.reason).toMatch(/relieved at once/);
  });

  it("waits for max_over as before without a measured rise (mem_headroom_rises 0)", () => {
    const p = plan(cluster(), policy({ mem_headroom_rises: 0 }), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.some((d) => d.subject === "hot" && d.code === "OVERLOAD_TOO_SHORT")).toBe(true);
  });

  it("waits for max_over when memory plus the rise stays under capacity", () => {
    const s = cluster();
    const cooler = {
      ...s,
      hosts: s.hosts.map((h) => (h.id === "hot" ? host("hot", { mem: 91, samples: series(...Array.from({ length: 30 }, () => 89), 91) }) : h)),
    };
    const p = plan(cooler, policy(), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.some((d) => d.subject === "hot" && d.code === "OVERLOAD_TOO_SHORT")).toBe(true);
  });
});
