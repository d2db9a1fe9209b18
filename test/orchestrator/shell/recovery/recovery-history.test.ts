import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../../shared/logger.js";
import { RecoveryHistoryReply, type RecoveryHistoryEntry } from "../../../../shared/schemas/orchestrator-api.js";
import type { RecoveryAlert } from "../../../../shared/schemas/orchestrator-events.js";
import { RecoveryHistory } from "../../../../orchestrator/shell/recovery/recovery-history.js";
import { RecoveryManager } from "../../../../orchestrator/shell/recovery/recovery-manager.js";
import type { StoredRecoveryHost, StoredRestart } from "../../../../orchestrator/shell/recovery/recovery-record.js";
import { host, NOW, policy, snapshot, vm } from "../../core/builders.js";
import { record } from "../../core/failure-builders.js";

// The recovery history fed as orchestrator.ts feeds it: the manager's sink writes and alerts, and
// the manager's kept state (hosts, restarts) read when asked. First with a real RecoveryManager
// and a manual clock through a whole incident, then the cases an incident rarely walks through in
// a test: a host returning, a failure cleared before its fence, a new leader, the bound.

const POLICY = policy({ stale_after: 2, failure_detect_after: 5, failure_peer_probes: 2, failure_fence_attempts: 2 });

/** What the manager keeps, as a test writes it. */
class Kept {
  hosts = new Map<string, StoredRecoveryHost>();
  restarts = new Map<string, StoredRestart>();
  persisted() {
    return { hosts: [...this.hosts.values()], restarts: [...this.restarts.values()] };
  }
}

const line = (e: RecoveryHistoryEntry): string => {
  switch (e.kind) {
    case "failure":
      return `failure ${e.host} ${e.state}`;
    case "fence":
      return `fence ${e.host} ${e.attempt.by} ${e.attempt.result}`;
    case "restart":
      return `restart ${e.vm} ${e.host}->${e.restart.restart.destination} ${e.restart.outcome}`;
    case "alert":
      return `alert ${e.alert} ${e.host ?? "-"}`;
  }
};

describe("RecoveryHistory with a real RecoveryManager", () => {
  it("lists a power loss as failed, fence, fenced, restarts, recovering, recovered: newest first, with outcomes", async () => {
    let now = NOW;
    const seen = new Map([
      ["a", NOW],
      ["b", NOW],
      ["c", NOW],
    ]);
    const up = new Set(["a", "b", "c"]);
    let bmc: "on" | "off" = "on";
    const clock = { now: () => now };
    // eslint-disable-next-line prefer-const -- assigned below, read lazily by the history
    let manager: RecoveryManager;
    const history = new RecoveryHistory(100, { persisted: () => manager.persisted() }, clock);
    manager = new RecoveryManager({
      policy: () => POLICY,
      clock,
      log: silentLogger(),
      leading: () => true,
      epoch: () => 7,
      hosts: () => ["a", "b", "c"],
      lastSeen: (h) => seen.get(h),
      fresh: (h, t) => t - (seen.get(h) ?? 0) <= POLICY.stale_after * 1000,
      address: (h) => `10.0.0.${h.charCodeAt(0)}`,
      probe: (peer, h) => Promise.resolve({ host: h, from: peer, ok: up.has(h), timedOut: !up.has(h), detail: up.has(h) ? "ok" : "timed out", ms: 1 }),
      power: {
        managed: (h) => h === "b",
        state: () => null,
        readBmc: () => Promise.resolve({ reading: bmc, at: now }),
        fence: () => {
          now += 1; // the power-off takes a moment
          return Promise.resolve({ by: "driver", at: now - 1, result: "off", readBackAt: now });
        },
      },
      records: () => [record("web-1", "b", { priority: "high" }), record("app-1", "b", { priority: "low" })],
      snapshot: (t) =>
        snapshot(
          [
            host("a", { lastSeenAgo: (NOW - t) / 1000 }),
            host("b", { lastSeenAgo: (NOW - seen.get("b")!) / 1000 }),
            host("c", { lastSeenAgo: (NOW - t) / 1000 }),
          ],
          [vm("web-1", "b", { mem: 1024 }), vm("app-1", "b", { mem: 1024 })],
        ),
      start: (dest, body) => {
        now += 1;
        return Promise.resolve({
          requestId: body.requestId,
          vm: body.vm,
          host: dest,
          started: body.vm === "web-1",
          detail: body.vm === "web-1" ? "started" : "already there",
        });
      },
      sink: history.sink(),
      note: () => undefined,
      alert: (a) => history.alert(a),
    });

    await manager.tick();
    expect(history.entries()).toEqual([]);
    up.delete("b");
    bmc = "off";
    now += 10_000;
    seen.set("a", now);
    seen.set("c", now);
    await manager.tick();
    now += 1000;
    seen.set("a", now);
    seen.set("c", now);
    await manager.tick();

    const all = history.entries();
    expect(() => RecoveryHistoryReply.parse(all)).not.toThrow();
    expect(all.map(line)).toEqual([
      "failure b recovered",
      "alert start_refused b",
      "restart app-1 b->c refused",
      // web-1 (high) was started by the first pass, app-1 (low) by the next, once web-1 was up.
      "failure b recovering",
      "restart web-1 b->a started",
      "failure b fenced",
      "fence b driver off",
      "failure b failed",
    ]);
    // Newest first, by time.
    const times = all.map((e) => e.at);
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    const failed = all.find((e) => e.kind === "failure" && e.state === "failed")!;
    expect(failed.kind === "failure" && failed.failedAt).toBe(failed.at);
    const restart = all.find((e) => e.kind === "restart" && e.vm === "web-1")!;
    expect(restart.kind === "restart" && restart.restart.restart.epoch).toBe(7);

    // Filters: kind, host (restarts from or to it), vm.
    expect(history.entries({ kind: "restart" }).map(line)).toEqual(["restart app-1 b->c refused", "restart web-1 b->a started"]);
    expect(history.entries({ kind: "fence" }).map(line)).toEqual(["fence b driver off"]);
    expect(history.entries({ host: "a" }).map(line)).toEqual(["restart web-1 b->a started"]);
    expect(history.entries({ host: "c" }).map(line)).toEqual(["restart app-1 b->c refused"]);
    expect(history.entries({ vm: "app-1" }).map(line)).toEqual(["alert start_refused b", "restart app-1 b->c refused"]);
    expect(history.entries({ limit: 2 }).map(line)).toEqual(["failure b recovered", "alert start_refused b"]);
    expect(history.entries({ vm: "db-9" })).toEqual([]);

    // A new leader: a history of its own with nothing logged, reading the same kept state.
    const kept = manager.persisted();
    const next = new RecoveryHistory(100, { persisted: () => kept }, clock);
    next.restored(kept.hosts);
    expect(next.entries().map(line)).toEqual([
      "failure b recovered",
      "restart app-1 b->c refused",
      "restart web-1 b->a started",
      "fence b driver off",
      "failure b failed",
    ]);
  });
});

describe("RecoveryHistory", () => {
  const at = (s: number) => NOW + s * 1000;
  const write = (kept: Kept, h: RecoveryHistory, r: StoredRecoveryHost) => {
    kept.hosts.set(r.host, r);
    h.host(r);
  };

  it("logs a fenced host's return and a failure cleared before any fence, which the kept state forgets", () => {
    const kept = new Kept();
    const h = new RecoveryHistory(100, kept, { now: () => at(100) });
    write(kept, h, { host: "b", state: "failed", since: at(1), failedAt: at(1), attempts: [] });
    const off = { by: "operator" as const, at: at(2), result: "off" as const, readBackAt: null, operator: "_INBOX_op-alice" };
    write(kept, h, { host: "b", state: "suspect", since: at(1), failedAt: at(1), attempts: [off] });
    write(kept, h, { host: "b", state: "fenced", since: at(3), failedAt: at(1), attempts: [off] });
    write(kept, h, { host: "b", state: "healthy", since: at(9), failedAt: null, attempts: [off] });
    write(kept, h, { host: "c", state: "failed", since: at(20), failedAt: at(20), attempts: [] });
    write(kept, h, { host: "c", state: "healthy", since: at(25), failedAt: null, attempts: [] });
    expect(h.entries().map(line)).toEqual([
      "failure c cleared",
      "failure c failed",
      "failure b returned",
      "failure b fenced",
      "fence b operator off",
      "failure b failed",
    ]);
    // Once over, an incident's entries carry no failedAt any more; while open they do.
    expect(h.entries({ kind: "failure", host: "b" }).map((e) => (e.kind === "failure" ? e.failedAt : "?"))).toEqual([null, at(1), at(1)]);
  });

  it("starts from a new leader's restored states, so a host restored fenced that returns is 'returned'", () => {
    const kept = new Kept();
    kept.hosts.set("b", { host: "b", state: "recovered", since: at(5), failedAt: at(1), attempts: [] });
    const h = new RecoveryHistory(100, kept, { now: () => at(100) });
    h.restored([...kept.hosts.values()]);
    expect(h.entries().map(line)).toEqual(["failure b recovered", "failure b failed"]);
    write(kept, h, { host: "b", state: "healthy", since: at(30), failedAt: null, attempts: [] });
    // The kept state forgot the incident; the log kept its end.
    expect(h.entries().map(line)).toEqual(["failure b returned"]);
  });

  it("keeps at most `size` entries, the newest, logged and derived alike", () => {
    const kept = new Kept();
    let t = at(0);
    const h = new RecoveryHistory(10, kept, { now: () => t });
    const alert = (i: number): RecoveryAlert => ({ alert: "start_failed", host: "b", code: null, message: `try ${i}`, numbers: { vm: `vm-${i}` } });
    for (let i = 0; i < 25; i++) {
      t = at(i);
      h.alert(alert(i));
    }
    for (let i = 0; i < 5; i++) {
      const r: StoredRestart = {
        restart: { vm: `r-${i}`, host: "b", destination: "a", at: at(30 + i), epoch: 0 },
        requestId: `r-${i}`,
        outcome: "started",
        detail: null,
        tries: 1,
        upAt: null,
      };
      kept.restarts.set(r.requestId, r);
    }
    const all = h.entries({ limit: 10_000 });
    expect(all).toHaveLength(10);
    expect(all.map((e) => (e.kind === "alert" ? e.message : e.kind === "restart" ? e.vm : "?"))).toEqual([
      "r-4",
      "r-3",
      "r-2",
      "r-1",
      "r-0",
      "try 24",
      "try 23",
      "try 22",
      "try 21",
      "try 20",
    ]);
    expect(h.entries({ vm: "vm-24" })).toEqual([expect.objectContaining({ kind: "alert", vm: "vm-24", host: "b", at: at(24) })]);
  });

  it("passes every write on to the HA sink, and resolves a restart write without one", async () => {
    const seen: string[] = [];
    const h = new RecoveryHistory(10, new Kept(), { now: () => NOW });
    const sink = h.sink({
      host: (r) => void seen.push(`host ${r.host} ${r.state}`),
      restart: (r) => Promise.resolve(void seen.push(`restart ${r.requestId}`)),
    });
    sink.host({ host: "b", state: "failed", since: NOW, failedAt: NOW, attempts: [] });
    const r: StoredRestart = {
      restart: { vm: "x", host: "b", destination: "a", at: NOW, epoch: 0 },
      requestId: "r-1",
      outcome: "sent",
      detail: null,
      tries: 0,
      upAt: null,
    };
    await sink.restart(r);
    expect(seen).toEqual(["host b failed", "restart r-1"]);
    expect(h.entries().map(line)).toEqual(["failure b failed"]);
    await expect(h.sink().restart(r)).resolves.toBeUndefined();
    // A failing HA write still fails the manager's write (the start is then not sent).
    await expect(h.sink({ host: () => undefined, restart: () => Promise.reject(new Error("KV down")) }).restart(r)).rejects.toThrow("KV down");
  });
});
