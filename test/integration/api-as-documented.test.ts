import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { ServiceErrorCodeHeader, ServiceErrorHeader, Svcm } from "@nats-io/services";
import { agentSubjects, orchestratorInstanceSubject, orchestratorSubjects, type OrchestratorEndpoint } from "../../shared/subjects.js";
import { startSimCluster, waitUntil, type SimCluster } from "./sim-cluster.js";

// Issue 14 items 2, 6 and 7, on a real orchestrator over a real nats-server:
//   2. a migrate request id reused for another VM (or destination) is IDEMPOTENCY_CONFLICT, naming
//      the id and what differs; the same body gets the first answer again, and one migration runs;
//   6. error replies carry the Nats-Service-Error / Nats-Service-Error-Code headers and count in
//      $SRV.STATS (num_errors, last_error), ok replies do not;
//   7. codes as documented: SAME_HOST, VM_NOT_RUNNING, releasing an unknown VM is UNKNOWN_VM, and
//      an oversized request names the limit.

const INTERVAL = 0.25;
const dec = new TextDecoder();

interface Raw {
  body: { ok: boolean; data?: unknown; error?: { code: string; message: string; details?: Record<string, unknown> } };
  headers: MsgHdrs | undefined;
}

type EndpointStats = Map<string, { num_requests: number; num_errors: number; last_error?: string }>;

/** Endpoint statistics of the service whose metadata has `key` = `value`, from $SRV.STATS. */
async function serviceStats(nc: NatsConnection, service: string, key: string, value: string): Promise<EndpointStats> {
  const it = await new Svcm(nc).client({ maxWait: 2000, strategy: "stall" }).stats(service);
  for await (const s of it) {
    if (s.metadata?.[key] === value) return new Map((s.endpoints ?? []).map((e) => [e.name, e]));
  }
  throw new Error(`no $SRV.STATS answer from ${service} with ${key} ${value}`);
}
const orchestratorStats = (nc: NatsConnection, instance: string) => serviceStats(nc, "ballast-orchestrator", "instance", instance);

describe("the operator API as documented (issue 14 items 2, 6, 7)", () => {
  let c: SimCluster;

  const raw = async (subject: string, body: unknown): Promise<Raw> => {
    const m = await c.nc.request(subject, typeof body === "string" ? body : JSON.stringify(body), { timeout: 5000 });
    return { body: JSON.parse(dec.decode(m.data)) as Raw["body"], headers: m.headers };
  };
  const ask = (e: OrchestratorEndpoint, body: unknown) => raw(orchestratorSubjects[e], body);

  beforeAll(async () => {
    const vm = (name: string, state: "running" | "shutoff" = "running") => ({ name, vcpus: 1, mem_mib: 1024, cpu: 5, state });
    const host = (vms: ReturnType<typeof vm>[]) => ({ cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms });
    c = await startSimCluster({
      instance: "documented",
      interval: INTERVAL,
      hosts: { a: host([vm("a-1"), vm("a-off", "shutoff")]), b: host([vm("b-1")]), c: host([]) },
      policy: { interval: INTERVAL, automation: "manual", stale_after: 5, host_settle: 0.2 },
    });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 3, 15_000, "all hosts to report");
  }, 60_000);

  afterAll(async () => {
    await c?.stop();
  });

  describe("item 7: codes as documented", () => {
    it("migrate to the VM's own host is SAME_HOST", async () => {
      const r = await ask("migrate", { vm: "a-1", to: "a" });
      expect(r.body).toMatchObject({ ok: false, error: { code: "SAME_HOST" } });
      expect(r.body.error?.message).toContain("a-1 already runs on a");
    });

    it("migrate of a shut-off VM is VM_NOT_RUNNING, with or without a destination", async () => {
      for (const body of [{ vm: "a-off" }, { vm: "a-off", to: "b" }, { vm: "a-off", to: "a" }]) {
        const r = await ask("migrate", body);
        expect(r.body, JSON.stringify(body)).toMatchObject({ ok: false, error: { code: "VM_NOT_RUNNING" } });
        expect(r.body.error?.message).toContain("a-off is shutoff");
      }
    });

    it("release of a VM no agent reports and nobody froze is UNKNOWN_VM; a known VM that is not frozen is released: false", async () => {
      const r = await ask("release", { vm: "no-such-vm" });
      expect(r.body).toMatchObject({ ok: false, error: { code: "UNKNOWN_VM" } });
      expect(r.body.error?.message).toContain("no-such-vm");
      expect((await ask("release", { vm: "a-1" })).body).toEqual({ ok: true, data: { vm: "a-1", released: false } });
      expect((await ask("release", { vm: "a-off" })).body).toEqual({ ok: true, data: { vm: "a-off", released: false } });
    });

    it("a request over the size limit is BAD_REQUEST naming the limit, on every endpoint and instance subject", async () => {
      const big = JSON.stringify({ vm: "a-1", to: "x".repeat(70_000) });
      for (const subject of [orchestratorSubjects.migrate, orchestratorSubjects.status, orchestratorInstanceSubject("documented", "plan")]) {
        const r = await raw(subject, big);
        expect(r.body, subject).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", details: { bytes: big.length, limitBytes: 65536 } } });
        expect(r.body.error?.message).toBe(`request body of ${big.length} bytes exceeds the request size limit of 65536 bytes (64 KiB); nothing was done`);
      }
    });
  });

  describe("item 2: a request id names one request", () => {
    it("the same id with another VM or destination is IDEMPOTENCY_CONFLICT; the same body gets the first answer", async () => {
      const first = await ask("migrate", { vm: "b-1", to: "c", requestId: "idem-1" });
      expect(first.body.ok, JSON.stringify(first.body)).toBe(true);
      const same = await ask("migrate", { vm: "b-1", to: "c", requestId: "idem-1" });
      expect(same.body).toEqual(first.body);

      const otherVm = await ask("migrate", { vm: "a-1", to: "c", requestId: "idem-1" });
      expect(otherVm.body).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT", details: { requestId: "idem-1" } } });
      expect(otherVm.body.error?.message).toContain("request id idem-1 was used before for a different migrate (vm b-1 then, a-1 now)");
      const otherTo = await ask("migrate", { vm: "b-1", to: "a", requestId: "idem-1" });
      expect(otherTo.body).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" } });
      expect(otherTo.body.error?.message).toContain("to c then, a now");
      const bestHost = await ask("migrate", { vm: "b-1", requestId: "idem-1" });
      expect(bestHost.body.error?.message).toContain("to c then, (the best host) now");

      await waitUntil(async () => (await c.api("history", { vm: "b-1" })).data.some((r) => r.requestId === "idem-1"), 10_000, "the migration to finish");
      // One migration, of the first body's VM; a-1 never moved.
      const runs = [...(await c.api("history", { limit: 100 })).data].filter((r) => r.requestId === "idem-1");
      expect(runs.map((r) => [r.vm, r.destination, r.state])).toEqual([["b-1", "c", "SUCCEEDED"]]);
      expect(c.fabric.whereIs("a-1")).toEqual(["a"]);
    });

    it("a request id the orchestrator gave a migration (no answer remembered) refuses another VM too", async () => {
      await waitUntil(async () => (await c.api("explain", { vm: "b-1" })).data.runningOn.join() === "c", 10_000, "b-1 to be reported on c");
      const back = await c.api("migrate", { vm: "b-1", to: "b" });
      expect(back.ok, JSON.stringify(back)).toBe(true);
      const id = back.data.queued[0]!.requestId;
      expect(id).toMatch(/^m-[0-9a-z]+-[0-9a-v]{16}$/);
      await waitUntil(async () => (await c.api("history", { vm: "b-1" })).data.some((r) => r.requestId === id), 10_000, "the move back");
      const r = await ask("migrate", { vm: "a-1", to: "b", requestId: id });
      expect(r.body).toMatchObject({ ok: false, error: { code: "IDEMPOTENCY_CONFLICT" } });
      expect(r.body.error?.message).toContain(`request id ${id} was used before for a different migrate (vm b-1 then (migration SUCCEEDED), a-1 now)`);
    });
  });

  describe("item 6: error replies as NATS service errors", () => {
    it("carry Nats-Service-Error and Nats-Service-Error-Code; ok replies do not", async () => {
      const cases: [OrchestratorEndpoint, unknown, string][] = [
        ["explain", { vm: "nobody" }, "404"],
        ["migrate", { vm: "a-1", to: "a" }, "409"],
        ["approve", { planId: "p-0" }, "404"],
        ["status", "{not json", "400"],
        ["history", { limit: 0 }, "400"],
      ];
      for (const [e, body, status] of cases) {
        const r = await ask(e, body);
        expect(r.body.ok, e).toBe(false);
        expect(r.headers?.get(ServiceErrorCodeHeader), e).toBe(status);
        expect(r.headers?.get(ServiceErrorHeader), e).toBe(r.body.error!.message.replace(/[\r\n]+/g, " ").slice(0, 512));
        // The Ballast-* headers are still there.
        expect(r.headers?.get("Ballast-Instance")).toBe("documented");
      }
      const ok = await ask("status", {});
      expect(ok.body.ok).toBe(true);
      expect(ok.headers?.get(ServiceErrorCodeHeader) || undefined).toBeUndefined();
    });

    it("count in $SRV.STATS, per endpoint, on the shared and the instance subject", async () => {
      const before = await orchestratorStats(c.nc, "documented");
      const N = 40;
      for (let i = 0; i < N; i++) await ask("explain", { vm: `ghost-${i}` });
      for (let i = 0; i < 5; i++) await raw(orchestratorInstanceSubject("documented", "explain"), { vm: "ghost" });
      await ask("explain", { vm: "a-1" }); // ok: not an error
      const after = await orchestratorStats(c.nc, "documented");
      const delta = (name: string, k: "num_errors" | "num_requests") => (after.get(name)?.[k] ?? 0) - (before.get(name)?.[k] ?? 0);
      expect(delta("explain", "num_requests")).toBe(N + 1);
      expect(delta("explain", "num_errors")).toBe(N);
      expect(delta("explain-instance", "num_errors")).toBe(5);
      expect(after.get("explain")?.last_error).toBe("UNKNOWN_VM: VM ghost-39 is not reported by any agent and has no history");
    });

    it("the agents' error replies carry the headers and count in $SRV.STATS too", async () => {
      const before = await serviceStats(c.nc, "ballast-agent", "host", "a");
      for (let i = 0; i < 7; i++) {
        const r = await raw(agentSubjects("a").migrate, { vm: `ghost-${i}` });
        expect(r.body.ok).toBe(false);
        expect(r.headers?.get(ServiceErrorCodeHeader)).toBe("400");
      }
      await raw(agentSubjects("a").ping, {}); // ok: not an error
      const after = await serviceStats(c.nc, "ballast-agent", "host", "a");
      const delta = (name: string, k: "num_errors" | "num_requests") => (after.get(name)?.[k] ?? 0) - (before.get(name)?.[k] ?? 0);
      expect(delta("migrate", "num_requests")).toBe(7);
      expect(delta("migrate", "num_errors")).toBe(7);
      expect(delta("ping", "num_errors")).toBe(0);
      expect(after.get("migrate")?.last_error).toMatch(/^BAD_REQUEST: /);
    });
  });
});
