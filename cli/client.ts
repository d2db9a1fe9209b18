import type { NatsConnection } from "@nats-io/transport-node";
import type { z } from "zod";
import { NatsConfig } from "../shared/config/nats-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import { loadConfig } from "../shared/config/load-config.js";
import { BallastError } from "../shared/errors.js";
import { connectNats } from "../shared/nats/connect.js";
import { requestJson } from "../shared/nats/json.js";
import type { Reply } from "../shared/schemas/envelope.js";
import { OrchestratorApi, type OrchestratorEndpoint, type ReplyOf, type RequestInput } from "../shared/schemas/orchestrator-api.js";
import { orchestratorSubjects } from "../shared/subjects.js";

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

/**
 * One operator API request: the body is typed by the endpoint's request schema, the answer is
 * checked against its reply schema (a reply that does not match is an INTERNAL error naming the
 * field, not data the caller trusts blindly). The orchestrator validates the request itself.
 */
export async function callOrchestrator<E extends OrchestratorEndpoint>(
  nc: NatsConnection,
  cfg: Pick<NatsConfig, "request_timeout">,
  endpoint: E,
  body: RequestInput<E>,
): Promise<Reply<ReplyOf<E>>> {
  // The map pairs each endpoint with its reply schema; TypeScript cannot follow that through the
  // generic index, hence the one cast.
  const data = OrchestratorApi[endpoint].reply as unknown as z.ZodType<ReplyOf<E>>;
  return requestJson(nc, orchestratorSubjects[endpoint], body, { timeoutMs: cfg.request_timeout * 1000, data });
}

/** The data of an ok reply; an error reply throws it as a BallastError (scripts, the demo). */
export async function askOrchestrator<E extends OrchestratorEndpoint>(
  nc: NatsConnection,
  cfg: Pick<NatsConfig, "request_timeout">,
  endpoint: E,
  body: RequestInput<E>,
): Promise<ReplyOf<E>> {
  const r = await callOrchestrator(nc, cfg, endpoint, body);
  if (!r.ok) throw new BallastError(r.error.code, `${endpoint}: ${r.error.code}: ${r.error.message}`, { details: r.error.details });
  return r.data;
}
