import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRecord } from "../../orchestrator/shell/ha/ha-records.js";
import type { ReplyOf } from "../../shared/schemas/orchestrator-api.js";
import type { LooseReply } from "../support/loose-reply.js";
import { headers, type MsgHdrs } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { waitUntil } from "../integration/sim-cluster.js";
import { leadThenStandBy, startHaCluster, type HaCluster } from "./ha-cluster.js";
import { orchestratorInstanceSubject, orchestratorSubjects, type OrchestratorEndpoint } from "../../shared/subjects.js";
import { ReplyHeader } from "../../shared/nats/reply-headers.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";

// HA orchestrators in this process on a real nats-server with JetStream. An operator request
// that reaches a standby (its own subject, or the shared one) gets the leader's answer, with
// the Ballast-* headers saying who answered and who forwarded; after the leader dies, forwarding
// follows the new one, which also answers history/decisions/explain about the old leader's
// moves. With no reachable leader, standbys answer NO_LEADER.

const TTL = 2; // long enough that the "ghost" below keeps the lease on a loaded machine
const INTERVAL = 0.25;
const FORWARD_TIMEOUT = 0.5;
const BUCKET = "ballast-fw";
const dec = new TextDecoder();

interface Answer<T = unknown> {
  /** The reply as it came off the wire (not validated: these tests look at what was sent). */
  body: LooseReply<T>;
  headers: Record<string, string | undefined>;
  ms: number;
}

const pick = (h: MsgHdrs | undefined): Record<string, string | undefined> =>
  Object.fromEntries(Object.values(ReplyHeader).map((k) => [k, h?.get(k) || undefined]));

describe("HA: standbys forward operator requests to the leader", () => {
  let server: NatsServerHandle;
  let c: HaCluster;
  let kv: KV;

  const ask = async <T = unknown>(subject: string, body: unknown = {}): Promise<Answer<T>> => {
    const t0 = performance.now();
    const r = await c.nc.request(subject, JSON.stringify(body), { timeout: 8000 });
    return { body: JSON.parse(dec.decode(r.data)), headers: pick(r.headers), ms: performance.now() - t0 };
  };
  const at = <E extends OrchestratorEndpoint>(instance: string, endpoint: E, body: unknown = {}) =>
    ask<ReplyOf<E>>(orchestratorInstanceSubject(instance, endpoint), body);
  const onShared = <E extends OrchestratorEndpoint>(endpoint: E, body: unknown = {}) => ask<ReplyOf<E>>(orchestratorSubjects[endpoint], body);
  const leading = () => [...c.orchs.entries()].filter(([, r]) => r.ha!.lease.isLeader()).map(([n]) => n);

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    const vm = (name: string) => ({ name, vcpus: 2, mem_mib: 1024, cpu: 5 });
    const host = (names: string[]) => ({ cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: names.map(vm) });
    c = await startHaCluster({
      servers: [server.url],
      interval: INTERVAL,
      leaseTtl: TTL,
      forwardTimeout: FORWARD_TIMEOUT,
      bucket: BUCKET,
      orchestrators: ["orch-a"],
      hosts: { a: host(["a-1", "a-2"]), b: host(["b-1"]), c: host(["c-1"]) },
      // Idle hosts and a manual automation level: only the moves the test asks for happen.
      policy: {
        interval: INTERVAL,
        automation: "manual",
        stale_after: 3,
        load_threshold: 80,
        load_target: 70,
        max_load_candidate: 70,
        host_settle: 0.5,
        mem_reserve_mib: 512,
      },
    });
    await leadThenStandBy(c, "orch-a", ["orch-b"], 3);
    kv = await new Kvm(c.nc).open(BUCKET);
  }, 40_000);

  afterAll(async () => {
    await c?.stop();
    await server?.stop();
  });

  it("a standby's own subject and the shared subject get the leader's answer, with the headers", async () => {
    const viaB = await at("orch-b", "status");
    expect(viaB.body.ok).toBe(true);
    expect(viaB.body.data.ha).toMatchObject({ role: "leader", leaderInstance: "orch-a" });
    expect(viaB.headers).toEqual({
      [ReplyHeader.instance]: "orch-a",
      [ReplyHeader.role]: "leader",
      [ReplyHeader.leader]: "orch-a",
      [ReplyHeader.forwardedBy]: "orch-b",
    });

    const direct = await at("orch-a", "status");
    expect(direct.headers).toEqual({
      [ReplyHeader.instance]: "orch-a",
      [ReplyHeader.role]: "leader",
      [ReplyHeader.leader]: "orch-a",
      [ReplyHeader.forwardedBy]: undefined,
    });

    // The shared subject reaches either instance (queue group): the leader answers every time.
    const shared = await Promise.all(Array.from({ length: 20 }, () => onShared("version")));
    for (const s of shared) {
      expect(s.body).toMatchObject({ ok: true, data: { instance: "orch-a" } });
      expect(s.headers[ReplyHeader.instance]).toBe("orch-a");
      expect([undefined, "orch-b"]).toContain(s.headers[ReplyHeader.forwardedBy]);
    }
    console.log(
      `[forwarding] ${shared.filter((s) => s.headers[ReplyHeader.forwardedBy]).length}/20 shared-subject requests went through the standby; forwarded status took ${viaB.ms.toFixed(0)} ms, direct ${direct.ms.toFixed(0)} ms`,
    );
  });

  it("a standby validates before forwarding, and forwarded commands act on the leader", async () => {
    const bad = await at("orch-b", "migrate", { vm: "a b; rm -rf /" });
    expect(bad.body).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(bad.headers).toEqual({
      [ReplyHeader.instance]: "orch-b",
      [ReplyHeader.role]: "standby",
      [ReplyHeader.leader]: "orch-a",
      [ReplyHeader.forwardedBy]: undefined,
    });

    // A request that claims to be forwarded already is answered where it lands (never passed on
    // again); a claim that is no instance name is ignored.
    const claim = async (by: string) => {
      const h = headers();
      h.set(ReplyHeader.forwardedBy, by);
      const r = await c.nc.request(orchestratorInstanceSubject("orch-b", "status"), "{}", { timeout: 8000, headers: h });
      return { body: JSON.parse(dec.decode(r.data)), headers: pick(r.headers) };
    };
    const local = await claim("orch-z");
    expect(local.body.data.ha).toMatchObject({ role: "standby", leaderInstance: "orch-a" });
    expect(local.headers).toMatchObject({ [ReplyHeader.instance]: "orch-b", [ReplyHeader.role]: "standby", [ReplyHeader.forwardedBy]: "orch-z" });
    const junk = await claim("a.b c>*");
    expect(junk.headers).toMatchObject({ [ReplyHeader.instance]: "orch-a", [ReplyHeader.forwardedBy]: "orch-b" });

    const paused = await at("orch-b", "pause", { reason: "forwarded" });
    expect(paused.body).toMatchObject({ ok: true, data: { paused: true, reason: "forwarded" } });
    expect(paused.headers[ReplyHeader.forwardedBy]).toBe("orch-b");
    expect(c.orchs.get("orch-a")!.orchestrator.api.status().pausedReason).toBe("forwarded");
    expect((await at("orch-b", "resume")).body).toMatchObject({ ok: true, data: { wasPaused: true } });
    expect(c.orchs.get("orch-a")!.orchestrator.api.status().paused).toBe(false);
  });

  it("after the leader dies, the new leader answers history, decisions and explain about the old leader's moves, and forwarding follows it", async () => {
    const a = c.orchs.get("orch-a")!;
    const b = c.orchs.get("orch-b")!;
    const m = await at("orch-b", "migrate", { vm: "a-1", to: "c", requestId: "fw-op-1" });
    expect(m.body.ok).toBe(true);
    expect(m.headers).toMatchObject({ [ReplyHeader.instance]: "orch-a", [ReplyHeader.forwardedBy]: "orch-b" });
    const planId: string = m.body.data.plan.id;
    const requestId = (m.body.data.queued as MigrationRecord[])[0]!.requestId;
    await waitUntil(
      async () => {
        const h = await onShared("history", { vm: "a-1" });
        return h.body.ok && h.body.data.some((r: MigrationRecord) => r.requestId === requestId && r.state === "SUCCEEDED");
      },
      15_000,
      "the migration to succeed",
    );
    // The standby has the leader's decisions (replicated), not only the leader.
    await waitUntil(
      () => b.orchestrator.view.decisions.query({ vm: "a-1", limit: 100 }).some((d) => d.planId === planId),
      10_000,
      "orch-b to receive the decisions",
    );
    const cycleOfMove = a.orchestrator.view.decisions.query({ vm: "a-1", limit: 100 }).find((d) => d.planId === planId)!.cycle;

    await a.crash();
    c.orchs.delete("orch-a");
    await waitUntil(() => b.ha!.lease.isLeader(), 10_000, "orch-b to take over");

    const history = await at("orch-b", "history", { vm: "a-1" });
    expect(history.headers).toMatchObject({
      [ReplyHeader.instance]: "orch-b",
      [ReplyHeader.role]: "leader",
      [ReplyHeader.leader]: "orch-b",
      [ReplyHeader.forwardedBy]: undefined,
    });
    expect(history.body.data).toEqual([expect.objectContaining({ requestId, state: "SUCCEEDED", source: "a", destination: "c", planId })]);
    const decisions = await onShared("decisions", { vm: "a-1", limit: 1000 });
    expect(decisions.body.data.some((d) => d.planId === planId && d.kind === "move")).toBe(true);
    const explain = await onShared("explain", { vm: "a-1", cycles: 1000 });
    expect(explain.body.data.whyHere).toMatch(/moved here from a/);
    expect(explain.body.data.lastCycles.decisions.some((d) => d.planId === planId)).toBe(true);
    expect(b.orchestrator.view.decisions.cycle).toBeGreaterThanOrEqual(cycleOfMove);

    await c.startOrch("orch-c");
    const viaC = await at("orch-c", "status");
    expect(viaC.body.data.ha).toMatchObject({ role: "leader", leaderInstance: "orch-b" });
    expect(viaC.headers).toEqual({
      [ReplyHeader.instance]: "orch-b",
      [ReplyHeader.role]: "leader",
      [ReplyHeader.leader]: "orch-b",
      [ReplyHeader.forwardedBy]: "orch-c",
    });
    // A restarted standby read the whole decision log too.
    await waitUntil(
      () =>
        c.orchs
          .get("orch-c")!
          .orchestrator.view.decisions.query({ vm: "a-1", limit: 1000 })
          .some((d) => d.planId === planId),
      10_000,
      "orch-c to read the decision log",
    );
  }, 60_000);

  it("answers NO_LEADER when the lease names an instance that does not answer, and follows the next leader", async () => {
    // A "ghost" takes the lease and keeps renewing it, so nobody takes over while we ask.
    let rev = 0;
    let epoch = 0;
    let ghosting = true;
    const write = async (released: boolean) => {
      for (;;) {
        const e = (await kv.get("leader"))!;
        const v = JSON.parse(e.string());
        epoch = Math.max(epoch, v.epoch + (rev === 0 ? 1 : 0));
        const now = Date.now();
        try {
          rev = await kv.update(
            "leader",
            encodeRecord({ instance: "ghost", epoch, renewedAt: now, expiresAt: now + 60_000, ...(released ? { released: true } : {}) }),
            rev === 0 ? e.revision : rev,
          );
          return;
        } catch {
          if (rev !== 0) rev = 0; // someone wrote in between: read again
        }
      }
    };
    await write(false);
    const renewing = (async () => {
      while (ghosting) {
        await new Promise((r) => setTimeout(r, 150));
        if (ghosting) await write(false);
      }
    })();
    try {
      await waitUntil(() => leading().length === 0, 5000, "every instance to stand by");
      const none = await at("orch-c", "status");
      expect(none.body).toMatchObject({ ok: false, error: { code: "NO_LEADER" } });
      expect(none.body.error.message).toMatch(/ghost/);
      expect(none.headers).toEqual({
        [ReplyHeader.instance]: "orch-c",
        [ReplyHeader.role]: "standby",
        [ReplyHeader.leader]: "ghost",
        [ReplyHeader.forwardedBy]: undefined,
      });
      expect((await onShared("migrate", { vm: "b-1", to: "a" })).body).toMatchObject({ ok: false, error: { code: "NO_LEADER" } });

      // A leader that is there but does not answer: NO_LEADER after ha.forward_timeout.
      const silent = c.nc.subscribe(orchestratorInstanceSubject("ghost", "status"), { callback: () => undefined });
      await c.nc.flush();
      const slow = await at("orch-b", "status");
      silent.unsubscribe();
      expect(slow.body).toMatchObject({ ok: false, error: { code: "NO_LEADER" } });
      expect(slow.body.error.message).toMatch(/did not answer within 0.5s/);
      expect(slow.ms).toBeGreaterThanOrEqual(FORWARD_TIMEOUT * 1000 - 50);
      console.log(
        `[forwarding] NO_LEADER: no responders answered in ${none.ms.toFixed(0)} ms, a silent leader after ${slow.ms.toFixed(0)} ms (forward_timeout ${FORWARD_TIMEOUT}s)`,
      );
    } finally {
      ghosting = false;
      await renewing;
    }
    // The ghost gives the lease back: a standby takes over at once, the other forwards to it.
    await write(true);
    await waitUntil(() => leading().length === 1, 10_000, "a new leader");
    const [leader] = leading();
    const other = leader === "orch-b" ? "orch-c" : "orch-b";
    const r = await at(other, "status");
    expect(r.headers).toEqual({ [ReplyHeader.instance]: leader, [ReplyHeader.role]: "leader", [ReplyHeader.leader]: leader, [ReplyHeader.forwardedBy]: other });
  }, 60_000);
});
