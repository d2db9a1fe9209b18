import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./repo-root.js";

// Ballast's version, read once from the package.json of the checkout it runs from: beside the
// sources under vitest and tsx, beside dist/ in a release (the tarball ships package.json, see
// deploy/installer/release.ts). Agents, orchestrators and the CLI all report this one value.

/** SemVer 2.0.0 (semver.org's regular expression): NATS services (ADR-32) require it. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function readVersion(root: string): string {
  const file = join(root, "package.json");
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version;
  } catch (e) {
    throw new Error(`cannot read Ballast's version from ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (typeof version !== "string" || !SEMVER.test(version)) throw new Error(`${file} has no SemVer "version" (got ${JSON.stringify(version)})`);
  return version;
}

/** The version of this Ballast (package.json's `version`), e.g. "0.2.0". */
export const BALLAST_VERSION: string = readVersion(REPO_ROOT);
