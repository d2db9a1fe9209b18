import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { callOrchestrator } from "../../cli/client.js";
import { generateCredentials, inboxPrefixFor, type GeneratedCredentials, type Role } from "../../deploy/tools/credentials.js";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { silentLogger } from "../../shared/logger.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import type { OrchestratorEndpoint, RequestInput } from "../../shared/schemas/orchestrator-api.js";
import { loose } from "../support/loose-reply.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { waitUntil } from "../integration/sim-cluster.js";

// Issue 14 item 3, with the generated credentials on a real nats-server: 101 dry runs of a
// read-only identity pushed an operator's plan out of the 100 kept, and approve then said "may
// have expired". The orchestrator tells the requester's role by its reply-inbox prefix (each
// identity may receive answers only below its own), keeps read-only dry runs apart, and the
// operator's plan stays approvable.

const BASE_CONF = fileURLToPath(new URL("../../deploy/nats/nats-server.conf", import.meta.url));
const INTERVAL = 0.25;

let server: NatsServerHandle;
let dir: string;
let creds: GeneratedCredentials;
const agents: AgentHandle[] = [];
let orch: RunningOrchestrator | undefined;
const open: NatsConnection[] = [];

/** The shipped config, made private to the test (as test/deploy/nats-auth.test.ts does). */
function testConfig(authFile: string, storeDir: string): string {
  return readFileSync(BASE_CONF, "utf8")
    .replace(/^listen:.*$/m, "")
    .replace(/^http:.*$/m, "")
    .replace(/store_dir:.*$/m, `store_dir: ${JSON.stringify(storeDir)}`)
    .replace(/^include .*$/m, `include ${JSON.stringify(join("..", relative(tmpdir(), authFile)))}`);
}

const natsAs = (role: Role, name: string) => ({
  servers: [server.url],
  nkey_seed_file: join(dir, `${role}-${name}.nk`),
  inbox_prefix: inboxPrefixFor(role, name),
  request_timeout: 2,
});

async function person(role: Role, name: string): Promise<NatsConnection> {
  const seed = new TextEncoder().encode(readFileSync(join(dir, `${role}-${name}.nk`), "utf8").trim());
  const nc = await connect({ servers: server.url, inboxPrefix: inboxPrefixFor(role, name), authenticator: nkeyAuthenticator(seed), reconnect: false });
  open.push(nc);
  return nc;
}

const call = async <E extends OrchestratorEndpoint>(nc: NatsConnection, e: E, body: RequestInput<E>) =>
  loose(await callOrchestrator(nc, { request_timeout: 5 }, e, body));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-evict-"));
  creds = generateCredentials({ outDir: dir, agents: ["hv-a", "hv-b", "hv-c"], operators: ["alice"], readonly: ["audit"], orchestrators: ["main"] });
  server = await startNatsServer({ config: testConfig(creds.authorizationFile, join(dir, "js")) });
  const fabric = new SimFabric();
  const vm = (name: string) => ({ name, vcpus: 1, mem_mib: 1024, cpu: 5 });
  const hosts: Record<string, string[]> = { "hv-a": ["a-1", "a-2"], "hv-b": ["b-1"], "hv-c": ["c-1"] };
  for (const [host, vms] of Object.entries(hosts)) {
    const config = AgentConfig.parse({
      host,
      nats: natsAs("agent", host),
      driver: "sim",
      interval: INTERVAL,
      heartbeat_interval: INTERVAL,
      sim: { cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: vms.map(vm) },
    });
    agents.push(await startAgent({ config, logger: silentLogger(), fabric, stopGraceMs: 500 }));
  }
  const config = OrchestratorConfig.parse({
    nats: natsAs("orchestrator", "main"),
    policy: { interval: INTERVAL, automation: "manual", stale_after: 5, host_settle: 0.2, plan_ttl: 600 },
    log_level: "silent",
  });
  orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(Object.keys(hosts).map((h) => [h, h])), instance: "main" });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await orch?.stop();
  for (const a of agents) await a.stop().catch(() => undefined);
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("dry runs of a read-only identity (issue 14 item 3)", () => {
  it("never push out an operator's plan: 150 of them, then the operator approves", async () => {
    const alice = await person("operator", "alice");
    const audit = await person("readonly", "audit");
    await waitUntil(async () => (await call(alice, "status", {})).data.hosts.filter((h) => h.fresh).length === 3, 15_000, "all hosts to report");

    const mine = await call(alice, "plan", { mode: "evacuate", host: "hv-a" });
    expect(mine.data.moves.length).toBe(2);
    // The read-only identity may plan (a read endpoint) but not approve: the server refuses that.
    const denied = await callOrchestrator(audit, { request_timeout: 2 }, "approve", { planId: mine.data.id }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect(denied).not.toBe("answered");

    // Distinct plans (the mode and host vary, and each is made at its own instant).
    const modes = [
      { mode: "evacuate", host: "hv-b" },
      { mode: "evacuate", host: "hv-c" },
      { mode: "evacuate", host: "hv-a", placement: "pack" },
    ] as const;
    for (let i = 0; i < 150; i++) {
      const r = await call(audit, "plan", modes[i % modes.length]!);
      expect(r.ok).toBe(true);
    }
    const held = orch!.orchestrator.view.pendingPlans();

    const r = await call(alice, "approve", { planId: mine.data.id });
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, data: { planId: mine.data.id, queued: 2 } });
    // Who asked, as the orchestrator saw it.
    const theirs = held.filter((p) => p.plan.id !== mine.data.id);
    expect(theirs.length).toBeGreaterThan(0);
    expect(theirs.every((p) => p.dryRun?.by === "_INBOX_readonly-audit" && p.dryRun.mayApprove === false)).toBe(true);
    expect(held.find((p) => p.plan.id === mine.data.id)?.dryRun).toEqual({ by: "_INBOX_operator-alice", mayApprove: true });
  }, 60_000);
});
