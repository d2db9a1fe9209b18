import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { createGzip } from "node:zlib";
import { BallastError } from "../../shared/errors.js";

// A release is one gzip'd tarball built from the local checkout: dist/, bin/, docs/, package.json,
// package-lock.json and the production packages of node_modules (hypervisors often have no
// registry access, so nothing is installed remotely). The tarball is byte-for-byte reproducible
// (sorted names, mtime 0, owner 0, gzip without a timestamp), so its sha256 names the release:
// the same checkout gives the same id, and re-installing it changes nothing.

export interface Release {
  /** Local path of the tarball. */
  path: string;
  /** sha256 of the tarball, 64 hex digits: the release id and its directory name on the hosts. */
  sha256: string;
  bytes: number;
  /** Top-level entries packed (relative to the checkout). */
  entries: string[];
  /** `engines.node` of package.json, e.g. ">=20.19" (the installer checks it on every host). */
  nodeEngine: string | undefined;
}

export class ReleaseError extends BallastError {
  override readonly name: string = "ReleaseError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("INTERNAL", message, options);
  }
}

interface LockPackage {
  dev?: boolean;
  optional?: boolean;
  extraneous?: boolean;
}

/**
 * node_modules/<name> (and node_modules/@scope/<name>) directories that a production install has:
 * every top-level package of package-lock.json not marked dev, present on disk. Nested
 * node_modules come along inside their parent.
 */
export function productionPackages(lock: { packages?: Record<string, LockPackage> }, exists: (rel: string) => boolean): string[] {
  const out: string[] = [];
  for (const [key, pkg] of Object.entries(lock.packages ?? {})) {
    if (!key.startsWith("node_modules/")) continue;
    const rest = key.slice("node_modules/".length);
    if (rest.includes("/node_modules/")) continue;
    if (pkg.dev === true || pkg.extraneous === true) continue;
    if (exists(key)) out.push(key);
  }
  return out.sort();
}

/** Builds (or rebuilds identically) the release tarball of the checkout at `root` into `outDir`. */
export async function buildRelease(root: string, outDir: string): Promise<Release> {
  const need = ["dist/cli/main.js", "bin/ballast", "package.json", "package-lock.json"];
  for (const f of need) {
    if (!existsSync(join(root, f)))
      throw new ReleaseError(`cannot build a release: ${join(root, f)} is missing (run \`npm ci && npm run build\` in ${root} first)`);
  }
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines?: { node?: string } };
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages?: Record<string, LockPackage> };
  const modules = productionPackages(lock, (rel) => existsSync(join(root, rel)));
  if (modules.length === 0) throw new ReleaseError(`no production packages found in ${join(root, "node_modules")} (run \`npm ci\` first)`);
  // The documents ship too: the units' Documentation= points at deploy/README.md, and the README
  // links into docs/.
  const docs = ["README.md", "deploy/README.md", "docs"].filter((f) => existsSync(join(root, f)));
  const entries = [...docs, "bin", "dist", "package-lock.json", "package.json", ...modules].sort();

  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `.release-${process.pid}-${Date.now()}.tar.gz`);
  const args = [
    "--create",
    "--format=gnu",
    "--sort=name",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mode=go-w",
    "--exclude=*.tsbuildinfo",
    "--exclude=node_modules/.bin",
    "--exclude=node_modules/.package-lock.json",
    "--file=-",
    "-C",
    root,
    "--",
    ...entries,
  ];
  const tar = spawn("tar", args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  tar.stderr.on("data", (d) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const exited = new Promise<number>((resolve, reject) => {
    tar.once("error", (e) => reject(new ReleaseError(`cannot run tar: ${e.message}`, { cause: e })));
    tar.once("close", (code) => resolve(code ?? -1));
  });
  const hash = createHash("sha256");
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  // zlib writes mtime 0 and no file name in the gzip header: the output depends on content only.
  await pipeline(tar.stdout, createGzip({ level: 6 }), hasher, createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new ReleaseError(`tar failed (exit ${code}): ${stderr.trim()}`);
  const sha256 = hash.digest("hex");
  const path = join(outDir, `ballast-${sha256}.tar.gz`);
  renameSync(tmp, path);
  return { path, sha256, bytes: statSync(path).size, entries, nodeEngine: pkg.engines?.node };
}

/** Minimum Node major.minor from an engines range such as ">=20.19" or "^20.3"; default 20.0. */
export function minNodeVersion(engine: string | undefined): [number, number] {
  const m = /(\d+)(?:\.(\d+))?/.exec(engine ?? "");
  if (!m) return [20, 0];
  return [Number(m[1]), Number(m[2] ?? 0)];
}
