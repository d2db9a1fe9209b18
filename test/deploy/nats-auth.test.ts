import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nkeyAuthenticator, type Msg, type NatsConnection, type Status } from "@nats-io/transport-node";
import { createUser } from "@nats-io/nkeys";
import { Svcm } from "@nats-io/services";
import { Kvm } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import { DecisionStream } from "../../orchestrator/shell/ha/decision-stream.js";
import { silentLogger } from "../../shared/logger.js";
import { startOrchestrator } from "../../orchestrator/main.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { generateCredentials, type GeneratedCredentials } from "../../deploy/tools/credentials.js";
import { connectNats } from "../../shared/nats/connect.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

// Starts nats-server with deploy/nats/nats-server.conf and a generated authorization file, then
// checks what each identity can and cannot do with real connections.

const BASE_CONF = fileURLToPath(new URL("../../deploy/nats/nats-server.conf", import.meta.url));
const enc = new TextEncoder();
const dec = new TextDecoder();

let server: NatsServerHandle;
let dir: string;
let creds: GeneratedCredentials;
const open: NatsConnection[] = [];

/** The shipped config, made private to the test: no fixed ports, a temporary store, our auth file. */
function testConfig(authFile: string, storeDir: string): string {
  const base = readFileSync(BASE_CONF, "utf8");
  const conf = base
    .replace(/^listen:.*$/m, "")
    .replace(/^http:.*$/m, "")
    .replace(/store_dir:.*$/m, `store_dir: ${JSON.stringify(storeDir)}`)
    // nats-server resolves `include` relative to the config file's directory (absolute paths are
    // joined to it too). startNatsServer writes the config into its own mkdtemp dir under
    // tmpdir(), a sibling of ours, so "../<our dir>/authorization.conf" reaches the file.
    .replace(/^include .*$/m, `include ${JSON.stringify(join("..", relative(tmpdir(), authFile)))}`);
  expect(conf).toContain(relative(tmpdir(), authFile)); // the shipped file still has the lines we rewrite
  expect(conf).toContain(storeDir);
  return conf;
}

function seedOf(file: string): Uint8Array {
  return enc.encode(readFileSync(join(dir, file), "utf8").trim());
}

async function connectAs(seedFile: string, name = seedFile): Promise<{ nc: NatsConnection; errors: Error[] }> {
  // Each identity's answers arrive below its own prefix (`nats.inbox_prefix` in Ballast's configs).
  const inboxPrefix = `_INBOX_${seedFile.replace(/\.nk$/, "")}`;
  const nc = await connect({ servers: server.url, name, inboxPrefix, authenticator: nkeyAuthenticator(seedOf(seedFile)), reconnect: false, timeout: 5000 });
  open.push(nc);
  const errors: Error[] = [];
  void (async () => {
    for await (const s of nc.status() as AsyncIterable<Status>) if (s.type === "error") errors.push(s.error);
  })();
  return { nc, errors };
}

/** The error a request failed with, unwrapped from nats.js' RequestError (the violation is its cause). */
async function requestError(nc: NatsConnection, subject: string): Promise<Error | undefined> {
  const e = await nc.request(subject, "{}", { timeout: 2000 }).then(
    () => undefined,
    (err: Error) => err,
  );
  return e?.name === "RequestError" && e.cause instanceof Error ? e.cause : e;
}

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
};

function respondWith(nc: NatsConnection, subject: string, answer: string, seen: string[] = []): string[] {
  nc.subscribe(subject, {
    callback: (err, m: Msg) => {
      if (err) return;
      seen.push(m.subject);
      m.respond(answer);
    },
  });
  return seen;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-creds-"));
  creds = generateCredentials({ outDir: dir, agents: ["hv-a", "hv-b"], operators: ["alice"], readonly: ["audit"], orchestrators: ["main"] });
  server = await startNatsServer({ config: testConfig(creds.authorizationFile, join(dir, "js")) });
});

afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("generated nats-server authorization", () => {
  it("writes one 0600 seed file per identity", () => {
    expect(creds.created.map((f) => f.slice(dir.length + 1)).sort()).toEqual(
      ["agent-hv-a.nk", "agent-hv-b.nk", "operator-alice.nk", "orchestrator-main.nk", "readonly-audit.nk"].sort(),
    );
    for (const f of creds.created) expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it("refuses a client without credentials and one with an unknown nkey", async () => {
    await expect(connect({ servers: server.url, reconnect: false, timeout: 5000 })).rejects.toThrow(/authorization/i);
    const stranger = createUser();
    await expect(connect({ servers: server.url, reconnect: false, timeout: 5000, authenticator: nkeyAuthenticator(stranger.getSeed()) })).rejects.toThrow(
      /authorization/i,
    );
  });

  it("an agent cannot publish another host's metrics", async () => {
    const orch = await connectAs("orchestrator-main.nk");
    const got: string[] = [];
    orch.nc.subscribe("ballast.agent.*.metrics", { callback: (_e, m) => void got.push(`${m.subject} ${dec.decode(m.data)}`) });
    await orch.nc.flush();
    const a = await connectAs("agent-hv-a.nk");
    a.nc.publish("ballast.agent.hv-b.metrics", "forged");
    a.nc.publish("ballast.agent.hv-a.metrics", "own");
    await a.nc.flush();
    await until(() => got.length > 0 && a.errors.length > 0);
    await orch.nc.flush();
    expect(got).toEqual(["ballast.agent.hv-a.metrics own"]);
    expect(a.errors.map((e) => `${e.name} ${e.message}`).join("\n")).toMatch(/PermissionViolationError.*ballast\.agent\.hv-b\.metrics/);
    expect(a.nc.isClosed()).toBe(false); // a violation is reported, the connection stays
  });

  it("an agent can neither command nor impersonate another agent", async () => {
    const b = await connectAs("agent-hv-b.nk");
    const seenByB = respondWith(b.nc, "ballast.agent.hv-b.migrate", "accepted");
    await b.nc.flush();
    const a = await connectAs("agent-hv-a.nk");
    const err = await requestError(a.nc, "ballast.agent.hv-b.migrate");
    expect(err?.name).toBe("PermissionViolationError");
    expect(err?.message).toMatch(/Publish to "ballast\.agent\.hv-b\.migrate"/);
    expect(seenByB).toEqual([]);

    // Serving hv-b's request subject from hv-a is refused too.
    const sub = a.nc.subscribe("ballast.agent.hv-b.migrate", { callback: () => undefined });
    const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r("still open"), 3000))]);
    expect(closed).toBeInstanceOf(Error);
    expect((closed as Error).message).toMatch(/Subscription to "ballast\.agent\.hv-b\.migrate"/);
  });

  it("agents publish only their own facts; only the orchestrator may ask remove-disks, never a read-only or operator identity", async () => {
    const orch = await connectAs("orchestrator-main.nk");
    const got: string[] = [];
    orch.nc.subscribe("ballast.agent.*.facts", { callback: (_e, m) => void got.push(m.subject) });
    await orch.nc.flush();
    const a = await connectAs("agent-hv-a.nk");
    a.nc.publish("ballast.agent.hv-b.facts", "forged");
    a.nc.publish("ballast.agent.hv-a.facts", "own");
    const removals = respondWith(a.nc, "ballast.agent.hv-a.remove-disks", JSON.stringify({ ok: true, data: { vm: "x", removed: [], kept: [] } }));
    respondWith(a.nc, "ballast.agent.hv-a.check-incoming", JSON.stringify({ ok: true, data: { vm: "x", host: "hv-a", ok: true, refusals: [] } }));
    await a.nc.flush();
    await until(() => got.length >= 1);
    await orch.nc.flush();
    expect(got).toEqual(["ballast.agent.hv-a.facts"]);
    expect(a.errors.map((e) => e.message).join("\n")).toMatch(/ballast\.agent\.hv-b\.facts/);

    // The orchestrator asks; operators (read-only or full) are refused by the server.
    const ok = await orch.nc.request("ballast.agent.hv-a.remove-disks", "{}", { timeout: 3000 });
    expect(JSON.parse(dec.decode(ok.data))).toMatchObject({ ok: true });
    expect(JSON.parse(dec.decode((await orch.nc.request("ballast.agent.hv-a.check-incoming", "{}", { timeout: 3000 })).data))).toMatchObject({ ok: true });
    for (const who of ["readonly-audit.nk", "operator-alice.nk"]) {
      const op = await connectAs(who);
      const err = await requestError(op.nc, "ballast.agent.hv-a.remove-disks");
      expect(err?.name, who).toBe("PermissionViolationError");
    }
    expect(removals).toEqual(["ballast.agent.hv-a.remove-disks"]);
  });

  it("the orchestrator can ping an agent, and discover it with $SRV", async () => {
    const a = await connectAs("agent-hv-a.nk");
    const svc = await new Svcm(a.nc).add({ name: "ballast-agent", version: "0.1.0", metadata: { host: "hv-a" } });
    svc.addEndpoint("ping", { subject: "ballast.agent.hv-a.ping", handler: (_e, m) => m.respond(JSON.stringify({ ok: true, data: { host: "hv-a" } })) });
    await a.nc.flush();
    const orch = await connectAs("orchestrator-main.nk");
    const r = await orch.nc.request("ballast.agent.hv-a.ping", "{}", { timeout: 3000 });
    expect(JSON.parse(dec.decode(r.data))).toEqual({ ok: true, data: { host: "hv-a" } });

    const found: string[] = [];
    for await (const p of await new Svcm(orch.nc).client({ strategy: "timer", maxWait: 500 }).ping("ballast-agent")) found.push(p.metadata?.host ?? "?");
    expect(found).toEqual(["hv-a"]);
    expect(orch.errors).toEqual([]);
    expect(a.errors).toEqual([]);
    await svc.stop();
  });

  it("an agent cannot serve the orchestrator's discovery; a forged generic answer does not add an orchestrator asked for by name", async () => {
    const orch = await connectAs("orchestrator-main.nk");
    const real = await new Svcm(orch.nc).add({ name: "ballast-orchestrator", version: "0.2.0", metadata: { instance: "main" } });
    await orch.nc.flush();
    const a = await connectAs("agent-hv-a.nk");
    // Answering the orchestrator's own discovery subjects is refused by the server.
    for (const subject of ["$SRV.PING.ballast-orchestrator", "$SRV.INFO.ballast-orchestrator", "$SRV.STATS.ballast-orchestrator.x"]) {
      const sub = a.nc.subscribe(subject, { callback: () => undefined });
      const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r("still open"), 3000))]);
      expect(closed, subject).toBeInstanceOf(Error);
      expect((closed as Error).message).toContain(`Subscription to "${subject}"`);
    }
    // The generic ping is open to every service; an agent may claim any name there ...
    a.nc.subscribe("$SRV.PING", {
      callback: (_e, m) =>
        void m.respond(JSON.stringify({ type: "io.nats.micro.v1.ping_response", name: "ballast-orchestrator", id: "forged", version: "9.9.9", metadata: {} })),
    });
    await a.nc.flush();
    const op = await connectAs("operator-alice.nk");
    const everyone: string[] = [];
    for await (const p of await new Svcm(op.nc).client({ strategy: "timer", maxWait: 500 }).ping()) everyone.push(`${p.name}/${p.id}`);
    expect(everyone).toContain("ballast-orchestrator/forged");
    // ... but asked by name, only the orchestrator identity answers.
    const byName: string[] = [];
    for await (const p of await new Svcm(op.nc).client({ strategy: "timer", maxWait: 500 }).ping("ballast-orchestrator")) byName.push(p.id);
    expect(byName).toEqual([real.info().id]);
    expect(op.errors).toEqual([]);
    await real.stop();
  });

  // The shared subjects and each instance's own (HA forwarding) follow the same rules.
  it.each([
    ["shared", (k: string) => `ballast.orch.${k}`],
    ["per-instance", (k: string) => `ballast.orch.instance.main.${k}`],
  ] as const)("a read-only operator can ask for status but not migrate; a full operator can migrate (%s subjects)", async (_form, subject) => {
    const orch = await connectAs("orchestrator-main.nk");
    respondWith(orch.nc, subject("status"), JSON.stringify({ ok: true, data: "status" }));
    const migrations = respondWith(orch.nc, subject("migrate"), JSON.stringify({ ok: true, data: "moving" }));
    await orch.nc.flush();

    const ro = await connectAs("readonly-audit.nk");
    const s = await ro.nc.request(subject("status"), "{}", { timeout: 3000 });
    expect(JSON.parse(dec.decode(s.data)).data).toBe("status");
    for (const forbidden of ["migrate", "evacuate", "pause", "approve", "release", "run", "resume"].map(subject)) {
      const err = await requestError(ro.nc, forbidden);
      expect(err?.name, forbidden).toBe("PermissionViolationError");
      expect(err?.message, forbidden).toContain(`Publish to "${forbidden}"`);
    }
    expect(migrations).toEqual([]);

    const op = await connectAs("operator-alice.nk");
    const m = await op.nc.request(subject("migrate"), JSON.stringify({ vm: "web1", to: "hv-b" }), { timeout: 3000 });
    expect(JSON.parse(dec.decode(m.data)).data).toBe("moving");
    expect(migrations).toEqual([subject("migrate")]);

    // Nobody but the orchestrator may publish its events, or write the HA decision log.
    for (const forged of ["ballast.orch.events", "ballast.orch.ha.ballast-orchestrator.decisions"]) {
      op.nc.publish(forged, "forged");
      await op.nc.flush();
      await until(() => op.errors.some((e) => e.message.includes(`Publish to "${forged}"`)));
    }
  });

  it("an agent can neither send to nor serve per-instance subjects, nor write the HA decision log", async () => {
    const a = await connectAs("agent-hv-a.nk");
    for (const forbidden of ["ballast.orch.instance.main.status", "ballast.orch.instance.main.migrate"]) {
      const err = await requestError(a.nc, forbidden);
      expect(err?.name, forbidden).toBe("PermissionViolationError");
      expect(err?.message, forbidden).toContain(`Publish to "${forbidden}"`);
    }
    // Serving one would impersonate an orchestrator instance.
    const sub = a.nc.subscribe("ballast.orch.instance.hv-a.status", { callback: () => undefined });
    const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r("still open"), 3000))]);
    expect(closed).toBeInstanceOf(Error);
    expect((closed as Error).message).toMatch(/Subscription to "ballast\.orch\.instance\.hv-a\.status"/);
    a.nc.publish("ballast.orch.ha.ballast-orchestrator.decisions", "forged");
    await a.nc.flush();
    await until(() => a.errors.some((e) => e.message.includes('Publish to "ballast.orch.ha.')));
  });

  it("nobody can read answers meant for another identity", async () => {
    const orch = await connectAs("orchestrator-main.nk");
    respondWith(orch.nc, "ballast.orch.snapshot", JSON.stringify({ ok: true, data: "the whole cluster" }));
    await orch.nc.flush();
    // The auditor listens below the operator's prefix, and below the shared default one.
    const ro = await connectAs("readonly-audit.nk");
    for (const snoop of ["_INBOX_operator-alice.>", "_INBOX.>", ">"]) {
      const sub = ro.nc.subscribe(snoop, { callback: () => undefined });
      const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r("still open"), 3000))]);
      expect(closed, snoop).toBeInstanceOf(Error);
      expect((closed as Error).message, snoop).toMatch(/Permissions Violation for Subscription/);
    }
    // Through Ballast's own connect path, configured as `ballast credentials` says.
    const op = await connectNats(
      NatsConfig.parse({ servers: [server.url], nkey_seed_file: join(dir, "operator-alice.nk"), inbox_prefix: "_INBOX_operator-alice" }),
      "test-operator",
    );
    open.push(op);
    const r = await op.request("ballast.orch.snapshot", "{}", { timeout: 3000 });
    expect(r.subject.startsWith("_INBOX_operator-alice.")).toBe(true);
    expect(JSON.parse(dec.decode(r.data)).data).toBe("the whole cluster");

    // A client left on the default prefix cannot even receive its own answers: told at once.
    const plain = await connect({ servers: server.url, authenticator: nkeyAuthenticator(seedOf("operator-alice.nk")), reconnect: false, timeout: 5000 });
    open.push(plain);
    const err = await requestError(plain, "ballast.orch.snapshot");
    expect(err?.name).toBe("PermissionViolationError");
    expect(err?.message).toMatch(/Subscription to "_INBOX\./);
  });

  it("the orchestrator may use JetStream KV (HA lease); an agent may not", async () => {
    const orch = await connectAs("orchestrator-main.nk");
    const kv = await new Kvm(orch.nc).create("ballast-lease", { history: 1 });
    await kv.put("leader", "main");
    expect((await kv.get("leader"))?.string()).toBe("main");

    const a = await connectAs("agent-hv-a.nk");
    const err = await new Kvm(a.nc)
      .open("ballast-lease")
      .then(
        (b) => b.put("leader", "hv-a"),
        (e: Error) => e,
      )
      .catch((e: Error) => e);
    expect(String(err)).toMatch(/permission|violation|authoriz/i);
    expect(a.errors.map((e) => e.message).join("\n")).toMatch(/Publish to "\$(JS\.API|KV)\./);
    expect((await kv.get("leader"))?.string()).toBe("main");
  });

  it("the orchestrator may keep the replicated decision log (a JetStream stream on ballast.orch.ha.>)", async () => {
    const orch = await connectAs("orchestrator-main.nk");
    const stream = await DecisionStream.open(orch.nc, { bucket: "ballast-lease", maxBytes: 1024 * 1024, replicas: 1, instance: "main", log: silentLogger() });
    stream.publish({ cycle: 1, entries: [] });
    const jsm = await jetstreamManager(orch.nc);
    await expect.poll(async () => (await jsm.streams.info(stream.name)).state.messages, { timeout: 3000 }).toBe(1);
    expect(orch.errors).toEqual([]);
  });

  it("two HA orchestrators with the generated identity: a standby forwards to the leader and the decision log replicates", async () => {
    const start = (instance: string) =>
      startOrchestrator({
        config: OrchestratorConfig.parse({
          nats: { servers: [server.url], nkey_seed_file: join(dir, "orchestrator-main.nk"), inbox_prefix: "_INBOX_orchestrator-main" },
          policy: { interval: 0.2 },
          log_level: "silent",
          ha: { enabled: true, instance, bucket: "auth-ha", lease_ttl: 1 },
        }),
        log: silentLogger(),
        mapping: new Map(),
      });
    const o1 = await start("o1");
    try {
      await until(() => o1.ha!.lease.isLeader(), 10_000);
      const o2 = await start("o2");
      try {
        // Cycles of the leader (no agents: plans without moves) reach the standby through the stream.
        await until(() => o2.orchestrator.view.decisions.cycle > 0, 10_000);
        const op = await connectAs("operator-alice.nk");
        const r = await op.nc.request("ballast.orch.instance.o2.status", "{}", { timeout: 5000 });
        expect(JSON.parse(dec.decode(r.data))).toMatchObject({ ok: true, data: { ha: { role: "leader", leaderInstance: "o1" } } });
        expect(r.headers?.get("Ballast-Instance")).toBe("o1");
        expect(r.headers?.get("Ballast-Forwarded-By")).toBe("o2");
        expect(op.errors).toEqual([]);
      } finally {
        await o2.stop();
      }
    } finally {
      await o1.stop();
    }
  }, 30_000);

  // Last: it changes the server's users.
  it("revokes an identity left out on regeneration once nats-server reloads (SIGHUP)", async () => {
    const b = await connectAs("agent-hv-b.nk");
    const again = generateCredentials({ outDir: dir, agents: ["hv-a"], operators: ["alice"], readonly: ["audit"], orchestrators: ["main"] });
    expect(again.created).toEqual([]);
    expect(again.stale).toEqual([join(dir, "agent-hv-b.nk")]);
    process.kill(server.pid, "SIGHUP"); // our own nats-server child: reload configuration
    const closed = await Promise.race([b.nc.closed(), new Promise((r) => setTimeout(() => r("still connected"), 5000))]);
    expect(closed).not.toBe("still connected");
    await expect(connect({ servers: server.url, reconnect: false, timeout: 5000, authenticator: nkeyAuthenticator(seedOf("agent-hv-b.nk")) })).rejects.toThrow(
      /authorization/i,
    );
    const a = await connectAs("agent-hv-a.nk"); // kept seeds keep working
    expect(a.nc.isClosed()).toBe(false);
  });
});
