import { describe, expect, it } from "vitest";
import { Policy } from "../../../../shared/config/policy.js";
import { silentLogger } from "../../../../shared/logger.js";
import { PowerManager, type PowerNote } from "../../../../orchestrator/shell/power/power-manager.js";
import type { StoredPower } from "../../../../orchestrator/shell/power/power-record.js";
import type { PowerAction } from "../../../../shared/schemas/power.js";
import { FakePower } from "../../../integration/fake-power.js";

// The power manager with in-test drivers, a manual clock and a hand-fed cluster view.

const T0 = 1_700_000_000_000;

function setup(o: { hosts?: string[]; policy?: Record<string, unknown>; leading?: () => boolean } = {}) {
  let now = T0;
  const clock = { now: () => now };
  const drivers = new Map((o.hosts ?? ["hv-a", "hv-b"]).map((h) => [h, new FakePower(h)]));
  const metrics = new Map<string, { vms: { name: string }[]; cpus: number; memTotalMiB: number }>();
  const metricsAt = new Map<string, number>();
  const incoming = new Map<string, string[]>();
  const outgoing = new Map<string, string[]>();
  const notes: PowerNote[] = [];
  const stored: StoredPower[] = [];
  const policy = Policy.parse({ power_on_deadline: 900, max_power_ops: 1, ...o.policy });
  const m = new PowerManager({
    drivers,
    clock,
    policy: () => policy,
    statusIntervalMs: 60_000,
    shutdownTimeoutMs: 600_000,
    cluster: { metrics: (h) => metrics.get(h), metricsAt: (h) => metricsAt.get(h) },
    incoming: (h) => incoming.get(h) ?? [],
    outgoing: (h) => outgoing.get(h) ?? [],
    leading: o.leading ?? (() => true),
    log: silentLogger(),
    onRecord: (r) => stored.push({ ...r }),
    onNote: (n) => notes.push(n),
  });
  /** An agent report of the host at the current time. */
  const report = (host: string, vms: string[] = []) => {
    metrics.set(host, { vms: vms.map((name) => ({ name })), cpus: 16, memTotalMiB: 65_536 });
    metricsAt.set(host, now);
  };
  const advance = (ms: number) => (now += ms);
  return { m, drivers, report, advance, incoming, outgoing, notes, stored, now: () => now };
}

const action = (host: string, a: "on" | "off", code: PowerAction["code"] = a === "on" ? "POWER_ON_DEMAND" : "POWER_OFF_IDLE"): PowerAction => ({
  seq: 0,
  host,
  action: a,
  code,
  reason: "test",
  numbers: {},
  forVms: [],
  afterMoves: [],
});

describe("PowerManager", () => {
  it("reads every host's state on the first tick, so none stays unknown", async () => {
    const { m, drivers } = setup();
    drivers.get("hv-b")!.reading = "off";
    expect(m.power("hv-a")!.state).toBe("unknown");
    await m.tick();
    expect(m.power("hv-a")!.state).toBe("on");
    expect(m.power("hv-b")!.state).toBe("off");
    expect(m.log({ limit: 10 }).map((c) => `${c.host} ${c.operation} ${c.ok}`)).toEqual(expect.arrayContaining(["hv-a status true", "hv-b status true"]));
    // Not read again before status_interval.
    await m.tick();
    expect(drivers.get("hv-a")!.calls).toEqual(["status"]);
  });

  it("switches an empty host off: shutting_down until the interface reads off, then off", async () => {
    const { m, drivers, report, advance, notes } = setup();
    report("hv-a");
    await m.tick();
    drivers.get("hv-a")!.offAfterReads = 2;
    const [o] = await m.execute([action("hv-a", "off")], "cycle p1");
    expect(o).toMatchObject({ host: "hv-a", action: "off", result: "done" });
    expect(drivers.get("hv-a")!.calls).toEqual(["status", "off soft"]);
    expect(m.power("hv-a")!.state).toBe("shutting_down");
    advance(5000);
    await m.tick();
    expect(m.power("hv-a")!.state).toBe("shutting_down");
    advance(5000);
    await m.tick();
    advance(5000);
    await m.tick();
    expect(m.power("hv-a")!.state).toBe("off");
    expect(notes.map((n) => n.code)).toEqual(["POWER_OFF_IDLE", "POWER_OFF_IDLE"]);
    expect(notes.at(-1)!.message).toContain("hv-a is off");
  });

  it("refuses a power-off when a VM appeared or one is on its way, and calls no driver", async () => {
    const { m, drivers, report, incoming, notes } = setup();
    report("hv-a", ["web-9"]);
    const [o] = await m.execute([action("hv-a", "off")], "cycle p1");
    expect(o).toMatchObject({ result: "refused", detail: "power-off refused: VM web-9 appeared (the host's newest inventory lists it)" });
    expect(notes.at(-1)).toMatchObject({ host: "hv-a", code: "POWER_HOLDS_VMS" });
    report("hv-b");
    incoming.set("hv-b", ["db-1"]);
    const [o2] = await m.execute([action("hv-b", "off")], "cycle p1");
    expect(o2).toMatchObject({ result: "refused", detail: "power-off refused: VM db-1 is migrating to it" });
    expect(drivers.get("hv-a")!.calls).toEqual([]);
    expect(drivers.get("hv-b")!.calls).toEqual([]);
  });

  it("a power-off after the moves that empty the host (POWER_OFF_EMPTIED) waits for them and a report after them, then runs", async () => {
    const { m, drivers, report, advance, outgoing, notes } = setup();
    report("hv-a", ["web-1", "web-2"]);
    await m.tick();
    outgoing.set("hv-a", ["web-1", "web-2"]);
    const off: PowerAction = { ...action("hv-a", "off", "POWER_OFF_EMPTIED"), afterMoves: [0, 1] };
    const [o] = await m.execute([off], "cycle p3");
    expect(o).toMatchObject({ host: "hv-a", action: "off", result: "pending" });
    expect(m.pendingOff()).toEqual(["hv-a"]);
    // While a migration from it is queued or running, nothing is switched.
    advance(5000);
    outgoing.set("hv-a", ["web-2"]);
    report("hv-a", ["web-2"]);
    await m.tick();
    expect(drivers.get("hv-a")!.calls).toEqual(["status"]);
    // The moves are over, but the newest report predates that: it waits for the next one.
    advance(5000);
    outgoing.set("hv-a", []);
    await m.tick();
    expect(drivers.get("hv-a")!.calls).toEqual(["status"]);
    expect(m.power("hv-a")!.state).toBe("on");
    advance(5000);
    report("hv-a");
    await m.tick();
    expect(drivers.get("hv-a")!.calls).toEqual(["status", "off soft"]);
    expect(m.power("hv-a")!.state).toBe("shutting_down");
    expect(m.pendingOff()).toEqual([]);
    expect(notes.at(-1)).toMatchObject({ host: "hv-a", code: "POWER_OFF_EMPTIED" });
  });

  it("drops a power-off after moves when the host still lists a VM (a move failed) or its agent stays silent", async () => {
    const { m, drivers, report, advance, outgoing, notes } = setup({ policy: { stale_after: 30 } });
    report("hv-a", ["web-1"]);
    report("hv-b", ["db-1"]);
    await m.tick();
    outgoing.set("hv-a", ["web-1"]);
    outgoing.set("hv-b", ["db-1"]);
    const offs = [
      { ...action("hv-a", "off", "POWER_OFF_EMPTIED"), afterMoves: [0] },
      { ...action("hv-b", "off", "POWER_OFF_EMPTIED"), seq: 1, afterMoves: [1] },
    ];
    expect((await m.execute(offs, "cycle p4")).map((o) => o.result)).toEqual(["pending", "pending"]);
    advance(5000);
    outgoing.clear();
    await m.tick();
    // hv-a's move failed: its agent still lists web-1.
    advance(5000);
    report("hv-a", ["web-1"]);
    await m.tick();
    expect(notes.at(-1)).toMatchObject({ host: "hv-a", code: "POWER_HOLDS_VMS" });
    expect(notes.at(-1)!.message).toContain("web-1");
    // hv-b's agent does not report within stale_after of the moves' end.
    advance(31_000);
    await m.tick();
    expect(notes.at(-1)).toMatchObject({ host: "hv-b", code: "POWER_UNSETTLED" });
    expect(m.pendingOff()).toEqual([]);
    expect(drivers.get("hv-a")!.calls.filter((c) => c.startsWith("off"))).toEqual([]);
    expect(drivers.get("hv-b")!.calls.filter((c) => c.startsWith("off"))).toEqual([]);
    expect(m.power("hv-a")!.state).toBe("on");
    expect(m.power("hv-b")!.state).toBe("on");
  });

  it("forgets a power-off after moves when it loses the leadership, so a later leadership never runs it", async () => {
    let leading = true;
    const { m, drivers, report, advance, outgoing } = setup({ leading: () => leading });
    report("hv-a", ["web-1"]);
    await m.tick();
    outgoing.set("hv-a", ["web-1"]);
    await m.execute([{ ...action("hv-a", "off", "POWER_OFF_EMPTIED"), afterMoves: [0] }], "cycle p5");
    expect(m.pendingOff()).toEqual(["hv-a"]);
    leading = false;
    await m.tick();
    expect(m.pendingOff()).toEqual([]);
    leading = true;
    outgoing.clear();
    advance(5000);
    report("hv-a");
    await m.tick();
    advance(5000);
    report("hv-a");
    await m.tick();
    expect(drivers.get("hv-a")!.calls.filter((c) => c.startsWith("off"))).toEqual([]);
  });

  it("a host switched on is booting until its agent reports, then on; cycles are counted", async () => {
    const { m, drivers, report, advance, notes } = setup();
    drivers.get("hv-a")!.reading = "off";
    await m.tick();
    const [o] = await m.execute([action("hv-a", "on")], "cycle p2");
    expect(o!.result).toBe("done");
    const p = m.power("hv-a")!;
    expect(p).toMatchObject({ state: "booting", cyclesToday: 1 });
    expect(p.bootDeadline).toBe(T0 + 900_000);
    advance(60_000);
    m.observe();
    expect(m.power("hv-a")!.state).toBe("booting");
    report("hv-a");
    advance(1);
    m.observe();
    expect(m.power("hv-a")).toMatchObject({ state: "on", bootDeadline: null, failed: null, cyclesToday: 1 });
    // Empty, it counts power_off_after from the boot, not from before it was switched off.
    expect(m.power("hv-a")!.emptySince).toBe(m.power("hv-a")!.since);
    expect(m.power("hv-a")!.since).toBeGreaterThan(T0 + 60_000);
    expect(notes.at(-1)).toMatchObject({ code: "POWER_ON_DEMAND" });
    // A day later the power-on no longer counts.
    advance(24 * 3600 * 1000);
    m.observe();
    expect(m.power("hv-a")!.cyclesToday).toBe(0);
  });

  it("an on host that reads off without a power-off from Ballast (a power loss) is failed: the automation does not switch it on", async () => {
    const { m, drivers, advance, notes } = setup();
    await m.tick();
    expect(m.power("hv-a")!.state).toBe("on");
    drivers.get("hv-a")!.reading = "off";
    advance(60_000);
    await m.tick();
    expect(m.power("hv-a")).toMatchObject({ state: "off" });
    expect(m.power("hv-a")!.failed).toContain("without a power-off from Ballast");
    expect(notes.at(-1)).toMatchObject({ host: "hv-a", code: "POWER_HOST_FAILED" });
    const [again] = await m.execute([action("hv-a", "on")], "cycle p3");
    expect(again).toMatchObject({ result: "skipped" });
    expect(drivers.get("hv-a")!.calls.filter((c) => c !== "status")).toEqual([]);
  });

  it("a boot past power_on_deadline is failed (POWER_BOOT_OVERDUE), and the automation does not switch it on again", async () => {
    const { m, drivers, advance, notes } = setup();
    drivers.get("hv-a")!.reading = "off";
    await m.tick();
    await m.execute([action("hv-a", "on")], "cycle p2");
    advance(900_001);
    m.observe();
    const p = m.power("hv-a")!;
    expect(p.failed).toBe("did not report within 900 s of the power-on");
    expect(p.state).toBe("unknown");
    expect(notes.at(-1)).toMatchObject({ host: "hv-a", code: "POWER_BOOT_OVERDUE" });
    drivers.get("hv-a")!.reading = "off";
    await m.tick();
    expect(m.power("hv-a")!.state).toBe("off");
    const [again] = await m.execute([action("hv-a", "on")], "cycle p3");
    expect(again).toMatchObject({ result: "skipped" });
    expect(again!.detail).toContain("an operator must switch it on");
    // An operator's power-on clears the failure.
    const op = await m.switchOn("hv-a", "operator");
    expect(op.result).toBe("done");
    expect(m.power("hv-a")!.failed).toBeNull();
  });

  it("a driver that fails leaves the state, records the failure and the answer", async () => {
    const { m, drivers } = setup();
    drivers.get("hv-a")!.reading = "off";
    await m.tick();
    drivers.get("hv-a")!.fail.on.push("BMC 127.0.0.1:6230 timed out after 20 s");
    const [o] = await m.execute([action("hv-a", "on")], "cycle p4");
    expect(o).toMatchObject({ result: "failed" });
    expect(o!.detail).toContain("timed out");
    expect(m.power("hv-a")).toMatchObject({ state: "off", cyclesToday: 0 });
    expect(m.power("hv-a")!.failed).toContain("power on failed");
    expect(m.lastAnswer("hv-a")).toMatchObject({ operation: "on", ok: false, by: "cycle p4" });
  });

  it("a status read that fails makes an off host unknown; an on host stays on, with the failure recorded", async () => {
    const { m, drivers, advance } = setup({ hosts: ["hv-a", "hv-b"] });
    drivers.get("hv-b")!.reading = "off";
    await m.tick();
    expect(m.power("hv-a")!.state).toBe("on");
    expect(m.power("hv-b")!.state).toBe("off");
    drivers.get("hv-a")!.fail.status.push("no answer from the BMC");
    drivers.get("hv-b")!.fail.status.push("no answer from the BMC");
    advance(60_000);
    await m.tick();
    expect(m.power("hv-b")!.state).toBe("unknown");
    expect(m.power("hv-a")!.state).toBe("on");
    expect(m.lastAnswer("hv-a")).toMatchObject({ operation: "status", ok: false, detail: expect.stringContaining("no answer from the BMC") });
  });

  it("a power-off that never reads off is failed after the shutdown timeout", async () => {
    const { m, drivers, report, advance } = setup();
    report("hv-a");
    await m.tick();
    drivers.get("hv-a")!.offAfterReads = 1000;
    await m.execute([action("hv-a", "off")], "cycle");
    advance(600_001);
    await m.tick();
    expect(m.power("hv-a")!.failed).toBe("did not read off within 600 s of the power-off");
  });

  it("honours max_power_ops at execution", async () => {
    const { m, drivers, report, advance } = setup({ hosts: ["hv-a", "hv-b", "hv-c"] });
    for (const h of ["hv-a", "hv-b", "hv-c"]) drivers.get(h)!.reading = "off";
    await m.tick();
    const out = await m.execute([action("hv-a", "on"), action("hv-b", "on")], "cycle");
    expect(out.map((o) => o.result)).toEqual(["done", "skipped"]);
    expect(out[1]!.detail).toContain("max_power_ops = 1");
    expect(drivers.get("hv-b")!.calls).toEqual(["status"]);
    // Once hv-a has booted, the next may go.
    advance(30_000);
    report("hv-a");
    m.observe();
    expect(m.power("hv-a")).toMatchObject({ state: "on", failed: null });
    expect(m.inTransition()).toEqual([]);
    expect((await m.execute([action("hv-b", "on")], "cycle"))[0]!.result).toBe("done");
  });

  it("keeps emptySince from the newest inventory and the capacity of off hosts", async () => {
    const { m, report, advance, incoming } = setup();
    report("hv-a", ["v1"]);
    m.observe();
    expect(m.power("hv-a")!.emptySince).toBeNull();
    advance(1000);
    report("hv-a");
    m.observe();
    expect(m.power("hv-a")!.emptySince).toBe(T0 + 1000);
    incoming.set("hv-a", ["v2"]);
    m.observe();
    expect(m.power("hv-a")!.emptySince).toBeNull();
    expect(m.record("hv-a")).toMatchObject({ cpus: 16, memTotalMiB: 65_536 });
  });

  it("continues from records a previous leader wrote", async () => {
    const a = setup();
    a.drivers.get("hv-a")!.reading = "off";
    await a.m.tick();
    await a.m.execute([action("hv-a", "on")], "cycle");
    const b = setup();
    b.m.restore(a.m.persisted());
    expect(b.m.power("hv-a")).toMatchObject({ state: "booting", cyclesToday: 1, bootDeadline: T0 + 900_000 });
    expect(a.stored.some((r) => r.host === "hv-a" && r.state === "booting")).toBe(true);
  });

  it("refuses a host without a driver", async () => {
    const { m } = setup();
    const [o] = await m.execute([action("hv-x", "on")], "cycle");
    expect(o).toMatchObject({ result: "refused", detail: "hv-x has no power driver (not in the power inventory)" });
  });
});
