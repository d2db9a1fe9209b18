import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../shared/repo-root.js";

// The lint rules that keep the code's shape (eslint.config.js): deliberate violations, linted as
// if they were files at the given paths, must be refused, and their correct forms accepted.
// Typed rules are off here (the snippets are not part of the TypeScript project); `npm run lint`
// runs them on the real files.

const eslint = new ESLint({
  cwd: REPO_ROOT,
  overrideConfig: [
    { languageOptions: { parserOptions: { projectService: false, project: null } }, rules: { "@typescript-eslint/no-floating-promises": "off" } },
  ],
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath });
  return (r?.messages ?? []).map((m) => `${m.ruleId ?? "parse"}: ${m.message}`);
}

describe("the planner core stays pure", () => {
  it.each([
    ["a Node module", `import { readFileSync } from "node:fs";\nexport const f = readFileSync;\n`, /ballast\/core-imports: .*imports no node:fs/],
    ["a bare Node module", `import { createHash } from "crypto";\nexport const h = createHash;\n`, /ballast\/core-imports: .*imports no crypto/],
    ["NATS", `import { connect } from "@nats-io/transport-node";\nexport const c = connect;\n`, /ballast\/core-imports: .*imports no @nats-io\/transport-node/],
    ["the logger", `import { pino } from "pino";\nexport const p = pino;\n`, /ballast\/core-imports: .*imports no pino/],
    [
      "the shell",
      `import { ClusterState } from "../shell/cluster-state.js";\nexport const s = ClusterState;\n`,
      /ballast\/core-imports: .*not orchestrator\/shell\/cluster-state\.js/,
    ],
    [
      "shared I/O helpers",
      `import { requestJson } from "../../shared/nats/json.js";\nexport const r = requestJson;\n`,
      /ballast\/core-imports: .*not shared\/nats\/json\.js/,
    ],
    ["a dynamic import of the agent", `export const load = () => import("../../agent/index.js");\n`, /ballast\/core-imports: .*not agent\/index\.js/],
    ["the clock", `export const now = (): number => Date.now();\n`, /no-restricted-properties: .*`now` as an argument/],
    ["a new Date()", `export const now = (): number => new Date().getTime();\n`, /no-restricted-syntax: .*`now` as an argument/],
    ["randomness", `export const r = (): number => Math.random();\n`, /no-restricted-properties: .*deterministic/],
  ])("refuses %s in orchestrator/core/", async (_what, code, want) => {
    expect((await problems("orchestrator/core/violation.ts", code)).join("\n")).toMatch(want);
  });

  it("accepts what the core does import (shared schemas and config, its own files)", async () => {
    const code = `import type { Policy } from "../../shared/config/policy.js";\nimport { r2 } from "./format.js";\nexport const f = (p: Policy): number => r2(p.load_threshold);\n`;
    expect(await problems("orchestrator/core/fine.ts", code)).toEqual([]);
  });
});

describe("callers use the core's public surface", () => {
  it.each([
    ["orchestrator/shell/violation.ts", `import { plan } from "../core/planner.js";\nexport const p = plan;\n`],
    ["cli/violation.ts", `import { plan } from "../orchestrator/core/planner.js";\nexport const p = plan;\n`],
    ["sim/policies/violation.ts", `import { ClusterModel } from "../../orchestrator/core/cluster-model.js";\nexport const m = ClusterModel;\n`],
    ["test/integration/violation.test.ts", `import { plan } from "../../orchestrator/core/planner.js";\nexport const p = plan;\n`],
  ])("refuses a deep import from %s", async (file, code) => {
    expect((await problems(file, code)).join("\n")).toMatch(
      /ballast\/core-public-surface: import the planner core through its public surface, orchestrator\/core\/index\.js, not orchestrator\/core\//,
    );
  });

  it("accepts the index, and lets the core's own tests reach its internals", async () => {
    expect(await problems("orchestrator/shell/fine.ts", `import { plan } from "../core/index.js";\nexport const p = plan;\n`)).toEqual([]);
    // A test helper that lives under test/orchestrator/core is not the core.
    expect(await problems("test/cli/fine.test.ts", `import { NOW } from "../orchestrator/core/builders.js";\nexport const n = NOW;\n`)).toEqual([]);
    expect(
      await problems(
        "test/orchestrator/core/fine.test.ts",
        `import { ClusterModel } from "../../../orchestrator/core/cluster-model.js";\nexport const m = ClusterModel;\n`,
      ),
    ).toEqual([]);
  });
});

describe("no any outside tests", () => {
  it("refuses an explicit any in the code, allows it in a test", async () => {
    const code = `export const f = (x: any): number => x.length;\n`;
    expect((await problems("orchestrator/shell/violation.ts", code)).join("\n")).toMatch(/no-explicit-any/);
    expect(await problems("test/orchestrator/shell/fine.test.ts", code)).toEqual([]);
  });
});
