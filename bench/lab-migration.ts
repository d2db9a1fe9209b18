import { connect } from "@nats-io/transport-node";
import { labAgentConfig } from "../cli/demo-lab.js";
import { OrchestratorConfig } from "../shared/config/orchestrator-config.js";
import { silentLogger } from "../shared/logger.js";
import { startNatsServer } from "../shared/nats/nats-server-process.js";
import { orchestratorSubjects } from "../shared/subjects.js";
import { startAgent } from "../agent/nats-agent.js";
import { startOrchestrator } from "../orchestrator/main.js";
import { labAvailable, labDown, labUp, type Lab } from "../deploy/lab/lab-control.js";
import { figure, type Figure } from "./figures.js";
import { Cleanup, median, waitFor, withTimeout } from "./support.js";

// Real migration overhead on the libvirt lab: the bare `virsh migrate --live --p2p` of one guest
// (lab.migrate) against the time from an operator decision (ballast.orch.migrate with `to`) to
// the orchestrator's SUCCEEDED event, with real agents (virsh driver, load from domains) and a
// whole orchestrator. Same guest, same run, alternating: per round bare a->b, Ballast b->a,
// Ballast a->b, bare b->a. The lab is always torn down.

const LAB = "bench";
const GUEST = "bench-g1";
const ROUNDS = 3;
const INTERVAL_S = 1;

export async function labMigration(log: (s: string) => void): Promise<Figure[]> {
  const avail = labAvailable({ name: LAB });
  if (!avail.ok) {
    log(`  skipped: the libvirt lab cannot run here (${avail.why})`);
    return [figure("lab.skipped", 1, "", undefined, "lower", `skipped: ${avail.why}`)];
  }
  const cleanup = new Cleanup();
  // Registered first, so it runs last and also after a failed labUp.
  cleanup.add("lab down", () => labDown({ name: LAB }));
  try {
    const server = await startNatsServer();
    cleanup.add("nats-server", () => server.stop());
    const lab: Lab = await labUp({ name: LAB });
    log(`  lab up in ${lab.upMs} ms`);
    await lab.startGuest("hv-a", GUEST);
    await lab.waitForTicks(GUEST, 1, { after: 0, timeoutMs: 60_000 });
    const [a, b] = ["hv-a", "hv-b"] as const;
    for (const h of lab.hosts.filter((x) => x.id === a || x.id === b)) {
      const agent = await startAgent({ config: labAgentConfig(h, server.url, INTERVAL_S), logger: silentLogger(), stopGraceMs: 2000 });
      cleanup.add(`agent ${h.id}`, () => agent.stop());
    }
    // Only operator moves: no strategy could fire on an idle 128 MiB guest with these thresholds.
    // The same guest goes back and forth on purpose: ping-pong detection is off (window 0).
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url] },
      policy: { interval: INTERVAL_S, max_over: 3, load_threshold: 100, load_target: 90, strategies: ["hotspot"], mem_reserve_mib: 256, pingpong_window: 0 },
      log_level: "silent",
    });
    const orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(lab.hosts.map((h) => [h.id, h.ip])), instance: "bench-lab" });
    cleanup.add("orchestrator", () => orch.stop());

    const nc = await connect({ servers: [server.url], name: "bench-lab-operator" });
    cleanup.add("operator connection", () => nc.close());
    type Rec = { vm: string; state: string; error?: string; queuedAt: number; startedAt?: number; finishedAt?: number; stats?: { durationMs: number } };
    let waiting: { vm: string; resolve: (r: Rec) => void } | undefined;
    nc.subscribe(orchestratorSubjects.events, {
      callback: (_e, m) => {
        const ev = m.json<{ type?: string; record?: Rec }>();
        if (ev.type === "migration" && ev.record && waiting && ev.record.vm === waiting.vm && ev.record.state !== "PENDING" && ev.record.state !== "ONGOING")
          waiting.resolve(ev.record);
      },
    });
    await nc.flush();

    // The orchestrator must see the guest where it runs (and nowhere else) before each request.
    const seenOn = (hv: string) =>
      waitFor(
        () => {
          const { cluster, policy } = orch.orchestrator.view;
          const where = cluster.locate(GUEST).filter((l) => l.info.state === "running");
          return where.length === 1 && where[0]!.host === hv && cluster.isFresh(hv, Date.now(), policy);
        },
        30_000,
        `orchestrator sees ${GUEST} on ${hv}`,
      );

    const bare = async (dst: string): Promise<number> => lab.migrate(GUEST, dst);
    // Where the Ballast time goes: request -> dispatched (record.startedAt), the agent's virsh
    // migrate call (stats.durationMs, which includes the job-completed watcher's set-up), the rest.
    const parts = { dispatch: [] as number[], agentMigrate: [] as number[], rest: [] as number[] };
    const viaBallast = async (dst: string): Promise<number> => {
      const done = new Promise<Rec>((resolve) => (waiting = { vm: GUEST, resolve }));
      const t0 = Date.now();
      const reply = await nc.request(orchestratorSubjects.migrate, JSON.stringify({ vm: GUEST, to: dst }), { timeout: 10_000 });
      const body = reply.json<{ ok: boolean; error?: { message: string } }>();
      if (!body.ok) throw new Error(`ballast.orch.migrate refused: ${body.error?.message}`);
      const rec = await withTimeout(done, 150_000, `migration of ${GUEST} to ${dst}`);
      const ms = Date.now() - t0;
      waiting = undefined;
      if (rec.state !== "SUCCEEDED") throw new Error(`migration of ${GUEST} to ${dst} ended ${rec.state}: ${rec.error ?? ""}`);
      const dispatch = (rec.startedAt ?? t0) - t0;
      const agentMigrate = rec.stats?.durationMs ?? 0;
      parts.dispatch.push(dispatch);
      parts.agentMigrate.push(agentMigrate);
      parts.rest.push(ms - dispatch - agentMigrate);
      return ms;
    };

    const bareMs: number[] = [];
    const ballastMs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await seenOn(a);
      bareMs.push(await bare(b));
      await seenOn(b);
      ballastMs.push(await viaBallast(a));
      await seenOn(a);
      ballastMs.push(await viaBallast(b));
      await seenOn(b);
      bareMs.push(await bare(a));
      log(`  round ${r + 1}: bare ${bareMs.at(-2)} + ${bareMs.at(-1)} ms, via Ballast ${ballastMs.at(-2)} + ${ballastMs.at(-1)} ms`);
    }
    const boots = lab.boots(GUEST);
    log(
      `  via Ballast, medians: request -> dispatched ${median(parts.dispatch).toFixed(0)} ms, agent's virsh migrate call ${median(parts.agentMigrate).toFixed(0)} ms (includes the short job-completed watcher set-up), remaining (domain check before, event wait and SUCCEEDED path after) ${median(parts.rest).toFixed(0)} ms`,
    );
    const mb = median(bareMs);
    const mo = median(ballastMs);
    return [
      figure("lab.migrate.bare_virsh", mb, "ms", undefined, "lower", `median of ${bareMs.length}: ${bareMs.join(", ")} ms`),
      figure(
        "lab.migrate.via_ballast",
        mo,
        "ms",
        { kind: "peer", label: "bare virsh migrate", value: mb },
        "lower",
        `median of ${ballastMs.length}: ${ballastMs.join(", ")} ms`,
      ),
      figure(
        "lab.migrate.overhead_ratio",
        mo / mb,
        "x",
        { kind: "limit", label: "1.2", value: 1.2 },
        "lower",
        `overhead ${(mo - mb).toFixed(0)} ms; guest booted ${boots} time(s) (1 = never restarted)`,
      ),
    ];
  } finally {
    await cleanup.run(log, 100_000);
  }
}
