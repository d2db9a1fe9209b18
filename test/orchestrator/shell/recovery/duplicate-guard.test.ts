import { describe, expect, it } from "vitest";
import { DuplicateGuard } from "../../../../orchestrator/shell/recovery/duplicate-guard.js";
import { silentLogger } from "../../../../shared/logger.js";
import type { PauseVmRequest, PauseVmResult } from "../../../../shared/schemas/agent-api.js";
import type { RecoveryAlert } from "../../../../shared/schemas/orchestrator-events.js";
import type { VmState } from "../../../../shared/schemas/vm.js";

// The duplicate guard without NATS: a VM running on two fresh hosts is paused on the one its record
// does not name, once, with one alert and a decision; a migration in flight, a stale or pre-move
// inventory, a paused copy or a missing record pause nothing; a failed pause is tried again.

function harness() {
  let now = 100_000;
  const inv = new Map<string, { at: number; vms: { name: string; state: VmState }[] }>();
  const stale = new Set<string>();
  const records = new Map<string, string>();
  const migrating = new Set<string>();
  const moved = new Map<string, number>();
  const sent: { host: string; body: PauseVmRequest }[] = [];
  const notes: { vm: string; code: string }[] = [];
  const alerts: RecoveryAlert[] = [];
  let fail = false;
  let leading = true;
  const guard = new DuplicateGuard({
    hostIds: () => [...inv.keys()],
    inventory: (h) => inv.get(h)?.vms,
    inventoryAt: (h) => inv.get(h)?.at,
    fresh: (h) => !stale.has(h),
    recordHost: (vm) => records.get(vm),
    migrating: (vm) => migrating.has(vm),
    lastMoveAt: (vm) => moved.get(vm),
    pause: async (host, body): Promise<PauseVmResult> => {
      sent.push({ host, body });
      if (fail) throw new Error("no answer on ballast.agent.b.pause-vm");
      const v = inv.get(host)!.vms.find((x) => x.name === body.vm)!;
      const was = v.state;
      if (was === "running") v.state = "paused";
      return { vm: body.vm, host, paused: was === "running", state: v.state, detail: "" };
    },
    leading: () => leading,
    epoch: () => 3,
    note: (d) => notes.push({ vm: d.vm, code: d.code }),
    alert: (a) => alerts.push(a),
    clock: { now: () => now },
    log: silentLogger(),
  });
  const list = (h: string, vms: [string, VmState][], at = now) => inv.set(h, { at, vms: vms.map(([name, state]) => ({ name, state })) });
  return {
    guard,
    list,
    stale,
    records,
    migrating,
    moved,
    sent,
    notes,
    alerts,
    setFail: (f: boolean) => (fail = f),
    setLeading: (l: boolean) => (leading = l),
    tick: (ms: number) => (now += ms),
  };
}

describe("DuplicateGuard", () => {
  it("pauses the copy on the host the record does not name, with one alert and a decision", async () => {
    const h = harness();
    h.records.set("web1", "a");
    h.list("a", [["web1", "running"]]);
    h.list("b", [
      ["web1", "running"],
      ["db1", "running"],
    ]);
    await h.guard.check();
    expect(h.sent).toEqual([{ host: "b", body: { vm: "web1", recordHost: "a", epoch: 3 } }]);
    expect(h.alerts).toEqual([expect.objectContaining({ alert: "duplicate_running", host: "b", code: "DUPLICATE_PAUSED" })]);
    expect(h.alerts[0]!.message).toMatch(/paused \(nothing destroyed\)/);
    expect(h.notes).toEqual([{ vm: "web1", code: "DUPLICATE_PAUSED" }]);
    // Paused now: not a duplicate any more, nothing sent again.
    await h.guard.check();
    expect(h.sent).toHaveLength(1);
    expect(h.alerts).toHaveLength(1);
  });

  it("pauses nothing while the VM migrates, or from an inventory older than its last move", async () => {
    const h = harness();
    h.records.set("web1", "a");
    h.list("a", [["web1", "running"]]);
    h.list("b", [["web1", "running"]]);
    h.migrating.add("web1");
    await h.guard.check();
    h.migrating.delete("web1");
    h.moved.set("web1", 100_000); // b's inventory is from the same instant as the switch-over
    await h.guard.check();
    expect(h.sent).toEqual([]);
    h.tick(1000);
    h.list("b", [["web1", "running"]]);
    h.list("a", [["web1", "running"]]);
    await h.guard.check();
    expect(h.sent.map((s) => s.host)).toEqual(["b"]);
  });

  it("acts only on fresh inventories that both list the VM running", async () => {
    const h = harness();
    h.records.set("web1", "a");
    h.list("a", [["web1", "running"]]);
    h.list("b", [["web1", "paused"]]);
    h.list("c", [["web1", "running"]]);
    h.stale.add("c");
    await h.guard.check();
    expect(h.sent).toEqual([]);
    expect(h.alerts).toEqual([]);
  });

  it("without a record naming one of the hosts pauses nothing and alerts once", async () => {
    const h = harness();
    h.list("a", [["web1", "running"]]);
    h.list("b", [["web1", "running"]]);
    await h.guard.check();
    await h.guard.check();
    expect(h.sent).toEqual([]);
    expect(h.alerts).toEqual([expect.objectContaining({ alert: "duplicate_running", host: null, code: "DUPLICATE_NO_RECORD" })]);
    h.records.set("web1", "c");
    await h.guard.check();
    expect(h.sent).toEqual([]);
  });

  it("a failed pause is alerted once and tried again on the next pass", async () => {
    const h = harness();
    h.records.set("web1", "a");
    h.list("a", [["web1", "running"]]);
    h.list("b", [["web1", "running"]]);
    h.setFail(true);
    await h.guard.check();
    await h.guard.check();
    expect(h.sent).toHaveLength(2);
    expect(h.alerts.map((a) => [a.code, a.numbers.paused])).toEqual([["DUPLICATE_PAUSED", false]]);
    expect(h.alerts[0]!.message).toMatch(/pausing it on b failed/);
    expect(h.notes.map((n) => n.code)).toEqual(["DUPLICATE_PAUSED"]);
    h.setFail(false);
    await h.guard.check();
    expect(h.sent).toHaveLength(3);
    expect(h.notes.map((n) => n.code)).toEqual(["DUPLICATE_PAUSED", "DUPLICATE_PAUSED"]);
  });

  it("a standby does nothing", async () => {
    const h = harness();
    h.setLeading(false);
    h.records.set("web1", "a");
    h.list("a", [["web1", "running"]]);
    h.list("b", [["web1", "running"]]);
    await h.guard.check();
    expect(h.sent).toEqual([]);
  });
});
