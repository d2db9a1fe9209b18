import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { explainHost } from "../../../orchestrator/core/explain-host.js";
import { explainVm } from "../../../orchestrator/core/explain-vm.js";
import { plan, preflightEvacuation } from "../../../orchestrator/core/planner.js";
import type { Plan, PlanRequest } from "../../../shared/schemas/plan.js";
import { syntheticCluster } from "../../../bench/synthetic-cluster.js";
import { policy } from "./builders.js";
import { goldenCases } from "./golden-clusters.js";
import { powerCases } from "./power-clusters.js";

// Pins the planner's output, byte for byte, on 250 seeded clusters in every mode (and on two
// synthetic 200-host clusters): a change to the core that is meant to keep behaviour (a
// refactoring) must leave every digest as it is. Only the fields a plan had when the digests were
// taken are hashed, so a new field does not count as a change; everything in them does, key order
// included. A deliberate change of behaviour regenerates the file: BALLAST_UPDATE_GOLDEN=1.
// The power clusters (power management on) pin the power actions too, and each host's explanation.

const FIXTURE = new URL("../../fixtures/plans/golden.json", import.meta.url);
const PLAN_FIELDS = ["id", "createdAt", "mode", "snapshotDigest", "moves", "decisions", "indicators", "emptyHosts", "frozen"] as const;

const pinned = (p: Plan): unknown => Object.fromEntries(PLAN_FIELDS.map((k) => [k, p[k]]));
const pinnedWithPower = (p: Plan): unknown => ({ ...(pinned(p) as object), power: p.power });
const digest = (v: unknown): string => createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 24);

function compute(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of goldenCases(250, 20261206)) {
    const pol = policy(c.policy);
    const s = c.snapshot;
    const now = s.takenAt;
    const ids = s.hosts.map((h) => h.id);
    const running = s.vms.find((v) => v.state === "running");
    const requests: [string, PlanRequest][] = [
      ["cycle", { mode: "cycle" }],
      ["balance", { mode: "balance" }],
      ["consolidate", { mode: "consolidate" }],
      ["evacuate-stripe", { mode: "evacuate", host: ids[0]!, placement: "stripe", useEmptyHosts: false }],
      ["evacuate-pack-empty", { mode: "evacuate", host: ids[1]!, placement: "pack", useEmptyHosts: true }],
      ...(running
        ? ([
            ["manual-best", { mode: "manual", vm: running.name }],
            ["manual-to", { mode: "manual", vm: running.name, destination: ids[ids.length - 1]! }],
          ] as [string, PlanRequest][])
        : []),
      ["manual-unknown", { mode: "manual", vm: "nope" }],
    ];
    for (const [name, req] of requests) out[`${c.name}/${name}`] = digest(pinned(plan(s, pol, now, req)));
    const pre = preflightEvacuation(s, pol, now, ids[0]!, "stripe", false);
    out[`${c.name}/preflight`] = digest({ canDrain: pre.canDrain, reasons: pre.reasons, plan: pinned(pre.plan) });
    if (running) out[`${c.name}/explain`] = digest(explainVm(s, pol, now, running.name));
  }
  for (const c of powerCases(60, 20261207)) {
    const pol = policy(c.policy);
    const s = c.snapshot;
    const now = s.takenAt;
    out[`${c.name}/cycle`] = digest(pinnedWithPower(plan(s, pol, now)));
    out[`${c.name}/evacuate`] = digest(pinnedWithPower(plan(s, pol, now, { mode: "evacuate", host: c.evacuate, placement: "stripe", useEmptyHosts: false })));
    out[`${c.name}/explain-hosts`] = digest(s.hosts.map((h) => explainHost(s, pol, now, h.id)));
  }
  for (const [name, swing] of [
    ["bursty", 12],
    ["steady", 1],
  ] as const) {
    const s = syntheticCluster({ hosts: 200, vmsPerHost: 12, seed: 7, hotShare: 0.08, swing });
    const pol = policy({ strategies: ["hotspot", "balance", "consolidate"] });
    out[`synthetic-${name}/cycle`] = digest(pinned(plan(s, pol, s.takenAt)));
  }
  return out;
}

describe("planner golden plans", () => {
  it("every plan on the seeded clusters is byte-identical to the pinned one", () => {
    const now = compute();
    if (process.env.BALLAST_UPDATE_GOLDEN === "1" || !existsSync(FIXTURE)) {
      if (process.env.CI === "true" && !existsSync(FIXTURE)) throw new Error("the golden plan fixture is missing");
      writeFileSync(FIXTURE, JSON.stringify(now, null, 1) + "\n");
    }
    const want = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, string>;
    const changed = Object.keys({ ...want, ...now }).filter((k) => want[k] !== now[k]);
    expect(changed.slice(0, 20), `${changed.length} of ${Object.keys(want).length} plans changed`).toEqual([]);
    expect(Object.keys(now).length).toBeGreaterThan(2000);
  });
});
