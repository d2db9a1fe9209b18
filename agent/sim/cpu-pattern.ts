import type { SimCpu } from "../../shared/config/agent-config.js";

/** CPU of a simulated VM `elapsedMs` after its pattern started, percent of one core. Pure. */
export function cpuAt(cpu: SimCpu, elapsedMs: number): number {
  if (typeof cpu === "number") return cpu;
  const t = Math.max(0, elapsedMs) / 1000;
  if ("pattern" in cpu) return t % cpu.period_s < cpu.period_s / 2 ? cpu.high : cpu.low;
  const i = Math.floor(t / cpu.step_s) % cpu.trace.length;
  return cpu.trace[i] ?? 0;
}
