import { z } from "zod";
import { HostId, VmName } from "./ids.js";
import { VmDefinition } from "./agent-api.js";
import { DiskType } from "./facts.js";

// What the orchestrator keeps of every managed VM (issue 18, docs/host-failure.md): enough to
// define and start it on another host when its own host dies. Migrations run with
// --undefinesource, so without this the only copy of a VM's definition is on its host.

export const RestartPriority = z.enum(["high", "medium", "low", "never"]);
export type RestartPriority = z.infer<typeof RestartPriority>;

export const RecordDisk = z
  .object({
    target: z
      .string()
      .regex(/^[a-z0-9]{1,16}$/)
      .describe('Target device ("vda").'),
    type: DiskType.describe("Where the data lives (file, block, network, ...)."),
    source: z.string().max(4096).optional().describe("File or device path, or protocol:name; absent for an empty drive."),
    shared: z.boolean().describe("Every host sees the same data (the facts' verdict): such a disk can be used by a restart elsewhere."),
    readonly: z.boolean().describe("Read-only for the guest (CD-ROMs)."),
    localWritable: z.boolean().describe("A local, writable disk with a source: the VM cannot start elsewhere without it (isLocalWritable)."),
  })
  .strict();
export type RecordDisk = z.infer<typeof RecordDisk>;

export const VmRecord = z
  .object({
    vm: VmName.describe("The VM."),
    host: HostId.describe("Where it runs as far as the record knows: the host whose facts list it, or the destination of its last successful migration."),
    uuid: z.string().max(36).optional().describe("The domain's UUID; absent when its definition has none."),
    definition: VmDefinition.shape.xml,
    definitionDigest: VmDefinition.shape.digest,
    factsDigest: z.string().max(64).describe("Digest of the VM's facts the definition was fetched for; a new one fetches the definition again."),
    disks: z.array(RecordDisk).max(64).describe("Every disk and CD-ROM, from the VM's facts."),
    restartPriority: RestartPriority.describe("From policy restart_priorities (VM, then rule group) or restart_priority."),
    updatedAt: z.number().describe("When the record was written, ms since the epoch (orchestrator clock)."),
    epoch: z.number().int().min(0).describe("Leadership epoch of the orchestrator that wrote it (0 without HA)."),
  })
  .strict();
export type VmRecord = z.infer<typeof VmRecord>;
