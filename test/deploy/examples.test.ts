import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/load-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { parseHostMapping } from "../../orchestrator/shell/host-mapping.js";
import { permissionsFor, seedFileName } from "../../deploy/tools/credentials.js";

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
});
