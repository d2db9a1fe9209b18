import { describe, expect, it } from "vitest";
import { renderStatus } from "../../cli/render.js";
import { renderExplainHost } from "../../cli/render-power.js";
import type { ExplainHostReply, StatusReply } from "../../shared/schemas/orchestrator-api.js";

const status = (hostMapping: StatusReply["hostMapping"]): StatusReply => ({
  now: 1_700_000_000_000,
  paused: false,
  pausedReason: null,
  automation: "full",
  leader: true,
  ha: null,
  cycle: 3,
  hosts: [],
  migrations: { queued: [], ongoing: [] },
  frozenVms: [],
  hostMapping,
  pendingPlans: [],
});

describe("renderStatus", () => {
  it("says when the newest host_mapping was rejected, and which mapping stays in force", () => {
    const text = renderStatus(
      status({
        path: "/etc/ballast/host_mapping.csv",
        hosts: 2,
        loadedAt: 1_700_000_000_000,
        error: "line 3: bad address",
        errorAt: 1_700_000_060_000,
        warnings: ["line 4: hv-c has the address of hv-b"],
      }),
    );
    expect(text).toContain("host_mapping REJECTED at 2023-11-14 22:14:20Z: line 3: bad address");
    expect(text).toContain("the mapping read at 2023-11-14 22:13:20Z stays in force (2 hosts)");
    expect(text).toContain("host_mapping warning: line 4: hv-c has the address of hv-b");
  });

  it("says nothing about a mapping that is fine", () => {
    expect(renderStatus(status({ path: null, hosts: 3, loadedAt: null, error: null, errorAt: null, warnings: [] }))).not.toContain("host_mapping");
  });
});

describe("renderStatus and facts", () => {
  const host = (name: string, facts: boolean | undefined, notMigratable?: number): StatusReply["hosts"][number] => ({
    host: name,
    fresh: true,
    agentAlive: true,
    lastSeen: 1_700_000_000_000,
    lastMetrics: 1_700_000_000_000,
    cpus: 8,
    cpuPercent: 10,
    memPercent: 20,
    memTotalMiB: 32768,
    memAvailableMiB: 20000,
    loadSource: "host",
    vms: 2,
    runningVms: 2,
    address: "10.0.0.1",
    maintenance: false,
    collectOk: true,
    ...(facts !== undefined ? { facts } : {}),
    ...(notMigratable !== undefined ? { notMigratable } : {}),
  });
  const mapping = { path: null, hosts: 3, loadedAt: null, error: null, errorAt: null, warnings: [] };

  it("names the hosts without facts and counts the VMs that cannot move", () => {
    const text = renderStatus({ ...status(mapping), hosts: [host("hv-a", true, 1), host("hv-b", false), host("hv-c", true, 0)] });
    expect(text).toContain("hosts without facts (receive no VM whose facts are known): hv-b");
    expect(text).toContain("VMs that cannot live-migrate: hv-a 1 (ballast facts <host>)");
  });

  it("says nothing of facts when every host has them, or the orchestrator is older", () => {
    expect(renderStatus({ ...status(mapping), hosts: [host("hv-a", true, 0), host("hv-b", undefined)] })).not.toMatch(/facts|live-migrate/);
  });
});

describe("renderExplainHost", () => {
  const verdict = {
    kind: "host" as const,
    subject: "hv-d",
    code: "POWER_MIN_ON" as const,
    message: "host hv-d has been on for 120.0 s < min_on_time 3600 s",
    numbers: {},
  };
  const base: ExplainHostReply = {
    host: "hv-d",
    managed: true,
    state: "on",
    power: {
      state: "on",
      since: Date.UTC(2025, 0, 1, 10),
      switchable: true,
      emptySince: Date.UTC(2025, 0, 1, 10, 1),
      cyclesToday: 1,
      bootDeadline: null,
      failed: null,
    },
    powerStatus: null,
    action: null,
    verdict,
    decisions: [verdict],
    summary: "host hv-d is on; POWER_MIN_ON: host hv-d has been on for 120.0 s < min_on_time 3600 s",
    lastCycles: { from: 3, to: 12, decisions: [] },
  };

  it("says why a host is not switched, and that no power decisions were logged", () => {
    const out = renderExplainHost(base);
    expect(out.split("\n")[0]).toBe(base.summary);
    expect(out).toContain("this cycle: nothing (POWER_MIN_ON): host hv-d has been on for 120.0 s < min_on_time 3600 s");
    expect(out).toMatch(/power: on since .*; empty since .*; cycles in 24 h: 1$/m);
    expect(out).toContain("no power decisions about it in cycles 3..12");
    // The verdict is shown once, not again among the other decisions.
    expect(out).not.toContain("what a cycle planned now decides about it");
  });

  it("shows the planned action with the VMs that wait for it, and a failure", () => {
    const out = renderExplainHost({
      ...base,
      state: "off",
      power: { ...base.power!, state: "off", failed: "ipmitool: timed out" },
      action: {
        seq: 0,
        host: "hv-d",
        action: "on",
        code: "POWER_ON_HOTSPOT",
        reason: "the hot spot on hv-a: web-1 fit no powered host",
        numbers: {},
        forVms: ["web-1"],
        afterMoves: [],
      },
    });
    expect(out).toContain("this cycle: switch on (POWER_ON_HOTSPOT): the hot spot on hv-a: web-1 fit no powered host; for web-1");
    expect(out).toContain("FAILED: ipmitool: timed out");
  });
});
