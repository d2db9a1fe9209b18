import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { callOrchestrator } from "../../../cli/client.js";
import { BallastError } from "../../../shared/errors.js";
import { ReplyHeader } from "../../../shared/nats/reply-headers.js";
import { OrchestratorApi, ORCHESTRATOR_ENDPOINTS, type OrchestratorEndpoint, type RequestInput } from "../../../shared/schemas/orchestrator-api.js";
import { OrchestratorEventMessage } from "../../../shared/schemas/orchestrator-events.js";
import { orchestratorSubjects } from "../../../shared/subjects.js";
import { FakePower } from "../../integration/fake-power.js";
import { startSimCluster, waitUntil, type SimCluster } from "../../integration/sim-cluster.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";

// The operator API against its own map, on a real orchestrator over a real nats-server: every
// endpoint's answer matches its reply schema with nothing left over (a field the orchestrator
// sends but the schema does not describe would be stripped by the parse, and fails here), events
// match theirs, the deprecated snake_case request fields still work and say so, and a request
// nobody serves is NO_RESPONDERS, not a timeout.

const dec = new TextDecoder();
const INTERVAL = 0.25;

describe("operator API contract", () => {
  let c: SimCluster;
  const events: unknown[] = [];

  beforeAll(async () => {
    const vm = (name: string, cpu: number) => ({ name, vcpus: 2, mem_mib: 2048, cpu });
    const host = (vms: ReturnType<typeof vm>[]) => ({ cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms });
    c = await startSimCluster({
      interval: INTERVAL,
      hosts: { a: host([vm("a-1", 30), vm("a-2", 20)]), b: host([vm("b-1", 10)]), c: host([]), d: host([]) },
      powerDrivers: new Map([["d", new FakePower("d")]]),
      policy: {
        interval: INTERVAL,
        stale_after: 5,
        max_over: 1,
        host_settle: 1,
        automation: "partial",
        strategies: ["hotspot", "consolidate"],
        spare_hosts: 0,
      },
    });
    c.nc.subscribe(orchestratorSubjects.events, { callback: (_e, m) => void events.push(JSON.parse(dec.decode(m.data))) });
    await waitUntil(
      async () => {
        const s = await c.api("status", {});
        return s.ok && s.data.hosts.filter((h) => h.fresh).length === 4;
      },
      15_000,
      "all hosts to report",
    );
  }, 60_000);

  afterAll(async () => {
    await c?.stop();
  });

  /** The raw answer, and the same answer after the endpoint's reply schema. */
  const both = async <E extends OrchestratorEndpoint>(e: E, body: RequestInput<E>) => {
    const m = await c.nc.request(orchestratorSubjects[e], JSON.stringify(body), { timeout: 5000 });
    const raw = JSON.parse(dec.decode(m.data)) as { ok: boolean; data?: unknown; error?: unknown };
    return { raw, headers: m.headers, parsed: raw.ok ? OrchestratorApi[e].reply.safeParse(raw.data) : undefined };
  };

  // One ok request per endpoint; together they walk a consolidation from plan to history.
  const requests: { [E in OrchestratorEndpoint]: () => RequestInput<E> } = {
    status: () => ({}),
    version: () => ({}),
    plan: () => ({ mode: "consolidate" }),
    run: () => ({}),
    approve: () => ({ planId: pendingId }),
    migrate: () => ({ vm: "a-2", to: "c", requestId: "contract-1" }),
    evacuate: () => ({ host: "a", dryRun: true }),
    release: () => ({ host: "c" }),
    pause: () => ({ reason: "contract test" }),
    resume: () => ({}),
    history: () => ({ limit: 10 }),
    decisions: () => ({ limit: 20 }),
    explain: () => ({ vm: "a-1" }),
    explainHost: () => ({ host: "d" }),
    snapshot: () => ({}),
    cpuBaseline: () => ({}),
    facts: () => ({ host: "a" }),
    powerStatus: () => ({}),
    records: () => ({}),
    // Automation partial: both are proposed as pending plans (d is empty; consolidation packs onto loaded hosts, never onto it).
    powerOn: () => ({ host: "d" }),
    powerOff: () => ({ host: "d" }),
    recoveryStatus: () => ({}),
    // d's agent is stopped first (below): a silent host, suspect, which an operator may confirm off.
    recover: () => ({ host: "d", confirmFenced: true }),
    vmClaim: () => ({ vm: "a-1", host: "a" }),
    recoveryHistory: () => ({ kind: "all", limit: 20 }),
  };
  let pendingId = "";

  it.each(ORCHESTRATOR_ENDPOINTS)("%s answers ok, exactly as its reply schema describes", async (e) => {
    if (e === "approve") {
      const p = await c.api("plan", { mode: "consolidate" });
      expect(p.ok && p.data.moves.length).toBeGreaterThan(0);
      pendingId = p.data.id;
    }
    if (e === "recover") {
      await c.agents.get("d")!.stop();
      await waitUntil(
        async () => {
          const r = await c.api("recoveryStatus", { host: "d" });
          return r.ok && r.data.hosts.some((h) => h.state === "suspect");
        },
        20_000,
        "d to be suspect",
      );
    }
    const { raw, parsed } = await both(e, requests[e]() as RequestInput<typeof e>);
    expect(raw.ok, JSON.stringify(raw).slice(0, 500)).toBe(true);
    expect(parsed?.success, JSON.stringify(parsed?.error?.issues ?? null)).toBe(true);
    // Nothing the orchestrator sends is unknown to the schema (zod strips unknown keys).
    expect(parsed?.data).toEqual(raw.data);
  });

  it("every event published on ballast.orch.events matches its schema", async () => {
    await waitUntil(() => events.some((ev) => (ev as { type?: string }).type === "migration"), 10_000, "a migration event");
    expect(events.some((ev) => (ev as { type?: string }).type === "cycle")).toBe(true);
    for (const ev of events) {
      const r = OrchestratorEventMessage.safeParse(ev);
      expect(r.success, JSON.stringify(ev).slice(0, 300)).toBe(true);
      expect(r.data).toEqual(ev);
    }
  });

  it("accepts the deprecated snake_case fields, and says so in a header", async () => {
    const m = await c.nc.request(orchestratorSubjects.evacuate, JSON.stringify({ host: "a", dry_run: true, use_empty_hosts: true }), { timeout: 5000 });
    const r = JSON.parse(dec.decode(m.data)) as { ok: boolean; data: { canDrain?: boolean } };
    expect(r.ok).toBe(true);
    expect(typeof r.data.canDrain).toBe("boolean"); // a dry run: dry_run was understood
    expect(m.headers?.get(ReplyHeader.deprecation)).toBe("use_empty_hosts is deprecated, use useEmptyHosts; dry_run is deprecated, use dryRun");
    const a = await c.nc.request(orchestratorSubjects.approve, JSON.stringify({ plan_id: "p-0000" }), { timeout: 5000 });
    expect(JSON.parse(dec.decode(a.data))).toMatchObject({ ok: false, error: { code: "UNKNOWN_PLAN" } });
    expect(a.headers?.get(ReplyHeader.deprecation)).toBe("plan_id is deprecated, use planId");
    const fresh = await c.nc.request(orchestratorSubjects.approve, JSON.stringify({ planId: "p-0000" }), { timeout: 5000 });
    expect(fresh.headers?.get(ReplyHeader.deprecation) || undefined).toBeUndefined();
  });

  it("refuses both spellings of one field at once, naming them", async () => {
    const m = await c.nc.request(orchestratorSubjects.migrate, JSON.stringify({ vm: "a-1", requestId: "x-1", request_id: "x-2" }), { timeout: 5000 });
    const r = JSON.parse(dec.decode(m.data)) as { ok: boolean; error: { code: string; message: string } };
    expect(r).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(r.error.message).toContain("give requestId or its deprecated spelling request_id, not both");
    const h = await c.api("history", { vm: "a-1" });
    expect(h.data.filter((x) => x.requestId === "x-1" || x.requestId === "x-2")).toEqual([]);
  });
});

describe("a request nobody serves", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("is NO_RESPONDERS, naming the subject and the service, not a timeout", async () => {
    const e = await callOrchestrator(nc, { request_timeout: 30 }, "status", {}).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(BallastError);
    expect((e as BallastError).code).toBe("NO_RESPONDERS");
    expect((e as BallastError).message).toMatch(/nobody serves ballast\.orch\.status .*orchestrator/);
  });
});
