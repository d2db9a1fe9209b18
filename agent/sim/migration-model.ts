// How long a simulated live migration takes: iterative pre-copy as QEMU does it. Round 1 sends
// all memory; each next round sends what the guest dirtied meanwhile; when the rest fits in the
// downtime budget (or after maxIterations, as auto-converge would force it) the guest pauses and
// the rest is sent. Pure, so its timings are tested directly.

export interface MigrationPlan {
  /** Copy time before the switch-over, ms. */
  precopyMs: number;
  downtimeMs: number;
  totalMs: number;
  bytesSent: number;
  iterations: number;
}

const MiB = 1024 * 1024;
/** Fixed cost of the switch-over itself (device state, resume), ms. */
const SWITCHOVER_MS = 10;

export function planMigration(p: { memMiB: number; dirtyRateMiBs: number; speedMiBs: number; maxDowntimeMs?: number; maxIterations?: number }): MigrationPlan {
  const maxDowntimeMs = p.maxDowntimeMs ?? 300;
  const maxIterations = p.maxIterations ?? 30;
  let remaining = p.memMiB;
  let precopyMs = 0;
  let sentMiB = 0;
  let iterations = 0;
  for (;;) {
    iterations++;
    const roundMs = (remaining / p.speedMiBs) * 1000;
    precopyMs += roundMs;
    sentMiB += remaining;
    const dirtied = Math.min(p.memMiB, (p.dirtyRateMiBs * roundMs) / 1000);
    const finalMs = (dirtied / p.speedMiBs) * 1000;
    if (finalMs <= maxDowntimeMs || iterations >= maxIterations) {
      sentMiB += dirtied;
      const downtimeMs = finalMs + SWITCHOVER_MS;
      return { precopyMs, downtimeMs, totalMs: precopyMs + downtimeMs, bytesSent: Math.round(sentMiB * MiB), iterations };
    }
    remaining = dirtied;
  }
}

export { seededRandom } from "../../shared/seeded-random.js";
