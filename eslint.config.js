// Lint for the whole repository (`npm run lint`, part of `npm test`): typescript-eslint with type
// information, no `any` outside tests, no floating promises, and the import boundaries that keep
// the planner core pure and its callers on its public surface (tools/lint/boundaries.js).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import boundaries from "./tools/lint/boundaries.js";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".lab/**", "coverage/**", "bench-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["eslint.config.js", "tools/lint/*.js"] }, tsconfigRootDir: import.meta.dirname },
    },
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
    plugins: { ballast: boundaries },
    rules: { "ballast/core-imports": "error", "ballast/core-public-surface": "error" },
  },
  {
    files: ["orchestrator/core/**/*.ts"],
    rules: {
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
);
