import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import { agentSubjects } from "../../shared/subjects.js";
import { labAvailable, labDown, labUp, type Lab } from "../support/lab.js";
import { linesWithDuplicateKeys } from "../agent/support/json-keys.js";
import { LAB_AGENT, readLog, sleep, startLabCluster, tickContinuity, waitUntil, type LabCluster } from "./lab-cluster.js";

// Issue 14, item 12, on the real lab: the source agent is stopped the way systemd stops its unit
// while a live migration runs, then started again, as `systemctl restart ballast-agent` does.
// What the lab showed first (deploy/README.md): with --p2p the source libvirtd goes on with the
// job when its virsh client is killed, SIGTERM or SIGKILL. So the agent must neither wait for
// the migration (it may run 600 s; TimeoutStopSec is 30) nor report it failed or abort it; the
// next start must follow it in libvirt and report its outcome under the original request id.
//
// Agents run as `bin/ballast agent` processes with STATE_DIRECTORY set, as systemd's
// StateDirectory= sets it, each the leader of its own process group standing in for the unit's
// control group (its virsh children are in it). Two ways systemd stops it:
//   - KillMode=control-group (the old unit): SIGTERM to every process of the group at once;
//   - KillMode=mixed (the unit now): SIGTERM to the agent alone, SIGKILL to what is left after.
// Before: the agent waited up to 5 s, then aborted the job (domjobabort) and reported
// migration.aborted; or, when systemd's SIGTERM reached virsh first, reported migration.failed
// ("killed by SIGTERM") while libvirt went on and the guest arrived on the destination.

const NAME = "stop";
const avail = labAvailable({ name: NAME });
if (!avail.ok) console.warn(`\n*** lab agent-stop tests SKIPPED: ${avail.why} ***\n`);

/** Nothing is planned on its own: only the operator's moves happen. */
const POLICY = {
  interval: 1,
  stale_after: 6,
  load_threshold: 99,
  load_target: 98,
  max_load_candidate: 100,
  mem_reserve_mib: 64,
  vm_cooldown: 0,
  host_settle: 0,
};
/** The agent's stop, measured from SIGTERM to its exit (the agent's own bounds add up to ~4.5 s). */
const EXIT_BOUND_MS = 6000;

describe.skipIf(!avail.ok)(`stopping the source agent during a live migration on the real lab${avail.ok ? "" : ` (SKIPPED: ${avail.why})`}`, () => {
  let lab: Lab;
  let c: LabCluster;
  let stateDir: string;
  const outcomes: MigrationEvent[] = [];
  let sub: Subscription | undefined;

  beforeAll(async () => {
    await labDown({ name: NAME }).catch(() => undefined);
    lab = await labUp({ name: NAME });
    stateDir = join(lab.dir, "agent-state");
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(stateDir, { recursive: true });
    c = await startLabCluster(lab, {
      policy: POLICY,
      agent: { ...LAB_AGENT, migration: { extra_args: ["--bandwidth=8"] } },
      agentEnv: () => ({ STATE_DIRECTORY: stateDir }),
    });
    await c.waitFresh(["hv-a", "hv-b", "hv-c"]);
    // Every event hv-a publishes, whoever runs it: the outcome must come from hv-a's agent.
    sub = c.nc.subscribe(agentSubjects("hv-a").events, { callback: (_e, m) => void outcomes.push(MigrationEvent.parse(m.json())) });
  }, 180_000);

  afterAll(async () => {
    sub?.unsubscribe();
    await c?.stop().catch((e) => console.warn("cluster stop:", e));
    await labDown({ name: NAME }).catch((e) => console.warn("lab down:", e));
  }, 120_000);

  const finished = (r: MigrationRecord) => ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"].includes(r.state);
  const journal = () => join(stateDir, "agent-hv-a-migrations.json");
  const jobRunning = async (hv: string, vm: string) => /Unbounded/.test(await lab.virsh(hv, ["domjobinfo", vm]).catch(() => ""));

  /** A guest on hv-a, moving to hv-b at 8 MiB/s (~11 s of copying), caught while libvirt copies. */
  async function migrationUnderWay(vm: string): Promise<string> {
    await lab.startGuest("hv-a", vm);
    await waitUntil(async () => (await c.api("explain", { vm })).data?.runningOn?.[0] === "hv-a", 30_000, `${vm} reported on hv-a`);
    await lab.waitForTicks(vm, 1, { after: 0, timeoutMs: 30_000 });
    const r = await c.api("migrate", { vm, to: "hv-b" });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const requestId = r.data!.queued[0]!.requestId;
    await waitUntil(() => jobRunning("hv-a", vm), 20_000, "the migration job to run in libvirt", 100);
    return requestId;
  }

  /**
   * Stops hv-a's agent as systemd would; returns how long it took to exit after SIGTERM. "crash":
   * the agent dies at once with its virsh children (an OOM kill of the unit, a watchdog kill).
   */
  async function stopAsSystemd(mode: "control-group" | "mixed" | "crash"): Promise<number> {
    const p = c.agents.get("hv-a")!;
    const t0 = Date.now();
    if (mode === "crash") process.kill(-p.pid, "SIGKILL");
    else process.kill(mode === "control-group" ? -p.pid : p.pid, "SIGTERM");
    const exit = await Promise.race([p.exited, sleep(EXIT_BOUND_MS + 10_000).then(() => "late" as const)]);
    const ms = Date.now() - t0;
    // What is left of the unit gets SIGKILL (SendSIGKILL=yes).
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      /* the group is empty */
    }
    if (exit === "late") await p.exited;
    c.agents.delete("hv-a");
    expect(exit, readLog(p.log).slice(-3000)).toBe(mode === "crash" ? null : 0);
    return ms;
  }

  const outcomeOf = (requestId: string) =>
    outcomes.filter((e) => e.requestId === requestId && e.type !== "migration.started" && e.type !== "migration.progress");

  it.each(["control-group", "mixed", "crash"] as const)(
    "%s: the agent exits at once, the migration goes on in libvirt, and the restarted agent reports its success",
    async (mode) => {
      const vm = { "control-group": "st-g", mixed: "st-m", crash: "st-k" }[mode];
      try {
        const requestId = await migrationUnderWay(vm);
        const ms = await stopAsSystemd(mode);
        console.log(`${mode}: agent exited ${ms} ms after the signal`);
        expect.soft(ms).toBeLessThan(EXIT_BOUND_MS);
        // libvirt goes on without anyone watching; the stopping agent said nothing about it, and
        // left it written down for the next start.
        const stillCopying = await jobRunning("hv-a", vm);
        expect(outcomeOf(requestId)).toEqual([]);
        expect(existsSync(journal())).toBe(true);
        const during = (await c.history({ vm })).find((r) => r.requestId === requestId);
        expect(during === undefined || during.state === "ONGOING").toBe(true);

        await sleep(1000);
        await c.startAgent("hv-a");
        const out = await waitUntil(() => outcomeOf(requestId)[0], 60_000, "the restarted agent's outcome event");
        console.log(`${mode}: job still copying after the exit: ${stillCopying}; outcome ${out.type} ${out.error ?? ""}`);
        expect(out).toMatchObject({ type: "migration.succeeded", requestId, vm, source: "hv-a", destination: "hv-b" });
        expect(outcomeOf(requestId)).toHaveLength(1);
        expect(await lab.whereIsAsync(vm)).toEqual(["hv-b"]);
        const record = await waitUntil(
          async () => (await c.history({ vm })).find((r) => r.requestId === requestId && finished(r)),
          30_000,
          "the record to finish",
        );
        expect(record.state).toBe("SUCCEEDED");
        expect((await c.history({ vm })).filter((r) => r.state !== "SKIPPED")).toHaveLength(1);
        await waitUntil(() => !existsSync(journal()), 10_000, "the journal to be emptied");
        expect(tickContinuity(lab, vm)).toMatchObject({ ok: true, boots: 1 });
        await lab.waitForTicks(vm, 1, { timeoutMs: 15_000 });
      } finally {
        if (!c.agents.has("hv-a")) await c.startAgent("hv-a").catch(() => undefined);
        await lab.destroyGuest(vm).catch(() => undefined);
      }
    },
    150_000,
  );

  it("a job that ends without the VM leaving while the agent is down (aborted by hand) is reported failed by the restarted agent; the guest stays", async () => {
    const vm = "st-f";
    try {
      const requestId = await migrationUnderWay(vm);
      expect(await stopAsSystemd("mixed")).toBeLessThan(EXIT_BOUND_MS);
      await lab.virsh("hv-a", ["domjobabort", vm]);
      await waitUntil(async () => !(await jobRunning("hv-a", vm)), 20_000, "the job to end");
      await c.startAgent("hv-a");
      const out = await waitUntil(() => outcomeOf(requestId)[0], 60_000, "the restarted agent's outcome event");
      console.log(`failed: ${out.type}: ${out.error}`);
      expect(out).toMatchObject({ type: "migration.failed", requestId, vm, source: "hv-a", destination: "hv-b" });
      expect(out.error).toMatch(/^the agent restarted during the migration; libvirt's job has ended and st-f is still on hv-a \(running/);
      expect(await lab.whereIsAsync(vm)).toEqual(["hv-a"]);
      const record = await waitUntil(
        async () => (await c.history({ vm })).find((r) => r.requestId === requestId && finished(r)),
        30_000,
        "the record to finish",
      );
      expect(record.state).toBe("FAILED");
      expect(tickContinuity(lab, vm)).toMatchObject({ ok: true, boots: 1 });
      await lab.waitForTicks(vm, 1, { timeoutMs: 15_000 });
    } finally {
      if (!c.agents.has("hv-a")) await c.startAgent("hv-a").catch(() => undefined);
      await lab.destroyGuest(vm).catch(() => undefined);
    }
  }, 150_000);

  // Issue 14, item 13 on the real lab: the migrate line names the exact virsh command.
  it("the agent's log names each virsh migrate command with its destination URI, and no line has a key twice", () => {
    const lines = readLog(join(c.dir, "agent-hv-a.log"))
      .split("\n")
      .filter((l) => l.startsWith("{"));
    expect(linesWithDuplicateKeys(lines)).toEqual([]);
    const migrates = lines.map((l) => JSON.parse(l) as { msg: string; argv?: string[] }).filter((l) => l.msg === "running virsh migrate");
    expect(migrates.length).toBeGreaterThanOrEqual(4);
    for (const m of migrates) {
      expect(m.argv?.slice(0, 2)).toEqual(["virsh", "-c"]);
      expect(m.argv).toEqual(expect.arrayContaining(["migrate", "--live", "--p2p", "--bandwidth=8", "--desturi", "qemu+tcp://10.77.0.2/system"]));
    }
  });
});
