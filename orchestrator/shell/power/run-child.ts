import { spawn } from "node:child_process";

// Runs one program with an argument array (never a shell), no stdin, and a bounded output. The
// child leads a process group of its own, so when the deadline fires the whole group is killed:
// an operator's script that started `sleep` or `curl` does not outlive its call.

export type ChildOutcome =
  | { kind: "exit"; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: "aborted"; stdout: string; stderr: string }
  | { kind: "spawn-failed"; error: Error };

const MAX_OUTPUT = 64 * 1024;

export function runChild(argv: readonly string[], opts: { env: NodeJS.ProcessEnv; signal: AbortSignal }): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    if (opts.signal.aborted) return resolve({ kind: "aborted", stdout: "", stderr: "" });
    const child = spawn(argv[0]!, argv.slice(1), { env: opts.env, stdio: ["ignore", "pipe", "pipe"], detached: true, shell: false });
    let stdout = "";
    let stderr = "";
    let aborted = false;
    child.stdout.on("data", (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString("utf8");
    });
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString("utf8");
    });
    const kill = () => {
      aborted = true;
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    opts.signal.addEventListener("abort", kill, { once: true });
    // A program that cannot start (ENOENT, EACCES) has no PID and reports only "error".
    child.once("error", (e) => {
      if (child.pid !== undefined) return;
      opts.signal.removeEventListener("abort", kill);
      resolve({ kind: "spawn-failed", error: e });
    });
    child.once("close", (code, signal) => {
      opts.signal.removeEventListener("abort", kill);
      if (aborted) resolve({ kind: "aborted", stdout, stderr });
      else resolve({ kind: "exit", code, signal, stdout, stderr });
    });
  });
}

/** The last non-empty lines of a program's output, joined, for an error message. */
export function tail(text: string, lines = 3): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-lines)
    .join(" / ");
}
