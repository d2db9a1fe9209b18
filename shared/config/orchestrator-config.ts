import { z } from "zod";
import { NatsConfig } from "./nats-config.js";
import { Policy } from "./policy.js";

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof LogLevel>;

/**
 * A TCP listen address `host:port`: an IPv4 address, a name, or `[IPv6]`; port 0 takes a free
 * port (tests). `0.0.0.0` / `[::]` listen on every interface.
 */
export const HttpListen = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "listen must be host:port, e.g. 127.0.0.1:9470 or [::1]:9470")
  .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65_535, "port must be 0..65535");
export type HttpListen = z.infer<typeof HttpListen>;

/** Splits a validated `host:port` (brackets of an IPv6 host removed). */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(listen.slice(i + 1)) };
}

/** The orchestrator's HTTP server: /metrics (Prometheus), the dashboard and its JSON API. */
export const OrchestratorHttp = z
  .object({
    /** Where to listen, `host:port`; null (the default) serves no HTTP at all. Suggested: 127.0.0.1:9470. */
    listen: HttpListen.nullable().default(null),
    /**
     * Whether the dashboard may change anything (POST /api/approve). Off by default: the
     * dashboard is then read-only. Requests must also be same-origin and carry the page's token.
     */
    allow_actions: z.boolean().default(false),
    /**
     * Host names (the HTTP Host header, without port) the dashboard answers to besides loopback
     * names and the listen address; e.g. the name a reverse proxy forwards. Others get 421 (DNS
     * rebinding defence). /metrics answers any Host.
     */
    allowed_hosts: z.array(z.string().min(1).max(253)).max(100).default([]),
  })
  .strict();
export type OrchestratorHttp = z.infer<typeof OrchestratorHttp>;

/**
 * An orchestrator instance name. It is one token of the per-instance subjects
 * (`ballast.orch.instance.<instance>.<endpoint>`), so no dots and no wildcards.
 */
export const OrchestratorInstance = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "instance must be 1-64 characters of A-Z a-z 0-9 _ - (no dots: it is one NATS subject token)");
export type OrchestratorInstance = z.infer<typeof OrchestratorInstance>;

/** The default instance name from a host name and pid, made a valid OrchestratorInstance. */
export function defaultInstanceName(host: string, pid: number): string {
  return `${host.split(".")[0] || "orchestrator"}-${pid}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
}

/**
 * High availability: several orchestrators, one leader through a lease in a JetStream KV bucket.
 * The bucket also holds the state a new leader continues from (migrations, cooldown history,
 * maintenance hosts, frozen VMs, pending plans, pause).
 */
export const OrchestratorHa = z
  .object({
    /** Run as one of several orchestrators (off: this instance always leads, nothing goes to KV). */
    enabled: z.boolean().default(false),
    /** JetStream KV bucket of the lease and the shared state; every instance must name the same. */
    bucket: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "bucket must be 1-64 characters of A-Z a-z 0-9 _ -").default("ballast-orchestrator"),
    /** Lease period, seconds: the leader renews every third of it; a standby takes over after it passes unrenewed. */
    lease_ttl: z.number().min(0.3).max(300).default(10),
    /** This instance's name in the lease, its per-instance subjects and NOT_LEADER answers (default: hostname-pid). */
    instance: OrchestratorInstance.optional(),
    /** JetStream replicas of the bucket (3 on a three-server NATS cluster). */
    replicas: z.number().int().min(1).max(5).default(1),
    /**
     * Seconds a standby waits for the leader's answer to a forwarded operator request before it
     * answers NO_LEADER. Below nats.request_timeout (5 s), so the operator gets that answer
     * instead of a timeout of their own.
     */
    forward_timeout: z.number().min(0.1).max(60).default(4),
    /** Size limit of the replicated decision log (the `<bucket>-decisions` stream), bytes; the oldest go first. */
    decisions_max_bytes: z.number().int().min(1024 * 1024).max(64 * 1024 ** 3).default(64 * 1024 * 1024),
  })
  .strict();
export type OrchestratorHa = z.infer<typeof OrchestratorHa>;

export const OrchestratorConfig = z
  .object({
    nats: NatsConfig.default(NatsConfig.parse({})),
    /** CSV of `host,address` lines: each hypervisor's migration-network address. */
    host_mapping: z.string().optional(),
    policy: Policy.default(Policy.parse({})),
    /** Finished migrations kept in memory for `history`. */
    history_size: z.number().int().min(10).max(1_000_000).default(10_000),
    /** Decisions and non-decisions kept for `decisions` and `explain`. */
    decisions_size: z.number().int().min(100).max(5_000_000).default(50_000),
    /** Seconds after which a dispatched migration with no outcome event is asked about / failed. */
    migration_timeout: z.number().min(5).max(86_400).default(900),
    log_level: LogLevel.default("info"),
    http: OrchestratorHttp.default(() => OrchestratorHttp.parse({})),
    ha: OrchestratorHa.default(() => OrchestratorHa.parse({})),
  })
  .strict();
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;
