import { spawn } from "node:child_process";
import { HypervisorError, TimeoutError } from "../../shared/errors.js";
import { libvirtErrorText } from "./virsh-error-text.js";

// Runs virsh. Always an argument array (never a shell: VM names and addresses are argv, not
// code), always `-c <uri>`, always a time limit that ends in SIGKILL because a virsh stuck on a
// dead libvirtd ignores SIGTERM. LC_ALL=C keeps messages English and decimals with a dot, which
// the parsers expect.
//
// node:child_process rather than execa: loading execa costs the agent about 12 MiB of resident
// memory (of an 80 MiB budget), for a few lines of process handling written out below.

export interface VirshResult {
  stdout: string;
  stderr: string;
}

export interface VirshRunOptions {
  /** Overrides the configured time limit, ms. */
  timeoutMs?: number;
  /** Kills the process (SIGKILL) when aborted. */
  signal?: AbortSignal;
}

/** Runs one virsh command; resolves on exit 0, else throws HypervisorError / TimeoutError. */
export interface VirshRunner {
  run(args: readonly string[], opts?: VirshRunOptions): Promise<VirshResult>;
}

export interface VirshRunnerOptions {
  binary: string;
  uri: string;
  timeoutMs: number;
}

export function createVirshRunner(o: VirshRunnerOptions): VirshRunner {
  return {
    run(args, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? o.timeoutMs;
      const what = `virsh ${args[0] ?? ""}`.trim();
      if (opts.signal?.aborted) return Promise.reject(new HypervisorError(`${what} was cancelled`));
      return new Promise<VirshResult>((resolve, reject) => {
        const child = spawn(o.binary, ["-c", o.uri, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C", LANG: "C" } });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
        child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
        let ended: "timeout" | "cancelled" | null = null;
        const kill = (why: "timeout" | "cancelled") => {
          ended ??= why;
          child.kill("SIGKILL");
        };
        const timer = setTimeout(() => kill("timeout"), timeoutMs);
        const onAbort = () => kill("cancelled");
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        let settled = false;
        const settle = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
          fn();
        };
        // The binary could not run at all (ENOENT, EACCES): no exit follows.
        child.once("error", (e) => settle(() => reject(new HypervisorError(e.message, { details: { command: what, exitCode: null } }))));
        const finish = (code: number | null, signal: NodeJS.Signals | null) =>
          settle(() => {
            if (ended === "timeout") return reject(new TimeoutError(`${what} did not finish within ${timeoutMs} ms and was killed`));
            if (ended === "cancelled") return reject(new HypervisorError(`${what} was cancelled`));
            if (code === 0) return resolve({ stdout, stderr });
            const fallback = code === null ? `killed by ${signal ?? "a signal"}` : `exit code ${code}`;
            reject(new HypervisorError(libvirtErrorText(stderr, fallback), { details: { command: what, exitCode: code } }));
          });
        // "close", not "exit": the output pipes are drained by then. A killed virsh is done at
        // "exit": a grandchild holding its pipes must not stretch the time limit.
        child.once("close", finish);
        child.once("exit", (code, signal) => {
          if (ended !== null) finish(code, signal);
        });
      });
    },
  };
}
