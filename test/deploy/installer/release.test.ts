import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRelease, minNodeVersion, productionPackages } from "../../../deploy/installer/release.js";
import { renderUnit, readUnitTemplate } from "../../../deploy/installer/unit.js";
import { checkoutRoot } from "../../../deploy/installer/deploy.js";

describe("release", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-release-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("ships only production packages from the lock file", () => {
    const lock = {
      packages: {
        "": {},
        "node_modules/zod": {},
        "node_modules/@nats-io/nkeys": {},
        "node_modules/vitest": { dev: true },
        "node_modules/cpu-features": { optional: true },
        "node_modules/missing-optional": { optional: true },
        "node_modules/ssh2/node_modules/nan": {},
        "node_modules/stray": { extraneous: true },
      },
    };
    expect(productionPackages(lock, (rel) => rel !== "node_modules/missing-optional")).toEqual([
      "node_modules/@nats-io/nkeys",
      "node_modules/cpu-features",
      "node_modules/zod",
    ]);
  });

  it("is reproducible: the same checkout gives the same sha256, a change gives another", async () => {
    const src = join(dir, "checkout");
    for (const d of ["dist/cli", "bin", "node_modules/zod", "node_modules/vitest", "node_modules/.bin"]) mkdirSync(join(src, d), { recursive: true });
    writeFileSync(join(src, "dist/cli/main.js"), "export {}\n");
    writeFileSync(join(src, "bin/ballast"), "#!/usr/bin/env node\n", { mode: 0o755 });
    writeFileSync(join(src, "package.json"), JSON.stringify({ name: "ballast", engines: { node: ">=20.19" } }));
    writeFileSync(join(src, "package-lock.json"), JSON.stringify({ packages: { "node_modules/zod": {}, "node_modules/vitest": { dev: true } } }));
    writeFileSync(join(src, "node_modules/zod/index.js"), "1");
    writeFileSync(join(src, "node_modules/vitest/index.js"), "2");
    const a = await buildRelease(src, join(dir, "out"));
    await new Promise((r) => setTimeout(r, 1100)); // different mtimes must not matter
    execFileSync("touch", [join(src, "dist/cli/main.js")]);
    const b = await buildRelease(src, join(dir, "out"));
    expect(b.sha256).toBe(a.sha256);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.path).toBe(join(dir, "out", `ballast-${a.sha256}.tar.gz`));
    expect(a.nodeEngine).toBe(">=20.19");
    const list = execFileSync("tar", ["-tzf", a.path], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(list).toContain("node_modules/zod/index.js");
    expect(list).toContain("bin/ballast");
    expect(list.some((f) => f.includes("vitest") || f.includes(".bin"))).toBe(false);
    writeFileSync(join(src, "dist/cli/main.js"), "export const x = 1;\n");
    expect((await buildRelease(src, join(dir, "out"))).sha256).not.toBe(a.sha256);
  });

  it("refuses an unbuilt checkout with a clear message", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    await expect(buildRelease(empty, join(dir, "out"))).rejects.toThrow(/dist\/cli\/main\.js is missing \(run `npm ci && npm run build`/);
  });

  it("reads the minimum Node version from engines", () => {
    expect(minNodeVersion(">=20.19")).toEqual([20, 19]);
    expect(minNodeVersion(undefined)).toEqual([20, 0]);
    expect(minNodeVersion("^22")).toEqual([22, 0]);
  });
});

describe("unit", () => {
  it("points the repository's unit at <prefix>/current and <config_dir>", () => {
    const template = readUnitTemplate(checkoutRoot());
    const unit = renderUnit(template, { prefix: "/srv/ballast", config_dir: "/etc/b" });
    expect(unit).toContain("\nExecStart=/srv/ballast/current/bin/ballast agent --config /etc/b/agent.yaml\n");
    expect(unit.split("\n").filter((l) => l.startsWith("ExecStart="))).toHaveLength(1);
    expect(unit.replace(/^ExecStart=.*$/m, "")).toBe(template.replace(/^ExecStart=.*$/m, ""));
    expect(() => renderUnit("[Service]\n", { prefix: "/a", config_dir: "/b" })).toThrow(/no ExecStart/);
  });
});
