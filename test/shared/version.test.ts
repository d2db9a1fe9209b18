import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { AGENT_VERSION } from "../../agent/index.js";
import { BALLAST_VERSION } from "../../shared/version.js";

const packageJson = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json");
// semver.org's regular expression for SemVer 2.0.0.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

describe("BALLAST_VERSION", () => {
  it("is the version of the repository's package.json", () => {
    const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as { name: string; version: string };
    expect(pkg.name).toBe("ballast");
    expect(BALLAST_VERSION).toBe(pkg.version);
  });

  it("is SemVer, as NATS services require", () => {
    expect(BALLAST_VERSION).toMatch(SEMVER);
  });

  it("is what the agent reports", () => {
    expect(AGENT_VERSION).toBe(BALLAST_VERSION);
  });
});
