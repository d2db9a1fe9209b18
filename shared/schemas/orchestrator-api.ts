import { z } from "zod";
import { HostId, RequestId, VmName } from "./ids.js";

// Requests of the orchestrator's operator API (ballast.orch.*). Replies are documented in the
// README; every request is validated here, by the CLI before sending and by the orchestrator.

export const Empty = z.object({}).strict();

export const StatusRequest = Empty;
export const VersionRequest = Empty;
export const PauseRequest = z.object({ reason: z.string().max(500).optional() }).strict();
export const ResumeRequest = Empty;
export const SnapshotRequest = Empty;

export const PlanQuery = z
  .object({
    mode: z.enum(["cycle", "balance", "consolidate", "evacuate"]).default("cycle"),
    host: HostId.optional(),
    placement: z.enum(["stripe", "pack"]).optional(),
    use_empty_hosts: z.boolean().optional(),
  })
  .strict()
  .refine((q) => q.mode !== "evacuate" || q.host !== undefined, { message: "mode evacuate needs host", path: ["host"] });
export type PlanQuery = z.infer<typeof PlanQuery>;

export const RunRequest = Empty;

export const ApproveRequest = z.object({ plan_id: z.string().min(1).max(128) }).strict();
export type ApproveRequest = z.infer<typeof ApproveRequest>;

export const OrchMigrateRequest = z
  .object({
    vm: VmName,
    /** Destination host; omitted: the best host by policy. */
    to: HostId.optional(),
    request_id: RequestId.optional(),
  })
  .strict();
export type OrchMigrateRequest = z.infer<typeof OrchMigrateRequest>;

export const EvacuateRequest = z
  .object({
    host: HostId,
    placement: z.enum(["stripe", "pack"]).default("stripe"),
    use_empty_hosts: z.boolean().default(false),
    /** Only answer "can this host be drained now?" without moving anything. */
    dry_run: z.boolean().default(false),
  })
  .strict();
export type EvacuateRequest = z.infer<typeof EvacuateRequest>;

export const ReleaseRequest = z.object({ host: HostId.optional(), vm: VmName.optional() }).strict()
  .refine((r) => (r.host === undefined) !== (r.vm === undefined), "give exactly one of host or vm");
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

export const HistoryRequest = z
  .object({
    vm: VmName.optional(),
    host: HostId.optional(),
    limit: z.number().int().min(1).max(10_000).default(50),
  })
  .strict();
export type HistoryRequest = z.infer<typeof HistoryRequest>;

export const DecisionsRequest = z
  .object({
    vm: VmName.optional(),
    host: HostId.optional(),
    limit: z.number().int().min(1).max(10_000).default(100),
  })
  .strict();
export type DecisionsRequest = z.infer<typeof DecisionsRequest>;

export const ExplainRequest = z.object({ vm: VmName, cycles: z.number().int().min(1).max(1000).default(10) }).strict();
export type ExplainRequest = z.infer<typeof ExplainRequest>;
