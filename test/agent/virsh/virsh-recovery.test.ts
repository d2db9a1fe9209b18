import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../../../agent/ports/clock.js";
import { VirshHypervisor } from "../../../agent/virsh/virsh-hypervisor.js";
import { createVirshRunner, type VirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { HypervisorError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";

// The virsh driver's host-failure calls against real virsh: a probe of a libvirt that does not
// listen (nothing serves libvirt's TCP port on this loopback) fails with libvirt's own words and
// connects with the migration URI; start-recorded refuses a domain already defined, and a start
// libvirt refuses is an error.

const NODE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "test-driver-node.xml");
const runner = createVirshRunner({ binary: "virsh", uri: `test://${NODE}`, timeoutMs: 10_000 });
const migration = MigrationSettings.parse({ uri_scheme: "qemu+tcp", uri_path: "/system" });
const hv = new VirshHypervisor({ runner, migration, clock: systemClock, logger: silentLogger() });
afterAll(() => runner.close());

describe("VirshHypervisor host-failure calls (real virsh)", () => {
  it("probes a peer with the migration URI: refused is ok false, with libvirt's error", async () => {
    const r = await hv.probeHost("127.0.0.1", 5000);
    expect(r.ok).toBe(false);
    expect(r.timedOut).toBe(false);
    expect(r.detail).toMatch(/^qemu\+tcp:\/\/127\.0\.0\.1\/system: .*(connect|refused)/i);
  });

  it("runs `virsh -c <peer uri> version` under the probe's time limit", async () => {
    const calls: { args: readonly string[]; uri?: string; timeoutMs?: number }[] = [];
    const fake: VirshRunner = {
      commandLine: (args) => ["virsh", ...args],
      run: (args, o = {}) => {
        calls.push({ args, ...(o.uri !== undefined ? { uri: o.uri } : {}), ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) });
        return Promise.resolve({ stdout: "Compiled against library: libvirt 9.0.0\nRunning hypervisor: QEMU 7.2.0\n", stderr: "" });
      },
    };
    const r = await new VirshHypervisor({ runner: fake, migration, clock: systemClock, logger: silentLogger() }).probeHost("fd00::2", 1500);
    expect(calls).toEqual([{ args: ["version"], uri: "qemu+tcp://[fd00::2]/system", timeoutMs: 1500 }]);
    expect(r).toEqual({ ok: true, timedOut: false, detail: "qemu+tcp://[fd00::2]/system: Running hypervisor: QEMU 7.2.0" });
  });

  it("refuses to define a domain whose name is already defined here, changing nothing", async () => {
    const r = await hv.startRecorded("sec1", "<domain type='test'><name>sec1</name></domain>");
    expect(r.started).toBe(false);
    expect(r.detail).toMatch(/already defined here \(running/);
  });

  it("a definition libvirt refuses is an error", async () => {
    const e = await hv.startRecorded("fresh", "<domain type='test'><name>fresh</name>").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HypervisorError);
  });
});
