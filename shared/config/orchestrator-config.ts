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
    listen: HttpListen.nullable()
      .default(null)
      .describe(
        "Where to listen, `host:port`: an IPv4 address, a name, or `[IPv6]` (`0.0.0.0` / `[::]` listen on every interface; port 0 picks a free port). null serves no HTTP at all. Suggested: `127.0.0.1:9470`.",
      ),
    allow_actions: z
      .boolean()
      .default(false)
      .describe(
        "Whether the dashboard may change anything (approve a pending plan, `POST /api/approve`). Off: the dashboard is read-only. Even on, a request must be same-origin and carry the page's token.",
      ),
    allowed_hosts: z
      .array(z.string().min(1).max(253))
      .max(100)
      .default([])
      .describe(
        "Host names (the HTTP Host header, without port) the dashboard answers to besides loopback names and the listen address, e.g. the name a reverse proxy forwards. Others get 421 (DNS rebinding defence). `/metrics` answers any Host.",
      ),
  })
  .strict()
  .describe("The orchestrator's HTTP server: Prometheus `/metrics`, the web dashboard and its JSON API.");
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
    enabled: z.boolean().default(false).describe("Run as one of several orchestrators. Off: this instance always leads and nothing is kept in JetStream."),
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "bucket must be 1-64 characters of A-Z a-z 0-9 _ -")
      .default("ballast-orchestrator")
      .describe("JetStream KV bucket of the lease and the shared state (1-64 characters of `A-Z a-z 0-9 _ -`); every instance must name the same."),
    lease_ttl: z.number().min(0.3).max(300).default(10).meta({
      unit: "s",
      description:
        "Lease period: the leader renews every third of it and stops dispatching when it cannot renew within it; a standby takes over after a full period without renewal.",
    }),
    instance: OrchestratorInstance.optional().meta({
      defaultText: "`<host name>-<pid>`",
      description:
        "This instance's name in the lease, its subjects `ballast.orch.instance.<instance>.*`, the reply headers and NOT_LEADER answers: 1-64 characters of `A-Z a-z 0-9 _ -`, no dots. Default: the host name up to its first dot, then `-<pid>`.",
    }),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe(
        "JetStream replicas of the bucket and of the decisions stream (3 on a three-server NATS cluster). Applies only when they are created; a bucket with another count is logged at start, with the `nats stream edit` command that changes it.",
      ),
    forward_timeout: z.number().min(0.1).max(60).default(4).meta({
      unit: "s",
      description:
        "How long a standby waits for the leader's answer to a forwarded operator request before it answers NO_LEADER. Below `nats.request_timeout` (5 s), so the operator gets that answer instead of a timeout of their own.",
    }),
    decisions_max_bytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .max(64 * 1024 ** 3)
      .default(64 * 1024 * 1024)
      .meta({ unit: "bytes", description: "Size limit of the replicated decision log (the stream `<bucket>-decisions`); the oldest entries go first." }),
  })
  .strict()
  .describe(
    "High availability: several orchestrators, one leading through a lease in a JetStream KV bucket, which also holds the state a new leader continues from.",
  );
export type OrchestratorHa = z.infer<typeof OrchestratorHa>;

/** Power management: where the power inventory is, and how often each host's power state is read. */
export const OrchestratorPower = z
  .object({
    inventory: z
      .string()
      .min(1)
      .max(4096)
      .nullable()
      .default(null)
      .describe(
        "Path of the power inventory (YAML): each switchable host's power interface (IPMI, Redfish, Wake-on-LAN + SSH, a command). null: no host can be switched, and `policy.power_management: true` is a configuration error.",
      ),
    status_interval: z.number().min(1).max(86_400).default(60).meta({
      unit: "s",
      description: "How often the power state of every host of the inventory is read (also once at start, so no host stays `unknown`).",
    }),
    shutdown_timeout: z.number().min(1).max(86_400).default(600).meta({
      unit: "s",
      description: "A host switched off whose power interface does not read `off` after this long is reported failed.",
    }),
  })
  .strict()
  .describe("Power management: the power inventory and how the orchestrator reads and switches hosts (policy keys `power_*` decide when).");
export type OrchestratorPower = z.infer<typeof OrchestratorPower>;

/** The VM records (docs/host-failure.md): each managed VM's definition, disks and restart priority. */
export const OrchestratorRecords = z
  .object({
    bucket: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "bucket must be 1-64 characters of A-Z a-z 0-9 _ -")
      .default("ballast-vm-records")
      .describe(
        "JetStream KV bucket of the VM records. With `ha` every instance must name the same; only the leader writes. Without JetStream on the server they are kept in memory only (logged at start).",
      ),
    removal_grace: z
      .number()
      .min(0)
      .max(30 * 86_400)
      .default(3600)
      .meta({
        unit: "s",
        description:
          "A VM's record is removed once no host has listed it for this long while its recorded host reports. Never while that host is silent: a dead host's VMs keep their records.",
      }),
    fetch_concurrency: z.number().int().min(1).max(64).default(4).describe("Definitions asked of agents at once."),
  })
  .strict()
  .describe("The VM records: what is kept of every VM so it can be restarted elsewhere when its host dies.");
export type OrchestratorRecords = z.infer<typeof OrchestratorRecords>;

export const OrchestratorConfig = z
  .object({
    nats: NatsConfig.default(NatsConfig.parse({})).describe("How the orchestrator reaches NATS."),
    host_mapping: z
      .string()
      .optional()
      .describe(
        "Path of the host_mapping CSV: one `host,address` line per hypervisor, its migration-network address. Re-read when it changes. A host not in the mapping is never a destination.",
      ),
    policy: Policy.default(Policy.parse({})).describe("The planner's policy (the same keys as a `ballast plan --policy` file)."),
    history_size: z.number().int().min(10).max(1_000_000).default(10_000).describe("Finished migrations kept for `history` and the cooldowns."),
    decisions_size: z
      .number()
      .int()
      .min(100)
      .max(5_000_000)
      .default(50_000)
      .describe("Decisions and non-decisions kept in memory for `decisions` and `explain`."),
    migration_timeout: z.number().min(5).max(86_400).default(900).meta({
      unit: "s",
      description:
        "A dispatched migration with no outcome event after this long is settled from the agents' inventories: succeeded when the VM runs on its destination only, failed when it stayed on its source and no longer migrates, or runs nowhere.",
    }),
    log_level: LogLevel.default("info").describe("Least severe log level written (JSON lines on stderr; under systemd, the journal)."),
    http: OrchestratorHttp.default(() => OrchestratorHttp.parse({})),
    ha: OrchestratorHa.default(() => OrchestratorHa.parse({})),
    power: OrchestratorPower.default(() => OrchestratorPower.parse({})),
    records: OrchestratorRecords.default(() => OrchestratorRecords.parse({})),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.policy.power_management && c.power.inventory === null)
      ctx.addIssue({
        code: "custom",
        path: ["power", "inventory"],
        message:
          "policy.power_management is true but power.inventory names no power inventory: name the inventory file (each host's power interface), or set power_management to false",
      });
  })
  .describe("Configuration of the orchestrator (one per cluster, or several with `ha`).");
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;
