import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkoutRoot } from "../../../deploy/installer/deploy.js";

// bin/ballast is both a sh launcher (executed directly: by the systemd unit, by a shell) and
// Node's entry point (`node bin/ballast`). Executed, it must start the Node runtime the release
// carries (runtime/bin/node beside bin/) when there is one, else the `node` in PATH.

const root = checkoutRoot();
const LAUNCHER = join(root, "bin", "ballast");

describe("bin/ballast", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-launcher-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A release directory with the real launcher and, optionally, a stand-in runtime that reports how it was called. */
  function release(name: string, withRuntime: boolean): string {
    const rel = join(dir, "releases", name);
    mkdirSync(join(rel, "bin"), { recursive: true });
    copyFileSync(LAUNCHER, join(rel, "bin", "ballast"));
    if (withRuntime) {
      mkdirSync(join(rel, "runtime", "bin"), { recursive: true });
      writeFileSync(join(rel, "runtime", "bin", "node"), `#!/bin/sh\necho "runtime $0"; for a in "$@"; do echo "arg $a"; done\n`, { mode: 0o755 });
    }
    return rel;
  }
  const run = (file: string, args: string[], path: string) => spawnSync(file, args, { encoding: "utf8", env: { PATH: path }, timeout: 30_000 });
  const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";

  it("starts the release's runtime/bin/node on itself, through the `current` symlink, with the arguments as given", () => {
    const rel = release("a", true);
    symlinkSync(rel, join(dir, "current"));
    const r = run(join(dir, "current", "bin", "ballast"), ["agent", "--config", "/etc/ballast/agent yaml"], SYSTEM_PATH);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      `runtime ${rel}/runtime/bin/node`,
      `arg ${rel}/bin/ballast`,
      "arg agent",
      "arg --config",
      "arg /etc/ballast/agent yaml",
      "",
    ]);
  });

  it("without a runtime, uses the node in PATH; without either, says so", () => {
    const rel = release("b", false);
    const fakeBin = join(dir, "fake-path");
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, "node"), `#!/bin/sh\necho "path node $1"\n`, { mode: 0o755 });
    const r = run(join(rel, "bin", "ballast"), ["status"], `${fakeBin}:${SYSTEM_PATH}`);
    expect(r.stdout).toBe(`path node ${rel}/bin/ballast\n`);
    // A PATH with no node in it (only readlink, which the launcher uses).
    const bare = join(dir, "bare-path");
    mkdirSync(bare);
    symlinkSync(execFileSync("sh", ["-c", "command -v readlink"], { encoding: "utf8" }).trim(), join(bare, "readlink"));
    const none = run(join(rel, "bin", "ballast"), ["status"], bare);
    expect(none.status).toBe(127);
    expect(none.stderr).toBe(
      `ballast: no Node.js to run it: ${rel}/runtime/bin/node is not there (releases built by \`ballast deploy\` carry it) and there is no \`node\` in PATH\n`,
    );
  });

  it.skipIf(!existsSync(join(root, "dist", "cli", "main.js")))("still runs as `node bin/ballast` and when executed in a checkout", () => {
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    expect(execFileSync(process.execPath, [LAUNCHER, "--version"], { encoding: "utf8" }).trim()).toBe(version);
    expect(execFileSync(LAUNCHER, ["--version"], { encoding: "utf8" }).trim()).toBe(version);
  });
});
