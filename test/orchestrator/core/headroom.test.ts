import { describe, expect, it } from "vitest";
import { cpuSwing, effectivePolicy } from "../../../orchestrator/core/headroom.js";
import { explainVm } from "../../../orchestrator/core/explain-vm.js";
import { plan } from "../../../orchestrator/core/planner.js";
import type { HostSample, SnapshotHost } from "../../../shared/schemas/snapshot.js";
import { Plan } from "../../../shared/schemas/plan.js";
import { host, NOW, policy, snapshot, vm } from "./builders.js";

/** Samples every 10 s ending at NOW (= cpu), alternating between cpu and cpu + swing. */
function swinging(cpu: number, swing: number, n = 12): HostSample[] {
  const out: HostSample[] = [];
  for (let i = n - 1; i >= 0; i--) out.push({ ts: NOW - i * 10_000, cpu: i % 2 === 0 ? cpu : cpu + swing, mem: 20 });
  return out;
}

/** `n` busy hosts whose samples change by `swing` points between consecutive samples. */
function cluster(n: number, swing: number, cpu = 50): { hosts: SnapshotHost[]; vms: ReturnType<typeof vm>[] } {
  const hosts: SnapshotHost[] = [];
  const vms = [];
  for (let i = 0; i < n; i++) {
    const id = `h${i}`;
    hosts.push(host(id, { cpu, samples: swinging(cpu, swing) }));
    vms.push(vm(`v${i}`, id, { cpu: 100 }));
  }
  return { hosts, vms };
}

describe("cpuSwing", () => {
  it("is the 90th percentile over busy hosts of the mean absolute change between the newest samples", () => {
    const { hosts, vms } = cluster(10, 2);
    hosts[9] = host("h9", { cpu: 50, samples: swinging(50, 30) });
    const s = cpuSwing(snapshot(hosts, vms), policy(), NOW);
    expect(s?.hosts).toBe(10);
    // Nine hosts swing ~2 points, one 30: the 90th percentile of ten is the largest.
    expect(s!.swing).toBeGreaterThan(25);
    hosts[9] = host("h9", { cpu: 50, samples: swinging(50, 2) });
    expect(cpuSwing(snapshot(hosts, vms), policy(), NOW)!.swing).toBeLessThan(3);
  });

  it("reads samples oldest first whatever their order, and a host listed twice once", () => {
    const { hosts, vms } = cluster(6, 2);
    // h5: steady for its older six samples, swinging 30 points in its newest six.
    const h5 = swinging(50, 30, 12).map((x, i) => (i < 6 ? { ...x, cpu: 50 } : x));
    hosts[5] = host("h5", { cpu: 50, samples: h5 });
    const a = cpuSwing(snapshot(hosts, vms), policy(), NOW)!;
    // Shuffled samples (reversed) and a second, steady entry for h5 that must not count.
    const shuffled = hosts.map((h) => ({ ...h, samples: [...h.samples].reverse() }));
    const b = cpuSwing(snapshot([...shuffled, host("h5", { cpu: 50, samples: swinging(50, 0) })], vms), policy(), NOW)!;
    expect(b.swing).toBe(a.swing);
    expect(b.hosts).toBe(6);
    expect(b.byHost.get("h5")).toBe(a.byHost.get("h5"));
    expect(a.byHost.get("h5")).toBeGreaterThan(20);
  });

  it("ignores empty hosts, silent hosts and hosts with too few samples, and needs five busy hosts", () => {
    const { hosts, vms } = cluster(5, 2);
    expect(cpuSwing(snapshot(hosts, vms), policy(), NOW)?.hosts).toBe(5);
    const idle = Array.from({ length: 20 }, (_, i) => host(`idle${i}`, { cpu: 0 }));
    expect(cpuSwing(snapshot([...hosts, ...idle], vms), policy(), NOW)?.hosts).toBe(5);
    const silent = [...hosts.slice(0, 4), host("h4", { cpu: 50, samples: swinging(50, 2), lastSeenAgo: 100 })];
    expect(cpuSwing(snapshot(silent, vms), policy(), NOW)).toBeNull();
    const short = [...hosts.slice(0, 4), host("h4", { cpu: 50, samples: swinging(50, 2, 3) })];
    expect(cpuSwing(snapshot(short, vms), policy(), NOW)).toBeNull();
  });
});

describe("effectivePolicy", () => {
  it("keeps the configured levels when loads swing as much as the headroom assumes", () => {
    const { hosts, vms } = cluster(8, 12);
    const p = policy();
    const e = effectivePolicy(snapshot(hosts, vms), p, NOW);
    expect(e.share).toBe(1);
    expect(e.policy).toBe(p);
    expect(e.note).toBeNull();
  });

  it("on steady loads moves every CPU level up in proportion, down to headroom_min_share of the headroom", () => {
    const { hosts, vms } = cluster(8, 1);
    const e = effectivePolicy(snapshot(hosts, vms), policy(), NOW);
    // Needed 2 × 1 = 2 points of a configured 20: clamped to half the headroom.
    expect(e.share).toBe(0.5);
    expect(e.policy).toMatchObject({ load_threshold: 90, load_target: 85, max_load_candidate: 85, consolidate_load: 85, mem_threshold: 90 });
    expect(e.note).toMatchObject({ code: "CPU_HEADROOM_ADAPTED", numbers: { share: 0.5, load_threshold: 90, hosts: 8 } });
  });

  it("keeps headroom_swings times the swing between the two bounds", () => {
    const { hosts, vms } = cluster(8, 6);
    const e = effectivePolicy(snapshot(hosts, vms), policy(), NOW);
    // Needed 2 × 6 = 12 of 20 points.
    expect(e.share).toBeCloseTo(0.6, 2);
    expect(e.policy.load_threshold).toBeCloseTo(88, 1);
    expect(e.policy.load_target).toBeCloseTo(82, 1);
    expect(effectivePolicy(snapshot(hosts, vms), policy({ headroom_swings: 4 }), NOW).share).toBe(1);
  });

  it("headroom_min_share 1 turns adaptation off", () => {
    const { hosts, vms } = cluster(8, 0);
    const p = policy({ headroom_min_share: 1 });
    expect(effectivePolicy(snapshot(hosts, vms), p, NOW)).toEqual({ policy: p, share: 1, hostScale: new Map(), note: null });
  });
});

describe("the planner with adaptive headroom", () => {
  // A host at 86 % for five minutes among steady hosts: over the configured 80 % trigger, under
  // the adapted 90 %.
  const withHot = (swing: number) => {
    const { hosts, vms } = cluster(8, swing, 40);
    hosts[0] = host("h0", { cpu: 86, samples: swinging(86, Math.min(swing, 14), 31) });
    vms.push(vm("extra", "h0", { cpu: 150 }));
    return snapshot(hosts, vms);
  };

  it("leaves a host at 86 % alone when loads are steady, and says why", () => {
    const p = plan(withHot(1), policy(), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.find((d) => d.code === "CPU_HEADROOM_ADAPTED")?.numbers).toMatchObject({ load_threshold: 90 });
    expect(p.indicators.overloadedBefore).toBe(0);
  });

  it("relieves the same host when loads swing, or when adaptation is off", () => {
    expect(plan(withHot(12), policy(), NOW).moves.map((m) => m.source)).toContain("h0");
    const off = plan(withHot(1), policy({ headroom_min_share: 1 }), NOW);
    expect(off.moves.map((m) => m.source)).toContain("h0");
    expect(off.decisions.some((d) => d.code === "CPU_HEADROOM_ADAPTED")).toBe(false);
  });

  it("returns the adapted levels as plan.adaptation, the same as its CPU_HEADROOM_ADAPTED decision", () => {
    const p = plan(withHot(1), policy(), NOW);
    const note = p.decisions.find((d) => d.code === "CPU_HEADROOM_ADAPTED")!;
    expect(p.adaptation).toEqual({
      share: 0.5,
      swing: note.numbers["swing"],
      hosts: 8,
      loadThreshold: 90,
      loadTarget: 85,
      maxLoadCandidate: 85,
      consolidateLoad: 85,
      widerHosts: note.numbers["widerHosts"],
      message: note.message,
    });
    expect(note.numbers).toMatchObject({
      share: p.adaptation!.share,
      hosts: p.adaptation!.hosts,
      load_threshold: 90,
      load_target: 85,
      max_load_candidate: 85,
      consolidate_load: 85,
    });
    // New fields go after the ones a plan already had (the golden digests hash those, in order).
    expect(Object.keys(p).slice(-3)).toEqual(["adaptation", "memAdaptation", "power"]);
    expect(Plan.parse(JSON.parse(JSON.stringify(p)))).toEqual(p);
  });

  it("plan.adaptation is null when the configured levels apply, and a plan without the field still parses", () => {
    const swinging = plan(withHot(12), policy(), NOW);
    expect(swinging.adaptation).toBeNull();
    expect(plan(withHot(1), policy({ headroom_min_share: 1 }), NOW).adaptation).toBeNull();
    const older: Record<string, unknown> = { ...swinging };
    delete older["adaptation"];
    expect(Plan.parse(older).adaptation).toBeNull();
  });

  it("is deterministic: the same snapshot gives the same plan, byte for byte", () => {
    const s = withHot(1);
    expect(JSON.stringify(plan(s, policy({ strategies: ["hotspot", "consolidate"] }), NOW))).toBe(
      JSON.stringify(plan(s, policy({ strategies: ["hotspot", "consolidate"] }), NOW)),
    );
  });
});

describe("a bursty host among steady ones", () => {
  // Ten steady hosts (swing 1) and one bursty host (swing 12): the cluster's 90th percentile is
  // steady, so the levels adapt, but the bursty host keeps the headroom its own swing needs.
  const mixed = (burstyCpu: number) => {
    const { hosts, vms } = cluster(10, 1, 40);
    hosts.push(host("bursty", { cpu: burstyCpu, samples: swinging(burstyCpu, 12, 31) }));
    vms.push(vm("b-1", "bursty", { cpu: 200 }), vm("b-2", "bursty", { cpu: 150 }));
    return { hosts, vms };
  };

  it("gets a wider headroom: the configured levels where its swing needs all of it", () => {
    const { hosts, vms } = mixed(50);
    const e = effectivePolicy(snapshot(hosts, vms), policy(), NOW);
    expect(e.share).toBe(0.5);
    expect([...e.hostScale]).toEqual([["bursty", 2]]);
    expect(e.note?.numbers).toMatchObject({ widerHosts: 1, load_threshold: 90 });
  });

  it("is counted in plan.adaptation", () => {
    const { hosts, vms } = mixed(50);
    expect(plan(snapshot(hosts, vms), policy(), NOW).adaptation).toMatchObject({ widerHosts: 1, hosts: 11, loadThreshold: 90 });
  });

  it("triggers at its own 80 % while the steady hosts' trigger is 90 %", () => {
    const { hosts, vms } = mixed(86);
    // Its samples alternate 86 and 98 %: never all over 90, always over 80.
    const p = plan(snapshot(hosts, vms), policy(), NOW);
    expect(p.decisions.some((d) => d.code === "CPU_HEADROOM_ADAPTED")).toBe(true);
    expect(p.moves.map((m) => m.source)).toContain("bursty");
  });

  it("is judged as a destination against the configured candidate limit", () => {
    const { hosts, vms } = mixed(50);
    // A VM of 1.6 cores (20 points of an 8-core host) on a steady host.
    vms.push(vm("mover", "h0", { cpu: 160 }));
    const x = explainVm(snapshot(hosts, vms), policy(), NOW, "mover");
    // bursty: 50 % + 20 = 70 % ≥ 70 % (configured); a steady host at 40 %: 60 % < 85 % (adapted).
    expect(x.hosts.find((d) => d.subject === "bursty")).toMatchObject({ code: "DEST_CPU", numbers: { limitPercent: 70 } });
    expect(x.hosts.find((d) => d.subject === "h1")?.code).toBe("DEST_OK");
  });
});
