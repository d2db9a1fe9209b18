import { connect, type NatsConnection } from "@nats-io/transport-node";
import { labAgentConfig } from "../cli/demo-lab.js";
import { AgentConfig } from "../shared/config/agent-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../shared/config/policy.js";
import { silentLogger } from "../shared/logger.js";
import { startNatsServer } from "../shared/nats/nats-server-process.js";
import { startAgent, type AgentHandle } from "../agent/nats-agent.js";
import { startOrchestrator, type RunningOrchestrator } from "../orchestrator/main.js";
import { labAvailable, labDown, labUp, netnsVirshWrapper, writeLabPowerInventory, type Lab } from "../deploy/lab/lab-control.js";
import { figure, type Figure } from "./figures.js";
import { Cleanup, waitFor } from "./support.js";

// What every benchmark on the real lab shares: skip (with a figure saying why) where the lab cannot
// run; a nats-server, the lab, agents (virsh driver, load from domains) and an orchestrator that
// only moves what it is asked to; all torn down whatever happens, the lab last.

export interface LabBench {
  lab: Lab;
  orch: RunningOrchestrator;
  /** The agents this bench started, by hypervisor (a bench may stop one: a power loss). */
  agents: Map<string, AgentHandle>;
  /** The operator's connection. */
  nc: NatsConnection;
  /** Until the orchestrator sees `vm` running on `hv` alone, with fresh metrics of `hv`. */
  seenOn(vm: string, hv: string, timeoutMs?: number): Promise<void>;
}

export interface LabBenchOptions {
  /** Lab instance name (namespaces bl-<name>-*). */
  name: string;
  /** Figure name prefix, for the figure that says the run was skipped. */
  figures: string;
  /** Hypervisors that run an agent. */
  hosts: readonly string[];
  /** Policy on top of the bench defaults: operator moves only, no ping-pong freeze. */
  policy?: PolicyInput;
  /** Changes to each agent's configuration (labAgentConfig). */
  agent?: (c: AgentConfig, lab: Lab) => AgentConfig;
  /** Runs after the lab is up and before the agents start (start guests here). */
  prepare?: (lab: Lab) => Promise<void>;
  /** libvirt's lock manager on the lab (lab.sh up --locks). */
  locks?: boolean;
  /** A BMC per hypervisor (ipmi_sim), and the orchestrator's power inventory naming them. */
  bmc?: boolean;
  /**
   * Each agent's virsh inside its hypervisor's network namespace, as on a real host: its probes of
   * peers' libvirt (host failure) then cross the lab's migration network.
   */
  virshInNetns?: boolean;
}

const INTERVAL_S = 1;

export async function withLabBench(log: (s: string) => void, o: LabBenchOptions, run: (b: LabBench) => Promise<Figure[]>): Promise<Figure[]> {
  const avail = labAvailable({ name: o.name });
  if (!avail.ok) {
    log(`  skipped: the libvirt lab cannot run here (${avail.why})`);
    return [figure(`${o.figures}.skipped`, 1, "", undefined, "lower", `skipped: ${avail.why}`)];
  }
  const cleanup = new Cleanup();
  // Registered first, so it runs last and also after a failed labUp.
  cleanup.add("lab down", () => labDown({ name: o.name }));
  try {
    const server = await startNatsServer();
    cleanup.add("nats-server", () => server.stop());
    const lab = await labUp({ name: o.name, locks: o.locks ?? false });
    log(`  lab up in ${lab.upMs} ms`);
    let inventory: string | null = null;
    if (o.bmc) {
      await lab.bmcUp();
      inventory = await writeLabPowerInventory(lab, { timeoutSec: 3 });
    }
    await o.prepare?.(lab);
    const agents = new Map<string, AgentHandle>();
    for (const h of lab.hosts.filter((x) => o.hosts.includes(x.id))) {
      let base = labAgentConfig(h, server.url, INTERVAL_S);
      if (o.virshInNetns) {
        base = AgentConfig.parse({ ...base, virsh: { ...base.virsh, binary: netnsVirshWrapper(lab, h.id) } });
      }
      const agent = await startAgent({ config: o.agent ? o.agent(base, lab) : base, logger: silentLogger(), stopGraceMs: 2000 });
      agents.set(h.id, agent);
      cleanup.add(`agent ${h.id}`, () => agent.stop());
    }
    // Only operator moves: no strategy fires on idle guests with a threshold of 100 %. Guests go
    // back and forth on purpose: ping-pong detection is off (window 0).
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url] },
      policy: {
        interval: INTERVAL_S,
        max_over: 3,
        load_threshold: 100,
        load_target: 90,
        strategies: ["hotspot"],
        mem_reserve_mib: 256,
        pingpong_window: 0,
        ...o.policy,
      },
      ...(inventory ? { power: { inventory, status_interval: 2 } } : {}),
      log_level: "silent",
    });
    const orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(lab.hosts.map((h) => [h.id, h.ip])), instance: `bench-${o.name}` });
    cleanup.add("orchestrator", () => orch.stop());
    const nc = await connect({ servers: [server.url], name: `bench-${o.name}-operator` });
    cleanup.add("operator connection", () => nc.close());
    const seenOn = (vm: string, hv: string, timeoutMs = 60_000) =>
      waitFor(
        () => {
          const { cluster, policy } = orch.orchestrator.view;
          const where = cluster.locate(vm).filter((l) => l.info.state === "running");
          return where.length === 1 && where[0]!.host === hv && !where[0]!.info.migrating && cluster.isFresh(hv, Date.now(), policy);
        },
        timeoutMs,
        `orchestrator sees ${vm} on ${hv}`,
      );
    return await run({ lab, orch, agents, nc, seenOn });
  } finally {
    await cleanup.run(log, 120_000);
  }
}

/** labAgentConfig with more outgoing migrations at once. */
export const withMaxConcurrent =
  (n: number) =>
  (c: AgentConfig): AgentConfig =>
    AgentConfig.parse({ ...c, migration: { ...c.migration, max_concurrent: n } });

/**
 * The alternating rounds of a two-host comparison, each step after the orchestrator saw the guest
 * where it is: bare a→b, Ballast b→a, Ballast a→b, bare b→a. Returns both series, in ms.
 */
export async function alternatingRounds(o: {
  rounds: number;
  guest: string;
  seenOn: LabBench["seenOn"];
  bare: (dst: string) => Promise<number>;
  viaBallast: (dst: string) => Promise<number>;
  log: (s: string) => void;
}): Promise<{ bare: number[]; ballast: number[] }> {
  const [a, b] = ["hv-a", "hv-b"];
  const bare: number[] = [];
  const ballast: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    await o.seenOn(o.guest, a);
    bare.push(await o.bare(b));
    await o.seenOn(o.guest, b);
    ballast.push(await o.viaBallast(a));
    await o.seenOn(o.guest, a);
    ballast.push(await o.viaBallast(b));
    await o.seenOn(o.guest, b);
    bare.push(await o.bare(a));
    o.log(`  round ${r + 1}: bare ${bare.at(-2)} + ${bare.at(-1)} ms, via Ballast ${ballast.at(-2)} + ${ballast.at(-1)} ms`);
  }
  return { bare, ballast };
}
