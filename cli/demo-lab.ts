import { AgentConfig } from "../shared/config/agent-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../shared/config/policy.js";
import { NatsConfig } from "../shared/config/nats-config.js";
import { connectNats } from "../shared/nats/connect.js";
import { decodeJson } from "../shared/nats/json.js";
import { HostMetrics } from "../shared/schemas/host-metrics.js";
import { allAgents } from "../shared/subjects.js";
import { silentLogger } from "../shared/logger.js";
import type { NatsServerHandle } from "../shared/nats/nats-server-process.js";
import { startAgent, type AgentHandle } from "../agent/nats-agent.js";
import { startOrchestrator, type RunningOrchestrator } from "../orchestrator/main.js";
import { labAvailable, labUp, type Lab, type LabHost } from "../deploy/lab/lab-control.js";
import { demoHttp, type DemoCluster } from "./demo.js";

// The demo on the real libvirt lab: hv-a runs two guests burning CPU and one idle; hv-b two
// idle guests; hv-c one. Each agent uses the virsh driver against its hypervisor's socket, with
// host load from its own domains (the three share one kernel) on a nominal 2 cores.

const LAB_NAME = "demo";

/** The demo's guests: [hypervisor, name, burns CPU]. */
const GUESTS: readonly (readonly [string, string, boolean])[] = [
  ["hv-a", "web-1", true],
  ["hv-a", "web-2", true],
  ["hv-a", "db-1", false],
  ["hv-b", "app-1", false],
  ["hv-b", "app-2", false],
  ["hv-c", "mon-1", false],
];

/**
 * An agent on one lab hypervisor: virsh against its socket, load from its own domains (the lab's
 * hypervisors share one kernel) on a nominal 2 cores. Also used by the lab benchmark.
 */
export function labAgentConfig(host: LabHost, natsUrl: string, intervalS: number): AgentConfig {
  return AgentConfig.parse({
    host: host.id,
    nats: { servers: [natsUrl] },
    driver: "virsh",
    virsh: { uri: host.uri, timeout: 20 },
    load_source: "domains",
    cpus_override: 2,
    interval: intervalS,
    heartbeat_interval: intervalS,
    migration: { timeout: 120 },
  });
}

const burningGuests = (): string[] => GUESTS.filter(([, , burn]) => burn).map(([, name]) => name);

/**
 * The lab demo's policy for a machine where a burning guest gets `share` % of one core. The
 * hypervisors' load is their domains' CPU on a nominal 2 cores, so two burning guests make a host
 * `share` %, one makes it `share / 2`: the trigger sits between (three quarters of the way up), and
 * a destination may take one burning guest, not two. Fixed levels failed on a busy machine, where
 * the guests got a third of a core and never crossed them. Short cooldowns, so that the evening's
 * consolidation may move VMs that moved minutes before.
 */
export function demoLabPolicy(intervalS: number, share: number): PolicyInput {
  const level = (f: number) => Math.round(Math.min(95, Math.max(10, share * f)));
  return {
    interval: intervalS,
    stale_after: 6,
    max_over: 4,
    load_threshold: level(0.75),
    load_target: level(0.65),
    max_load_candidate: level(0.7),
    vm_cooldown: 30,
    host_settle: 5,
    spare_hosts: 0,
    consolidate_load: 60,
    mem_reserve_mib: 256,
    // Three hosts are too few to measure a swing (headroom.ts); say so rather than rely on it.
    headroom_min_share: 1,
  };
}

/** A guest counts as idle below this CPU, percent of one core. */
const IDLE_BELOW = 10;

/**
 * What a burning guest gets of one core here, percent, measured once the cluster has settled: the
 * idle guests measured idle in two consecutive reports each (a TCG guest stays busy for seconds
 * after its first console tick, and six booting guests take CPU from the burning ones), then the
 * median of `samples` measurements of the burning guests in the agents' metrics. At least 20. On
 * time-out, the median of what was seen (the demo then says how long it waited).
 */
async function burnShare(url: string, guests: readonly (readonly [string, string, boolean])[], samples: number, timeoutMs: number): Promise<number> {
  const burning = new Set(guests.filter(([, , burn]) => burn).map(([, name]) => name));
  const idle = guests.filter(([, , burn]) => !burn).map(([, name]) => name);
  const quietRuns = new Map<string, number>(idle.map((n) => [n, 0]));
  const nc = await connectNats(NatsConfig.parse({ servers: [url] }), "ballast-demo-calibration");
  const all: number[] = [];
  const settled: number[] = [];
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      nc.subscribe(allAgents.metrics, {
        callback: (_e, m) => {
          const d = decodeJson(HostMetrics, m.data);
          if (!d.ok) return;
          for (const v of d.value.vms) {
            if (v.cpuPercent === null) continue;
            if (quietRuns.has(v.name)) quietRuns.set(v.name, v.cpuPercent < IDLE_BELOW ? quietRuns.get(v.name)! + 1 : 0);
          }
          const quiet = [...quietRuns.values()].every((n) => n >= 2);
          for (const v of d.value.vms) {
            if (!burning.has(v.name) || v.cpuPercent === null) continue;
            all.push(v.cpuPercent);
            if (quiet) settled.push(v.cpuPercent);
          }
          if (settled.length >= samples) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await nc.close();
  }
  const seen = (settled.length > 0 ? settled : all).sort((a, b) => a - b);
  return Math.max(20, seen.length > 0 ? seen[Math.floor(seen.length / 2)]! : 90);
}

export function labDemoPossible(): { ok: boolean; why: string } {
  const a = labAvailable({ name: LAB_NAME });
  return a.ok ? { ok: true, why: "" } : { ok: false, why: a.why ?? "unknown" };
}

export async function startLabDemoCluster(server: NatsServerHandle, say: (s: string) => void, dashboard?: string): Promise<DemoCluster> {
  const interval = 1;
  say("bringing the lab up (three libvirtd daemons in network namespaces)");
  const lab: Lab = await labUp({ name: LAB_NAME });
  let policy: PolicyInput;
  const agents: AgentHandle[] = [];
  let orch: RunningOrchestrator | undefined;
  const stop = async () => {
    await orch?.stop().catch(() => undefined);
    for (const a of agents) await a.stop().catch(() => undefined);
    say("tearing the lab down");
    await lab.down();
  };
  try {
    await Promise.all(GUESTS.map(([hv, name, burn]) => lab.startGuest(hv, name, { burn })));
    say(`guests: ${GUESTS.map(([hv, n, b]) => `${n}@${hv}${b ? " (burning CPU)" : ""}`).join(", ")}`);
    for (const h of lab.hosts) {
      agents.push(await startAgent({ config: labAgentConfig(h, server.url, interval), logger: silentLogger() }));
    }
    // Levels are set from what a burning guest gets once every guest has booted: measured while
    // they boot, it is half of what it becomes, and the levels would sit under idle hosts.
    const t0 = Date.now();
    await Promise.all(GUESTS.map(([, name]) => lab.waitForTicks(name, 1, { after: 0, timeoutMs: 90_000 })));
    const share = await burnShare(server.url, GUESTS, 12, 60_000);
    say(`guests booted and settled after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    policy = demoLabPolicy(interval, share);
    say(
      `a burning guest gets ${share.toFixed(0)} % of a core on this machine now (TCG guests share its cores with everything else): ` +
        `hot above ${policy.load_threshold} % (two burning guests on a nominal 2 cores), relieved at ${policy.load_target} %, one burning guest at most per host`,
    );
    const config = OrchestratorConfig.parse({ nats: { servers: [server.url] }, policy, log_level: "silent", ...demoHttp(dashboard) });
    orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(lab.hosts.map((h) => [h.id, h.ip])), instance: "demo-lab" });
    say(`agents (virsh driver, load from domains on a nominal 2 cores) and orchestrator started; guest consoles tick in .lab/runs/${LAB_NAME}/consoles/`);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    label: "lab",
    server,
    hosts: lab.hosts.map((h) => h.id),
    hot: "hv-a",
    interval,
    policy,
    patience: 3,
    // The evening: the guests that burned CPU stop (their burner is switched over a serial port,
    // wherever they run now).
    coolDown: async () => {
      const burning = burningGuests();
      for (const name of burning) await lab.setBurn(name, false);
      return burning;
    },
    stop,
    ...(orch?.http ? { dashboardUrl: orch.http.url } : {}),
  };
}
