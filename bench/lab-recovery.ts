import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import type { NatsConnection } from "@nats-io/transport-node";
import { AgentConfig } from "../shared/config/agent-config.js";
import { bmcAvailable, ipmitoolArgs, type Lab } from "../deploy/lab/lab-control.js";
import type { RecoveryStatusReply } from "../shared/schemas/orchestrator-api.js";
import { orchestratorSubjects } from "../shared/subjects.js";
import { figure, type Figure } from "./figures.js";
import { withLabBench } from "./lab-bench.js";
import { median, waitFor } from "./support.js";

// A host's power loss on the real lab, until every high-priority VM runs again elsewhere, against
// the sum of what it cannot do without, measured in the same run:
//   - the detection wait: failure_detect_after, counted from the agent's last report (the earliest
//     moment the judge may call the host failed; a shorter wait would be a different policy),
//   - the fence: a bare `ipmitool chassis power off` and the `power status` that reads it back,
//     against the same BMC,
//   - the start: a bare `virsh define` + `virsh start` of as many guests of the same shape (kernel,
//     memory, a disk in the shared directory), at once, until each prints its BOOT line. Fresh
//     domains each round, as a restart's are: a second start of the same domain is a warm one
//     (about 2 s faster on the lab), which no restart gets.
// Ballast's run: hv-b's agent stops and its BMC powers it off (libvirtd, QEMU, virtlockd gone);
// t0 is the power-off's send; the end is the last high-priority guest's BOOT line after it. The
// low-priority guest waits for them to be up (restart_wait_for guest_agent, the default).
// The lab runs with the lock manager and a BMC per hypervisor; the lab is always torn down.

const run = promisify(execFile);
const LAB = "brecov";
const HIGH = ["rc-h1", "rc-h2"];
const LOW = ["rc-l1"];
const TWINS = 2;
const SHARED = { sharedDiskMiB: 16, qemuLocksOff: true };
const DETECT_S = 8;
const FENCE_ROUNDS = 3;
const START_ROUNDS = 3;

export async function labRecovery(log: (s: string) => void): Promise<Figure[]> {
  const bmc = bmcAvailable();
  if (!bmc.ok) {
    log(`  skipped: no lab BMC here (${bmc.why})`);
    return [figure("lab.recovery.skipped", 1, "", undefined, "lower", `skipped: ${bmc.why}`)];
  }
  return withLabBench(
    log,
    {
      name: LAB,
      figures: "lab.recovery",
      hosts: ["hv-a", "hv-b", "hv-c"],
      locks: true,
      bmc: true,
      virshInNetns: true,
      // The shared directory is shared storage (as an NFS mount would be detected), so the guests'
      // disks there are shared and the guests restartable elsewhere.
      agent: (c, lab) => AgentConfig.parse({ ...c, facts: { ...c.facts, shared_paths: [lab.sharedDir], interval: 2 } }),
      policy: {
        interval: 1,
        stale_after: 4,
        failure_detect_after: DETECT_S,
        failure_peer_probes: 2,
        max_concurrent_restarts: 4,
        automation: "manual",
        restart_priority: "low",
        restart_priorities: { vms: Object.fromEntries(HIGH.map((v) => [v, "high" as const])) },
      },
      prepare: async (lab) => {
        for (const g of [...HIGH, ...LOW]) await lab.startGuest("hv-b", g, SHARED);
        for (const g of [...HIGH, ...LOW]) await lab.waitForTicks(g, 1, { after: 0, timeoutMs: 120_000 });
      },
    },
    async ({ lab, agents, nc, seenOn }) => {
      await waitFor(
        async () => {
          const r = await records(nc);
          return r.length === HIGH.length + LOW.length && r.every((x) => x.disks.length > 0 && x.disks.every((d) => d.shared));
        },
        90_000,
        "every guest recorded, its disk shared",
        500,
      );
      const boots = new Map([...HIGH, ...LOW].map((g) => [g, lab.boots(g)]));

      // The orchestrator must see them running on hv-b (its newest inventory), or it has nothing to recover.
      for (const g of [...HIGH, ...LOW]) await seenOn(g, "hv-b", 120_000);
      // Ballast: the power loss of hv-b.
      await agents.get("hv-b")!.stop();
      const t0 = performance.now();
      const lossAt = Date.now();
      await ipmi(lab, "hv-b", ["chassis", "power", "off"]);
      const upAt = new Map<string, number>();
      // When each high-priority start was answered (recovery status polled), for the log.
      const answeredAt = new Map<string, number>();
      let polling = true;
      const poller = (async () => {
        while (polling && answeredAt.size < HIGH.length) {
          const st = await recovery(nc).catch(() => undefined);
          for (const r of st?.restarts ?? [])
            if (HIGH.includes(r.restart.vm) && r.outcome === "started" && !answeredAt.has(r.restart.vm)) answeredAt.set(r.restart.vm, performance.now() - t0);
          await new Promise((res) => setTimeout(res, 100));
        }
      })();
      await waitFor(
        () => {
          for (const g of HIGH) if (!upAt.has(g) && lab.boots(g) > boots.get(g)!) upAt.set(g, performance.now() - t0);
          return upAt.size === HIGH.length;
        },
        180_000,
        "every high-priority guest to boot again elsewhere",
        50,
      ).catch(async (e: unknown) => {
        const st = await recovery(nc).catch((x: unknown) => String(x));
        throw new Error(`${String(e)}; recovery status: ${JSON.stringify(st).slice(0, 4000)}`, { cause: e });
      });
      polling = false;
      await poller;
      const total = Math.max(...upAt.values());
      const st = await recovery(nc);
      const hvb = st.hosts.find((h) => h.host === "hv-b");
      const lastSeen = hvb?.evidence.agentLastSeen ?? lossAt;
      const detect = Math.max(0, lastSeen + DETECT_S * 1000 - lossAt);
      const restarts = st.restarts.filter((r) => r.restart.host === "hv-b");
      log(
        `  Ballast: loss -> high-priority running in ${Math.round(total)} ms (${[...upAt].map(([g, ms]) => `${g} ${Math.round(ms)}`).join(", ")}; ` +
          `start answered ${[...answeredAt].map(([g, ms]) => `${g} ${Math.round(ms)}`).join(", ")}); ` +
          `restarts ${restarts
            .map(
              (r) =>
                `${r.restart.vm}->${r.restart.destination} ${r.outcome} at +${r.restart.at - lossAt} ms, up +${r.upAt === null ? "-" : r.upAt - lossAt} ms`,
            )
            .join(", ")}; last report ${lossAt - lastSeen} ms before the loss`,
      );
      for (const g of HIGH) if ((await lab.whereIsAsync(g)).length !== 1) throw new Error(`${g} does not run on exactly one hypervisor`);
      // The low-priority guest starts once the high ones are up: let it boot before the parts are
      // measured, so that its boot does not slow theirs (nor pass unchecked).
      await waitFor(() => LOW.every((g) => lab.boots(g) > boots.get(g)!), 120_000, "the low-priority guest to boot again elsewhere", 50);

      // The parts, bare. The fence: power-off and read-back against hv-b's BMC (hv-b is off, so
      // this changes nothing; the BMC's path is the same).
      const fences: number[] = [];
      for (let i = 0; i < FENCE_ROUNDS; i++) {
        const t = performance.now();
        await ipmi(lab, "hv-b", ["chassis", "power", "off"]);
        const out = await ipmi(lab, "hv-b", ["chassis", "power", "status"]);
        if (!/off/i.test(out)) throw new Error(`hv-b's BMC reads ${out.trim()} after a power-off`);
        fences.push(performance.now() - t);
      }
      // The start: as many guests of the same shape as the high-priority ones, defined and
      // started at once on hv-a and hv-c (where the restarts went), new domains each round.
      const starts: number[] = [];
      const tmp = await mkdtemp(join(tmpdir(), "ballast-bench-"));
      for (let i = 0; i < START_ROUNDS; i++) {
        const twins = Array.from({ length: TWINS }, (_, k) => ({ name: `rc-t${i}${k}`, hv: k % 2 === 0 ? "hv-a" : "hv-c" }));
        // Their disks are made by defineGuest; the definition itself is what is timed, as a restart's is.
        const xml = new Map<string, string>();
        for (const tw of twins) {
          await lab.defineGuest(tw.hv, tw.name, SHARED);
          xml.set(tw.name, await lab.virsh(tw.hv, ["dumpxml", "--migratable", tw.name]));
          await lab.virsh(tw.hv, ["undefine", tw.name]);
        }
        const t = performance.now();
        await Promise.all(
          twins.map(async (tw) => {
            const file = join(tmp, `${tw.name}.xml`);
            await writeFile(file, xml.get(tw.name)!);
            await lab.virsh(tw.hv, ["define", "--file", file], 60_000);
            await lab.virsh(tw.hv, ["start", tw.name], 60_000);
          }),
        );
        await waitFor(() => twins.every((tw) => lab.boots(tw.name) > 0), 120_000, "the twins to boot", 50);
        starts.push(performance.now() - t);
        for (const tw of twins) {
          await lab.virsh(tw.hv, ["destroy", tw.name], 60_000);
          await lab.virsh(tw.hv, ["undefine", tw.name], 60_000);
        }
      }
      await rm(tmp, { recursive: true, force: true });
      const fence = median(fences);
      const start = median(starts);
      const parts = detect + fence + start;
      log(`  parts: detection wait ${Math.round(detect)} ms, fence ${fences.map(Math.round).join("/")} ms, start ${starts.map(Math.round).join("/")} ms`);
      return [
        figure("lab.recovery.detection_wait", detect, "ms", undefined, "lower", `failure_detect_after ${DETECT_S} s from the agent's last report`),
        figure("lab.recovery.bare_fence", fence, "ms", undefined, "lower", `median of ${fences.map(Math.round).join(", ")} ms (ipmitool power off + status)`),
        figure(
          "lab.recovery.bare_start",
          start,
          "ms",
          undefined,
          "lower",
          `median of ${starts.map(Math.round).join(", ")} ms (${TWINS} new guests defined and started at once, to BOOT)`,
        ),
        figure(
          "lab.recovery.via_ballast",
          total,
          "ms",
          { kind: "peer", label: "detection wait + fence + start", value: parts },
          "lower",
          "power loss -> every high-priority VM booted elsewhere",
        ),
        figure(
          "lab.recovery.ratio",
          total / parts,
          "x",
          { kind: "limit", label: "1.2", value: 1.2 },
          "lower",
          `one power loss of hv-b, ${HIGH.length} high-priority guests and ${LOW.length} low after them; restarted once each: ${[...HIGH, ...LOW].every((g) => lab.boots(g) === boots.get(g)! + 1) ? "yes" : "NO"}`,
        ),
      ];
    },
  );
}

async function ipmi(lab: Lab, hv: string, cmd: string[]): Promise<string> {
  const b = await lab.bmc(hv);
  return (await run("ipmitool", ipmitoolArgs(b, cmd, { timeoutSec: 2, retries: 3 }), { timeout: 30_000 })).stdout;
}

async function request<T>(nc: NatsConnection, subject: string): Promise<T> {
  const m = await nc.request(subject, "{}", { timeout: 10_000 });
  const r = m.json<{ ok: boolean; data?: T; error?: { message: string } }>();
  if (!r.ok) throw new Error(`${subject}: ${r.error?.message}`);
  return r.data as T;
}

const recovery = (nc: NatsConnection) => request<RecoveryStatusReply>(nc, orchestratorSubjects.recoveryStatus);
const records = async (nc: NatsConnection) =>
  (await request<{ records: { vm: string; disks: { shared: boolean }[] }[] }>(nc, orchestratorSubjects.records)).records;
