import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseInventory, resolveHosts, type HostTarget } from "../../../deploy/installer/inventory.js";
import { parseProbe } from "../../../deploy/installer/plan.js";
import {
  asRoot,
  installReleaseScript,
  probeScript,
  pruneScript,
  restoreFileScript,
  switchScript,
  writeFileScript,
} from "../../../deploy/installer/remote-script.js";

// The remote scripts run here with the local sh against temp dirs: same text as over SSH.
const sh = (script: string) => spawnSync("sh", ["-c", script], { encoding: "utf8" });
const group = execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();

describe("remote scripts", () => {
  let dir: string;
  let t: HostTarget;
  let tarball: string;
  let sha: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-scripts-"));
    mkdirSync(join(dir, "src", "bin"), { recursive: true });
    writeFileSync(join(dir, "src", "bin", "ballast"), "#!/bin/sh\n", { mode: 0o755 });
    tarball = join(dir, "r.tar.gz");
    execFileSync("tar", ["-czf", tarball, "-C", join(dir, "src"), "bin"]);
    sha = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    const inv = parseInventory({
      defaults: {
        service_group: group,
        paths: { prefix: join(dir, "opt"), config_dir: join(dir, "etc"), unit_dir: join(dir, "units") },
        service_manager: { systemctl: "true" },
        agent: { driver: "sim" },
      },
      verify: { enabled: false },
      hosts: [{ host: "hv-a", ssh: "127.0.0.1" }],
    });
    t = resolveHosts(inv, dir)[0]!;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("installs a release atomically and refuses a tarball with the wrong sha256", () => {
    const bad = sh(installReleaseScript(t, "f".repeat(64), tarball));
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/does not match sha256/);
    expect(existsSync(join(dir, "opt", "releases", "f".repeat(64)))).toBe(false);
    const ok = sh(installReleaseScript(t, sha, tarball));
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const rel = join(dir, "opt", "releases", sha);
    expect(readFileSync(join(rel, ".ballast-release"), "utf8")).toBe(`${sha}\n`);
    expect(statSync(join(rel, "bin", "ballast")).mode & 0o111).toBeTruthy();
    expect(execFileSync("ls", ["-A", join(dir, "opt", "releases")], { encoding: "utf8" }).trim()).toBe(sha);
    expect(sh(installReleaseScript(t, sha, tarball)).status).toBe(0);
  });

  it("switches current with a rename and refuses a missing release", () => {
    expect(sh(switchScript(t, sha)).status).toBe(0);
    expect(readlinkSync(join(dir, "opt", "current"))).toBe(`releases/${sha}`);
    expect(sh(switchScript(t, "e".repeat(64))).status).not.toBe(0);
    expect(readlinkSync(join(dir, "opt", "current"))).toBe(`releases/${sha}`);
  });

  it("writes a file atomically with mode and group, and restores or removes it", () => {
    const src = join(dir, "new.yaml");
    const dest = join(dir, "etc", "agent.yaml");
    writeFileSync(src, "one\n");
    expect(sh(writeFileScript(src, dest, "0640", "root", group, { makeDir: { mode: "0750", group } })).status).toBe(0);
    expect(statSync(dest).mode & 0o777).toBe(0o640);
    expect(statSync(join(dir, "etc")).mode & 0o777).toBe(0o750);
    writeFileSync(src, "two\n");
    expect(sh(writeFileScript(src, dest, "0640", "root", group)).status).toBe(0);
    expect(readFileSync(dest, "utf8")).toBe("two\n");
    expect(sh(restoreFileScript(dest, true)).status).toBe(0);
    expect(readFileSync(dest, "utf8")).toBe("one\n");
    expect(existsSync(`${dest}.ballast-prev`)).toBe(false);
    expect(sh(restoreFileScript(dest, false)).status).toBe(0);
    expect(existsSync(dest)).toBe(false);
  });

  it("probes without changing anything", () => {
    const r = sh(probeScript(t, sha, "root"));
    expect(r.status).toBe(0);
    const p = parseProbe(r.stdout);
    expect(p).toMatchObject({
      virsh: "not-needed",
      groupExists: true,
      userExists: true,
      sysusersSha: undefined,
      current: `releases/${sha}`,
      releasePresent: true,
      configSha: undefined,
      unitSha: undefined,
    });
    expect(p.node).toMatch(/^v\d+\./);
  });

  it("prunes old releases but never the protected ones", () => {
    const rels = join(dir, "opt", "releases");
    const names = ["1", "2", "3", "4"].map((c) => c.repeat(64));
    names.forEach((n, i) => {
      mkdirSync(join(rels, n));
      utimesSync(join(rels, n), 1000 + i, 1000 + i);
    });
    mkdirSync(join(rels, ".incoming-x"));
    const r = sh(pruneScript(t, [sha, names[0]!], 2));
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([names[1]]);
    expect(execFileSync("ls", ["-A", rels], { encoding: "utf8" }).trim().split("\n").sort()).toEqual([".incoming-x", names[0], names[2], names[3], sha].sort());
  });

  it("wraps scripts for sudo without letting them out of their quotes", () => {
    const sudo = { ...t, become: "sudo" as const };
    expect(asRoot(sudo, "echo 'x'")).toBe(`sudo -n -- sh -c 'echo '\\''x'\\'''`);
    expect(sh(asRoot(t, "printf '%s' \"$(echo ok)\"")).stdout).toBe("ok");
  });
});
