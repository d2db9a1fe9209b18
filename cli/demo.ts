import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "../shared/nats/nats-server-process.js";
import { connectNats } from "../shared/nats/connect.js";
import { requestJson } from "../shared/nats/json.js";
import { NatsConfig } from "../shared/config/nats-config.js";
import { AgentConfig } from "../shared/config/agent-config.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import { orchestratorSubjects } from "../shared/subjects.js";
import { silentLogger } from "../shared/logger.js";
import { startAgent, type AgentHandle } from "../agent/nats-agent.js";
import { SimFabric } from "../agent/sim/sim-fabric.js";
import { startOrchestrator, type RunningOrchestrator } from "../orchestrator/main.js";
import type { MigrationRecord } from "../orchestrator/shell/migration-record.js";
import { demoHosts, demoPolicy } from "./demo-cluster.js";
import { renderHistory } from "./render.js";
import { labDemoPossible } from "./demo-lab.js";

// `ballast demo`: a private nats-server, simulated hypervisors and the real orchestrator, driven
// through the operator API like a person would: hot-spot relief happens by itself, then an
// evacuation and a consolidation are asked for. Ends with a summary and exit status 0 only when
// each step did what it should.

type Out = (s: string) => void;

interface HostRow {
  host: string;
  fresh: boolean;
  cpuPercent: number;
  memPercent: number;
  runningVms: number;
  maintenance: boolean;
}

export async function runDemo(o: { follow: boolean; forceSim: boolean; fast: boolean; out: Out }): Promise<number> {
  const lab = labDemoPossible();
  if (!o.forceSim && lab.ok) {
    const { runLabDemo } = await import("./demo-lab.js");
    return runLabDemo(o);
  }
  o.out(`Running the demo on SIMULATED hypervisors (sim driver)${o.forceSim ? " as asked (--sim)" : `: the real libvirt lab cannot run here (${lab.why})`}.`);
  return runSimDemo(o);
}

async function runSimDemo(o: { follow: boolean; fast: boolean; out: Out }): Promise<number> {
  const interval = o.fast ? 0.5 : 2;
  const t0 = Date.now();
  const say = (s: string) => o.out(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${s}`);
  let server: NatsServerHandle | undefined;
  const agents: AgentHandle[] = [];
  let orch: RunningOrchestrator | undefined;
  let nc: NatsConnection | undefined;
  const stopSignal = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  try {
    server = await startNatsServer();
    say(`nats-server ${server.url} (pid ${server.pid})`);
    const nats = NatsConfig.parse({ servers: [server.url] });
    const fabric = new SimFabric();
    const hosts = demoHosts(o.fast ? 16384 : 2048);
    for (const h of hosts) {
      const config = AgentConfig.parse({ host: h.host, nats: { servers: [server.url] }, driver: "sim", interval, heartbeat_interval: interval, sim: h.sim });
      agents.push(await startAgent({ config, logger: silentLogger(), fabric }));
    }
    say(`agents: ${hosts.map((h) => `${h.host} (${h.sim.cpus} cores, ${h.sim.vms?.length ?? 0} VMs)`).join(", ")}`);
    const config = OrchestratorConfig.parse({ nats: { servers: [server.url] }, policy: demoPolicy(interval), log_level: "silent" });
    orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(hosts.map((h) => [h.host, h.host])), instance: "demo" });
    nc = await connectNats(nats, "ballast-demo");
    const api = async (endpoint: keyof typeof orchestratorSubjects, body: unknown): Promise<any> => {
      const r = await requestJson(nc!, orchestratorSubjects[endpoint], body, { timeoutMs: 5000 });
      if (!r.ok) throw new Error(`${endpoint}: ${r.error.code}: ${r.error.message}`);
      return r.data;
    };
    nc.subscribe(orchestratorSubjects.events, {
      callback: (_e, m) => {
        const ev = JSON.parse(new TextDecoder().decode(m.data));
        if (ev.type !== "migration") return;
        const r = ev.record as MigrationRecord;
        if (r.state === "PENDING") return;
        const extra = r.state === "SUCCEEDED" && r.stats ? ` in ${(r.stats.durationMs / 1000).toFixed(1)}s` : r.error ? `: ${r.error}` : "";
        if (r.state === "ONGOING" && r.progress !== undefined && r.progress > 0 && r.progress < 100) return;
        say(`migration ${r.vm} ${r.source} -> ${r.destination} ${r.state}${extra}${r.state === "ONGOING" ? `  (${r.reason})` : ""}`);
      },
    });
    const hostsNow = async (): Promise<HostRow[]> => (await api("status", {})).hosts;
    const show = async () => say((await hostsNow()).map((h) => `${h.host} ${bar(h.cpuPercent)} ${h.cpuPercent.toFixed(0).padStart(3)}%cpu ${h.runningVms}vm${h.maintenance ? " MAINT" : ""}`).join(" | "));
    const until = async (what: string, cond: () => Promise<boolean>, timeoutS: number) => {
      const end = Date.now() + timeoutS * 1000;
      let last = 0;
      while (Date.now() < end) {
        if (await cond()) return true;
        if (Date.now() - last > interval * 2000) {
          await show();
          last = Date.now();
        }
        await sleep(interval * 250);
      }
      say(`gave up waiting for: ${what}`);
      return false;
    };
    const failures: string[] = [];

    say(`phase 1: hot spot. hv-1 runs four busy web VMs; the orchestrator acts once it has been over ${config.policy.load_threshold}% for ${config.policy.max_over}s`);
    await until("all hosts reporting", async () => (await hostsNow()).length === hosts.length, 20);
    await show();
    const relieved = await until("hv-1 under its threshold", async () => {
      const h = (await hostsNow()).find((x) => x.host === "hv-1");
      return h !== undefined && h.cpuPercent <= config.policy.load_threshold && (await api("history", { limit: 10 })).some((r: MigrationRecord) => r.state === "SUCCEEDED");
    }, 60);
    if (!relieved) failures.push("hot spot on hv-1 was not relieved");
    await show();
    const why = (await api("history", { limit: 1 }))[0] as MigrationRecord | undefined;
    if (why) say(`explain ${why.vm}: ${(await api("explain", { vm: why.vm })).whyHere}`);

    say("phase 2: maintenance. Can hv-2 be drained now?");
    const pre = await api("evacuate", { host: "hv-2", dry_run: true });
    say(`  pre-flight: ${pre.canDrain ? "yes" : "no"}; ${pre.plan.moves.map((m: any) => `${m.vm} -> ${m.destination}`).join(", ")}`);
    await api("evacuate", { host: "hv-2" });
    const drained = await until("hv-2 empty", async () => (await hostsNow()).find((x) => x.host === "hv-2")?.runningVms === 0, 60);
    if (!drained) failures.push("hv-2 was not drained");
    await show();
    await api("release", { host: "hv-2" });
    say("  hv-2 released (open for VMs again)");

    say("phase 3: consolidation. Which hosts can be emptied entirely?");
    await sleep(interval * 2000);
    const plan = await api("plan", { mode: "consolidate" });
    say(`  plan ${plan.id}: ${plan.moves.length} move(s); hosts left empty: ${plan.emptyHosts.join(", ") || "none"}`);
    for (const d of plan.decisions.filter((x: any) => x.kind === "cluster").slice(0, 5)) say(`  ${d.code}: ${d.message}`);
    if (plan.moves.length > 0) {
      await api("approve", { plan_id: plan.id });
      const emptied = await until("consolidation finished", async () => (await hostsNow()).filter((h) => plan.emptyHosts.includes(h.host)).every((h) => h.runningVms === 0), 90);
      if (!emptied) failures.push("consolidation did not empty the hosts it planned to");
    } else failures.push("consolidation found nothing to do");
    await show();

    if (o.follow) {
      say("following; Ctrl-C to stop");
      const t = setInterval(() => void show().catch(() => undefined), interval * 2000);
      await stopSignal;
      clearInterval(t);
    }

    const history = (await api("history", { limit: 100 })) as MigrationRecord[];
    o.out("\nSummary");
    o.out(renderHistory(history));
    const ok = history.filter((r) => r.state === "SUCCEEDED").length;
    o.out(`\n${ok} migration(s) succeeded, ${history.length - ok} other; ${failures.length === 0 ? "every phase did what it should" : `PROBLEMS: ${failures.join("; ")}`}`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    await nc?.close().catch(() => undefined);
    await orch?.stop().catch(() => undefined);
    for (const a of agents) await a.stop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
  }
}

const bar = (pct: number): string => {
  const n = Math.max(0, Math.min(10, Math.round(pct / 10)));
  return "[" + "#".repeat(n) + ".".repeat(10 - n) + "]";
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
