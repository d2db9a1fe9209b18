import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import { sharedDataDir } from "../../shared/repo-root.js";

// `ballast sim` end to end: options parsed, the simulator run, what it prints. Small hand-made
// traces where the point is the option; the shipped data where the point is a real case.

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, { out: (s) => (out += s + "\n"), err: (s) => (err += s + "\n") });
  return { code, out, err };
}

const data = sharedDataDir();
const gcd = join(data, "google-gcd-vm-cpu-mem", "GCD_VMs");
const day = join(data, "planetlab", "20110303");
// The shipped traces live beside the repository (../shared/data, or BALLAST_SIM_DATA): without
// them the two tests that read them are skipped with a warning, except in CI, where they fail.
const haveData = existsSync(gcd) && existsSync(day);
if (!haveData) console.warn(`[cli-sim] SKIPPING the runs on the shipped traces: none at ${data} (set BALLAST_SIM_DATA)`);
const onData = it.skipIf(!haveData && !process.env.CI);
const needData = (): void => expect(haveData, `traces expected at ${data} (set BALLAST_SIM_DATA)`).toBe(true);

function folder(files: Record<string, string[]>): string {
  const dir = mkdtempSync(join(tmpdir(), "ballast-simcli-"));
  for (const [name, rows] of Object.entries(files)) writeFileSync(join(dir, name), rows.join("\n") + "\n");
  return dir;
}
const rows = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const small = ["--hosts", "4", "--vm-types", "500:600"];

describe("ballast sim", () => {
  it("runs several --dir as one continuous simulation of samples × sample interval", async () => {
    const d1 = folder({ a: rows(12, () => "30"), b: rows(12, () => "20") });
    const d2 = folder({ a: rows(12, () => "40"), b: rows(12, () => "10") });
    const r = await run(["sim", "--dir", d1, "--dir", d2, "--policy", "thr-mmt-0.8", ...small, "--json"]);
    expect(r.err).toBe("");
    const m = JSON.parse(r.out).runs[0].metrics;
    expect(m.durationS).toBe(24 * 300);
    expect(m.steps).toBe(23);
    expect(JSON.parse(r.out).runs[0].workload).toMatch(/\+/);
  });

  it("keeps --step apart from --sample-interval, and refuses a step that does not fit the samples", async () => {
    const d = folder({ a: rows(12, () => "30"), b: rows(12, () => "20") });
    const r = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small, "--step", "600", "--json"]);
    const m = JSON.parse(r.out).runs[0].metrics;
    expect([m.stepS, m.sampleIntervalS, m.durationS, m.steps]).toEqual([600, 300, 3600, 5]);
    const s = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small, "--sample-interval", "60", "--json"]);
    expect(JSON.parse(s.out).runs[0].metrics.durationS).toBe(720);
    const bad = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small, "--step", "700"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/step 700 s and sample interval 300 s/);
  });

  it("names the file and its count when trace lengths differ", async () => {
    const d = folder({ a: rows(12, () => "30"), b: rows(11, () => "20") });
    const r = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/a has 12, b has 11/);
  });

  it("says whether CloudSim's finished-VM rule was on: on for planetlab, off for cpu-mem, either by option", async () => {
    const pl = folder({ a: rows(12, () => "30"), idle: rows(12, (i) => (i < 3 ? "20" : "0")) });
    const on = await run(["sim", "--dir", pl, "--policy", "thr-mmt-0.8", ...small]);
    expect(on.out).toMatch(/2 VMs placed; 1 removed for good when their CPU demand reached exactly 0/);
    const off = await run(["sim", "--dir", pl, "--policy", "thr-mmt-0.8", ...small, "--no-remove-idle", "--json"]);
    expect(JSON.parse(off.out).runs[0].metrics).toMatchObject({ removeIdleVms: false, vmsRemoved: 0 });
    const cm = folder({ a: rows(12, () => "30 40"), idle: rows(12, (i) => (i < 3 ? "20 30" : "0 30")) });
    const cmOff = await run(["sim", "--dir", cm, "--format", "cpu-mem", "--policy", "thr-mmt-0.8+mem", ...small]);
    expect(cmOff.out).toMatch(/VMs at 0 % CPU kept/);
    const cmOn = await run(["sim", "--dir", cm, "--format", "cpu-mem", "--policy", "thr-mmt-0.8+mem", ...small, "--remove-idle", "--json"]);
    expect(JSON.parse(cmOn.out).runs[0].metrics.vmsRemoved).toBe(1);
  });

  onData("GCD on 400 hosts: 600 of 1600 VMs fit nowhere at t = 0 — an error, or counted apart with --allow-unplaced", async () => {
    needData();
    const args = ["sim", "--dir", gcd, "--format", "cpu-mem", "--policy", "thr-mmt-0.8+mem", "--hosts", "400"];
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/600 of 1600 VMs fit on no host at t = 0/);
    const a = await run([...args, "--allow-unplaced"]);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/1000 of 1600 VMs placed \(600 fit on no host at t = 0 and were not simulated\); VMs at 0 % CPU kept/);
  });

  onData("PlanetLab prints no memory metrics", async () => {
    needData();
    const r = await run(["sim", "--dir", day, "--policy", "lr-mmt-1.2", "--json"]);
    const m = JSON.parse(r.out).runs[0].metrics;
    expect(m.memorySimulated).toBe(false);
    expect(m).not.toHaveProperty("memOverCapacityShare");
  });

  it("report --baseline: per-run ratios and goal counts", async () => {
    const out = mkdtempSync(join(tmpdir(), "ballast-simrep-"));
    const files: string[] = [];
    for (const [day, level] of [
      ["d1", "30"],
      ["d2", "60"],
    ] as const) {
      const d = folder({ a: rows(12, (i) => (i % 2 ? level : "10")), b: rows(12, () => "20"), c: rows(12, (i) => String(10 + i)) });
      for (const p of ["thr-mmt-0.8", "lr-mmt-1.2"]) {
        const r = await run(["sim", "--dir", d, "--policy", p, ...small, "--json"]);
        const f = join(out, `${day}-${p}.json`);
        writeFileSync(f, r.out.replace(/"workload": "[^"]*"/, `"workload": "${day}"`));
        files.push(f);
      }
    }
    const r = await run(["sim", "report", ...files, "--out", out, "--baseline", "lr-mmt-1.2"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Ratios to LR-MMT-1.2 \(pre-fix\)/);
    expect(r.out).toMatch(/\| d1 \| THR-MMT-0.8 \(pre-fix\) \| \d\.\d{3} \|/);
    expect(r.out).toMatch(/\| THR-MMT-0.8 \(pre-fix\) \| 2 \| \d\/2 \| \d\/2 \| \d\/2 \| \d\/2 \|/);
    const bad = await run(["sim", "report", ...files, "--out", out, "--baseline", "nope"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/no policy named nope/);
  });

  it("--boot-model boot: hosts take --boot-time to come on; the output and the report show power cycles and switching energy", async () => {
    // VMs whose load comes and goes: THR-MMT empties a host and needs it again.
    const d = folder({
      a: rows(24, (i) => (i % 6 < 3 ? "90" : "10")),
      b: rows(24, () => "20"),
      c: rows(24, (i) => (i % 4 < 2 ? "70" : "15")),
      d: rows(24, (i) => (i % 8 < 4 ? "80" : "5")),
    });
    const small = ["--hosts", "4", "--vm-types", "2000:600"];
    const instant = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small, "--json"]);
    const boot = await run([
      "sim",
      "--dir",
      d,
      "--policy",
      "thr-mmt-0.8",
      ...small,
      "--boot-model",
      "boot",
      "--boot-time",
      "120",
      "--shutdown-time",
      "20",
      "--json",
    ]);
    expect(boot.err).toBe("");
    const mi = JSON.parse(instant.out).runs[0].metrics;
    const mb = JSON.parse(boot.out).runs[0].metrics;
    expect(mi.power).toMatchObject({ model: "instant", bootTimeS: 0, switchingEnergyKWh: 0 });
    expect(mb.power).toMatchObject({ model: "boot", bootTimeS: 120, shutdownTimeS: 20 });
    expect(mb.power).toMatchObject({ powerOns: 1, waitedMigrations: 1 });
    expect(mi.power.powerOns).toBe(1);
    expect(mb.power.switchingEnergyKWh).toBeGreaterThan(0);
    // Idle hosts draw idle power until switched off and while switching: never less than instant.
    expect(mb.energyKWh).toBeGreaterThan(mi.energyKWh);
    const text = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small, "--boot-model", "boot"]);
    expect(text.out).toMatch(
      /power: boot model \(300 s boot, 30 s shutdown, [\d.]+ kWh of it drawn switching\); \d+ power-ons, \d+ power-offs; power cycles per host and day: median [\d.]+ \(over the \d+ hosts cycled: [\d.]+\), max \d+/,
    );
    const out = mkdtempSync(join(tmpdir(), "ballast-simpower-"));
    writeFileSync(join(out, "i.json"), instant.out);
    writeFileSync(join(out, "b.json"), boot.out);
    const rep = await run(["sim", "report", join(out, "i.json"), join(out, "b.json"), "--out", out]);
    expect(rep.out).toMatch(/\| power model \|/);
    expect(rep.out).toMatch(/\| THR-MMT-0.8 \(pre-fix\) \| boot 120 s \/ shutdown 20 s \| [\d.]+ \| [\d.]+ \| \d+ \|/);
    const bad = await run(["sim", "--dir", d, "--policy", "thr-mmt-0.8", ...small, "--boot-model", "boot", "--boot-time", "-1"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--boot-time/);
    rmSync(d, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it("sweep: every policy under every sizing, one table", async () => {
    const d = folder(Object.fromEntries(rows(8, (i) => `vm${i}`).map((n, i) => [n, rows(12, (k) => `${10 + ((i * 7 + k) % 50)} ${10 + i * 5}`)])));
    const r = await run([
      "sim",
      "sweep",
      "--dir",
      d,
      "--format",
      "cpu-mem",
      "--hosts",
      "8",
      "--policies",
      "thr-mmt-0.8+mem,thr-mmt-0.8",
      "--baseline",
      "thr-mmt-0.8+mem",
    ]);
    expect(r.code).toBe(0);
    for (const s of ["file-order", "own-trace", "fewest-hosts", "own-trace-fewest-hosts"])
      expect(r.out).toMatch(new RegExp(`\\| ${s} \\| \\d+ \\|.*THR-MMT-0.8 \\(pre-fix\\)`));
    expect(r.out).toMatch(/\| fewest-hosts \| [1-7] \|/);
    expect(r.out).toMatch(/Runs on which each goal holds/);
  });
});
