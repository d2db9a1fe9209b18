import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { HostMetrics } from "../shared/schemas/host-metrics.js";
import { HostMetricsFast } from "../shared/schemas/host-metrics-fast.js";
import { ClusterState } from "../orchestrator/shell/cluster-state.js";
import { Policy } from "../shared/config/policy.js";
import { agentSubjects } from "../shared/subjects.js";
import { freePort, startNatsServer } from "../shared/nats/nats-server-process.js";
import { figure, type Figure } from "./figures.js";
import { ACK_SUBJECT } from "./ingest-subscriber.js";
import { benchNatsConfig, Cleanup, natsSlowConsumers, nextMessage, spawnBenchChild, stopChild, withTimeout } from "./support.js";

// Bus ingest: HostMetrics of 10,000 simulated agents (distinct host ids, ~20 VMs each), published
// on each host's subject by one publisher connection through a real nats-server, received by
// (a) the orchestrator's real intake and (b) a bare subscriber that only JSON.parses, each in its
// own child process, alternately in the same run. The publisher keeps at most WINDOW messages
// ahead of the subscriber's acknowledged count, so the subscriber is the bottleneck and the
// server never has to buffer (or drop) much. Rate = messages / (last - first arrival) in the child.

export const AGENTS = 10_000;
const VMS_PER_AGENT = 20;
const ROUNDS = 3;
const WINDOW = 4000;
const NEED_PER_S = AGENTS / 10; // 10,000 agents at a 10 s interval

export function hostMetricsMessage(host: number, round: number, t0: number): HostMetrics {
  const vms = Array.from({ length: VMS_PER_AGENT }, (_, i) => ({
    name: `vm-${host}-${i}`,
    state: "running" as const,
    vcpus: 1 + (i % 4),
    memMiB: 1024 * (1 + (i % 8)),
    maxMemMiB: 1024 * (1 + (i % 8)),
    cpuPercent: Math.round(((host * 31 + i * 17 + round * 7) % 400) * 10) / 10,
    migrating: false,
  }));
  return {
    v: 1,
    host: `hv-${String(host).padStart(5, "0")}`,
    ts: t0 + round * 10_000,
    seq: round,
    cpus: 64,
    hostCpuPercent: 35.5,
    load1: 20.1,
    load5: 19.2,
    load15: 18.7,
    memTotalMiB: 524_288,
    memAvailableMiB: 300_000,
    loadSource: "host",
    cpuPercent: 35.5 + (host % 40),
    vms,
  };
}

interface Result {
  kind: string;
  mode: string;
  count: number;
  firstAt: number;
  lastAt: number;
  cpuMs: number;
  warnings: number;
  extra: Record<string, number>;
}
const isKind =
  (k: string) =>
  (m: unknown): m is Result =>
    typeof m === "object" && m !== null && (m as { kind?: string }).kind === k;

/** Where the intake's time goes, in process, µs per message: JSON.parse, zod safeParse, the fast path the intake uses, ClusterState.ingestMetrics. */
export function intakeBreakdown(messages: readonly Uint8Array[], reps = 3): { json: number; zod: number; fast: number; ingest: number } {
  const dec = new TextDecoder();
  const policy = Policy.parse({});
  let best = { json: Infinity, zod: Infinity, fast: Infinity, ingest: Infinity };
  for (let rep = 0; rep < reps; rep++) {
    const state = new ClusterState();
    let tj = 0;
    let tz = 0;
    let ti = 0;
    let tf = 0;
    for (const m of messages) {
      const a = performance.now();
      const o: unknown = JSON.parse(dec.decode(m));
      const b = performance.now();
      const r = HostMetrics.safeParse(o);
      const c = performance.now();
      if (r.success) state.ingestMetrics(r.data, Date.now(), policy);
      const d = performance.now();
      HostMetricsFast.safeParse(o);
      const e = performance.now();
      tj += b - a;
      tz += c - b;
      ti += d - c;
      tf += e - d;
    }
    const n = messages.length / 1000;
    if (tj + tz + ti + tf < (best.json + best.zod + best.ingest + best.fast) * n) best = { json: tj / n, zod: tz / n, fast: tf / n, ingest: ti / n };
  }
  return best;
}

export async function busIngest(log: (s: string) => void): Promise<Figure[]> {
  const cleanup = new Cleanup();
  try {
    const httpPort = await freePort();
    const server = await startNatsServer({ config: benchNatsConfig(httpPort) });
    cleanup.add("nats-server", () => server.stop());

    // Pre-encoded messages, validated against the schema the intake applies.
    const enc = new TextEncoder();
    const t0 = Date.now();
    const messages: { subject: string; data: Uint8Array }[] = [];
    for (let r = 0; r < ROUNDS; r++)
      for (let h = 0; h < AGENTS; h++) {
        const m = hostMetricsMessage(h, r, t0);
        if (r === 0 && h < 3) HostMetrics.parse(m);
        messages.push({ subject: agentSubjects(m.host).metrics, data: enc.encode(JSON.stringify(m)) });
      }
    const avgBytes = messages.reduce((s, m) => s + m.data.length, 0) / messages.length;
    log(`  ${messages.length} messages (${AGENTS} agents x ${ROUNDS} rounds, ${VMS_PER_AGENT} VMs each), ${avgBytes.toFixed(0)} bytes on average`);

    const pub = await connect({ servers: [server.url], name: "bench-ingest-publisher" });
    cleanup.add("publisher connection", () => pub.close());
    let acked = 0;
    let wake: (() => void) | undefined;
    pub.subscribe(ACK_SUBJECT, {
      callback: (_e, m) => {
        acked = Math.max(acked, Number(new TextDecoder().decode(m.data)));
        wake?.();
      },
    });
    await pub.flush();

    const runOnce = async (mode: "intake" | "bare"): Promise<Result & { slow: number; pubMs: number }> => {
      const child = spawnBenchChild("ingest-subscriber.js", [mode, server.url, String(messages.length)]);
      const stop = () => stopChild(child);
      cleanup.add(`${mode} subscriber`, stop);
      try {
        await nextMessage(child, isKind("ready"), 20_000, `${mode} subscriber start`);
        const slowBefore = await natsSlowConsumers(httpPort);
        acked = 0;
        const done = nextMessage(child, isKind("done"), 120_000, `${mode} subscriber`);
        done.catch(() => undefined);
        const p0 = performance.now();
        let sent = 0;
        const deadline = Date.now() + 120_000;
        while (sent < messages.length) {
          if (Date.now() > deadline) throw new Error(`${mode}: publisher stalled at ${sent} sent, ${acked} acknowledged`);
          const room = Math.min(WINDOW - (sent - acked), messages.length - sent);
          if (room <= 0) {
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, 200).unref();
            });
            continue;
          }
          const chunk = Math.min(room, 500);
          for (let i = 0; i < chunk; i++) {
            const m = messages[sent++]!;
            pub.publish(m.subject, m.data);
          }
          await new Promise((r) => setImmediate(r));
        }
        await pub.flush();
        const pubMs = performance.now() - p0;
        let r: Result;
        try {
          r = await withTimeout(done, 30_000, `${mode}: waiting for the last messages`);
        } catch {
          child.send("report");
          r = await nextMessage(child, isKind("report"), 5000, `${mode} report`);
        }
        const slow = (await natsSlowConsumers(httpPort)) - slowBefore;
        child.send("stop");
        return { ...r, slow, pubMs };
      } finally {
        await stop();
      }
    };

    const best: Record<string, Result & { slow: number; pubMs: number; rate: number }> = {};
    let received = 0;
    let slow = 0;
    let warnings = 0;
    for (const mode of ["bare", "intake", "bare", "intake"] as const) {
      const r = await runOnce(mode);
      const rate = r.count / ((r.lastAt - r.firstAt) / 1000);
      received += r.count;
      slow += r.slow;
      warnings += r.warnings;
      log(
        `  ${mode}: ${r.count}/${messages.length} received, ${rate.toFixed(0)} msg/s, subscriber CPU ${((1000 * r.cpuMs) / r.count).toFixed(1)} µs/msg, slow consumers ${r.slow}${r.extra.hostsKnown !== undefined ? `, hosts known ${r.extra.hostsKnown}` : ""}`,
      );
      if (!best[mode] || rate > best[mode]!.rate) best[mode] = { ...r, rate };
    }
    const b = intakeBreakdown(messages.slice(0, AGENTS).map((m) => m.data));
    log(
      `  in process, per message: JSON.parse ${b.json.toFixed(1)} µs, zod HostMetrics.safeParse ${b.zod.toFixed(1)} µs, fast path (what the intake runs) ${b.fast.toFixed(1)} µs, ClusterState.ingestMetrics ${b.ingest.toFixed(1)} µs`,
    );
    const intake = best.intake!;
    const bare = best.bare!;
    return [
      figure("ingest.bare_json_parse", bare.rate, "msg/s", undefined, "higher", `best of 2; ${((1000 * bare.cpuMs) / bare.count).toFixed(1)} µs CPU/msg`),
      figure(
        "ingest.orchestrator_intake",
        intake.rate,
        "msg/s",
        { kind: "limit", label: "20 x need of 10,000 agents at 10 s", value: 20 * NEED_PER_S },
        "higher",
        `best of 2; ${((1000 * intake.cpuMs) / intake.count).toFixed(1)} µs CPU/msg`,
      ),
      figure("ingest.intake_vs_bare", intake.rate / bare.rate, "x", { kind: "limit", label: "0.5", value: 0.5 }, "higher"),
      figure("ingest.margin_over_need", intake.rate / NEED_PER_S, "x", { kind: "limit", label: "20 x", value: 20 }, "higher", `need ${NEED_PER_S} msg/s`),
      figure("ingest.cost.json_parse", b.json, "µs/msg", undefined, "lower", "in process, 10,000 messages"),
      figure("ingest.cost.zod_validate", b.zod, "µs/msg", { kind: "peer", label: "JSON.parse", value: b.json }),
      figure(
        "ingest.cost.fast_validate",
        b.fast,
        "µs/msg",
        { kind: "peer", label: "JSON.parse", value: b.json },
        "lower",
        "HostMetricsFast.safeParse, proven equal to zod by test/shared/host-metrics-fast.test.ts",
      ),
      figure("ingest.cost.cluster_state", b.ingest, "µs/msg", { kind: "peer", label: "JSON.parse", value: b.json }),
      figure(
        "ingest.delivered_share",
        received / (4 * messages.length),
        "x",
        { kind: "limit", label: "all", value: 1 },
        "higher",
        `${received} of ${4 * messages.length} received over 4 runs; slow consumers ${slow}; invalid-message warnings ${warnings}`,
      ),
    ];
  } finally {
    await cleanup.run(log);
  }
}
