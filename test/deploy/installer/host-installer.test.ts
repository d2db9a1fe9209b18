import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installHost, type HostContext } from "../../../deploy/installer/host-installer.js";
import { parseInventory, resolveHosts, type HostTarget } from "../../../deploy/installer/inventory.js";
import type { ExecResult, RemoteHost } from "../../../deploy/installer/ssh-remote.js";
import type { AgentPinger } from "../../../deploy/installer/verify.js";
import { standInPid, stopStandIn, writeSystemctlStandIn } from "./ssh-fixture.js";

// The executor with a RemoteHost that runs commands on this machine (no SSH): first installs,
// rollbacks without a previous release, failures on unchanged hosts.
class LocalRemote implements RemoteHost {
  exec(command: string): Promise<ExecResult> {
    return new Promise((resolve) => {
      const c = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      c.stdout.on("data", (d) => (stdout += String(d)));
      c.stderr.on("data", (d) => (stderr += String(d)));
      c.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }
  async upload(local: string, remote: string) {
    copyFileSync(local, remote);
  }
  async writeFile(remote: string, content: string) {
    writeFileSync(remote, content, { mode: 0o600 });
  }
  close() {}
}

const pinger = (ok: boolean): AgentPinger => ({
  ping: async (host) =>
    ok ? { ok: true, pong: { host, ts: 0, agentVersion: "0.1.0", driver: "sim" }, afterMs: 1 } : { ok: false, error: "agent did not answer (test)" },
  close: async () => undefined,
});

describe("installHost (local remote)", () => {
  let dir: string;
  let t: HostTarget;
  let ctx: HostContext;
  const group = execFileSync("id", ["-gn"], { encoding: "utf8" }).trim();
  const uid = process.getuid?.() ?? -1;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-installer-"));
    mkdirSync(join(dir, "src", "bin"), { recursive: true });
    // The "agent": sleeps until stopped.
    writeFileSync(join(dir, "src", "bin", "ballast"), "#!/bin/sh\nexec sleep 300\n", { mode: 0o755 });
    const tarball = join(dir, "r.tar.gz");
    execFileSync("tar", ["-czf", tarball, "-C", join(dir, "src"), "bin"]);
    writeSystemctlStandIn(join(dir, "systemctl"), join(dir, "units"), join(dir, "state"));
    mkdirSync(join(dir, "sysroot", "etc"), { recursive: true });
    writeFileSync(join(dir, "sysusers"), `#!/bin/sh\nexec systemd-sysusers --root=${join(dir, "sysroot")} "$@"\n`, { mode: 0o755 });
    const inv = parseInventory({
      defaults: {
        service_group: group,
        paths: { prefix: join(dir, "opt"), config_dir: join(dir, "etc"), unit_dir: join(dir, "units"), sysusers_dir: join(dir, "sysusers.d") },
        // The real systemd-sysusers, creating users in a root of its own, not this machine's.
        service_manager: { systemctl: join(dir, "systemctl"), sysusers: join(dir, "sysusers") },
        agent: { driver: "sim" },
      },
      verify: { enabled: false },
      hosts: [{ host: "hv-a", ssh: "127.0.0.1" }],
    });
    t = resolveHosts(inv, dir)[0]!;
    ctx = {
      releaseSha: createHash("sha256").update(readFileSync(tarball)).digest("hex"),
      tarball,
      minNode: [20, 0],
      unitText: (h) => `[Service]\nUser=root\nExecStart=${h.paths.prefix}/current/bin/ballast agent --config ${h.paths.config_dir}/agent.yaml\n`,
      sysusersText: () => `u ballast-it - "installer test" /nonexistent\n`,
      dryRun: false,
      verifyTimeoutMs: 1000,
      pinger: undefined,
      connect: async () => new LocalRemote(),
    };
  });
  afterAll(() => {
    stopStandIn(join(dir, "state"));
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(uid !== 0)("a first install whose agent does not answer is removed again, and says so", async () => {
    const r = await installHost(t, { ...ctx, pinger: pinger(false) });
    expect(r.status).toBe("failed");
    expect(r.failure).toMatchObject({ step: "verify", phase: "after-switch", message: "agent did not answer (test)" });
    expect(r.rollback).toMatchObject({ ok: true, to: undefined });
    expect(r.rollback?.detail).toMatch(
      /current symlink removed \(first install\), agent\.yaml removed, unit removed, agent stopped \(it was not running before\), unit disabled again/,
    );
    expect(existsSync(join(dir, "opt", "current"))).toBe(false);
    expect(existsSync(join(dir, "etc", "agent.yaml"))).toBe(false);
    expect(standInPid(join(dir, "state"))).toBeUndefined();
    expect(r.state).toMatch(/ROLLED BACK/);
  });

  it.skipIf(uid !== 0)("installs, then a failing check on an unchanged host changes nothing", async () => {
    const first = await installHost(t, { ...ctx, pinger: pinger(true) });
    expect(first.status).toBe("changed");
    // The first test's rolled-back install kept its sysusers.d file and the user it made.
    expect(first.actions).not.toContain("create-user");
    expect(readFileSync(join(dir, "sysroot", "etc", "passwd"), "utf8")).toMatch(/^ballast-it:/m);
    expect(first.verified).toBe(true);
    const pid = standInPid(join(dir, "state"));
    expect(pid).toBeGreaterThan(0);
    const again = await installHost(t, { ...ctx, pinger: pinger(false) });
    expect(again.status).toBe("failed");
    expect(again.actions).toEqual([]);
    expect(again.failure?.phase).toBe("before-switch");
    expect(again.rollback).toBeUndefined();
    expect(standInPid(join(dir, "state"))).toBe(pid);
  });

  it.skipIf(uid !== 0)("a failing systemctl restart is reported with its stderr and rolled back", async () => {
    const sc = join(dir, "systemctl");
    copyFileSync(sc, `${sc}.orig`);
    // This restart fails once (then the real stand-in is back), like a unit that does not start.
    const failOnce = `#!/bin/sh\nif [ "$1" = restart ]; then cp '${sc}.orig' '${sc}'; echo "Job for $2 failed because the control process exited with error code." >&2; exit 1; fi\nexec '${sc}.orig' "$@"\n`;
    const pid = standInPid(join(dir, "state"));
    const changed = { ...t, agentYaml: t.agentYaml + "interval: 3\n" };
    const r = await installHost(changed, {
      ...ctx,
      beforeAction: (_h, a) => {
        if (a === "restart") writeFileSync(sc, failOnce, { mode: 0o755 });
      },
    });
    expect(r.failure).toMatchObject({ step: "restart", phase: "after-switch", exitCode: 1 });
    expect(r.failure?.stderr).toMatch(/Job for ballast-agent.service failed/);
    expect(r.rollback).toMatchObject({ ok: true, to: ctx.releaseSha });
    expect(r.rollback?.detail).toMatch(/agent\.yaml restored, agent restarted/);
    expect(readFileSync(join(dir, "etc", "agent.yaml"), "utf8")).toBe(t.agentYaml);
    expect(standInPid(join(dir, "state"))).not.toBe(pid);
  });

  it.skipIf(uid !== 0)("a rollback that fails says the host may be half-installed", async () => {
    const changed = { ...t, agentYaml: t.agentYaml + "interval: 4\n" };
    // The unit loses its ExecStart behind the installer's back: neither restart can work.
    const r = await installHost(changed, {
      ...ctx,
      beforeAction: (_h, a) => {
        if (a === "restart") writeFileSync(join(dir, "units", t.unitName), "[Service]\n");
      },
    });
    expect(r.failure?.step).toBe("restart");
    expect(r.rollback?.ok).toBe(false);
    expect(r.state).toMatch(/ROLLBACK FAILED: .*no ExecStart.*half-installed/);
    expect(readFileSync(join(dir, "etc", "agent.yaml"), "utf8")).toBe(t.agentYaml);
  });

  it("a dry run of a host lists what it would do", async () => {
    const r = await installHost({ ...t, id: "hv-b", paths: { ...t.paths, prefix: join(dir, "other") } }, { ...ctx, dryRun: true });
    expect(r.steps.find((s) => s.step === "upload-release")?.status).toBe("would-do");
    expect(existsSync(join(dir, "other"))).toBe(false);
  });
});
