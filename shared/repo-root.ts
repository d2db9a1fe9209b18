import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout this code runs from (source or dist/): the nearest folder whose package.json is Ballast's. */
function findRepoRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "ballast") return dir;
      } catch {
        // not ours; keep looking upwards
      }
    }
    dir = dirname(dir);
  }
  return resolve(start, "..");
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * Where the workload traces live: $BALLAST_SIM_DATA, else `../shared/data` beside the checkout
 * (the layout developers and CI have).
 */
export function sharedDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BALLAST_SIM_DATA ?? join(REPO_ROOT, "..", "shared", "data");
}
