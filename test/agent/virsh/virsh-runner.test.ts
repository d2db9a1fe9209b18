import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createVirshRunner, MAX_STDERR_BYTES, MAX_STDOUT_BYTES } from "../../../agent/virsh/virsh-runner.js";
import { FIXTURES } from "../support/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "ballast-runner-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("virsh runner", () => {
  it("passes -c URI and the arguments as argv (no shell), with LC_ALL=C", async () => {
    const run = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-echo.sh"), uri: "qemu:///system", timeoutMs: 5000 });
    const r = await run.run(["migrate", "--domain", "a b; rm -rf /tmp/x", "$(id)"]);
    expect(r.stdout.split("\n").slice(0, 6)).toEqual(["-c", "qemu:///system", "migrate", "--domain", "a b; rm -rf /tmp/x", "$(id)"]);
    expect(r.stdout).toContain("LC_ALL=C");
  });

  it("turns a failing virsh into a HypervisorError with libvirt's text", async () => {
    const run = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-echo.sh"), uri: "test:///default", timeoutMs: 5000 });
    await expect(run.run(["fail"])).rejects.toMatchObject({ name: "HypervisorError", code: "HYPERVISOR_ERROR", message: "failed to get domain 'nope'" });
  });

  it("reports a missing binary clearly", async () => {
    const run = createVirshRunner({ binary: join(dir, "no-such-virsh"), uri: "x", timeoutMs: 5000 });
    await expect(run.run(["list"])).rejects.toMatchObject({ code: "HYPERVISOR_ERROR", message: expect.stringMatching(/ENOENT|no-such-virsh/) });
  });

  it("kills a virsh that ignores SIGTERM with SIGKILL when the time limit passes", async () => {
    const pidfile = join(dir, "hang.pid");
    process.env.HANG_PIDFILE = pidfile;
    try {
      const run = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-hangs.sh"), uri: "qemu:///system", timeoutMs: 400 });
      const t0 = Date.now();
      await expect(run.run(["domstats", "--raw"])).rejects.toMatchObject({ name: "TimeoutError", code: "TIMEOUT" });
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(380);
      expect(took).toBeLessThan(5000);
      const pid = Number(readFileSync(pidfile, "utf8").trim());
      expect(pid).toBeGreaterThan(0);
      // The SIGTERM-ignoring process must be gone (SIGKILL), not left behind.
      for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 25));
      expect(alive(pid)).toBe(false);
    } finally {
      delete process.env.HANG_PIDFILE;
    }
  });

  it("kills the process when the caller aborts", async () => {
    const run = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-hangs.sh"), uri: "x", timeoutMs: 10_000 });
    const ac = new AbortController();
    const p = run.run(["migrate"], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(p).rejects.toMatchObject({ message: expect.stringMatching(/cancelled/) });
  });

  it("names its exact command line (for the migrate log line)", () => {
    const run = createVirshRunner({ binary: "/usr/bin/virsh", uri: "qemu:///system", timeoutMs: 1000 });
    expect(run.commandLine(["migrate", "--domain", "vm1"])).toEqual(["/usr/bin/virsh", "-c", "qemu:///system", "migrate", "--domain", "vm1"]);
  });

  it("a virsh killed by a signal it was not sent says which (the caller must ask libvirt how the job ended)", async () => {
    const pidfile = join(dir, "outside.pid");
    process.env.HANG_PIDFILE = pidfile;
    try {
      const run = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-hangs.sh"), uri: "x", timeoutMs: 10_000 });
      const p = run.run(["migrate"]);
      let pid = 0;
      for (let i = 0; i < 100 && !(pid = Number(readFileSync(pidfile, { encoding: "utf8", flag: "a+" }).trim())); i++)
        await new Promise((r) => setTimeout(r, 20));
      process.kill(pid, "SIGKILL");
      await expect(p).rejects.toMatchObject({ name: "HypervisorError", details: { command: "virsh migrate", exitCode: null, signal: "SIGKILL" } });
    } finally {
      delete process.env.HANG_PIDFILE;
    }
  });

  it("close() kills every virsh still running, and runs no more (agent stop: nothing outlives it)", async () => {
    const run = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-hangs.sh"), uri: "x", timeoutMs: 30_000 });
    const a = run.run(["domstats"]);
    const b = run.run(["migrate"]);
    await new Promise((r) => setTimeout(r, 150));
    const t0 = Date.now();
    run.close();
    const [ra, rb] = await Promise.allSettled([a, b]);
    expect([ra.status, rb.status]).toEqual(["rejected", "rejected"]);
    expect(Date.now() - t0).toBeLessThan(2000);
    await expect(run.run(["list"])).rejects.toThrow(/stopping/);
  });
});

describe("virsh runner output caps", () => {
  const flood = createVirshRunner({ binary: join(FIXTURES, "stand-in-virsh-floods.sh"), uri: "qemu:///system", timeoutMs: 20_000 });

  it("keeps stdout up to the cap whole", async () => {
    const r = await flood.run(["flood", String(MAX_STDOUT_BYTES), "0"]);
    expect(r.stdout.length).toBe(MAX_STDOUT_BYTES);
    expect(r.stdout.startsWith("xxx") && r.stdout.endsWith("xxx")).toBe(true);
  });

  it("fails with a HypervisorError rather than return stdout cut at the cap", async () => {
    await expect(flood.run(["flood", String(MAX_STDOUT_BYTES + 1), "0"])).rejects.toMatchObject({
      name: "HypervisorError",
      code: "HYPERVISOR_ERROR",
      message: "virsh flood printed more than 16 MiB on stdout and was stopped; output cut short is not parsed",
      details: { command: "virsh flood", maxStdoutBytes: MAX_STDOUT_BYTES },
    });
  });

  it("stops a command that keeps printing instead of reading it to the end", async () => {
    const t0 = Date.now();
    await expect(flood.run(["flood", String(1024 * 1024 * 1024), "0"])).rejects.toMatchObject({
      name: "HypervisorError",
      message: expect.stringMatching(/more than 16 MiB on stdout/),
    });
    // 1 GiB read to the end takes seconds; stopped at 16 MiB it takes a fraction of that.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("keeps the beginning and the end of a long stderr, with a marker where bytes were left out", async () => {
    const total = 1024 * 1024;
    const r = await flood.run(["flood", "3", String(total)]);
    expect(r.stdout).toBe("xxx");
    expect(r.stderr.startsWith("error: first line of stderr\nnnn")).toBe(true);
    expect(r.stderr.endsWith("nnn\nerror: last line of stderr\n")).toBe(true);
    expect(r.stderr).toContain(`\n[... ${total - MAX_STDERR_BYTES} bytes of stderr left out ...]\n`);
    expect(r.stderr.length).toBeLessThan(MAX_STDERR_BYTES + 100);
  });

  it("still finds libvirt's error lines in a long stderr of a failing command", async () => {
    await expect(flood.run(["flood", "0", String(1024 * 1024), "1"])).rejects.toMatchObject({
      name: "HypervisorError",
      message: "first line of stderr; last line of stderr",
      details: { command: "virsh flood", exitCode: 1 },
    });
  });

  it("keeps a stderr within the cap whole", async () => {
    const r = await flood.run(["flood", "0", String(MAX_STDERR_BYTES)]);
    expect(r.stderr.length).toBe(MAX_STDERR_BYTES);
    expect(r.stderr).not.toContain("left out");
  });
});
