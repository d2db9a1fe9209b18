// Real libvirt lab, agents over a real nats-server: the destination's own checks (check-incoming
// against hv-b's libvirt: CPU with hypervisor-cpu-compare, a missing network) and an agent-driven
// live migration of a guest with a local qcow2 disk (copyStorage): the guest keeps running on
// hv-b, the disk exists there (through libvirt), and a marker written into the disk before the
// move reads back from hv-b's copy after it. Skips LOUDLY when the lab or qemu-io cannot run here.
import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { requestJson } from "../../shared/nats/json.js";
import {
  MigrationEvent,
  type CheckIncomingRequest,
  type CheckIncomingResult,
  type CpuBaselineResult,
  type MigrateAccepted,
  type RemoveDisksResult,
} from "../../shared/schemas/agent-api.js";
import type { AgentFacts, VmFacts } from "../../shared/schemas/facts.js";
import { agentSubjects } from "../../shared/subjects.js";
import { labAvailable, labDown, labUpOrDown, type Lab } from "../support/lab.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

const run = promisify(execFile);
const LAB = { name: "dlocal" };
const avail = labAvailable(LAB);
const qemuIo = ["/usr/bin/qemu-io", "/usr/bin/qemu-img"].every((p) => existsSync(p));
const why = !avail.ok ? avail.why : !qemuIo ? "qemu-io/qemu-img missing (package qemu-utils)" : undefined;
if (why) console.warn(`[agent-local-disks] SKIPPING the real libvirt lab tests: ${why}`);
const suite = why ? describe.skip : describe;

const GUEST = "dl-g1";
const IMAGES = "/var/lib/libvirt/images";
const DISK = `${IMAGES}/${GUEST}-vda.qcow2`;
const timings: Record<string, number> = {};

/** The guest of lab.sh plus one local virtio qcow2 disk. */
function guestXml(lab: Lab, cache: string): string {
  return `<domain type='qemu'>
  <name>${GUEST}</name>
  <memory unit='MiB'>128</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${cache}/vmlinuz</kernel>
    <initrd>${cache}/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet loglevel=3 panic=-1 ballast.name=${GUEST} ballast.burn=0</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='${DISK}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='${lab.consoleLog(GUEST)}' append='on'/><target port='0'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

suite("agents on the libvirt lab: check-incoming and a local-disk migration (copyStorage)", () => {
  let lab: Lab;
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const agents: AgentHandle[] = [];
  /** hv's /var/lib/libvirt as the root namespace sees it (the lab bind-mounts it from here). */
  const hostPath = (hv: string, path: string) => join(lab.dir, "hv", hv, "lib", path.slice("/var/lib/libvirt/".length));

  beforeAll(async () => {
    lab = await labUpOrDown(LAB);
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    for (const hv of ["hv-a", "hv-b"]) {
      const config = AgentConfig.parse({
        host: hv,
        driver: "virsh",
        interval: 1,
        heartbeat_interval: 1,
        virsh: { uri: lab.host(hv).uri },
        nats: { servers: [server.url] },
        facts: { interval: 5 },
        // hv-b's agent switches to post-copy at the limit; 20 MiB/s makes a burning guest slow enough to reach it.
        ...(hv === "hv-b" ? { migration: { on_timeout: "postcopy", extra_args: ["--bandwidth=20"] } } : {}),
      });
      agents.push(await startAgent({ config, logger: silentLogger() }));
    }
  }, 180_000);

  afterAll(async () => {
    for (const a of agents) await a.stop().catch(() => {});
    await nc?.close().catch(() => {});
    await server?.stop().catch(() => {});
    await labDown(LAB);
    console.log(`[agent-local-disks] timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  const ask = async <T>(subject: string, body: unknown, timeoutMs = 60_000) => requestJson<T>(nc, subject, body, { timeoutMs });
  const factsOf = async (hv: string, vm: string): Promise<VmFacts> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await ask<AgentFacts>(agentSubjects(hv).getFacts, {});
      const f = r.ok ? r.data.vms.find((v) => v.name === vm) : undefined;
      if (f) return f;
      if (Date.now() > deadline) throw new Error(`no facts of ${vm} from ${hv}: ${JSON.stringify(r).slice(0, 500)}`);
      await new Promise((res) => setTimeout(res, 300));
    }
  };
  const check = (hv: string, body: CheckIncomingRequest) => ask<CheckIncomingResult>(agentSubjects(hv).checkIncoming, body);

  it("check-incoming on hv-b: libvirt accepts qemu64, refuses a CPU with features TCG lacks, and names a missing network", async () => {
    // A VM's facts as an agent publishes them; only the CPU and the interfaces vary here.
    const facts: CheckIncomingRequest["facts"] = {
      domainType: "qemu",
      arch: "x86_64",
      machine: "pc-i440fx-7.2",
      cpu: {
        mode: "custom",
        model: "qemu64",
        required: [],
        disabled: [],
        xml: "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>",
      },
      disks: [],
      interfaces: [],
      hostdevs: [],
      migratable: true,
      reasons: [],
    };
    const ok = await check("hv-b", { vm: "probe", source: "hv-a", memMiB: 128, facts, copyStorage: false });
    expect(ok).toEqual({ ok: true, data: { vm: "probe", host: "hv-b", ok: true, refusals: [] } });

    const skylake = {
      ...facts,
      cpu: {
        mode: "custom" as const,
        model: "Skylake-Client",
        required: ["avx512f"],
        disabled: [],
        xml: "<cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model><feature policy='require' name='avx512f'/></cpu>",
      },
      interfaces: [{ type: "network" as const, source: "no-such-net" }],
    };
    const refused = await check("hv-b", { vm: "probe", source: "hv-a", memMiB: 128, facts: skylake, copyStorage: false });
    expect(refused.ok && refused.data.ok).toBe(false);
    const refusals = refused.ok ? refused.data.refusals : [];
    console.log(`[agent-local-disks] refusals: ${JSON.stringify(refusals)}`);
    // libvirt's own words: which features this host's CPU (TCG) does not provide.
    expect(refusals).toContainEqual({ code: "CPU", message: expect.stringMatching(/incompatible with host CPU.*avx512f/) });
    expect(refusals).toContainEqual({ code: "NETWORK", message: expect.stringMatching(/no-such-net.*Network not found/) });

    // libvirt's baseline of two CPU definitions, computed by hv-b: a guest CPU both can run.
    const baseline = await ask<CpuBaselineResult>(agentSubjects("hv-b").cpuBaseline, {
      cpus: [
        "<cpu mode='custom' match='exact'><model fallback='forbid'>Haswell</model><feature policy='require' name='avx512f'/></cpu>",
        "<cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model></cpu>",
      ],
    });
    console.log(`[agent-local-disks] baseline: ${JSON.stringify(baseline)}`);
    expect(baseline).toMatchObject({ ok: true, data: { xml: expect.stringMatching(/^<cpu[\s\S]*<\/cpu>$/), model: expect.any(String) } });
    expect(baseline.ok && baseline.data.features).not.toContain("avx512f");
  }, 60_000);

  it("moves a running guest with a local qcow2 disk hv-a -> hv-b with its disk; the marker survives; the source copy is removed on request", async () => {
    const info = JSON.parse(readFileSync(join(lab.dir, "lab.json"), "utf8")) as { cache: string };
    // The disk: a pool covering the images directory on hv-a, a 64 MiB qcow2 volume in it.
    await lab.virsh("hv-a", ["pool-create-as", "--name", "dl-images", "--type", "dir", "--target", IMAGES, "--build"]);
    await lab.virsh("hv-a", ["vol-create-as", "--pool", "dl-images", "--name", `${GUEST}-vda.qcow2`, "--capacity", "64M", "--format", "qcow2"]);
    // The marker, written into the image before the guest starts (the busybox guest has no disk tool).
    const pattern = `0x${randomInt(16, 255).toString(16)}`;
    await run("qemu-io", ["-f", "qcow2", "-c", `write -P ${pattern} 1M 256k`, hostPath("hv-a", DISK)]);
    const xmlFile = join(lab.dir, "guests", `${GUEST}.xml`);
    writeFileSync(xmlFile, guestXml(lab, info.cache));
    writeFileSync(lab.consoleLog(GUEST), "");
    await lab.virsh("hv-a", ["define", xmlFile]);
    await lab.virsh("hv-a", ["start", GUEST]);
    await lab.waitForTicks(GUEST, 2, { after: 0, timeoutMs: 60_000 });

    // The source agent reads the disk as local and writable: it must be copied.
    const facts = await factsOf("hv-a", GUEST);
    expect(facts.disks).toMatchObject([{ target: "vda", source: DISK, shared: false, readonly: false, format: "qcow2" }]);
    expect(facts.migratable).toBe(true);

    // Without copyStorage the source refuses, typed, and nothing moves.
    const A = agentSubjects("hv-a");
    const target = { vm: GUEST, destination: "hv-b", destinationAddress: "10.77.0.2" };
    const refused = await ask<MigrateAccepted>(A.migrate, { requestId: "dl-0", ...target });
    expect(refused).toMatchObject({ ok: false, error: { code: "LOCAL_DISKS", details: { disks: [{ target: "vda", source: DISK }] } } });

    // The destination's check prepares hv-b: a pool covering the directory, the path still free.
    const { name: _name, ...vmFacts } = facts;
    const checked = await check("hv-b", { vm: GUEST, source: "hv-a", memMiB: 128, facts: vmFacts, copyStorage: true });
    expect(checked).toMatchObject({ ok: true, data: { ok: true, refusals: [] } });
    expect(await lab.virsh("hv-b", ["pool-list", "--name"])).toMatch(/ballast-[0-9a-f]{12}/);

    const events: MigrationEvent[] = [];
    const sub = nc.subscribe(A.events, { callback: (_e, m) => void events.push(MigrationEvent.parse(m.json())) });
    try {
      const t0 = Date.now();
      const accepted = await ask<MigrateAccepted>(A.migrate, { requestId: "dl-1", ...target, copyStorage: true });
      expect(accepted).toMatchObject({ ok: true, data: { accepted: true, copyDisks: ["vda"] } });
      const data = accepted.ok ? accepted.data : undefined;
      expect(data?.diskBytes).toBeGreaterThan(0);
      expect(data?.timeoutS).toBeGreaterThanOrEqual(120);
      expect(data?.postcopy).toBeUndefined();
      const deadline = Date.now() + 120_000;
      while (!events.some((e) => e.type === "migration.succeeded" || e.type === "migration.failed") && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 100));
      timings.copyStorageMigrationMs = Date.now() - t0;
      const done = events.find((e) => e.type === "migration.succeeded" || e.type === "migration.failed");
      expect(done, JSON.stringify(events)).toMatchObject({ type: "migration.succeeded" });
      console.log(`[agent-local-disks] local-disk migration: ${timings.copyStorageMigrationMs} ms, stats ${JSON.stringify(done?.stats)}`);
    } finally {
      sub.unsubscribe();
    }
    expect(await lab.whereIsAsync(GUEST)).toEqual(["hv-b"]);
    const last = lab.ticks(GUEST).at(-1)!;
    await lab.waitForTicks(GUEST, 2, { after: last, timeoutMs: 30_000 });
    expect(lab.boots(GUEST)).toBe(1);
    // The disk exists on hv-b, through hv-b's libvirt (precreated there by libvirt, then filled).
    const pool = (await lab.virsh("hv-b", ["pool-list", "--name"])).trim().split(/\s+/)[0]!;
    await lab.virsh("hv-b", ["pool-refresh", "--pool", pool]);
    const vol = await lab.virsh("hv-b", ["vol-info", "--pool", pool, "--vol", `${GUEST}-vda.qcow2`]);
    expect(vol).toMatch(/Capacity:\s+64\.00 MiB/);

    // Coming back to hv-a now would overwrite the source copy still there: DISK_EXISTS.
    const back = await check("hv-a", { vm: GUEST, source: "hv-b", memMiB: 128, facts: vmFacts, copyStorage: true });
    expect(back.ok && back.data.refusals.map((r) => r.code)).toEqual(["DISK_EXISTS"]);

    // remove-disks: refused where the VM is defined; on hv-a it removes the source copy through libvirt.
    const onB = await ask<RemoveDisksResult>(agentSubjects("hv-b").removeDisks, { requestId: "dl-1", vm: GUEST, paths: [DISK] });
    expect(onB).toMatchObject({ ok: false, error: { code: "VM_STILL_DEFINED" } });
    const onA = await ask<RemoveDisksResult>(A.removeDisks, { requestId: "dl-1", vm: GUEST, paths: [DISK] });
    expect(onA).toEqual({ ok: true, data: { vm: GUEST, removed: [DISK], kept: [] } });
    expect(existsSync(hostPath("hv-a", DISK))).toBe(false);

    // The marker, read back from hv-b's copy once the guest is stopped.
    await lab.virsh("hv-b", ["destroy", GUEST]);
    const { stdout } = await run("qemu-io", ["-f", "qcow2", "-c", `read -P ${pattern} 1M 256k`, hostPath("hv-b", DISK)]);
    expect(stdout).not.toMatch(/Pattern verification failed/);
    expect(stdout).toMatch(/read 262144\/262144 bytes/);
  }, 240_000);

  it("on_timeout postcopy: a migration past its limit switches to post-copy (virsh migrate-postcopy) and finishes; the guest keeps running", async () => {
    const B = agentSubjects("hv-b");
    await lab.startGuest("hv-b", "dl-pc", { burn: true, memMiB: 256 });
    await lab.waitForTicks("dl-pc", 2, { after: 0, timeoutMs: 60_000 });
    const events: MigrationEvent[] = [];
    const sub = nc.subscribe(B.events, { callback: (_e, m) => void events.push(MigrationEvent.parse(m.json())) });
    try {
      const t0 = Date.now();
      const accepted = await ask<MigrateAccepted>(B.migrate, {
        requestId: "pc-1",
        vm: "dl-pc",
        destination: "hv-c",
        destinationAddress: "10.77.0.3",
        timeoutS: 3,
      });
      expect(accepted).toMatchObject({ ok: true, data: { timeoutS: 3, postcopy: true } });
      const deadline = Date.now() + 120_000;
      while (!events.some((e) => e.type === "migration.succeeded" || e.type === "migration.failed") && Date.now() < deadline)
        await new Promise((res) => setTimeout(res, 100));
      timings.postcopyMigrationMs = Date.now() - t0;
      const done = events.find((e) => e.type === "migration.succeeded" || e.type === "migration.failed");
      expect(done, JSON.stringify(events)).toMatchObject({ type: "migration.succeeded", stats: { postcopy: true } });
      console.log(`[agent-local-disks] post-copy migration: ${timings.postcopyMigrationMs} ms, stats ${JSON.stringify(done?.stats)}`);
    } finally {
      sub.unsubscribe();
    }
    expect(await lab.whereIsAsync("dl-pc")).toEqual(["hv-c"]);
    const last = lab.ticks("dl-pc").at(-1)!;
    await lab.waitForTicks("dl-pc", 2, { after: last, timeoutMs: 30_000 });
    expect(lab.boots("dl-pc")).toBe(1);
  }, 180_000);
});
