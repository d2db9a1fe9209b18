import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Starts a private nats-server (Debian package) on a free loopback port, for the demo and the
// tests, and stops exactly that process by its PID.

export interface NatsServerHandle {
  url: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
  /** Kill and start again on the same port (and the same JetStream store). */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something listens on 127.0.0.1:port; gives up early when `exited()` says the server died. */
export async function waitForPort(port: number, timeoutMs: number, exited: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited()) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export async function startNatsServer(opts: { jetstream?: boolean; config?: string; port?: number; binary?: string } = {}): Promise<NatsServerHandle> {
  const binary = opts.binary ?? "nats-server";
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "ballast-nats-"));
  const args = ["-a", "127.0.0.1", "-p", String(port)];
  if (opts.jetstream) args.push("-js", "-sd", join(dir, "js"));
  if (opts.config) {
    const conf = join(dir, "server.conf");
    writeFileSync(conf, opts.config);
    args.push("-c", conf);
  }
  let child: ChildProcess;
  const start = async () => {
    child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr = (stderr + String(d)).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      child.once("error", (e) => reject(new Error(`cannot start ${binary}: ${e.message} (install the Debian package nats-server: bash deploy/setup.sh)`)));
      child.once("exit", (code) => reject(new Error(`nats-server exited (${code}): ${stderr}`)));
    });
    await Promise.race([waitForPort(port, 10_000), exited]);
    child.removeAllListeners("exit");
    child.removeAllListeners("error");
  };
  const stopChild = async () => {
    // A server killed by a signal (a test's SIGKILL) has signalCode set and exitCode still null.
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const done = new Promise<void>((r) => child.once("exit", () => r()));
    process.kill(child.pid, "SIGTERM");
    const t = setTimeout(() => {
      if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
    }, 3000);
    await done;
    clearTimeout(t);
  };
  try {
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    dir,
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopChild();
      await start();
    },
  };
}
