import { z } from "zod";
import { VmName } from "./ids.js";

export const VmState = z.enum(["running", "paused", "shutoff", "crashed", "suspended", "other"]);
export type VmState = z.infer<typeof VmState>;

export const VmInfo = z
  .object({
    name: VmName.describe("The libvirt domain name."),
    uuid: z.string().max(64).optional().describe("The domain's libvirt UUID; the current agent drivers do not send it."),
    state: VmState.describe("libvirt's domain state, coarsened: blocked counts as running, being shut down as shutoff, pmsuspended as suspended."),
    vcpus: z.number().int().min(0).max(4096).describe("Virtual CPUs of the domain (vcpu.current); 0 when libvirt does not say."),
    memMiB: z.number().min(0).describe("Current guest memory (balloon.current, else balloon.maximum), MiB."),
    maxMemMiB: z.number().min(0).describe("Maximum guest memory (balloon.maximum), MiB."),
    cpuPercent: z
      .number()
      .min(0)
      .nullable()
      .describe(
        "CPU use since the previous sample from cpu.time, percent of ONE core (200 = two busy cores); null when there is no earlier reading to compare with (first sample, shut off, or cpu.time went backwards after a restart or an incoming migration).",
      ),
    migrating: z.boolean().default(false).describe("True while this agent migrates the VM away."),
  })
  .describe("One libvirt domain as an agent reports it.");
export type VmInfo = z.infer<typeof VmInfo>;
