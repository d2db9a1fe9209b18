import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRelease, minNodeVersion, productionPackages, runtimeLicenseCandidates } from "../../../deploy/installer/release.js";
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
  }, 180_000);

  it("refuses an unbuilt checkout with a clear message", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    await expect(buildRelease(empty, join(dir, "out"))).rejects.toThrow(/dist\/cli\/main\.js is missing \(run `npm ci && npm run build`/);
  });

  /** A tiny checkout like the one above. */
  function checkout(name: string): string {
    const src = join(dir, name);
    for (const d of ["dist/cli", "bin", "node_modules/zod"]) mkdirSync(join(src, d), { recursive: true });
    writeFileSync(join(src, "dist/cli/main.js"), "export {}\n");
    writeFileSync(join(src, "bin/ballast"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(src, "package.json"), JSON.stringify({ name: "ballast", engines: { node: ">=20.19" } }));
    writeFileSync(join(src, "package-lock.json"), JSON.stringify({ packages: { "node_modules/zod": {} } }));
    writeFileSync(join(src, "node_modules/zod/index.js"), "1");
    return src;
  }
  const sha256File = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
  const listing = (tarball: string) =>
    execFileSync("tar", ["-tzvf", tarball], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(/\s+/))
      .map((f) => ({ mode: f[0], owner: f[1], date: f[3], name: f[5] }));

  it("ships the Node binary it runs on, unchanged, with its license, after everything else", async () => {
    const src = checkout("with-runtime");
    const r = await buildRelease(src, join(dir, "out-runtime"));
    expect(r.runtime).toMatchObject({
      version: process.version,
      arch: process.arch,
      from: realpathSync(process.execPath),
      sha256: sha256File(process.execPath),
      bytes: readFileSync(process.execPath).length,
    });
    expect(runtimeLicenseCandidates(process.execPath, realpathSync(process.execPath))).toContain(r.runtime!.license);
    expect(r.entries.at(-1)).toBe("runtime");
    const list = listing(r.path);
    expect(list.slice(-4)).toEqual([
      { mode: "drwxr-xr-x", owner: "0/0", date: "1970-01-01", name: "runtime/" },
      { mode: "-rw-r--r--", owner: "0/0", date: "1970-01-01", name: "runtime/LICENSE" },
      { mode: "drwxr-xr-x", owner: "0/0", date: "1970-01-01", name: "runtime/bin/" },
      { mode: "-rwxr-xr-x", owner: "0/0", date: "1970-01-01", name: "runtime/bin/node" },
    ]);
    const out = join(dir, "unpacked");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", r.path, "-C", out, "runtime"]);
    expect(sha256File(join(out, "runtime/bin/node"))).toBe(sha256File(process.execPath));
    expect(readFileSync(join(out, "runtime/LICENSE"), "utf8")).toBe(readFileSync(r.runtime!.license, "utf8"));
    expect(execFileSync(join(out, "runtime/bin/node"), ["-p", "process.version"], { encoding: "utf8" }).trim()).toBe(process.version);
  }, 120_000);

  describe("the runtime to ship is checked by running it", () => {
    // Stand-ins for other Node builds: each prints what the real one would answer.
    const fake = (name: string, answer: Record<string, unknown>, license = true) => {
      const d = join(dir, "fake-node", name);
      mkdirSync(join(d, "bin"), { recursive: true });
      const bin = join(d, "bin", "node");
      const said = { name: "node", version: "v20.19.0", platform: "linux", arch: "x64", glibc: "2.36", glibcCompiler: "2.28", ...answer };
      writeFileSync(bin, `#!/bin/sh\necho '${JSON.stringify(said)}'\n`, { mode: 0o755 });
      if (license) writeFileSync(join(d, "LICENSE"), `license of ${name}\n`);
      return bin;
    };
    const src = () => checkout("checkout-fakes");

    it.each<[string, Record<string, unknown>, RegExp]>([
      ["macOS", { platform: "darwin", arch: "arm64" }, /darwin-arm64\) is not a Linux build; the hypervisors need one: build the release on Linux/],
      ["too old", { version: "v20.11.1" }, /v20\.11\.1 linux-x64\) is too old: Ballast needs Node >= 20\.19/],
      ["Debian 12's", { version: "v18.19.0" }, /too old/],
      ["musl", { glibc: null, glibcCompiler: null }, /is not a glibc build \(musl\?\)/],
      ["not Node.js", { name: "bun" }, /is not Node\.js/],
    ])("refuses %s", async (name, answer, message) => {
      await expect(buildRelease(src(), join(dir, "out-fakes"), { node: fake(name, answer) })).rejects.toThrow(message);
    });

    it("refuses one without a license file, and one that is not there", async () => {
      await expect(buildRelease(src(), join(dir, "out-fakes"), { node: fake("unlicensed", {}, false) })).rejects.toThrow(
        /cannot find the license of the Node runtime to ship .*: looked at .*unlicensed\/LICENSE/,
      );
      await expect(buildRelease(src(), join(dir, "out-fakes"), { node: join(dir, "nowhere", "node") })).rejects.toThrow(/nowhere\/node, is not there/);
    });

    it("is reproducible with the runtime, which is part of the release id; node: null ships none", async () => {
      const node = fake("v20.19.0", {});
      const a = await buildRelease(src(), join(dir, "out-fakes"), { node });
      const b = await buildRelease(src(), join(dir, "out-fakes"), { node });
      expect(b.sha256).toBe(a.sha256);
      expect(a.runtime).toMatchObject({ version: "v20.19.0", arch: "x64", glibc: "2.28", sha256: sha256File(node) });
      writeFileSync(node, readFileSync(node, "utf8") + "# another build\n");
      expect((await buildRelease(src(), join(dir, "out-fakes"), { node })).sha256).not.toBe(a.sha256);
      const none = await buildRelease(src(), join(dir, "out-fakes"), { node: null });
      expect(none.runtime).toBeUndefined();
      expect(none.entries).not.toContain("runtime");
      expect(listing(none.path).some((f) => f.name?.startsWith("runtime"))).toBe(false);
      // Nothing of the staging is left behind.
      expect(execFileSync("ls", ["-A", join(dir, "out-fakes")], { encoding: "utf8" })).not.toMatch(/^\./m);
    });
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
