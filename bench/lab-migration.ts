import { orchestratorSubjects } from "../shared/subjects.js";
import { figure, type Figure } from "./figures.js";
import { alternatingRounds, withLabBench } from "./lab-bench.js";
import { median, withTimeout } from "./support.js";

// Real migration overhead on the libvirt lab: the bare `virsh migrate --live --p2p` of one guest
// (lab.migrate) against the time from an operator decision (ballast.orch.migrate with `to`) to
// the orchestrator's SUCCEEDED event, with real agents (virsh driver, load from domains) and a
// whole orchestrator. Same guest, same run, alternating: per round bare a->b, Ballast b->a,
// Ballast a->b, bare b->a. The lab is always torn down.

const LAB = "bench";
const GUEST = "bench-g1";
const ROUNDS = 3;

export async function labMigration(log: (s: string) => void): Promise<Figure[]> {
  return withLabBench(
    log,
    {
      name: LAB,
      figures: "lab",
      hosts: ["hv-a", "hv-b"],
      prepare: async (lab) => {
        await lab.startGuest("hv-a", GUEST);
        await lab.waitForTicks(GUEST, 1, { after: 0, timeoutMs: 60_000 });
      },
    },
    async ({ lab, nc, seenOn: seen }) => {
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

      const { bare: bareMs, ballast: ballastMs } = await alternatingRounds({ rounds: ROUNDS, guest: GUEST, seenOn: seen, bare, viaBallast, log });
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
    },
  );
}
