import { AgentConfig } from "../shared/config/agent-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../shared/config/policy.js";
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

export function labDemoPossible(): { ok: boolean; why: string } {
  const a = labAvailable({ name: LAB_NAME });
  return a.ok ? { ok: true, why: "" } : { ok: false, why: a.why ?? "unknown" };
}

export async function startLabDemoCluster(server: NatsServerHandle, say: (s: string) => void, dashboard?: string): Promise<DemoCluster> {
  const interval = 1;
  const policy: PolicyInput = {
    interval,
    stale_after: 6,
    max_over: 4,
    // TCG guests share the machine's cores with everything else, so a burning guest may get
    // well under a full core: thresholds sit where two burning guests cross and one does not.
    load_threshold: 60,
    load_target: 55,
    max_load_candidate: 65,
    vm_cooldown: 600,
    host_settle: 5,
    spare_hosts: 0,
    consolidate_load: 60,
    mem_reserve_mib: 256,
  };
  say("bringing the lab up (three libvirtd daemons in network namespaces)");
  const lab: Lab = await labUp({ name: LAB_NAME });
  const agents: AgentHandle[] = [];
  let orch: RunningOrchestrator | undefined;
  const stop = async () => {
    await orch?.stop().catch(() => undefined);
    for (const a of agents) await a.stop().catch(() => undefined);
    say("tearing the lab down");
    await lab.down();
  };
  try {
    const guests: [string, string, boolean][] = [
      ["hv-a", "web-1", true],
      ["hv-a", "web-2", true],
      ["hv-a", "db-1", false],
      ["hv-b", "app-1", false],
      ["hv-b", "app-2", false],
      ["hv-c", "mon-1", false],
    ];
    await Promise.all(guests.map(([hv, name, burn]) => lab.startGuest(hv, name, { burn })));
    say(`guests: ${guests.map(([hv, n, b]) => `${n}@${hv}${b ? " (burning CPU)" : ""}`).join(", ")}`);
    for (const h of lab.hosts) {
      agents.push(await startAgent({ config: labAgentConfig(h, server.url, interval), logger: silentLogger() }));
    }
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
    stop,
    ...(orch?.http ? { dashboardUrl: orch.http.url } : {}),
  };
}
