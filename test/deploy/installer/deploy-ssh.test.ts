import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { machine, tmpdir } from "node:os";
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
  renderDeployReport,
  resolveHosts,
  SshRemote,
  type Release,
  type InventoryInput,
  type DeployReport,
} from "../../../deploy/installer/index.js";
import { freePort, startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";
import { generateCredentials } from "../../../deploy/tools/credentials.js";
import { keygen, sshdAvailable, standInPid, startSshd, stopStandIn, withoutNodeUnavailable, writeSystemctlStandIn, type SshdHandle } from "./ssh-fixture.js";

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

// A hypervisor with only Debian 12's packages has no Node >= 20.19 (Debian's nodejs is 18.x): the
// same kind of real sshd, but in a mount namespace where no `node` exists at all (ssh-fixture.ts).
// The release carries the Node binary that built it; the installed agent must start on it and
// answer on NATS.
const noNodeReason = canRun ? withoutNodeUnavailable() : "see above";
if (canRun && noNodeReason !== undefined) console.warn(`SKIPPING the installer test on a host without Node: ${noNodeReason}`);

describe.skipIf(!canRun || noNodeReason !== undefined)("ballast deploy to a host without Node.js", () => {
  const H = "hv-bare";
  let dir: string;
  let sshd: SshdHandle;
  let nats: NatsServerHandle;
  let release: Release;
  let userKey: string;
  let knownHosts: string;
  const exists = (db: "passwd" | "group") => spawnSync("getent", [db, "ballast"]).status === 0;
  const hadUser = exists("passwd");
  const hadGroup = exists("group");
  const hostDir = () => join(dir, "hosts", H);
  const state = () => join(hostDir(), "state");
  const prefix = () => join(hostDir(), "opt");

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ballast-deploy-nonode-"));
    userKey = keygen(join(dir, "id_user")).privateKey;
    sshd = await startSshd(join(dir, "sshd"), [readFileSync(`${userKey}.pub`, "utf8").trim()], { withoutNode: true });
    knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, sshd.knownHostsLine + "\n");
    nats = await startNatsServer();
    mkdirSync(join(hostDir(), "units"), { recursive: true });
    writeSystemctlStandIn(join(hostDir(), "systemctl"), join(hostDir(), "units"), state());
    // Carries the Node binary running this test (process.execPath) as runtime/bin/node.
    release = await buildRelease(root, join(dir, "releases"));
  }, 180_000);

  afterAll(async () => {
    if (dir) stopStandIn(state());
    await sshd?.stop();
    await nats?.stop();
    if (!hadUser && exists("passwd")) spawnSync("userdel", ["ballast"]);
    if (!hadGroup && exists("group")) spawnSync("groupdel", ["ballast"]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const inventory = (verifyTimeout = 30): InventoryInput => ({
    defaults: {
      ssh: { user: "root", private_key: userKey, known_hosts: knownHosts, connect_timeout: 5 },
      service_group: "ballast",
      nats: { servers: [nats.url] },
      agent: { driver: "sim", heartbeat_interval: 1, interval: 2, log_level: "warn" },
    },
    verify: { timeout: verifyTimeout },
    hosts: [
      {
        host: H,
        ssh: "127.0.0.1",
        port: sshd.port,
        paths: { prefix: prefix(), config_dir: join(hostDir(), "etc"), unit_dir: join(hostDir(), "units"), sysusers_dir: join(hostDir(), "sysusers") },
        service_manager: { systemctl: join(hostDir(), "systemctl") },
      },
    ],
  });
  const run = (o: { release?: Release; verifyTimeout?: number } = {}) =>
    deploy(parseInventory(inventory(o.verifyTimeout)), dir, { root, release: o.release ?? release });
  const only = (r: DeployReport) => {
    expect(r.hosts).toHaveLength(1);
    return r.hosts[0]!;
  };
  const current = () => readlinkSync(join(prefix(), "current"));
  /** The binary the running agent process executes, as the kernel sees it. */
  const agentExe = () => {
    const pid = standInPid(state());
    expect(pid).toBeGreaterThan(0);
    return readlinkSync(`/proc/${pid}/exe`);
  };
  const shippedNode = (sha: string) => realpathSync(join(prefix(), "releases", sha, "runtime", "bin", "node"));
  const sha256File = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
  async function onHost(command: string) {
    const r = await SshRemote.connect(resolveHosts(parseInventory(inventory()), dir)[0]!, process.env);
    try {
      return await r.exec(command, { timeoutMs: 30_000 });
    } finally {
      r.close();
    }
  }
  async function ping(): Promise<boolean> {
    const p = new NatsPinger({ servers: [nats.url], request_timeout: 5 });
    try {
      return (await p.ping(H, 5000)).ok;
    } finally {
      await p.close();
    }
  }

  it("the host has no node; a release without a runtime of its own is refused there, untouched", async () => {
    const probe = await onHost(
      'for n in node nodejs; do command -v "$n" && echo "FOUND $n"; done; for f in /usr/bin/node /bin/node /usr/local/bin/node; do [ -e "$f" ] && echo "EXISTS $f"; done; echo "PATH=$PATH"',
    );
    expect(probe.code).toBe(0);
    expect(probe.stdout).not.toMatch(/FOUND|EXISTS/);
    expect(probe.stdout).toMatch(/^PATH=.*\/usr\/bin/m);
    const bare = await buildRelease(root, join(dir, "releases-bare"), { node: null });
    expect(bare.runtime).toBeUndefined();
    const hr = only(await run({ release: bare }));
    expect(hr.status).toBe("failed");
    expect(hr.failure?.step).toBe("prerequisites");
    expect(hr.failure?.message).toMatch(/Node\.js is not installed \(`node` not found in PATH\); Ballast needs Node >= 20\.19/);
    expect(existsSync(prefix())).toBe(false);
  }, 120_000);

  it("installs with the release's own Node; the agent starts on it and answers", async () => {
    const r = await run();
    const hr = only(r);
    expect(hr.status, JSON.stringify(hr.failure ?? hr.state)).toBe("changed");
    expect(release.runtime?.version).toBe(process.version);
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
    expect(hr.verified).toBe(true);
    expect(hr.runtime).toEqual({ source: "release", version: process.version, path: `${prefix()}/current/runtime/bin/node` });
    expect(hr.steps.find((s) => s.step === "extract-release")?.detail).toContain(`its Node runtime runs here: ${process.version} linux-${process.arch}`);
    expect(hr.platform).toEqual({ arch: machine(), libc: expect.stringMatching(/^glibc 2\.\d+$/) });
    expect(current()).toBe(`releases/${release.sha256}`);
    // The shipped binary is the build machine's, byte for byte, with its license beside it.
    expect(sha256File(shippedNode(release.sha256))).toBe(sha256File(process.execPath));
    expect(release.runtime?.sha256).toBe(sha256File(process.execPath));
    expect(readFileSync(join(prefix(), "current", "runtime", "LICENSE"), "utf8")).toMatch(/Node\.js is licensed/);
    // The unit is the usual one: bin/ballast picks runtime/bin/node itself.
    expect(readFileSync(join(hostDir(), "units", "ballast-agent.service"), "utf8")).toContain(
      `\nExecStart=${prefix()}/current/bin/ballast agent --config ${join(hostDir(), "etc")}/agent.yaml\n`,
    );
    expect(agentExe()).toBe(shippedNode(release.sha256));
    expect(await ping()).toBe(true);
    expect(renderDeployReport(r)).toMatch(
      new RegExp(`with Node ${process.version} linux-${process.arch}[\\s\\S]*${H} .* CHANGED +yes +node ${process.version} \\(release\\)`),
    );
  }, 180_000);

  it("a second run changes nothing and reports the runtime it found running", async () => {
    const pid = standInPid(state());
    const hr = only(await run());
    expect(hr.status).toBe("unchanged");
    expect(hr.actions).toEqual([]);
    expect(hr.verified).toBe(true);
    expect(hr.runtime).toEqual({ source: "release", version: process.version, path: `${prefix()}/current/runtime/bin/node` });
    expect(standInPid(state())).toBe(pid);
  }, 120_000);

  it("a new release that fails after the switch is rolled back; the previous one runs on its own Node again", async () => {
    // Its runtime starts (the check after extracting passes), its agent dies at once.
    const bad = join(dir, "bad-release");
    mkdirSync(join(bad, "bin"), { recursive: true });
    mkdirSync(join(bad, "runtime", "bin"), { recursive: true });
    writeFileSync(join(bad, "bin", "ballast"), "#!/bin/sh\necho 'broken release' >&2\nexit 1\n", { mode: 0o755 });
    writeFileSync(join(bad, "runtime", "bin", "node"), `#!/bin/sh\necho '${process.version} linux-${process.arch}'\n`, { mode: 0o755 });
    writeFileSync(join(bad, "package.json"), "{}\n");
    const tarball = join(dir, "bad.tar.gz");
    execFileSync("tar", ["-czf", tarball, "-C", bad, "bin", "package.json", "runtime"]);
    const sha = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    const badRelease: Release = {
      path: tarball,
      sha256: sha,
      bytes: statSync(tarball).size,
      entries: ["bin", "package.json", "runtime"],
      nodeEngine: ">=20.19",
      runtime: { ...release.runtime! },
    };
    const hr = only(await run({ release: badRelease, verifyTimeout: 4 }));
    expect(hr.status).toBe("failed");
    expect(hr.failure?.step).toBe("verify");
    expect(hr.failure?.phase).toBe("after-switch");
    expect(hr.rollback?.ok, JSON.stringify(hr, null, 2)).toBe(true);
    expect(hr.rollback?.to).toBe(release.sha256);
    expect(hr.rollback?.verified).toBe(true);
    expect(hr.runtime).toEqual({ source: "release", version: process.version, path: `${prefix()}/current/runtime/bin/node` });
    expect(current()).toBe(`releases/${release.sha256}`);
    expect(agentExe()).toBe(shippedNode(release.sha256));
    expect(await ping()).toBe(true);
  }, 120_000);

  it("refuses a host whose architecture is not the runtime's, naming both, before touching it", async () => {
    const pid = standInPid(state());
    const other = process.arch === "x64" ? "arm64" : "x64";
    const foreign: Release = { ...release, sha256: "e".repeat(64), runtime: { ...release.runtime!, arch: other } };
    const hr = only(await run({ release: foreign }));
    expect(hr.status).toBe("failed");
    expect(hr.failure?.step).toBe("prerequisites");
    expect(hr.failure?.message).toContain(
      `this host is ${machine()} (Node: ${process.arch}), but the release carries Node ${process.version} for ${other}, the architecture of the machine that built it`,
    );
    expect(hr.state).toMatch(/failed before switching: the previous release .* keeps running/);
    expect(hr.actions).toEqual([]);
    expect(existsSync(join(prefix(), "releases", "e".repeat(64)))).toBe(false);
    expect(current()).toBe(`releases/${release.sha256}`);
    expect(standInPid(state())).toBe(pid);
  }, 60_000);
});
