import { AgentConfig, type SimConfigInput } from "../../shared/config/agent-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../../shared/config/policy.js";
import { silentLogger } from "../../shared/logger.js";
import { connectNats } from "../../shared/nats/connect.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../../shared/schemas/orchestrator-api.js";
import { callOrchestrator } from "../../cli/client.js";
import { loose, type LooseReply } from "../support/loose-reply.js";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Reply } from "../../shared/schemas/envelope.js";
import type { PowerDriver } from "../../orchestrator/shell/power/power-driver.js";

// A whole cluster for integration tests: a real nats-server, real agents on the sim driver,
// the real orchestrator, and an operator connection that talks to it over NATS.

export interface SimCluster {
  server: NatsServerHandle;
  fabric: SimFabric;
  agents: Map<string, AgentHandle>;
  orch: RunningOrchestrator;
  nc: NatsConnection;
  sim(host: string): SimHypervisor;
  /** A typed request; the reply is checked against the endpoint's reply schema. */
  api<E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>>;
  /** Any payload to any subject; the answer as it came. */
  raw(subject: string, payload: string | Uint8Array): Promise<Reply<unknown>>;
  stop(): Promise<void>;
}

export interface SimClusterOptions {
  hosts: Record<string, SimConfigInput>;
  policy: PolicyInput;
  interval: number;
  /** Extra agent config keys (e.g. an http section), for every agent. */
  agent?: Record<string, unknown>;
  /** Extra orchestrator config keys (e.g. an http section). */
  orchestrator?: Record<string, unknown>;
  instance?: string;
  /** Power drivers of the orchestrator (power management), by host. */
  powerDrivers?: ReadonlyMap<string, PowerDriver>;
}

export async function startSimCluster(o: SimClusterOptions): Promise<SimCluster> {
  const server = await startNatsServer();
  const fabric = new SimFabric();
  const agents = new Map<string, AgentHandle>();
  let orch: RunningOrchestrator | undefined;
  let nc: NatsConnection | undefined;
  try {
    for (const [host, sim] of Object.entries(o.hosts)) {
      const config = AgentConfig.parse({
        host,
        nats: { servers: [server.url] },
        driver: "sim",
        interval: o.interval,
        heartbeat_interval: o.interval,
        sim,
        ...o.agent,
      });
      agents.set(host, await startAgent({ config, logger: silentLogger(), fabric, stopGraceMs: 500 }));
    }
    const config = OrchestratorConfig.parse({ nats: { servers: [server.url], request_timeout: 2 }, policy: o.policy, log_level: "silent", ...o.orchestrator });
    orch = await startOrchestrator({
      config,
      log: silentLogger(),
      mapping: new Map(Object.keys(o.hosts).map((h) => [h, h])),
      instance: o.instance ?? "test",
      ...(o.powerDrivers ? { powerDrivers: o.powerDrivers } : {}),
    });
    nc = await connectNats(NatsConfig.parse({ servers: [server.url] }), "test-operator");
  } catch (e) {
    await orch?.stop();
    for (const a of agents.values()) await a.stop();
    await server.stop();
    throw e;
  }
  const conn = nc;
  const running = orch;
  return {
    server,
    fabric,
    agents,
    orch: running,
    nc: conn,
    sim: (host) => agents.get(host)!.hypervisor as SimHypervisor,
    api: async (endpoint, body) => loose(await callOrchestrator(conn, { request_timeout: 5 }, endpoint, body)),
    raw: async (subject, payload) => JSON.parse(new TextDecoder().decode((await conn.request(subject, payload, { timeout: 5000 })).data)) as Reply<unknown>,
    async stop() {
      await conn.close().catch(() => undefined);
      await running.stop().catch(() => undefined);
      for (const a of agents.values()) await a.stop().catch(() => undefined);
      await server.stop();
    },
  };
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
