import type { NatsConnection } from "@nats-io/transport-node";
import { AgentConfig, type SimConfigInput } from "../../shared/config/agent-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../../shared/config/policy.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { silentLogger } from "../../shared/logger.js";
import { connectNats } from "../../shared/nats/connect.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../../shared/schemas/orchestrator-api.js";
import { callOrchestrator } from "../../cli/client.js";
import { loose, type LooseReply } from "../support/loose-reply.js";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import { waitUntil } from "../integration/sim-cluster.js";
import { startNatsServer } from "../support/nats-server.js";

// Several HA orchestrators (in this process) + sim agents on given NATS servers, an operator
// connection, and a spy that counts every migrate command sent to any agent.

export interface HaCluster {
  fabric: SimFabric;
  agents: Map<string, AgentHandle>;
  orchs: Map<string, RunningOrchestrator>;
  nc: NatsConnection;
  /** Migrate commands seen on ballast.agent.*.migrate: requestId -> { vm, count, epochs }. */
  sent: Map<string, { vm: string; count: number; epochs: (number | undefined)[] }>;
  /**
   * Migrations the agents started on their hypervisors: requestId -> { vm, source, count }. A
   * command sent twice is harmless; one started twice is the bug the HA tests look for.
   */
  applied: Map<string, { vm: string; source: string; count: number }>;
  sim(host: string): SimHypervisor;
  leader(): RunningOrchestrator | undefined;
  startOrch(instance: string): Promise<RunningOrchestrator>;
  api<E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>>;
  /** Asks until the leader answers (directly or forwarded by a standby), e.g. across an election. */
  leaderApi<E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>, timeoutMs?: number): Promise<LooseReply<ReplyOf<E>>>;
  stop(): Promise<void>;
}

export interface HaClusterOptions {
  servers: string[];
  hosts: Record<string, SimConfigInput>;
  policy: PolicyInput;
  interval: number;
  leaseTtl: number;
  bucket?: string;
  replicas?: number;
  stale_after?: number;
  orchestrators: string[];
  /** ha.forward_timeout, seconds (default: the config's). */
  forwardTimeout?: number;
}

export async function startHaCluster(o: HaClusterOptions): Promise<HaCluster> {
  const fabric = new SimFabric();
  const agents = new Map<string, AgentHandle>();
  const orchs = new Map<string, RunningOrchestrator>();
  const sent = new Map<string, { vm: string; count: number; epochs: (number | undefined)[] }>();
  const applied = new Map<string, { vm: string; source: string; count: number }>();
  const nats = { servers: o.servers, request_timeout: 2 };
  const nc = await connectNats(NatsConfig.parse({ servers: o.servers }), "test-operator");
  nc.subscribe("ballast.agent.*.migrate", {
    callback: (_e, m) => {
      const b = JSON.parse(new TextDecoder().decode(m.data)) as { requestId: string; vm: string; epoch?: number };
      const s = sent.get(b.requestId) ?? { vm: b.vm, count: 0, epochs: [] };
      s.count++;
      s.epochs.push(b.epoch);
      sent.set(b.requestId, s);
    },
  });
  await nc.flush();
  const startOrch = async (instance: string) => {
    const config = OrchestratorConfig.parse({
      nats,
      policy: o.policy,
      log_level: "silent",
      ha: {
        enabled: true,
        lease_ttl: o.leaseTtl,
        instance,
        bucket: o.bucket ?? "ballast-test",
        replicas: o.replicas ?? 1,
        ...(o.forwardTimeout !== undefined ? { forward_timeout: o.forwardTimeout } : {}),
      },
    });
    const r = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(Object.keys(o.hosts).map((h) => [h, h])) });
    orchs.set(instance, r);
    return r;
  };
  const stop = async () => {
    for (const r of orchs.values()) await r.stop().catch(() => undefined);
    for (const a of agents.values()) await a.stop().catch(() => undefined);
    await nc.close().catch(() => undefined);
  };
  try {
    for (const [host, sim] of Object.entries(o.hosts)) {
      const config = AgentConfig.parse({ host, nats, driver: "sim", interval: o.interval, heartbeat_interval: o.interval, sim });
      const agent = await startAgent({ config, logger: silentLogger(), fabric });
      countApplied(agent, applied);
      agents.set(host, agent);
    }
    for (const i of o.orchestrators) await startOrch(i);
  } catch (e) {
    await stop();
    throw e;
  }
  const api = async <E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>) =>
    loose(await callOrchestrator(nc, { request_timeout: 5 }, endpoint, body));
  return {
    fabric,
    agents,
    orchs,
    nc,
    sent,
    applied,
    sim: (host) => agents.get(host)!.hypervisor as SimHypervisor,
    leader: () => [...orchs.values()].find((r) => r.ha?.lease.isLeader()),
    startOrch,
    api,
    async leaderApi(endpoint, body, timeoutMs = 10_000) {
      // A transport failure (no responders, timeout) is retried like NOT_LEADER and NO_LEADER.
      let last: LooseReply<ReplyOf<typeof endpoint>> | undefined;
      let transport = false;
      await waitUntil(
        async () => {
          transport = false;
          last = await api(endpoint, body).catch((e: unknown) => {
            transport = true;
            return loose<ReplyOf<typeof endpoint>>({ ok: false, error: { code: "INTERNAL", message: `transport: ${String(e)}` } });
          });
          return !transport && !(last.ok === false && ["NOT_LEADER", "NO_LEADER"].includes(last.error.code));
        },
        timeoutMs,
        `the leader to answer ${endpoint}`,
      );
      return last!;
    },
    stop,
  };
}

/** An HA cluster on a nats-server with JetStream of its own, started for it; stop() stops the server too. */
export async function startHaClusterOnNats(o: Omit<HaClusterOptions, "servers">): Promise<HaCluster> {
  const server = await startNatsServer({ jetstream: true });
  const c = await startHaCluster({ ...o, servers: [server.url] }).catch(async (e: unknown) => {
    await server.stop();
    throw e;
  });
  return {
    ...c,
    async stop() {
      await c.stop();
      await server.stop();
    },
  };
}

/** Waits for `leader` to lead, then starts the standbys and waits until all hosts report. */
export async function leadThenStandBy(c: HaCluster, leader: string, standbys: string[], hosts: number, timeoutMs = 15_000): Promise<void> {
  await waitUntil(() => c.orchs.get(leader)!.ha!.lease.isLeader(), timeoutMs, `${leader} to lead`);
  for (const s of standbys) await c.startOrch(s);
  await waitUntil(
    async () => {
      const s = await c.api("status", {});
      return s.ok && s.data.hosts.filter((h) => h.fresh).length === hosts;
    },
    timeoutMs,
    "all hosts to report",
  );
}

/**
 * The failover scenes' three idle hosts: "big" on a, to be moved while it is copied for about
 * bigMiB / 1000 seconds, and one small VM on each host.
 */
export function failoverHosts(bigMiB: number): Record<string, SimConfigInput> {
  const vm = (name: string, mem = 1024) => ({ name, vcpus: 2, mem_mib: mem, cpu: 5 });
  const host = (vms: ReturnType<typeof vm>[]) => ({ cpus: 8, mem_mib: 32768, migration_mibs: 1000, start_delay_s: 0.05, vms });
  return { a: host([vm("big", bigMiB), vm("a-1")]), b: host([vm("b-1")]), c: host([vm("c-1")]) };
}

/** Counts every migration the agent's executor hands to its hypervisor, by request id. */
function countApplied(agent: AgentHandle, applied: HaCluster["applied"]): void {
  const hv = agent.hypervisor;
  const migrate = hv.migrate.bind(hv);
  hv.migrate = (vm, ...rest) => {
    // The executor records the request before it calls the hypervisor: the newest for this VM.
    const requestId =
      agent.migrations
        .migrations()
        .filter((m) => m.vm === vm)
        .at(-1)?.requestId ?? `unknown-${vm}`;
    const a = applied.get(requestId) ?? { vm, source: agent.host, count: 0 };
    a.count++;
    applied.set(requestId, a);
    return migrate(vm, ...rest);
  };
}

/**
 * The end-of-test invariant: every VM runs on exactly one host, and the orchestrator's view
 * (where its newest inventories say each VM runs) matches.
 */
export function checkPlacement(c: { fabric: SimFabric }, orch: RunningOrchestrator, vms: string[]): { vm: string; hosts: string[]; view: string[] }[] {
  return vms.map((vm) => ({
    vm,
    hosts: c.fabric.whereIs(vm).sort(),
    view: orch.orchestrator.view.cluster
      .locate(vm)
      .filter((l) => l.info.state === "running")
      .map((l) => l.host)
      .sort(),
  }));
}
