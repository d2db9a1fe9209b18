import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { systemClock } from "../../../agent/ports/clock.js";
import { poolNameFor } from "../../../agent/virsh/storage-pools.js";
import { VirshHypervisor } from "../../../agent/virsh/virsh-hypervisor.js";
import type { VirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { HypervisorError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";
import type { CheckIncomingRequest } from "../../../shared/schemas/agent-api.js";
import type { VmDisk } from "../../../shared/schemas/facts.js";

// The destination's libvirt checks, against a stand-in virsh that keeps a small libvirt state
// (pools, volumes, networks, domains) and answers as libvirt 9.0 did in the lab (its words
// captured there: hypervisor-cpu-compare, net-info, vol-info, pool-create-as).

interface World {
  pools: Map<string, { target: string; active: boolean; vols: Set<string> }>;
  networks: Map<string, boolean>;
  domains: string[];
  /** What hypervisor-cpu-compare says: stdout, or an error (as virsh --error prints it). */
  cpu: { stdout: string } | { error: string };
}

function standIn(world: World) {
  const calls: string[][] = [];
  const files: Array<{ text: string; mode: number; path: string }> = [];
  const opt = (args: readonly string[], name: string) => args[args.indexOf(name) + 1]!;
  const runner: VirshRunner = {
    commandLine: (args) => ["virsh", ...args],
    async run(args) {
      calls.push([...args]);
      const [cmd] = args;
      const out = (stdout: string) => ({ stdout, stderr: "" });
      switch (cmd) {
        case "hypervisor-cpu-compare":
        case "hypervisor-cpu-baseline": {
          const path = opt(args, "--file");
          files.push({ path, text: readFileSync(path, "utf8"), mode: statSync(path).mode & 0o777 });
          if (cmd === "hypervisor-cpu-baseline")
            return out(
              "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>Haswell</model>\n  <feature policy='require' name='x2apic'/>\n  <feature policy='disable' name='pni'/>\n</cpu>\n",
            );
          if ("error" in world.cpu) throw new HypervisorError(`Failed to compare hypervisor CPU with ${path}; ${world.cpu.error}`);
          return out(`${world.cpu.stdout} ${path}\n`);
        }
        case "net-info": {
          const name = opt(args, "--network");
          const active = world.networks.get(name);
          if (active === undefined) throw new HypervisorError(`failed to get network '${name}'; Network not found: no network with matching name '${name}'`);
          return out(`Name:           ${name}\nActive:         ${active ? "yes" : "no"}\n`);
        }
        case "pool-list": {
          const names = [...world.pools].filter(([, p]) => args.includes("--all") || p.active).map(([n]) => `${n}    `);
          return out(`${names.join("\n")}\n\n`);
        }
        case "pool-dumpxml":
          return out(
            `<pool type='dir'>\n  <name>${opt(args, "--pool")}</name>\n  <target>\n    <path>${world.pools.get(opt(args, "--pool"))!.target}</path>\n  </target>\n</pool>\n`,
          );
        case "pool-create-as": {
          const target = opt(args, "--target");
          for (const [n, p] of world.pools) if (p.target === target) throw new HypervisorError(`operation failed: Storage source conflict with pool: '${n}'`);
          world.pools.set(opt(args, "--name"), { target, active: true, vols: new Set() });
          return out("");
        }
        case "pool-start":
          world.pools.get(opt(args, "--pool"))!.active = true;
          return out("");
        case "pool-refresh":
          return out("");
        case "vol-info":
        case "vol-delete": {
          const pool = world.pools.get(opt(args, "--pool"))!;
          const vol = opt(args, "--vol");
          if (!pool.vols.has(vol))
            throw new HypervisorError(`failed to get vol '${vol}'; Storage volume not found: no storage vol with matching name '${vol}'`);
          if (cmd === "vol-delete") pool.vols.delete(vol);
          return out(`Name:           ${vol}\nType:           file\n`);
        }
        case "list":
          return out(`${world.domains.join("\n")}\n\n`);
        case "migrate-postcopy":
          return out("");
        default:
          throw new Error(`unexpected virsh ${args.join(" ")}`);
      }
    },
  };
  return { runner, calls, files };
}

const world = (over: Partial<World> = {}): World => ({
  pools: new Map(),
  networks: new Map([["default", true]]),
  domains: [],
  cpu: { stdout: "The CPU provided by hypervisor on the host is a superset of CPU described in" },
  ...over,
});

const hv = (runner: VirshRunner) => new VirshHypervisor({ runner, migration: MigrationSettings.parse({}), clock: systemClock, logger: silentLogger() });

const IMAGES = "/var/lib/libvirt/images";
const disk = (over: Partial<VmDisk> = {}): VmDisk => ({
  target: "vda",
  device: "disk",
  type: "file",
  source: `${IMAGES}/db1-vda.qcow2`,
  format: "qcow2",
  readonly: false,
  shared: false,
  backingChain: false,
  allocationBytes: 1 << 20,
  ...over,
});
const CPU_XML = "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>";
const request = (over: Partial<CheckIncomingRequest["facts"]> = {}, copyStorage = false): CheckIncomingRequest => ({
  vm: "db1",
  source: "hv-a",
  memMiB: 128,
  copyStorage,
  facts: {
    domainType: "qemu",
    arch: "x86_64",
    machine: "pc-i440fx-7.2",
    cpu: { mode: "custom", model: "qemu64", required: [], disabled: [], xml: CPU_XML },
    disks: [],
    interfaces: [{ type: "network", source: "default" }],
    hostdevs: [],
    migratable: true,
    reasons: [],
    ...over,
  },
});

describe("VirshHypervisor.checkIncoming (the destination's libvirt)", () => {
  it("passes a CPU libvirt finds compatible; the CPU goes to virsh in a private 0600 file that is removed afterwards", async () => {
    const s = standIn(world());
    expect(await hv(s.runner).checkIncoming(request())).toEqual([]);
    const compare = s.calls.find((c) => c[0] === "hypervisor-cpu-compare")!;
    expect(compare).toEqual(["hypervisor-cpu-compare", "--file", s.files[0]!.path, "--virttype", "qemu", "--arch", "x86_64", "--error"]);
    expect(s.files[0]).toMatchObject({ text: CPU_XML, mode: 0o600 });
    expect(statSync(dirname(s.files[0]!.path), { throwIfNoEntry: false })).toBeUndefined();
    expect(existsSync(s.files[0]!.path)).toBe(false);
  });

  it("refuses an incompatible CPU in libvirt's own words (without virsh's line naming the temporary file)", async () => {
    const s = standIn(
      world({
        cpu: {
          error:
            "the CPU is incompatible with host CPU: Host CPU does not provide required features: vme, pcid, x2apic, tsc-deadline, hle, invpcid, rtm, avx512f",
        },
      }),
    );
    const r = await hv(s.runner).checkIncoming(request());
    expect(r).toEqual([
      {
        code: "CPU",
        message:
          "hypervisor-cpu-compare: the CPU is incompatible with host CPU: Host CPU does not provide required features: vme, pcid, x2apic, tsc-deadline, hle, invpcid, rtm, avx512f",
      },
    ]);
    const unknown = standIn(world({ cpu: { error: "internal error: Unknown CPU model NoSuchModel" } }));
    expect(await hv(unknown.runner).checkIncoming(request())).toEqual([
      { code: "CPU", message: "hypervisor-cpu-compare: internal error: Unknown CPU model NoSuchModel" },
    ]);
    // A guest without a <cpu> element is not compared.
    const none = standIn(world());
    expect(await hv(none.runner).checkIncoming(request({ cpu: { mode: "none", required: [], disabled: [] } }))).toEqual([]);
    expect(none.calls.some((c) => c[0] === "hypervisor-cpu-compare")).toBe(false);
  });

  it("refuses a missing or inactive network with libvirt's words", async () => {
    const s = standIn(
      world({
        networks: new Map([
          ["default", true],
          ["db-net", false],
        ]),
      }),
    );
    const r = await hv(s.runner).checkIncoming(
      request({
        interfaces: [
          { type: "network", source: "default" },
          { type: "network", source: "db-net" },
          { type: "network", source: "br-gone" },
          { type: "bridge", source: "br0" },
        ],
      }),
    );
    expect(r).toEqual([
      { code: "NETWORK", message: "network db-net exists but is not active" },
      { code: "NETWORK", message: "network br-gone: failed to get network 'br-gone'; Network not found: no network with matching name 'br-gone'" },
    ]);
  });

  it("copyStorage: creates a transient pool over each local disk's directory so libvirt precreates it, and refuses a path that exists (DISK_EXISTS)", async () => {
    const w = world();
    const s = standIn(w);
    const req = request({ disks: [disk(), disk({ target: "hdc", device: "cdrom", readonly: true, source: `${IMAGES}/boot.iso` })] }, true);
    expect(await hv(s.runner).checkIncoming(req)).toEqual([]);
    const pool = poolNameFor(IMAGES);
    expect(s.calls).toContainEqual(["pool-create-as", "--name", pool, "--type", "dir", "--target", IMAGES]);
    expect(s.calls).toContainEqual(["pool-refresh", "--pool", pool]);
    // Again: the pool is reused, not created twice; now the file is there.
    w.pools.get(pool)!.vols.add("db1-vda.qcow2");
    const again = standIn(w);
    expect(await hv(again.runner).checkIncoming(req)).toEqual([
      { code: "DISK_EXISTS", message: `local disk vda: ${IMAGES}/db1-vda.qcow2 already exists on this host; a copy would overwrite it` },
    ]);
    expect(again.calls.some((c) => c[0] === "pool-create-as")).toBe(false);
    // Without copyStorage the local disk is not the destination's business (the source refuses).
    expect(await hv(standIn(w).runner).checkIncoming(request({ disks: [disk()] }, false))).toEqual([]);
  });

  it("copyStorage: starts an inactive pool that covers the directory instead of creating another", async () => {
    const w = world({ pools: new Map([["images", { target: IMAGES, active: false, vols: new Set<string>() }]]) });
    const s = standIn(w);
    expect(await hv(s.runner).checkIncoming(request({ disks: [disk()] }, true))).toEqual([]);
    expect(s.calls).toContainEqual(["pool-start", "--pool", "images"]);
    expect(s.calls.some((c) => c[0] === "pool-create-as")).toBe(false);
  });

  it("copyStorage: refuses what libvirt cannot precreate (block devices, other formats, backing chains)", async () => {
    const s = standIn(world());
    const r = await hv(s.runner).checkIncoming(
      request(
        {
          disks: [
            disk({ type: "block", source: "/dev/vg0/db1" }),
            disk({ target: "vdb", format: "vmdk", source: `${IMAGES}/x.vmdk` }),
            disk({ target: "vdc", backingChain: true, source: `${IMAGES}/overlay.qcow2` }),
          ],
        },
        true,
      ),
    );
    expect(r.map((x) => [x.code, x.message.split(" ").slice(0, 3).join(" ")])).toEqual([
      ["STORAGE", "local disk vda"],
      ["STORAGE", "local disk vdb"],
      ["STORAGE", "local disk vdc"],
    ]);
  });

  it("a shared disk must be visible here (through a pool over its directory)", async () => {
    const w = world({ pools: new Map([["nfs", { target: "/mnt/nfs", active: true, vols: new Set(["a.qcow2"]) }]]) });
    const shared = (name: string) => disk({ shared: true, source: `/mnt/nfs/${name}` });
    expect(await hv(standIn(w).runner).checkIncoming(request({ disks: [shared("a.qcow2")] }))).toEqual([]);
    expect(await hv(standIn(w).runner).checkIncoming(request({ disks: [shared("b.qcow2")] }))).toEqual([
      { code: "STORAGE", message: "shared disk vda: /mnt/nfs/b.qcow2 is not there on this host" },
    ]);
  });
});

describe("VirshHypervisor: removeDisks, cpuBaseline, startPostcopy", () => {
  it("removeDisks refuses while the VM is defined here; otherwise deletes through a pool and says what was not there", async () => {
    const w = world({ pools: new Map([["images", { target: IMAGES, active: true, vols: new Set(["db1-vda.qcow2"]) }]]), domains: ["db1"] });
    await expect(hv(standIn(w).runner).removeDisks("db1", [`${IMAGES}/db1-vda.qcow2`])).rejects.toMatchObject({ code: "VM_STILL_DEFINED" });
    expect(w.pools.get("images")!.vols.has("db1-vda.qcow2")).toBe(true);
    w.domains = [];
    const s = standIn(w);
    expect(await hv(s.runner).removeDisks("db1", [`${IMAGES}/db1-vda.qcow2`, `${IMAGES}/gone.qcow2`])).toEqual({
      vm: "db1",
      removed: [`${IMAGES}/db1-vda.qcow2`],
      kept: [{ path: `${IMAGES}/gone.qcow2`, reason: "not there" }],
    });
    expect(s.calls).toContainEqual(["vol-delete", "--pool", "images", "--vol", "db1-vda.qcow2"]);
  });

  it("cpuBaseline hands virsh the <cpu> elements one after another and returns model and required features", async () => {
    const s = standIn(world());
    const a = "<cpu mode='custom' match='exact'><model>Haswell</model></cpu>";
    const b = "<?xml version='1.0'?>\n<cpu mode='custom' match='exact'><model>Skylake-Client</model></cpu>";
    expect(await hv(s.runner).cpuBaseline([a, b])).toEqual({
      xml: "<cpu mode='custom' match='exact'>\n  <model fallback='forbid'>Haswell</model>\n  <feature policy='require' name='x2apic'/>\n  <feature policy='disable' name='pni'/>\n</cpu>",
      model: "Haswell",
      features: ["x2apic"],
    });
    expect(s.files[0]!.text).toBe(`${a}\n<cpu mode='custom' match='exact'><model>Skylake-Client</model></cpu>\n`);
  });

  it("startPostcopy runs virsh migrate-postcopy", async () => {
    const s = standIn(world());
    await hv(s.runner).startPostcopy("web1");
    expect(s.calls).toEqual([["migrate-postcopy", "--domain", "web1"]]);
  });
});
