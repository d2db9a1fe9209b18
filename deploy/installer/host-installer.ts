import { createHash } from "node:crypto";
import { describeError } from "../../shared/errors.js";
import type { HostTarget } from "./inventory.js";
import { COMMIT_ACTIONS, parseProbe, planHost, prerequisiteProblems, type Action, type HostPlan, type Probe } from "./plan.js";
import {
  asRoot,
  asUser,
  dropBackupsScript,
  installReleaseScript,
  layout,
  mktempScript,
  probeScript,
  pruneScript,
  removeCurrentScript,
  removeTempScript,
  restoreFileScript,
  switchScript,
  sysusersScript,
  systemctlScript,
  writeFileScript,
} from "./remote-script.js";
import type { RemoteHost } from "./ssh-remote.js";
import { serviceUserOf } from "./sysusers.js";
import type { AgentPinger } from "./verify.js";

// Installs (or checks, with dryRun) one host: connect, probe, plan, then carry the plan out.
// Everything up to extracting the release leaves the running service alone. From the first
// action that touches it (config, unit, symlink, systemctl) on, a failure is rolled back: the
// files and the `current` symlink are put back and the previous release restarted; the report
// says which of these happened.

export type StepStatus = "done" | "would-do" | "failed" | "rolled-back" | "skipped";

export interface StepReport {
  step: string;
  status: StepStatus;
  detail?: string;
  ms?: number;
}

export interface HostFailure {
  step: string;
  message: string;
  /** The remote command line, when a remote command failed. */
  command?: string;
  exitCode?: number;
  stderr?: string;
  /** Whether the failure came after the running service was touched. */
  phase: "before-switch" | "after-switch";
}

export interface RollbackReport {
  ok: boolean;
  /** Release `current` points at after the rollback (undefined: none, first install removed). */
  to: string | undefined;
  /** Whether the restored agent answered the ping (undefined: not checked). */
  verified: boolean | undefined;
  detail: string;
}

export type HostStatus = "unchanged" | "changed" | "would-change" | "failed";

/** The Node runtime the agent of a host runs on (with a dry run: would run on). */
export interface RuntimeReport {
  /** "release": runtime/bin/node shipped in the release; "host": the host's own node in PATH. */
  source: "release" | "host";
  /** Its `--version` on the host when the installer ran it, else what the release says; "" when there is none. */
  version: string;
  /** The binary: <prefix>/current/runtime/bin/node, or the inventory's `node` command. */
  path: string;
}

export interface HostReport {
  host: string;
  address: string;
  status: HostStatus;
  release: string;
  previousRelease: string | undefined;
  /** The plan's actions (what changed, or would change with dryRun). */
  actions: Action[];
  steps: StepReport[];
  /** Ping answered after the install (undefined: not checked, e.g. dry run or verify disabled). */
  verified: boolean | undefined;
  /** What the agent runs on once this run is over (undefined: no agent is installed). */
  runtime: RuntimeReport | undefined;
  /** `uname -m` and `getconf GNU_LIBC_VERSION` of the host, as probed. */
  platform?: { arch: string | undefined; libc: string | undefined };
  failure?: HostFailure;
  rollback?: RollbackReport;
  /** One sentence: where this host stands now. */
  state: string;
  durationMs: number;
}

export interface HostContext {
  releaseSha: string;
  tarball: string;
  minNode: [number, number];
  /** The Node runtime the release carries (undefined: it runs on the hosts' own node). */
  runtime?: { version: string; arch: string } | undefined;
  /** The unit file text to install (already rendered for the host's paths). */
  unitText: (t: HostTarget) => string;
  /** The sysusers.d file that creates the unit's user and the host's service group. */
  sysusersText: (t: HostTarget) => string;
  dryRun: boolean;
  verifyTimeoutMs: number;
  /** undefined: no verification. */
  pinger: AgentPinger | undefined;
  connect: (t: HostTarget) => Promise<RemoteHost>;
  /** Hook for tests: runs before each action. */
  beforeAction?: (host: string, action: Action) => void | Promise<void>;
}

class StepFailed extends Error {
  constructor(readonly failure: Omit<HostFailure, "phase">) {
    super(failure.message);
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const short = (s: string | undefined) => (s ? s.slice(0, 12) : "none");
const EXEC_TIMEOUT = 120_000;
const EXTRACT_TIMEOUT = 600_000;

function trimErr(s: string): string {
  const t = s.trim();
  return t.length > 2000 ? `…${t.slice(-2000)}` : t;
}

export async function installHost(t: HostTarget, ctx: HostContext): Promise<HostReport> {
  const started = Date.now();
  const steps: StepReport[] = [];
  const report: HostReport = {
    host: t.id,
    address: `${t.user}@${t.address}:${t.port}`,
    status: "failed",
    release: ctx.releaseSha,
    previousRelease: undefined,
    actions: [],
    steps,
    verified: undefined,
    runtime: undefined,
    state: "",
    durationMs: 0,
  };
  let remote: RemoteHost | undefined;
  let tmp: string | undefined;

  const timed = async <T>(step: string, fn: () => Promise<T>, detail?: (v: T) => string | undefined): Promise<T> => {
    const t0 = Date.now();
    try {
      const v = await fn();
      const d = detail?.(v);
      steps.push({ step, status: "done", ms: Date.now() - t0, ...(d ? { detail: d } : {}) });
      return v;
    } catch (e) {
      const f = e instanceof StepFailed ? e.failure : { step, message: describeError(e) };
      steps.push({ step, status: "failed", ms: Date.now() - t0, detail: f.message });
      throw new StepFailed({ ...f, step });
    }
  };
  const run = async (step: string, command: string, timeoutMs = EXEC_TIMEOUT): Promise<string> => {
    const r = await remote!.exec(command, { timeoutMs });
    if (r.code !== 0) {
      const stderr = trimErr(r.stderr) || trimErr(r.stdout);
      throw new StepFailed({
        step,
        message: `remote command failed (exit ${r.code})${stderr ? `: ${stderr.split("\n").slice(-1)[0]}` : ""}`,
        command,
        exitCode: r.code,
        stderr,
      });
    }
    return r.stdout;
  };

  let plan: HostPlan | undefined;
  let probe: Probe | undefined;
  const done = new Set<Action>();
  let committed = false;
  try {
    remote = await timed("connect", () => ctx.connect(t));
    const unit = ctx.unitText(t);
    const serviceUser = serviceUserOf(unit);
    const sysusers = ctx.sysusersText(t);
    probe = await timed(
      "probe",
      async () => parseProbe(await run("probe", asRoot(t, probeScript(t, ctx.releaseSha, serviceUser)))),
      (p) =>
        `${p.arch ?? "arch ?"}, ${p.libc ?? "glibc ?"}, host node ${p.node || "missing"}, current ${short(p.current.split("/").pop())}` +
        `${p.currentRuntime ? ` (its runtime: node ${p.currentRuntime})` : ""}, service ${p.active || "?"}`,
    );
    const p = probe;
    report.platform = { arch: p.arch, libc: p.libc };
    await timed("prerequisites", async () => {
      const problems = prerequisiteProblems({
        probe: p,
        node: t.node,
        minNode: ctx.minNode,
        runtime: ctx.runtime,
        driver: t.driver,
        virshBinary: t.virshBinary,
        serviceGroup: t.serviceGroup,
        serviceUser,
        sysusers: t.sysusers,
        become: t.become,
      });
      if (problems.length > 0) throw new StepFailed({ step: "prerequisites", message: problems.join("; ") });
    });
    plan = planHost(
      {
        releaseSha: ctx.releaseSha,
        configSha: sha256(t.agentYaml),
        configMeta: `640:${t.serviceGroup}`,
        unitSha: sha256(unit),
        sysusersSha: sha256(sysusers),
        ...(t.seed ? { seed: { sha: sha256(t.seed.content), meta: `600:${serviceUser}:${t.serviceGroup}` } } : {}),
      },
      probe,
    );
    report.previousRelease = plan.previousRelease;
    report.actions = plan.actions;
    // The runtime the agent will run on: the new release's when it switches, else the installed one's.
    report.runtime = plan.actions.includes("switch-release") ? newRuntime(t, ctx, probe, undefined) : runtimeOfInstalled(t, probe);

    if (ctx.dryRun) {
      for (const a of plan.actions) steps.push({ step: a, status: "would-do", detail: plan.reasons[a] ?? "" });
      report.status = plan.changed ? "would-change" : "unchanged";
      report.state = plan.changed ? `dry run: ${plan.actions.length} change(s) pending; nothing was changed` : "dry run: up to date; nothing to do";
      return report;
    }

    const l = layout(t);
    const needsTmp = plan.actions.some(
      (a) => a === "upload-release" || a === "create-user" || a === "write-config" || a === "write-unit" || a === "write-seed",
    );
    if (needsTmp) {
      const out = (await run("tempdir", asUser(mktempScript()))).trim();
      if (!/^\/[A-Za-z0-9._/-]+$/.test(out)) throw new StepFailed({ step: "tempdir", message: `mktemp printed an unexpected path ${JSON.stringify(out)}` });
      tmp = out;
    }
    for (const a of plan.actions) {
      await ctx.beforeAction?.(t.id, a);
      if (COMMIT_ACTIONS.has(a)) committed = true;
      // Each case returns the step's detail for the report.
      await timed(
        a,
        async (): Promise<string | undefined> => {
          switch (a) {
            case "upload-release":
              await remote!.upload(ctx.tarball, `${tmp}/release.tar.gz`);
              return plan!.reasons[a];
            case "extract-release": {
              const out = await run(a, asRoot(t, installReleaseScript(t, ctx.releaseSha, `${tmp}/release.tar.gz`)), EXTRACT_TIMEOUT);
              const ran = /^runtime=(.*)$/m.exec(out)?.[1]?.trim();
              if (ran !== undefined) report.runtime = newRuntime(t, ctx, probe!, ran.split(" ")[0]);
              return `releases/${short(ctx.releaseSha)}${ran !== undefined ? `; its Node runtime runs here: ${ran}` : ""}`;
            }
            case "create-user":
              await remote!.writeFile(`${tmp}/sysusers.conf`, sysusers);
              await run(a, asRoot(t, writeFileScript(`${tmp}/sysusers.conf`, l.sysusers, "0644", "root", "root")));
              await run(a, asRoot(t, sysusersScript(t)));
              return `${l.sysusers}: ${plan!.reasons[a]}; ${t.sysusers} ran`;
            case "write-config":
              await remote!.writeFile(`${tmp}/agent.yaml`, t.agentYaml);
              await run(
                a,
                asRoot(t, writeFileScript(`${tmp}/agent.yaml`, l.config, "0640", "root", t.serviceGroup, { makeDir: { mode: "0750", group: t.serviceGroup } })),
              );
              return `${l.config}: ${plan!.reasons[a]}`;
            case "write-unit":
              await remote!.writeFile(`${tmp}/unit`, unit);
              await run(a, asRoot(t, writeFileScript(`${tmp}/unit`, l.unit, "0644", "root", "root")));
              return `${l.unit}: ${plan!.reasons[a]}`;
            case "write-seed":
              await remote!.writeFile(`${tmp}/seed.nk`, t.seed!.content);
              await run(
                a,
                asRoot(
                  t,
                  writeFileScript(`${tmp}/seed.nk`, t.seed!.path, "0600", serviceUser, t.serviceGroup, { makeDir: { mode: "0750", group: t.serviceGroup } }),
                ),
              );
              return `${t.seed!.path}: ${plan!.reasons[a]}`;
            case "switch-release":
              await run(a, asRoot(t, switchScript(t, ctx.releaseSha)));
              return plan!.reasons[a];
            default:
              await run(a, asRoot(t, systemctlScript(t, a)));
              return undefined;
          }
        },
        (d) => d,
      );
      done.add(a);
    }

    if (ctx.pinger) {
      const pinger = ctx.pinger;
      await timed(
        "verify",
        async () => {
          const r = await pinger.ping(t.id, ctx.verifyTimeoutMs);
          if (!r.ok) throw new StepFailed({ step: "verify", message: r.error });
          return r;
        },
        (r) => `ping answered after ${r.afterMs} ms (agent ${r.pong.agentVersion}, driver ${r.pong.driver})`,
      );
      report.verified = true;
    }
    // Cleanup is best effort: the install itself has succeeded.
    const written = [
      done.has("create-user") ? l.sysusers : undefined,
      done.has("write-config") ? l.config : undefined,
      done.has("write-unit") ? l.unit : undefined,
      done.has("write-seed") ? t.seed!.path : undefined,
    ].filter((x): x is string => x !== undefined);
    if (written.length > 0) await remote.exec(asRoot(t, dropBackupsScript(written)));
    const protect = [ctx.releaseSha, ...(plan.previousRelease ? [plan.previousRelease] : [])];
    const pruned = await remote.exec(asRoot(t, pruneScript(t, protect, t.keepReleases)));
    const removed = pruned.stdout.split("\n").filter((s) => s.length > 0);
    if (removed.length > 0) steps.push({ step: "prune", status: "done", detail: `removed old releases ${removed.map(short).join(", ")}` });
    report.status = plan.changed ? "changed" : "unchanged";
    report.state = plan.changed
      ? `release ${short(ctx.releaseSha)} running${report.verified ? " and answering" : ""} (${plan.actions.join(", ")})`
      : `up to date: release ${short(ctx.releaseSha)}${report.verified ? " running and answering" : ""}; nothing changed, nothing restarted`;
    return report;
  } catch (e) {
    const f = e instanceof StepFailed ? e.failure : { step: "internal", message: describeError(e) };
    report.failure = { ...f, phase: committed ? "after-switch" : "before-switch" };
    report.status = "failed";
    // Before the switch, or rolled back: the release that ran before runs on.
    report.runtime = probe ? runtimeOfInstalled(t, probe) : undefined;
    if (!committed) {
      const running =
        probe?.active === "active"
          ? `the previous release ${short(plan?.previousRelease ?? releaseOfProbe(probe))} keeps running`
          : "no agent was running before and none was started";
      report.state =
        remote === undefined
          ? `not reached; nothing was changed on the host`
          : `failed before switching: ${running}; the service, its config and the current symlink were not touched`;
    } else if (remote && plan && probe) {
      report.rollback = await rollback(t, ctx, remote, plan, probe, done, steps);
      report.verified = false;
      if (!report.rollback.ok) report.runtime = undefined; // unknown: the host may be half-installed
      report.state = report.rollback.ok
        ? `failed after switching, ROLLED BACK: ${report.rollback.detail}`
        : `failed after switching and the ROLLBACK FAILED: ${report.rollback.detail}; the host may be half-installed, check it by hand`;
    }
    return report;
  } finally {
    if (remote && tmp) await remote.exec(asUser(removeTempScript(tmp))).catch(() => undefined);
    remote?.close();
    report.durationMs = Date.now() - started;
  }
}

function releaseOfProbe(p: Probe | undefined): string | undefined {
  return p?.current.split("/").pop();
}

/** The runtime of the release <prefix>/current points at (before this run). */
function runtimeOfInstalled(t: HostTarget, p: Probe): RuntimeReport | undefined {
  if (p.current === "") return undefined;
  if (p.currentRuntime !== undefined) return { source: "release", version: p.currentRuntime, path: `${layout(t).current}/runtime/bin/node` };
  return { source: "host", version: p.node, path: t.node };
}

/** The runtime of the release being installed; `ran`: its version as run on the host. */
function newRuntime(t: HostTarget, ctx: HostContext, p: Probe, ran: string | undefined): RuntimeReport {
  if (ctx.runtime) return { source: "release", version: ran ?? ctx.runtime.version, path: `${layout(t).current}/runtime/bin/node` };
  return { source: "host", version: p.node, path: t.node };
}

/** Undoes the commit-phase actions in `done` (and the one that failed), newest first. */
async function rollback(
  t: HostTarget,
  ctx: HostContext,
  remote: RemoteHost,
  plan: HostPlan,
  probe: Probe,
  done: Set<Action>,
  steps: StepReport[],
): Promise<RollbackReport> {
  const l = layout(t);
  const problems: string[] = [];
  const did: string[] = [];
  const step = async (name: string, script: string) => {
    const r = await remote.exec(asRoot(t, script), { timeoutMs: EXEC_TIMEOUT }).catch((e) => ({ code: -1, stdout: "", stderr: describeError(e) }));
    const ok = r.code === 0;
    steps.push({ step: `rollback:${name}`, status: ok ? "rolled-back" : "failed", ...(ok ? {} : { detail: trimErr(r.stderr) }) });
    if (!ok) problems.push(`${name}: ${trimErr(r.stderr) || `exit ${r.code}`}`);
    return ok;
  };
  // The failing action may have half-happened: treat every commit action of the plan up to it as done.
  const attempted = new Set<Action>(done);
  for (const a of plan.actions) {
    attempted.add(a);
    if (!done.has(a)) break;
  }
  const prev = plan.previousRelease;
  if (attempted.has("switch-release")) {
    if (prev && (await step("switch-release", switchScript(t, prev)))) did.push(`current -> ${short(prev)}`);
    else if (!prev && (await step("remove-current", removeCurrentScript(t)))) did.push("current symlink removed (first install)");
  }
  if (attempted.has("write-config") && (await step("restore-config", restoreFileScript(l.config, probe.configSha !== undefined))))
    did.push(probe.configSha !== undefined ? "agent.yaml restored" : "agent.yaml removed");
  if (attempted.has("write-seed") && t.seed && (await step("restore-seed", restoreFileScript(t.seed.path, probe.seedSha !== undefined))))
    did.push(probe.seedSha !== undefined ? "NATS seed restored" : "NATS seed removed");
  if (attempted.has("write-unit")) {
    if (await step("restore-unit", restoreFileScript(l.unit, probe.unitSha !== undefined)))
      did.push(probe.unitSha !== undefined ? "unit restored" : "unit removed");
    await step("daemon-reload", systemctlScript(t, "daemon-reload"));
  }
  const disturbed =
    attempted.has("restart") || attempted.has("start") || attempted.has("switch-release") || attempted.has("write-config") || attempted.has("write-unit");
  let verified: boolean | undefined;
  if (disturbed) {
    if (probe.active === "active" && prev) {
      if (await step("restart", systemctlScript(t, "restart"))) {
        did.push(`agent restarted on ${short(prev)}`);
        if (ctx.pinger) {
          const r = await ctx.pinger.ping(t.id, ctx.verifyTimeoutMs);
          verified = r.ok;
          steps.push({ step: "rollback:verify", status: r.ok ? "done" : "failed", detail: r.ok ? "previous release answers ping" : r.error });
          if (!r.ok) problems.push(`the restored agent does not answer: ${r.error}`);
        }
      }
    } else if (await step("stop", systemctlScript(t, "stop"))) did.push("agent stopped (it was not running before)");
  }
  if (attempted.has("enable") && probe.enabled !== "enabled" && (await step("disable", systemctlScript(t, "disable")))) did.push("unit disabled again");
  const to = attempted.has("switch-release") ? prev : releaseOfProbe(probe) || undefined;
  const detail = [did.join(", ") || "nothing to undo", ...problems].join("; ");
  return { ok: problems.length === 0, to, verified, detail };
}
