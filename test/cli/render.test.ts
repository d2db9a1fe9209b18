import { describe, expect, it } from "vitest";
import { renderStatus } from "../../cli/render.js";
import type { StatusReply } from "../../shared/schemas/orchestrator-api.js";

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
