import type { NatsConnection } from "@nats-io/transport-node";
import type { NatsConfig } from "../../shared/config/nats-config.js";
import { connectNats } from "../../shared/nats/connect.js";
import { requestJson } from "../../shared/nats/json.js";
import { Pong } from "../../shared/schemas/agent-api.js";
import { agentSubjects } from "../../shared/subjects.js";
import { describeError } from "../../shared/errors.js";

// After an install the agent must answer ballast.agent.<host>.ping with {ok:true} through the
// operator's own NATS connection: that proves the unit, the config, the release and the NATS
// credentials together.

export type PingOutcome = { ok: true; pong: Pong; afterMs: number } | { ok: false; error: string };

export interface AgentPinger {
  /** Asks until the agent answers {ok:true} or the time is up. */
  ping(host: string, timeoutMs: number): Promise<PingOutcome>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NatsPinger implements AgentPinger {
  private nc: Promise<NatsConnection> | undefined;
  constructor(private readonly cfg: NatsConfig) {}

  private connection(): Promise<NatsConnection> {
    this.nc ??= connectNats(this.cfg, "ballast-deploy", { maxReconnectAttempts: 3, timeout: 5000 });
    return this.nc;
  }

  async ping(host: string, timeoutMs: number): Promise<PingOutcome> {
    const start = Date.now();
    const deadline = start + timeoutMs;
    let nc: NatsConnection;
    try {
      nc = await this.connection();
    } catch (e) {
      this.nc = undefined;
      return { ok: false, error: describeError(e) };
    }
    const subject = agentSubjects(host).ping;
    let last = "no answer";
    while (Date.now() < deadline) {
      try {
        const reply = await requestJson(nc, subject, {}, { timeoutMs: Math.max(100, Math.min(2000, deadline - Date.now())), data: Pong });
        if (reply.ok) {
          if (reply.data.host === host) return { ok: true, pong: reply.data, afterMs: Date.now() - start };
          last = `answered as host ${JSON.stringify(reply.data.host)}`;
        } else last = `error reply ${reply.error.code}: ${reply.error.message}`;
      } catch (e) {
        last = describeError(e);
      }
      await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
    }
    return { ok: false, error: `agent did not answer ${subject} with {ok:true} within ${timeoutMs / 1000} s (last: ${last})` };
  }

  async close(): Promise<void> {
    const p = this.nc;
    this.nc = undefined;
    if (!p) return;
    try {
      await (await p).close();
    } catch {
      // connection never came up: nothing to close
    }
  }
}
