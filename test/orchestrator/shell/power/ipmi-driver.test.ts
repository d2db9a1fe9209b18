import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpmiPower } from "../../../../shared/config/power-inventory.js";
import { classifyIpmitoolFailure, IpmiDriver, parseChassisPower } from "../../../../orchestrator/shell/power/ipmi-driver.js";
import { PowerDriverError } from "../../../../orchestrator/shell/power/power-driver.js";
import { freeUdpPort, IPMI_SIM, startIpmiSim, type IpmiSimHandle } from "./ipmi-sim.js";

// The IPMI driver against a REAL ipmitool and a REAL BMC simulator (ipmi_sim) on 127.0.0.1.
// deploy/setup.sh installs both (ipmitool, openipmi); without them this test fails, it does not skip.

const PASSWORD = "s3cret-Pa55";

function which(cmd: string): string {
  return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim();
}

async function rejection(p: Promise<unknown>): Promise<PowerDriverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, "the call should have failed").toBeInstanceOf(PowerDriverError);
  return e as PowerDriverError;
}

describe("IpmiDriver against ipmi_sim", () => {
  let dir: string;
  let sim: IpmiSimHandle;
  let passwordFile: string;
  let wrapper: string;
  let ipmitool: string;
  const logs = () => ({ argv: join(dir, "argv.log"), env: join(dir, "env.log"), pid: join(dir, "ipmitool.pid") });
  const config = (over: Record<string, unknown> = {}) =>
    IpmiPower.parse({ driver: "ipmi", address: "127.0.0.1", port: sim.port, username: "admin", password_file: passwordFile, timeout: 10, ...over });

  beforeAll(async () => {
    expect(existsSync(IPMI_SIM), `${IPMI_SIM} is missing: apt-get install openipmi (deploy/setup.sh does)`).toBe(true);
    ipmitool = which("ipmitool");
    dir = mkdtempSync(join(tmpdir(), "ballast-ipmi-"));
    passwordFile = join(dir, "bmc.password");
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    // Records what the driver spawns (argv, environment, PID), then becomes the real ipmitool.
    wrapper = join(dir, "ipmitool-recording");
    const l = logs();
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" > '${l.argv}'\nenv > '${l.env}'\necho $$ > '${l.pid}'\nexec '${ipmitool}' "$@"\n`, { mode: 0o755 });
    sim = await startIpmiSim(join(dir, "bmc"), { name: "admin", password: PASSWORD });
  });

  afterAll(async () => {
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads, switches on, soft-offs and hard-offs the chassis", async () => {
    const d = new IpmiDriver("hv-a", config());
    expect(await d.status()).toEqual({ state: "off", detail: "Chassis Power is off" });
    expect((await d.on()).detail).toBe("Chassis Power Control: Up/On");
    expect(readFileSync(sim.powerFile, "utf8").trim()).toBe("1");
    expect((await d.status()).state).toBe("on");

    expect((await d.off("soft")).detail).toBe("Chassis Power Control: Soft");
    expect(sim.calls()).toContain("set shutdown 1");
    expect((await d.status()).state).toBe("off");

    await d.on();
    expect((await d.status()).state).toBe("on");
    expect((await d.off("hard")).detail).toBe("Chassis Power Control: Down/Off");
    expect(sim.calls().at(-1)).toBe("set power 0");
    expect((await d.status()).state).toBe("off");
  });

  it("speaks IPMI 1.5 (interface lan) too", async () => {
    const d = new IpmiDriver("hv-a", config({ interface: "lan" }));
    expect((await d.status()).state).toBe("off");
  });

  it("passes the password as a file only: never on argv, never in the environment", async () => {
    const d = new IpmiDriver("hv-a", config(), { ipmitool: wrapper });
    expect((await d.status()).state).toBe("off");
    const argv = readFileSync(logs().argv, "utf8").split("\n").filter(Boolean);
    expect(argv).toEqual(d.argv("status").slice(1));
    expect(argv).toEqual(
      expect.arrayContaining(["-I", "lanplus", "-C", "3", "-L", "OPERATOR", "-H", "127.0.0.1", "-p", String(sim.port), "-U", "admin", "-f", passwordFile]),
    );
    expect(argv.join(" ")).not.toContain(PASSWORD);
    expect(argv).not.toContain("-P");
    expect(argv).not.toContain("-E");
    const env = readFileSync(logs().env, "utf8");
    expect(env).not.toContain(PASSWORD);
    expect(env).not.toMatch(/^IPMI_PASSWORD=/m);
  });

  it("a wrong password is an auth error in ipmitool's words", async () => {
    const bad = join(dir, "wrong.password");
    writeFileSync(bad, "not-the-password\n", { mode: 0o600 });
    const e = await rejection(new IpmiDriver("hv-a", config({ password_file: bad })).status());
    expect(e.failure).toBe("auth");
    expect(e.operation).toBe("status");
    expect(e.message).toMatch(/^hv-a: power status: /);
    expect(e.message).toContain("RAKP 2 HMAC is invalid");
    expect(e.message).toContain(`127.0.0.1:${sim.port}`);
  });

  it("an unknown user is an auth error", async () => {
    const e = await rejection(new IpmiDriver("hv-a", config({ username: "mallory" })).on());
    expect(e.failure).toBe("auth");
    expect(e.message).toContain("unauthorized name");
    expect(readFileSync(sim.powerFile, "utf8").trim()).toBe("0");
  });

  it("a BMC that does not answer is a timeout within the configured timeout, and ipmitool is killed", async () => {
    const silent = await freeUdpPort();
    const d = new IpmiDriver("hv-a", config({ port: silent, timeout: 1.5 }), { ipmitool: wrapper });
    const t0 = Date.now();
    const e = await rejection(d.status());
    const took = Date.now() - t0;
    expect(e.failure).toBe("timeout");
    expect(e.message).toContain("no answer within the timeout of 1.5 s");
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(3000);
    const pid = Number(readFileSync(logs().pid, "utf8"));
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it("the caller's abort signal stops a call", async () => {
    const silent = await freeUdpPort();
    const ctl = new AbortController();
    const p = new IpmiDriver("hv-a", config({ port: silent, timeout: 30 })).status(ctl.signal);
    ctl.abort();
    const e = await rejection(p);
    expect(e.failure).toBe("timeout");
    expect(e.message).toContain("cancelled by the caller");
  });

  it("refuses a password file that group or others can read, before running ipmitool", async () => {
    const loose = join(dir, "loose.password");
    writeFileSync(loose, `${PASSWORD}\n`, { mode: 0o644 });
    rmSync(logs().argv, { force: true });
    const e = await rejection(new IpmiDriver("hv-a", config({ password_file: loose }), { ipmitool: wrapper }).status());
    expect(e.failure).toBe("config");
    expect(e.message).toContain(loose);
    expect(e.message).toContain("0644");
    expect(existsSync(logs().argv)).toBe(false);
  });

  it("a missing ipmitool is a config error", async () => {
    const e = await rejection(new IpmiDriver("hv-a", config(), { ipmitool: join(dir, "no-such-ipmitool") }).status());
    expect(e.failure).toBe("config");
    expect(e.message).toContain("ENOENT");
  });
});

describe("ipmitool output", () => {
  it("parses the chassis power state", () => {
    expect(parseChassisPower("Chassis Power is on\n")).toBe("on");
    expect(parseChassisPower("Chassis Power is off\n")).toBe("off");
    expect(parseChassisPower("Chassis Power Control: Up/On\n")).toBeUndefined();
  });

  it.each([
    ["Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n", "auth"],
    ["Activate Session command failed\nError: Unable to establish LAN session\n", "auth"],
    [
      "Get Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n",
      "timeout",
    ],
    ["Address lookup for bmc.invalid failed\nCould not open socket!\n", "unreachable"],
    ["Error in open session response message : invalid authentication algorithm\n", "config"],
    ["Set Chassis Power Control to Soft failed: Unspecified error\n", "refused"],
    ["Unable to read password from file /x\nPassword: Error: Unable to establish IPMI v2 / RMCP+ session\n", "config"],
    ["something new\n", "protocol"],
  ])("classifies %j as %s", (stderr, failure) => {
    const r = classifyIpmitoolFailure(stderr);
    expect(r.failure).toBe(failure);
    expect(r.words).not.toContain("Loading IANA");
  });
});
