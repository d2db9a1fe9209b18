// The agent's facts collector (VirshFactsSource) against the real three-hypervisor lab: what it
// reports must be what each libvirt really has. Skips LOUDLY when the lab cannot run here.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirshFactsSource } from "../../agent/facts/collect-facts.js";
import { factsDigest } from "../../agent/facts/facts-digest.js";
import { createVirshRunner, type OwnedVirshRunner } from "../../agent/virsh/virsh-runner.js";
import { FactsSettings, MigrationSettings } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { compareVersions, HostFacts, VmFacts } from "../../shared/schemas/facts.js";
import { labAvailable, labDown, labUp, type Lab } from "../support/lab.js";

const LAB = { name: "facts" };
const avail = labAvailable(LAB);
if (!avail.ok) console.warn(`[facts.test] SKIPPING the real libvirt lab tests: ${avail.why}`);
const suite = avail.ok ? describe : describe.skip;
const title = avail.ok ? "agent facts from the real libvirt lab" : `agent facts lab: skipped because ${avail.why}`;

suite(title, () => {
  let lab: Lab;
  const runners: OwnedVirshRunner[] = [];
  const sources = new Map<string, VirshFactsSource>();
  const hostFacts = new Map<string, HostFacts>();
  let tmp: string;

  beforeAll(async () => {
    try {
      lab = await labUp(LAB);
      // A network on hv-a only; a guest with a local qcow2 disk, a local CD-ROM and that network;
      // a guest whose disk is in the lab's shared directory; a diskless guest on hv-b.
      await lab.netDefine("hv-a", "onlya");
      await lab.startGuest("hv-a", "fx-local", { diskMiB: 32, cdrom: true, network: "onlya" });
      await lab.startGuest("hv-a", "fx-shared", { sharedDiskMiB: 16 });
      await lab.startGuest("hv-b", "fx-plain");
    } catch (e) {
      await labDown(LAB).catch(() => {});
      throw e;
    }
    tmp = mkdtempSync(join(tmpdir(), "ballast-facts-test-"));
    for (const h of lab.hosts) {
      const runner = createVirshRunner({ binary: "virsh", uri: h.uri, timeoutMs: 30_000 });
      runners.push(runner);
      sources.set(
        h.id,
        new VirshFactsSource({
          runner,
          settings: FactsSettings.parse({ shared_paths: [lab.sharedDir] }),
          migration: MigrationSettings.parse({}),
          logger: silentLogger(),
        }),
      );
    }
    for (const [id, s] of sources) hostFacts.set(id, await s.hostFacts());
  }, 240_000);

  afterAll(async () => {
    for (const r of runners) r.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await labDown(LAB);
  }, 120_000);

  it("reports each host's CPU, versions and machine types as its libvirt does", async () => {
    const arch = execFileSync("uname", ["-m"], { encoding: "utf8" }).trim();
    // every lab hv runs the same QEMU: the machine type of hv-a's running guest is offered everywhere
    const machine = /machine='([^']+)'/.exec(await lab.virsh("hv-a", ["dumpxml", "fx-local"]))?.[1];
    expect(machine).toBeDefined();
    for (const h of lab.hosts) {
      const f = hostFacts.get(h.id)!;
      expect(HostFacts.safeParse(f).success).toBe(true);
      expect(f.cpu.arch).toBe(arch);
      const version = await lab.virsh(h.id, ["version"]);
      expect(f.libvirtVersion).toBe(/Using library: libvirt (\S+)/.exec(version)?.[1]);
      expect(f.qemuVersion).toBe(/Running hypervisor: QEMU (\S+)/.exec(version)?.[1]);
      expect(compareVersions(f.libvirtVersion, "1.0")).toBeGreaterThan(0);
      expect(f.domainTypes).toContain("qemu");
      expect(f.cpu.features.length).toBeGreaterThan(10);
      expect(f.cpu.usableModels).toContain("qemu64"); // the lab guests' model
      expect(f.machineTypes).toContain(machine);
    }
  });

  it("publishes a host-model CPU that the host's own libvirt accepts", async () => {
    const f = hostFacts.get("hv-a")!;
    const file = join(tmp, "host-model.xml");
    writeFileSync(file, f.cpu.hostModelXml!, { mode: 0o600 });
    const virtType = f.domainTypes.includes("kvm") ? "kvm" : "qemu";
    const out = await lab.virsh("hv-a", ["hypervisor-cpu-compare", "--virttype", virtType, file]);
    expect(out).toMatch(/identical|superset/);
  });

  it("lists a network only on the host that has it", () => {
    expect(hostFacts.get("hv-a")!.networks).toContain("onlya");
    expect(hostFacts.get("hv-b")!.networks).not.toContain("onlya");
    expect(hostFacts.get("hv-c")!.networks).not.toContain("onlya");
  });

  it("reads a guest's local disk as local, a shared-directory disk as shared, and refuses its local CD-ROM", async () => {
    const s = sources.get("hv-a")!;
    const vms = await s.vmFacts(["fx-shared", "no-such-guest", "fx-local"]);
    expect(vms.map((v) => v.name)).toEqual(["fx-local", "fx-shared"]);
    for (const v of vms) expect(VmFacts.safeParse(v).success).toBe(true);
    const [local, shared] = vms as [VmFacts, VmFacts];

    const vda = local.disks.find((d) => d.target === "vda")!;
    expect(vda).toMatchObject({ device: "disk", type: "file", format: "qcow2", shared: false, backingChain: false, capacityBytes: 32 * 1024 * 1024 });
    expect(vda.source).toMatch(/^\/var\/lib\/libvirt\/images\//);
    const cd = local.disks.find((d) => d.device === "cdrom")!;
    expect(cd).toMatchObject({ readonly: true, shared: false });
    expect(local.interfaces).toEqual([{ type: "network", source: "onlya" }]);
    expect(local.migratable).toBe(false);
    expect(local.reasons.map((r) => r.code)).toEqual(["LOCAL_READONLY"]);
    expect(local.reasons[0]!.detail).toContain(cd.source!);
    expect(local.cpu).toMatchObject({ mode: "custom", model: "qemu64" });

    expect(shared.disks).toHaveLength(1);
    expect(shared.disks[0]).toMatchObject({ shared: true, capacityBytes: 16 * 1024 * 1024 });
    expect(shared.disks[0]!.source!.startsWith(`${lab.sharedDir}/`)).toBe(true);
    expect(shared).toMatchObject({ migratable: true, reasons: [] });
  });

  it("a diskless guest is migratable, its CPU accepted by another host's libvirt, and the digest is stable", async () => {
    const s = sources.get("hv-b")!;
    const [plain] = await s.vmFacts(["fx-plain"]);
    expect(plain).toMatchObject({ name: "fx-plain", domainType: "qemu", disks: [], migratable: true });
    const file = join(tmp, "guest-cpu.xml");
    writeFileSync(file, plain!.cpu.xml!, { mode: 0o600 });
    expect(await lab.virsh("hv-c", ["hypervisor-cpu-compare", "--virttype", "qemu", file])).toMatch(/identical|superset/);

    const d1 = factsDigest(hostFacts.get("hv-b")!, [plain!]);
    const again = await s.vmFacts(["fx-plain"]);
    expect(factsDigest(await s.hostFacts(), again)).toBe(d1);
  });
});
