// Real three-hypervisor lab: a TCG guest migrates live hv-a -> hv-b -> hv-a with its ticks
// (and uptime) going on. Skips LOUDLY when the lab cannot run on this machine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labAvailable, labDown, labUpOrDown, type Lab, type Tick } from "../support/lab.js";

const avail = labAvailable();
if (!avail.ok) {
  console.warn(`[lab.test] SKIPPING the real libvirt lab tests: ${avail.why}`);
}
const suite = avail.ok ? describe : describe.skip;
const title = avail.ok ? "libvirt lab (3 hypervisors)" : `libvirt lab: skipped because ${avail.why}`;

const GUEST = "lab-g1";
// An isolated lab instance (namespaces bl-labtest-*, .lab/runs/labtest) so a lab brought up by
// hand, or another test file, is not disturbed.
const LAB = { name: "labtest" };
const timings: Record<string, number> = {};

/** Asserts one boot, tick numbers 1..n without a gap or restart, uptime never going back. */
function expectContinuous(lines: Tick[]): void {
  expect(lines.length).toBeGreaterThan(0);
  expect(lines[0]!.n).toBe(1);
  for (let i = 1; i < lines.length; i++) {
    const prev = lines[i - 1]!;
    const cur = lines[i]!;
    if (cur.n !== prev.n + 1 || cur.uptime < prev.uptime) {
      throw new Error(`tick sequence broken at index ${i}: ${JSON.stringify(prev)} -> ${JSON.stringify(cur)}`);
    }
  }
}

suite(title, () => {
  let lab: Lab | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    lab = await labUpOrDown(LAB);
    timings.upMs = Date.now() - t0;
  }, 180_000);

  afterAll(async () => {
    const t0 = Date.now();
    await labDown(LAB);
    timings.downMs = Date.now() - t0;
    console.log(`[lab.test] timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it("has three hypervisors with distinct IPs and reachable daemons", async () => {
    expect(lab!.hosts.map((h) => `${h.id}=${h.ip}`)).toEqual(["hv-a=10.77.0.1", "hv-b=10.77.0.2", "hv-c=10.77.0.3"]);
    for (const h of lab!.hosts) {
      const out = await lab!.virsh(h.id, ["uri"]);
      expect(out).toContain("qemu+unix:///system");
    }
  });

  it("live-migrates a burning guest hv-a -> hv-b -> hv-a without restarting it", async () => {
    const l = lab!;
    let t0 = Date.now();
    await l.startGuest("hv-a", GUEST, { burn: true });
    await l.waitForTicks(GUEST, 3, { after: 0, timeoutMs: 60_000 });
    timings.bootToThirdTickMs = Date.now() - t0;
    expect(l.whereIs(GUEST)).toEqual(["hv-a"]);
    expect(l.tickLines(GUEST).at(-1)!.burn).toBe(true);

    // exactly the command Ballast's agent would issue, against hv-a's socket
    const before = l.ticks(GUEST).at(-1)!;
    t0 = Date.now();
    await l.virsh(
      "hv-a",
      ["migrate", "--live", "--p2p", "--persistent", "--undefinesource", "--migrateuri", "tcp://10.77.0.2", GUEST, "qemu+tcp://10.77.0.2/system"],
      120_000,
    );
    timings.migrateABMs = Date.now() - t0;
    expect(l.whereIs(GUEST)).toEqual(["hv-b"]);
    const job = await l.virsh("hv-b", ["domjobinfo", "--completed", GUEST]).catch((e: Error) => e.message);
    const pick = (k: string) =>
      job
        .match(new RegExp(`^${k}:\\s+(.+)$`, "m"))?.[1]
        ?.replace(/\s+/g, " ")
        .trim();
    console.log(`[lab.test] hv-a -> hv-b: elapsed ${pick("Time elapsed")}, downtime ${pick("Total downtime")}, data ${pick("Data processed")}`);
    expect((await l.virsh("hv-a", ["list", "--all", "--name"])).trim()).not.toContain(GUEST); // --undefinesource
    await l.waitForTicks(GUEST, 3, { after: before, timeoutMs: 30_000 });
    expectContinuous(l.tickLines(GUEST));
    expect(l.boots(GUEST)).toBe(1);

    // control channel follows the guest: switch the burner off on hv-b
    await l.setBurn(GUEST, false);
    const deadline = Date.now() + 15_000;
    while (l.tickLines(GUEST).at(-1)!.burn && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(l.tickLines(GUEST).at(-1)!.burn).toBe(false);

    const mid = l.ticks(GUEST).at(-1)!;
    timings.migrateBAMs = await l.migrate(GUEST, "hv-a");
    expect(l.whereIs(GUEST)).toEqual(["hv-a"]);
    await l.waitForTicks(GUEST, 3, { after: mid, timeoutMs: 30_000 });
    const lines = l.tickLines(GUEST);
    expectContinuous(lines);
    expect(l.boots(GUEST)).toBe(1);
    // uptime carried over: the last uptime is at least the number of ticks seen, roughly
    expect(lines.at(-1)!.uptime).toBeGreaterThan(lines.length - 1);
    console.log(`[lab.test] ${GUEST}: ${lines.length} ticks, uptime ${lines.at(-1)!.uptime}s, migrations ${timings.migrateABMs}/${timings.migrateBAMs} ms`);
  }, 180_000);

  it("a stopped libvirtd leaves its guest running and picks it up again on restart", async () => {
    const l = lab!;
    await l.startGuest("hv-c", "lab-g2");
    await l.waitForTicks("lab-g2", 1, { after: 0, timeoutMs: 60_000 });
    await l.stopLibvirtd("hv-c");
    expect(l.whereIs("lab-g2")).toEqual([]); // daemon unreachable
    const last = l.ticks("lab-g2").at(-1)!;
    await l.waitForTicks("lab-g2", 1, { after: last, timeoutMs: 15_000 }); // QEMU still ticking
    const t0 = Date.now();
    await l.startLibvirtd("hv-c");
    timings.restartLibvirtdMs = Date.now() - t0;
    expect(l.whereIs("lab-g2")).toEqual(["hv-c"]);
    expect(l.boots("lab-g2")).toBe(1);
  }, 120_000);
});
