import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** `ballast lab ...` runs deploy/lab/lab.sh with the same arguments (it documents itself). */
export async function runLab(action: string, args: string[]): Promise<number> {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const script = join(root, "deploy", "lab", "lab.sh");
  if (!existsSync(script)) {
    process.stderr.write(`ballast lab: ${script} is missing\n`);
    return 1;
  }
  return new Promise((resolve) => {
    const child = spawn("bash", [script, action, ...args], { stdio: "inherit", cwd: root });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
