import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../shared/nats/nats-server-process.js";
import { agentSubjects } from "../shared/subjects.js";
import { figure, type Figure } from "./figures.js";
import { REPO_ROOT } from "../deploy/lab/lab-control.js";
import { BENCH_DIR, Cleanup, median, rssKiB, sleep, stopChild, waitFor } from "./support.js";

// Agent cost per cycle through the real virsh code path: `bin/ballast agent` as the systemd unit
// starts it (same NODE_OPTIONS), with `virsh.binary` pointing at a stand-in script that counts its
// invocations and prints recorded domstats output for N domains, generated from the captured
// libvirt 9 format (test/fixtures/virsh/domstats-raw-libvirt9.txt). Measured from outside over
// CYCLES published metrics: virsh processes per cycle, the agent's CPU per cycle (utime + stime in
// /proc/<pid>/stat) and its resident memory (VmRSS in /proc/<pid>/status, read every cycle),
// against an idle Node process.

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
  for (let v = 0; v < vcpus; v++)
    lines.push(`  vcpu.${v}.state=1`, `  vcpu.${v}.time=${210_000_000 + v * 7}`, `  vcpu.${v}.wait=0`, `  vcpu.${v}.delay=7729343`);
  return lines.join("\n") + "\n";
}

/** Recorded-style output for `n` running domains (names vm-000..), blank line between blocks as virsh prints. */
export function domstatsOutput(n: number): string {
  return Array.from({ length: n }, (_, i) => domstatsBlock(`vm-${String(i).padStart(3, "0")}`, i, 1 + (i % 4), 1_048_576 * (1 + (i % 4)))).join("\n") + "\n";
}

// The facts commands replay what the lab's libvirt answered (test/fixtures/libvirt/lab), so the
// agent's facts work as on a real host: read once at start and per new VM, never per cycle.
const STAND_IN = `#!/bin/sh
# Stand-in virsh for the agent-cost benchmark: counts its invocations, replays recorded output.
echo "$*" >> "$BENCH_VIRSH_COUNT"
f="$BENCH_VIRSH_FIXTURES"
case "$3" in
  domstats) [ "$4" = --block ] && exit 0; exec cat "$BENCH_VIRSH_DOMSTATS" ;;
  capabilities) exec cat "$f/capabilities.xml" ;;
  domcapabilities) exec cat "$f/domcapabilities-qemu.xml" ;;
  version) exec cat "$f/version.txt" ;;
  net-list) exec cat "$f/net-list-name.txt" ;;
  freepages) exec cat "$f/freepages-all.txt" ;;
  hypervisor-cpu-baseline) exec cat "$f/hypervisor-cpu-baseline-features.xml" ;;
  dumpxml) exec sed "s|<name>g1</name>|<name>$5</name>|" "$f/dumpxml-migratable-g1.xml" ;;
esac
exit 0
`;

interface CostRun {
  vms: number;
  spawnsPerCycle: number;
  cpuMsPerCycle: number;
  rssMiB: number;
  rssMaxMiB: number;
  vmsReported: number;
}

/** CPU time (user + system) a process has used so far, ms. */
function cpuMs(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may itself contain spaces and parentheses.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticksPerSecond;
}

function clockTicks(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** RSS of an idle Node process, or (with `imports`) of one that has only loaded that module. */
async function idleNodeRssMiB(cleanup: Cleanup, imports?: string): Promise<number> {
  const code = imports ? `import(${JSON.stringify(imports)}).then(() => setInterval(() => {}, 1000))` : "setInterval(()=>{},1000)";
  const idle = spawn(process.execPath, ["-e", code], { stdio: "ignore", env: { ...process.env, NODE_OPTIONS: shippedNodeOptions() } });
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
    const ticks = clockTicks();

    const runs: CostRun[] = [];
    for (const vms of [20, 200]) {
      const countFile = join(dir, `count-${vms}`);
      const statsFile = join(dir, `domstats-${vms}.txt`);
      const configFile = join(dir, `agent-${vms}.json`);
      writeFileSync(countFile, "");
      writeFileSync(statsFile, domstatsOutput(vms));
      const host = `cost-${vms}`;
      writeFileSync(
        configFile,
        JSON.stringify({
          host,
          nats: { servers: [server.url] },
          interval: INTERVAL_S,
          driver: "virsh",
          virsh: { binary, uri: "qemu:///bench-stand-in" },
          log_level: "warn",
        }),
      );
      let metrics = 0;
      let vmsReported = 0;
      const rss: number[] = [];
      let pid = 0;
      let factsSeen = 0;
      let factsVms = 0;
      const factsSub = nc.subscribe(agentSubjects(host).facts, {
        callback: (_e, m) => {
          factsSeen += 1;
          factsVms = m.json<{ vms: unknown[] }>().vms.length;
        },
      });
      const sub = nc.subscribe(agentSubjects(host).metrics, {
        callback: (_e, m) => {
          metrics += 1;
          vmsReported = m.json<{ vms: unknown[] }>().vms.length;
          if (factsVms === vms && pid > 0) rss.push(rssKiB(pid) / 1024);
        },
      });
      await nc.flush();
      const child = spawn(process.execPath, [join(REPO_ROOT, "bin", "ballast"), "agent", "--config", configFile], {
        stdio: ["ignore", "ignore", "inherit"],
        env: {
          ...process.env,
          BENCH_VIRSH_COUNT: countFile,
          BENCH_VIRSH_DOMSTATS: statsFile,
          BENCH_VIRSH_FIXTURES: join(REPO_ROOT, "test", "fixtures", "libvirt", "lab"),
          NODE_OPTIONS: shippedNodeOptions(),
        },
      });
      cleanup.add(`agent ${host}`, () => stopChild(child));
      pid = child.pid!;
      const invocations = () => (existsSync(countFile) ? readFileSync(countFile, "utf8").split("\n").filter(Boolean).length : 0);
      const sample = () => ({ cpuMs: cpuMs(pid, ticks), metrics, spawns: invocations() });
      // Steady state: after the first facts (every VM's read once) and a warm-up.
      await waitFor(() => factsSeen > 0 && factsVms === vms, 60_000, `facts of ${vms} VMs from ${host}`, 5);
      const after = metrics;
      await waitFor(() => metrics >= after + WARMUP, 60_000, `${WARMUP} metrics from ${host}`, 5);
      const a = sample();
      await waitFor(() => metrics >= a.metrics + CYCLES, 120_000, `${CYCLES} more metrics from ${host}`, 5);
      const b = sample();
      const cycles = b.metrics - a.metrics;
      await stopChild(child);
      sub.unsubscribe();
      factsSub.unsubscribe();
      const r = {
        vms,
        spawnsPerCycle: (b.spawns - a.spawns) / cycles,
        cpuMsPerCycle: (b.cpuMs - a.cpuMs) / cycles,
        rssMiB: median(rss),
        rssMaxMiB: Math.max(...rss),
        vmsReported,
      };
      log(
        `  ${vms} VMs: ${cycles} cycles, ${r.spawnsPerCycle.toFixed(2)} virsh runs/cycle, ${r.cpuMsPerCycle.toFixed(1)} ms CPU/cycle, RSS median ${r.rssMiB.toFixed(1)} MiB (max ${r.rssMaxMiB.toFixed(1)}, ${rss.length} readings), ${vmsReported} VMs in the last metrics`,
      );
      runs.push(r);
    }
    const idle = await idleNodeRssMiB(cleanup);
    const loaded = await idleNodeRssMiB(cleanup, join(BENCH_DIR, "..", "agent", "nats-agent.js"));
    log(`  idle node process: RSS ${idle.toFixed(1)} MiB; node with the agent's modules loaded, not started: ${loaded.toFixed(1)} MiB`);
    const [small, big] = runs as [CostRun, CostRun];
    return [
      figure(
        "agent.virsh_spawns_per_cycle.200_vms",
        big.spawnsPerCycle,
        "processes",
        { kind: "limit", label: "1 (constant)", value: 1 },
        "lower",
        `${small.spawnsPerCycle.toFixed(2)} at 20 VMs`,
      ),
      figure(
        "agent.virsh_spawns_200_vs_20_vms",
        big.spawnsPerCycle / small.spawnsPerCycle,
        "x",
        { kind: "limit", label: "independent of VM count", value: 1 },
        "lower",
      ),
      figure("agent.cpu_per_cycle.200_vms", big.cpuMsPerCycle, "ms", { kind: "peer", label: "20 VMs", value: small.cpuMsPerCycle }),
      figure(
        "agent.rss.200_vms",
        big.rssMiB,
        "MiB",
        { kind: "limit", label: `${RSS_LIMIT_MIB} MiB`, value: RSS_LIMIT_MIB },
        "lower",
        `median of ${CYCLES} readings, max ${big.rssMaxMiB.toFixed(1)} MiB; idle node ${idle.toFixed(1)} MiB, 20 VMs ${small.rssMiB.toFixed(1)} MiB`,
      ),
      figure("agent.rss_vs_idle_node.200_vms", big.rssMiB, "MiB", { kind: "peer", label: "idle node process", value: idle }),
      figure(
        "agent.rss_modules_only",
        loaded,
        "MiB",
        { kind: "peer", label: "idle node process", value: idle },
        "lower",
        "agent modules imported, agent not started",
      ),
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
