import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "../shared/nats/nats-server-process.js";
import { connectNats } from "../shared/nats/connect.js";
import { NatsConfig } from "../shared/config/nats-config.js";
import { AgentConfig } from "../shared/config/agent-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../shared/config/policy.js";
import { silentLogger } from "../shared/logger.js";
import { startAgent, type AgentHandle } from "../agent/nats-agent.js";
import { SimFabric } from "../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../agent/sim/sim-hypervisor.js";
import { startOrchestrator, type RunningOrchestrator } from "../orchestrator/main.js";
import { demoHosts, demoPolicy } from "./demo-cluster.js";
import { runDemoScript, sleep } from "./demo-script.js";
import { labDemoPossible, startLabDemoCluster } from "./demo-lab.js";

// `ballast demo`: a private nats-server, hypervisors (the real libvirt lab when this machine can
// run it, simulated ones otherwise) and the real orchestrator; then the demo script. Exit status
// 0 only when every phase did what it should.

type Out = (s: string) => void;

/** A running demo cluster: agents and orchestrator on a private nats-server. */
export interface DemoCluster {
  label: string;
  server: NatsServerHandle;
  hosts: string[];
  hot: string;
  interval: number;
  policy: PolicyInput;
  patience: number;
  /** Makes the busy VMs idle (the demo's evening); returns their names. */
  coolDown(): Promise<string[]>;
  dashboardUrl?: string;
  stop(): Promise<void>;
}

/** Orchestrator HTTP settings for the demo: the dashboard may approve plans (it is on loopback). */
export const demoHttp = (listen: string | undefined) => (listen ? { http: { listen, allow_actions: true } } : {});

export async function runDemo(o: { follow: boolean; forceSim: boolean; fast: boolean; out: Out; dashboard?: string }): Promise<number> {
  const t0 = Date.now();
  const say = (s: string) => o.out(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}`);
  const lab = labDemoPossible();
  const useLab = !o.forceSim && lab.ok;
  o.out(
    useLab
      ? "Running the demo on the REAL libvirt lab: three libvirtd hypervisors in network namespaces, TCG guests, live migration with virsh."
      : `Running the demo on SIMULATED hypervisors (sim driver)${o.forceSim ? ", as asked (--sim)" : `, because the real libvirt lab cannot run here: ${lab.why}`}.`,
  );
  let server: NatsServerHandle | undefined;
  let cluster: DemoCluster | undefined;
  let nc: NatsConnection | undefined;
  let cleaned: Promise<void> | undefined;
  // Whatever happens (error, Ctrl-C, SIGTERM), the lab, the agents and nats-server go away.
  const cleanup = () =>
    (cleaned ??= (async () => {
      await nc?.close().catch(() => undefined);
      await cluster?.stop().catch((e) => say(`cleanup: ${(e as Error).message}`));
      await server?.stop().catch(() => undefined);
    })());
  let following: (() => void) | undefined;
  const onSignal = (sig: string) => {
    if (following) return following();
    say(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  const onInt = () => onSignal("SIGINT");
  const onTerm = () => onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    server = await startNatsServer();
    say(`nats-server ${server.url} (pid ${server.pid})`);
    cluster = useLab ? await startLabDemoCluster(server, say, o.dashboard) : await startSimDemoCluster(server, o.fast, say, o.dashboard);
    if (cluster.dashboardUrl) say(`dashboard: ${cluster.dashboardUrl}`);
    nc = await connectNats(NatsConfig.parse({ servers: [server.url] }), "ballast-demo");
    const policy = OrchestratorConfig.parse({ policy: cluster.policy }).policy;
    const problems = await runDemoScript({
      nc,
      hot: cluster.hot,
      hostCount: cluster.hosts.length,
      interval: cluster.interval,
      loadThreshold: policy.load_threshold,
      maxOver: policy.max_over,
      patience: cluster.patience,
      coolDown: () => cluster!.coolDown(),
      cooldownS: policy.vm_cooldown,
      say,
      out: o.out,
    });
    if (o.follow) {
      say(`following (nats ${server.url}: try \`bin/ballast status -s ${server.url}\`); Ctrl-C to stop`);
      await new Promise<void>((resolve) => (following = resolve));
    }
    return problems.length === 0 ? 0 : 1;
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    await cleanup();
  }
}

async function startSimDemoCluster(server: NatsServerHandle, fast: boolean, say: Out, dashboard?: string): Promise<DemoCluster> {
  const interval = fast ? 0.5 : 2;
  const policy = demoPolicy(interval);
  const fabric = new SimFabric();
  const hosts = demoHosts(fast ? 16384 : 2048);
  const agents: AgentHandle[] = [];
  let orch: RunningOrchestrator | undefined;
  const stop = async () => {
    await orch?.stop().catch(() => undefined);
    for (const a of agents) await a.stop().catch(() => undefined);
  };
  try {
    for (const h of hosts) {
      const config = AgentConfig.parse({ host: h.host, nats: { servers: [server.url] }, driver: "sim", interval, heartbeat_interval: interval, sim: h.sim });
      agents.push(await startAgent({ config, logger: silentLogger(), fabric }));
    }
    say(`sim agents: ${hosts.map((h) => `${h.host} (${h.sim.cpus} cores, ${h.sim.vms?.length ?? 0} VMs)`).join(", ")}`);
    const config = OrchestratorConfig.parse({ nats: { servers: [server.url] }, policy, log_level: "silent", ...demoHttp(dashboard) });
    orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(hosts.map((h) => [h.host, h.host])), instance: "demo" });
    await sleep(100);
  } catch (e) {
    await stop();
    throw e;
  }
  // The evening: every VM busier than one core idles at 10 % of one.
  const busy = hosts.flatMap((h) => (h.sim.vms ?? []).filter((v) => typeof v.cpu === "number" && v.cpu >= 100).map((v) => v.name));
  const coolDown = async (): Promise<string[]> => {
    for (const vm of busy)
      for (const host of fabric.whereIs(vm)) (agents.find((a) => a.host === host)?.hypervisor as SimHypervisor | undefined)?.setVmCpu(vm, 10);
    return busy;
  };
  return {
    label: "sim",
    server,
    hosts: hosts.map((h) => h.host),
    hot: "hv-1",
    interval,
    policy,
    patience: 1,
    coolDown,
    stop,
    ...(orch.http ? { dashboardUrl: orch.http.url } : {}),
  };
}
