import { describe, expect, it } from "vitest";
import type { RecoveryStatusReply } from "../../shared/schemas/orchestrator-api.js";
import { renderRecoveryStatus } from "../../cli/render-recovery.js";
import { createOrchestratorMetrics } from "../../orchestrator/shell/http/orchestrator-metrics.js";
import { FakePower } from "./fake-power.js";
import { dataOf, oneRestartPerPass, recoveryClusterPerTest, recoveryPolicy } from "./recovery-cluster.js";
import { waitUntil, type SimCluster } from "./sim-cluster.js";

// Host failure end to end on a real nats-server, with sim agents and the real orchestrator: a host
// that loses its power (its agent stops, its sim hypervisor leaves the fabric so peers' probes
// fail, its BMC reads off) is detected, fenced through its power driver and its shared-disk VMs
// are started on the others exactly once, highest priority first, while its local-disk VM waits;
// a host whose agent dies while its libvirt answers is never recovered; a host without a power
// driver is not recovered until an operator confirms it off.

// One restart per plan: the high-priority VM must be recorded in an earlier pass than the low one.
const POLICY = recoveryPolicy(oneRestartPerPass({ web1: "high", app1: "low", db1: "high" }));

const startCluster = recoveryClusterPerTest();
/** b's three VMs recorded before anything fails, and the recovery alerts from the start. */
const start = (powerDrivers?: Map<string, FakePower>) => startCluster({ records: 3, policy: POLICY, powerDrivers });

const status = async (cl: SimCluster): Promise<RecoveryStatusReply> => dataOf("recoveryStatus", await cl.api("recoveryStatus", {}));
const hostState = async (cl: SimCluster, h: string) => (await status(cl)).hosts.find((x) => x.host === h)?.state;
/** Hosts (of those still up) on which the VM is defined. */
const copies = (cl: SimCluster, vm: string) => ["a", "c"].filter((h) => cl.sim(h).hasVm(vm));

/** b loses its power: its agent and its libvirt are gone at once. */
async function powerLoss(cl: SimCluster): Promise<void> {
  await cl.agents.get("b")!.stop(); // the sim hypervisor leaves the fabric with it: probes fail
  expect(cl.fabric.resolve("b")).toBeUndefined();
}

describe("host failure recovery (sim cluster, real NATS)", () => {
  it("detects a power loss, fences through the driver, restarts shared-disk VMs once by priority, lists the local-disk VM as waiting", async () => {
    const power = new FakePower("b");
    const { cluster, alerts } = await start(new Map([["b", power]]));
    power.reading = "off";
    await powerLoss(cluster);

    await waitUntil(async () => (await hostState(cluster, "b")) === "recovered", 30_000, "b to be recovered");
    const s = await status(cluster);
    const b = s.hosts.find((h) => h.host === "b")!;
    expect(b.fence).toMatchObject({ code: "FENCE_CONFIRMED", fencedBy: "driver" });
    expect(b.attempts.filter((a) => a.by === "driver" && a.result === "off")).toHaveLength(1);
    expect(power.calls).toContain("off hard");
    expect([...new Set(b.evidence.probes.filter((p) => p.result !== "ok").map((p) => p.peer))].sort()).toEqual(["a", "c"]);

    const started = s.restarts.filter((r) => r.outcome === "started");
    expect(started.map((r) => r.restart.vm).sort()).toEqual(["app1", "web1"]);
    // High before low: web1 was recorded in an earlier pass (max_concurrent_restarts 1).
    const at = new Map(started.map((r) => [r.restart.vm, r.restart.at]));
    expect(at.get("web1")!).toBeLessThan(at.get("app1")!);
    // The wave: app1 once web1 was up; the simulated agent's guest-state says it has no guest
    // agent channel, so it was up when asked after its start.
    const web1 = started.find((r) => r.restart.vm === "web1")!;
    expect(web1.upAt).not.toBeNull();
    expect(at.get("app1")!).toBeGreaterThanOrEqual(web1.upAt!);
    expect(s.waiting).toEqual([expect.objectContaining({ vm: "db1", host: "b", code: "RESTART_LOCAL_DISKS" })]);
    expect(copies(cluster, "web1")).toHaveLength(1);
    expect(copies(cluster, "app1")).toHaveLength(1);
    expect(copies(cluster, "db1")).toEqual([]);

    // Several passes later nothing more was started, and the restarted VMs run.
    const passes = (await cluster.api("decisions", { limit: 1000 })).data.length;
    await waitUntil(async () => (await cluster.api("decisions", { limit: 1000 })).data.length > passes + 5, 10_000, "more decisions");
    const later = await status(cluster);
    expect(later.restarts).toHaveLength(2);
    expect(copies(cluster, "web1")).toHaveLength(1);
    expect(copies(cluster, "app1")).toHaveLength(1);
    for (const vm of ["web1", "app1"])
      expect(
        cluster
          .sim(copies(cluster, vm)[0]!)
          .vms()
          .find((v) => v.name === vm)?.state,
      ).toBe("running");
    expect(alerts.filter((a) => a.alert === "fence_failed" || a.alert === "fence_impossible")).toEqual([]);

    // Each step is a decision with its code; status and the CLI show the failed host as such.
    const codes = (await cluster.api("decisions", { host: "b", limit: 1000 })).data.map((d) => d.code);
    expect(codes).toEqual(expect.arrayContaining(["FAILURE_CANDIDATE", "FENCE_NEEDED", "FENCE_CONFIRMED"]));
    const st = await cluster.api("status", {});
    expect(st.data.hosts.find((h) => h.host === "b")?.failure).toBe("recovered");
    expect(renderRecoveryStatus(later)).toContain("RECOVERED");
    // The UP column: seconds from web1's record to its guest being up.
    expect(
      renderRecoveryStatus(later)
        .split("\n")
        .find((l) => l.startsWith("web1")),
    ).toMatch(/started\s+\+\d+(\.\d)? s/);
  }, 60_000);

  it("restarts nothing when only the agent dies and libvirt still answers its peers", async () => {
    const power = new FakePower("b");
    const { cluster, alerts } = await start(new Map([["b", power]]));
    const hv = cluster.sim("b");
    await cluster.agents.get("b")!.stop();
    hv.start(); // libvirt (and its guests) run on; only the agent is gone

    await waitUntil(async () => (await hostState(cluster, "b")) === "agent_down", 15_000, "b to be agent_down");
    // Well past failure_detect_after (2 s) while still agent_down: judged on every pass, never failed.
    await waitUntil(
      async () => {
        const b = (await status(cluster)).hosts.find((h) => h.host === "b")!;
        expect(b.state).toBe("agent_down");
        return b.since !== null && Date.now() - b.since > 4000;
      },
      15_000,
      "b agent_down for 4 s",
    );
    const s = await status(cluster);
    expect(s.restarts).toEqual([]);
    expect(power.calls.filter((x) => x.startsWith("off"))).toEqual([]);
    expect(copies(cluster, "web1")).toEqual([]);
    expect(hv.hasVm("web1")).toBe(true);
    expect(alerts).toContainEqual(expect.objectContaining({ alert: "agent_down", host: "b" }));
    // An operator cannot confirm it off: it shows signs of life.
    const r = await cluster.api("recover", { host: "b", confirmFenced: true });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.code).toBe("BAD_REQUEST");
  }, 60_000);

  it("without a power driver restarts nothing until an operator confirms the host off", async () => {
    const { cluster, alerts } = await start();
    const metrics = createOrchestratorMetrics(cluster.orch.orchestrator);
    const healthy = await cluster.api("recover", { host: "a", confirmFenced: true });
    expect(!healthy.ok && healthy.error.code).toBe("BAD_REQUEST");
    await powerLoss(cluster);

    await waitUntil(() => alerts.some((a) => a.alert === "fence_impossible" && a.host === "b"), 15_000, "the no-driver alert");
    const alert = alerts.find((a) => a.alert === "fence_impossible")!;
    expect(alert.message).toContain("ballast recover b --confirm-fenced");
    const text = await metrics.text();
    expect(text).toContain('ballast_host_failure_state{host="b",state="failed"} 1');
    expect(text).toContain('ballast_host_failure_state{host="a",state="healthy"} 1');
    expect(text).toContain('ballast_recovery_alerts_total{alert="fence_impossible"} 1');
    let s = await status(cluster);
    expect(s.hosts.find((h) => h.host === "b")).toMatchObject({ state: "failed", fence: { code: "FENCE_NO_DRIVER", next: "alert" } });
    // Passes go on; still nothing restarted.
    const decisions = (await cluster.api("decisions", { limit: 1000 })).data.length;
    await waitUntil(async () => (await cluster.api("decisions", { limit: 1000 })).data.length > decisions, 10_000, "another decision");
    s = await status(cluster);
    expect(s.restarts).toEqual([]);
    expect(copies(cluster, "web1")).toEqual([]);

    const r = await cluster.api("recover", { host: "b", confirmFenced: true });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    await waitUntil(async () => (await hostState(cluster, "b")) === "recovered", 20_000, "b to be recovered");
    s = await status(cluster);
    expect(s.hosts.find((h) => h.host === "b")?.fence).toMatchObject({ code: "FENCE_OPERATOR", fencedBy: "operator" });
    expect(
      s.restarts
        .filter((x) => x.outcome === "started")
        .map((x) => x.restart.vm)
        .sort(),
    ).toEqual(["app1", "web1"]);
    expect(copies(cluster, "web1")).toHaveLength(1);
    expect(copies(cluster, "app1")).toHaveLength(1);
    expect(copies(cluster, "db1")).toEqual([]);
  }, 60_000);
});
