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

  it("runs the release's Node runtime before installing it, and refuses a release whose runtime does not run here", () => {
    const make = (name: string, node: string) => {
      const src = join(dir, name);
      mkdirSync(join(src, "bin"), { recursive: true });
      mkdirSync(join(src, "runtime", "bin"), { recursive: true });
      writeFileSync(join(src, "bin", "ballast"), "#!/bin/sh\n", { mode: 0o755 });
      writeFileSync(join(src, "runtime", "bin", "node"), node, { mode: 0o755 });
      const tgz = join(dir, `${name}.tar.gz`);
      execFileSync("tar", ["-czf", tgz, "-C", src, "bin", "runtime"]);
      return { tgz, sha: createHash("sha256").update(readFileSync(tgz)).digest("hex") };
    };
    // A stand-in that prints what `node -p` would, so the script's own parsing is what is tested.
    const good = make("with-runtime", `#!/bin/sh\n[ "$1" = -p ] || exit 9\necho 'v20.20.2 linux-x64'\n`);
    const ok = sh(installReleaseScript(t, good.sha, good.tgz));
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe("runtime=v20.20.2 linux-x64\n");
    expect(existsSync(join(dir, "opt", "releases", good.sha, "runtime", "bin", "node"))).toBe(true);
    // As an x64 binary on an arm64 host, or an old glibc, fails: the loader's message comes back.
    const bad = make("broken-runtime", "#!/bin/sh\necho 'node: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.99` not found' >&2\nexit 1\n");
    const refused = sh(installReleaseScript(t, bad.sha, bad.tgz));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr.trim().split("\n").pop()).toMatch(
      new RegExp(`^the Node runtime of release ${bad.sha.slice(0, 12)} does not run on this host \\(\\S+\\): node: .*GLIBC_2\\.99. not found$`),
    );
    expect(existsSync(join(dir, "opt", "releases", bad.sha))).toBe(false);
    expect(execFileSync("ls", ["-A", join(dir, "opt", "releases")], { encoding: "utf8" })).not.toMatch(/incoming/);
    rmSync(join(dir, "opt", "releases", good.sha), { recursive: true });
  });

  it("probes the platform and the runtime of the installed release", () => {
    const rel = join(dir, "opt", "releases", sha);
    mkdirSync(join(rel, "runtime", "bin"), { recursive: true });
    writeFileSync(join(rel, "runtime", "bin", "node"), "#!/bin/sh\necho v20.20.2\n", { mode: 0o755 });
    try {
      const p = parseProbe(sh(probeScript(t, sha, "root")).stdout);
      expect(p.arch).toBe(execFileSync("uname", ["-m"], { encoding: "utf8" }).trim());
      expect(p.libc).toMatch(/^glibc 2\.\d+$/);
      expect(p.currentRuntime).toBe("v20.20.2");
      writeFileSync(join(rel, "runtime", "bin", "node"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
      expect(parseProbe(sh(probeScript(t, sha, "root")).stdout).currentRuntime).toBe("broken");
    } finally {
      rmSync(join(rel, "runtime"), { recursive: true, force: true });
    }
    expect(parseProbe(sh(probeScript(t, sha, "root")).stdout).currentRuntime).toBeUndefined();
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
