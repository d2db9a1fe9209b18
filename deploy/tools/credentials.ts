import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import {
  agentSubjects,
  allAgents,
  ORCH_HA_PREFIX,
  ORCH_INSTANCE_PREFIX,
  orchestratorInstanceSubject,
  orchestratorSubjects,
  SUBJECT_PREFIX,
  type OrchestratorEndpoint,
} from "../../shared/subjects.js";
import { HostId } from "../../shared/schemas/ids.js";
import { ORCHESTRATOR_ENDPOINTS, READ_ONLY_ENDPOINTS } from "../../shared/schemas/orchestrator-api.js";
import { ConfigError } from "../../shared/errors.js";

// NATS authorization for a Ballast cluster: one nkey user per daemon and per person, each with
// the narrowest publish/subscribe allow lists that let it do its job.
//
// - Pure part: `identitySpecs` (validates names), `permissionsFor` (role -> allow lists) and
//   `renderAuthorization` (identities -> nats-server `authorization { users = [...] }` text).
// - I/O part: `generateCredentials` creates or reuses seed files (mode 0600) in `outDir` and
//   writes the authorization fragment that deploy/nats/nats-server.conf includes.
//
// Nobody may publish to `_INBOX.>`: replies go out through `allow_responses`, which lets a
// client answer only requests it actually received, once. So an identity can neither spoof
// replies to someone else's request nor answer a request sent to a subject it may not serve.
// Each identity receives its answers below its own inbox prefix (`inboxPrefixFor`), so it cannot
// read anyone else's answers either (a migrate reply, a snapshot of the cluster).

export type Role = "agent" | "orchestrator" | "operator" | "readonly";

export interface Permissions {
  publish: string[];
  subscribe: string[];
  /** Rendered as `allow_responses: true` (one reply per received request). */
  allowResponses: boolean;
}

export interface IdentitySpec {
  role: Role;
  /** Agent: its host id. Others: a label (person, orchestrator instance). One subject token. */
  name: string;
}

export interface Identity extends IdentitySpec {
  /** The user's public nkey (`U...`); the seed never leaves the seed file. */
  publicKey: string;
  /** File name of the seed inside the credentials directory, e.g. `agent-hv-a.nk`. */
  seedFile: string;
  /** Its reply-inbox prefix: set as `nats.inbox_prefix` in its config (or `nats --inbox-prefix`). */
  inboxPrefix: string;
  permissions: Permissions;
}

export interface CredentialsSpec {
  /** Host ids of the agents (one identity each, bound to its own subjects). */
  agents: readonly string[];
  /** Operators with full control (every `ballast.orch.*` request). */
  operators: readonly string[];
  /** Operators that may only look (status, plan, history, ...). */
  readonly: readonly string[];
  /** Orchestrator instances. Default: one, named `main`. */
  orchestrators?: readonly string[];
}

export interface GenerateCredentialsOptions extends CredentialsSpec {
  /** Directory of the seed files (created 0700 when missing), e.g. /etc/ballast/creds. */
  outDir: string;
  /** Where the authorization fragment goes. Default: `<outDir>/authorization.conf`. */
  authorizationFile?: string;
  /** New seeds for every listed identity, even those that have a seed file already. */
  rotate?: boolean;
}

export interface GeneratedCredentials {
  identities: Identity[];
  /** Absolute or given path of the written authorization fragment. */
  authorizationFile: string;
  /** Seed files written now (new identities, or all of them with `rotate`). */
  created: string[];
  /** Seed files that existed and were kept. */
  reused: string[];
  /** `*.nk` files in outDir that belong to no listed identity: revoked, delete them. */
  stale: string[];
}

/** Operator API endpoints a read-only account may call: those the API map marks as changing nothing. */
export const READONLY_ENDPOINTS: readonly OrchestratorEndpoint[] = READ_ONLY_ENDPOINTS;

const ALL_ENDPOINTS = ORCHESTRATOR_ENDPOINTS;
/**
 * What the orchestrator asks of agents: each agent serves only its own, and no operator identity
 * may send any of them (remove-disks deletes files: only the orchestrator asks, after a verified move).
 */
const AGENT_REQUESTS = [
  "status",
  "ping",
  "migrate",
  "abort",
  "getFacts",
  "checkIncoming",
  "cpuBaseline",
  "removeDisks",
  "vmDefinition",
  "probeHost",
  "startRecordedVm",
  "pauseVm",
  "guestState",
] as const;
const AGENT_PUBLISHES = ["metrics", "heartbeat", "events", "facts"] as const;

/** Service discovery (`$SRV.PING|INFO|STATS[.name[.id]]`, ADR-32): asking, and serving as any service. */
const SRV = "$SRV.>";
/**
 * What an agent may serve of discovery: the generic verbs (every service answers `$SRV.PING`, so
 * `nats micro ls` lists the agents) and its own service's name, never another's. So no agent can
 * answer `$SRV.PING|INFO|STATS.ballast-orchestrator` in an orchestrator's place. A generic ping is
 * answered by whatever listens, with a name each responder states itself: ask by name to know who
 * is who (docs/operations.md, "Service discovery").
 */
const AGENT_SRV = ["$SRV.PING", "$SRV.INFO", "$SRV.STATS", "$SRV.*.ballast-agent", "$SRV.*.ballast-agent.>"];
/**
 * The reply-inbox prefix of one identity. One subject token (names have no dots), so no
 * identity's `<prefix>.>` covers another's.
 */
export function inboxPrefixFor(role: Role, name: string): string {
  return `_INBOX_${role}-${name}`;
}
/**
 * The subjects of these endpoints that a person may send requests to: the shared one and every
 * instance's own (`*`: instance names are one token), so one can address a given orchestrator.
 */
const requestSubjects = (endpoints: readonly OrchestratorEndpoint[]): string[] => [
  ...endpoints.map((k) => orchestratorSubjects[k]),
  ...endpoints.map((k) => orchestratorInstanceSubject("*", k)),
];
/** What an operator or auditor may watch: telemetry and the orchestrator's events. */
const TELEMETRY = [allAgents.metrics, allAgents.heartbeat, allAgents.events, allAgents.facts, orchestratorSubjects.events];

/** The allow lists of one identity. Everything not listed is denied by nats-server. */
export function permissionsFor(role: Role, name: string): Permissions {
  // Answers to this identity's own requests (and JetStream deliveries to its consumers).
  const INBOX = `${inboxPrefixFor(role, name)}.>`;
  switch (role) {
    case "agent": {
      const own = agentSubjects(name);
      return {
        // vm-claim: a booting agent asks before it starts a domain it found defined (the
        // orchestrator answers only for the asking agent's own host, known by its reply inbox).
        publish: [...AGENT_PUBLISHES.map((k) => own[k]), orchestratorSubjects.vmClaim],
        // Its own request subjects only, so no agent can serve (impersonate) another host.
        subscribe: [...AGENT_REQUESTS.map((k) => own[k]), ...AGENT_SRV, INBOX],
        allowResponses: true,
      };
    }
    case "orchestrator":
      return {
        publish: [
          // agentSubjects("*"): the subjects' own tokens (get-facts, check-incoming, ...), any host.
          ...AGENT_REQUESTS.map((k) => agentSubjects("*")[k]),
          orchestratorSubjects.events,
          // A standby forwards operator requests to the leader's own subjects.
          `${ORCH_INSTANCE_PREFIX}.>`,
          // The replicated decision log (a JetStream stream of the HA instances).
          `${ORCH_HA_PREFIX}.>`,
          SRV,
          // JetStream / KV (HA lease): API calls, KV puts, acks and flow-control answers.
          "$JS.API.>",
          "$JS.ACK.>",
          "$JS.FC.>",
          "$KV.>",
        ],
        subscribe: [allAgents.metrics, allAgents.heartbeat, allAgents.events, allAgents.facts, `${SUBJECT_PREFIX}.orch.>`, SRV, INBOX],
        allowResponses: true,
      };
    case "operator":
      return {
        publish: [...requestSubjects(ALL_ENDPOINTS), SRV],
        subscribe: [...TELEMETRY, INBOX],
        allowResponses: false,
      };
    case "readonly":
      return {
        publish: [...requestSubjects(READONLY_ENDPOINTS), SRV],
        subscribe: [...TELEMETRY, INBOX],
        allowResponses: false,
      };
  }
}

/** `agent-hv-a.nk`, `orchestrator-main.nk`, `operator-alice.nk`, `readonly-audit.nk`. */
export function seedFileName(role: Role, name: string): string {
  return `${role}-${name}.nk`;
}

/** Pure: checks names (one subject token each, no duplicates) and lists identities in a stable order. */
export function identitySpecs(spec: CredentialsSpec): IdentitySpec[] {
  const out: IdentitySpec[] = [];
  const add = (role: Role, names: readonly string[]) => {
    const seen = new Set<string>();
    for (const name of names) {
      const r = HostId.safeParse(name);
      if (!r.success) throw new ConfigError(`${role} name ${JSON.stringify(name)}: ${r.error.issues[0]?.message ?? "invalid"}`, role);
      if (seen.has(name)) throw new ConfigError(`${role} ${name} is listed twice`, role);
      seen.add(name);
      out.push({ role, name });
    }
  };
  add("agent", spec.agents);
  add("orchestrator", spec.orchestrators ?? ["main"]);
  add("operator", spec.operators);
  add("readonly", spec.readonly);
  const full = new Set(spec.operators);
  const both = spec.readonly.filter((n) => full.has(n));
  if (both.length > 0) throw new ConfigError(`listed both as operator and as readonly: ${both.join(", ")}`, "readonly");
  if (out.filter((i) => i.role === "orchestrator").length === 0) throw new ConfigError("at least one orchestrator identity is needed", "orchestrators");
  return out;
}

/** Pure: the identity with its permissions, for a known public key. */
export function makeIdentity(spec: IdentitySpec, publicKey: string): Identity {
  return {
    ...spec,
    publicKey,
    seedFile: seedFileName(spec.role, spec.name),
    inboxPrefix: inboxPrefixFor(spec.role, spec.name),
    permissions: permissionsFor(spec.role, spec.name),
  };
}

const q = (s: string): string => JSON.stringify(s); // nats-server conf accepts JSON strings; `$` stays literal inside quotes

function renderList(key: string, subjects: readonly string[], indent: string): string {
  if (subjects.length === 0) return `${indent}${key}: { deny: [">"] }`;
  return `${indent}${key}: {\n${indent}  allow: [\n${subjects.map((s) => `${indent}    ${q(s)}`).join(",\n")}\n${indent}  ]\n${indent}}`;
}

/** Pure: the nats-server `authorization { users = [...] }` block for these identities. */
export function renderAuthorization(identities: readonly Identity[]): string {
  if (identities.length === 0) throw new ConfigError("no identities: the server would refuse everyone");
  const users = identities.map((id) => {
    const p = id.permissions;
    const lines = [
      `    # ${id.role} ${id.name} (seed: ${id.seedFile}, inbox prefix: ${id.inboxPrefix})`,
      "    {",
      `      nkey: ${q(id.publicKey)}`,
      "      permissions: {",
      renderList("publish", p.publish, "        "),
      renderList("subscribe", p.subscribe, "        "),
      ...(p.allowResponses ? ["        allow_responses: true"] : []),
      "      }",
      "    }",
    ];
    return lines.join("\n");
  });
  return [
    "# Generated by `ballast credentials` (deploy/tools/credentials.ts). Do not edit by hand:",
    "# change the lists of agents/operators and generate again (existing seeds are kept).",
    "# Only public keys are here; every seed stays in its own 0600 file.",
    "authorization {",
    "  users = [",
    users.join(",\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}

function readSeed(path: string): { seed: string; publicKey: string } {
  const seed = readFileSync(path, "utf8").trim();
  let publicKey: string;
  try {
    publicKey = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
  } catch (e) {
    throw new ConfigError(`${path} does not hold a valid nkey seed (${(e as Error).message}); remove it or generate with rotate`, undefined, { cause: e });
  }
  if (!publicKey.startsWith("U"))
    throw new ConfigError(`${path} holds a non-user nkey seed (public key ${publicKey.slice(0, 1)}...); remove it or generate with rotate`);
  return { seed, publicKey };
}

/** Writes via a temporary file and rename, so a reader never sees half a file. */
function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true }); // a leftover from a crash could carry a wider mode
  writeFileSync(tmp, text, { mode, flag: "wx" });
  chmodSync(tmp, mode); // the umask may have narrowed it
  renameSync(tmp, path);
}

/**
 * Creates (or keeps) one user nkey per identity in `outDir` and writes the authorization
 * fragment. Re-running with a longer list adds identities without touching existing seeds;
 * an identity left out loses access once nats-server reloads (`systemctl reload nats-server`).
 */
export function generateCredentials(opts: GenerateCredentialsOptions): GeneratedCredentials {
  const specs = identitySpecs(opts);
  if (!existsSync(opts.outDir)) mkdirSync(opts.outDir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const reused: string[] = [];
  const identities = specs.map((spec) => {
    const file = join(opts.outDir, seedFileName(spec.role, spec.name));
    if (!opts.rotate && existsSync(file)) {
      const { publicKey } = readSeed(file);
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      reused.push(file);
      return makeIdentity(spec, publicKey);
    }
    const kp = createUser();
    writeAtomic(file, `${new TextDecoder().decode(kp.getSeed())}\n`, 0o600);
    created.push(file);
    return makeIdentity(spec, kp.getPublicKey());
  });
  const authorizationFile = opts.authorizationFile ?? join(opts.outDir, "authorization.conf");
  writeAtomic(authorizationFile, renderAuthorization(identities), 0o644);
  const wanted = new Set(identities.map((i) => i.seedFile));
  const stale = readdirSync(opts.outDir)
    .filter((f) => f.endsWith(".nk") && !wanted.has(f))
    .map((f) => join(opts.outDir, f));
  return { identities, authorizationFile, created, reused, stale };
}
