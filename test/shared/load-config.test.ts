import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, envOverrides } from "../../shared/config/load-config.js";
import { defaultInstanceName, OrchestratorConfig, OrchestratorInstance } from "../../shared/config/orchestrator-config.js";
import { ConfigError } from "../../shared/errors.js";

describe("orchestrator config", () => {
  it("has a default for every key", () => {
    const c = loadConfig(OrchestratorConfig, {});
    expect(c.policy.interval).toBe(10);
    expect(c.policy.max_over).toBe(60);
    expect(c.nats.servers).toEqual(["nats://127.0.0.1:4222"]);
  });

  it("layers file < environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-cfg-"));
    try {
      const f = join(dir, "orch.yaml");
      writeFileSync(f, "policy:\n  load_threshold: 85\n  load_target: 75\n  max_vm_per_host: 12\nnats:\n  servers: [nats://10.0.0.1:4222]\n");
      const c = loadConfig(OrchestratorConfig, {
        file: f,
        env: { BALLAST_POLICY__MAX_VM_PER_HOST: "7", BALLAST_NATS__SERVERS: "nats://a:1,nats://b:2", HOME: "/x" },
      });
      expect(c.policy.load_threshold).toBe(85);
      expect(c.policy.max_vm_per_host).toBe(7);
      expect(c.nats.servers).toEqual(["nats://a:1", "nats://b:2"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ BALLAST_POLICY__LOAD_THRESHOLD: "150" }, "policy.load_threshold"],
    [{ BALLAST_POLICY__MAX_OVER: "5" }, "policy.max_over"],
    [{ BALLAST_POLICY__LOAD_TARGET: "95" }, "policy.load_target"],
    [{ BALLAST_POLICY__AUTOMATION: "yolo" }, "policy.automation"],
    [{ BALLAST_POLICY__NO_SUCH_KEY: "1" }, "policy"],
  ])("an invalid value stops start-up naming the key (%j)", (env, key) => {
    expect(() => loadConfig(OrchestratorConfig, { env })).toThrow(ConfigError);
    try {
      loadConfig(OrchestratorConfig, { env });
    } catch (e) {
      expect((e as Error).message).toContain(key);
    }
  });

  it("HA: forward_timeout 4 s and a 64 MiB decision log by default; an instance name is one subject token", () => {
    const c = loadConfig(OrchestratorConfig, {});
    expect(c.ha.forward_timeout).toBe(4);
    expect(c.ha.decisions_max_bytes).toBe(64 * 1024 * 1024);
    for (const bad of ["orch.a", "orch*", "orch>", "a b", ""]) {
      expect(() => loadConfig(OrchestratorConfig, { env: { BALLAST_HA__INSTANCE: bad } }), bad).toThrow(/ha\.instance.*no dots: it is one NATS subject token/s);
    }
    expect(loadConfig(OrchestratorConfig, { env: { BALLAST_HA__INSTANCE: "orch-a_1" } }).ha.instance).toBe("orch-a_1");
    // The default from the host name: an FQDN's dots must not reach the subject.
    for (const [host, want] of [
      ["ctl1.example.org", "ctl1-42"],
      ["ctl 1", "ctl_1-42"],
      ["", "orchestrator-42"],
    ] as const) {
      expect(defaultInstanceName(host, 42)).toBe(want);
      expect(OrchestratorInstance.safeParse(defaultInstanceName(host, 42)).success).toBe(true);
    }
  });

  it("ignores the tooling's variables (simulator traces, lab, test switches), and still refuses an unknown key", () => {
    const env = { BALLAST_SIM_DATA: "/srv/traces", BALLAST_LAB_DIR: "/tmp/lab", BALLAST_LAB_LOCKS: "1", BALLAST_UPDATE_GOLDEN: "1", BALLAST_LOG_LEVEL: "warn" };
    expect(envOverrides(env)).toEqual({ log_level: "warn" });
    expect(loadConfig(OrchestratorConfig, { env }).policy).toBeDefined();
    expect(() => loadConfig(OrchestratorConfig, { env: { ...env, BALLAST_SIM_DATAX: "1" } })).toThrow(/sim_datax/);
  });

  it("parses env values as JSON where they look like it", () => {
    expect(envOverrides({ BALLAST_A: "1", BALLAST_B: "true", BALLAST_C: "[1,2]", BALLAST_D: "text", BALLAST_S__SERVERS: "x,y" })).toEqual({
      a: 1,
      b: true,
      c: [1, 2],
      d: "text",
      s: { servers: ["x", "y"] },
    });
  });
});
