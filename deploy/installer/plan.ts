// What a host needs, from what the probe found and what the inventory and release want. Pure:
// no SSH, no clock. The executor (host-installer.ts) only carries out these actions.

export interface Probe {
  uid: number | undefined;
  /** `node --version` output of the host's own node, "" when node is missing. */
  node: string;
  /** `uname -m`, e.g. "x86_64" (undefined when the probe did not say). */
  arch?: string | undefined;
  /** `getconf GNU_LIBC_VERSION`, e.g. "glibc 2.36" (undefined: not glibc, or not said). */
  libc?: string | undefined;
  /**
   * `--version` of <prefix>/current/runtime/bin/node, the runtime the installed release carries;
   * undefined when that release has none (it runs on the host's node), "broken" when it does not run.
   */
  currentRuntime?: string | undefined;
  /** virsh path, "" when missing, "not-needed" for driver sim. */
  virsh: string;
  missing: string[];
  groupExists: boolean;
  /** The unit's User= exists. */
  userExists: boolean;
  /** The sysusers command is on the host. */
  sysusersAvailable: boolean;
  /** sha256 of the installed sysusers.d file, undefined when absent. */
  sysusersSha: string | undefined;
  /** readlink of <prefix>/current, "" when absent. */
  current: string;
  releasePresent: boolean;
  configSha: string | undefined;
  /** "<octal mode>:<group>" of agent.yaml. */
  configMeta: string | undefined;
  unitSha: string | undefined;
  /** sha256 of the installed NATS seed, undefined when absent or not probed. */
  seedSha: string | undefined;
  /** "<octal mode>:<user>:<group>" of the seed file. */
  seedMeta: string | undefined;
  active: string;
  enabled: string;
}

export function parseProbe(stdout: string): Probe {
  const kv = new Map<string, string>();
  const missing: string[] = [];
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1).trim();
    if (k === "missing") missing.push(v);
    else kv.set(k, v);
  }
  const opt = (k: string) => {
    const v = kv.get(k);
    return v === undefined || v === "" ? undefined : v;
  };
  const uid = opt("uid");
  return {
    uid: uid !== undefined && /^\d+$/.test(uid) ? Number(uid) : undefined,
    node: kv.get("node") ?? "",
    arch: opt("arch"),
    libc: opt("libc"),
    currentRuntime: opt("current_runtime"),
    virsh: kv.get("virsh") ?? "",
    missing,
    groupExists: kv.get("group") === "yes",
    userExists: kv.get("user") === "yes",
    sysusersAvailable: kv.get("sysusers_cmd") === "yes",
    sysusersSha: opt("sysusers"),
    current: kv.get("current") ?? "",
    releasePresent: kv.get("release") === "yes",
    configSha: opt("config"),
    configMeta: opt("config_meta"),
    unitSha: opt("unit"),
    seedSha: opt("seed"),
    seedMeta: opt("seed_meta"),
    active: kv.get("active") ?? "",
    enabled: kv.get("enabled") ?? "",
  };
}

/** Release id a `current` symlink points at (releases/<sha> or <prefix>/releases/<sha>), if it is one. */
export function releaseOf(current: string): string | undefined {
  const m = /(?:^|\/)releases\/([0-9a-f]{64})\/?$/.exec(current);
  return m ? m[1] : undefined;
}

/** "v20.19.2" -> [20, 19, 2]; undefined when it is not a version. */
export function parseNodeVersion(text: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Node's name (`process.arch`) for a `uname -m` machine name; the name itself when it has no other. */
export function nodeArch(machine: string): string {
  const m = machine.trim();
  const names: Record<string, string> = {
    x86_64: "x64",
    amd64: "x64",
    aarch64: "arm64",
    arm64: "arm64",
    armv7l: "arm",
    armv6l: "arm",
    i386: "ia32",
    i686: "ia32",
    ppc64le: "ppc64",
    s390x: "s390x",
    riscv64: "riscv64",
    loongarch64: "loong64",
  };
  return names[m] ?? m;
}

export interface PrerequisiteInput {
  probe: Probe;
  node: string;
  minNode: [number, number];
  /**
   * The Node runtime the release carries (runtime/bin/node). With it the host's own node does not
   * matter, but the host must have its architecture. Undefined: the release runs on the host's node.
   */
  runtime?: { version: string; arch: string } | undefined;
  driver: "virsh" | "sim";
  virshBinary: string;
  serviceGroup: string;
  serviceUser: string;
  sysusers: string;
  become: "none" | "sudo";
}

/** Everything that stops an install on this host, each as a sentence an operator can act on. */
export function prerequisiteProblems(i: PrerequisiteInput): string[] {
  const p = i.probe;
  const out: string[] = [];
  if (p.uid !== 0)
    out.push(
      i.become === "sudo"
        ? "sudo -n did not give root (is passwordless sudo allowed for this user?)"
        : `the SSH user is not root (uid ${p.uid ?? "?"}); set become: sudo`,
    );
  const want = `${i.minNode[0]}.${i.minNode[1]}`;
  if (i.runtime) {
    // The binary is copied as it is: it runs only on the architecture it was built for.
    const machine = p.arch ?? "";
    const arch = nodeArch(machine);
    if (machine === "")
      out.push(`cannot tell this host's architecture (\`uname -m\` printed nothing); the release carries a Node runtime for ${i.runtime.arch}`);
    else if (arch !== i.runtime.arch)
      out.push(
        `this host is ${machine} (Node: ${arch}), but the release carries Node ${i.runtime.version} for ${i.runtime.arch}, the architecture of the machine that built it; deploy this host from a ${arch} machine (\`--host\` limits a run to some hosts)`,
      );
  } else if (p.node === "") out.push(`Node.js is not installed (\`${i.node}\` not found in PATH); Ballast needs Node >= ${want}`);
  else {
    const v = parseNodeVersion(p.node);
    if (!v) out.push(`\`${i.node} --version\` printed ${JSON.stringify(p.node)}, not a version`);
    else if (v[0] < i.minNode[0] || (v[0] === i.minNode[0] && v[1] < i.minNode[1])) out.push(`Node.js ${p.node} is too old; Ballast needs Node >= ${want}`);
  }
  if (i.driver === "virsh" && p.virsh === "") out.push(`virsh (\`${i.virshBinary}\`) is not installed; install libvirt-clients, or use driver: sim`);
  if (p.missing.length > 0) out.push(`missing commands: ${p.missing.join(", ")}`);
  const absent = [...(p.userExists ? [] : [`user '${i.serviceUser}'`]), ...(p.groupExists ? [] : [`group '${i.serviceGroup}'`])];
  if (absent.length > 0 && !p.sysusersAvailable)
    out.push(
      `${absent.join(" and ")} missing and \`${i.sysusers}\` is not there to create them; create them by hand (deploy/systemd/ballast.sysusers.conf) or set service_manager.sysusers`,
    );
  return out;
}

export type Action =
  | "upload-release"
  | "extract-release"
  | "create-user"
  | "write-config"
  | "write-unit"
  | "write-seed"
  | "switch-release"
  | "daemon-reload"
  | "enable"
  | "restart"
  | "start";

/** Actions that touch what the running service uses: from the first of them on, a failure rolls back. */
export const COMMIT_ACTIONS: ReadonlySet<Action> = new Set([
  "write-config",
  "write-unit",
  "write-seed",
  "switch-release",
  "daemon-reload",
  "enable",
  "restart",
  "start",
]);

export interface Desired {
  releaseSha: string;
  configSha: string;
  /** "640:<group>" */
  configMeta: string;
  unitSha: string;
  sysusersSha: string;
  /** The NATS seed to install, when the inventory ships seeds. */
  seed?: { sha: string; meta: string };
}

export interface HostPlan {
  actions: Action[];
  /** The release <prefix>/current points at now (what a rollback returns to). */
  previousRelease: string | undefined;
  changed: boolean;
  /** Why each action is needed, for the report. */
  reasons: Partial<Record<Action, string>>;
}

const short = (s: string | undefined) => (s ? s.slice(0, 12) : "none");

export function planHost(desired: Desired, probe: Probe): HostPlan {
  const actions: Action[] = [];
  const reasons: Partial<Record<Action, string>> = {};
  const add = (a: Action, why: string) => {
    actions.push(a);
    reasons[a] = why;
  };
  const previousRelease = releaseOf(probe.current);
  if (!probe.releasePresent) {
    add("upload-release", `release ${short(desired.releaseSha)} is not on the host`);
    add("extract-release", `into releases/${short(desired.releaseSha)}`);
  }
  // Not rolled back on a later failure: systemd-sysusers only adds what is missing, and a service
  // user left behind harms nothing (it is what the next attempt needs).
  if (!probe.userExists || !probe.groupExists)
    add("create-user", `${[!probe.userExists ? "service user" : "", !probe.groupExists ? "service group" : ""].filter(Boolean).join(" and ")} missing`);
  else if (probe.sysusersSha !== desired.sysusersSha)
    add("create-user", probe.sysusersSha === undefined ? "sysusers.d file is missing" : "sysusers.d file differs");
  const configChanged = probe.configSha !== desired.configSha || probe.configMeta !== desired.configMeta;
  if (configChanged)
    add(
      "write-config",
      probe.configSha === undefined
        ? "agent.yaml is missing"
        : probe.configSha !== desired.configSha
          ? "agent.yaml differs"
          : `agent.yaml mode/group ${probe.configMeta} should be ${desired.configMeta}`,
    );
  const unitChanged = probe.unitSha !== desired.unitSha;
  if (unitChanged) add("write-unit", probe.unitSha === undefined ? "unit is missing" : "unit differs");
  const seed = desired.seed;
  const seedChanged = seed !== undefined && (probe.seedSha !== seed.sha || probe.seedMeta !== seed.meta);
  if (seedChanged)
    add(
      "write-seed",
      probe.seedSha === undefined
        ? "NATS seed is missing"
        : probe.seedSha !== seed.sha
          ? "NATS seed differs"
          : `NATS seed mode/owner ${probe.seedMeta} should be ${seed.meta}`,
    );
  const switching = previousRelease !== desired.releaseSha;
  if (switching) add("switch-release", `current: ${probe.current === "" ? "none" : short(previousRelease ?? probe.current)} -> ${short(desired.releaseSha)}`);
  if (unitChanged) add("daemon-reload", "unit changed");
  if (probe.enabled !== "enabled") add("enable", `unit is ${probe.enabled || "unknown"}`);
  if (configChanged || unitChanged || seedChanged || switching) add("restart", "release, config, seed or unit changed");
  else if (probe.active !== "active") add("start", `service is ${probe.active || "unknown"}`);
  return { actions, previousRelease, changed: actions.length > 0, reasons };
}
