import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SimConfigInput } from "../../../../shared/config/agent-config.js";
import { OrchestratorConfig, OrchestratorHttp as HttpSettings } from "../../../../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../../../../shared/config/policy.js";
import { silentLogger } from "../../../../shared/logger.js";
import { startOrchestrator, type RunningOrchestrator } from "../../../../orchestrator/main.js";
import type { HistoryOptions } from "../../../../orchestrator/shell/http/dashboard-history.js";
import type { PowerDriver } from "../../../../orchestrator/shell/power/power-driver.js";
import { serveOrchestratorHttp } from "../../../../orchestrator/shell/http/serve.js";
import { startSimCluster, type SimCluster } from "../../../integration/sim-cluster.js";
import { startNatsServer, type NatsServerHandle } from "../../../support/nats-server.js";

// The sim cluster of test/integration with the HTTP side switched on through the configs, as
// an operator would: the orchestrator's metrics + dashboard and every agent's /metrics, each on
// a free loopback port.

export interface HttpCluster extends SimCluster {
  /** http://127.0.0.1:PORT of the orchestrator. */
  url: string;
}

export async function startHttpCluster(o: {
  hosts: Record<string, SimConfigInput>;
  policy: PolicyInput;
  interval: number;
  allowActions: boolean;
  /**
   * Shorter chart steps than the 30 s an operator gets: the orchestrator's HTTP side is then
   * served here, as main.ts serves it but with these history options.
   */
  history?: Partial<HistoryOptions>;
  /** Power drivers of the orchestrator, by host (host failure: fencing). */
  powerDrivers?: ReadonlyMap<string, PowerDriver>;
}): Promise<HttpCluster> {
  const { history, ...rest } = o;
  if (history) {
    const c = await startSimCluster({ ...rest, instance: "http-test", agent: { http: { listen: "127.0.0.1:0" } } });
    const settings = HttpSettings.parse({ listen: "127.0.0.1:0", allow_actions: o.allowActions });
    const srv = await serveOrchestratorHttp(c.orch.orchestrator, settings, silentLogger(), { history }).catch(async (e: unknown) => {
      await c.stop();
      throw e;
    });
    return {
      ...c,
      url: srv!.url,
      async stop() {
        await srv!.close();
        await c.stop();
      },
    };
  }
  const c = await startSimCluster({
    ...rest,
    instance: "http-test",
    agent: { http: { listen: "127.0.0.1:0" } },
    orchestrator: { http: { listen: "127.0.0.1:0", allow_actions: o.allowActions } },
  });
  if (!c.orch.http) {
    await c.stop();
    throw new Error("the orchestrator did not start its http server");
  }
  return { ...c, url: c.orch.http.url };
}

/** An orchestrator (no agents) started as main.ts starts it, reading a real host_mapping file it polls every second. */
export interface MappedOrchestrator {
  url: string;
  /** The host_mapping file. */
  path: string;
  orch: RunningOrchestrator;
  /** Replaces the file's content as an editor does (write a new file, rename it over the old one). */
  write(text: string): void;
  stop(): Promise<void>;
}

export async function startMappedOrchestrator(mapping: string): Promise<MappedOrchestrator> {
  const dir = mkdtempSync(join(tmpdir(), "ballast-mapping-"));
  const path = join(dir, "host_mapping.csv");
  let n = 0;
  const write = (text: string) => {
    const tmp = join(dir, `.host_mapping.${n++}`);
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  };
  write(mapping);
  let server: NatsServerHandle | undefined;
  try {
    server = await startNatsServer();
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url], request_timeout: 2 },
      host_mapping: path,
      http: { listen: "127.0.0.1:0" },
      log_level: "silent",
    });
    const orch = await startOrchestrator({ config, log: silentLogger(), instance: "mapping-test" });
    const srv = server;
    return {
      url: orch.http!.url,
      path,
      orch,
      write,
      async stop() {
        await orch.stop();
        await srv.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export { waitUntil } from "../../../integration/sim-cluster.js";
