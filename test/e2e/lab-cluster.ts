// The whole of Ballast on the real libvirt lab: three libvirtd "hypervisors" (deploy/lab), a
// real nats-server, one agent per hypervisor as its own OS process (virsh driver, load from its
// own domains), the orchestrator in this process, and an operator connection over NATS.
//
// Agents are separate processes so a test can SIGKILL (crash) or SIGSTOP (freeze) one by PID,
// as happens to a real daemon: `bin/ballast agent --config <file>`, as systemd runs it.

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import type { NatsConnection } from "@nats-io/transport-node";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import type { AgentConfigInput } from "../../shared/config/agent-config.js";
import type { PolicyInput } from "../../shared/config/policy.js";
import { connectNats } from "../../shared/nats/connect.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput, StatusReply } from "../../shared/schemas/orchestrator-api.js";
import { callOrchestrator } from "../../cli/client.js";
import { loose, type LooseReply } from "../support/loose-reply.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { netnsVirshWrapper, REPO_ROOT, type Lab } from "../support/lab.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil<T>(
  cond: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The agent settings the lab scenarios share: one-second cycles, load from the domains, 2 nominal cores. */
export const LAB_AGENT = {
  interval: 1,
  heartbeat_interval: 1,
  load_source: "domains",
  cpus_override: 2,
  log_level: "info",
} as const satisfies Partial<AgentConfigInput>;

/** The agent as a real daemon: the built CLI (`npm test` builds first). Returns node's arguments. */
async function agentCommand(_outDir: string): Promise<string[]> {
  const dist = join(REPO_ROOT, "dist", "cli", "main.js");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` (npm test does it first)`);
  return [join(REPO_ROOT, "bin", "ballast"), "agent", "--config"];
}

export interface AgentProc {
  host: string;
  child: ChildProcess;
  pid: number;
  log: string;
  exited: Promise<number | null>;
}

/** An orchestrator as its own OS process (`bin/ballast orchestrator --config`), for HA scenarios. */
export interface OrchProc {
  instance: string;
  child: ChildProcess;
  pid: number;
  log: string;
  exited: Promise<number | null>;
}

export interface LabCluster {
  lab: Lab;
  server: NatsServerHandle;
  /** The in-process orchestrator; undefined when the cluster runs orchestrator processes (`ha`). */
  orch: RunningOrchestrator | undefined;
  /** Orchestrator processes by instance (`ha` only). */
  orchs: Map<string, OrchProc>;
  /** Starts (again) an orchestrator process (`ha` only). */
  startOrchestrator(instance: string): OrchProc;
  /** SIGKILLs an orchestrator process, as a crash or a power loss of its node would. */
  killOrchestrator(instance: string): Promise<void>;
  /** The leader's instance name as `status` says (any instance answers; a standby forwards). */
  leader(): Promise<string | null>;
  nc: NatsConnection;
  agents: Map<string, AgentProc>;
  /** Every process group of an agent this cluster started (crashed ones included: their virsh children). */
  groups: Set<number>;
  dir: string;
  api<E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>>;
  history(filter?: { vm?: string; host?: string }): Promise<MigrationRecord[]>;
  status(): Promise<StatusReply>;
  startAgent(host: string, extra?: Partial<AgentConfigInput>): Promise<AgentProc>;
  stopAgent(host: string): Promise<void>;
  signalAgent(host: string, sig: NodeJS.Signals): void;
  waitFresh(hosts: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startLabCluster(
  lab: Lab,
  o: {
    policy: PolicyInput;
    agent: Partial<AgentConfigInput>;
    /** More environment for every agent process (STATE_DIRECTORY, as systemd sets it). */
    agentEnv?: (host: string) => NodeJS.ProcessEnv;
    /** More orchestrator.yaml keys (power, ...). */
    orchestrator?: Record<string, unknown>;
    /** Called with each agent process the cluster starts (also restarts). */
    onAgentStart?: (p: AgentProc) => void;
    /**
     * Run these orchestrator instances as separate processes with HA on (JetStream on the
     * server, a shared lease), instead of one orchestrator in this process.
     */
    ha?: { instances: string[]; leaseTtl: number };
    /**
     * Run each agent's virsh inside its hypervisor's network namespace (a wrapper as virsh.binary),
     * as an agent on a real host would: its probes of peers' libvirt (host failure) then go over
     * the lab's migration network. The agent process itself stays here, next to nats-server.
     */
    virshInNetns?: boolean;
  },
): Promise<LabCluster> {
  const dir = join(lab.dir, "e2e");
  mkdirSync(dir, { recursive: true });
  const cmd = await agentCommand(join(REPO_ROOT, ".lab", "e2e-build"));
  const server = await startNatsServer(o.ha ? { jetstream: true } : {});
  const agents = new Map<string, AgentProc>();
  const groups = new Set<number>();
  // Agents must not pick up BALLAST_* of the test environment (BALLAST_LAB_DIR would be a config key).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BALLAST_")));
  let orchLog = 0;

  const startAgent = async (host: string, extra: Partial<AgentConfigInput> = {}): Promise<AgentProc> => {
    const h = lab.host(host);
    let binary: Partial<NonNullable<AgentConfigInput["virsh"]>> = {};
    if (o.virshInNetns) {
      binary = { binary: netnsVirshWrapper(lab, host) };
    }
    const config: AgentConfigInput = {
      host,
      nats: { servers: [server.url] },
      driver: "virsh",
      ...o.agent,
      ...extra,
      virsh: { uri: h.uri, timeout: 10, ...binary, ...o.agent.virsh, ...extra.virsh },
      migration: { uri_scheme: "qemu+tcp", use_migrateuri: true, timeout: 60, ...o.agent.migration, ...extra.migration },
    };
    const file = join(dir, `agent-${host}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    const log = join(dir, `agent-${host}.log`);
    const fd = openSync(log, "a");
    const child = spawn(process.execPath, [...cmd, file], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...env, ...o.agentEnv?.(host) },
      cwd: REPO_ROOT,
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`agent ${host} did not start`);
    groups.add(child.pid);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const p: AgentProc = { host, child, pid: child.pid, log, exited };
    agents.set(host, p);
    o.onAgentStart?.(p);
    return p;
  };

  const stopAgent = async (host: string): Promise<void> => {
    const p = agents.get(host);
    if (!p) return;
    agents.delete(host);
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    try {
      process.kill(p.pid, "SIGCONT");
      process.kill(p.pid, "SIGTERM");
    } catch {
      /* gone */
    }
    const done = await Promise.race([p.exited.then(() => true), sleep(8000).then(() => false)]);
    if (!done) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
      await p.exited;
    }
  };

  const orchs = new Map<string, OrchProc>();
  const orchestratorKeys = {
    nats: { servers: [server.url], request_timeout: 3 },
    policy: o.policy,
    migration_timeout: 120,
    log_level: "info",
    ...o.orchestrator,
  };
  const startOrchProcess = (instance: string): OrchProc => {
    if (!o.ha) throw new Error("startOrchestrator: this cluster runs its orchestrator in process (no ha option)");
    const mapping = join(dir, "host_mapping.csv");
    writeFileSync(mapping, lab.hosts.map((h) => `${h.id},${h.ip}\n`).join(""));
    const file = join(dir, `orchestrator-${instance}.json`);
    const config = { ...orchestratorKeys, host_mapping: mapping, ha: { enabled: true, lease_ttl: o.ha.leaseTtl, instance, bucket: "ballast-lab-ha" } };
    OrchestratorConfig.parse(config); // a wrong key fails here, with zod's words, not in a child's log
    writeFileSync(file, JSON.stringify(config, null, 2));
    const log = join(dir, `orchestrator-${instance}.log`);
    const fd = openSync(log, "a");
    const child = spawn(process.execPath, [join(REPO_ROOT, "bin", "ballast"), "orchestrator", "--config", file], {
      stdio: ["ignore", fd, fd],
      env,
      cwd: REPO_ROOT,
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`orchestrator ${instance} did not start`);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const p: OrchProc = { instance, child, pid: child.pid, log, exited };
    orchs.set(instance, p);
    return p;
  };
  const killOrch = async (instance: string): Promise<void> => {
    const p = orchs.get(instance);
    if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    await p.exited;
  };
  const stopOrchs = async (): Promise<void> => {
    for (const p of orchs.values()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      try {
        process.kill(p.pid, "SIGTERM");
      } catch {
        continue;
      }
      const done = await Promise.race([p.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) await killOrch(p.instance);
    }
  };

  let orch: RunningOrchestrator | undefined;
  let nc: NatsConnection | undefined;
  try {
    for (const h of lab.hosts) await startAgent(h.id);
    if (o.ha) for (const i of o.ha.instances) startOrchProcess(i);
    else {
      const config = OrchestratorConfig.parse(orchestratorKeys);
      orchLog = openSync(join(dir, "orchestrator.log"), "a");
      const log = pino({ level: "info" }, pino.destination({ dest: orchLog, sync: true }));
      orch = await startOrchestrator({ config, log, mapping: new Map(lab.hosts.map((h) => [h.id, h.ip])), instance: "e2e" });
    }
    nc = await connectNats(NatsConfig.parse({ servers: [server.url] }), "e2e-operator");
  } catch (e) {
    await orch?.stop().catch(() => undefined);
    await stopOrchs();
    for (const h of [...agents.keys()]) await stopAgent(h);
    for (const g of groups) killGroup(g);
    await server.stop();
    throw e;
  }
  const conn = nc;
  const running = orch;
  const api = async <E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>) =>
    loose(await callOrchestrator(conn, { request_timeout: 8 }, endpoint, body));
  const c: LabCluster = {
    lab,
    server,
    orch: running,
    orchs,
    startOrchestrator: startOrchProcess,
    killOrchestrator: killOrch,
    async leader() {
      const r = await api("status", {}).catch(() => undefined);
      if (!r?.ok) return null;
      return r.data.ha ? r.data.ha.leaderInstance : "e2e";
    },
    nc: conn,
    agents,
    groups,
    dir,
    api,
    async history(filter = {}) {
      const r = await api("history", { ...filter, limit: 200 });
      if (!r.ok) throw new Error(`history: ${JSON.stringify(r)}`);
      return r.data;
    },
    async status() {
      const r = await api("status", {});
      if (!r.ok) throw new Error(`status: ${JSON.stringify(r)}`);
      return r.data;
    },
    startAgent,
    stopAgent,
    signalAgent(host, sig) {
      const p = agents.get(host);
      if (!p) throw new Error(`no agent process for ${host}`);
      process.kill(p.pid, sig);
    },
    async waitFresh(hosts, timeoutMs = 30_000) {
      await waitUntil(
        async () => {
          // Orchestrator processes answer once they are up (and a new leader once elected).
          const s = await c.status().catch(() => undefined);
          return s !== undefined && hosts.every((h) => s.hosts.some((x) => x.host === h && x.fresh && x.collectOk));
        },
        timeoutMs,
        `hosts ${hosts.join(", ")} fresh`,
      );
    },
    async stop() {
      await conn.close().catch(() => undefined);
      await running?.stop().catch(() => undefined);
      await stopOrchs();
      for (const h of [...agents.keys()]) await stopAgent(h).catch(() => undefined);
      // Crashed agents leave their virsh children (migrate, event watchers): end their groups.
      for (const g of groups) killGroup(g);
      await server.stop().catch(() => undefined);
      if (orchLog) closeSync(orchLog);
    },
  };
  return c;
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    /* the group is gone */
  }
}

/** Tick numbers must rise by one from 1 with a single boot: the guest never restarted. */
export function tickContinuity(lab: Lab, vm: string): { ok: boolean; boots: number; ticks: number; why?: string } {
  const ticks = lab.ticks(vm);
  const boots = lab.boots(vm);
  if (boots !== 1) return { ok: false, boots, ticks: ticks.length, why: `${boots} BOOT lines` };
  for (let i = 1; i < ticks.length; i++) {
    if (ticks[i]! <= ticks[i - 1]!) return { ok: false, boots, ticks: ticks.length, why: `tick ${ticks[i]} after ${ticks[i - 1]} (reset)` };
  }
  return { ok: true, boots, ticks: ticks.length };
}

export const readLog = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
