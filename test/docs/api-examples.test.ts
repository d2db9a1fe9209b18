import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { agentSubjects, orchestratorSubjects } from "../../shared/subjects.js";

// The API reference shows a `nats req` example for every endpoint (these assertions checked the
// README before the reference moved to the generated docs/api.md). Skipped only until
// docs/api.md is generated.

const apiUrl = new URL("../../docs/api.md", import.meta.url);
const generated = existsSync(apiUrl);
const api = generated ? readFileSync(apiUrl, "utf8") : "";

describe.skipIf(!generated)(`docs/api.md${generated ? "" : " (skipped: not generated yet, run `npm run docs`)"}`, () => {
  it.each(Object.entries(orchestratorSubjects).filter(([k]) => k !== "events"))("has a nats req example for %s", (_k, subject) => {
    expect(api).toContain(`nats req ${subject} `);
  });

  it.each(["ping", "status", "migrate", "abort"] as const)("has a nats req example for the agent's %s", (k) => {
    expect(api).toContain(`nats req ${agentSubjects("hv-a")[k]} `);
  });
});
