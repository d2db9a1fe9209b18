import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeError } from "../../shared/errors.js";
import { installHost, type HostReport } from "./host-installer.js";
import { loadInventory, resolveHosts, verifyNats, type HostTarget, type Inventory } from "./inventory.js";
import { buildRelease, minNodeVersion, type Release } from "./release.js";
import { renderDeployReport, type DeployReport } from "./report.js";
import { SshRemote, type RemoteHost } from "./ssh-remote.js";
import { readUnitTemplate, renderUnit } from "./unit.js";
import { readSysusersTemplate, renderSysusers, serviceUserOf } from "./sysusers.js";
import { NatsPinger, type AgentPinger } from "./verify.js";
import type { Action } from "./plan.js";

export interface DeployOptions {
  /** Connect and report what would change; change nothing. */
  dryRun?: boolean;
  /** Hosts installed at once (default: the inventory's `parallel`, itself 4 by default). */
  parallel?: number;
  /** Only these host ids (default: all). */
  only?: string[];
  /** The checkout the release and the unit come from (default: this installation). */
  root?: string;
  /** Where release tarballs are built (default: <tmpdir>/ballast-releases). */
  releaseDir?: string;
  /** A release already built (tests, or a CI artefact). */
  release?: Release;
  /** Verifier (default: NATS with the inventory's settings). */
  pinger?: AgentPinger;
  /** How to reach a host (default: SSH). */
  connect?: (t: HostTarget) => Promise<RemoteHost>;
  env?: NodeJS.ProcessEnv;
  beforeAction?: (host: string, action: Action) => void | Promise<void>;
}

/** The checkout this module belongs to: the nearest parent with a package.json named "ballast". */
export function checkoutRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "ballast") return dir;
      } catch {
        // not ours; keep going up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the Ballast checkout above ${from}`);
    dir = up;
  }
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Deploys the release to every host of a parsed inventory; never throws for a host's failure. */
export async function deploy(inventory: Inventory, baseDir: string, opts: DeployOptions = {}): Promise<DeployReport> {
  const root = opts.root ?? checkoutRoot();
  let targets = resolveHosts(inventory, baseDir);
  if (opts.only && opts.only.length > 0) {
    const unknown = opts.only.filter((h) => !targets.some((t) => t.id === h));
    if (unknown.length > 0) throw new Error(`not in the inventory: ${unknown.join(", ")}`);
    targets = targets.filter((t) => opts.only!.includes(t.id));
  }
  const template = readUnitTemplate(root);
  const sysusersTemplate = readSysusersTemplate(root);
  const release = opts.release ?? (await buildRelease(root, opts.releaseDir ?? join(tmpdir(), "ballast-releases")));
  const natsCfg = verifyNats(inventory, baseDir);
  const ownPinger = !opts.pinger && !opts.dryRun && inventory.verify.enabled && natsCfg ? new NatsPinger(natsCfg) : undefined;
  const pinger = opts.dryRun || !inventory.verify.enabled ? undefined : (opts.pinger ?? ownPinger);
  try {
    const hosts: HostReport[] = await mapLimit(targets, opts.parallel ?? inventory.parallel, (t) =>
      installHost(t, {
        releaseSha: release.sha256,
        tarball: release.path,
        minNode: minNodeVersion(release.nodeEngine),
        runtime: release.runtime,
        unitText: (h) => renderUnit(template, h.paths),
        sysusersText: (h) => renderSysusers(sysusersTemplate, serviceUserOf(template), h.serviceGroup),
        dryRun: opts.dryRun ?? false,
        verifyTimeoutMs: inventory.verify.timeout * 1000,
        pinger,
        connect: opts.connect ?? ((h) => SshRemote.connect(h, opts.env ?? process.env)),
        ...(opts.beforeAction ? { beforeAction: opts.beforeAction } : {}),
      }),
    );
    return {
      release: {
        sha256: release.sha256,
        bytes: release.bytes,
        path: release.path,
        ...(release.runtime ? { runtime: { version: release.runtime.version, arch: release.runtime.arch, sha256: release.runtime.sha256 } } : {}),
      },
      dryRun: opts.dryRun ?? false,
      ok: hosts.every((h) => h.status !== "failed"),
      hosts,
    };
  } finally {
    await ownPinger?.close();
  }
}

export interface RunDeployArgs {
  /** Path of the inventory YAML. */
  inventory: string;
  dryRun?: boolean;
  parallel?: number;
  /** Only these host ids. */
  hosts?: string[];
  /** Print the JSON report instead of the table. */
  json?: boolean;
}

/**
 * `ballast deploy --inventory FILE [--dry-run] [--parallel N] [--host H]... [--json]`.
 * Prints the report and returns the exit code: 0 when every host is fine, 1 when one failed,
 * 2 when the inventory or the release is unusable (nothing was touched).
 */
export async function runDeploy(
  args: RunDeployArgs,
  io: { out: (s: string) => void; err: (s: string) => void },
  opts: Omit<DeployOptions, "dryRun" | "parallel" | "only"> = {},
): Promise<number> {
  let report: DeployReport;
  try {
    const { inventory, baseDir } = loadInventory(args.inventory);
    report = await deploy(inventory, baseDir, {
      ...opts,
      ...(args.dryRun !== undefined ? { dryRun: args.dryRun } : {}),
      ...(args.parallel !== undefined ? { parallel: args.parallel } : {}),
      ...(args.hosts !== undefined ? { only: args.hosts } : {}),
    });
  } catch (e) {
    io.err(`ballast deploy: ${describeError(e)}`);
    return 2;
  }
  io.out(args.json ? JSON.stringify(report, null, 2) : renderDeployReport(report));
  return report.ok ? 0 : 1;
}
