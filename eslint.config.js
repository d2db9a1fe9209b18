// Lint for the whole repository (`npm run lint`, part of `npm test`): typescript-eslint with type
// information, no `any` outside tests, no floating promises, and the import boundaries that keep
// the planner core pure and its callers on its public surface.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Anything that does I/O, or the shell the core must never depend on. */
const NOT_IN_CORE = [
  { regex: "^node:", message: "the planner core is pure: no Node modules (I/O lives in the shell)" },
  {
    regex: "^(fs|path|os|crypto|child_process|net|http|https|url|util|events|stream|zlib|timers|worker_threads)(/|$)",
    message: "the planner core is pure: no Node modules (I/O lives in the shell)",
  },
  { regex: "^@nats-io/", message: "the planner core knows nothing of NATS" },
  { regex: "^(pino|prom-client|ssh2|systeminformation|commander|yaml)(/|$)", message: "the planner core does no I/O and no logging: it returns decisions" },
  { regex: "(^|/)(shell|agent|cli|deploy|sim|bench)/", message: "the planner core imports nothing from the shell or the programs around it" },
  { regex: "(^|/)orchestrator/main\\.js$", message: "the planner core imports nothing from the shell or the programs around it" },
];

/** The core's internals: callers outside it go through orchestrator/core/index.ts. */
const CORE_INTERNALS = {
  regex: "(^|/)(orchestrator/)?core/(?!index\\.js$).+",
  message: "import the planner core through its public surface, orchestrator/core/index.js",
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".lab/**", "coverage/**", "bench-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ["eslint.config.js"] }, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests may build deliberately wrong inputs.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["orchestrator/core/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: NOT_IN_CORE }],
      // Deterministic: the time is an argument (now), and nothing is random.
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "the planner core takes `now` as an argument" },
        { object: "Math", property: "random", message: "the planner core is deterministic" },
        { object: "performance", property: "now", message: "the planner core takes `now` as an argument" },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: "the planner core takes `now` as an argument" },
      ],
    },
  },
  {
    files: ["**/*.ts"],
    ignores: ["orchestrator/core/**", "test/orchestrator/core/**"],
    rules: { "no-restricted-imports": ["error", { patterns: [CORE_INTERNALS] }] },
  },
);
