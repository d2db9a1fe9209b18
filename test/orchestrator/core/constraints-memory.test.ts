import { describe, expect, it } from "vitest";
import { checkDestination, type DestOptions } from "../../../orchestrator/core/constraints.js";
import { createContext } from "../../../orchestrator/core/context.js";
import type { PolicyInput } from "../../../shared/config/policy.js";
import type { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import { host, NOW, policy, snapshot, vm } from "./builders.js";

// Memory as a hard limit on destinations: a VM leaving a host holds its memory there until its move
// ends, and room is kept for VMs to grow back to their recent peaks (SnapshotVm.memPeakMiB).

const GIB = 1024;
const OPTS: DestOptions = { cpuLimit: 100, memLimit: 85, allowEmpty: true, caps: false };

function context(s: ClusterSnapshot, p: PolicyInput = {}) {
  return createContext(s, policy(p), NOW, "cycle", {});
}

describe("memory of VMs leaving a destination", () => {
  // "a": 64 GiB at 80 % (51.2 GiB), holding "x" (16 GiB). "y" (8 GiB) waits on "c".
  const s = () =>
    snapshot([host("a", { mem: 80 }), host("b", { mem: 10 }), host("c", { mem: 30 })], [vm("x", "a", { mem: 16 * GIB }), vm("y", "c", { mem: 8 * GIB })]);

  it("counts until the move ends: a VM may not take the room another one is still leaving", () => {
    const ctx = context(s());
    const { model } = ctx;
    const a = model.hostById.get("a")!;
    const y = model.vmByName.get("y")!;
    expect(checkDestination(ctx, y, a, OPTS)).toMatchObject({ ok: false });
    const token = model.applyMove(model.vmByName.get("x")!, model.hostById.get("b")!);
    expect(a.memLeavingMiB).toBe(16 * GIB);
    // Once x has left, a would be at 55 % + 12.5 %; while it leaves, at 80 % + 12.5 % = 92.5 % > 85 %.
    const v = checkDestination(ctx, y, a, OPTS);
    expect(v).toMatchObject({ ok: false, rejection: { code: "DEST_MEM", numbers: { leavingMemMiB: 16 * GIB, projectedMemPercent: 92.5 } } });
    expect(v.ok ? "" : v.rejection.message).toMatch(/incl\. 16384\.0 MiB of VMs still leaving it/);
    model.undo(token);
    expect(a.memLeavingMiB).toBe(0);
  });

  it("changes nothing on a destination no VM is leaving", () => {
    const ctx = context(s());
    const { model } = ctx;
    model.applyMove(model.vmByName.get("x")!, model.hostById.get("b")!);
    // b: 10 % + 25 % (x arriving) + 12.5 % = 47.5 %: fits.
    expect(checkDestination(ctx, model.vmByName.get("y")!, model.hostById.get("b")!, OPTS)).toMatchObject({ ok: true, memAfter: 47.5 });
  });
});

describe("memory growth back to recent peaks", () => {
  // "b": 64 GiB at 75 % (48 GiB); the hard limit is 64 GiB − 1 GiB reserve = 63 GiB.
  const loose = { ...OPTS, memLimit: 95 };
  const on = (vms: ReturnType<typeof vm>[]) => snapshot([host("a", { mem: 30 }), host("b", { mem: 75 })], vms);

  it("refuses a VM whose growth back to its peak would pass physical memory less the reserve", () => {
    const y = { ...vm("y", "a", { mem: 4 * GIB }), memPeakMiB: 16 * GIB };
    const ctx = context(on([y]));
    const v = checkDestination(ctx, ctx.model.vmByName.get("y")!, ctx.model.hostById.get("b")!, loose);
    // 48 + 4 = 52 GiB now (81 % < 95 %), but 48 + 4 + 12 = 64 GiB > 63 GiB at its peak.
    expect(v).toMatchObject({ ok: false, rejection: { code: "DEST_MEM", numbers: { growthMiB: 12 * GIB, limitMiB: 63 * GIB } } });
    expect(v.ok ? "" : v.rejection.message).toMatch(/of growth back to recent peaks/);
  });

  it("takes the same VM when its peak is its current use", () => {
    const ctx = context(on([vm("y", "a", { mem: 4 * GIB })]));
    expect(checkDestination(ctx, ctx.model.vmByName.get("y")!, ctx.model.hostById.get("b")!, loose)).toMatchObject({ ok: true });
  });

  it("counts the growth of the VMs already on the destination, and follows moves in the working copy", () => {
    const z = { ...vm("z", "b", { mem: 2 * GIB }), memPeakMiB: 10 * GIB };
    const ctx = context(on([vm("y", "a", { mem: 4 * GIB }), z]));
    const { model } = ctx;
    const b = model.hostById.get("b")!;
    expect(b.memGrowthMiB).toBe(8 * GIB);
    // 48 + 4 + 8 (z back to its peak) = 60 GiB fits; with z's growth moved elsewhere, still fits.
    expect(checkDestination(ctx, model.vmByName.get("y")!, b, loose)).toMatchObject({ ok: true });
    const t = model.applyMove(model.vmByName.get("z")!, model.hostById.get("a")!);
    expect(b.memGrowthMiB).toBe(0);
    expect(model.hostById.get("a")!.memGrowthMiB).toBe(8 * GIB);
    model.undo(t);
    expect(b.memGrowthMiB).toBe(8 * GIB);
    // A larger VM: 48 + 6 + 8 = 62 GiB fits at 63; 48 + 7.5 + 8 = 63.5 GiB does not.
    const ctx2 = context(on([vm("y", "a", { mem: 7.5 * GIB }), z]));
    expect(checkDestination(ctx2, ctx2.model.vmByName.get("y")!, ctx2.model.hostById.get("b")!, loose)).toMatchObject({
      ok: false,
      rejection: { code: "DEST_MEM", numbers: { growthMiB: 8 * GIB } },
    });
  });
});
