import type { NatsConnection } from "@nats-io/transport-node";
import { orchestratorSubjects } from "../shared/subjects.js";
import type { RunningOrchestrator } from "../orchestrator/main.js";
import { figure, type Figure } from "./figures.js";
import { withLabBench, withMaxConcurrent } from "./lab-bench.js";
import { median, waitFor, withTimeout } from "./support.js";

// Draining a host on the real lab: six guests on hv-a, moved to hv-b and hv-c (three each).
// Side by side in one run, alternating rounds:
//   - bare sequential: `virsh migrate --live --p2p` of one guest after the other;
//   - bare parallel: all six `virsh migrate` at once;
//   - Ballast: `ballast.orch.evacuate` of hv-a (request -> the orchestrator's last SUCCEEDED event),
//     with the dispatch caps opened to six at once, as the bare parallel run does.
// Between rounds the guests go back to hv-a unmeasured. The figure is Ballast against the faster
// of the two bare ways. The lab is always torn down.

const LAB = "bdrain";
const GUESTS = ["dr-1", "dr-2", "dr-3", "dr-4", "dr-5", "dr-6"];
const ROUNDS = 2;

type Rec = { vm: string; state: string; error?: string; destination: string; queuedAt: number; startedAt?: number; finishedAt?: number };

export async function labDrain(log: (s: string) => void): Promise<Figure[]> {
  return withLabBench(
    log,
    {
      name: LAB,
      figures: "lab.drain",
      hosts: ["hv-a", "hv-b", "hv-c"],
      agent: withMaxConcurrent(GUESTS.length),
      // Dispatch caps opened to six at once, as the bare parallel drain does.
      policy: {
        max_load_candidate: 100,
        vm_cooldown: 0,
        host_settle: 0,
        max_moves_per_cycle: GUESTS.length,
        max_concurrent_total: GUESTS.length,
        max_concurrent_per_source: GUESTS.length,
        max_concurrent_per_destination: GUESTS.length,
      },
      prepare: async (lab) => {
        for (const g of GUESTS) await lab.startGuest("hv-a", g);
        for (const g of GUESTS) await lab.waitForTicks(g, 1, { after: 0, timeoutMs: 120_000 });
      },
    },
    async ({ lab, orch, nc }) => {
      const finished = new Map<string, Rec>();
      nc.subscribe(orchestratorSubjects.events, {
        callback: (_e, m) => {
          const ev = m.json<{ type?: string; record?: Rec }>();
          if (ev.type === "migration" && ev.record && ev.record.state !== "PENDING" && ev.record.state !== "ONGOING") finished.set(ev.record.vm, ev.record);
        },
      });
      await nc.flush();

      const destOf = (i: number) => (i % 2 === 0 ? "hv-b" : "hv-c");
      const allOn = (hv: string) => waitFor(() => allSeenOn(orch, hv), 60_000, `orchestrator sees every guest on ${hv}`);
      const backToA = async () => {
        await Promise.all(GUESTS.map(async (g) => ((await lab.whereIsAsync(g))[0] === "hv-a" ? 0 : lab.migrate(g, "hv-a"))));
        await allOn("hv-a");
      };
      const bareSequential = async () => {
        const t0 = Date.now();
        for (const [i, g] of GUESTS.entries()) await lab.migrate(g, destOf(i));
        return Date.now() - t0;
      };
      const bareParallel = async () => {
        const t0 = Date.now();
        const each = await Promise.all(GUESTS.map((g, i) => lab.migrate(g, destOf(i))));
        log(`    bare parallel: each virsh migrate ${each.join(", ")} ms`);
        return Date.now() - t0;
      };
      const viaBallast = async () => {
        finished.clear();
        const t0 = Date.now();
        await evacuate(nc, "hv-a");
        await withTimeout(
          waitFor(() => GUESTS.every((g) => finished.has(g)), 300_000, "every guest's migration to end"),
          310_000,
          "drain",
        );
        const ms = Date.now() - t0;
        const recs = GUESTS.map((g) => finished.get(g)!);
        // Where the time goes: request -> each command sent (the destination's check included), and each migration's own time.
        log(
          `    Ballast: ${recs.map((r) => `${r.vm}->${r.destination} sent +${(r.startedAt ?? t0) - t0} ms, ran ${(r.finishedAt ?? 0) - (r.startedAt ?? 0)} ms`).join("; ")}`,
        );
        const bad = recs.filter((r) => r.state !== "SUCCEEDED");
        if (bad.length > 0) throw new Error(`drain: ${bad.map((r) => `${r.vm} ${r.state} ${r.error ?? ""}`).join("; ")}`);
        await nc.request(orchestratorSubjects.release, JSON.stringify({ host: "hv-a" }), { timeout: 10_000 });
        return ms;
      };

      const seq: number[] = [];
      const par: number[] = [];
      const ballast: number[] = [];
      await allOn("hv-a");
      for (let r = 0; r < ROUNDS; r++) {
        seq.push(await bareSequential());
        await backToA();
        ballast.push(await viaBallast());
        await backToA();
        par.push(await bareParallel());
        await backToA();
        log(`  round ${r + 1}: bare sequential ${seq.at(-1)} ms, bare parallel ${par.at(-1)} ms, Ballast evacuate ${ballast.at(-1)} ms`);
      }
      const restarted = GUESTS.filter((g) => lab.boots(g) !== 1);
      const bare = Math.min(median(seq), median(par));
      const mo = median(ballast);
      return [
        figure("lab.drain.bare_sequential", median(seq), "ms", undefined, "lower", `median of ${seq.join(", ")} ms (6 guests, one after the other)`),
        figure("lab.drain.bare_parallel", median(par), "ms", undefined, "lower", `median of ${par.join(", ")} ms (6 guests at once)`),
        figure("lab.drain.via_ballast", mo, "ms", { kind: "peer", label: "faster bare drain", value: bare }, "lower", `median of ${ballast.join(", ")} ms`),
        figure(
          "lab.drain.ratio",
          mo / bare,
          "x",
          { kind: "limit", label: "1.1", value: 1.1 },
          "lower",
          `request -> empty against the faster bare drain; guests restarted: ${restarted.length === 0 ? "none" : restarted.join(", ")}`,
        ),
      ];
    },
  );
}

function allSeenOn(orch: RunningOrchestrator, hv: string): boolean {
  const { cluster, policy } = orch.orchestrator.view;
  return (
    cluster.isFresh(hv, Date.now(), policy) &&
    GUESTS.every((g) => {
      const where = cluster.locate(g).filter((l) => l.info.state === "running");
      return where.length === 1 && where[0]!.host === hv && !where[0]!.info.migrating;
    })
  );
}

async function evacuate(nc: NatsConnection, host: string): Promise<void> {
  const reply = await nc.request(orchestratorSubjects.evacuate, JSON.stringify({ host, useEmptyHosts: true }), { timeout: 10_000 });
  const body = reply.json<{ ok: boolean; error?: { message: string } }>();
  if (!body.ok) throw new Error(`ballast.orch.evacuate refused: ${body.error?.message}`);
}
