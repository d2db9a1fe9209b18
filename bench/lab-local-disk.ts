import { orchestratorSubjects } from "../shared/subjects.js";
import { figure, type Figure } from "./figures.js";
import { alternatingRounds, withLabBench } from "./lab-bench.js";
import { median, withTimeout } from "./support.js";

// A guest with a 1 GiB local qcow2 disk moved live with its disk on the real lab. Side by side,
// alternating: bare `virsh migrate --live --p2p --copy-storage-all` (the destination's images
// directory already a storage pool, so libvirt precreates the disk) against Ballast's decision ->
// completion (`ballast.orch.migrate` with `to`, the destination's check and pool set-up included,
// to the SUCCEEDED event). Each move leaves the disk file on its source (local_disk_source keep),
// so before the next move to a host, the stale copy there is deleted through libvirt, unmeasured.

const LAB = "bldisk";
const GUEST = "ld-1";
const DISK_MIB = 1024;
const ROUNDS = 2;

type Rec = { vm: string; state: string; error?: string; copyDisks?: string[] };

export async function labLocalDisk(log: (s: string) => void): Promise<Figure[]> {
  return withLabBench(
    log,
    {
      name: LAB,
      figures: "lab.local_disk",
      hosts: ["hv-a", "hv-b"],
      policy: { local_disks: "copy", local_disk_source: "keep" },
      prepare: async (lab) => {
        await lab.startGuest("hv-a", GUEST, { diskMiB: DISK_MIB });
        await lab.waitForTicks(GUEST, 1, { after: 0, timeoutMs: 120_000 });
      },
    },
    async ({ lab, nc, seenOn: seen }) => {
      let waiting: { resolve: (r: Rec) => void } | undefined;
      nc.subscribe(orchestratorSubjects.events, {
        callback: (_e, m) => {
          const ev = m.json<{ type?: string; record?: Rec }>();
          if (ev.type === "migration" && ev.record?.vm === GUEST && ev.record.state !== "PENDING" && ev.record.state !== "ONGOING") waiting?.resolve(ev.record);
        },
      });
      await nc.flush();

      // The copy a previous move left on `hv` would be taken for the destination's disk: remove it,
      // and make the bare run's destination a pool as Ballast's check makes it.
      const prepare = async (hv: string) => {
        const pool = await lab.imagesPool(hv);
        await lab.virsh(hv, ["pool-refresh", pool]);
        await lab.virsh(hv, ["vol-delete", "--pool", pool, `${GUEST}.qcow2`]).catch(() => undefined);
      };
      const bare = async (dst: string) => {
        await prepare(dst);
        return lab.migrate(GUEST, dst, ["--copy-storage-all"]);
      };
      const viaBallast = async (dst: string) => {
        await prepare(dst);
        const done = new Promise<Rec>((resolve) => (waiting = { resolve }));
        const t0 = Date.now();
        const reply = await nc.request(orchestratorSubjects.migrate, JSON.stringify({ vm: GUEST, to: dst }), { timeout: 10_000 });
        const body = reply.json<{ ok: boolean; error?: { message: string } }>();
        if (!body.ok) throw new Error(`ballast.orch.migrate refused: ${body.error?.message}`);
        const rec = await withTimeout(done, 300_000, `migration of ${GUEST} to ${dst}`);
        waiting = undefined;
        const ms = Date.now() - t0;
        if (rec.state !== "SUCCEEDED") throw new Error(`migration of ${GUEST} to ${dst} ended ${rec.state}: ${rec.error ?? ""}`);
        if (!rec.copyDisks?.includes("vda")) throw new Error(`migration of ${GUEST} did not copy its disk (copyDisks ${JSON.stringify(rec.copyDisks)})`);
        return ms;
      };

      await lab.diskWrite(GUEST, "bench");
      const { bare: bareMs, ballast: ballastMs } = await alternatingRounds({ rounds: ROUNDS, guest: GUEST, seenOn: seen, bare, viaBallast, log });
      const marker = await lab.diskRead(GUEST);
      const mb = median(bareMs);
      const mo = median(ballastMs);
      return [
        figure("lab.local_disk.bare_copy_storage", mb, "ms", undefined, "lower", `median of ${bareMs.join(", ")} ms (1 GiB qcow2 disk, 128 MiB guest)`),
        figure(
          "lab.local_disk.via_ballast",
          mo,
          "ms",
          { kind: "peer", label: "bare --copy-storage-all", value: mb },
          "lower",
          `median of ${ballastMs.join(", ")} ms`,
        ),
        figure(
          "lab.local_disk.ratio",
          mo / mb,
          "x",
          { kind: "limit", label: "1.2", value: 1.2 },
          "lower",
          `decision -> completion; guest booted ${lab.boots(GUEST)} time(s); disk marker after ${ROUNDS * 4} moves: ${JSON.stringify(marker)}`,
        ),
      ];
    },
  );
}
