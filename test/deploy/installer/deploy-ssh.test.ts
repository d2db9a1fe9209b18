import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import {
  deploy,
  runDeploy,
  parseInventory,
  buildRelease,
  checkoutRoot,
  NatsPinger,
  type Release,
  type InventoryInput,
  type DeployReport,
} from "../../../deploy/installer/index.js";
import { freePort, startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";
import { generateCredentials } from "../../../deploy/tools/credentials.js";
import { keygen, sshdAvailable, standInPid, startSshd, stopStandIn, writeSystemctlStandIn, type SshdHandle } from "./ssh-fixture.js";

// The installer against a REAL OpenSSH server on 127.0.0.1 (its own port, keys and config) and a
// REAL nats-server. "Hypervisors" hv-1 and hv-2 are two install roots on this machine reached
// through that sshd; a stand-in systemctl runs the installed unit's ExecStart, which is the real
// agent (driver: sim) from the release tarball built from this checkout.

const root = checkoutRoot();
const canRun = sshdAvailable() && existsSync(join(root, "dist", "cli", "main.js")) && process.getuid?.() === 0;
if (!canRun) {
  // Loud, never silent: say what is missing.
  console.warn(
    "SKIPPING installer SSH integration test: needs root, /usr/sbin/sshd (Debian package openssh-server), ssh-keygen and a built checkout (npm run build)",
  );
}

describe.skipIf(!canRun)("ballast deploy over real SSH", () => {
  let dir: string;
  let sshd: SshdHandle;
  let nats: NatsServerHandle;
  let release: Release;
  let userKey: string;
  let wrongKey: string;
  let knownHosts: string;
  let closedPort: number;
  const hostDir = (h: string) => join(dir, "hosts", h);
  // The installer creates the real `ballast` user and group on this machine (it is both
  // "hypervisors"); the test removes them again only when they were not there before.
  const exists = (db: "passwd" | "group") => spawnSync("getent", [db, "ballast"]).status === 0;
  const hadUser = exists("passwd");
  const hadGroup = exists("group");
  const state = (h: string) => join(hostDir(h), "state");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-deploy-it-"));
    userKey = keygen(join(dir, "id_user")).privateKey;
    wrongKey = keygen(join(dir, "id_wrong")).privateKey;
    sshd = await startSshd(join(dir, "sshd"), [readFileSync(`${userKey}.pub`, "utf8").trim()]);
    knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, sshd.knownHostsLine + "\n");
    nats = await startNatsServer();
    closedPort = await freePort();
    for (const h of ["hv-1", "hv-2"]) {
      mkdirSync(join(hostDir(h), "units"), { recursive: true });
      writeSystemctlStandIn(join(hostDir(h), "systemctl"), join(hostDir(h), "units"), state(h));
    }
    release = await buildRelease(root, join(dir, "releases"));
  }, 180_000);

  afterAll(async () => {
    for (const h of ["hv-1", "hv-2"]) if (dir) stopStandIn(state(h));
    await sshd?.stop();
    await nats?.stop();
    if (!hadUser && exists("passwd")) spawnSync("userdel", ["ballast"]);
    if (!hadGroup && exists("group")) spawnSync("groupdel", ["ballast"]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function inventory(
    opts: {
      hosts?: string[];
      agent?: Record<string, unknown>;
      verifyTimeout?: number;
      knownHostsFile?: string;
      acceptNew?: boolean;
      credentialsDir?: string;
    } = {},
  ): InventoryInput {
    const all = {
      "hv-1": { host: "hv-1", ssh: "127.0.0.1", port: sshd.port },
      "hv-2": { host: "hv-2", ssh: "127.0.0.1", port: sshd.port },
      "hv-badkey": { host: "hv-badkey", ssh: "127.0.0.1", port: sshd.port, private_key: wrongKey },
      "hv-closed": { host: "hv-closed", ssh: "127.0.0.1", port: closedPort },
    } as const;
    const names = opts.hosts ?? ["hv-1", "hv-2"];
    return {
      defaults: {
        ssh: {
          user: "root",
          private_key: userKey,
          known_hosts: opts.knownHostsFile ?? knownHosts,
          insecure_accept_new: opts.acceptNew ?? false,
          connect_timeout: 5,
        },
        // The unit's own user and group, created by the installer with the real systemd-sysusers.
        service_group: "ballast",
        ...(opts.credentialsDir ? { credentials_dir: opts.credentialsDir } : {}),
        nats: { servers: [nats.url] },
        agent: { driver: "sim", heartbeat_interval: 1, interval: 2, log_level: "warn", ...(opts.agent ?? {}) },
      },
      verify: { timeout: opts.verifyTimeout ?? 30 },
      hosts: names.map((n) => {
        const h = all[n as keyof typeof all];
        const local =
          n.startsWith("hv-") && existsSync(hostDir(n))
            ? {
                paths: {
                  prefix: join(hostDir(n), "opt"),
                  config_dir: join(hostDir(n), "etc"),
                  unit_dir: join(hostDir(n), "units"),
                  sysusers_dir: join(hostDir(n), "sysusers"),
                },
                service_manager: { systemctl: join(hostDir(n), "systemctl") },
              }
            : {};
        return { ...h, ...local };
      }),
    };
  }

  const run = (inv: InventoryInput, o: { dryRun?: boolean; release?: Release } = {}): Promise<DeployReport> =>
    deploy(parseInventory(inv), dir, { root, release: o.release ?? release, dryRun: o.dryRun ?? false });
  const host = (r: DeployReport, id: string) => {
    const h = r.hosts.find((x) => x.host === id);
    if (!h) throw new Error(`no report for ${id}`);
    return h;
  };
  const current = (h: string) => readlinkSync(join(hostDir(h), "opt", "current"));
  const fingerprintOf = (h: string) => {
    const files = [join(hostDir(h), "etc", "agent.yaml"), join(hostDir(h), "units", "ballast-agent.service"), join(hostDir(h), "sysusers", "ballast.conf")];
    return JSON.stringify([
      current(h),
      ...files.map((f) => [statSync(f).mtimeMs, createHash("sha256").update(readFileSync(f)).digest("hex")]),
      standInPid(state(h)),
    ]);
  };
  async function ping(h: string): Promise<boolean> {
    const p = new NatsPinger({ servers: [nats.url], request_timeout: 5 });
    try {
      return (await p.ping(h, 5000)).ok;
    } finally {
      await p.close();
    }
  }

  it("installs on reachable hosts, reports unreachable ones with a clear message", async () => {
    const r = await run(inventory({ hosts: ["hv-1", "hv-2", "hv-badkey", "hv-closed"] }));
    expect(r.ok).toBe(false);
    for (const h of ["hv-1", "hv-2"]) {
      const hr = host(r, h);
      expect(hr.status, JSON.stringify(hr, null, 2)).toBe("changed");
      expect(hr.verified).toBe(true);
      expect(hr.actions).toEqual([
        "upload-release",
        "extract-release",
        "create-user",
        "write-config",
        "write-unit",
        "switch-release",
        "daemon-reload",
        "enable",
        "restart",
      ]);
      expect(readFileSync(join(hostDir(h), "sysusers", "ballast.conf"), "utf8")).toMatch(/^u\s+ballast\s/m);
      expect(statSync(join(hostDir(h), "etc", "agent.yaml")).gid).toBe(
        Number(execFileSync("getent", ["group", "ballast"], { encoding: "utf8" }).split(":")[2]),
      );
      expect(current(h)).toBe(`releases/${release.sha256}`);
      expect(existsSync(join(hostDir(h), "opt", "releases", release.sha256, "dist", "cli", "main.js"))).toBe(true);
      expect(statSync(join(hostDir(h), "etc", "agent.yaml")).mode & 0o777).toBe(0o640);
      expect(readFileSync(join(hostDir(h), "units", "ballast-agent.service"), "utf8")).toContain(
        `ExecStart=${join(hostDir(h), "opt")}/current/bin/ballast agent --config ${join(hostDir(h), "etc")}/agent.yaml`,
      );
      expect(standInPid(state(h))).toBeGreaterThan(0);
      expect(await ping(h)).toBe(true);
    }
    const bad = host(r, "hv-badkey");
    expect(bad.status).toBe("failed");
    expect(bad.failure?.step).toBe("connect");
    expect(bad.failure?.message).toMatch(/authentication as root failed/);
    expect(bad.state).toMatch(/not reached; nothing was changed/);
    const closed = host(r, "hv-closed");
    expect(closed.status).toBe("failed");
    expect(closed.failure?.message).toMatch(/connection refused/);
  }, 180_000);

  it("a second run is unchanged and restarts nothing", async () => {
    const before = ["hv-1", "hv-2"].map(fingerprintOf);
    const calls = readFileSync(join(state("hv-1"), "calls.log"), "utf8");
    const r = await run(inventory());
    expect(r.ok).toBe(true);
    for (const h of ["hv-1", "hv-2"]) {
      expect(host(r, h).status).toBe("unchanged");
      expect(host(r, h).actions).toEqual([]);
      expect(host(r, h).verified).toBe(true);
    }
    expect(["hv-1", "hv-2"].map(fingerprintOf)).toEqual(before);
    const newCalls = readFileSync(join(state("hv-1"), "calls.log"), "utf8").slice(calls.length);
    expect(newCalls).not.toMatch(/^(restart|start|stop|enable|disable|daemon-reload) /m);
    expect(newCalls).toMatch(/^is-active /m);
  }, 120_000);

  it("--dry-run reports what would change and changes nothing", async () => {
    const before = fingerprintOf("hv-1");
    const same = await run(inventory({ hosts: ["hv-1"] }), { dryRun: true });
    expect(host(same, "hv-1").status).toBe("unchanged");
    const r = await run(inventory({ hosts: ["hv-1"], agent: { interval: 3 } }), { dryRun: true });
    const hr = host(r, "hv-1");
    expect(hr.status).toBe("would-change");
    expect(hr.actions).toEqual(["write-config", "restart"]);
    expect(hr.steps.filter((s) => s.status === "would-do").map((s) => s.step)).toEqual(["write-config", "restart"]);
    expect(hr.verified).toBeUndefined();
    expect(fingerprintOf("hv-1")).toBe(before);
  }, 60_000);

  it("a config change rewrites agent.yaml and restarts only that host", async () => {
    const pid1 = standInPid(state("hv-1"));
    const pid2 = standInPid(state("hv-2"));
    const inv = inventory();
    (inv.hosts[0] as { agent?: Record<string, unknown> }).agent = { interval: 3 };
    const r = await run(inv);
    expect(host(r, "hv-1").actions).toEqual(["write-config", "restart"]);
    expect(host(r, "hv-1").verified).toBe(true);
    expect(host(r, "hv-2").status).toBe("unchanged");
    expect(standInPid(state("hv-1"))).not.toBe(pid1);
    expect(standInPid(state("hv-2"))).toBe(pid2);
    expect(readFileSync(join(hostDir("hv-1"), "etc", "agent.yaml"), "utf8")).toMatch(/interval: 3/);
    expect(existsSync(join(hostDir("hv-1"), "etc", "agent.yaml.ballast-prev"))).toBe(false);
  }, 120_000);

  it("a failure after the switch (the new release does not answer) rolls back to the previous release", async () => {
    // A release whose agent dies at once: the installer switches, restarts, the ping fails.
    const bad = join(dir, "bad-release");
    mkdirSync(join(bad, "bin"), { recursive: true });
    writeFileSync(join(bad, "bin", "ballast"), "#!/bin/sh\necho 'broken release' >&2\nexit 1\n", { mode: 0o755 });
    writeFileSync(join(bad, "package.json"), "{}\n");
    const tarball = join(dir, "bad.tar.gz");
    execFileSync("tar", ["-czf", tarball, "-C", bad, "bin", "package.json"]);
    const sha = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    const badRelease: Release = { path: tarball, sha256: sha, bytes: statSync(tarball).size, entries: ["bin", "package.json"], nodeEngine: ">=20" };
    const r = await run(inventory({ hosts: ["hv-2"], verifyTimeout: 4 }), { release: badRelease });
    const hr = host(r, "hv-2");
    expect(hr.status).toBe("failed");
    expect(hr.failure?.step).toBe("verify");
    expect(hr.failure?.phase).toBe("after-switch");
    expect(hr.rollback?.ok, JSON.stringify(hr, null, 2)).toBe(true);
    expect(hr.rollback?.to).toBe(release.sha256);
    expect(hr.rollback?.verified).toBe(true);
    expect(hr.state).toMatch(/ROLLED BACK/);
    expect(current("hv-2")).toBe(`releases/${release.sha256}`);
    expect(await ping("hv-2")).toBe(true);
    // The bad release stays on disk (content-addressed) but is not current.
    expect(existsSync(join(hostDir("hv-2"), "opt", "releases", sha))).toBe(true);
  }, 120_000);

  it("a failure before the switch leaves the old release running and says so", async () => {
    const pid = standInPid(state("hv-1"));
    const lying: Release = { ...release, sha256: "0".repeat(64) };
    const r = await run(inventory({ hosts: ["hv-1"] }), { release: lying });
    const hr = host(r, "hv-1");
    expect(hr.status).toBe("failed");
    expect(hr.failure?.step).toBe("extract-release");
    expect(hr.failure?.phase).toBe("before-switch");
    expect(hr.failure?.stderr).toMatch(/does not match sha256/);
    expect(hr.state).toMatch(/previous release .* keeps running/);
    expect(hr.rollback).toBeUndefined();
    expect(current("hv-1")).toBe(`releases/${release.sha256}`);
    expect(standInPid(state("hv-1"))).toBe(pid);
    expect(existsSync(join(hostDir("hv-1"), "opt", "releases", "0".repeat(64)))).toBe(false);
  }, 60_000);

  it("host keys are checked strictly; insecure_accept_new records an unknown key", async () => {
    const empty = join(dir, "known_hosts_empty");
    writeFileSync(empty, "");
    const strict = await run(inventory({ hosts: ["hv-1"], knownHostsFile: empty }), { dryRun: true });
    expect(host(strict, "hv-1").failure?.message).toMatch(/unknown host key for \[127\.0\.0\.1\]:\d+: ssh-ed25519 SHA256:/);
    const wrong = join(dir, "known_hosts_wrong");
    const other = keygen(join(dir, "other_host_key")).publicKey.split(" ");
    writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${other[0]} ${other[1]}\n`);
    const mitm = await run(inventory({ hosts: ["hv-1"], knownHostsFile: wrong, acceptNew: true }), { dryRun: true });
    expect(host(mitm, "hv-1").failure?.message).toMatch(/HOST KEY MISMATCH/);
    const accepted = await run(inventory({ hosts: ["hv-1"], knownHostsFile: empty, acceptNew: true }), { dryRun: true });
    expect(host(accepted, "hv-1").failure).toBeUndefined();
    expect(
      host(accepted, "hv-1")
        .steps.map((x) => x.step)
        .slice(0, 3),
    ).toEqual(["connect", "probe", "prerequisites"]);
    expect(readFileSync(empty, "utf8")).toBe(sshd.knownHostsLine + "\n");
  }, 60_000);

  it("the inventory round-trips through a YAML file and the report renders", async () => {
    const file = join(dir, "inventory.yaml");
    writeFileSync(file, toYaml(inventory({ hosts: ["hv-2"] })));
    const lines: string[] = [];
    const code = await runDeploy({ inventory: file, dryRun: true }, { out: (s) => lines.push(s), err: (s) => lines.push(s) }, { root, release });
    expect(code).toBe(0);
    expect(lines.join("\n")).toMatch(/hv-2 +root@127\.0\.0\.1:\d+ +UNCHANGED/);
  }, 60_000);
  it("ships each host's NATS seed from credentials_dir (ballast-owned, 0600), once; a missing seed stops the deploy before any host", async () => {
    const creds = join(dir, "creds");
    generateCredentials({ outDir: creds, agents: ["hv-1", "hv-2"], orchestrators: ["main"], operators: [], readonly: [] });
    const seedAt = (h: string) => join(hostDir(h), "etc", "creds", `agent-${h}.nk`);
    const withSeeds = () =>
      inventory({ credentialsDir: creds, agent: { nats: { nkey_seed_file: join(dir, "hosts", "{host}", "etc", "creds", "agent-{host}.nk") } } });
    const r = await run(withSeeds());
    expect(r.ok, JSON.stringify(r, null, 2)).toBe(true);
    const ballastUid = Number(execFileSync("id", ["-u", "ballast"], { encoding: "utf8" }).trim());
    for (const h of ["hv-1", "hv-2"]) {
      expect(host(r, h).actions).toEqual(["write-config", "write-seed", "restart"]);
      expect(host(r, h).verified).toBe(true);
      expect(readFileSync(seedAt(h), "utf8")).toBe(readFileSync(join(creds, `agent-${h}.nk`), "utf8"));
      expect(statSync(seedAt(h)).mode & 0o777).toBe(0o600);
      expect(statSync(seedAt(h)).uid).toBe(ballastUid);
      expect(statSync(join(hostDir(h), "etc", "creds")).mode & 0o777).toBe(0o750);
    }
    const again = await run(withSeeds());
    for (const h of ["hv-1", "hv-2"]) expect(host(again, h).actions).toEqual([]);
    // The report never carries a seed.
    expect(JSON.stringify(again)).not.toMatch(/SU[A-Z2-7]{56}/);

    rmSync(join(creds, "agent-hv-2.nk"));
    const before = ["hv-1", "hv-2"].map(fingerprintOf);
    await expect(run(withSeeds())).rejects.toThrow(/host "hv-2"\): cannot read its seed .*agent-hv-2\.nk.*ballast credentials/);
    expect(["hv-1", "hv-2"].map(fingerprintOf)).toEqual(before);
  }, 180_000);
});
