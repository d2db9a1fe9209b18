import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { stringify as toYaml } from "yaml";
import { z } from "zod";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { deepMerge, readConfigFile } from "../../shared/config/load-config.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { ConfigError } from "../../shared/errors.js";
import { HostId } from "../../shared/schemas/ids.js";
import { seedFileName } from "../tools/credentials.js";

// The inventory of `ballast deploy`: defaults for every host, then the hosts. Everything that
// reaches a remote shell (addresses, users, paths, commands, the unit name, the group) is held to
// a narrow character set here, and quoted again when the command is built (shell-quote.ts).
// Agent settings only ever reach the YAML file, and are validated with the agent's own schema.

/** An absolute remote path without "." / ".." segments or shell-special characters. */
export const RemotePath = z
  .string()
  .regex(/^(?:\/[A-Za-z0-9_+@-][A-Za-z0-9._+@-]*)+\/?$/, "must be an absolute path of A-Z a-z 0-9 . _ + @ - segments (no spaces, quotes or shell characters)")
  .refine((p) => !p.split("/").some((s) => s === "." || s === ".."), "must not contain . or .. segments")
  .transform((p) => (p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p));

/** A command: a bare name looked up in PATH, or an absolute path. */
export const RemoteCommand = z.union([z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._+-]*$/, "must be a command name or an absolute path"), RemotePath]);

/** Where to reach a host over SSH: an IPv4/IPv6 address or a DNS name. */
export const SshAddress = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/,
    "must be an IPv4/IPv6 address or a DNS name (no user@, port or spaces)",
  );

export const UnixName = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, "must be a Unix user/group name (a-z 0-9 _ . -, at most 32)");

export const SshSettings = z
  .object({
    user: UnixName.default("root"),
    port: z.number().int().min(1).max(65535).default(22),
    /** Local private key file (OpenSSH or PEM, unencrypted). Without it, the ssh-agent at SSH_AUTH_SOCK. */
    private_key: z.string().min(1).optional(),
    /** Local known_hosts file; host keys are checked strictly against it. */
    known_hosts: z.string().min(1).default("~/.ssh/known_hosts"),
    /** Accept and record the key of a host not yet in known_hosts (like StrictHostKeyChecking=accept-new). */
    insecure_accept_new: z.boolean().default(false),
    /** Seconds to wait for the TCP connection and the SSH handshake. */
    connect_timeout: z.number().min(1).max(300).default(15),
  })
  .strict();
export type SshSettings = z.infer<typeof SshSettings>;

export const InstallPaths = z
  .object({
    /** Releases live in <prefix>/releases/<sha256>, the running one is <prefix>/current. */
    prefix: RemotePath.default("/opt/ballast"),
    /** agent.yaml goes here (root:<service_group> 0640). */
    config_dir: RemotePath.default("/etc/ballast"),
    /** The systemd unit goes here. */
    unit_dir: RemotePath.default("/etc/systemd/system"),
    /** The sysusers.d file that creates the service user and group goes here. */
    sysusers_dir: RemotePath.default("/usr/lib/sysusers.d"),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.prefix === "/") ctx.addIssue({ code: "custom", path: ["prefix"], message: "prefix must not be /" });
  });
export type InstallPaths = z.infer<typeof InstallPaths>;

export const UnitName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.@-]*\.service$/, "must be a unit name ending in .service");

export const ServiceManager = z
  .object({
    type: z.literal("systemd").default("systemd"),
    /** systemctl command (a test can point this at a stand-in). */
    systemctl: RemoteCommand.default("systemctl"),
    unit_name: UnitName.default("ballast-agent.service"),
    /** systemd-sysusers command, run when the service user or group is missing. */
    sysusers: RemoteCommand.default("systemd-sysusers"),
  })
  .strict();
export type ServiceManager = z.infer<typeof ServiceManager>;

const AgentOverrides = z.record(z.string(), z.unknown());

/**
 * defaults.nats may name the host as "{host}" (e.g. `inbox_prefix: _INBOX_agent-{host}`), which
 * agentSettings replaces per host. It is validated as it will be for a host, and kept as written.
 */
const NatsTemplate = z.unknown().transform((v, ctx): NatsConfig => {
  const r = NatsConfig.safeParse(substituteHost(v, "host"));
  if (!r.success) {
    for (const i of r.error.issues) ctx.addIssue({ code: "custom", path: i.path as (string | number)[], message: i.message });
    return z.NEVER;
  }
  return { ...r.data, ...(v as object) } as NatsConfig;
});

export const Defaults = z
  .object({
    ssh: SshSettings.default(() => SshSettings.parse({})),
    /** How to become root: `auto` = sudo -n when the SSH user is not root. */
    become: z.enum(["auto", "none", "sudo"]).default("auto"),
    paths: InstallPaths.default(() => InstallPaths.parse({})),
    service_manager: ServiceManager.default(() => ServiceManager.parse({})),
    /** Group that may read agent.yaml; created by systemd-sysusers when the host lacks it. */
    service_group: UnixName.default("ballast"),
    /**
     * The host's own Node executable. Only a release without a runtime of its own runs on it;
     * releases built by `ballast deploy` carry runtime/bin/node, and the host needs no Node.
     */
    node: RemoteCommand.default("node"),
    /** NATS settings written into every agent.yaml (paths are paths on the hypervisor). */
    nats: NatsTemplate.optional(),
    /** Agent settings for every host, merged into agent.yaml (hosts[].agent wins). */
    agent: AgentOverrides.default({}),
    /**
     * Local directory holding the seeds `ballast credentials` generated: each host's
     * agent-<host>.nk is installed at its agent.yaml nats.nkey_seed_file (ballast:<group> 0600).
     */
    credentials_dir: z.string().min(1).optional(),
    /** Releases kept in <prefix>/releases besides the current one (older ones are removed). */
    keep_releases: z.number().int().min(1).max(100).default(3),
  })
  .strict();
export type Defaults = z.infer<typeof Defaults>;

export const VerifySettings = z
  .object({
    enabled: z.boolean().default(true),
    /** Seconds to wait for ballast.agent.<host>.ping to answer {ok:true} after a (re)start. */
    timeout: z.number().min(1).max(600).default(60),
    /** How the operator's machine reaches NATS (local paths). Default: defaults.nats. */
    nats: NatsConfig.optional(),
  })
  .strict();
export type VerifySettings = z.infer<typeof VerifySettings>;

export const InventoryHost = z
  .object({
    host: HostId,
    ssh: SshAddress,
    port: z.number().int().min(1).max(65535).optional(),
    user: UnixName.optional(),
    private_key: z.string().min(1).optional(),
    become: z.enum(["auto", "none", "sudo"]).optional(),
    /** Per-host install locations (each key falls back to defaults.paths). */
    paths: z
      .object({ prefix: RemotePath.optional(), config_dir: RemotePath.optional(), unit_dir: RemotePath.optional(), sysusers_dir: RemotePath.optional() })
      .strict()
      .optional(),
    /** Per-host service manager settings (each key falls back to defaults.service_manager). */
    service_manager: z.object({ systemctl: RemoteCommand.optional(), unit_name: UnitName.optional(), sysusers: RemoteCommand.optional() }).strict().optional(),
    agent: AgentOverrides.optional(),
  })
  .strict();
export type InventoryHost = z.infer<typeof InventoryHost>;

export const Inventory = z
  .object({
    defaults: Defaults.default(() => Defaults.parse({})),
    verify: VerifySettings.default(() => VerifySettings.parse({})),
    /** Hosts installed at once. */
    parallel: z.number().int().min(1).max(64).default(4),
    hosts: z.array(InventoryHost).min(1, "list at least one host"),
  })
  .strict()
  .superRefine((inv, ctx) => {
    const seen = new Map<string, number>();
    inv.hosts.forEach((h, i) => {
      const prev = seen.get(h.host);
      if (prev !== undefined) ctx.addIssue({ code: "custom", path: ["hosts", i, "host"], message: `duplicate host id '${h.host}' (also hosts[${prev}])` });
      seen.set(h.host, i);
    });
    if (inv.verify.enabled && !inv.verify.nats && !inv.defaults.nats)
      ctx.addIssue({
        code: "custom",
        path: ["verify", "nats"],
        message: "verification needs NATS settings: set defaults.nats (or verify.nats), or verify.enabled: false",
      });
  });
export type Inventory = z.infer<typeof Inventory>;
export type InventoryInput = z.input<typeof Inventory>;

/** Everything the installer needs about one host, resolved and validated. */
export interface HostTarget {
  id: string;
  address: string;
  port: number;
  user: string;
  /** Absolute local path, or undefined to use the ssh-agent. */
  privateKey: string | undefined;
  knownHosts: string;
  acceptNew: boolean;
  connectTimeoutMs: number;
  become: "none" | "sudo";
  paths: InstallPaths;
  systemctl: string;
  unitName: string;
  sysusers: string;
  serviceGroup: string;
  node: string;
  keepReleases: number;
  driver: "virsh" | "sim";
  virshBinary: string;
  /** The agent.yaml to write, exactly. */
  agentYaml: string;
  /** The host's NATS seed to install, when the inventory names a credentials_dir. */
  seed: { path: string; content: string } | undefined;
}

function issueText(prefix: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${[prefix, ...i.path.map(String)].filter((s) => s.length > 0).join(".")}: ${i.message}`).join("; ");
}

/** Validates a parsed inventory document; errors name the key and, for hosts, the host. */
export function parseInventory(raw: unknown, origin = "inventory"): Inventory {
  const r = Inventory.safeParse(raw);
  if (r.success) return r.data;
  const hosts = (raw as { hosts?: unknown } | null)?.hosts;
  const text = r.error.issues.map((i) => {
    const key = i.path.length > 0 ? i.path.map(String).join(".") : "(top level)";
    let who = "";
    if (i.path[0] === "hosts" && typeof i.path[1] === "number" && Array.isArray(hosts)) {
      const h = hosts[i.path[1]] as { host?: unknown } | undefined;
      if (h && typeof h.host === "string") who = ` (host ${JSON.stringify(h.host)})`;
    }
    return `${key}${who}: ${i.message}`;
  });
  const first = r.error.issues[0];
  throw new ConfigError(`invalid inventory (${origin}): ${text.join("; ")}`, first ? first.path.map(String).join(".") : undefined);
}

export function loadInventory(file: string): { inventory: Inventory; baseDir: string } {
  const inventory = parseInventory(readConfigFile(file), file);
  return { inventory, baseDir: dirname(resolve(file)) };
}

/** A local path from the inventory: ~ is the home directory, relative paths are relative to the inventory. */
export function localPath(p: string, baseDir: string): string {
  if (p === "~") return homedir();
  if (p.startsWith("~/")) return join(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

export const AGENT_YAML_HEADER = "# Written by `ballast deploy` from the inventory; local edits are replaced on the next deploy.\n";

/** The agent.yaml object of one host: defaults.nats < defaults.agent < hosts[].agent, host id forced. */
export function agentSettings(inv: Inventory, h: InventoryHost): Record<string, unknown> {
  const base: Record<string, unknown> = inv.defaults.nats ? { nats: stripDefaults(inv.defaults.nats) } : {};
  const merged = deepMerge(deepMerge(base, inv.defaults.agent), h.agent ?? {});
  if (merged.host !== undefined && merged.host !== h.host)
    throw new ConfigError(
      `invalid inventory: hosts (host "${h.host}"): agent.host is ${JSON.stringify(merged.host)}; it must be the host id or be left out`,
      "agent.host",
    );
  const { host: _ignored, ...rest } = merged;
  return substituteHost({ host: h.host, ...rest }, h.host) as Record<string, unknown>;
}

/** "{host}" in any string value becomes the host id (e.g. nkey_seed_file: /etc/ballast/creds/agent-{host}.nk). */
function substituteHost(v: unknown, host: string): unknown {
  if (typeof v === "string") return v.split("{host}").join(host);
  if (Array.isArray(v)) return v.map((x) => substituteHost(x, host));
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substituteHost(x, host)]));
  return v;
}

// NatsConfig.parse filled in defaults (request_timeout); keep the operator's file short.
function stripDefaults(n: NatsConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...n };
  if (n.request_timeout === 5) delete out.request_timeout;
  return out;
}

export function renderAgentYaml(settings: Record<string, unknown>): string {
  return AGENT_YAML_HEADER + toYaml(settings, { lineWidth: 0 });
}

function mergePaths(d: InstallPaths, h: InventoryHost["paths"], i: number, host: string): InstallPaths {
  const p = {
    prefix: h?.prefix ?? d.prefix,
    config_dir: h?.config_dir ?? d.config_dir,
    unit_dir: h?.unit_dir ?? d.unit_dir,
    sysusers_dir: h?.sysusers_dir ?? d.sysusers_dir,
  };
  if (p.prefix === "/") throw new ConfigError(`invalid inventory: hosts[${i}] (host "${host}"): paths.prefix must not be /`, `hosts.${i}.paths.prefix`);
  return p;
}

/** Resolves every host: local paths made absolute, agent.yaml rendered and validated. */
export function resolveHosts(inv: Inventory, baseDir: string): HostTarget[] {
  const d = inv.defaults;
  return inv.hosts.map((h, i) => {
    const settings = agentSettings(inv, h);
    const parsed = AgentConfig.safeParse(settings);
    if (!parsed.success)
      throw new ConfigError(`invalid inventory: hosts[${i}] (host "${h.host}"): ${issueText("agent", parsed.error.issues)}`, `hosts.${i}.agent`);
    const user = h.user ?? d.ssh.user;
    const becomeSetting = h.become ?? d.become;
    const become = becomeSetting === "auto" ? (user === "root" ? "none" : "sudo") : becomeSetting;
    const key = h.private_key ?? d.ssh.private_key;
    return {
      id: h.host,
      address: h.ssh,
      port: h.port ?? d.ssh.port,
      user,
      privateKey: key === undefined ? undefined : localPath(key, baseDir),
      knownHosts: localPath(d.ssh.known_hosts, baseDir),
      acceptNew: d.ssh.insecure_accept_new,
      connectTimeoutMs: d.ssh.connect_timeout * 1000,
      become,
      paths: mergePaths(d.paths, h.paths, i, h.host),
      systemctl: h.service_manager?.systemctl ?? d.service_manager.systemctl,
      unitName: h.service_manager?.unit_name ?? d.service_manager.unit_name,
      sysusers: h.service_manager?.sysusers ?? d.service_manager.sysusers,
      serviceGroup: d.service_group,
      node: d.node,
      keepReleases: d.keep_releases,
      driver: parsed.data.driver,
      virshBinary: parsed.data.virsh.binary,
      agentYaml: renderAgentYaml(settings),
      seed: d.credentials_dir === undefined ? undefined : hostSeed(localPath(d.credentials_dir, baseDir), h.host, parsed.data.nats?.nkey_seed_file, i),
    };
  });
}

/** The seed file for one host, checked here so a missing one stops the deploy before any host is touched. */
function hostSeed(dir: string, host: string, remote: string | undefined, i: number): { path: string; content: string } {
  const where = `hosts[${i}] (host "${host}")`;
  if (remote === undefined)
    throw new ConfigError(
      `invalid inventory: ${where}: credentials_dir is set but agent nats.nkey_seed_file is not (where should the seed go?)`,
      `hosts.${i}.agent.nats.nkey_seed_file`,
    );
  const path = RemotePath.safeParse(remote);
  if (!path.success)
    throw new ConfigError(
      `invalid inventory: ${where}: nats.nkey_seed_file ${JSON.stringify(remote)} ${path.error.issues[0]?.message ?? "is not a valid path"}`,
      `hosts.${i}.agent.nats.nkey_seed_file`,
    );
  const local = join(dir, seedFileName("agent", host));
  let content: string;
  try {
    content = readFileSync(local, "utf8");
  } catch (e) {
    throw new ConfigError(
      `${where}: cannot read its seed ${local} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); generate it with \`ballast credentials\` listing agent ${host}`,
      "credentials_dir",
      { cause: e },
    );
  }
  if (!/^SU[A-Z2-7]{56}\s*$/.test(content)) throw new ConfigError(`${where}: ${local} does not hold an nkey user seed`, "credentials_dir");
  return { path: path.data, content };
}

/**
 * NATS settings the operator's machine uses to verify agents (local paths resolved): verify.nats,
 * or else only the servers of defaults.nats (its credential paths are paths on the hypervisors).
 */
export function verifyNats(inv: Inventory, baseDir: string): NatsConfig | undefined {
  const n = inv.verify.nats ?? (inv.defaults.nats ? NatsConfig.parse({ servers: inv.defaults.nats.servers }) : undefined);
  if (!n) return undefined;
  const fix = (p: string | undefined) => (p === undefined ? undefined : localPath(p, baseDir));
  return {
    ...n,
    ...(n.creds ? { creds: fix(n.creds) } : {}),
    ...(n.nkey_seed_file ? { nkey_seed_file: fix(n.nkey_seed_file) } : {}),
    ...(n.tls ? { tls: { ca: fix(n.tls.ca), cert: fix(n.tls.cert), key: fix(n.tls.key) } } : {}),
  };
}
