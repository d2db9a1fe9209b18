// Import boundaries, as ESLint rules that resolve each relative import against the importing
// file (a plain pattern on the import string cannot tell test/orchestrator/core/builders.ts from
// orchestrator/core/planner.ts):
//   ballast/core-imports         the planner core (orchestrator/core/) imports only itself, the
//                                pure parts of shared/ (schemas, the policy, net-address) and zod;
//   ballast/core-public-surface  everything else reaches the core through orchestrator/core/index.ts
//                                (the core's own tests may reach its internals).
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const CORE = "orchestrator/core/";
/** What the core may import besides itself: pure modules only. */
const CORE_MAY_IMPORT = [/^shared\/schemas\//, /^shared\/config\/policy\.(js|ts)$/, /^shared\/net-address\.(js|ts)$/];
const CORE_MAY_IMPORT_PACKAGES = new Set(["zod"]);
const CORE_INDEX = /^orchestrator\/core\/index\.(js|ts)$/;

/** The repository path of a file, with forward slashes. */
const repoPath = (file) => relative(ROOT, file).split(sep).join("/");

/** Every module specifier a file names: static imports, re-exports and dynamic import("..."). */
function specifiers(report) {
  const check = (node) => {
    if (node.source && typeof node.source.value === "string") report(node.source, node.source.value);
  };
  return {
    ImportDeclaration: check,
    ExportNamedDeclaration: check,
    ExportAllDeclaration: check,
    ImportExpression(node) {
      if (node.source.type === "Literal" && typeof node.source.value === "string") report(node.source, node.source.value);
    },
  };
}

const coreImports = {
  meta: {
    type: "problem",
    docs: { description: "the planner core imports only itself, the pure parts of shared/ and zod" },
    messages: {
      module: "the planner core is pure: it imports no {{name}} (only zod); I/O lives in the shell",
      path: "the planner core imports only itself and shared/schemas, shared/config/policy, shared/net-address: not {{path}}",
    },
    schema: [],
  },
  create(context) {
    const file = repoPath(context.filename);
    if (!file.startsWith(CORE)) return {};
    return specifiers((node, spec) => {
      if (!spec.startsWith(".")) {
        const pkg = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
        if (!CORE_MAY_IMPORT_PACKAGES.has(pkg)) context.report({ node, messageId: "module", data: { name: spec } });
        return;
      }
      const target = repoPath(resolve(dirname(context.filename), spec));
      if (target.startsWith(CORE) || CORE_MAY_IMPORT.some((re) => re.test(target))) return;
      context.report({ node, messageId: "path", data: { path: target } });
    });
  },
};

const corePublicSurface = {
  meta: {
    type: "problem",
    docs: { description: "callers import the planner core through orchestrator/core/index.ts" },
    messages: { deep: "import the planner core through its public surface, orchestrator/core/index.js, not {{path}}" },
    schema: [],
  },
  create(context) {
    const file = repoPath(context.filename);
    if (file.startsWith(CORE) || file.startsWith(`test/${CORE}`)) return {};
    return specifiers((node, spec) => {
      if (!spec.startsWith(".")) return;
      const target = repoPath(resolve(dirname(context.filename), spec));
      if (target.startsWith(CORE) && !CORE_INDEX.test(target)) context.report({ node, messageId: "deep", data: { path: target } });
    });
  },
};

export default { rules: { "core-imports": coreImports, "core-public-surface": corePublicSurface } };
