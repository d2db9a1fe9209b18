import { z } from "zod";
import { NatsConfig } from "./nats-config.js";
import { Policy } from "./policy.js";

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof LogLevel>;

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
  })
  .strict();
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;
