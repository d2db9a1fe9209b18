import type { EvacuationCheck, EvacuationStarted } from "../../shared/schemas/orchestrator-api.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labAvailable, labDown, labUp, type Lab } from "../support/lab.js";
import { readLog, sleep, startLabCluster, tickContinuity, waitUntil, type LabCluster } from "./lab-cluster.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";

// Issue 3, for real: overload, evacuation, a failed migration, an agent killed mid-migration.
// One lab bring-up for the four scenarios (they run in order and each destroys its guests).
//
// Load: lab hypervisors share one kernel, so each agent reports its own domains' CPU
// (load_source "domains") over cpus_override 2. A busy TCG guest takes up to one core (50 % of
// such a host), less when the 2-core machine is shared: two busy guests measured 54-100 %, one
// 25-52 %. Threshold 35 % lies below the first; a test turns the remaining busy guest off as soon as the
// first move is seen, so "one busy guest left" is never judged on a quiet machine.

const NAME = "e2e";
const avail = labAvailable({ name: NAME });
if (!avail.ok) console.warn(`\n*** e2e lab tests SKIPPED: ${avail.why} ***\n`);

const POLICY = {
  interval: 1,
  stale_after: 6,
  max_over: 4,
  load_threshold: 35,
  load_target: 28,
  max_load_candidate: 75,
  max_vm_per_host: 10,
  mem_reserve_mib: 256,
  vm_cooldown: 600,
  host_settle: 4,
  max_moves_per_cycle: 1,
  max_concurrent_per_source: 2,
  max_concurrent_per_destination: 2,
  pinned_vms: ["s1-pin", "s1-pin2", "s1-pin3"],
};

const timings: Record<string, number> = {};
const t0File = Date.now();

describe.skipIf(!avail.ok)(`Ballast on the real libvirt lab${avail.ok ? "" : ` (SKIPPED: ${avail.why})`}`, () => {
  let lab: Lab;
  let c: LabCluster;

  beforeAll(async () => {
    const t0 = Date.now();
    await labDown({ name: NAME }).catch(() => undefined);
    lab = await labUp({ name: NAME });
    c = await startLabCluster(lab, {
      policy: POLICY,
      agent: { interval: 1, heartbeat_interval: 1, load_source: "domains", cpus_override: 2, log_level: "info" },
    });
    await c.waitFresh(["hv-a", "hv-b", "hv-c"]);
    timings.setup = Date.now() - t0;
  }, 180_000);

  afterAll(async () => {
    const t0 = Date.now();
    await c?.stop().catch((e) => console.warn("e2e cluster stop:", e));
    await labDown({ name: NAME }).catch((e) => console.warn("e2e lab down:", e));
    timings.teardown = Date.now() - t0;
    timings.file = Date.now() - t0File;
    console.log(`e2e timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  /** Destroys guests wherever they run (also after a failed assertion). */
  const cleanup = async (vms: string[]) => {
    await Promise.all(vms.map((vm) => lab.destroyGuest(vm).catch(() => undefined)));
  };

  const seen = (vm: string, host: string) => async () => {
    const r = await c.api("explain", { vm });
    return r.ok && r.data.runningOn.length === 1 && r.data.runningOn[0] === host;
  };

  /** Until the orchestrator measures every VM (on `host`, if given) under 15 % CPU three reads in a row. */
  const measuredIdle = async (vms: string[], host?: string) => {
    let idleReads = 0;
    await waitUntil(
      async () => {
        const snap = await c.api("snapshot", {});
        const idle = vms.every((name) => {
          const vm = snap.ok ? snap.data.vms.find((v) => v.name === name) : undefined;
          return vm && (host === undefined || vm.host === host) && vm.cpuPercent !== null && vm.cpuPercent < 15;
        });
        idleReads = idle ? idleReads + 1 : 0;
        return idleReads >= 3;
      },
      60_000,
      `${vms.join(", ")} measured idle`,
      1000,
    );
  };

  const decisions = async (vm: string): Promise<any[]> => {
    const r = await c.api("decisions", { vm, limit: 2000 });
    expect(r.ok).toBe(true);
    return r.data;
  };

  const finished = (r: MigrationRecord) => ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"].includes(r.state);

  it("1. overload: a host over the threshold longer than max_over sheds one busy guest, live, and the cooldown holds it", async () => {
    const t0 = Date.now();
    const vms = ["s1-a", "s1-b", "s1-c", "s1-pin", "s1-pin2", "s1-pin3"];
    try {
      // The idle guest first, booted (a booting guest is busy too), then the two busy ones.
      await lab.startGuest("hv-a", "s1-c");
      await lab.waitForTicks("s1-c", 1, { after: 0, timeoutMs: 20_000 });
      // Its first tick is not the end of its boot: under TCG on a shared machine it can stay busy
      // for seconds more, and the planner would rightly shed it. The premise is an idle guest, so
      // wait until the orchestrator itself measures it idle in consecutive samples.
      await measuredIdle(["s1-c"], "hv-a");
      await lab.startGuest("hv-a", "s1-a", { burn: true });
      await lab.startGuest("hv-a", "s1-b", { burn: true });
      const moved = await waitUntil(
        async () => (await c.history({ host: "hv-a" })).find((r) => r.state === "SUCCEEDED"),
        90_000,
        "a hot-spot migration off hv-a",
      ).catch(async (e) => {
        const d = await c.api("decisions", { host: "hv-a", limit: 5 });
        const st = await c.status();
        throw new Error(
          `${String(e)}; hosts ${JSON.stringify(st.hosts.map((h) => [h.host, h.cpuPercent, h.fresh]))}; last decisions ${JSON.stringify(d.data?.map((x) => x.message))}`,
        );
      });
      timings.s1_untilMoved = Date.now() - t0;
      {
        const d = (await c.api("decisions", { host: "hv-a", limit: 2000 })).data;
        const byCode = new Map<string, { n: number; last: string }>();
        for (const x of d) byCode.set(x.code, { n: (byCode.get(x.code)?.n ?? 0) + 1, last: x.message });
        console.log(`s1: decisions about hv-a until the move: ${[...byCode].map(([k, v]) => `${k} x${v.n} (${v.last})`).join("; ")}`);
      }
      const other = moved.vm === "s1-a" ? "s1-b" : "s1-a";
      // The load that stays is on the moved guest's new host; hv-a gets room again.
      await lab.setBurn(other, false);
      expect(["s1-a", "s1-b"]).toContain(moved.vm);
      expect(moved).toMatchObject({ source: "hv-a", strategy: "hotspot", state: "SUCCEEDED" });
      expect(["hv-b", "hv-c"]).toContain(moved.destination);
      console.log(`s1: ${moved.vm} hv-a -> ${moved.destination}: ${moved.reason}; stats ${JSON.stringify(moved.stats)}`);

      // Runs on exactly one hypervisor, the one the orchestrator chose; it never restarted.
      expect(lab.whereIs(moved.vm)).toEqual([moved.destination]);
      const before = lab.ticks(moved.vm).at(-1)!;
      await lab.waitForTicks(moved.vm, 2, { after: before, timeoutMs: 15_000 });
      expect(tickContinuity(lab, moved.vm)).toMatchObject({ ok: true, boots: 1 });

      // libvirt's statistics of the move reached the history.
      const s = moved.stats!;
      expect(s.durationMs).toBeGreaterThan(0);
      expect(s.downtimeMs).toBeGreaterThan(0);
      expect(s.dataTotalBytes).toBeGreaterThan(0);

      // Make the destination hot (the moved guest plus a pinned busy guest) and hv-a cool: moving
      // the guest back would relieve it, the cooldown must forbid it.
      // On a busy machine two busy TCG guests may get too little CPU to cross the trigger (CI saw
      // the machine at load 14 and no hot spot): pinned busy guests are added, one at a time, until
      // the destination is a hot spot and the planner considers moving the guest back.
      const cooldownSeen = async () => (await decisions(moved.vm)).some((d) => d.code === "VM_COOLDOWN");
      for (const [i, pin] of ["s1-pin", "s1-pin2", "s1-pin3"].entries()) {
        await lab.startGuest(moved.destination, pin, { burn: true });
        const seenNow = await waitUntil(cooldownSeen, 30_000, `a VM_COOLDOWN decision for ${moved.vm}`).then(
          () => true,
          (e: unknown) => {
            if (i === 2) throw e;
            return false;
          },
        );
        if (seenNow) break;
        console.log(`s1: ${moved.destination} with ${i + 2} busy guests is no hot spot on this machine yet; adding one more`);
      }
      await sleep(3 * POLICY.interval * 1000);
      const h = await c.history({ vm: moved.vm });
      expect(h.map((r) => `${r.source}->${r.destination}:${r.state}`)).toEqual([`hv-a->${moved.destination}:SUCCEEDED`]);
      expect(lab.whereIs(moved.vm)).toEqual([moved.destination]);
      const cd = (await decisions(moved.vm)).find((d) => d.code === "VM_COOLDOWN");
      console.log(`s1: cooldown decision: ${cd.message}`);
    } finally {
      await cleanup(vms);
      timings.s1 = Date.now() - t0;
    }
  }, 150_000);

  it("2. evacuation: every guest leaves hv-b within the limits and hv-b ends empty", async () => {
    const t0 = Date.now();
    const vms = ["s2-a", "s2-b", "s2-c"];
    try {
      for (const vm of vms) await lab.startGuest("hv-b", vm);
      for (const vm of vms) await waitUntil(seen(vm, "hv-b"), 20_000, `${vm} reported on hv-b`);
      for (const vm of vms) await lab.waitForTicks(vm, 1, { after: 0, timeoutMs: 20_000 });
      // Booting TCG guests stay busy for seconds after their first tick (CI once saw 50-68 % each),
      // and three of them fit nowhere under max_load_candidate: the evacuation would rightly answer
      // NO_DESTINATION. The premise is idle guests, so wait until the orchestrator measures them so.
      await measuredIdle(vms);
      // hv-a and hv-c are empty (each scenario cleans up): evacuation may use empty hosts.
      const r = await c.api("evacuate", { host: "hv-b", useEmptyHosts: true });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      const started = r.data as EvacuationStarted;
      // Three guests booting at once can make hv-b a hot spot by themselves (boot CPU): the periodic
      // cycle may already be moving one when the evacuation comes; that VM is left to its move
      // (VM_MIGRATING, not a blocker) and the evacuation plans the others.
      if (started.queued !== 3)
        console.log(`s2: evacuation planned ${started.queued} of 3 moves (${JSON.stringify(started.moves.map((m) => m.vm))}); the rest were already leaving`);
      const done = await waitUntil(
        async () => {
          const h = (await c.history({ host: "hv-b" })).filter((x) => vms.includes(x.vm) && x.source === "hv-b");
          return h.length >= 3 && h.every(finished) ? h : undefined;
        },
        90_000,
        "three moves off hv-b to finish",
      );
      timings.s2_evacuation = Date.now() - t0;
      for (const m of done) console.log(`s2: ${m.vm} ${m.source} -> ${m.destination} ${m.state} ${m.stats?.durationMs ?? "?"} ms ${m.error ?? ""}`);
      expect(done.map((m) => m.state)).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
      expect(done.every((m) => m.source === "hv-b" && m.destination !== "hv-b")).toBe(true);
      expect(done.filter((m) => m.strategy === "evacuate")).toHaveLength(started.queued);
      expect(done.every((m) => m.strategy === "evacuate" || m.strategy === "hotspot")).toBe(true);
      // Limits: never more than max_concurrent_per_source at once from hv-b (from the records' times).
      for (const m of done) {
        const atStart = done.filter((o) => o.startedAt! <= m.startedAt! && o.finishedAt! > m.startedAt!);
        expect(atStart.length).toBeLessThanOrEqual(POLICY.max_concurrent_per_source);
      }
      expect((await lab.virsh("hv-b", ["list", "--all", "--name"])).trim()).toBe("");
      for (const vm of vms) {
        const m = done.find((x) => x.vm === vm)!;
        expect(lab.whereIs(vm)).toEqual([m.destination]);
        expect(tickContinuity(lab, vm)).toMatchObject({ ok: true, boots: 1 });
      }
      const st = await c.status();
      expect(st.hosts.find((h) => h.host === "hv-b")!.maintenance).toBe(true);
    } finally {
      await c.api("release", { host: "hv-b" }).catch(() => undefined);
      await cleanup(vms);
      timings.s2 = Date.now() - t0;
    }
  }, 150_000);

  it("3. failure: a hypervisor whose libvirtd is down gets nothing (its check fails); a cut migration network fails with libvirt's words, once; the guest stays", async () => {
    const t0 = Date.now();
    const vm = "s3-g";
    let frozen = false;
    let libvirtdDown = false;
    let netDown = false;
    try {
      await lab.startGuest("hv-a", vm);
      await waitUntil(seen(vm, "hv-a"), 20_000, `${vm} reported on hv-a`);
      await lab.waitForTicks(vm, 1, { after: 0, timeoutMs: 20_000 });
      // A guest still booting keeps hv-a over the threshold, and hot-spot relief would move it
      // before the operator's request (CI saw ALREADY_MIGRATING): wait until it is measured idle.
      await measuredIdle([vm], "hv-a");
      // hv-c's libvirtd dies. Its agent is frozen for a moment so the orchestrator cannot know
      // yet (as in the seconds before an agent's next report): its view of hv-c is still fresh.
      c.signalAgent("hv-c", "SIGSTOP");
      frozen = true;
      await lab.stopLibvirtd("hv-c");
      libvirtdDown = true;
      const st = await c.status();
      expect(st.hosts.find((h) => h.host === "hv-c")!.fresh).toBe(true);
      const r = await c.api("migrate", { vm, to: "hv-c" });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      // The destination checks the VM on its own libvirt before the source starts: hv-c cannot
      // answer, so nothing is sent (SKIPPED, not a failed migration, no cooldown).
      const skipped = await waitUntil(async () => (await c.history({ vm })).find(finished), 30_000, "the move to end");
      timings.s3_untilSkipped = Date.now() - t0;
      console.log(`s3: ${skipped.state}: ${skipped.error}`);
      expect(skipped.state).toBe("SKIPPED");
      expect(skipped.startedAt).toBeUndefined();
      expect(skipped.error).toMatch(/hv-c did not answer check-incoming/);
      expect(lab.whereIs(vm)).toEqual(["hv-a"]);

      // hv-c's agent lives again and reports that it cannot collect (collectOk false, no metrics).
      c.signalAgent("hv-c", "SIGCONT");
      frozen = false;
      await waitUntil(async () => (await c.status()).hosts.find((h) => h.host === "hv-c")!.collectOk === false, 10_000, "hv-c to report collectOk false");
      const hc = (await c.status()).hosts.find((h) => h.host === "hv-c")!;
      console.log(`s3: hv-c seen as fresh=${hc.fresh} agentAlive=${hc.agentAlive} collectOk=${hc.collectOk}: ${hc.collectError}`);
      // The operator tries again: an unhealthy host must not be a destination (refused or skipped, never sent).
      const again = await c.api("migrate", { vm, to: "hv-c" });
      console.log(`s3: second request to hv-c: ${JSON.stringify(again.ok ? again.data.queued.map((q) => q.state) : again.error)}`);
      await sleep(500);
      const after = await c.history({ vm });
      const sent = after.filter((x) => x.state === "FAILED" || x.state === "SUCCEEDED" || x.state === "ONGOING");
      expect(sent).toHaveLength(0);
      if (again.ok) expect(after[0]!.state).toBe("SKIPPED");
      else expect(again.error.code).toBe("NO_DESTINATION");

      // No retry storm over several cycles, and hv-c is never chosen while silent/unhealthy.
      await sleep(6 * POLICY.interval * 1000);
      const later = await c.history({ vm });
      expect(later.filter((x) => x.state === "FAILED" || x.state === "SUCCEEDED" || x.state === "ONGOING")).toHaveLength(0);
      expect(
        (await c.history({ host: "hv-c" })).filter((x) => x.queuedAt >= t0 && x.destination === "hv-c" && x.state !== "FAILED" && x.state !== "SKIPPED"),
      ).toEqual([]);
      const dry = await c.api("evacuate", { host: "hv-a", dryRun: true });
      expect(dry.ok).toBe(true);
      expect((dry.data as EvacuationCheck).plan.moves.map((m) => m.destination)).not.toContain("hv-c");
      const hc2 = (await c.status()).hosts.find((h) => h.host === "hv-c")!;
      expect(hc2.fresh).toBe(false);
      expect(lab.whereIs(vm)).toEqual(["hv-a"]);
      expect(tickContinuity(lab, vm)).toMatchObject({ ok: true, boots: 1 });
      await lab.waitForTicks(vm, 1, { timeoutMs: 10_000 });

      // hv-c's libvirtd is back, and its check passes, but its link to the migration network is
      // cut: what the check cannot see, libvirt reports, and its words reach the history.
      await lab.startLibvirtd("hv-c");
      libvirtdDown = false;
      await c.waitFresh(["hv-c"], 30_000);
      await lab.netDown("hv-c");
      netDown = true;
      const r2 = await c.api("migrate", { vm, to: "hv-c" });
      expect(r2.ok, JSON.stringify(r2)).toBe(true);
      const failed = await waitUntil(
        async () => (await c.history({ vm })).find((x) => x.state === "FAILED" || x.state === "SUCCEEDED"),
        60_000,
        "the migration over the cut network to fail",
      );
      timings.s3_untilFailed = Date.now() - t0;
      console.log(`s3: ${failed.state}: ${failed.error}`);
      expect(failed.state).toBe("FAILED");
      expect(failed.checked?.result).toBe("ok");
      // libvirt's own message, passed on verbatim by the agent.
      expect(failed.error).toMatch(/10\.77\.0\.3|No route to host|unable to connect/i);
      expect(lab.whereIs(vm)).toEqual(["hv-a"]);
      expect(tickContinuity(lab, vm)).toMatchObject({ ok: true, boots: 1 });
      // A network failure says nothing about the pair: it is not recorded incompatible.
      const ex = await c.api("explain", { vm });
      expect(ex.ok && ex.data.incompatible).toEqual([]);
    } finally {
      if (frozen) c.signalAgent("hv-c", "SIGCONT");
      if (netDown) await lab.netUp("hv-c").catch((e) => console.warn("net-up hv-c:", e));
      if (libvirtdDown) await lab.startLibvirtd("hv-c").catch((e) => console.warn("start hv-c:", e));
      await cleanup([vm]);
      await c.waitFresh(["hv-c"], 30_000).catch((e) => console.warn("hv-c not fresh again:", e));
      timings.s3 = Date.now() - t0;
    }
  }, 150_000);

  it("4. the source agent is killed mid-migration and restarted: one copy of the guest, and the orchestrator agrees with libvirt", async () => {
    const t0 = Date.now();
    const vm = "s4-g";
    try {
      // A slow migration (bandwidth-limited, busy guest) so there is time to kill the agent in it.
      await c.stopAgent("hv-a");
      await c.startAgent("hv-a", { migration: { extra_args: ["--bandwidth=8"] } });
      await lab.startGuest("hv-a", vm, { burn: true });
      await c.waitFresh(["hv-a"]);
      await waitUntil(seen(vm, "hv-a"), 20_000, `${vm} reported on hv-a`);
      await lab.waitForTicks(vm, 1, { after: 0, timeoutMs: 20_000 });
      const r = await c.api("migrate", { vm, to: "hv-b" });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      // Wait until libvirt really runs the job, then crash the agent (SIGKILL, no grace).
      await waitUntil(
        async () => /Unbounded/.test(await lab.virsh("hv-a", ["domjobinfo", vm]).catch(() => "")),
        15_000,
        "the migration job to run in libvirt",
        100,
      );
      const killedAt = Date.now();
      c.signalAgent("hv-a", "SIGKILL");
      await c.agents.get("hv-a")!.exited;
      c.agents.delete("hv-a");
      await sleep(1000);
      await c.startAgent("hv-a");
      timings.s4_agentDown = Date.now() - killedAt;

      // Where libvirt has it, once the dust settles: exactly one hypervisor.
      const where = await waitUntil(
        async () => {
          const w = await lab.whereIsAsync(vm);
          const job = await lab.virsh("hv-a", ["domjobinfo", vm]).catch(() => "");
          return w.length === 1 && !/Unbounded/.test(job) ? w : undefined;
        },
        60_000,
        `${vm} to run on exactly one hypervisor with no job`,
      );
      const record = await waitUntil(async () => (await c.history({ vm })).find(finished), 30_000, "the orchestrator to settle the migration");
      timings.s4_untilSettled = Date.now() - t0;
      console.log(`s4: libvirt has ${vm} on ${where[0]}; record ${record.state} ${record.error ?? ""} ${JSON.stringify(record.stats ?? {})}`);
      expect(record.state === "SUCCEEDED" ? ["hv-b"] : ["hv-a"]).toEqual(where);
      expect(["SUCCEEDED", "FAILED"]).toContain(record.state);
      // The orchestrator's view matches libvirt's within a few cycles.
      await waitUntil(
        async () => {
          const e = await c.api("explain", { vm });
          return e.ok && e.data.runningOn.length === 1 && e.data.runningOn[0] === where[0] && !e.data.inFlight;
        },
        10_000,
        "the orchestrator's view to match libvirt",
      );
      const st = await c.status();
      expect(st.migrations.ongoing).toEqual([]);
      await sleep(2000);
      expect(await lab.whereIsAsync(vm)).toEqual(where);
      expect((await c.history({ vm })).filter((x) => x.state !== "SKIPPED")).toHaveLength(1);
      expect(tickContinuity(lab, vm)).toMatchObject({ ok: true, boots: 1 });
      await lab.waitForTicks(vm, 1, { timeoutMs: 10_000 });
    } finally {
      await cleanup([vm]);
      if (!c.agents.has("hv-a")) await c.startAgent("hv-a").catch(() => undefined);
      timings.s4 = Date.now() - t0;
      const log = readLog(`${c.dir}/agent-hv-a.log`);
      if (process.env.BALLAST_E2E_VERBOSE) console.log(log.slice(-4000));
    }
  }, 150_000);
});
