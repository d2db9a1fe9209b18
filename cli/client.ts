import type { NatsConnection } from "@nats-io/transport-node";
import { NatsConfig } from "../shared/config/nats-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import { loadConfig } from "../shared/config/load-config.js";
import { connectNats } from "../shared/nats/connect.js";
import { requestJson } from "../shared/nats/json.js";
import { orchestratorSubjects, type OrchestratorEndpoint } from "../shared/subjects.js";
import type { Reply } from "../shared/schemas/envelope.js";

export interface ClientOptions {
  server?: string;
  config?: string;
  timeout?: string;
}

/** NATS settings for the CLI: --server beats --config's nats section beats BALLAST_NATS__*. */
export function clientNatsConfig(opts: ClientOptions, env: NodeJS.ProcessEnv): NatsConfig {
  const base = opts.config ? loadConfig(OrchestratorConfig, { file: opts.config, env }).nats : loadConfig(OrchestratorConfig, { env }).nats;
  const withServer = opts.server ? { ...base, servers: opts.server.split(",").map((s) => s.trim()) } : base;
  const timeout = opts.timeout !== undefined ? Number(opts.timeout) : undefined;
  return NatsConfig.parse(timeout !== undefined && Number.isFinite(timeout) ? { ...withServer, request_timeout: timeout } : withServer);
}

export async function withClient<T>(opts: ClientOptions, env: NodeJS.ProcessEnv, fn: (nc: NatsConnection, cfg: NatsConfig) => Promise<T>): Promise<T> {
  const cfg = clientNatsConfig(opts, env);
  const nc = await connectNats(cfg, "ballast-cli", { maxReconnectAttempts: 0, reconnect: false });
  try {
    return await fn(nc, cfg);
  } finally {
    await nc.close();
  }
}

export async function callOrchestrator(nc: NatsConnection, cfg: NatsConfig, endpoint: OrchestratorEndpoint, body: unknown): Promise<Reply<unknown>> {
  return requestJson(nc, orchestratorSubjects[endpoint], body, { timeoutMs: cfg.request_timeout * 1000 });
}
