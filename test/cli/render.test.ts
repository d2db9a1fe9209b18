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
