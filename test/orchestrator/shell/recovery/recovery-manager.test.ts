import { describe, expect, it } from "vitest";
import { BallastError } from "../../../../shared/errors.js";
import { silentLogger } from "../../../../shared/logger.js";
import type { FenceAttempt } from "../../../../shared/schemas/recovery.js";
import type { Policy } from "../../../../shared/config/policy.js";
import { RecoveryManager, type RecoveryDeps } from "../../../../orchestrator/shell/recovery/recovery-manager.js";
import type { StoredRestart } from "../../../../orchestrator/shell/recovery/recovery-record.js";
import { host, NOW, policy, snapshot, vm } from "../../core/builders.js";
import { localDisk, record, sharedDisk } from "../../core/failure-builders.js";

// The recovery manager with a manual clock and in-test edges: the order of fence, record and
// start; fence retries and the alert that ends them; the record written before any start; a new
// leader resending a recorded restart under its id without planning it again; isolation.

const POLICY = policy({ stale_after: 2, failure_detect_after: 5, failure_peer_probes: 2, failure_fence_attempts: 2 });

interface World {
  now: number;
  seen: Map<string, number>;
  /** Hosts whose libvirt answers probes. */
  libvirtUp: Set<string>;
  bmc: "on" | "off";
  fence: () => FenceAttempt["result"];
  ops: string[];
  alerts: string[];
  stored: StoredRestart[];
  sinkFails: boolean;
  startAnswer: (vm: string) => Promise<boolean>;
  /** b holds recorded VMs (false: nothing to restart there). */
  bHoldsVms: boolean;
  /** The records were rewritten for the VMs' new hosts at this time (they were listed there); undefined: still b's. */
  movedAt?: number;
  /** What a destination says of a restarted guest's agent (or the error it gives); undefined: the manager has no guestState. */
  guestAgent?: (vm: string) => "connected" | "disconnected" | "none" | BallastError;
}

function world(): World {
  return {
    now: NOW,
    seen: new Map([
      ["a", NOW],
      ["b", NOW],
      ["c", NOW],
    ]),
    libvirtUp: new Set(["a", "b", "c"]),
    bmc: "on",
    fence: () => "off",
    ops: [],
    alerts: [],
    stored: [],
    sinkFails: false,
    startAnswer: () => Promise.resolve(true),
    bHoldsVms: true,
  };
}

function manager(w: World, o: { epoch?: number; forget?: (r: StoredRestart) => void; policy?: Policy } = {}): RecoveryManager {
  const deps: RecoveryDeps = {
    policy: () => o.policy ?? POLICY,
    clock: { now: () => w.now },
    log: silentLogger(),
    leading: () => true,
    epoch: () => o.epoch,
    hosts: () => ["a", "b", "c"],
    lastSeen: (h) => w.seen.get(h),
    fresh: (h, now) => now - (w.seen.get(h) ?? 0) <= POLICY.stale_after * 1000,
    address: (h) => `10.0.0.${h.charCodeAt(0)}`,
    probe: (peer, h) => {
      w.ops.push(`probe ${h} from ${peer}`);
      const ok = w.libvirtUp.has(h);
      return Promise.resolve({ host: h, from: peer, ok, timedOut: !ok, detail: ok ? "Running hypervisor" : "timed out", ms: 1 });
    },
    power: {
      managed: (h) => h === "b",
      state: () => null,
      readBmc: () => Promise.resolve({ reading: w.bmc, at: w.now }),
      fence: () => {
        w.ops.push("fence b");
        const result = w.fence();
        return Promise.resolve({ by: "driver", at: w.now, result, readBackAt: w.now, ...(result === "off" ? {} : { error: "read back on" }) });
      },
    },
    records: () =>
      w.bHoldsVms
        ? [
            record("web-1", w.movedAt === undefined ? "b" : "a", { priority: "high", ...(w.movedAt === undefined ? {} : { updatedAt: w.movedAt }) }),
            record("app-1", w.movedAt === undefined ? "b" : "c", { priority: "low", ...(w.movedAt === undefined ? {} : { updatedAt: w.movedAt }) }),
            record("db-1", "b", { priority: "high", disks: [sharedDisk, localDisk] }),
          ]
        : [],
    snapshot: (now) =>
      snapshot(
        // The hosts as the orchestrator saw them at `now` (the builders' clock stands at NOW).
        [
          host("a", { lastSeenAgo: (NOW - now) / 1000 }),
          host("b", { lastSeenAgo: (NOW - w.seen.get("b")!) / 1000 }),
          host("c", { lastSeenAgo: (NOW - now) / 1000 }),
        ],
        [vm("web-1", "b", { mem: 1024 }), vm("app-1", "b", { mem: 1024 }), vm("db-1", "b", { mem: 1024 })],
      ),
    ...(w.guestAgent
      ? {
          guestState: (dest: string, name: string) => {
            w.ops.push(`guest-state ${name} on ${dest}`);
            const a = w.guestAgent!(name);
            return a instanceof BallastError ? Promise.reject(a) : Promise.resolve({ state: "running", guestAgent: a });
          },
        }
      : {}),
    start: async (dest, body) => {
      w.ops.push(`start ${body.vm} on ${dest} (${body.requestId})`);
      const started = await w.startAnswer(body.vm);
      return { requestId: body.requestId, vm: body.vm, host: dest, started, detail: started ? "started" : "already there" };
    },
    sink: {
      host: () => undefined,
      restart: (r) => {
        if (w.sinkFails) return Promise.reject(new Error("KV down"));
        w.ops.push(`record ${r.restart.vm} (${r.outcome})`);
        w.stored.push(r);
        return Promise.resolve();
      },
      ...(o.forget ? { forget: o.forget } : {}),
    },
    note: () => undefined,
    alert: (a) => void w.alerts.push(`${a.alert} ${a.host ?? "cluster"}`),
  };
  return new RecoveryManager(deps);
}

/** b loses its power at `w.now`; then `seconds` pass while a and c keep reporting. */
function powerLoss(w: World, seconds: number): void {
  w.libvirtUp.delete("b");
  w.bmc = "off";
  w.now += seconds * 1000;
  w.seen.set("a", w.now);
  w.seen.set("c", w.now);
}

/** `ms` pass while a and c keep reporting; then a recovery pass. */
async function passLater(w: World, m: RecoveryManager, ms: number): Promise<void> {
  w.now += ms;
  w.seen.set("a", w.now);
  w.seen.set("c", w.now);
  await m.tick();
}

const starts = (w: World) => w.ops.filter((o) => o.startsWith("start"));

describe("RecoveryManager", () => {
  it("fences a failed host before any restart and records each restart before sending it", async () => {
    const w = world();
    const m = manager(w);
    await m.tick();
    expect(w.ops).toEqual([]); // nobody silent: nothing probed, nothing read
    powerLoss(w, 10);
    await m.tick();
    const fenceAt = w.ops.indexOf("fence b");
    expect(fenceAt).toBeGreaterThan(-1);
    expect(w.ops.slice(0, fenceAt).sort()).toEqual(["probe b from a", "probe b from c"]);
    // Highest priority first, recorded before its start; app-1 (low) waits for it to be up (this
    // manager cannot ask guests, so up is started), db-1 (local disk) waits for its host.
    expect(w.ops.slice(fenceAt + 1).filter((o) => !o.includes("(started)"))).toEqual([
      "record web-1 (sent)",
      expect.stringMatching(/^start web-1 on [ac] \(r-\d+-[0-9a-f]{24}\)$/),
    ]);
    expect(m.view().hosts.find((h) => h.host === "b")).toMatchObject({ state: "recovering" });
    expect(m.view().waiting.map((x) => [x.vm, x.code])).toEqual([
      ["app-1", "RESTART_PRIORITY_WAIT"],
      ["db-1", "RESTART_LOCAL_DISKS"],
    ]);
    const mark = w.ops.length;
    w.now += 1000;
    w.seen.set("a", w.now);
    w.seen.set("c", w.now);
    await m.tick();
    expect(w.ops.slice(mark).filter((o) => !o.includes("(started)"))).toEqual(["record app-1 (sent)", expect.stringMatching(/^start app-1 on [ac] /)]);
    const v = m.view();
    expect(v.hosts.find((h) => h.host === "b")).toMatchObject({ state: "recovered", fence: { code: "FENCE_CONFIRMED" } });
    expect(v.restarts.map((r) => [r.restart.vm, r.outcome, r.restart.epoch])).toEqual([
      ["web-1", "started", 0],
      ["app-1", "started", 0],
    ]);
    expect(v.waiting).toEqual([expect.objectContaining({ vm: "db-1", code: "RESTART_LOCAL_DISKS" })]);
    // Later passes start nothing again and fence no more.
    w.now += 5000;
    w.seen.set("a", w.now);
    w.seen.set("c", w.now);
    await m.tick();
    expect(starts(w)).toHaveLength(2);
    expect(w.ops.filter((o) => o === "fence b")).toHaveLength(1);
  });

  it("starts a lower priority once the higher one's guest agent is connected, and records when it was up", async () => {
    const w = world();
    let agent: "connected" | "disconnected" = "disconnected";
    w.guestAgent = () => agent;
    const m = manager(w);
    powerLoss(w, 10);
    await m.tick();
    expect(starts(w)).toEqual([expect.stringMatching(/^start web-1 /)]);
    const later = (ms: number) => passLater(w, m, ms);
    // Started but its guest not up: app-1 waits, pass after pass.
    await later(1000);
    await later(1000);
    expect(w.ops.filter((o) => o.startsWith("guest-state web-1"))).toHaveLength(2);
    expect(starts(w)).toHaveLength(1);
    expect(m.view().waiting.find((x) => x.vm === "app-1")).toMatchObject({ code: "RESTART_PRIORITY_WAIT" });
    expect(m.awaitsGuests()).toBe(true); // main.ts runs a pass every second meanwhile
    agent = "connected";
    await later(1000);
    expect(starts(w)).toEqual([expect.stringMatching(/^start web-1 /), expect.stringMatching(/^start app-1 /)]);
    const web = m.view().restarts.find((r) => r.restart.vm === "web-1")!;
    expect(web.upAt).toBe(w.now);
    expect(w.stored.filter((r) => r.restart.vm === "web-1").at(-1)).toMatchObject({ outcome: "started", upAt: w.now });
    // Nothing is held any more (db-1 waits for its host); up once is up: not asked again.
    expect(m.awaitsGuests()).toBe(false);
    const asked = w.ops.filter((o) => o.startsWith("guest-state web-1")).length;
    await later(1000);
    expect(w.ops.filter((o) => o.startsWith("guest-state web-1"))).toHaveLength(asked);
  });

  it("a guest that never comes up holds the next priority restart_wait_timeout at most; one without an agent channel is up when started", async () => {
    const w = world();
    w.guestAgent = () => "disconnected";
    const m = manager(w);
    powerLoss(w, 10);
    await m.tick();
    const later = (ms: number) => passLater(w, m, ms);
    await later(POLICY.restart_wait_timeout * 1000 - 1000);
    expect(starts(w)).toHaveLength(1);
    expect(m.awaitsGuests()).toBe(true);
    await later(1000);
    expect(starts(w)).toHaveLength(2);
    // web-1 timed out, never up; app-1 is not up either, but it holds nothing: no fast passes.
    expect(m.view().restarts.map((r) => [r.restart.vm, r.upAt])).toEqual([
      ["web-1", null],
      ["app-1", null],
    ]);
    expect(m.awaitsGuests()).toBe(false);

    const w2 = world();
    w2.guestAgent = () => "none";
    const m2 = manager(w2);
    powerLoss(w2, 10);
    await m2.tick();
    await passLater(w2, m2, 1000);
    expect(starts(w2)).toHaveLength(2);
  });

  it("a destination that does not serve guest-state (an older agent) lets the next priority go; one that does not answer in time does not", async () => {
    for (const [code, next] of [
      ["NO_RESPONDERS", 2],
      ["TIMEOUT", 1],
    ] as const) {
      const w = world();
      w.guestAgent = () => new BallastError(code, "no answer");
      const m = manager(w);
      powerLoss(w, 10);
      await m.tick();
      await passLater(w, m, 1000);
      expect(starts(w), code).toHaveLength(next);
    }
  });

  it("forgets a restart restart_retention after it was recorded once its source host is healthy and its VM's record moved on, not before", async () => {
    const w = world();
    const forgotten: string[] = [];
    const m = manager(w, { forget: (r) => forgotten.push(r.restart.vm), policy: { ...POLICY, restart_retention: 86_400 } });
    powerLoss(w, 10);
    await m.tick();
    await passLater(w, m, 1000);
    expect(m.view().restarts.map((r) => r.restart.vm)).toEqual(["web-1", "app-1"]);
    // A day (restart_retention) later b is still off (recovered): its restarts are kept (vm-claim
    // reads them when it returns).
    await passLater(w, m, 86_400_000);
    expect(m.view().restarts).toHaveLength(2);
    // b reports again: healthy. Its restarts stay while the records still name b (the restarted
    // copies not listed anywhere yet): they are what keeps b's old copies from starting.
    w.libvirtUp.add("b");
    w.bmc = "on";
    w.seen.set("b", w.now + 1000);
    await passLater(w, m, 1000);
    expect(m.stateOf("b")).toBe("healthy");
    await passLater(w, m, 1000);
    expect(m.view().restarts).toHaveLength(2);
    // Once the records were rewritten for the VMs' new hosts, they are forgotten, in the store too.
    w.movedAt = w.now;
    w.seen.set("b", w.now + 1000);
    await passLater(w, m, 1000);
    expect(m.view().restarts).toEqual([]);
    expect(forgotten.sort()).toEqual(["app-1", "web-1"]);
  });

  it("sends a start that libvirt refuses restart_start_tries times, then alerts and gives it up", async () => {
    for (const tries of [1, 2, 4]) {
      const w = world();
      w.startAnswer = (name) => (name === "web-1" ? Promise.reject(new BallastError("HYPERVISOR_ERROR", "lease held")) : Promise.resolve(true));
      const m = manager(w, { policy: { ...POLICY, restart_start_tries: tries } });
      powerLoss(w, 10);
      await m.tick();
      for (let i = 0; i < 6; i++) await passLater(w, m, 1000);
      expect(
        starts(w).filter((o) => o.startsWith("start web-1")),
        `tries ${tries}`,
      ).toHaveLength(tries);
      expect(w.alerts, `tries ${tries}`).toContain("start_failed b");
      expect(m.view().restarts.find((r) => r.restart.vm === "web-1")).toMatchObject({ outcome: "failed", tries });
    }
  });

  it("tries the power-off failure_fence_attempts times, then alerts and restarts nothing", async () => {
    const w = world();
    w.fence = () => "not_off";
    const m = manager(w);
    powerLoss(w, 10);
    await m.tick();
    expect(w.ops.filter((o) => o === "fence b")).toHaveLength(2);
    expect(w.alerts).toEqual(["fence_failed b"]);
    expect(starts(w)).toEqual([]);
    w.now += 1000;
    w.seen.set("a", w.now);
    w.seen.set("c", w.now);
    await m.tick();
    expect(w.ops.filter((o) => o === "fence b")).toHaveLength(2);
    expect(w.alerts).toEqual(["fence_failed b"]); // once per incident
    // The operator's word then lets recovery go on: high, then low once high is up.
    m.confirmFenced("b", "ops");
    await m.tick();
    expect(starts(w)).toHaveLength(1);
    await m.tick();
    expect(starts(w)).toHaveLength(2);
  });

  it("never sends a start whose record could not be written", async () => {
    const w = world();
    w.sinkFails = true;
    const m = manager(w);
    powerLoss(w, 10);
    await m.tick();
    expect(w.ops).toContain("fence b");
    expect(starts(w)).toEqual([]);
    expect(m.view().restarts).toEqual([]);
  });

  it("a new leader sends a recorded restart again under the same request id and plans it no second time", async () => {
    const w = world();
    let answer = false;
    // The first leader gets no answer for web-1 (it may have started): TIMEOUT.
    w.startAnswer = (name) => (name === "web-1" && !answer ? Promise.reject(new BallastError("TIMEOUT", "no answer")) : Promise.resolve(true));
    const first = manager(w, { epoch: 4 });
    powerLoss(w, 10);
    await first.tick();
    const sent = first.view().restarts.find((r) => r.restart.vm === "web-1")!;
    expect(sent).toMatchObject({ outcome: "sent", tries: 1, restart: { epoch: 4 } });

    const st = first.persisted();
    const second = manager(w, { epoch: 5 });
    second.restore(st.hosts, st.restarts);
    answer = true;
    w.now += 1000;
    w.seen.set("a", w.now);
    w.seen.set("c", w.now);
    await second.tick();
    const web = starts(w).filter((o) => o.startsWith("start web-1"));
    expect(web).toHaveLength(2);
    expect(web[1]).toContain(sent.requestId);
    expect(second.view().restarts.filter((r) => r.restart.vm === "web-1")).toEqual([expect.objectContaining({ outcome: "started", tries: 2 })]);
    expect(w.ops.filter((o) => o === "fence b")).toHaveLength(1); // the fence was restored, not repeated
  });

  it("does not fence a failed host that holds no recorded VM: there is nothing to restart", async () => {
    const w = world();
    w.bHoldsVms = false;
    const m = manager(w);
    powerLoss(w, 10);
    await m.tick();
    w.now += 1000;
    await m.tick();
    expect(m.view().hosts.find((h) => h.host === "b")?.state).toBe("failed");
    expect(w.ops).not.toContain("fence b");
    expect(starts(w)).toEqual([]);
  });

  it("pauses when most hosts go silent at once: no fence, an alert", async () => {
    const w = world();
    const m = manager(w);
    w.libvirtUp.clear();
    w.bmc = "off";
    w.now += 10_000;
    w.seen.set("c", w.now);
    await m.tick();
    expect(m.view().paused).toBe(true);
    expect(w.alerts).toEqual(["isolated cluster"]);
    expect(w.ops).not.toContain("fence b");
    expect(starts(w)).toEqual([]);
  });

  it("refuses an operator's confirmation for a host that reports or whose libvirt answers", async () => {
    const w = world();
    const m = manager(w);
    await m.tick();
    expect(() => m.confirmFenced("b", "ops")).toThrow(/signs of life/);
    w.now += 10_000;
    w.seen.set("a", w.now);
    w.seen.set("c", w.now);
    await m.tick(); // b silent, libvirt answers: agent_down
    expect(m.view().hosts.find((h) => h.host === "b")?.state).toBe("agent_down");
    expect(() => m.confirmFenced("b", "ops")).toThrow(/agent_down/);
    expect(() => m.confirmFenced("zz", "ops")).toThrow(/not known/);
    expect(w.alerts).toEqual(["agent_down b"]);
  });
});
