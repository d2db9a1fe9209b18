import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort, startNatsServer, type NatsServerHandle } from "./nats-server.js";

// Three real nats-servers clustered over routes on loopback, each with JetStream, each started
// from the shipped deploy/nats/cluster/nats-server.conf (made private: free loopback ports, its
// own store, no authorization). Each server is its own process; tests kill them by PID.

const SHIPPED_CONF = fileURLToPath(new URL("../../deploy/nats/cluster/nats-server.conf", import.meta.url));

/** The shipped cluster config for node `index` (0-based), with loopback routes on `routePorts`. */
export function clusterNodeConfig(index: number, routePorts: readonly number[]): string {
  const base = readFileSync(SHIPPED_CONF, "utf8");
  const edits: [RegExp, string][] = [
    [/^server_name: .*$/m, `server_name: n${index + 1}`],
    // Client port and address come from startNatsServer's flags; no monitoring port.
    [/^listen: .*$/m, ""],
    [/^http: .*$/m, ""],
    [/^(\s+)listen: 0\.0\.0\.0:6222$/m, `$1listen: "127.0.0.1:${routePorts[index]}"`],
    // startNatsServer gives each server its own store (-sd); authorization has its own tests.
    [/^\s*store_dir: .*$/m, ""],
    [/^include .*$/m, ""],
  ];
  let conf = base;
  for (const [re, to] of edits) {
    if (!re.test(conf)) throw new Error(`${SHIPPED_CONF} no longer has a line matching ${re}; update the test helper`);
    conf = conf.replace(re, to);
  }
  const routes = /nats-route:\/\/nats-(\d)\.mgmt\.example\.org:6222/g;
  if ((conf.match(routes) ?? []).length !== routePorts.length) throw new Error(`${SHIPPED_CONF} should list ${routePorts.length} routes`);
  return conf.replace(routes, (_, n: string) => `nats-route://127.0.0.1:${routePorts[Number(n) - 1]}`);
}

export interface NatsClusterHandle {
  servers: NatsServerHandle[];
  /** Client URLs of every server, for `nats.servers`. */
  urls: string[];
  /** SIGKILLs one server (no goodbye to routes or clients) and waits until it has exited. */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsCluster(opts: { readyTimeoutMs?: number } = {}): Promise<NatsClusterHandle> {
  const size = 3;
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) routePorts.push(await freePort());
  const servers: NatsServerHandle[] = [];
  const stop = async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
  };
  try {
    for (let i = 0; i < size; i++) {
      servers.push(await startNatsServer({ jetstream: true, config: clusterNodeConfig(i, routePorts) }));
    }
    await waitForJetStream(
      servers.map((s) => s.url),
      opts.readyTimeoutMs ?? 30_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    servers,
    urls: servers.map((s) => s.url),
    async kill(index) {
      const s = servers[index]!;
      const pid = s.pid;
      if (pid <= 0) return;
      process.kill(pid, "SIGKILL");
      const end = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    },
    stop,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves once every server sees all of them as routes and JetStream answers with a meta
 * leader: before that, creating a replicated stream fails with "insufficient resources".
 */
async function waitForJetStream(urls: string[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = "";
  for (const url of urls) {
    while (true) {
      try {
        const nc = await connect({ servers: url, timeout: 2000 });
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          const info = await jsm.getAccountInfo();
          if (info) break;
        } finally {
          await nc.close();
        }
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > end) throw new Error(`JetStream of the nats cluster not ready within ${timeoutMs} ms (${url}): ${last}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // The meta leader must also know every peer, or an R3 stream cannot be placed yet.
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    while (true) {
      const probe = `probe_${Math.random().toString(36).slice(2, 8)}`;
      try {
        await jsm.streams.add({ name: probe, subjects: [`${probe}.>`], num_replicas: urls.length, storage: StorageType.Memory });
        await jsm.streams.delete(probe);
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > end) throw new Error(`the nats cluster cannot place a stream with ${urls.length} replicas within ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await nc.close();
  }
}
