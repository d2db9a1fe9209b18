import type { LocalDisks, Policy } from "../../shared/config/policy.js";
import { DEST_FACTS_CODES, type DecisionCode } from "../../shared/schemas/decision-codes.js";
import { compareVersions, isLocalWritable, type HostFacts, type VmFacts } from "../../shared/schemas/facts.js";

export { isLocalWritable };
import type { Numbers } from "../../shared/schemas/plan.js";
import type { IncompatiblePair } from "../../shared/schemas/snapshot.js";

// Whether libvirt would accept a VM on a destination, from the facts the agents publish
// (shared/schemas/facts.ts). Pure, like the rest of the core; constraints.ts asks it after its
// cheap checks and before capacity, so refusals read in the same decision format.
//
// Speed (10,000 hosts, 200,000 VMs): the verdict of a destination depends on a few things only,
// and they repeat.
//  - Hosts whose facts are identical apart from the volatile free huge pages form one
//    compatibility CLASS (class 0: no facts). A cluster of 3-4 CPU generations with a few network
//    layouts has a handful of classes.
//  - VMs whose needs are identical share one REQUIREMENT: domain type and arch, machine type, CPU
//    definition, networks and bridges, the shared storage ROOTS their disks live under (not the
//    disk paths, which are unique per VM), the source's libvirt/QEMU versions, and for CPUs that
//    copy the host (host-passthrough, maximum, host-model without a model) the source's class.
//  - The verdict of (requirement, class) is computed once per plan and cached; ClusterModel groups
//    hosts by (capacity, class), so a destination search skips an incompatible group whole.
// Only huge pages, CPU pinning and pairs libvirt refused are judged per host, and only for the
// VMs they concern.

/** Destination refusals that come from the facts: they depend on the VM's requirements, not only on its size. */
export const FACTS_CODES: ReadonlySet<DecisionCode> = new Set<DecisionCode>(DEST_FACTS_CODES);

/** A VM's facts as the snapshot carries them (without its name). */
export type VmFactsIn = Omit<VmFacts, "name">;

/** Why a destination cannot take a VM; the message is built only when it is shown. */
export interface CompatRefusal {
  readonly code: DecisionCode;
  /** What is missing, short ("br-db", "avx512f, vmx-tsc-scaling"): the numbers' `missing`. */
  readonly missing: string;
  message(host: string, vm: string): string;
}

/** A host class: the facts every host of it shares, with sets for quick lookups. */
interface HostClass {
  readonly facts: HostFacts;
  readonly features: ReadonlySet<string>;
  readonly models: ReadonlySet<string>;
  readonly machines: ReadonlySet<string>;
  readonly networks: ReadonlySet<string>;
  readonly bridges: ReadonlySet<string>;
  readonly domainTypes: ReadonlySet<string>;
}

/** What a VM needs of any destination; shared by the VMs with identical needs. */
export interface Requirement {
  readonly index: number;
  readonly key: string;
  readonly domainType: string;
  readonly arch: string;
  readonly machine: string;
  readonly cpuMode: VmFactsIn["cpu"]["mode"];
  readonly cpuModel: string | undefined;
  readonly required: readonly string[];
  /** The source's class when the CPU copies the host's (passthrough, maximum, host-model without a model); else -1. */
  readonly sourceClass: number;
  readonly libvirt: string | undefined;
  readonly qemu: string | undefined;
  readonly networks: readonly string[];
  readonly bridges: readonly string[];
  readonly roots: readonly string[];
  /** The VmCompat of a VM with nothing of its own to check, shared. */
  readonly plain: VmCompat;
}

/** What the planner knows of one VM's migratability (null on VmModel: neither it nor its host has facts). */
export interface VmCompat {
  /** Null: its host has facts but the VM has none (VM_FACTS_UNKNOWN). */
  readonly req: Requirement | null;
  /** "pci 0000:3b:00.0; cdrom sdb ... is local" when the agent's verdict is not migratable, else null. */
  readonly unmigratable: string | null;
  readonly reasonCodes: string;
  /** Local writable disks: what a move copies (allocation, else virtual size), MiB. */
  readonly localDisks: number;
  readonly localDiskMiB: number;
  readonly localDiskList: string;
  /** Huge page size backing the guest, KiB (0: none) and the pages it needs. */
  readonly hugepageKiB: number;
  readonly hugePages: number;
  /** Host CPUs a destination needs for its pinning (0: not pinned). */
  readonly pinnedCpus: number;
}

const MIB = 1024 * 1024;
const NONE: readonly string[] = Object.freeze([]);
/** Disk types whose source is a path a destination must see too when the disk is shared. */
const PATH_DISKS: ReadonlySet<string> = new Set(["file", "block", "dir", "volume"]);
/** CPU modes that copy the source host's CPU: the destination needs the same CPU. */
const COPIES_HOST = (mode: string, model: string | undefined): boolean =>
  mode === "host-passthrough" || mode === "maximum" || (mode === "host-model" && model === undefined);

/** `path` is `root` or lies below it (no allocation: called for every shared disk of every VM). */
const under = (path: string, root: string): boolean =>
  path.startsWith(root) && (path.length === root.length || root.charCodeAt(root.length - 1) === 47 || path.charCodeAt(root.length) === 47);
const sortedUnique = (xs: Iterable<string>): readonly string[] => {
  const out = [...new Set(xs)].sort();
  return out.length === 0 ? NONE : out;
};

/** The policy's choice for one VM's local disks. */
export function localDisksFor(policy: Pick<Policy, "local_disks" | "local_disks_vms">, vm: string): LocalDisks {
  return policy.local_disks_vms[vm] ?? policy.local_disks;
}

export class Compatibility {
  /** Class 0 is "no facts"; class i > 0 has classes[i]. */
  private readonly classes: (HostClass | null)[] = [null];
  private readonly classByKey = new Map<string, number>();
  private readonly classKeys: string[] = [""];
  private readonly reqs: Requirement[] = [];
  private readonly reqByKey = new Map<string, Requirement>();
  /** Verdicts by requirement, then class: undefined until computed, null when compatible. */
  private readonly verdicts: (CompatRefusal | null | undefined)[][] = [];
  /** Pairs libvirt refused, by `${vm}\u0000${host}`. */
  readonly pairs: ReadonlyMap<string, IncompatiblePair>;

  constructor(incompatible: readonly IncompatiblePair[] | undefined) {
    const pairs = new Map<string, IncompatiblePair>();
    for (const p of incompatible ?? []) if (!pairs.has(pairKey(p.vm, p.destination))) pairs.set(pairKey(p.vm, p.destination), p);
    this.pairs = pairs;
  }

  /** Number of classes, "no facts" included. */
  get classCount(): number {
    return this.classes.length;
  }

  /** The class of a host's facts (0 without facts); equal facts, hugepage counts aside, give one class. */
  classOf(f: HostFacts | undefined): number {
    if (f === undefined) return 0;
    const c = f.cpu;
    const key = [
      c.arch,
      c.vendor ?? "",
      c.model ?? "",
      c.features.join(","),
      c.usableModels.join(","),
      f.domainTypes.join(","),
      f.libvirtVersion,
      f.qemuVersion ?? "",
      f.machineTypes.join(","),
      f.networks.join(","),
      f.bridges.join(","),
      f.sharedStorage.map((s) => s.path).join("\u0000"),
    ].join("|");
    let i = this.classByKey.get(key);
    if (i === undefined) {
      i = this.classes.length;
      this.classes.push({
        facts: f,
        features: new Set(c.features),
        models: new Set(c.usableModels),
        machines: new Set(f.machineTypes),
        networks: new Set(f.networks),
        bridges: new Set(f.bridges),
        domainTypes: new Set(f.domainTypes),
      });
      this.classByKey.set(key, i);
      this.classKeys.push(key);
    }
    return i;
  }

  /**
   * What the planner knows of a VM, or null when neither it nor its host has facts (nothing to
   * check). Called for every VM (200,000 on the benchmark): the requirement key is built by plain
   * concatenation, lists in the order the agent gave them (agents sort them; an unsorted list only
   * makes a second requirement with the same verdict), and the lists themselves are built once
   * per requirement. A VM with nothing of its own to check (migratable, no local disk, no huge
   * pages, no pinning) shares its requirement's VmCompat.
   */
  vmCompat(f: VmFactsIn | undefined, memMiB: number, src: HostFacts | undefined, srcClass: number): VmCompat | null {
    if (f === undefined) return src === undefined ? null : UNKNOWN;
    const mode = f.cpu.mode;
    const copies = COPIES_HOST(mode, f.cpu.model);
    let key = f.domainType + "|" + f.arch + "|" + f.machine + "|" + mode + "|" + (mode === "none" ? "" : (f.cpu.model ?? "")) + "|";
    if (!copies && mode !== "none") for (const x of f.cpu.required) key += x + ",";
    key += "|" + (copies ? srcClass : -1) + "|" + (src?.libvirtVersion ?? "") + "|" + (src?.qemuVersion ?? "") + "|";
    for (const n of f.interfaces)
      if (n.source !== undefined && (n.type === "network" || n.type === "bridge")) key += (n.type === "network" ? "n:" : "b:") + n.source + ",";
    key += "|";
    let localDisks = 0;
    let localBytes = 0;
    let list = "";
    for (const d of f.disks) {
      if (isLocalWritable(d)) {
        localDisks += 1;
        localBytes += d.allocationBytes ?? d.capacityBytes ?? 0;
        list += (list === "" ? "" : ", ") + d.target + " " + d.source!;
      } else if (d.shared && d.source !== undefined && d.source.startsWith("/") && PATH_DISKS.has(d.type)) key += rootOf(d.source, src) + "\u0000";
    }
    const req = this.reqByKey.get(key) ?? this.requirement(key, f, src, srcClass, copies);
    if (f.migratable && localDisks === 0 && f.hugepageKiB === undefined && f.pinnedCpus === undefined) return req.plain;
    const hugepageKiB = f.hugepageKiB ?? 0;
    return {
      req,
      unmigratable: f.migratable ? null : f.reasons.length > 0 ? f.reasons.map((x) => x.detail).join("; ") : "its agent's verdict is not migratable",
      reasonCodes: f.reasons.map((x) => x.code).join(","),
      localDisks,
      localDiskMiB: localBytes / MIB,
      localDiskList: list,
      hugepageKiB,
      hugePages: hugepageKiB > 0 ? Math.ceil((memMiB * 1024) / hugepageKiB) : 0,
      pinnedCpus: f.pinnedCpus ?? 0,
    };
  }

  /** A new requirement, numbered in order of first use. */
  private requirement(key: string, f: VmFactsIn, src: HostFacts | undefined, srcClass: number, copies: boolean): Requirement {
    const networks: string[] = [];
    const bridges: string[] = [];
    for (const n of f.interfaces) {
      if (n.source === undefined) continue;
      if (n.type === "network") networks.push(n.source);
      else if (n.type === "bridge") bridges.push(n.source);
    }
    const roots: string[] = [];
    for (const d of f.disks)
      if (!isLocalWritable(d) && d.shared && d.source !== undefined && d.source.startsWith("/") && PATH_DISKS.has(d.type)) roots.push(rootOf(d.source, src));
    const req: Requirement = {
      index: this.reqs.length,
      key,
      domainType: f.domainType,
      arch: f.arch,
      machine: f.machine,
      cpuMode: f.cpu.mode,
      cpuModel: f.cpu.mode === "none" ? undefined : f.cpu.model,
      required: copies || f.cpu.mode === "none" ? NONE : sortedUnique(f.cpu.required),
      sourceClass: copies ? srcClass : -1,
      libvirt: src?.libvirtVersion,
      qemu: src?.qemuVersion,
      networks: sortedUnique(networks),
      bridges: sortedUnique(bridges),
      roots: sortedUnique(roots),
      plain: null as unknown as VmCompat,
    };
    (req as { plain: VmCompat }).plain = Object.freeze({ ...UNKNOWN, req });
    this.reqByKey.set(key, req);
    this.reqs.push(req);
    this.verdicts.push([]);
    return req;
  }

  /** Feeds every class and requirement key, in the order they were numbered, to a plan id. */
  hashInto(h: { str(s: string): unknown; num(n: number): unknown }): void {
    h.num(this.classKeys.length);
    for (const k of this.classKeys) h.str(k);
    h.num(this.reqs.length);
    for (const r of this.reqs) h.str(r.key);
  }

  /** The verdict of a whole class for a requirement (cached): null when every host of it is compatible. */
  classVerdict(req: Requirement, cls: number): CompatRefusal | null {
    const row = this.verdicts[req.index]!;
    let v = row[cls];
    if (v === undefined) row[cls] = v = this.judge(req, cls);
    return v;
  }

  private judge(r: Requirement, cls: number): CompatRefusal | null {
    const c = this.classes[cls];
    if (!c) return refusal("DEST_FACTS_UNKNOWN", "", (h) => `host ${h}'s facts are not known (its agent has not sent them)`);
    const f = c.facts;
    if (!c.domainTypes.has(r.domainType) || f.cpu.arch !== r.arch) {
      const missing = !c.domainTypes.has(r.domainType) ? r.domainType : r.arch;
      return refusal(
        "DEST_DOMAIN_TYPE",
        missing,
        (h, vm) => `${h} cannot run ${vm}'s ${r.domainType} ${r.arch} domain (it offers ${f.domainTypes.join(", ") || "none"} on ${f.cpu.arch})`,
      );
    }
    const cpu = this.judgeCpu(r, c);
    if (cpu) return cpu;
    if (!c.machines.has(r.machine)) return refusal("DEST_MACHINE_MISSING", r.machine, (h, vm) => `${h} lacks machine type ${r.machine} that ${vm} uses`);
    if (r.libvirt !== undefined && compareVersions(f.libvirtVersion, r.libvirt) < 0)
      return refusal("DEST_VERSION_OLDER", `libvirt ${r.libvirt}`, (h) => `${h} runs libvirt ${f.libvirtVersion}, older than the source's ${r.libvirt!}`);
    if (r.qemu !== undefined && f.qemuVersion !== undefined && compareVersions(f.qemuVersion, r.qemu) < 0)
      return refusal("DEST_VERSION_OLDER", `qemu ${r.qemu}`, (h) => `${h} runs QEMU ${f.qemuVersion!}, older than the source's ${r.qemu!}`);
    const nets = r.networks.filter((n) => !c.networks.has(n));
    const brs = r.bridges.filter((b) => !c.bridges.has(b));
    if (nets.length > 0 || brs.length > 0) {
      const missing = [...nets, ...brs].join(", ");
      const what = [nets.length > 0 ? `network ${nets.join(", ")}` : "", brs.length > 0 ? `bridge ${brs.join(", ")}` : ""].filter((x) => x).join(" and ");
      return refusal("DEST_NETWORK_MISSING", missing, (h, vm) => `${h} lacks ${what} (${vm} is attached to it)`);
    }
    const roots = r.roots.filter((root) => !f.sharedStorage.some((s) => under(root, s.path)));
    if (roots.length > 0)
      return refusal(
        "DEST_STORAGE_MISSING",
        roots.join(", "),
        (h, vm) => `${h} does not list ${roots.join(", ")} as shared storage (${vm} has shared disks there)`,
      );
    return null;
  }

  private judgeCpu(r: Requirement, c: HostClass): CompatRefusal | null {
    if (r.cpuMode === "none") return null;
    if (r.sourceClass >= 0) {
      // The guest sees the source host's CPU: the destination must have that CPU, features and all.
      const s = this.classes[r.sourceClass];
      if (!s)
        return refusal("DEST_CPU_INCOMPATIBLE", "source CPU", (h, vm) => `${vm} uses ${r.cpuMode} and its source's CPU is not known: ${h} cannot be judged`);
      const want = `${s.facts.cpu.vendor ?? "?"} ${s.facts.cpu.model ?? "?"}`;
      const have = `${c.facts.cpu.vendor ?? "?"} ${c.facts.cpu.model ?? "?"}`;
      if (want !== have) return refusal("DEST_CPU_INCOMPATIBLE", want, (h, vm) => `${h} has a ${have} CPU; ${vm} (${r.cpuMode}) runs on ${want}`);
      const lacks = s.facts.cpu.features.filter((x) => !c.features.has(x));
      if (lacks.length > 0)
        return refusal("DEST_CPU_INCOMPATIBLE", lacks.join(", "), (h, vm) => `${h} lacks ${lacks.join(", ")} (${vm} uses ${r.cpuMode} on a ${want} with them)`);
      return null;
    }
    const model = r.cpuModel !== undefined && !c.models.has(r.cpuModel) ? r.cpuModel : null;
    const lacks = r.required.filter((x) => !c.features.has(x));
    if (model === null && lacks.length === 0) return null;
    const missing = [...(model !== null ? [model] : []), ...lacks].join(", ");
    return refusal("DEST_CPU_INCOMPATIBLE", missing, (h, vm) =>
      model !== null
        ? `${h} cannot run CPU model ${model} (${vm}'s)${lacks.length > 0 ? ` and lacks ${lacks.join(", ")}` : ""}`
        : `${h} lacks ${lacks.join(", ")} (CPU features ${vm} requires)`,
    );
  }
}

/** The VM has no facts while its host has: nothing can be judged. */
const UNKNOWN: VmCompat = Object.freeze({
  req: null,
  unmigratable: null,
  reasonCodes: "",
  localDisks: 0,
  localDiskMiB: 0,
  localDiskList: "",
  hugepageKiB: 0,
  hugePages: 0,
  pinnedCpus: 0,
});

export const pairKey = (vm: string, host: string): string => `${vm}\u0000${host}`;

function refusal(code: DecisionCode, missing: string, message: (host: string, vm: string) => string): CompatRefusal {
  return { code, missing, message };
}

/**
 * The shared storage root a shared disk lives under: the longest of its source host's shared
 * paths that holds it, else the disk's path itself. A destination must list that root or a
 * directory above it: conservative where a destination mounts only a subdirectory of the source's
 * root (it is refused though it would see the disk), exact otherwise, and it lets VMs on one share
 * share a requirement.
 */
function rootOf(path: string, src: HostFacts | undefined): string {
  let best: string | null = null;
  for (const s of src?.sharedStorage ?? []) if (under(path, s.path) && (best === null || s.path.length > best.length)) best = s.path;
  return best ?? path;
}

/** Refusal numbers: what is missing, for decisions. */
export function refusalNumbers(r: CompatRefusal): Numbers {
  return r.missing === "" ? {} : { missing: r.missing };
}

/** The parts of a host and a VM the per-destination check reads (HostModel, VmModel). */
interface DestSide {
  readonly id: string;
  readonly cpus: number;
  readonly compatClass: number;
  readonly hugeFree: ReadonlyMap<number, number> | null;
}
interface VmSide {
  readonly name: string;
  readonly compat: VmCompat | null;
}

/**
 * May this host take this VM as far as the facts go? The class verdict (cached), then what only
 * the host says: free huge pages, CPUs for the pinning, and a pair libvirt refused before.
 */
export function destinationRefusal(c: Compatibility, vm: VmSide, h: DestSide): CompatRefusal | null {
  const f = vm.compat;
  if (f !== null && f.req !== null) {
    const v = c.classVerdict(f.req, h.compatClass);
    if (v) return v;
    if (f.hugePages > 0) {
      const free = h.hugeFree?.get(f.hugepageKiB) ?? 0;
      if (free < f.hugePages)
        return refusal(
          "DEST_HUGEPAGES",
          `${f.hugepageKiB} KiB`,
          (id, n) => `${id} has ${free} free huge pages of ${f.hugepageKiB} KiB; ${n} needs ${f.hugePages}`,
        );
    }
    if (f.pinnedCpus > h.cpus)
      return refusal("DEST_PINNING", `${f.pinnedCpus} CPUs`, (id, n) => `${id} has ${h.cpus} CPUs; ${n} is pinned to host CPUs up to ${f.pinnedCpus - 1}`);
  }
  if (c.pairs.size > 0) {
    const p = c.pairs.get(pairKey(vm.name, h.id));
    if (p) return refusal("DEST_PAIR_INCOMPATIBLE", "", (id, n) => `libvirt refused ${n} on ${id}: ${p.error}`);
  }
  return null;
}
