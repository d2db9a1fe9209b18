import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { ServiceErrorCodeHeader, ServiceErrorHeader, Svcm } from "@nats-io/services";
import { RequestHeader } from "../../shared/nats/reply-headers.js";
import { orchestratorInstanceSubject } from "../../shared/subjects.js";
import type { Plan } from "../../shared/schemas/plan.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { leadThenStandBy, startHaCluster, type HaCluster } from "../ha/ha-cluster.js";

// HA, issue 14 items 3 and 6: a standby forwards requests from its own inbox, so the leader
// learns who really asked from the Ballast-Requester-Inbox header, which it believes only on a
// request from an orchestrator's inbox (or NATS' default one: no credentials, as here). A standby's relayed error is an error of its own endpoint
// too: service error headers, and counted in its $SRV.STATS. (No credentials on this server:
// clients pick their inbox prefixes as the generated identities would.)

const dec = new TextDecoder();

describe("HA: who asked, across a standby (issue 14 items 3, 6)", () => {
  let server: NatsServerHandle;
  let c: HaCluster;
  const clients: NatsConnection[] = [];

  const client = async (inboxPrefix: string) => {
    const nc = await connect({ servers: server.url, inboxPrefix });
    clients.push(nc);
    return nc;
  };
  const leader = () => c.orchs.get("orch-a")!.orchestrator;
  /** A dry run of evacuating a, sent as `nc` to an instance; its plan id. */
  const dryRun = async (nc: NatsConnection, instance: string, h?: Record<string, string>) => {
    const hdrs = headers();
    for (const [k, v] of Object.entries(h ?? {})) hdrs.set(k, v);
    const m = await nc.request(orchestratorInstanceSubject(instance, "plan"), JSON.stringify({ mode: "evacuate", host: "a" }), {
      timeout: 5000,
      headers: hdrs,
    });
    const r = JSON.parse(dec.decode(m.data)) as { ok: boolean; data: Plan };
    expect(r.ok).toBe(true);
    return r.data.id;
  };
  /** How the leader keeps a plan (identical plans of one kind are kept once, under the newest id). */
  const keptAs = (id: string) =>
    leader()
      .view.pendingPlans()
      .find((p) => p.plan.id === id || p.sameAs?.includes(id))?.dryRun;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    const vm = (name: string) => ({ name, vcpus: 2, mem_mib: 1024, cpu: 5 });
    const host = (names: string[]) => ({ cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: names.map(vm) });
    c = await startHaCluster({
      servers: [server.url],
      interval: 0.25,
      leaseTtl: 2,
      bucket: "ballast-who",
      orchestrators: ["orch-a"],
      hosts: { a: host(["a-1", "a-2"]), b: host(["b-1"]), c: host(["c-1"]) },
      policy: { interval: 0.25, automation: "manual", stale_after: 3, host_settle: 0.5 },
    });
    await leadThenStandBy(c, "orch-a", ["orch-b"], 3);
  }, 40_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((nc) => nc.close()));
    await c?.stop();
    await server?.stop();
  });

  it("the leader keeps a read-only identity's dry run as one, also when a standby forwarded it", async () => {
    const audit = await client("_INBOX_readonly-audit");
    const alice = await client("_INBOX_operator-alice");
    const direct = await dryRun(audit, "orch-a");
    const viaStandby = await dryRun(audit, "orch-b");
    const aliceViaStandby = await dryRun(alice, "orch-b");
    expect(keptAs(direct)).toEqual({ by: "_INBOX_readonly-audit", mayApprove: false });
    expect(keptAs(viaStandby)).toEqual({ by: "_INBOX_readonly-audit", mayApprove: false });
    expect(keptAs(aliceViaStandby)).toEqual({ by: "_INBOX_operator-alice", mayApprove: true });
  });

  it("the header is not believed from a read-only identity's inbox", async () => {
    const audit = await client("_INBOX_readonly-audit");
    const forged = await dryRun(audit, "orch-a", { [RequestHeader.requesterInbox]: "_INBOX_operator-alice" });
    expect(keptAs(forged)).toEqual({ by: "_INBOX_readonly-audit", mayApprove: false });
  });

  it("a relayed error carries the service error headers and counts in the standby's $SRV.STATS", async () => {
    const stats = async (instance: string) => {
      const it = await new Svcm(c.nc).client({ maxWait: 2000, strategy: "stall" }).stats("ballast-orchestrator");
      for await (const s of it) if (s.metadata?.instance === instance) return new Map((s.endpoints ?? []).map((e) => [e.name, e.num_errors]));
      throw new Error(`no stats from ${instance}`);
    };
    const before = await stats("orch-b");
    for (let i = 0; i < 3; i++) {
      const m = await c.nc.request(orchestratorInstanceSubject("orch-b", "explain"), JSON.stringify({ vm: "nobody" }), { timeout: 5000 });
      expect(JSON.parse(dec.decode(m.data))).toMatchObject({ ok: false, error: { code: "UNKNOWN_VM" } });
      expect(m.headers?.get("Ballast-Forwarded-By")).toBe("orch-b");
      expect(m.headers?.get(ServiceErrorCodeHeader)).toBe("404");
      expect(m.headers?.get(ServiceErrorHeader)).toContain("VM nobody is not reported by any agent");
    }
    const after = await stats("orch-b");
    expect((after.get("explain-instance") ?? 0) - (before.get("explain-instance") ?? 0)).toBe(3);
  });
});
