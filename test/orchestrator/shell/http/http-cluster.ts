import type { NatsConnection } from "@nats-io/transport-node";
import { AgentConfig, type SimConfigInput } from "../../../../shared/config/agent-config.js";
import { OrchestratorConfig } from "../../../../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../../../../shared/config/policy.js";
import { NatsConfig } from "../../../../shared/config/nats-config.js";
import { silentLogger } from "../../../../shared/logger.js";
import { connectNats } from "../../../../shared/nats/connect.js";
import { requestJson } from "../../../../shared/nats/json.js";
import { orchestratorSubjects } from "../../../../shared/subjects.js";
import { startAgent, type AgentHandle } from "../../../../agent/nats-agent.js";
import { SimFabric } from "../../../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../../../agent/sim/sim-hypervisor.js";
import { startOrchestrator, type RunningOrchestrator } from "../../../../orchestrator/main.js";
import { startNatsServer, type NatsServerHandle } from "../../../support/nats-server.js";

// The sim cluster of test/integration with the HTTP side switched on through the configs, as
// an operator would: the orchestrator's metrics + dashboard and every agent's /metrics, each on
// a free loopback port.

export interface HttpCluster {
  server: NatsServerHandle;
  fabric: SimFabric;
  agents: Map<string, AgentHandle>;
  orch: RunningOrchestrator;
  /** http://127.0.0.1:PORT of the orchestrator. */
  url: string;
  sim(host: string): SimHypervisor;
  api(endpoint: keyof typeof orchestratorSubjects, body: unknown): Promise<any>;
  stop(): Promise<void>;
}

export async function startHttpCluster(o: { hosts: Record<string, SimConfigInput>; policy: PolicyInput; interval: number; allowActions: boolean }): Promise<HttpCluster> {
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
        http: { listen: "127.0.0.1:0" },
      });
      agents.set(host, await startAgent({ config, logger: silentLogger(), fabric, stopGraceMs: 500 }));
    }
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url], request_timeout: 2 },
      policy: o.policy,
      log_level: "silent",
      http: { listen: "127.0.0.1:0", allow_actions: o.allowActions },
    });
    orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(Object.keys(o.hosts).map((h) => [h, h])), instance: "http-test" });
    nc = await connectNats(NatsConfig.parse({ servers: [server.url] }), "http-test-operator");
  } catch (e) {
    await orch?.stop();
    for (const a of agents.values()) await a.stop();
    await server.stop();
    throw e;
  }
  const conn = nc;
  const running = orch;
  if (!running.http) throw new Error("the orchestrator did not start its http server");
  return {
    server,
    fabric,
    agents,
    orch: running,
    url: running.http.url,
    sim: (host) => agents.get(host)!.hypervisor as SimHypervisor,
    api: (endpoint, body) => requestJson(conn, orchestratorSubjects[endpoint], body, { timeoutMs: 5000 }),
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
