import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/load-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { parseHostMapping } from "../../orchestrator/shell/host-mapping.js";
import { permissionsFor, seedFileName } from "../../deploy/tools/credentials.js";
import { PowerInventory } from "../../shared/config/power-inventory.js";
import { loadPowerInventory } from "../../orchestrator/shell/power/power-inventory-file.js";
import { createPowerDrivers } from "../../orchestrator/shell/power/create-power-driver.js";

// The shipped examples must load with the real schemas, without help from the environment.

const example = (name: string) => fileURLToPath(new URL(`../../deploy/examples/${name}`, import.meta.url));

describe("deploy/examples", () => {
  it("orchestrator.yaml is a valid OrchestratorConfig and sets every documented policy key explicitly", () => {
    const cfg = loadConfig(OrchestratorConfig, { file: example("orchestrator.yaml"), env: {} });
    expect(cfg.host_mapping).toBe("/etc/ballast/host_mapping.csv");
    expect(cfg.nats.nkey_seed_file).toBe(`/etc/ballast/creds/${seedFileName("orchestrator", "main")}`);
    const raw = readFileSync(example("orchestrator.yaml"), "utf8");
    for (const key of [
      "interval",
      "max_over",
      "load_threshold",
      "load_target",
      "max_load_candidate",
      "max_vm_per_host",
      "vm_cooldown",
      "host_settle",
      "automation",
    ])
      expect(raw, key).toMatch(new RegExp(`^  ${key}: `, "m"));
    expect(cfg.policy.automation).toBe("manual");
    expect(cfg.policy.rules).toHaveLength(1);
  });

  it("agent.yaml is a valid AgentConfig for host hv-a with its own nkey", () => {
    const cfg = loadConfig(AgentConfig, { file: example("agent.yaml"), env: {} });
    expect(cfg.host).toBe("hv-a");
    expect(cfg.driver).toBe("virsh");
    expect(cfg.load_source).toBe("host");
    expect(cfg.nats.nkey_seed_file).toBe(`/etc/ballast/creds/${seedFileName("agent", cfg.host)}`);
    expect(cfg.migration.extra_args.length).toBeGreaterThan(0);
    // The identity the example points at may publish exactly this host's telemetry.
    expect(permissionsFor("agent", cfg.host).publish).toContain(`ballast.agent.${cfg.host}.metrics`);
  });

  it("cli.yaml gives an operator's CLI its own identity", () => {
    const cfg = loadConfig(OrchestratorConfig, { file: example("cli.yaml"), env: {} });
    expect(cfg.nats.nkey_seed_file).toMatch(new RegExp(`/${seedFileName("operator", "alice")}$`));
    expect(cfg.nats.request_timeout).toBe(10);
  });

  it("host_mapping.csv parses (comments, header, IPv6) and maps the agent example's host", () => {
    const map = parseHostMapping(readFileSync(example("host_mapping.csv"), "utf8"), "host_mapping.csv");
    expect(Object.fromEntries(map)).toEqual({ "hv-a": "10.10.0.11", "hv-b": "10.10.0.12", "hv-c": "10.10.0.13", "hv-d": "fd00:10::14" });
    const agent = loadConfig(AgentConfig, { file: example("agent.yaml"), env: {} });
    expect(map.has(agent.host)).toBe(true);
  });

  it("power.yaml is a valid PowerInventory with one host per driver, on the mapped hosts", () => {
    const raw = readFileSync(example("power.yaml"), "utf8");
    const inv = PowerInventory.parse(parseYaml(raw));
    expect(Object.fromEntries(Object.entries(inv.hosts).map(([h, e]) => [h, e.driver]))).toEqual({
      "hv-a": "ipmi",
      "hv-b": "redfish",
      "hv-c": "wol-ssh",
      "hv-d": "command",
    });
    const map = parseHostMapping(readFileSync(example("host_mapping.csv"), "utf8"), "host_mapping.csv");
    for (const h of Object.keys(inv.hosts)) expect(map.has(h), h).toBe(true);
    // Placeholder paths only, all in one directory the orchestrator owns.
    for (const m of raw.matchAll(/_file: (\S+)/g)) expect(m[1]).toMatch(/^\/etc\/ballast\/power\//);
  });

  it("power.yaml loads with the real loader once its files exist with safe modes", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-power-example-"));
    try {
      const text = readFileSync(example("power.yaml"), "utf8").replaceAll("/etc/ballast/power/", `${dir}/`);
      for (const m of text.matchAll(/(\w+_file): (\S+)/g))
        writeFileSync(m[2]!, "placeholder\n", { mode: m[1] === "password_file" || m[1] === "private_key_file" ? 0o600 : 0o644 });
      const file = join(dir, "inventory.yaml");
      writeFileSync(file, text);
      const drivers = createPowerDrivers(loadPowerInventory(file));
      expect([...drivers].map(([h, d]) => `${h}:${d.kind}`)).toEqual(["hv-a:ipmi", "hv-b:redfish", "hv-c:wol-ssh", "hv-d:command"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
