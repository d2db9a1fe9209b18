import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { Policy } from "../../shared/config/policy.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { AgentConfig, VirshSettings, MigrationSettings } from "../../shared/config/agent-config.js";
import { orchestratorSubjects, agentSubjects } from "../../shared/subjects.js";

// The README is the configuration reference and the API reference: keep it complete.
const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

function keysOf(schema: z.ZodTypeAny): string[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, unknown> };
  return Object.keys(json.properties ?? {});
}

describe("README", () => {
  it.each(keysOf(Policy))("documents policy key %s", (key) => {
    expect(readme).toContain(`\`${key}\``);
  });
  it.each(keysOf(OrchestratorConfig).filter((k) => k !== "nats" && k !== "policy"))("documents orchestrator key %s", (key) => {
    expect(readme).toContain(`\`${key}\``);
  });
  it.each(keysOf(AgentConfig).filter((k) => k !== "nats" && k !== "virsh" && k !== "migration"))("documents agent key %s", (key) => {
    expect(readme).toContain(`\`${key}\``);
  });
  it.each([...keysOf(VirshSettings).map((k) => `virsh.${k}`), ...keysOf(MigrationSettings).map((k) => `migration.${k}`)])("documents agent key %s", (key) => {
    expect(readme).toContain(`\`${key}\``);
  });
  it.each(keysOf(NatsConfig))("documents nats key %s", (key) => {
    expect(readme).toContain(`nats.${key}`);
  });
  it.each(Object.entries(orchestratorSubjects).filter(([k]) => k !== "events"))("has a nats req example for %s", (_k, subject) => {
    expect(readme).toContain(`nats req ${subject} `);
  });
  it.each(["ping", "status", "migrate", "abort"] as const)("has a nats req example for the agent's %s", (k) => {
    expect(readme).toContain(`nats req ${agentSubjects("hv-a")[k]} `);
  });
});
