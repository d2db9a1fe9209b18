import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../shared/nats/nats-server-process.js";
import { agentSubjects } from "../shared/subjects.js";
import { figure, type Figure } from "./figures.js";
import { REPO_ROOT } from "../deploy/lab/lab-control.js";
import { BENCH_DIR, Cleanup, nextMessage, rssKiB, sleep, spawnBenchChild, stopChild, waitFor } from "./support.js";

// Agent cost per cycle through the real virsh code path: the agent (child process) runs
// `virsh domstats --raw ...` via createExecaVirshRunner, but `virsh.binary` is a stand-in script
// that counts its invocations and prints recorded domstats output for N domains, generated from
// the captured libvirt 9 format (test/fixtures/virsh/domstats-raw-libvirt9.txt). Measured over
// CYCLES published metrics: virsh processes per cycle, agent CPU ms per cycle (its own
// process.cpuUsage), and its resident memory against an idle Node process.

const INTERVAL_S = 0.25;
const WARMUP = 8;
const CYCLES = 40;
const RSS_LIMIT_MIB = 80;

/** One running domain in `virsh domstats --raw --state --cpu-total --balloon --vcpu` format (libvirt 9). */
export function domstatsBlock(name: string, i: number, vcpus: number, memKiB: number): string {
  const cpuTime = 590_000_000 + i * 1_000_003;
  const lines = [
    `Domain: '${name}'`,
    "  state.state=1",
    "  state.reason=1",
    `  cpu.time=${cpuTime}`,
    `  cpu.user=${Math.floor(cpuTime * 0.55)}`,
    `  cpu.system=${cpuTime - Math.floor(cpuTime * 0.55)}`,
    "  cpu.cache.monitor.count=0",
    "  cpu.haltpoll.success.time=0",
    "  cpu.haltpoll.fail.time=0",
    `  balloon.current=${memKiB}`,
    `  balloon.maximum=${memKiB}`,
    "  balloon.last-update=0",
    `  balloon.rss=${Math.floor(memKiB * 0.3)}`,
    `  vcpu.current=${vcpus}`,
    `  vcpu.maximum=${vcpus}`,
  ];
  for (let v = 0; v < vcpus; v++) lines.push(`  vcpu.${v}.state=1`, `  vcpu.${v}.time=${210_000_000 + v * 7}`, `  vcpu.${v}.wait=0`, `  vcpu.${v}.delay=7729343`);
  return lines.join("\n") + "\n";
}

/** Recorded-style output for `n` running domains (names vm-000..), blank line between blocks as virsh prints. */
export function domstatsOutput(n: number): string {
  return Array.from({ length: n }, (_, i) => domstatsBlock(`vm-${String(i).padStart(3, "0")}`, i, 1 + (i % 4), 1_048_576 * (1 + (i % 4)))).join("\n") + "\n";
}

const STAND_IN = `#!/bin/sh
# Stand-in virsh for the agent-cost benchmark: counts its invocations, replays recorded output.
echo "$*" >> "$BENCH_VIRSH_COUNT"
case "$3" in
  domstats) exec cat "$BENCH_VIRSH_DOMSTATS" ;;
esac
exit 0
`;

interface CostRun {
  vms: number;
  spawnsPerCycle: number;
  cpuMsPerCycle: number;
  rssMiB: number;
  vmsReported: number;
}

const isSample = (m: unknown): m is { kind: "sample"; cpuMs: number; heapUsedMiB: number; heapTotalMiB: number } => typeof m === "object" && m !== null && (m as { kind?: string }).kind === "sample";
const isReady = (m: unknown): m is { kind: "ready" } => typeof m === "object" && m !== null && (m as { kind?: string }).kind === "ready";

/** RSS of an idle Node process, or (with `imports`) of one that has only loaded that module. */
async function idleNodeRssMiB(cleanup: Cleanup, imports?: string): Promise<number> {
  const code = imports ? `import(${JSON.stringify(imports)}).then(() => setInterval(() => {}, 1000))` : "setInterval(()=>{},1000)";
  const idle = spawn(process.execPath, ["-e", code], { stdio: "ignore" });
  cleanup.add("idle node", () => stopChild(idle));
  await sleep(1000);
  const kib = rssKiB(idle.pid!);
  await stopChild(idle);
  return kib / 1024;
}

export async function agentCost(log: (s: string) => void): Promise<Figure[]> {
  const cleanup = new Cleanup();
  try {
    const dir = mkdtempSync(join(tmpdir(), "ballast-bench-virsh-"));
    cleanup.add("stand-in dir", () => rmSync(dir, { recursive: true, force: true }));
    const binary = join(dir, "virsh");
    writeFileSync(binary, STAND_IN);
    chmodSync(binary, 0o755);
    const server = await startNatsServer();
    cleanup.add("nats-server", () => server.stop());
    const nc = await connect({ servers: [server.url], name: "bench-agent-cost" });
    cleanup.add("observer", () => nc.close());

    const runs: CostRun[] = [];
    for (const vms of [20, 200]) {
      const countFile = join(dir, `count-${vms}`);
      const statsFile = join(dir, `domstats-${vms}.txt`);
      writeFileSync(countFile, "");
      writeFileSync(statsFile, domstatsOutput(vms));
      const host = `cost-${vms}`;
      let metrics = 0;
      let vmsReported = 0;
      const sub = nc.subscribe(agentSubjects(host).metrics, {
        callback: (_e, m) => {
          metrics += 1;
          vmsReported = m.json<{ vms: unknown[] }>().vms.length;
        },
      });
      await nc.flush();
      const child = spawnBenchChild("agent-cost-child.js", [server.url, host, binary, String(INTERVAL_S)], { BENCH_VIRSH_COUNT: countFile, BENCH_VIRSH_DOMSTATS: statsFile, NODE_OPTIONS: shippedNodeOptions() });
      cleanup.add(`agent ${host}`, () => stopChild(child));
      await nextMessage(child, isReady, 20_000, `agent ${host} start`);
      const invocations = () => (existsSync(countFile) ? readFileSync(countFile, "utf8").split("\n").filter(Boolean).length : 0);
      const sample = async () => {
        child.send("sample");
        const s = await nextMessage(child, isSample, 5000, "cpu sample");
        return { cpuMs: s.cpuMs, metrics, spawns: invocations(), heapUsedMiB: s.heapUsedMiB, heapTotalMiB: s.heapTotalMiB };
      };
      await waitFor(() => metrics >= WARMUP, 60_000, `${WARMUP} metrics from ${host}`, 5);
      const a = await sample();
      await waitFor(() => metrics >= a.metrics + CYCLES, 120_000, `${CYCLES} more metrics from ${host}`, 5);
      const b = await sample();
      const cycles = b.metrics - a.metrics;
      const rssMiB = rssKiB(child.pid!) / 1024;
      child.send("stop");
      await stopChild(child);
      sub.unsubscribe();
      const r = { vms, spawnsPerCycle: (b.spawns - a.spawns) / cycles, cpuMsPerCycle: (b.cpuMs - a.cpuMs) / cycles, rssMiB, vmsReported };
      log(`  ${vms} VMs: ${cycles} cycles, ${r.spawnsPerCycle.toFixed(2)} virsh runs/cycle, ${r.cpuMsPerCycle.toFixed(1)} ms CPU/cycle, RSS ${rssMiB.toFixed(1)} MiB (V8 heap ${b.heapUsedMiB.toFixed(1)} used / ${b.heapTotalMiB.toFixed(1)} MiB), ${vmsReported} VMs in the last metrics`);
      runs.push(r);
    }
    const idle = await idleNodeRssMiB(cleanup);
    const loaded = await idleNodeRssMiB(cleanup, join(BENCH_DIR, "..", "agent", "nats-agent.js"));
    log(`  idle node process: RSS ${idle.toFixed(1)} MiB; node with the agent's modules loaded, not started: ${loaded.toFixed(1)} MiB`);
    const [small, big] = runs as [CostRun, CostRun];
    return [
      figure("agent.virsh_spawns_per_cycle.200_vms", big.spawnsPerCycle, "processes", { kind: "limit", label: "1 (constant)", value: 1 }, "lower", `${small.spawnsPerCycle.toFixed(2)} at 20 VMs`),
      figure("agent.virsh_spawns_200_vs_20_vms", big.spawnsPerCycle / small.spawnsPerCycle, "x", { kind: "limit", label: "independent of VM count", value: 1 }, "lower"),
      figure("agent.cpu_per_cycle.200_vms", big.cpuMsPerCycle, "ms", { kind: "peer", label: "20 VMs", value: small.cpuMsPerCycle }),
      figure("agent.rss.200_vms", big.rssMiB, "MiB", { kind: "limit", label: `${RSS_LIMIT_MIB} MiB`, value: RSS_LIMIT_MIB }, "lower", `idle node ${idle.toFixed(1)} MiB, 20 VMs ${small.rssMiB.toFixed(1)} MiB`),
      figure("agent.rss_vs_idle_node.200_vms", big.rssMiB, "MiB", { kind: "peer", label: "idle node process", value: idle }),
      figure("agent.rss_modules_only", loaded, "MiB", { kind: "peer", label: "idle node process", value: idle }, "lower", "agent modules imported, agent not started"),
      figure("agent.vms_reported.200_vms", big.vmsReported, "VMs", { kind: "limit", label: "200", value: 200 }, "higher"),
    ];
  } finally {
    await cleanup.run(log);
  }
}

/** The agent is measured as the systemd unit runs it: with the unit's NODE_OPTIONS. */
function shippedNodeOptions(): string {
  const unit = readFileSync(`${REPO_ROOT}/deploy/systemd/ballast-agent.service`, "utf8");
  return /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1]?.trim() ?? "";
}
