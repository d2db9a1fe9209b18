import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { promisify } from "node:util";
import { createGzip } from "node:zlib";
import { BallastError } from "../../shared/errors.js";

// A release is one gzip'd tarball built from the local checkout: dist/, bin/, docs/, package.json,
// package-lock.json and the production packages of node_modules (hypervisors often have no
// registry access, so nothing is installed remotely), plus the Node runtime that builds it:
// runtime/bin/node and runtime/LICENSE. Hypervisors need no Node of their own (Debian 12 ships
// 18.x, Ballast needs >= 20.19); bin/ballast starts runtime/bin/node when it is there.
// The tarball is byte-for-byte reproducible (sorted names, mtime 0, owner 0, gzip without a
// timestamp), so its sha256 names the release: the same checkout and the same Node binary give the
// same id, and re-installing it changes nothing.

export interface Release {
  /** Local path of the tarball. */
  path: string;
  /** sha256 of the tarball, 64 hex digits: the release id and its directory name on the hosts. */
  sha256: string;
  bytes: number;
  /** Top-level entries packed (relative to the checkout). */
  entries: string[];
  /** `engines.node` of package.json, e.g. ">=20.19" (checked against the shipped runtime, or the host's node without one). */
  nodeEngine: string | undefined;
  /** The Node runtime in the tarball (runtime/bin/node); undefined: the hosts' own `node` runs it. */
  runtime?: ReleaseRuntime;
}

/** The Node binary a release carries, as inspected by running it on the build machine. */
export interface ReleaseRuntime {
  /** `process.version`, e.g. "v20.20.2". */
  version: string;
  /** Node's name of the CPU architecture (`process.arch`: x64, arm64, ...); every host must have it. */
  arch: string;
  /** glibc version the binary was built against (`glibcVersionCompiler`), when it reports one. */
  glibc: string | undefined;
  /** sha256 of runtime/bin/node: compare with the Node release's SHASUMS256 or the package's files. */
  sha256: string;
  bytes: number;
  /** Local path it was copied from (after symlinks). */
  from: string;
  /** Local path of the license file shipped as runtime/LICENSE. */
  license: string;
}

export interface ReleaseOptions {
  /**
   * The Node binary to ship as runtime/bin/node: a Linux glibc build that satisfies `engines.node`.
   * Default: the one running this (`process.execPath`). null: ship none (the hosts' `node` runs it).
   */
  node?: string | null;
  /** Its license file (default: ../LICENSE beside bin/node, as in the nodejs.org tarballs, or the distribution package's). */
  license?: string;
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

// Run by the candidate binary itself: what it is, not what its file name says.
const INSPECT = [
  "const h = process.report.getReport().header;",
  "JSON.stringify({ name: process.release.name, version: process.version, platform: process.platform, arch: process.arch,",
  "glibc: h.glibcVersionRuntime ?? null, glibcCompiler: h.glibcVersionCompiler ?? null })",
].join(" ");

interface Inspected {
  name: string;
  version: string;
  platform: string;
  arch: string;
  glibc: string | null;
  glibcCompiler: string | null;
}

/** Where the license of the Node binary at `node` may be: the nodejs.org layout, then a Linux package's doc directory. */
export function runtimeLicenseCandidates(node: string, real: string): string[] {
  const beside = [...new Set([dirname(node), dirname(real)])].map((d) => join(d, "..", "LICENSE"));
  // /usr/share/doc/nodejs belongs to the package that installed /usr/bin/node (NodeSource, Debian).
  const pkg = real.startsWith("/usr/bin/") ? ["/usr/share/doc/nodejs/LICENSE", "/usr/share/doc/nodejs/copyright"] : [];
  return [...new Set([...beside, ...pkg])];
}

/**
 * Checks the Node binary a release is to carry by running it: Node.js, Linux, glibc, at least the
 * engines minimum. Throws a ReleaseError saying what is wrong.
 */
export async function inspectRuntime(node: string, engine: string | undefined, licenseFile?: string): Promise<Omit<ReleaseRuntime, "sha256" | "bytes">> {
  let real: string;
  try {
    real = realpathSync(node);
  } catch (e) {
    throw new ReleaseError(`the Node runtime to ship, ${node}, is not there: ${(e as Error).message}`, { cause: e });
  }
  let out: string;
  try {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    out = (await promisify(execFile)(real, ["-p", INSPECT], { timeout: 60_000, encoding: "utf8", env })).stdout;
  } catch (e) {
    throw new ReleaseError(`cannot run the Node runtime to ship (${real}): ${(e as Error).message}`, { cause: e });
  }
  let i: Inspected;
  try {
    i = JSON.parse(out) as Inspected;
  } catch (e) {
    throw new ReleaseError(`${real} -p printed ${JSON.stringify(out.slice(0, 200))}, not its description: is it Node.js?`, { cause: e });
  }
  const what = `the Node runtime to ship (${real}, ${i.name} ${i.version} ${i.platform}-${i.arch})`;
  if (i.name !== "node") throw new ReleaseError(`${what} is not Node.js`);
  if (i.platform !== "linux") throw new ReleaseError(`${what} is not a Linux build; the hypervisors need one: build the release on Linux`);
  if (!i.glibc) throw new ReleaseError(`${what} is not a glibc build (musl?); Debian hypervisors need a glibc one`);
  const [minMajor, minMinor] = minNodeVersion(engine);
  const v = /^v(\d+)\.(\d+)\./.exec(i.version);
  if (!v || Number(v[1]) < minMajor || (Number(v[1]) === minMajor && Number(v[2]) < minMinor))
    throw new ReleaseError(
      `${what} is too old: Ballast needs Node >= ${minMajor}.${minMinor} (package.json engines); run \`ballast deploy\` with a newer node`,
    );
  const candidates = licenseFile !== undefined ? [licenseFile] : runtimeLicenseCandidates(node, real);
  const license = candidates.find((f) => existsSync(f) && statSync(f).isFile());
  if (!license) throw new ReleaseError(`cannot find the license of ${what}: looked at ${candidates.join(", ")}; it ships with the binary`);
  return { version: i.version, arch: i.arch, glibc: i.glibcCompiler ?? undefined, from: real, license };
}

/** Copies `src` to `dest` with `mode`, returning its sha256 and size. */
async function copyHashed(src: string, dest: string, mode: number): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(createReadStream(src), hasher, createWriteStream(dest, { mode }));
  chmodSync(dest, mode);
  return { sha256: hash.digest("hex"), bytes };
}

/** Builds (or rebuilds identically) the release tarball of the checkout at `root` into `outDir`. */
export async function buildRelease(root: string, outDir: string, opts: ReleaseOptions = {}): Promise<Release> {
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
  // tar reads them as operands without "--" (the runtime needs a second -C): none may look like an option.
  const odd = entries.find((e) => e.startsWith("-"));
  if (odd) throw new ReleaseError(`cannot pack ${JSON.stringify(odd)}: names starting with "-" are not allowed`);
  const nodeBinary = opts.node === undefined ? process.execPath : opts.node;
  const inspected = nodeBinary === null ? undefined : await inspectRuntime(nodeBinary, pkg.engines?.node, opts.license);

  mkdirSync(outDir, { recursive: true });
  // The runtime is staged as runtime/bin/node + runtime/LICENSE; "runtime" sorts after every
  // checkout entry, so the tarball stays in name order.
  const stage = inspected ? mkdtempSync(join(outDir, ".runtime-")) : undefined;
  try {
    let runtime: ReleaseRuntime | undefined;
    if (inspected && stage) {
      mkdirSync(join(stage, "runtime", "bin"), { recursive: true });
      chmodSync(join(stage, "runtime"), 0o755);
      chmodSync(join(stage, "runtime", "bin"), 0o755);
      const copied = await copyHashed(inspected.from, join(stage, "runtime", "bin", "node"), 0o755);
      await copyHashed(inspected.license, join(stage, "runtime", "LICENSE"), 0o644);
      runtime = { ...inspected, ...copied };
    }
    const release = await pack(root, outDir, entries, stage);
    return { ...release, entries: stage ? [...entries, "runtime"] : entries, nodeEngine: pkg.engines?.node, ...(runtime ? { runtime } : {}) };
  } finally {
    if (stage) rmSync(stage, { recursive: true, force: true });
  }
}

/** Packs `entries` of `root` (and runtime/ of `stage`) into outDir/ballast-<sha256>.tar.gz. */
async function pack(root: string, outDir: string, entries: string[], stage: string | undefined): Promise<Pick<Release, "path" | "sha256" | "bytes">> {
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
    ...entries,
    ...(stage ? ["-C", stage, "runtime"] : []),
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
  return { path, sha256, bytes: statSync(path).size };
}

/** Minimum Node major.minor from an engines range such as ">=20.19" or "^20.3"; default 20.0. */
export function minNodeVersion(engine: string | undefined): [number, number] {
  const m = /(\d+)(?:\.(\d+))?/.exec(engine ?? "");
  if (!m) return [20, 0];
  return [Number(m[1]), Number(m[2] ?? 0)];
}
