import { z } from "zod";
import { VmName } from "./ids.js";

export const VmState = z.enum(["running", "paused", "shutoff", "crashed", "suspended", "other"]);
export type VmState = z.infer<typeof VmState>;

/** One domain as an agent sees it. CPU is in percent of ONE physical core (200 = two busy cores). */
export const VmInfo = z.object({
  name: VmName,
  uuid: z.string().max(64).optional(),
  state: VmState,
  vcpus: z.number().int().min(0).max(4096),
  /** Current guest memory (balloon.current), MiB. */
  memMiB: z.number().min(0),
  /** Maximum guest memory (balloon.maximum), MiB. */
  maxMemMiB: z.number().min(0),
  /** CPU use from cpu.time deltas, percent of one core; null on the first sample. */
  cpuPercent: z.number().min(0).nullable(),
  /** True while this VM is being migrated away by this agent. */
  migrating: z.boolean().default(false),
});
export type VmInfo = z.infer<typeof VmInfo>;
