import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RedfishPower } from "../../../../shared/config/power-inventory.js";
import { PowerDriverError } from "../../../../orchestrator/shell/power/power-driver.js";
import { RedfishDriver } from "../../../../orchestrator/shell/power/redfish-driver.js";
import { startRedfishBmc, type RedfishBmc, type RedfishBmcOptions } from "./redfish-bmc.js";
import { makeTestPki, type TestPki } from "./test-pki.js";

// The Redfish driver against a local HTTPS Redfish service whose certificate comes from a test CA
// made with the real openssl CLI.

const USER = "ballast";
const PASSWORD = "redfish-Pa55";

async function rejection(p: Promise<unknown>): Promise<PowerDriverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, "the call should have failed").toBeInstanceOf(PowerDriverError);
  return e as PowerDriverError;
}

describe("RedfishDriver", () => {
  let dir: string;
  let pki: TestPki;
  let passwordFile: string;
  const bmcs: RedfishBmc[] = [];

  const start = async (over: Partial<RedfishBmcOptions> = {}) => {
    const bmc = await startRedfishBmc({ key: pki.serverKey, cert: pki.serverCert, username: USER, password: PASSWORD, ...over });
    bmcs.push(bmc);
    return bmc;
  };
  const driver = (bmc: RedfishBmc, over: Record<string, unknown> = {}) =>
    new RedfishDriver(
      "hv-r",
      RedfishPower.parse({ driver: "redfish", url: bmc.url, username: USER, password_file: passwordFile, ca_file: pki.caCert, timeout: 5, ...over }),
    );

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-redfish-"));
    pki = makeTestPki(dir);
    passwordFile = join(dir, "redfish.password");
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  });

  afterEach(async () => {
    await Promise.all(bmcs.splice(0).map((b) => b.close()));
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads PowerState and resets through the action target the resource names", async () => {
    const target = "/redfish/v1/Systems/1/Actions/Oem/Reset.Here";
    const bmc = await start({ resetTarget: target });
    const d = driver(bmc);
    expect(await d.status()).toEqual({ state: "off", detail: "PowerState Off" });
    expect((await d.on()).detail).toBe("ComputerSystem.Reset On: HTTP 204");
    expect(bmc.powerState).toBe("On");
    expect(await d.status()).toEqual({ state: "on", detail: "PowerState On" });
    await d.off("soft");
    expect(bmc.powerState).toBe("Off");
    await d.on();
    expect((await d.off("hard")).detail).toBe("ComputerSystem.Reset ForceOff: HTTP 204");

    const posts = bmc.requests.filter((r) => r.method === "POST");
    expect(posts.map((r) => r.path)).toEqual([target, target, target, target]);
    expect(posts.map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { ResetType: "On" },
      { ResetType: "GracefulShutdown" },
      { ResetType: "On" },
      { ResetType: "ForceOff" },
    ]);
    expect(posts.every((r) => r.contentType === "application/json")).toBe(true);
    const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
    expect(bmc.requests.every((r) => r.authorization === basic)).toBe(true);
    // Without `system`, the only member of the collection.
    expect(bmc.requests[0]!.path).toBe("/redfish/v1/Systems");
  });

  it("uses the configured system without listing the collection", async () => {
    const bmc = await start({ extraSystems: ["/redfish/v1/Systems/2"] });
    expect((await driver(bmc, { system: "/redfish/v1/Systems/1" }).status()).state).toBe("off");
    expect(bmc.requests.map((r) => r.path)).toEqual(["/redfish/v1/Systems/1"]);
  });

  it("several systems and no `system` key: a config error naming them", async () => {
    const bmc = await start({ extraSystems: ["/redfish/v1/Systems/2"] });
    const e = await rejection(driver(bmc).status());
    expect(e.failure).toBe("config");
    expect(e.message).toContain("/redfish/v1/Systems/1, /redfish/v1/Systems/2");
  });

  it("a ResetType the BMC does not allow (ActionInfo) is refused without a POST", async () => {
    const bmc = await start({ allowable: { actionInfo: ["On", "ForceOff"] } });
    const e = await rejection(driver(bmc).off("soft"));
    expect(e.failure).toBe("refused");
    expect(e.message).toContain("does not allow ResetType GracefulShutdown (allowed: On, ForceOff)");
    expect(bmc.requests.some((r) => r.method === "POST")).toBe(false);
    await driver(bmc).off("hard");
    expect(bmc.requests.filter((r) => r.method === "POST").map((r) => r.body)).toEqual(['{"ResetType":"ForceOff"}']);
  });

  it("a wrong password is an auth error (HTTP 401) with the BMC's message", async () => {
    const bmc = await start();
    writeFileSync(passwordFile, "not-it\n", { mode: 0o600 });
    const e = await rejection(driver(bmc).on());
    expect(e.failure).toBe("auth");
    expect(e.operation).toBe("on");
    expect(e.message).toContain("HTTP 401");
    expect(e.message).toContain(`user ${USER}`);
    expect(e.message).toContain("credentials included with this request are missing or invalid");
    expect(bmc.powerState).toBe("Off");
  });

  it("reads the password file at every call (a rotated password needs no restart)", async () => {
    const bmc = await start();
    const d = driver(bmc);
    writeFileSync(passwordFile, "old\n", { mode: 0o600 });
    expect((await rejection(d.status())).failure).toBe("auth");
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    expect((await d.status()).state).toBe("off");
  });

  it("a certificate the system CAs do not trust is a TLS error, and nothing is sent", async () => {
    const bmc = await start();
    const e = await rejection(driver(bmc, { ca_file: undefined }).status());
    expect(e.failure).toBe("config");
    expect(e.message).toMatch(/TLS: the BMC's certificate is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    expect(e.message).toContain("Node's default CAs (no ca_file)");
    expect(bmc.requests).toHaveLength(0);
  });

  it("a certificate for another name is a TLS error", async () => {
    // The certificate names 127.0.0.1 and localhost; this BMC answers at 127.0.0.2 (loopback too).
    const bmc = await start({ listen: "127.0.0.2" });
    const e = await rejection(driver(bmc).status());
    expect(e.failure).toBe("config");
    expect(e.message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("a slow BMC is a timeout within the configured timeout", async () => {
    const bmc = await start({ delayMs: 5000 });
    const t0 = Date.now();
    const e = await rejection(driver(bmc, { timeout: 0.5 }).status());
    const took = Date.now() - t0;
    expect(e.failure).toBe("timeout");
    expect(e.message).toContain("no answer within the timeout of 0.5 s");
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(2000);
  });

  it("never follows a target to another origin with the credentials", async () => {
    const other = await start();
    const bmc = await start({ resetTarget: `${other.url}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset` });
    const e = await rejection(driver(bmc).on());
    expect(e.failure).toBe("protocol");
    expect(e.message).toContain(`pointed to ${other.url}`);
    expect(other.requests).toHaveLength(0);
  });

  it("nothing listening is unreachable", async () => {
    const bmc = await start();
    await bmc.close();
    const e = await rejection(driver(bmc).status());
    expect(e.failure).toBe("unreachable");
    expect(e.message).toContain("connection refused");
  });
});
