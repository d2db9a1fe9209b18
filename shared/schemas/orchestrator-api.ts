import { z } from "zod";
import { Automation } from "../config/policy.js";
import { LoggedDecision } from "./decision-log.js";
import { LoadSource } from "./host-metrics.js";
import { HostId, RequestId, VmName } from "./ids.js";
import type { OrchestratorEndpoint } from "../subjects.js";
import { MigrationRecord, MigrationState } from "./migration-record.js";
import { Decision, Plan, PlannedMove } from "./plan.js";
import { ClusterSnapshot } from "./snapshot.js";
import { VmState } from "./vm.js";

// The orchestrator's operator API (ballast.orch.*): every endpoint's request and reply, in one map
// (OrchestratorApi below). The orchestrator registers its handlers from it, the CLI and the tests
// call it through it (callOrchestrator validates the reply), and docs/api.md is generated from it.
//
// Field names on the wire are camelCase, in requests, replies and the agent API alike. Requests
// still accept the snake_case spellings of 0.1 (`plan_id`, `request_id`, `use_empty_hosts`,
// `dry_run`) for this version: LEGACY_FIELDS lists them; an answer to a request that used one
// carries the Ballast-Deprecation header.

const Empty = z.object({}).strict();
const PlacementOrder = z.enum(["stripe", "pack"]);

// ---- requests -------------------------------------------------------------------------------

export const StatusRequest = Empty;
export const VersionRequest = Empty;
export const RunRequest = Empty;
export const ResumeRequest = Empty;
export const SnapshotRequest = Empty;

export const PauseRequest = z.object({ reason: z.string().max(500).optional().describe("shown in status; default \"paused by operator\"") }).strict();
export type PauseRequest = z.infer<typeof PauseRequest>;

export const PlanQuery = z
  .object({
    mode: z.enum(["cycle", "balance", "consolidate", "evacuate"]).default("cycle").describe("what to plan: the periodic cycle, or one strategy"),
    host: HostId.optional().describe("mode evacuate: the host to drain"),
    placement: PlacementOrder.optional().describe("mode evacuate: stripe (least loaded first, default) or pack (fullest that fit)"),
    useEmptyHosts: z.boolean().optional().describe("mode evacuate: empty hosts may receive VMs (default false)"),
  })
  .strict()
  .refine((q) => q.mode !== "evacuate" || q.host !== undefined, { message: "mode evacuate needs host", path: ["host"] });
export type PlanQuery = z.infer<typeof PlanQuery>;

export const ApproveRequest = z.object({ planId: z.string().min(1).max(128).describe("id of a pending plan (status lists them)") }).strict();
export type ApproveRequest = z.infer<typeof ApproveRequest>;

export const OrchMigrateRequest = z
  .object({
    vm: VmName,
    to: HostId.optional().describe("destination host; omitted: the best host by policy"),
    requestId: RequestId.optional().describe("makes the command idempotent: the same id gets the first answer again and never a second migration"),
  })
  .strict();
export type OrchMigrateRequest = z.infer<typeof OrchMigrateRequest>;

export const EvacuateRequest = z
  .object({
    host: HostId,
    placement: PlacementOrder.default("stripe").describe("stripe: least loaded hosts first; pack: the fullest hosts that fit"),
    useEmptyHosts: z.boolean().default(false).describe("empty hosts may receive VMs"),
    dryRun: z.boolean().default(false).describe("only answer \"can this host be drained now?\"; moves nothing"),
  })
  .strict();
export type EvacuateRequest = z.infer<typeof EvacuateRequest>;

export const ReleaseRequest = z
  .object({ host: HostId.optional().describe("reopen this host after maintenance"), vm: VmName.optional().describe("unfreeze this VM (frozen after ping-pong)") })
  .strict()
  .refine((r) => (r.host === undefined) !== (r.vm === undefined), "give exactly one of host or vm");
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

export const HistoryRequest = z
  .object({
    vm: VmName.optional(),
    host: HostId.optional().describe("migrations from or to this host"),
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

export const ExplainRequest = z.object({ vm: VmName, cycles: z.number().int().min(1).max(1000).default(10).describe("cycles to look back") }).strict();
export type ExplainRequest = z.infer<typeof ExplainRequest>;

// ---- replies --------------------------------------------------------------------------------

export const HostStatus = z.object({
  host: HostId,
  fresh: z.boolean().describe("recent metrics: may receive VMs"),
  agentAlive: z.boolean().describe("recent metrics or heartbeat (collection may be failing)"),
  lastSeen: z.number().describe("newest metrics or heartbeat, ms"),
  lastMetrics: z.number().describe("newest metrics, ms"),
  cpus: z.number().int(),
  cpuPercent: z.number().describe("CPU load, percent of the host"),
  memPercent: z.number(),
  memTotalMiB: z.number(),
  memAvailableMiB: z.number(),
  loadSource: LoadSource,
  vms: z.number().int(),
  runningVms: z.number().int(),
  address: z.string().nullable().describe("migration address from host_mapping"),
  maintenance: z.boolean(),
  collectOk: z.boolean(),
  collectError: z.string().optional(),
  agentStartedAt: z.number().optional(),
});
export type HostStatus = z.infer<typeof HostStatus>;

/** A queued or running migration as status lists it. */
export const MigrationBrief = z.object({
  requestId: RequestId,
  vm: VmName,
  source: HostId,
  destination: HostId,
  state: MigrationState,
  progress: z.number().nullable(),
  reason: z.string(),
});
export type MigrationBrief = z.infer<typeof MigrationBrief>;

export const StatusReply = z.object({
  now: z.number(),
  paused: z.boolean(),
  pausedReason: z.string().nullable(),
  automation: Automation,
  leader: z.boolean().describe("whether this instance may act (always true without HA)"),
  ha: z.object({ role: z.enum(["leader", "standby"]), epoch: z.number().nullable(), leaderInstance: z.string().nullable() }).nullable(),
  cycle: z.number().int(),
  hosts: z.array(HostStatus),
  migrations: z.object({ queued: z.array(MigrationBrief), ongoing: z.array(MigrationBrief) }),
  frozenVms: z.array(VmName),
  pendingPlans: z.array(z.object({ id: z.string(), moves: z.number().int(), expiresAt: z.number() })),
});
export type StatusReply = z.infer<typeof StatusReply>;

export const VersionReply = z.object({ name: z.literal("ballast-orchestrator"), version: z.string(), instance: z.string(), node: z.string() });
export type VersionReply = z.infer<typeof VersionReply>;

export const RunReply = z.object({ plan: Plan, queued: z.number().int().describe("moves queued for dispatch") });
export type RunReply = z.infer<typeof RunReply>;

export const ApproveReply = z.object({ planId: z.string(), queued: z.number().int() });
export type ApproveReply = z.infer<typeof ApproveReply>;

export const MigrateReply = z.object({ plan: Plan, queued: z.array(MigrationRecord) });
export type MigrateReply = z.infer<typeof MigrateReply>;

/** `dryRun`: whether the host can be drained now, and how. */
export const EvacuationCheck = z.object({
  host: HostId,
  canDrain: z.boolean(),
  reasons: z.array(Decision).describe("what blocks the drain: each VM or host condition"),
  plan: Plan.describe("the evacuation plan (partial when canDrain is false)"),
});
export type EvacuationCheck = z.infer<typeof EvacuationCheck>;

/** The host is in maintenance and its moves are queued. */
export const EvacuationStarted = z.object({
  host: HostId,
  maintenance: z.literal(true),
  planId: z.string(),
  queued: z.number().int(),
  moves: z.array(PlannedMove),
});
export type EvacuationStarted = z.infer<typeof EvacuationStarted>;

export const EvacuateReply = z.union([EvacuationCheck, EvacuationStarted]);
export type EvacuateReply = z.infer<typeof EvacuateReply>;

export const ReleaseReply = z.union([
  z.object({ host: HostId, released: z.boolean().describe("false: it was not in maintenance") }),
  z.object({ vm: VmName, released: z.boolean().describe("false: it was not frozen") }),
]);
export type ReleaseReply = z.infer<typeof ReleaseReply>;

export const PauseReply = z.object({ paused: z.literal(true), reason: z.string(), queued: z.number().int(), ongoing: z.number().int() });
export type PauseReply = z.infer<typeof PauseReply>;

export const ResumeReply = z.object({ paused: z.literal(false), wasPaused: z.boolean() });
export type ResumeReply = z.infer<typeof ResumeReply>;

export const HistoryReply = z.array(MigrationRecord).describe("finished migrations, newest first");
export const DecisionsReply = z.array(LoggedDecision).describe("decisions and non-decisions, newest first");

export const ExplainReply = z.object({
  vm: VmName,
  runningOn: z.array(HostId),
  reportedBy: z.array(z.object({ host: HostId, state: VmState, migrating: z.boolean(), cpuPercent: z.number().nullable(), memMiB: z.number() })),
  whyHere: z.string(),
  frozen: z.boolean(),
  inFlight: z.boolean().describe("a migration of it is queued or running"),
  cpuLevels: z.string().describe("the CPU levels the last cycle judged with: adapted to the measured swing, or as configured"),
  lastCycles: z.object({ from: z.number().int(), to: z.number().int(), decisions: z.array(LoggedDecision) }),
  history: z.array(MigrationRecord),
});
export type ExplainReply = z.infer<typeof ExplainReply>;

// ---- the map --------------------------------------------------------------------------------

/** `read`: changes nothing (a read-only identity may call it); `operate`: may change the cluster. */
export type Access = "read" | "operate";

interface EndpointSpec<Req extends z.ZodType, Rep extends z.ZodType> {
  summary: string;
  access: Access;
  request: Req;
  reply: Rep;
  /** Request bodies for the generated reference (`nats req ... '<example>'`), each with what it does. */
  examples: readonly (readonly [body: unknown, note: string])[];
}

const endpoint = <Req extends z.ZodType, Rep extends z.ZodType>(spec: EndpointSpec<Req, Rep>): EndpointSpec<Req, Rep> => spec;

export const OrchestratorApi = {
  status: endpoint({
    summary: "Hosts (load, memory, VMs, freshness, maintenance), migrations queued and running, frozen VMs and pending plans.",
    access: "read",
    request: StatusRequest,
    reply: StatusReply,
    examples: [[{}, ""]],
  }),
  plan: endpoint({
    summary: "What the orchestrator would do now (a dry run), with every decision and non-decision. A plan with moves can be applied by id with approve until it expires or the cluster drifts.",
    access: "read",
    request: PlanQuery,
    reply: Plan,
    examples: [
      [{}, "dry run of the periodic cycle"],
      [{ mode: "consolidate" }, ""],
      [{ mode: "evacuate", host: "hv-b", placement: "pack" }, ""],
    ],
  }),
  run: endpoint({ summary: "Run a cycle now (leader only).", access: "operate", request: RunRequest, reply: RunReply, examples: [[{}, ""]] }),
  approve: endpoint({
    summary: "Apply a pending plan: one a cycle proposed (automation manual or partial) or a plan dry run. Refused when it expired or the cluster drifted since.",
    access: "operate",
    request: ApproveRequest,
    reply: ApproveReply,
    examples: [[{ planId: "p-3f2a9c1e" }, ""]],
  }),
  migrate: endpoint({
    summary: "Move a VM to a host, or to the best host, judged by the same limits and rules as every move (cooldowns and settle times do not apply to operators).",
    access: "operate",
    request: OrchMigrateRequest,
    reply: MigrateReply,
    examples: [
      [{ vm: "web-1", to: "hv-c" }, "\"to\" optional: the best host"],
      [{ vm: "web-1", requestId: "op-7" }, "the same requestId again: the same answer, one migration"],
    ],
  }),
  evacuate: endpoint({
    summary: "Drain a host for maintenance: it is closed to new VMs until released, and every live VM is moved. Refused as a whole when some VM cannot move now; dryRun only answers whether it can.",
    access: "operate",
    request: EvacuateRequest,
    reply: EvacuateReply,
    examples: [
      [{ host: "hv-b", dryRun: true }, "can it be drained now?"],
      [{ host: "hv-b", placement: "stripe", useEmptyHosts: false }, ""],
    ],
  }),
  release: endpoint({
    summary: "Reopen a host after maintenance, or unfreeze a VM frozen after ping-pong.",
    access: "operate",
    request: ReleaseRequest,
    reply: ReleaseReply,
    examples: [
      [{ host: "hv-b" }, ""],
      [{ vm: "web-1" }, "unfreeze"],
    ],
  }),
  pause: endpoint({
    summary: "Stop starting migrations (running ones finish); cycles go on planning and explaining.",
    access: "operate",
    request: PauseRequest,
    reply: PauseReply,
    examples: [[{ reason: "storage maintenance" }, ""]],
  }),
  resume: endpoint({ summary: "Start migrations again.", access: "operate", request: ResumeRequest, reply: ResumeReply, examples: [[{}, ""]] }),
  history: endpoint({
    summary: "Finished migrations, newest first: outcome, duration, downtime, bytes, libvirt's error.",
    access: "read",
    request: HistoryRequest,
    reply: HistoryReply,
    examples: [[{ vm: "web-1", limit: 20 }, ""]],
  }),
  decisions: endpoint({
    summary: "Every decision and non-decision of recent cycles, newest first, with its code and numbers.",
    access: "read",
    request: DecisionsRequest,
    reply: DecisionsReply,
    examples: [[{ host: "hv-a", limit: 50 }, ""]],
  }),
  explain: endpoint({
    summary: "Why a VM is where it is, and why it did or did not move in the last cycles.",
    access: "read",
    request: ExplainRequest,
    reply: ExplainReply,
    examples: [[{ vm: "web-1" }, ""]],
  }),
  snapshot: endpoint({
    summary: "The live cluster snapshot: the planner's input, for `ballast plan --snapshot` offline.",
    access: "read",
    request: SnapshotRequest,
    reply: ClusterSnapshot,
    examples: [[{}, ""]],
  }),
  version: endpoint({ summary: "The orchestrator's version and instance name.", access: "read", request: VersionRequest, reply: VersionReply, examples: [[{}, ""]] }),
} as const satisfies Record<OrchestratorEndpoint, EndpointSpec<z.ZodType, z.ZodType>>;

export type OrchestratorApi = typeof OrchestratorApi;
export type { OrchestratorEndpoint };
export const ORCHESTRATOR_ENDPOINTS = Object.keys(OrchestratorApi) as OrchestratorEndpoint[];

/** The request an endpoint's handler receives (defaults applied). */
export type RequestOf<E extends OrchestratorEndpoint> = z.output<OrchestratorApi[E]["request"]>;
/** What a caller may send (defaults optional). */
export type RequestInput<E extends OrchestratorEndpoint> = z.input<OrchestratorApi[E]["request"]>;
/** The data of an endpoint's ok reply. */
export type ReplyOf<E extends OrchestratorEndpoint> = z.output<OrchestratorApi[E]["reply"]>;

/** What the orchestrator does for each endpoint; inputs are validated before a handler sees them. */
export type OrchestratorHandlers = { [E in OrchestratorEndpoint]: (req: RequestOf<E>) => ReplyOf<E> | Promise<ReplyOf<E>> };

/** Endpoints a read-only identity may call (they change nothing). */
export const READ_ONLY_ENDPOINTS: readonly OrchestratorEndpoint[] = ORCHESTRATOR_ENDPOINTS.filter((e) => OrchestratorApi[e].access === "read");

/**
 * Request fields of 0.1 spelled in snake_case: still accepted in this version (renamed before
 * validation; sending both spellings of one field is refused), deprecated, to be removed in the
 * next minor version.
 */
export const LEGACY_FIELDS: Partial<Record<OrchestratorEndpoint, Readonly<Record<string, string>>>> = {
  plan: { use_empty_hosts: "useEmptyHosts" },
  approve: { plan_id: "planId" },
  migrate: { request_id: "requestId" },
  evacuate: { use_empty_hosts: "useEmptyHosts", dry_run: "dryRun" },
};
