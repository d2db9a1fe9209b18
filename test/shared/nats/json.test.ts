import { connect, errors, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NoRespondersError, TimeoutError } from "../../../shared/errors.js";
import { isNoResponders, requestJson } from "../../../shared/nats/json.js";
import { err, ok } from "../../../shared/schemas/envelope.js";
import { agentSubjects, orchestratorInstanceSubject, orchestratorSubjects } from "../../../shared/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";

// requestJson against a real nats-server on a free loopback port: "nobody serves this subject"
// fails at once with NO_RESPONDERS, "nobody answered in time" fails after the time-out with TIMEOUT.

let server: NatsServerHandle;
let client: NatsConnection;
let service: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  client = await connect({ servers: server.url });
  service = await connect({ servers: server.url });
});

afterAll(async () => {
  await client?.close();
  await service?.close();
  await server?.stop();
});

/** Subscribes on the service connection and resolves once the server has the subscription. */
async function serve(subject: string, respond: ((body: unknown) => unknown) | undefined) {
  const sub = service.subscribe(subject, {
    callback: (_e, m) => {
      if (respond) m.respond(JSON.stringify(respond(m.json())));
    },
  });
  await service.flush();
  return sub;
}

const timed = async <T>(p: Promise<T>): Promise<{ error: unknown; ms: number }> => {
  const t0 = performance.now();
  try {
    await p;
    return { error: undefined, ms: performance.now() - t0 };
  } catch (e) {
    return { error: e, ms: performance.now() - t0 };
  }
};

describe("requestJson", () => {
  it("fails at once with NO_RESPONDERS when nobody serves the subject", async () => {
    const { error, ms } = await timed(requestJson(client, orchestratorSubjects.status, {}, { timeoutMs: 4000 }));
    expect(error).toBeInstanceOf(NoRespondersError);
    expect(error).toMatchObject({
      name: "NoRespondersError",
      code: "NO_RESPONDERS",
      subject: "ballast.orch.status",
      message: "nobody serves ballast.orch.status (no responders): is the Ballast orchestrator running and connected to this NATS server?",
    });
    expect(isNoResponders((error as Error).cause)).toBe(true);
    // The server answers "no responders" in a round trip, far sooner than the 4 s time-out.
    expect(ms).toBeLessThan(1000);
  });

  it("names the agent or the orchestrator instance expected on the subject, or the service given", async () => {
    await expect(requestJson(client, agentSubjects("hv-a").ping, {}, { timeoutMs: 4000 })).rejects.toMatchObject({
      code: "NO_RESPONDERS",
      message: "nobody serves ballast.agent.hv-a.ping (no responders): is the Ballast agent of hv-a running and connected to this NATS server?",
    });
    await expect(requestJson(client, orchestratorInstanceSubject("orch-2", "status"), {}, { timeoutMs: 4000 })).rejects.toMatchObject({
      code: "NO_RESPONDERS",
      message: expect.stringContaining("is the Ballast orchestrator orch-2 running"),
    });
    await expect(requestJson(client, "elsewhere.thing", {}, { timeoutMs: 4000, service: "thing service" })).rejects.toMatchObject({
      code: "NO_RESPONDERS",
      message: "nobody serves elsewhere.thing (no responders): is the thing service running and connected to this NATS server?",
    });
  });

  it("fails with TIMEOUT after the time-out when a subscriber never answers", async () => {
    const sub = await serve("ballast.orch.silent", undefined);
    try {
      const { error, ms } = await timed(requestJson(client, "ballast.orch.silent", {}, { timeoutMs: 300 }));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).toMatchObject({ name: "TimeoutError", code: "TIMEOUT", message: "no answer on ballast.orch.silent within 300 ms" });
      expect(isNoResponders(error)).toBe(false);
      expect(ms).toBeGreaterThanOrEqual(290);
    } finally {
      sub.unsubscribe();
    }
  });

  it("refuses a body over the server's max_payload with BAD_REQUEST, sending nothing", async () => {
    let received = 0;
    const sub = await serve("ballast.orch.big", () => {
      received++;
      return ok({});
    });
    try {
      // nats-server's default max_payload is 1 MiB; the client learns it from the server's INFO.
      const huge = { pad: "x".repeat(2 * 1024 * 1024) };
      const { error, ms } = await timed(requestJson(client, "ballast.orch.big", huge, { timeoutMs: 5000 }));
      expect(error).toMatchObject({ code: "BAD_REQUEST" });
      expect((error as Error).message).toMatch(/max_payload/);
      expect(ms).toBeLessThan(4000);
      // The connection still works, and the refused body never reached the subscriber.
      await expect(requestJson(client, "ballast.orch.big", {}, { timeoutMs: 2000 })).resolves.toEqual({ ok: true, data: {} });
      expect(received).toBe(1);
    } finally {
      sub.unsubscribe();
    }
  });

  it("returns the reply envelope of a subscriber that answers", async () => {
    const sub = await serve("ballast.orch.echo", (body) => ((body as { fail?: boolean }).fail ? err("BUSY", "try later") : ok(body)));
    try {
      await expect(requestJson(client, "ballast.orch.echo", { a: 1 }, { timeoutMs: 2000 })).resolves.toEqual({ ok: true, data: { a: 1 } });
      await expect(requestJson(client, "ballast.orch.echo", { fail: true }, { timeoutMs: 2000 })).resolves.toEqual({
        ok: false,
        error: { code: "BUSY", message: "try later" },
      });
    } finally {
      sub.unsubscribe();
    }
  });
});

describe("isNoResponders", () => {
  it("recognises how nats.js v3 reports no responders, and nothing else", () => {
    const noResponders = new errors.NoRespondersError("a.b");
    expect(isNoResponders(new errors.RequestError(noResponders.message, { cause: noResponders }))).toBe(true);
    expect(isNoResponders(noResponders)).toBe(true);
    expect(isNoResponders(new errors.TimeoutError())).toBe(false);
    expect(isNoResponders(new errors.RequestError("connection closed"))).toBe(false);
    expect(isNoResponders(new errors.ClosedConnectionError())).toBe(false);
    expect(isNoResponders("no responders")).toBe(false);
    expect(isNoResponders(undefined)).toBe(false);
  });
});
