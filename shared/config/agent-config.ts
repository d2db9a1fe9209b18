import { hostname } from "node:os";
import { z } from "zod";
import { HostId, VmName } from "../schemas/ids.js";
import { LoadSource } from "../schemas/host-metrics.js";
import { VmState } from "../schemas/vm.js";
import { NatsConfig } from "./nats-config.js";
import { HttpListen, LogLevel } from "./orchestrator-config.js";

// Configuration of one agent (one per hypervisor). Keys are snake_case because operators write
// them in YAML; every key has a default so an empty file is a working agent on this host.
// Durations are seconds, memory MiB.

/**
 * This machine's short host name made into a valid HostId: the part before the first dot,
 * anything outside A-Za-z0-9_- replaced by "-", at most 63 characters. Host ids become NATS
 * subject tokens, so a FQDN ("kvm1.example.org") must not leak dots into them.
 */
export function defaultHostId(name: string = hostname()): string {
  const short = (name.split(".")[0] ?? "").replace(/[^A-Za-z0-9_-]/g, "-").replace(/^[-_]+/, "");
  const id = short.slice(0, 63);
  return id.length > 0 ? id : "localhost";
}

// --- Simulated hypervisor --------------------------------------------------------------------

/** A square wave between `high` and `low` percent of one core, `period_s` long (half each). */
export const SimCpuSquare = z
  .object({
    pattern: z.literal("square"),
    high: z.number().min(0).max(409_600),
    low: z.number().min(0).max(409_600),
    period_s: z.number().positive().max(86_400),
  })
  .strict();

/** A recorded trace: one value per `step_s`, repeated when it runs out. */
export const SimCpuTrace = z
  .object({
    trace: z.array(z.number().min(0).max(409_600)).min(1).max(1_000_000),
    step_s: z.number().positive().max(86_400),
  })
  .strict();

/** CPU use of a simulated VM: a constant (percent of ONE core), a square wave or a trace. */
export const SimCpu = z.union([z.number().min(0).max(409_600), SimCpuSquare, SimCpuTrace]);
export type SimCpu = z.infer<typeof SimCpu>;

export const SimVm = z
  .object({
    name: VmName,
    vcpus: z.number().int().min(1).max(4096).default(1),
    mem_mib: z.number().positive().max(16 * 1024 * 1024).default(1024),
    cpu: SimCpu.default(0),
    /** Memory the guest dirties while migrating, MiB/s; slows convergence like a busy guest. */
    dirty_rate_mibs: z.number().min(0).default(0),
    /** A VM that is not running cannot be migrated (tests VM_NOT_RUNNING). */
    state: VmState.default("running"),
  })
  .strict();
export type SimVm = z.infer<typeof SimVm>;
export type SimVmInput = z.input<typeof SimVm>;

export const SimConfig = z
  .object({
    cpus: z.number().int().min(1).max(4096).default(8),
    mem_mib: z.number().positive().max(64 * 1024 * 1024).default(32_768),
    /** Memory the simulated host keeps for itself (not available to VMs), MiB. */
    reserve_mib: z.number().min(0).default(1024),
    vms: z.array(SimVm).default([]),
    /** Copy speed of a migration, MiB/s: 100 moves a 1 GiB VM in about 10 s. */
    migration_mibs: z.number().positive().max(1_000_000).default(100),
    /** Probability (0..1) that a migration fails halfway, to exercise failure handling. */
    migration_fail_rate: z.number().min(0).max(1).default(0),
    /** Set-up time before copying starts, seconds (connection, destination QEMU start). */
    start_delay_s: z.number().min(0).max(3600).default(0.5),
    /** Seed of the pseudo-random generator behind migration_fail_rate: runs are reproducible. */
    seed: z.number().int().default(1),
    /** Extra migration addresses that reach this simulated host (its host id always does). */
    addresses: z.array(z.string().min(1).max(253)).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.vms.forEach((vm, i) => {
      if (seen.has(vm.name)) ctx.addIssue({ code: "custom", path: ["vms", i, "name"], message: `duplicate VM name '${vm.name}'` });
      seen.add(vm.name);
    });
  });
export type SimConfig = z.infer<typeof SimConfig>;
export type SimConfigInput = z.input<typeof SimConfig>;

// --- virsh migrate extra arguments -----------------------------------------------------------

/**
 * virsh migrate options an operator may add. Everything else is refused: options such as
 * --unsafe, --undefinesource/--persistent (already set), --desturi/--migrateuri (built from the
 * request) or --copy-storage-* would change what a "live migration" means or where it goes.
 * Options that take a value must use the `--name=value` form so one argv element is one option.
 */
const MIGRATE_FLAGS = new Set([
  "--compressed",
  "--auto-converge",
  "--postcopy",
  "--postcopy-after-precopy",
  "--abort-on-error",
  "--tls",
  "--parallel",
  "--zerocopy",
]);
const MIGRATE_VALUE_OPTIONS: Record<string, RegExp> = {
  "--bandwidth": /^\d{1,7}$/,
  "--postcopy-bandwidth": /^\d{1,7}$/,
  "--parallel-connections": /^\d{1,3}$/,
  "--auto-converge-initial": /^\d{1,3}$/,
  "--auto-converge-increment": /^\d{1,3}$/,
  "--comp-methods": /^(xbzrle|mt|zlib|zstd)(,(xbzrle|mt|zlib|zstd))*$/,
  "--comp-mt-level": /^\d{1,2}$/,
  "--comp-mt-threads": /^\d{1,3}$/,
  "--comp-mt-dthreads": /^\d{1,3}$/,
  "--comp-xbzrle-cache": /^\d{1,15}$/,
  "--comp-zlib-level": /^\d{1,2}$/,
  "--comp-zstd-level": /^\d{1,2}$/,
};

export function isAllowedMigrateArg(arg: string): boolean {
  if (MIGRATE_FLAGS.has(arg)) return true;
  const eq = arg.indexOf("=");
  if (eq < 0) return false;
  const re = MIGRATE_VALUE_OPTIONS[arg.slice(0, eq)];
  return re !== undefined && re.test(arg.slice(eq + 1));
}

export const MigrateExtraArg = z.string().refine(isAllowedMigrateArg, {
  message: `not an allowed virsh migrate option; allowed: ${[...MIGRATE_FLAGS].join(" ")} ${Object.keys(MIGRATE_VALUE_OPTIONS).map((k) => `${k}=N`).join(" ")}`,
});

// --- The agent -------------------------------------------------------------------------------

export const VirshSettings = z
  .object({
    /** virsh executable (a path or a name looked up in PATH). */
    binary: z.string().min(1).default("virsh"),
    /** Connection URI of the local libvirtd, passed as `-c` to every call. */
    uri: z.string().min(1).default("qemu:///system"),
    /** Seconds any virsh call except migrate may take before it is killed (SIGKILL). */
    timeout: z.number().min(0.1).max(3600).default(30),
  })
  .strict();
export type VirshSettings = z.infer<typeof VirshSettings>;

export const MigrationSettings = z
  .object({
    /** Scheme of the destination libvirtd URI: qemu+tcp, qemu+tls or qemu+ssh. */
    uri_scheme: z.enum(["qemu+tcp", "qemu+tls", "qemu+ssh", "qemu"]).default("qemu+tcp"),
    /** Path of the destination libvirtd URI. */
    uri_path: z.string().regex(/^\/[A-Za-z0-9_/.-]*(\?[A-Za-z0-9_=&/.%-]*)?$/, "uri_path must start with / and hold no spaces").default("/system"),
    /** Adds `--migrateuri tcp://ADDR`: the data stream goes to the migration-network address. */
    use_migrateuri: z.boolean().default(true),
    /** Seconds a migration may run before it is aborted (domjobabort) and reported failed. */
    timeout: z.number().int().min(1).max(86_400).default(600),
    /** Outgoing migrations running at once; more are refused with BUSY. */
    max_concurrent: z.number().int().min(1).max(64).default(2),
    /** Additional virsh migrate options, each from an allowlist (see MigrateExtraArg). */
    extra_args: z.array(MigrateExtraArg).default([]),
  })
  .strict();
export type MigrationSettings = z.infer<typeof MigrationSettings>;

/** The agent's HTTP server: only GET /metrics (Prometheus). */
export const AgentHttp = z
  .object({
    /** Where to listen, `host:port`; null (the default) serves no HTTP. Suggested: 127.0.0.1:9471. */
    listen: HttpListen.nullable().default(null),
  })
  .strict();
export type AgentHttp = z.infer<typeof AgentHttp>;

export const AgentConfig = z
  .object({
    /** This hypervisor's id in Ballast (a NATS subject token). Default: short host name, sanitised. */
    host: HostId.default(() => defaultHostId()),
    nats: NatsConfig.default(() => NatsConfig.parse({})),
    /** Seconds between metric collections (published on .metrics). */
    interval: z.number().min(0.1).max(3600).default(10),
    /** Seconds between heartbeats (published on .heartbeat, also when collection fails). */
    heartbeat_interval: z.number().min(0.1).max(3600).default(5),
    /** Hypervisor driver: real libvirt through virsh, or the built-in simulator. */
    driver: z.enum(["virsh", "sim"]).default("virsh"),
    /**
     * Which CPU figure the orchestrator decides on: the host's own (`host`), or the sum of its
     * domains' CPU from cpu.time deltas divided by the host's cores (`domains`), for labs where
     * several "hypervisors" share one kernel and host-level numbers are identical.
     */
    load_source: LoadSource.default("host"),
    virsh: VirshSettings.default(() => VirshSettings.parse({})),
    migration: MigrationSettings.default(() => MigrationSettings.parse({})),
    /** The simulated host (driver: sim). Default: 8 CPUs, 32 GiB, no VMs. */
    sim: SimConfig.optional(),
    /** Report this many CPUs instead of the detected count (labs, simulations). */
    cpus_override: z.number().int().min(1).max(4096).optional(),
    /** Report this much memory instead of the detected total (labs, simulations), MiB. */
    mem_override_mib: z.number().positive().optional(),
    log_level: LogLevel.default("info"),
    http: AgentHttp.default(() => AgentHttp.parse({})),
  })
  .strict();
export type AgentConfig = z.infer<typeof AgentConfig>;
export type AgentConfigInput = z.input<typeof AgentConfig>;
