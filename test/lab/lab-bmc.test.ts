// Each lab hypervisor has a BMC (OpenIPMI's ipmi_sim) that the standard client, ipmitool over
// IPMI 2.0 lanplus, drives like a server's: power off is a power loss (libvirtd and the guests'
// QEMU die, the agent hook runs), power on boots the hypervisor again. Also a BMC that does not
// answer, a wrong password, and a host that does not come back. Skips LOUDLY when it cannot run.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bmcAvailable, ipmitoolArgs, labAvailable, labDown, labUp, type BmcInfo, type Lab } from "../support/lab.js";

const avail = labAvailable();
const bmcOk = avail.ok ? bmcAvailable() : avail;
if (!bmcOk.ok) console.warn(`[lab-bmc.test] SKIPPING the lab BMC tests: ${bmcOk.why}`);
const suite = bmcOk.ok ? describe : describe.skip;
const title = bmcOk.ok ? "lab BMCs (ipmi_sim + ipmitool)" : `lab BMCs: skipped because ${bmcOk.why}`;

const LAB = { name: "labbmc" };
const GUEST = "bmc-g1";

interface IpmiResult {
  code: number;
  out: string;
  ms: number;
}

function ipmitool(b: BmcInfo, command: string[], opts: { timeoutSec?: number; retries?: number; passwordFile?: string } = {}): Promise<IpmiResult> {
  const info = opts.passwordFile ? { ...b, passwordFile: opts.passwordFile } : b;
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile("ipmitool", ipmitoolArgs(info, command, opts), { timeout: 60_000, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code ?? 1) : 1) : 0;
      resolve({ code, out: `${String(stdout)}${String(stderr)}`.trim(), ms: Date.now() - t0 });
    });
  });
}

/** A process that exists and is not a zombie (this machine's PID 1 reaps late). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function powerIs(b: BmcInfo): Promise<string> {
  const r = await ipmitool(b, ["chassis", "power", "status"]);
  expect(r.code, r.out).toBe(0);
  return r.out;
}

suite(title, () => {
  let lab: Lab;
  const hookLog = () => join(lab.stateDir, "hooks.log");
  const hookCalls = () => (existsSync(hookLog()) ? readFileSync(hookLog(), "utf8").trim().split("\n") : []);

  beforeAll(async () => {
    try {
      lab = await labUp(LAB);
      await lab.bmcUp();
    } catch (e) {
      await labDown(LAB).catch(() => {});
      throw e;
    }
    // What the e2e harness does with its agents: hooks the BMC runs on power off / after boot.
    for (const [hv, what] of [
      ["hv-b", "stop"],
      ["hv-b", "start"],
    ] as const) {
      const hook = join(lab.stateDir, `agent-${hv}.${what}`);
      writeFileSync(hook, `#!/bin/sh\necho "${what} $1" >>'${hookLog()}'\n`, { mode: 0o700 });
    }
  }, 180_000);

  afterAll(async () => {
    const pids = lab ? (await Promise.all(lab.hosts.map((h) => lab.bmc(h.id).catch(() => null)))).map((b) => b?.pid) : [];
    await labDown(LAB);
    // down stops every BMC
    for (const pid of pids) if (pid) expect(running(pid), `ipmi_sim ${pid} still running after down`).toBe(false);
  }, 120_000);

  it("gives each hv its own BMC on loopback, listed in lab.json and status --json, password in a 0600 file", async () => {
    const bmcs = await Promise.all(lab.hosts.map((h) => lab.bmc(h.id)));
    expect(new Set(bmcs.map((b) => b.port)).size).toBe(3);
    for (const b of bmcs) {
      expect(b.address).toBe("127.0.0.1");
      expect(b.alive).toBe(true);
      expect(statSync(b.passwordFile).mode & 0o777).toBe(0o600);
      expect(readFileSync(b.passwordFile, "utf8")).toMatch(/^[0-9a-f]{16}$/);
    }
    const json = JSON.parse(readFileSync(join(lab.dir, "lab.json"), "utf8")) as { hosts: { id: string; bmc: { port: number } | null }[] };
    expect(json.hosts.map((h) => h.bmc?.port)).toEqual(bmcs.map((b) => b.port));
    const status = await lab.statusJson();
    expect(status.hosts.map((h) => h.bmc?.alive)).toEqual([true, true, true]);
    expect(status.hosts.map((h) => h.bmc?.pid)).toEqual(bmcs.map((b) => b.pid));
  });

  it("powers hv-b off like a power loss and boots it again, running the agent hooks", async () => {
    const b = await lab.bmc("hv-b");
    await lab.startGuest("hv-b", GUEST);
    const qemuPid = Number(readFileSync(join(lab.dir, "hv", "hv-b", "run", "libvirt", "qemu", `${GUEST}.pid`), "utf8").trim());
    const libvirtdPid = await lab.libvirtdPid("hv-b");
    expect(libvirtdPid).not.toBeNull();
    expect(running(qemuPid)).toBe(true);
    expect(await powerIs(b)).toBe("Chassis Power is on");

    const off = await ipmitool(b, ["chassis", "power", "off"]);
    expect(off.code, off.out).toBe(0);
    expect(off.out).toBe("Chassis Power Control: Down/Off");
    // the BMC answers at once (ipmi_sim waits for its chassis program; a slow one makes ipmitool resend)
    expect(off.ms).toBeLessThan(900);
    expect(await powerIs(b)).toBe("Chassis Power is off");
    await waitFor("libvirtd and QEMU of hv-b to die", () => !running(libvirtdPid!) && !running(qemuPid));
    expect(await lab.libvirtdPid("hv-b")).toBeNull();
    await expect(lab.virsh("hv-b", ["version"], 5000)).rejects.toThrow();
    await waitFor("the agent stop hook", () => hookCalls().includes("stop hv-b"));
    expect(hookCalls()).not.toContain("start hv-b");
    expect(await powerIs(b)).toBe("Chassis Power is off");
    // the other hypervisors did not notice
    expect(await lab.libvirtdPid("hv-a")).not.toBeNull();
    expect(await lab.libvirtdPid("hv-c")).not.toBeNull();

    const on = await ipmitool(b, ["chassis", "power", "on"]);
    expect(on.code, on.out).toBe(0);
    expect(on.out).toBe("Chassis Power Control: Up/On");
    expect(on.ms).toBeLessThan(900);
    expect(await powerIs(b)).toBe("Chassis Power is on");
    await waitFor(
      "hv-b's libvirtd to answer virsh",
      () =>
        lab.virsh("hv-b", ["version"], 5000).then(
          () => true,
          () => false,
        ),
      60_000,
    );
    await waitFor("the agent start hook", () => hookCalls().includes("start hv-b"));
    expect(hookCalls()).toEqual(["stop hv-b", "start hv-b"]);
    expect(await powerIs(b)).toBe("Chassis Power is on");
    // a power loss does not keep guests running: the persistent guest is back, shut off
    expect((await lab.virsh("hv-b", ["domstate", GUEST])).trim()).toBe("shut off");
    expect(running(qemuPid)).toBe(false);
    await lab.destroyGuest(GUEST);
  }, 120_000);

  it("refuses a wrong password", async () => {
    const b = await lab.bmc("hv-b");
    const wrong = join(lab.stateDir, "wrong-password");
    writeFileSync(wrong, "0000000000000000", { mode: 0o600 });
    const r = await ipmitool(b, ["chassis", "power", "off"], { passwordFile: wrong, timeoutSec: 1, retries: 1 });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Unable to establish IPMI v2 \/ RMCP\+ session/);
    expect(await powerIs(b)).toBe("Chassis Power is on");
  }, 60_000);

  it("has a BMC that stops answering (bmc-stop) while its hypervisor runs on, and comes back on the same port", async () => {
    const before = await lab.bmc("hv-a");
    await lab.bmcStop("hv-a");
    const dead = await lab.bmc("hv-a");
    expect(dead.alive).toBe(false);
    const r = await ipmitool(dead, ["chassis", "power", "status"], { timeoutSec: 1, retries: 1 });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Unable to establish IPMI v2 \/ RMCP\+ session/);
    // a time-out, not a refusal: ipmitool waited for an answer that never came
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(await lab.libvirtdPid("hv-a")).not.toBeNull();

    await lab.bmcUp(["hv-a"]);
    const back = await lab.bmc("hv-a");
    expect(back.port).toBe(before.port);
    expect(back.pid).not.toBe(before.pid);
    expect(await powerIs(back)).toBe("Chassis Power is on");
  }, 60_000);

  it("accepts power on for a host that does not come back (bmc-<hv>.noboot), which stays off", async () => {
    const b = await lab.bmc("hv-c");
    const events = join(lab.stateDir, "bmc", "hv-c", "events.log");
    const noboot = join(lab.stateDir, "bmc-hv-c.noboot");
    expect((await ipmitool(b, ["chassis", "power", "off"])).code).toBe(0);
    await waitFor("hv-c to be off", async () => (await lab.libvirtdPid("hv-c")) === null);
    writeFileSync(noboot, "");
    const on = await ipmitool(b, ["chassis", "power", "on"]);
    expect(on.code, on.out).toBe(0);
    expect(on.out).toBe("Chassis Power Control: Up/On");
    await waitFor("the BMC to give up booting hv-c", () => readFileSync(events, "utf8").includes("noboot flag"));
    expect(await powerIs(b)).toBe("Chassis Power is off");
    expect(await lab.libvirtdPid("hv-c")).toBeNull();
    await expect(lab.virsh("hv-c", ["version"], 5000)).rejects.toThrow();
  }, 60_000);
});
