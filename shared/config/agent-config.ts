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
    pattern: z.literal("square").describe("Selects the square wave."),
    high: z.number().min(0).max(409_600).meta({ unit: "% of one core", description: "CPU use in the first half of each period." }),
    low: z.number().min(0).max(409_600).meta({ unit: "% of one core", description: "CPU use in the second half of each period." }),
    period_s: z.number().positive().max(86_400).meta({ unit: "s", description: "Length of one period (half high, half low)." }),
  })
  .strict()
  .describe("A square wave between `high` and `low` percent of one core.");

/** A recorded trace: one value per `step_s`, repeated when it runs out. */
export const SimCpuTrace = z
  .object({
    trace: z
      .array(z.number().min(0).max(409_600))
      .min(1)
      .max(1_000_000)
      .meta({ unit: "% of one core", description: "CPU use, one value per `step_s`; repeated from the start when it runs out." }),
    step_s: z.number().positive().max(86_400).meta({ unit: "s", description: "Time between two values of `trace`." }),
  })
  .strict()
  .describe("A recorded CPU trace, repeated when it runs out.");

/** CPU use of a simulated VM: a constant (percent of ONE core), a square wave or a trace. */
export const SimCpu = z.union([z.number().min(0).max(409_600), SimCpuSquare, SimCpuTrace]);
export type SimCpu = z.infer<typeof SimCpu>;

/** Names as facts carry them (CPU models and features, networks, bridges, machine types). */
const SimName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,63}$/, "1-64 of A-Z a-z 0-9 _ . : @ + -");
const SimPath = z
  .string()
  .max(4096)
  .regex(/^\/\P{Cc}*$/u, "an absolute path");

/** A simulated VM's disk: a file under one of the host's shared paths is shared, any other is local. */
export const SimDisk = z
  .object({
    target: z
      .string()
      .regex(/^[a-z0-9]{1,16}$/, "target device name such as vda")
      .describe('Target device ("vda").'),
    path: SimPath.describe("The disk file."),
    size_gib: z.number().positive().max(1_048_576).default(10).meta({ unit: "GiB", description: "Virtual size; the simulated copy moves all of it." }),
  })
  .strict()
  .describe("A disk of the simulated VM.");

/** Migratability facts of a simulated VM; every key is optional, the defaults fit every default host. */
export const SimVmFacts = z
  .object({
    cpu_model: SimName.default("qemu64").describe("The guest CPU model (custom mode); a destination must list it among its `cpu_models`."),
    cpu_features: z.array(SimName).max(1024).default([]).describe("Features the guest CPU requires; a destination must offer each."),
    machine: SimName.default("pc-q35-7.2").describe("Machine type; a destination must offer it."),
    networks: z.array(SimName).max(64).default([]).describe("libvirt networks the VM is attached to."),
    bridges: z.array(SimName).max(64).default([]).describe("Bridges the VM is attached to."),
    disks: z.array(SimDisk).max(64).default([]).describe("Disk files: local ones move only by copying (copyStorage)."),
    hostdevs: z.array(z.string().max(128)).max(64).default([]).describe('Host devices passed through ("pci 0000:3b:00.0"): the VM is then not migratable.'),
  })
  .strict()
  .describe("What the simulated VM needs of a host (facts); absent: runs on every default host.");
export type SimVmFacts = z.infer<typeof SimVmFacts>;

/** Facts of a simulated host: a CPU generation, networks, bridges, shared storage. Defaults make every host alike. */
export const SimHostFacts = z
  .object({
    cpu_model: SimName.default("qemu64").describe("The host's CPU model."),
    cpu_features: z.array(SimName).max(1024).default([]).describe("CPU features the host offers."),
    cpu_models: z.array(SimName).max(512).default(["qemu64"]).describe("Guest CPU models usable here; a VM whose model is not listed is refused (CPU)."),
    machine_types: z.array(SimName).max(512).default(["pc", "pc-i440fx-7.2", "pc-q35-7.2", "q35"]).describe("Machine types offered."),
    networks: z.array(SimName).max(1024).default([]).describe("Active libvirt networks."),
    bridges: z.array(SimName).max(1024).default([]).describe("Bridges present."),
    shared_paths: z.array(SimPath).max(256).default(["/var/lib/libvirt/shared"]).describe("Shared storage: a disk under one of these is shared."),
    libvirt_version: z
      .string()
      .regex(/^\d{1,6}(\.\d{1,6}){0,3}$/)
      .default("9.0.0")
      .describe("libvirt version reported."),
    qemu_version: z
      .string()
      .regex(/^\d{1,6}(\.\d{1,6}){0,3}$/)
      .default("7.2.0")
      .describe("QEMU version reported."),
  })
  .strict()
  .describe("The simulated host's facts; absent: every simulated host is alike.");
export type SimHostFacts = z.infer<typeof SimHostFacts>;

export const SimVm = z
  .object({
    name: VmName.describe("The VM's name (a libvirt domain name), unique on the host."),
    vcpus: z.number().int().min(1).max(4096).default(1).describe("Virtual CPUs."),
    mem_mib: z
      .number()
      .positive()
      .max(16 * 1024 * 1024)
      .default(1024)
      .meta({ unit: "MiB", description: "The VM's memory." }),
    cpu: SimCpu.default(0).meta({
      unit: "% of one core",
      description: "CPU use: a constant in percent of ONE core (200 = two busy cores), a square wave or a trace.",
    }),
    dirty_rate_mibs: z
      .number()
      .min(0)
      .default(0)
      .meta({ unit: "MiB/s", description: "Memory the guest dirties while migrating; slows convergence like a busy guest." }),
    state: VmState.default("running").describe("The domain state. A VM that is not running cannot be migrated (VM_NOT_RUNNING)."),
    autostart: z.boolean().default(false).describe("libvirt's autostart flag of the domain (the agent turns it off unless `autostart: keep`)."),
    facts: SimVmFacts.optional(),
  })
  .strict()
  .describe("A simulated VM.");
export type SimVm = z.infer<typeof SimVm>;
export type SimVmInput = z.input<typeof SimVm>;

export const SimConfig = z
  .object({
    cpus: z.number().int().min(1).max(4096).default(8).describe("CPUs of the simulated host."),
    mem_mib: z
      .number()
      .positive()
      .max(64 * 1024 * 1024)
      .default(32_768)
      .meta({ unit: "MiB", description: "Memory of the simulated host." }),
    reserve_mib: z.number().min(0).default(1024).meta({ unit: "MiB", description: "Memory the simulated host keeps for itself (not available to VMs)." }),
    vms: z.array(SimVm).default([]).describe("The VMs the host starts with. Names must be unique."),
    migration_mibs: z
      .number()
      .positive()
      .max(1_000_000)
      .default(100)
      .meta({ unit: "MiB/s", description: "Copy speed of a migration: 100 moves a 1 GiB VM in about 10 s." }),
    migration_fail_rate: z.number().min(0).max(1).default(0).describe("Probability (0 to 1) that a migration fails halfway, to exercise failure handling."),
    start_delay_s: z
      .number()
      .min(0)
      .max(3600)
      .default(0.5)
      .meta({ unit: "s", description: "Set-up time before copying starts (connection, destination QEMU start)." }),
    seed: z.number().int().default(1).describe("Seed of the pseudo-random generator behind `migration_fail_rate`, so runs are reproducible."),
    addresses: z.array(z.string().min(1).max(253)).default([]).describe("Extra migration addresses that reach this simulated host (its host id always does)."),
    facts: SimHostFacts.optional(),
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
  message: `not an allowed virsh migrate option; allowed: ${[...MIGRATE_FLAGS].join(" ")} ${Object.keys(MIGRATE_VALUE_OPTIONS)
    .map((k) => `${k}=N`)
    .join(" ")}`,
});

// --- The agent -------------------------------------------------------------------------------

export const VirshSettings = z
  .object({
    binary: z.string().min(1).default("virsh").describe("The virsh executable: a path, or a name looked up in PATH."),
    uri: z.string().min(1).default("qemu:///system").describe("Connection URI of the local libvirtd, passed as `-c` to every call."),
    timeout: z.number().min(0.1).max(3600).default(30).meta({
      unit: "s",
      description: "How long any virsh call except migrate may take; then it is killed with SIGKILL (virsh can ignore SIGTERM).",
    }),
  })
  .strict()
  .describe("How the agent runs virsh (driver `virsh`).");
export type VirshSettings = z.infer<typeof VirshSettings>;

export const MigrationSettings = z
  .object({
    uri_scheme: z
      .enum(["qemu+tcp", "qemu+tls", "qemu+ssh", "qemu"])
      .default("qemu+tcp")
      .describe("Scheme of the destination libvirtd URI, `<uri_scheme>://<address from host_mapping><uri_path>`."),
    uri_path: z
      .string()
      .regex(/^\/[A-Za-z0-9_/.-]*(\?[A-Za-z0-9_=&/.%-]*)?$/, "uri_path must start with / and hold no spaces")
      .default("/system")
      .describe("Path of the destination libvirtd URI (it starts with `/`; a `?query` may follow)."),
    use_migrateuri: z
      .boolean()
      .default(true)
      .describe("Add `--migrateuri tcp://ADDR`, so the memory stream goes over the migration network to the destination's address."),
    timeout: z.number().int().min(1).max(86_400).default(120).meta({
      unit: "s",
      description:
        "The fixed part of a migration's time limit. The limit is `timeout` + `timeout_factor` × (the VM's memory + the local disk bytes it copies) / `bandwidth_mibs`; when it is exceeded, `on_timeout` says what happens. A request's `timeoutS` replaces the whole limit.",
    }),
    bandwidth_mibs: z.number().min(1).max(1_000_000).default(100).meta({
      unit: "MiB/s",
      description: "The bandwidth a migration can count on over the migration network (100 MiB/s: most of 1 GbE); it scales the time limit.",
    }),
    timeout_factor: z
      .number()
      .min(1)
      .max(100)
      .default(4)
      .describe("How many times the ideal copy time (bytes / `bandwidth_mibs`) a migration may take beyond `timeout`: pre-copy sends busy memory again."),
    on_timeout: z
      .enum(["abort", "postcopy"])
      .default("abort")
      .describe(
        "`abort`: a migration past its limit is aborted (`virsh domjobabort`) and the VM keeps running on the source. `postcopy`: migrations of VMs without disks to copy start with `--postcopy` and switch to post-copy (`virsh migrate-postcopy`) at the limit, so they finish; a VM then depends on both hosts until the copy ends (a network cut in that phase loses the guest, which is why it is not the default).",
      ),
    max_concurrent: z.number().int().min(1).max(64).default(2).describe("Outgoing migrations running at once; more are refused with `BUSY`."),
    extra_args: z
      .array(MigrateExtraArg)
      .default([])
      .describe(
        `More \`virsh migrate\` options, each from an allowlist: ${[...MIGRATE_FLAGS].map((f) => `\`${f}\``).join(", ")}, and ${Object.keys(
          MIGRATE_VALUE_OPTIONS,
        )
          .map((k) => `\`${k}=${k === "--comp-methods" ? "LIST" : "N"}\``)
          .join(", ")} (LIST: xbzrle, mt, zlib, zstd, comma-separated). Options that take a value use the \`--name=value\` form.`,
      ),
  })
  .strict()
  .describe("How the agent runs `virsh migrate` on this (the source) host.");
export type MigrationSettings = z.infer<typeof MigrationSettings>;

export const FactsSettings = z
  .object({
    shared_paths: z
      .array(z.string().regex(/^\/\P{Cc}*$/u, "an absolute path"))
      .max(256)
      .default([])
      .describe(
        "Directories (or shared block devices under /dev) whose contents every host that lists them sees alike, besides the mounts detected as shared (NFS, CephFS, GlusterFS, OCFS2, GFS2, Lustre, BeeGFS, GPFS). A disk under one of them is shared; any other disk is local.",
      ),
    detect_mounts: z.boolean().default(true).describe("Read the host's mount table (/proc/mounts) for shared file systems."),
    interval: z.number().min(1).max(86_400).default(60).meta({
      unit: "s",
      description:
        "How often the agent re-reads its host's facts (CPU, versions, networks, storage, huge pages); its VMs' facts are read whenever its VM list changes.",
    }),
  })
  .strict()
  .describe("The migratability facts the agent publishes on `ballast.agent.<host>.facts`.");
export type FactsSettings = z.infer<typeof FactsSettings>;

/** The agent's HTTP server: only GET /metrics (Prometheus). */
export const AgentHttp = z
  .object({
    listen: HttpListen.nullable()
      .default(null)
      .describe("Where to listen, `host:port` (`[::1]:9471` for IPv6; port 0 picks a free port). null serves no HTTP. Suggested: `127.0.0.1:9471`."),
  })
  .strict()
  .describe("The agent's HTTP server: Prometheus `GET /metrics` only.");
export type AgentHttp = z.infer<typeof AgentHttp>;

export const AgentConfig = z
  .object({
    host: HostId.default(() => defaultHostId()).meta({
      defaultText: "the short host name",
      description:
        "This hypervisor's id in Ballast: 1-63 characters of `A-Z a-z 0-9 _ -`, no dots (it is a NATS subject token). It must match the agent's `agent-<host>.nk` identity and its line in host_mapping. Default: the host name up to its first dot, other characters replaced by `-`.",
    }),
    nats: NatsConfig.default(() => NatsConfig.parse({})).describe("How the agent reaches NATS."),
    interval: z.number().min(0.1).max(3600).default(10).meta({
      unit: "s",
      description: "Seconds between metric collections, published on `ballast.agent.<host>.metrics`. Match the orchestrator's `policy.interval`.",
    }),
    heartbeat_interval: z.number().min(0.1).max(3600).default(5).meta({
      unit: "s",
      description:
        "Seconds between heartbeats on `ballast.agent.<host>.heartbeat`, sent also when collection fails, so a silent host is told from an idle one.",
    }),
    driver: z.enum(["virsh", "sim"]).default("virsh").describe("`virsh`: real libvirt through virsh. `sim`: the built-in simulated hypervisor (see `sim`)."),
    load_source: LoadSource.default("host").describe(
      "The CPU figure the orchestrator decides on: `host` (the whole host's load, from systeminformation) or `domains` (the sum of the domains' CPU from `cpu.time` deltas, divided by the host's cores). Use `domains` where several hypervisors share one kernel (the lab), or to ignore load that is not from VMs.",
    ),
    virsh: VirshSettings.default(() => VirshSettings.parse({})),
    migration: MigrationSettings.default(() => MigrationSettings.parse({})),
    facts: FactsSettings.default(() => FactsSettings.parse({})),
    sim: SimConfig.optional().describe("The simulated host, for `driver: sim`. Absent: 8 CPUs, 32 GiB, no VMs."),
    cpus_override: z.number().int().min(1).max(4096).optional().describe("Report this many CPUs instead of the detected count (labs, simulations)."),
    mem_override_mib: z
      .number()
      .positive()
      .optional()
      .meta({ unit: "MiB", description: "Report this much memory instead of the detected total (labs, simulations)." }),
    autostart: z
      .enum(["disable", "keep"])
      .default("disable")
      .describe(
        "`disable`: the agent turns libvirt's autostart flag off for every domain on its host, at start and whenever it finds one on (libvirtd would start them at boot, before any agent runs, so a returning fenced host would start its old copies unguarded); a domain that had it on at the agent's start is started only when the orchestrator's vm-claim says so. `keep`: the agent leaves the flag alone and starts nothing.",
      ),
    log_level: LogLevel.default("info").describe("Least severe log level written (JSON lines on stderr; under systemd, the journal)."),
    http: AgentHttp.default(() => AgentHttp.parse({})),
    state_dir: z
      .string()
      .min(1)
      .refine((p) => p.startsWith("/"), "state_dir must be an absolute path")
      .nullable()
      .optional()
      .meta({
        defaultText: "$STATE_DIRECTORY (systemd's StateDirectory=: /var/lib/ballast under the shipped unit), else none",
        description:
          "Directory where the agent keeps its migration journal (`agent-<host>-migrations.json`): the migrations running when it stops, so the next start reports their outcome. null: keep none (the orchestrator then settles such migrations from the hosts' inventories).",
      }),
  })
  .strict()
  .describe("Configuration of one agent (one per hypervisor).");
export type AgentConfig = z.infer<typeof AgentConfig>;
export type AgentConfigInput = z.input<typeof AgentConfig>;
