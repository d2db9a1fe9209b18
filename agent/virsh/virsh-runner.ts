import { spawn, type ChildProcess } from "node:child_process";
import { HypervisorError, TimeoutError } from "../../shared/errors.js";
import { libvirtErrorText } from "./virsh-error-text.js";

// Runs virsh. Always an argument array (never a shell: VM names and addresses are argv, not
// code), always `-c <uri>`, always a time limit that ends in SIGKILL because a virsh stuck on a
// dead libvirtd ignores SIGTERM. LC_ALL=C keeps messages English and decimals with a dot, which
// the parsers expect.
//
// node:child_process rather than execa: loading execa costs the agent about 12 MiB of resident
// memory (of an 80 MiB budget), for a few lines of process handling written out below.
//
// What a child prints is kept up to a cap, so a runaway or hostile virsh cannot fill the agent's
// memory. Cut stdout is never parsed: the command fails. Stderr is only read for libvirt's error
// text, so it is kept in part (its beginning and its end) with a marker where bytes were left out.

/**
 * Most stdout kept of one virsh command, bytes; more fails the command. The largest output is the
 * agent's `domstats --raw --state --cpu-total --balloon --vcpu`: about 0.8 KiB per domain plus
 * about 0.12 KiB per vCPU (measured on libvirt 9 output with every balloon field and long
 * numbers), so 1,000 domains of 8 vCPUs print about 1.6 MiB and 1,000 of 64 vCPUs about 8.3 MiB.
 */
export const MAX_STDOUT_BYTES = 16 * 1024 * 1024;

/** Most stderr kept, bytes: its first and its last half. libvirt's errors are a few lines. */
export const MAX_STDERR_BYTES = 64 * 1024;

export interface VirshResult {
  stdout: string;
  stderr: string;
}

export interface VirshRunOptions {
  /** Overrides the configured time limit, ms. */
  timeoutMs?: number;
  /** Kills the process (SIGKILL) when aborted. */
  signal?: AbortSignal;
  /** Connects to this libvirt instead of the configured one (a peer's, for a probe). */
  uri?: string;
}

/** Runs one virsh command; resolves on exit 0, else throws HypervisorError / TimeoutError. */
export interface VirshRunner {
  run(args: readonly string[], opts?: VirshRunOptions): Promise<VirshResult>;
  /** The exact argv `run(args)` executes, binary first (for logs). */
  commandLine(args: readonly string[]): string[];
}

export interface VirshRunnerOptions {
  binary: string;
  uri: string;
  timeoutMs: number;
}

/** The runner of createVirshRunner: also ends what it runs when the agent stops. */
export interface OwnedVirshRunner extends VirshRunner {
  /**
   * Kills (SIGKILL) every virsh still running, so none outlives the agent or keeps its process
   * alive. Harmless to a migration: with --p2p libvirtd goes on without its client. Later calls fail.
   */
  close(): void;
}

export function createVirshRunner(o: VirshRunnerOptions): OwnedVirshRunner {
  const argvOf = (args: readonly string[], uri = o.uri) => ["-c", uri, ...args];
  const live = new Set<ChildProcess>();
  let closed = false;
  return {
    commandLine: (args) => [o.binary, ...argvOf(args)],
    close() {
      closed = true;
      for (const c of live) c.kill("SIGKILL");
    },
    run(args, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? o.timeoutMs;
      const what = `virsh ${args[0] ?? ""}`.trim();
      if (opts.signal?.aborted) return Promise.reject(new HypervisorError(`${what} was cancelled`));
      if (closed) return Promise.reject(new HypervisorError(`${what} not run: the agent is stopping`));
      return new Promise<VirshResult>((resolve, reject) => {
        const child = spawn(o.binary, argvOf(args, opts.uri), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C", LANG: "C" } });
        live.add(child);
        child.once("exit", () => live.delete(child));
        child.once("error", () => live.delete(child));
        // Bytes, decoded once at the end: a character split between two chunks stays whole.
        let stdout: Buffer[] = [];
        let stdoutBytes = 0;
        const stderr = new HeadAndTail(MAX_STDERR_BYTES);
        let ended: "timeout" | "cancelled" | "overflow" | null = null;
        const kill = (why: "timeout" | "cancelled" | "overflow") => {
          ended ??= why;
          child.kill("SIGKILL");
        };
        child.stdout.on("data", (b: Buffer) => {
          if (ended === "overflow") return;
          stdoutBytes += b.length;
          if (stdoutBytes <= MAX_STDOUT_BYTES) stdout.push(b);
          else {
            stdout = [];
            kill("overflow");
            // Also stops a grandchild still writing into the pipe (it gets EPIPE).
            child.stdout.destroy();
          }
        });
        child.stderr.on("data", (b: Buffer) => stderr.push(b));
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
            if (ended === "overflow")
              return reject(
                new HypervisorError(
                  `${what} printed more than ${MAX_STDOUT_BYTES / 1024 / 1024} MiB on stdout and was stopped; output cut short is not parsed`,
                  {
                    details: { command: what, exitCode: null, maxStdoutBytes: MAX_STDOUT_BYTES },
                  },
                ),
              );
            if (code === 0) return resolve({ stdout: Buffer.concat(stdout).toString("utf8"), stderr: stderr.text() });
            const fallback = code === null ? `killed by ${signal ?? "a signal"}` : `exit code ${code}`;
            // A signal we did not send (an OOM kill, systemd stopping the unit's whole control
            // group) is named in the details: the caller may have to ask libvirt how the job ended.
            reject(
              new HypervisorError(libvirtErrorText(stderr.text(), fallback), {
                details: { command: what, exitCode: code, ...(code === null && signal ? { signal } : {}) },
              }),
            );
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

/** Keeps the first and the last `max / 2` bytes of a stream; the text marks what was left out. */
class HeadAndTail {
  private readonly half: number;
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;

  constructor(max: number) {
    this.half = Math.floor(max / 2);
  }

  push(b: Buffer): void {
    if (this.headBytes < this.half) {
      const part = b.subarray(0, this.half - this.headBytes);
      this.head.push(part);
      this.headBytes += part.length;
      b = b.subarray(part.length);
    }
    if (b.length === 0) return;
    this.tail.push(b);
    this.tailBytes += b.length;
    // Trimmed once the tail holds twice what it keeps: memory stays bounded, copying amortised.
    if (this.tailBytes > 2 * this.half) this.trimTail();
  }

  text(): string {
    this.trimTail();
    const head = Buffer.concat(this.head).toString("utf8");
    const tail = Buffer.concat(this.tail).toString("utf8");
    return this.dropped === 0 ? head + tail : `${head}\n[... ${this.dropped} bytes of stderr left out ...]\n${tail}`;
  }

  private trimTail(): void {
    if (this.tailBytes <= this.half) return;
    const all = Buffer.concat(this.tail);
    this.dropped += all.length - this.half;
    this.tail = [all.subarray(all.length - this.half)];
    this.tailBytes = this.half;
  }
}
