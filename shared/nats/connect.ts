import { readFileSync } from "node:fs";
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type ConnectionOptions } from "@nats-io/transport-node";
import type { NatsConfig } from "../config/nats-config.js";
import { BallastError } from "../errors.js";

/** Connects with the configured authentication; reconnects forever (daemons outlive server restarts). */
export async function connectNats(cfg: NatsConfig, name: string, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: cfg.servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...extra,
  };
  if (cfg.inbox_prefix !== undefined) opts.inboxPrefix = cfg.inbox_prefix;
  if (cfg.creds) opts.authenticator = credsAuthenticator(readFileSync(cfg.creds));
  if (cfg.nkey_seed_file) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(cfg.nkey_seed_file, "utf8").trim()));
  if (cfg.user !== undefined) {
    opts.user = cfg.user;
    opts.pass = cfg.password;
  }
  if (cfg.token !== undefined) opts.token = cfg.token;
  if (cfg.tls) {
    opts.tls = {
      ...(cfg.tls.ca ? { caFile: cfg.tls.ca } : {}),
      ...(cfg.tls.cert ? { certFile: cfg.tls.cert } : {}),
      ...(cfg.tls.key ? { keyFile: cfg.tls.key } : {}),
    };
  }
  try {
    return await connect(opts);
  } catch (e) {
    throw new BallastError("INTERNAL", `cannot connect to NATS at ${cfg.servers.join(", ")}: ${(e as Error).message}`, { cause: e });
  }
}
