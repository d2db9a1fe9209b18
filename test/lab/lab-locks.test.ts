// libvirt's lock manager on the lab (issue 18, the second guard): every hv runs its own virtlockd
// with the lockspace on the shared directory, so a disk in use on one hv cannot be started on
// another, a power loss frees its lease, and live migration still works. Skips LOUDLY when the lab
// cannot run here; in CI that is a failure.
//
// All lab hvs share one kernel, so QEMU's own image locks would refuse a second writer before
// libvirt even asks virtlockd (libvirt takes leases only when it resumes the CPUs). The guests that
// must show virtlockd at work run QEMU with its image locks off (qemuLocksOff): only the leases
// guard them, as on hosts whose QEMU locks the others cannot see.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labAvailable, labDown, labUpOrDown, type Lab } from "../support/lab.js";

const LAB = { name: "locks", locks: true };
const lab0 = labAvailable(LAB);
const avail = lab0.ok && !existsOnPath("virtlockd") ? { ok: false, why: "virtlockd not found (deploy/setup.sh --test installs libvirt-daemon)" } : lab0;
if (!avail.ok) console.warn(`\n*** lab lock manager tests SKIPPED: ${avail.why} ***\n`);

describe.runIf(!avail.ok && process.env.CI === "true")("lab lock manager, in CI", () => {
  it("has a lab with virtlockd to run on", () => {
    expect.fail(`the lab lock manager tests cannot run in CI: ${avail.why}`);
  });
});

function existsOnPath(cmd: string): boolean {
  const dirs = (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  return dirs.some((d) => {
    try {
      return d !== "" && statSync(join(d, cmd)).isFile();
    } catch {
      return false;
    }
  });
}

/** PIDs holding a POSIX (fcntl) lock on the file, from /proc/locks: virtlockd's lease locks. */
function fcntlLockHolders(file: string): number[] {
  const ino = statSync(file).ino;
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === "POSIX" && f[5]?.split(":")[2] === String(ino))
    .map((f) => Number(f[4]));
}

/** virsh's error text when the command fails, or null when it succeeds. */
async function virshError(lab: Lab, hv: string, args: string[]): Promise<string | null> {
  try {
    await lab.virsh(hv, args, 60_000);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// libvirt's words when virtlockd refuses a lease (lock_driver_lockd.c via virtlockd).
const LEASE_BUSY = /resource busy: Lockspace resource '([0-9a-f]{64})' is locked/;

describe.runIf(avail.ok)("libvirt lock manager on the lab (virtlockd per hv, shared lockspace)", () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await labUpOrDown(LAB);
  }, 180_000);

  afterAll(async () => {
    await labDown(LAB);
  }, 120_000);

  it("runs one virtlockd per hv, its lockspace on the shared directory", async () => {
    expect(lab.locks).toBe(true);
    expect(lab.lockspaceDir).toBe(join(lab.sharedDir, "lockspace"));
    const pids = await Promise.all(lab.hosts.map((h) => lab.virtlockdPid(h.id)));
    expect(pids.every((p) => p !== null && p > 0)).toBe(true);
    expect(new Set(pids).size).toBe(3);
    const status = await lab.statusJson();
    expect(status.locks).toBe(true);
    expect(status.hosts.map((h) => h.virtlockd_pid)).toEqual(pids);
  });

  it("refuses a second start of a disk in use on another hv, frees the lease on power loss, and refuses the returning hv's old copy", async () => {
    const disk = join(lab.sharedDir, "lk-g1.qcow2");
    await lab.startGuest("hv-a", "lk-g1", { sharedDiskMiB: 16, qemuLocksOff: true });
    await lab.waitForTicks("lk-g1", 2, { after: 0, timeoutMs: 60_000 });

    // The lease: one file per disk path in the shared lockspace, locked by hv-a's virtlockd.
    const lease = lab.leaseFile(disk);
    const lockdA = (await lab.virtlockdPid("hv-a"))!;
    expect(fcntlLockHolders(lease)).toEqual([lockdA]);

    // The same VM defined and started on hv-b (what a wrong recovery would do): refused by the lock manager.
    await lab.virsh("hv-b", ["define", join(lab.dir, "guests", "lk-g1.xml")]);
    const err = await virshError(lab, "hv-b", ["start", "lk-g1"]);
    expect(err).toMatch(LEASE_BUSY);
    expect(LEASE_BUSY.exec(err!)![1]).toBe(lease.split("/").at(-1));
    expect(await lab.whereIsAsync("lk-g1")).toEqual(["hv-a"]);
    const before = lab.ticks("lk-g1").at(-1)!;
    await lab.waitForTicks("lk-g1", 2, { after: before });
    expect(lab.boots("lk-g1")).toBe(1);

    // A second VM on the same disk (another name) is refused just the same: the lease is the disk's.
    await lab.defineGuest("hv-c", "lk-other", { sharedDiskFile: "lk-g1.qcow2", qemuLocksOff: true });
    expect(await virshError(lab, "hv-c", ["start", "lk-other"])).toMatch(LEASE_BUSY);

    // Power loss of hv-a: its QEMU and virtlockd die, the lease is free, hv-b starts the VM.
    await lab.killHypervisor("hv-a");
    await waitFor("the lease to be released", () => fcntlLockHolders(lease).length === 0, 10_000);
    expect(await virshError(lab, "hv-b", ["start", "lk-g1"])).toBeNull();
    await waitFor("lk-g1 to boot on hv-b", () => lab.boots("lk-g1") === 2, 60_000);
    await lab.waitForTicks("lk-g1", 2, { timeoutMs: 60_000 });
    const lockdB = (await lab.virtlockdPid("hv-b"))!;
    expect(fcntlLockHolders(lease)).toEqual([lockdB]);

    // hv-a comes back with its old copy defined (shut off): starting it there is refused.
    await lab.startLibvirtd("hv-a");
    expect(await lab.virtlockdPid("hv-a")).not.toBeNull();
    expect(await lab.virsh("hv-a", ["domstate", "lk-g1"])).toMatch(/shut off/);
    expect(await virshError(lab, "hv-a", ["start", "lk-g1"])).toMatch(LEASE_BUSY);
    expect(await lab.whereIsAsync("lk-g1")).toEqual(["hv-b"]);
    expect(lab.boots("lk-g1")).toBe(2);
  }, 300_000);

  it("with QEMU's own image locks on (the lab's default guests), a second copy is refused too", async () => {
    await lab.startGuest("hv-c", "lk-q1", { sharedDiskMiB: 16 });
    await lab.waitForTicks("lk-q1", 1, { after: 0, timeoutMs: 60_000 });
    await lab.defineGuest("hv-b", "lk-q2", { sharedDiskFile: "lk-q1.qcow2" });
    // On one kernel QEMU's image lock answers first; virtlockd would refuse at resume otherwise.
    expect(await virshError(lab, "hv-b", ["start", "lk-q2"])).toMatch(/Failed to get "write" lock|resource busy: Lockspace resource/);
    expect(await lab.whereIsAsync("lk-q2")).toEqual([]);
    expect(await lab.whereIsAsync("lk-q1")).toEqual(["hv-c"]);
  }, 180_000);

  it("live-migrates a guest on a shared disk with locks on (the lease moves with it)", async () => {
    const disk = join(lab.sharedDir, "lk-m1.qcow2");
    await lab.startGuest("hv-a", "lk-m1", { sharedDiskMiB: 16, burn: true });
    await lab.waitForTicks("lk-m1", 2, { after: 0, timeoutMs: 60_000 });
    const lease = lab.leaseFile(disk);
    expect(fcntlLockHolders(lease)).toEqual([(await lab.virtlockdPid("hv-a"))!]);

    // libvirt cannot tell that the lab's shared directory is shared storage (it is a local file
    // system, not NFS), so it calls the migration unsafe; --unsafe is for that, not for the locks.
    const refused = await lab.migrate("lk-m1", "hv-b").then(
      () => null,
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/Migration without shared storage is unsafe/);

    const before = lab.ticks("lk-m1").at(-1)!;
    await lab.migrate("lk-m1", "hv-b", ["--unsafe"]);
    expect(await lab.whereIsAsync("lk-m1")).toEqual(["hv-b"]);
    await lab.waitForTicks("lk-m1", 2, { after: before, timeoutMs: 30_000 });
    expect(lab.boots("lk-m1")).toBe(1);
    expect(fcntlLockHolders(lease)).toEqual([(await lab.virtlockdPid("hv-b"))!]);
  }, 240_000);
});
