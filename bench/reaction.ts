import { connect } from "@nats-io/transport-node";
import { AgentConfig } from "../shared/config/agent-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import { silentLogger } from "../shared/logger.js";
import { startNatsServer } from "../shared/nats/nats-server-process.js";
import { agentSubjects } from "../shared/subjects.js";
import { startAgent, type AgentHandle } from "../agent/nats-agent.js";
import { SimFabric } from "../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../agent/sim/sim-hypervisor.js";
import { startOrchestrator } from "../orchestrator/main.js";
import { figure, type Figure } from "./figures.js";
import { Cleanup, median, sleep, withTimeout } from "./support.js";

// Reaction time: a real nats-server, sim agents and a whole orchestrator (interval 1 s,
// max_over 3 s). A sim VM's CPU is raised so its host crosses load_threshold; T0 is the sample
// time (agent clock) of the first published metrics over the threshold; the end is the moment
// the orchestrator's migrate request reaches an extra subscriber on ballast.agent.<hot>.migrate.
// Each repetition starts a fresh orchestrator and agents (same server), so none inherits windows,
// cooldowns or settle times from the previous one.

const INTERVAL_S = 1;
const MAX_OVER_S = 3;
const THRESHOLD = 80;
const REPS = 5;
const HOSTS = 4;

async function once(url: string, rep: number, log: (s: string) => void): Promise<{ reactionMs: number; setToT0Ms: number }> {
  const cleanup = new Cleanup();
  try {
    const fabric = new SimFabric();
    const ids = Array.from({ length: HOSTS }, (_, i) => `r${rep}-hv-${i}`);
    const agents: AgentHandle[] = [];
    for (const host of ids) {
      const config = AgentConfig.parse({
        host,
        nats: { servers: [url] },
        interval: INTERVAL_S,
        heartbeat_interval: INTERVAL_S,
        driver: "sim",
        sim: {
          cpus: 8,
          mem_mib: 65_536,
          migration_mibs: 100_000,
          start_delay_s: 0.05,
          vms: [
            { name: `${host}-big`, vcpus: 8, mem_mib: 4096, cpu: 50 },
            ...Array.from({ length: 4 }, (_, j) => ({ name: `${host}-vm${j}`, vcpus: 1, mem_mib: 1024, cpu: 40 })),
          ],
        },
      });
      const a = await startAgent({ config, logger: silentLogger(), fabric, stopGraceMs: 500 });
      cleanup.add(`agent ${host}`, () => a.stop());
      agents.push(a);
    }
    // A real orchestrator's cycle timer has no relation to the agents' collection phase: start it
    // at a random offset (started together, both 1 s timers stay aligned and hide up to one interval).
    await sleep(Math.random() * INTERVAL_S * 1000);
    const config = OrchestratorConfig.parse({
      nats: { servers: [url] },
      policy: { interval: INTERVAL_S, max_over: MAX_OVER_S, load_threshold: THRESHOLD, strategies: ["hotspot"] },
      log_level: "silent",
    });
    const orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(ids.map((h) => [h, h])), instance: `bench-reaction-${rep}` });
    cleanup.add("orchestrator", () => orch.stop());

    const hot = ids[0]!;
    const nc = await connect({ servers: [url], name: "bench-reaction-observer" });
    cleanup.add("observer", () => nc.close());
    let t0: number | undefined;
    let seenAt: number | undefined;
    let armed = false;
    const over: { ts: number; at: number }[] = [];
    nc.subscribe(agentSubjects(hot).metrics, {
      callback: (_e, m) => {
        const v = m.json<{ ts: number; cpuPercent: number }>();
        if (armed && v.cpuPercent > THRESHOLD) {
          t0 ??= v.ts;
          over.push({ ts: v.ts, at: Date.now() });
        }
      },
    });
    nc.subscribe(agentSubjects(hot).migrate, {
      callback: () => {
        if (armed && seenAt === undefined) seenAt = Date.now();
      },
    });
    await nc.flush();
    // Let every host be known and fresh with a few samples under the threshold.
    await sleep(2500 + Math.random() * 1000);
    armed = true;
    const setAt = Date.now();
    (agents[0]!.hypervisor as SimHypervisor).setVmCpu(`${hot}-big`, 750);
    await withTimeout(
      (async () => {
        while (seenAt === undefined) await sleep(5);
      })(),
      15_000,
      `rep ${rep}: migrate request from ${hot}`,
    );
    if (t0 === undefined) throw new Error(`rep ${rep}: migrate request seen before any metrics over the threshold`);
    const r = { reactionMs: seenAt! - t0, setToT0Ms: t0 - setAt };
    // The orchestrator judges the streak on its receive times; show when (on the observer's) it spanned max_over.
    const first = over[0]!;
    const full = over.find((o) => o.at - first.at >= MAX_OVER_S * 1000);
    const fullNote = full ? `over-threshold samples span max_over at T0 + ${full.at - t0} ms (received), request ${seenAt! - full.at} ms later` : "";
    log(`  rep ${rep + 1}: first sample over ${THRESHOLD} % at T0 = set + ${r.setToT0Ms} ms; migrate request at T0 + ${r.reactionMs} ms; ${fullNote}`);
    return r;
  } finally {
    await cleanup.run(log);
  }
}

export async function reactionTime(log: (s: string) => void): Promise<Figure[]> {
  const server = await startNatsServer();
  try {
    const times: number[] = [];
    for (let rep = 0; rep < REPS; rep++) times.push((await once(server.url, rep, log)).reactionMs);
    const limit = { kind: "limit" as const, label: "max_over + interval + 100 ms", value: (MAX_OVER_S + INTERVAL_S) * 1000 + 100 };
    return [
      figure("reaction.worst", Math.max(...times), "ms", limit, "lower", `${REPS} runs: ${times.join(", ")} ms`),
      figure("reaction.median", median(times), "ms", limit),
    ];
  } finally {
    await server.stop();
  }
}
