import { execa } from "execa";
import { HypervisorError, TimeoutError } from "../../shared/errors.js";
import { libvirtErrorText } from "./virsh-error-text.js";

// Runs virsh. Always an argument array (never a shell: VM names and addresses are argv, not
// code), always `-c <uri>`, always a time limit that ends in SIGKILL because a virsh stuck on a
// dead libvirtd ignores SIGTERM. LC_ALL=C keeps messages English and decimals with a dot, which
// the parsers expect.

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

export interface ExecaVirshRunnerOptions {
  binary: string;
  uri: string;
  timeoutMs: number;
}

export function createExecaVirshRunner(o: ExecaVirshRunnerOptions): VirshRunner {
  return {
    async run(args, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? o.timeoutMs;
      const argv = ["-c", o.uri, ...args];
      const r = await execa(o.binary, argv, {
        timeout: timeoutMs,
        killSignal: "SIGKILL",
        cancelSignal: opts.signal,
        reject: false,
        stdin: "ignore",
        env: { LC_ALL: "C", LANG: "C" },
        extendEnv: true,
        stripFinalNewline: false,
      });
      const what = `virsh ${args[0] ?? ""}`.trim();
      if (r.timedOut) throw new TimeoutError(`${what} did not finish within ${timeoutMs} ms and was killed`);
      if (r.isCanceled) throw new HypervisorError(`${what} was cancelled`);
      if (r.failed) {
        const text = typeof r.stderr === "string" ? r.stderr : "";
        // ENOENT and similar: the binary itself could not run.
        const reason = r.exitCode === undefined ? (r.cause instanceof Error ? r.cause.message : (r.shortMessage ?? "virsh could not be run")) : libvirtErrorText(text, `exit code ${r.exitCode}`);
        throw new HypervisorError(reason, { details: { command: what, exitCode: r.exitCode ?? null } });
      }
      return { stdout: String(r.stdout), stderr: String(r.stderr) };
    },
  };
}
