import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../../../agent/ports/clock.js";
import { VirshHypervisor } from "../../../agent/virsh/virsh-hypervisor.js";
import { createVirshRunner, type VirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { BallastError, HypervisorError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";

// The virsh driver's guest-state: libvirt's domain state and the guest agent channel of the live
// XML. Real virsh with the test:// driver where it can answer (it keeps no channel state, so a
// channel there is never connected); a fake runner with QEMU-like live XML for the three answers.

const NODE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "test-driver-guest-agent.xml");
const runner = createVirshRunner({ binary: "virsh", uri: `test://${NODE}`, timeoutMs: 10_000 });
const migration = MigrationSettings.parse({});
const hv = new VirshHypervisor({ runner, migration, clock: systemClock, logger: silentLogger() });
afterAll(() => runner.close());

describe("VirshHypervisor.guestState (real virsh, test driver)", () => {
  it("a running domain with the channel but no state libvirt knows of: disconnected", async () => {
    expect(await hv.guestState("with-agent")).toEqual({ state: "running", guestAgent: "disconnected" });
  });

  it("a domain whose only channel is another port: none", async () => {
    expect(await hv.guestState("without-agent")).toEqual({ state: "running", guestAgent: "none" });
  });

  it("a shut-off domain with the channel: libvirt's words for the state, and disconnected", async () => {
    expect(await hv.guestState("off-with-agent")).toEqual({ state: "shut off", guestAgent: "disconnected" });
  });

  it("a domain not defined here is UNKNOWN_VM, with libvirt's error as the cause", async () => {
    const e = await hv.guestState("no-such-vm").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BallastError);
    expect((e as BallastError).code).toBe("UNKNOWN_VM");
    expect((e as Error).cause).toBeInstanceOf(HypervisorError);
  });
});

/** Live XML of a running QEMU domain as libvirt 9 writes it, with the given <channel> elements. */
const liveXml = (channels: string) => `<domain type='qemu' id='7'>
  <name>g1</name>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'>
      <source path='/var/log/g1.log' append='on'/>
      <target type='isa-serial' port='0'><model name='isa-serial'/></target>
      <alias name='serial0'/>
    </serial>
${channels}
    <controller type='virtio-serial' index='0'><alias name='virtio-serial0'/></controller>
  </devices>
</domain>
`;
const agentChannel = (state?: string) => `    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-7-g1/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0'${state ? ` state='${state}'` : ""}/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>`;
// A connected channel that is not the guest agent's must not count.
const spiceChannel = `    <channel type='spicevmc'>
      <target type='virtio' name='com.redhat.spice.0' state='connected'/>
      <alias name='channel1'/>
    </channel>`;

function fakeHv(state: string, xml: string) {
  const calls: string[][] = [];
  const fake: VirshRunner = {
    commandLine: (args) => ["virsh", ...args],
    run: (args) => {
      calls.push([...args]);
      if (args[0] === "domstate") return Promise.resolve({ stdout: `${state}\n\n`, stderr: "" });
      if (args[0] === "dumpxml") return Promise.resolve({ stdout: xml, stderr: "" });
      return Promise.reject(new HypervisorError(`unexpected virsh ${args.join(" ")}`));
    },
  };
  return { hv: new VirshHypervisor({ runner: fake, migration, clock: systemClock, logger: silentLogger() }), calls };
}

describe("VirshHypervisor.guestState (live XML parse)", () => {
  it("connected: the guest holds org.qemu.guest_agent.0 open; read from the live XML, never --inactive", async () => {
    const { hv: f, calls } = fakeHv("running", liveXml(`${spiceChannel}\n${agentChannel("connected")}`));
    expect(await f.guestState("g1")).toEqual({ state: "running", guestAgent: "connected" });
    expect(calls).toEqual([
      ["domstate", "--domain", "g1"],
      ["dumpxml", "--domain", "g1"],
    ]);
  });

  it("disconnected: the channel is there, nothing in the guest opened it", async () => {
    const { hv: f } = fakeHv("running", liveXml(`${agentChannel("disconnected")}\n${spiceChannel}`));
    expect(await f.guestState("g1")).toEqual({ state: "running", guestAgent: "disconnected" });
  });

  it("paused with the port open still says connected (the state tells it is paused)", async () => {
    const { hv: f } = fakeHv("paused", liveXml(agentChannel("connected")));
    expect(await f.guestState("g1")).toEqual({ state: "paused", guestAgent: "connected" });
  });

  it("none: no channel named org.qemu.guest_agent.0, even with another one connected", async () => {
    const { hv: f } = fakeHv("running", liveXml(spiceChannel));
    expect(await f.guestState("g1")).toEqual({ state: "running", guestAgent: "none" });
    const { hv: bare } = fakeHv("running", liveXml(""));
    expect(await bare.guestState("g1")).toEqual({ state: "running", guestAgent: "none" });
  });

  it("XML virsh did not write (a DOCTYPE, not well-formed) is an error, not an answer", async () => {
    const { hv: doctype } = fakeHv("running", `<!DOCTYPE domain [<!ENTITY x "y">]>${liveXml(agentChannel("connected"))}`);
    await expect(doctype.guestState("g1")).rejects.toBeInstanceOf(HypervisorError);
    const { hv: broken } = fakeHv("running", "<domain><devices><channel>");
    await expect(broken.guestState("g1")).rejects.toBeInstanceOf(HypervisorError);
  });
});
