import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../../shared/repo-root.js";
import { renderApiReference } from "./api-reference.js";
import { renderConfigurationDoc } from "./configuration-doc.js";

// Writes the generated documents under docs/. `npm run docs` runs it after a build;
// `node dist/tools/docs/generate.js --check` writes nothing and exits 1 naming every stale file.

/** A generated document: its path from the repository root and the function that renders it. */
export interface GeneratedDoc {
  path: string;
  render: () => string | Promise<string>;
}

/** Every generated document; a new generator is one more line here. */
export const GENERATED_DOCS: readonly GeneratedDoc[] = [
  { path: "docs/configuration.md", render: renderConfigurationDoc },
  { path: "docs/api.md", render: renderApiReference },
];

export interface GenerateResult {
  /** Files written (none in check mode). */
  written: string[];
  /** Files whose content differs from what their generator renders (or that are missing). */
  stale: string[];
}

/** Renders every document; writes the stale ones unless `check`. Paths in the result are relative to `root`. */
export async function generateDocs(opts: { root?: string; check?: boolean; docs?: readonly GeneratedDoc[] } = {}): Promise<GenerateResult> {
  const root = opts.root ?? REPO_ROOT;
  const result: GenerateResult = { written: [], stale: [] };
  for (const doc of opts.docs ?? GENERATED_DOCS) {
    const file = join(root, doc.path);
    const text = await doc.render();
    const current = existsSync(file) ? readFileSync(file, "utf8") : undefined;
    if (current === text) continue;
    result.stale.push(doc.path);
    if (opts.check) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    result.written.push(doc.path);
  }
  return result;
}

async function main(argv: readonly string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    process.stderr.write(`unknown argument(s): ${unknown.join(" ")}; usage: generate.js [--check]\n`);
    return 2;
  }
  const check = argv.includes("--check");
  const { written, stale } = await generateDocs({ check });
  if (check) {
    for (const f of stale) process.stderr.write(`${f} is out of date: run \`npm run docs\`\n`);
    if (stale.length === 0) process.stdout.write(`${GENERATED_DOCS.length} generated document(s) up to date\n`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const f of written) process.stdout.write(`wrote ${f}\n`);
  if (written.length === 0) process.stdout.write(`${GENERATED_DOCS.length} generated document(s) already up to date\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
