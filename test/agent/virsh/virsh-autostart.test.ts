import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../../../agent/ports/clock.js";
import { VirshHypervisor } from "../../../agent/virsh/virsh-hypervisor.js";
import { createVirshRunner, type VirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { BallastError, HypervisorError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";

// The virsh driver's returning-host calls: the autostart list, autostart off, start and pause
// (suspend). Against real virsh with libvirt's test driver (a node file: every virsh process
// starts from the file again, so a change is not seen by the next call; what a sequence of calls
// does is checked with a recording runner, argument arrays only). Runs wherever virsh is installed;
// the lab's real libvirt is not needed.

const NODE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "test-driver-node.xml");
const runner = createVirshRunner({ binary: "virsh", uri: `test://${NODE}`, timeoutMs: 10_000 });
const migration = MigrationSettings.parse({});
const hv = new VirshHypervisor({ runner, migration, clock: systemClock, logger: silentLogger() });
afterAll(() => runner.close());

function recording(answers: Record<string, string>) {
  const calls: string[][] = [];
  const fake: VirshRunner = {
    commandLine: (args) => ["virsh", ...args],
    run: (args) => {
      calls.push([...args]);
      const out = answers[args[0]!];
      return out === undefined ? Promise.reject(new HypervisorError(`unexpected ${args[0]}`)) : Promise.resolve({ stdout: out, stderr: "" });
    },
  };
  return { calls, hv: new VirshHypervisor({ runner: fake, migration, clock: systemClock, logger: silentLogger() }) };
}

describe("VirshHypervisor autostart, start and pause (real virsh, test driver)", () => {
  it("lists the domains marked autostart (none in the node file)", async () => {
    expect(await hv.autostartDomains()).toEqual([]);
  });

  it("turns autostart off for a defined domain; an unknown one is libvirt's error", async () => {
    await hv.disableAutostart("sec1");
    const e = await hv.disableAutostart("nosuch").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HypervisorError);
    expect((e as Error).message).toMatch(/failed to get domain 'nosuch'/);
  });

  it("starting a running domain is libvirt's refusal", async () => {
    const e = await hv.startDefined("sec1").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HypervisorError);
    expect((e as Error).message).toMatch(/already active/);
  });

  it("pausing an unknown domain is UNKNOWN_VM", async () => {
    const e = await hv.pause("nosuch").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BallastError);
    expect((e as BallastError).code).toBe("UNKNOWN_VM");
  });
});

describe("VirshHypervisor autostart, start and pause (the commands)", () => {
  it("uses argument arrays, never a shell", async () => {
    const r = recording({ list: "web-1\n\ndb-1\n", autostart: "Domain 'web-1' unmarked as autostarted\n", start: "Domain 'web-1' started\n" });
    expect(await r.hv.autostartDomains()).toEqual(["db-1", "web-1"]);
    await r.hv.disableAutostart("web-1");
    await r.hv.startDefined("web-1");
    expect(r.calls).toEqual([
      ["list", "--all", "--autostart", "--name"],
      ["autostart", "--disable", "--domain", "web-1"],
      ["start", "--domain", "web-1"],
    ]);
  });

  it("pause suspends a running domain and reads its state back", async () => {
    const states = ["running (booted)\n", "paused (user)\n"];
    const calls: string[][] = [];
    const fake: VirshRunner = {
      commandLine: (args) => ["virsh", ...args],
      run: (args) => {
        calls.push([...args]);
        return Promise.resolve({ stdout: args[0] === "domstate" ? states.shift()! : "Domain 'web-1' suspended\n", stderr: "" });
      },
    };
    const r = await new VirshHypervisor({ runner: fake, migration, clock: systemClock, logger: silentLogger() }).pause("web-1");
    expect(r).toMatchObject({ paused: true, state: "paused" });
    expect(calls).toEqual([
      ["domstate", "--reason", "--domain", "web-1"],
      ["suspend", "--domain", "web-1"],
      ["domstate", "--reason", "--domain", "web-1"],
    ]);
  });

  it("pause does nothing to a domain that is not running", async () => {
    const r = recording({ domstate: "shut off (destroyed)\n" });
    expect(await r.hv.pause("web-1")).toMatchObject({ paused: false, state: "shutoff" });
    expect(r.calls).toEqual([["domstate", "--reason", "--domain", "web-1"]]);
  });
});
