import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

// Small helpers shared by the benchmarks: bounded waits, a cleanup stack that always runs, child
// processes of this compiled bench directory, statistics.

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects with `what` after `ms`; the timer does not keep the process alive. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    t.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (t) clearTimeout(t);
  }
}

/** Polls `cond` every `everyMs` until true, or throws after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** LIFO cleanup: every step runs (bounded), errors are logged, never thrown past the bench. */
export class Cleanup {
  /** Cleanups not yet run, for the runner's SIGINT/SIGTERM handler. */
  static readonly active = new Set<Cleanup>();
  private steps: { what: string; fn: () => unknown }[] = [];
  constructor() {
    Cleanup.active.add(this);
  }
  add(what: string, fn: () => unknown): void {
    this.steps.push({ what, fn });
  }
  async run(log: (s: string) => void, stepTimeoutMs = 30_000): Promise<void> {
    Cleanup.active.delete(this);
    while (this.steps.length > 0) {
      const s = this.steps.pop()!;
      try {
        await withTimeout(Promise.resolve().then(s.fn), stepTimeoutMs, `cleanup ${s.what}`);
      } catch (e) {
        log(`  cleanup ${s.what} failed: ${(e as Error).message}`);
      }
    }
  }
}

/** Starts `node <bench dir>/<script>` with IPC; the child is killed by PID on cleanup. */
export function spawnBenchChild(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [join(BENCH_DIR, script), ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"], env: { ...process.env, ...env } });
}

/** Kills a child we started (SIGTERM, then SIGKILL after `graceMs`) and waits for its exit. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const done = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await done;
  clearTimeout(t);
}

/** The next IPC message from `child` that satisfies `match`. */
export function nextMessage<T>(child: ChildProcess, match: (m: unknown) => m is T, ms: number, what: string): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => {
      const on = (m: unknown) => {
        if (!match(m)) return;
        child.off("message", on);
        child.off("exit", onExit);
        resolve(m);
      };
      const onExit = (code: number | null) => {
        child.off("message", on);
        reject(new Error(`${what}: child exited (${code})`));
      };
      child.on("message", on);
      child.once("exit", onExit);
    }),
    ms,
    what,
  );
}

/** Resident set size of a process, KiB (VmRSS in /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Config of a private nats-server for benchmarks: big buffers for slow consumers, monitoring. */
export const benchNatsConfig = (httpPort: number): string => `http: "127.0.0.1:${httpPort}"\nmax_payload: 8MB\nmax_pending: 512MB\nwrite_deadline: "30s"\n`;

/** The server's slow-consumer count (monitoring endpoint /varz). */
export async function natsSlowConsumers(httpPort: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${httpPort}/varz`);
  const v = (await r.json()) as { slow_consumers?: number };
  return v.slow_consumers ?? 0;
}

/**
 * A full garbage collection, so that one timed run does not pay for the garbage of the previous
 * one. `npm run bench` runs plain `node`, hence the flag is switched on here rather than on the
 * command line.
 */
export function collectGarbage(): void {
  const g = globalThis as { gc?: () => void };
  if (!g.gc) {
    setFlagsFromString("--expose-gc");
    g.gc = runInNewContext("gc") as () => void;
  }
  g.gc!();
}
