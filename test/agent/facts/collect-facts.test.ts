import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listLinuxBridges, VirshFactsSource } from "../../../agent/facts/collect-facts.js";
import { factsDigest, stableJson } from "../../../agent/facts/facts-digest.js";
import type { VirshResult, VirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { FactsSettings, MigrationSettings } from "../../../shared/config/agent-config.js";
import { HypervisorError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";
import { HostFacts, VmFacts } from "../../../shared/schemas/facts.js";
import { lab, variant } from "./fixtures.js";

// The collector against a stand-in virsh that answers from captured lab output. The same source
// runs against the real lab in test/lab/facts.test.ts.

type Answer = string | Error | ((args: readonly string[]) => string | Promise<string>);

function fakeRunner(answers: Record<string, Answer>) {
  const calls: string[][] = [];
  let running = 0;
  let maxRunning = 0;
  const runner: VirshRunner = {
    commandLine: (args) => ["virsh", ...args],
    async run(args): Promise<VirshResult> {
      calls.push([...args]);
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        await new Promise((r) => setImmediate(r));
        const key = Object.keys(answers).find((k) => args.join(" ").startsWith(k));
        const a = key === undefined ? new HypervisorError(`unexpected virsh ${args.join(" ")}`) : answers[key]!;
        if (a instanceof Error) throw a;
        return { stdout: typeof a === "function" ? await a(args) : a, stderr: "" };
      } finally {
        running--;
      }
    },
  };
  return { runner, calls, maxRunning: () => maxRunning };
}

const LAB_ANSWERS: Record<string, Answer> = {
  capabilities: lab("capabilities.xml"),
  version: lab("version.txt"),
  "net-list --name": lab("net-list-name.txt"),
  "freepages --all": lab("freepages-all.txt"),
  "domcapabilities --virttype qemu": lab("domcapabilities-qemu.xml"),
  "hypervisor-cpu-baseline": lab("hypervisor-cpu-baseline-features.xml"),
  "dumpxml --migratable g1": lab("dumpxml-migratable-g1.xml"),
  "dumpxml --migratable g2": lab("dumpxml-migratable-g2-local-disks.xml"),
  "domstats --block --backing --raw g1": "Domain: 'g1'\n  block.count=0\n\n",
  "domstats --block --backing --raw g2": lab("domstats-block-backing-g2.txt"),
  "dumpxml --migratable gone": new HypervisorError("failed to get domain 'gone'"),
};

const source = (answers: Record<string, Answer>, more: Partial<ConstructorParameters<typeof VirshFactsSource>[0]> = {}) => {
  const f = fakeRunner(answers);
  const s = new VirshFactsSource({
    runner: f.runner,
    settings: FactsSettings.parse({ shared_paths: ["/var/lib/ballast-lab/shared"] }),
    migration: MigrationSettings.parse({}),
    logger: silentLogger(),
    readMounts: async () => "/dev/vda1 / ext4 rw 0 0\nnas:/vms /mnt/nfs nfs4 rw 0 0\n",
    listBridges: async () => ["virbr0", "br-db", "bad name"],
    kvmUsable: async () => false,
    ...more,
  });
  return { s, ...f };
};

describe("VirshFactsSource.hostFacts (captured lab output)", () => {
  it("assembles schema-valid host facts: TCG host-model, baseline features, versions, storage", async () => {
    const { s, calls } = source(LAB_ANSWERS);
    const h = await s.hostFacts();
    expect(HostFacts.safeParse(h).success).toBe(true);
    expect(h.cpu).toMatchObject({ arch: "x86_64", vendor: "AMD", model: "EPYC" });
    expect(h.cpu.features).toContain("sse2"); // from the baseline, not in domcapabilities
    expect(h.cpu.hostModelXml).toMatch(/^<cpu mode="custom" match="exact">/);
    expect(h.domainTypes).toEqual(["qemu"]); // kvm offered by libvirt, not usable
    expect(h).toMatchObject({ libvirtVersion: "9.0.0", qemuVersion: "7.2.22", networks: ["onlya"], bridges: ["br-db", "virbr0"] });
    expect(h.sharedStorage).toEqual([
      { path: "/mnt/nfs", kind: "nfs4" },
      { path: "/var/lib/ballast-lab/shared", kind: "configured" },
    ]);
    expect(h.hugepages).toEqual([
      { sizeKiB: 2048, free: 0 },
      { sizeKiB: 1048576, free: 0 },
    ]);
    expect(calls.find((c) => c[0] === "domcapabilities")).toEqual(["domcapabilities", "--virttype", "qemu"]);
  });

  it("hands hypervisor-cpu-baseline a private 0600 file and removes it afterwards", async () => {
    let seen: { file: string; mode: number; dirMode: number } | undefined;
    const { s } = source({
      ...LAB_ANSWERS,
      "hypervisor-cpu-baseline": (args) => {
        const file = args[args.indexOf("--features") + 1]!;
        seen = { file, mode: statSync(file).mode & 0o777, dirMode: statSync(file.replace(/\/[^/]+$/, "")).mode & 0o777 };
        expect(args.slice(0, 3)).toEqual(["hypervisor-cpu-baseline", "--virttype", "qemu"]);
        return lab("hypervisor-cpu-baseline-features.xml");
      },
    });
    await s.hostFacts();
    expect(seen).toMatchObject({ mode: 0o600, dirMode: 0o700 });
    expect(() => statSync(seen!.file)).toThrow();
  });

  it("falls back to the host-model's features when the baseline fails", async () => {
    const { s } = source({ ...LAB_ANSWERS, "hypervisor-cpu-baseline": new HypervisorError("this function is not supported") });
    const h = await s.hostFacts();
    expect(h.cpu.features).toContain("la57");
    expect(h.cpu.features).not.toContain("sse2");
  });

  it("uses --virttype kvm when KVM works, and no huge pages when freepages fails", async () => {
    const { s, calls } = source(
      {
        ...LAB_ANSWERS,
        capabilities: variant("capabilities-epyc-kvm.xml"),
        "domcapabilities --virttype kvm": variant("domcapabilities-epyc-kvm.xml"),
        "freepages --all": new HypervisorError("unsupported"),
      },
      { kvmUsable: async () => true },
    );
    const h = await s.hostFacts();
    expect(calls.find((c) => c[0] === "domcapabilities")).toEqual(["domcapabilities", "--virttype", "kvm"]);
    expect(h).toMatchObject({ domainTypes: ["kvm", "qemu"], hugepages: [], cpu: { model: "EPYC-Rome" } });
    expect(h.machineTypes).toContain("q35-rhel");
  });

  it("does not read the mount table when detect_mounts is off", async () => {
    let read = false;
    const f = fakeRunner(LAB_ANSWERS);
    const s = new VirshFactsSource({
      runner: f.runner,
      settings: FactsSettings.parse({ detect_mounts: false }),
      migration: MigrationSettings.parse({}),
      logger: silentLogger(),
      readMounts: async () => ((read = true), "nas:/vms /mnt/nfs nfs4 rw 0 0\n"),
      listBridges: async () => [],
      kvmUsable: async () => false,
    });
    expect((await s.hostFacts()).sharedStorage).toEqual([]);
    expect(read).toBe(false);
  });
});

describe("VirshFactsSource.vmFacts", () => {
  it("reads each VM with one dumpxml and one domstats, leaves out a vanished one, sorts by name", async () => {
    const { s, calls } = source(LAB_ANSWERS);
    const vms = await s.vmFacts(["g2", "gone", "g1"]);
    expect(vms.map((v) => v.name)).toEqual(["g1", "g2"]);
    for (const v of vms) expect(VmFacts.safeParse(v).success).toBe(true);
    expect(vms[1]).toMatchObject({ migratable: false });
    expect(vms[1]!.disks.find((d) => d.target === "vdc")).toMatchObject({ shared: true });
    expect(calls.filter((c) => c.includes("g2")).map((c) => c[0])).toEqual(["dumpxml", "domstats"]);
  });

  it("reads at most 4 VMs at once", async () => {
    const answers: Record<string, Answer> = { ...LAB_ANSWERS };
    const names = Array.from({ length: 20 }, (_, i) => `vm${String(i).padStart(2, "0")}`);
    answers["dumpxml --migratable"] = (args) => lab("dumpxml-migratable-g1.xml").replace("<name>g1</name>", `<name>${args.at(-1)}</name>`);
    answers["domstats --block"] = (args) => `Domain: '${args.at(-1)}'\n  block.count=0\n`;
    const { s, maxRunning } = source(answers);
    await s.hostFacts();
    const vms = await s.vmFacts(names);
    expect(vms.map((v) => v.name)).toEqual(names);
    expect(maxRunning()).toBe(4);
  });

  it("cuts an oversize VM to the schema and marks it FACTS_TOO_LARGE instead of failing", async () => {
    const disks = Array.from(
      { length: 70 },
      (_, i) => `<disk type='network' device='disk'><source protocol='rbd' name='p/d${i}'/><target dev='vd${i}' bus='virtio'/></disk>`,
    ).join("");
    const xml = lab("dumpxml-migratable-g1.xml").replace("<devices>", `<devices>${disks}`).replace("<name>g1</name>", "<name>big</name>");
    const { s } = source({ ...LAB_ANSWERS, "dumpxml --migratable big": xml, "domstats --block --backing --raw big": "" });
    const [v] = await s.vmFacts(["big"]);
    expect(VmFacts.safeParse(v).success).toBe(true);
    expect(v!.disks).toHaveLength(64);
    expect(v!.reasons.map((r) => r.code)).toEqual(["FACTS_TOO_LARGE"]);
    expect(v!.migratable).toBe(false);
  });

  it("reports a VM whose facts break the schema as not migratable, with what broke", async () => {
    const xml = lab("dumpxml-migratable-g1.xml").replace("<name>g1</name>", "<name>odd</name>").replace("qemu64", "bad model!");
    const { s } = source({ ...LAB_ANSWERS, "dumpxml --migratable odd": xml, "domstats --block --backing --raw odd": "" });
    const [v] = await s.vmFacts(["odd"]);
    expect(v).toMatchObject({ name: "odd", migratable: false, reasons: [{ code: "FACTS_TOO_LARGE" }] });
    expect(v!.reasons[0]!.detail).toContain("cpu.model");
  });

  it("propagates other virsh failures", async () => {
    const { s } = source({ ...LAB_ANSWERS, "dumpxml --migratable g1": new HypervisorError("cannot connect") });
    await expect(s.vmFacts(["g1"])).rejects.toThrow(/cannot connect/);
  });
});

describe("factsDigest", () => {
  it("is stable over key and VM order, and changes with the facts", async () => {
    const { s } = source(LAB_ANSWERS);
    const h = await s.hostFacts();
    const vms = await s.vmFacts(["g1", "g2"]);
    const d = factsDigest(h, vms);
    expect(d).toMatch(/^[0-9a-f]{16}$/);
    const reordered = JSON.parse(stableJson(h)) as HostFacts;
    expect(factsDigest(reordered, [...vms].reverse())).toBe(d);
    expect(factsDigest({ ...h, networks: [] }, vms)).not.toBe(d);
    expect(factsDigest(h, vms.slice(1))).not.toBe(d);
    expect(stableJson({ b: 1, a: [{ d: undefined, c: 2 }] })).toBe('{"a":[{"c":2}],"b":1}');
  });
});

describe("listLinuxBridges", () => {
  it("reads /sys/class/net (no bridge dir: none) and gives [] for a missing directory", async () => {
    const names = await listLinuxBridges();
    for (const n of names) expect(statSync(`/sys/class/net/${n}/bridge`).isDirectory()).toBe(true);
    expect(await listLinuxBridges("/nonexistent")).toEqual([]);
  });
});
