import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FactsSettings, MigrationSettings } from "../../shared/config/agent-config.js";
import { describeError, HypervisorError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { HostFacts, VmFacts, type SharedStorage, type UnmigratableReason, type VmDisk } from "../../shared/schemas/facts.js";
import { parseBlockStats, parseBlockStatsAll, type BlockInfo } from "../virsh/parse-block-stats.js";
import { parseCapabilities } from "../virsh/parse-capabilities.js";
import { parseCpuBaseline } from "../virsh/parse-cpu-baseline.js";
import { parseDomainXml, type DomainDisk, type DomainXmlFacts } from "../virsh/parse-domain-xml.js";
import { isNoSuchDomain } from "../virsh/parse-domstate.js";
import { parseDomcapabilities, type DomainCapabilities } from "../virsh/parse-domcapabilities.js";
import { parseFreepages } from "../virsh/parse-freepages.js";
import { parseNameList } from "../virsh/parse-name-list.js";
import { parseVersion } from "../virsh/parse-version.js";
import type { VirshRunner } from "../virsh/virsh-runner.js";
import { configuredStorage, isShared, localMountPoints, mergeStorage, parseMounts, sharedMounts } from "./shared-storage.js";
import { vmVerdict } from "./vm-verdict.js";

// The agent's facts from its own libvirt: the host's (CPU, versions, machine types, networks,
// bridges, shared storage, huge pages) and its VMs' (definition and verdict). Every list is cut to
// the schema's bound rather than failing: a VM whose facts do not fit is reported not migratable
// (FACTS_TOO_LARGE), never left out and never a crash.

export interface FactsSource {
  hostFacts(): Promise<HostFacts>;
  /** Facts of the named VMs that still exist, sorted by name (a VM gone meanwhile is left out). */
  vmFacts(names: readonly string[]): Promise<VmFacts[]>;
}

export interface VirshFactsSourceOptions {
  runner: VirshRunner;
  settings: FactsSettings;
  migration: MigrationSettings;
  logger: Logger;
  /** The mount table's text; default: /proc/mounts. */
  readMounts?: () => Promise<string>;
  /** Bridges present on the host; default: Linux bridges from /sys/class/net (see listLinuxBridges). */
  listBridges?: () => Promise<string[]>;
  /**
   * Whether KVM really works here; default: /dev/kvm exists and, on x86, the CPU flags have vmx
   * or svm. libvirt cannot tell: on the lab machine /dev/kvm exists (a paravirtual KVM) and
   * libvirt offers domain type kvm with a host-passthrough CPU, but no guest runs under it.
   */
  kvmUsable?: () => Promise<boolean>;
}

/** VMs read at once by vmFacts: each costs a dumpxml and a domstats. */
export const VM_CONCURRENCY = 4;

const CPU_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$/;
const LIMITS = { features: 1024, models: 512, machines: 512, names: 1024, storage: 256, disks: 64, interfaces: 64, hostdevs: 64, xml: 65_536 };

interface HostContext {
  facts: HostFacts;
  localMounts: string[];
}

export class VirshFactsSource implements FactsSource {
  private readonly runner: VirshRunner;
  private readonly settings: FactsSettings;
  private readonly migration: MigrationSettings;
  private readonly logger: Logger;
  private readonly readMounts: () => Promise<string>;
  private readonly listBridges: () => Promise<string[]>;
  private readonly kvmUsable: () => Promise<boolean>;
  private last: HostContext | undefined;

  constructor(o: VirshFactsSourceOptions) {
    this.runner = o.runner;
    this.settings = o.settings;
    this.migration = o.migration;
    this.logger = o.logger;
    this.readMounts = o.readMounts ?? (() => readFile("/proc/mounts", "utf8"));
    this.listBridges = o.listBridges ?? (() => listLinuxBridges());
    this.kvmUsable = o.kvmUsable ?? (() => kvmWorks());
  }

  async hostFacts(): Promise<HostFacts> {
    const ctx = await this.readHost();
    this.last = ctx;
    return ctx.facts;
  }

  async vmFacts(names: readonly string[]): Promise<VmFacts[]> {
    const host = this.last ?? (await this.readHost());
    this.last = host;
    const out: VmFacts[] = [];
    const queue = [...new Set(names)];
    // Several VMs: their block stats in one virsh call for all domains, not one each (at 200 VMs
    // the one-each way spawned 400 processes, and the agent kept ~10 MiB more resident after).
    // A VM missing from it (defined meanwhile) is asked alone, and so is every VM when the call
    // fails (it waits for domains busy with a job, such as an incoming migration, up to
    // virsh.timeout).
    const blocks =
      queue.length > 1
        ? await this.virsh(["domstats", "--block", "--backing", "--raw"]).then(parseBlockStatsAll, (e: unknown) => {
            this.logger.debug({ err: describeError(e) }, "block stats of all domains failed; asking each VM");
            return undefined;
          })
        : undefined;
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const f = await this.oneVm(name, host, blocks?.get(name));
        if (f) out.push(f);
      }
    };
    await Promise.all(Array.from({ length: Math.min(VM_CONCURRENCY, queue.length) }, worker));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async virsh(args: string[]): Promise<string> {
    return (await this.runner.run(args)).stdout;
  }

  private async readHost(): Promise<HostContext> {
    const [capsXml, versionText, netText, freeText, mountsText, bridges, kvm] = await Promise.all([
      this.virsh(["capabilities"]),
      this.virsh(["version"]),
      this.virsh(["net-list", "--name"]),
      // No huge page support (some kernels, containers) is not an error: no huge pages.
      this.virsh(["freepages", "--all"]).catch((e: unknown) => {
        this.logger.debug({ err: e }, "virsh freepages failed; reporting no huge pages");
        return "";
      }),
      this.settings.detect_mounts ? this.readMounts() : Promise.resolve(""),
      this.listBridges(),
      this.kvmUsable(),
    ]);
    const caps = parseCapabilities(capsXml);
    const versions = parseVersion(versionText);
    const domainTypes = caps.domainTypes.filter((t) => t !== "kvm" || kvm);
    const virtType = domainTypes.includes("kvm") ? "kvm" : "qemu";
    const domcaps = parseDomcapabilities(await this.virsh(["domcapabilities", "--virttype", virtType]));
    const features = await this.hostFeatures(domcaps, caps.features, virtType);
    const mounts = parseMounts(mountsText);
    const sharedStorage = mergeStorage(configuredStorage(this.settings.shared_paths), sharedMounts(mounts));
    const model = domcaps.hostModel?.model ?? caps.model;
    const vendor = domcaps.hostModel?.vendor ?? caps.vendor;
    const facts: HostFacts = {
      cpu: {
        arch: caps.arch.slice(0, 32),
        ...(vendor ? { vendor: vendor.slice(0, 64) } : {}),
        ...(model && CPU_NAME.test(model) ? { model } : {}),
        features: fit(
          features.filter((f) => CPU_NAME.test(f)),
          LIMITS.features,
          "host CPU features",
          this.logger,
        ),
        usableModels: fit(
          domcaps.usableModels.filter((m) => CPU_NAME.test(m)),
          LIMITS.models,
          "usable CPU models",
          this.logger,
        ),
        ...(domcaps.hostModel && domcaps.hostModel.xml.length <= LIMITS.xml ? { hostModelXml: domcaps.hostModel.xml } : {}),
      },
      domainTypes: domainTypes.filter((t) => t.length <= 16).slice(0, 8),
      libvirtVersion: versions.libvirt,
      ...(versions.qemu ? { qemuVersion: versions.qemu } : {}),
      machineTypes: fit(
        caps.machineTypes.filter((m) => DEVICE_NAME.test(m)),
        LIMITS.machines,
        "machine types",
        this.logger,
      ),
      networks: fit(
        parseNameList(netText).filter((n) => DEVICE_NAME.test(n)),
        LIMITS.names,
        "networks",
        this.logger,
      ),
      bridges: fit([...new Set(bridges)].filter((b) => DEVICE_NAME.test(b)).sort(), LIMITS.names, "bridges", this.logger),
      sharedStorage: fit(sharedStorage, LIMITS.storage, "shared storage entries", this.logger),
      hugepages: parseFreepages(freeText).slice(0, 8),
    };
    return { facts: HostFacts.parse(facts), localMounts: localMountPoints(mounts) };
  }

  /**
   * Every feature the host offers a guest: the host-model CPU expanded by
   * `virsh hypervisor-cpu-baseline --features` (works under TCG too, checked on the lab with
   * libvirt 9.0 / QEMU 7.2). If that fails, the host-model's required features plus the
   * features `virsh capabilities` lists beyond the host's model: what is lost are the features
   * the model itself implies (sse2, ...), so a destination check on this list alone would miss
   * them; the planner then relies on the usable models and hypervisor-cpu-compare.
   */
  private async hostFeatures(domcaps: DomainCapabilities, capsFeatures: readonly string[], virtType: string): Promise<string[]> {
    const hm = domcaps.hostModel;
    if (!hm) return [...capsFeatures];
    const dir = await mkdtemp(join(tmpdir(), "ballast-facts-"));
    try {
      const file = join(dir, "host-model.xml");
      await writeFile(file, `${hm.xml}\n`, { mode: 0o600 });
      const out = await this.virsh(["hypervisor-cpu-baseline", "--virttype", virtType, "--features", file]);
      return parseCpuBaseline(out).features;
    } catch (e) {
      this.logger.warn({ err: e }, "virsh hypervisor-cpu-baseline --features failed; host CPU features are the host-model's only");
      return [...new Set([...hm.required, ...capsFeatures])].sort();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async oneVm(name: string, host: HostContext, known?: Map<string, BlockInfo>): Promise<VmFacts | undefined> {
    let xml: string;
    let blocks: Map<string, BlockInfo>;
    try {
      xml = await this.virsh(["dumpxml", "--migratable", name]);
      blocks = known ?? parseBlockStats(await this.virsh(["domstats", "--block", "--backing", "--raw", name]));
    } catch (e) {
      if (e instanceof HypervisorError && isNoSuchDomain(e.message)) {
        this.logger.debug({ vm: name }, "VM gone while reading its facts; left out");
        return undefined;
      }
      throw e;
    }
    return buildVmFacts(parseDomainXml(xml), blocks, host.facts, host.localMounts, this.migration, this.logger);
  }
}

/** A VM's facts from its parsed XML and block stats, with shared/local per disk and the verdict; always valid for the schema. */
export function buildVmFacts(
  d: DomainXmlFacts,
  blocks: ReadonlyMap<string, BlockInfo>,
  host: Pick<HostFacts, "sharedStorage" | "qemuVersion">,
  localMounts: readonly string[],
  migration: Pick<MigrationSettings, "uri_scheme" | "extra_args">,
  logger?: Logger,
): VmFacts {
  const tooLarge: UnmigratableReason[] = [];
  const cut = <T>(xs: readonly T[], max: number, what: string): T[] => {
    if (xs.length > max) tooLarge.push({ code: "FACTS_TOO_LARGE", detail: `${xs.length} ${what}, more than the ${max} reported` });
    return xs.slice(0, max);
  };
  const disks = cut(d.disks, LIMITS.disks, "disks").map((k) => vmDisk(k, blocks.get(k.target), host.sharedStorage, localMounts));
  const cpuLists = [d.cpu.required, d.cpu.disabled].map((l) => cut(l, LIMITS.features, "CPU features"));
  const xmlFits = d.cpu.xml === undefined || d.cpu.xml.length <= LIMITS.xml;
  if (!xmlFits) tooLarge.push({ code: "FACTS_TOO_LARGE", detail: `<cpu> element of ${d.cpu.xml!.length} characters` });
  const draft = {
    name: d.name,
    domainType: d.domainType,
    arch: d.arch,
    machine: d.machine,
    cpu: { ...d.cpu, required: cpuLists[0]!, disabled: cpuLists[1]! },
    disks,
    interfaces: cut(d.interfaces, LIMITS.interfaces, "interfaces"),
    hostdevs: cut(d.hostdevs, LIMITS.hostdevs, "host devices").map((h) => h.slice(0, 128)),
    ...(d.pinnedCpus !== undefined ? { pinnedCpus: d.pinnedCpus } : {}),
    ...(d.hugepageKiB !== undefined ? { hugepageKiB: d.hugepageKiB } : {}),
  };
  if (!xmlFits) delete draft.cpu.xml;
  const verdict = vmVerdict(
    {
      vm: draft,
      sharedStorage: host.sharedStorage,
      ...(host.qemuVersion ? { qemuVersion: host.qemuVersion } : {}),
      vhostUserInterfaces: d.vhostUserInterfaces,
      shareableTargets: d.disks.filter((k) => k.shareable).map((k) => k.target),
    },
    migration,
  );
  const reasons = [...tooLarge, ...verdict.reasons].slice(0, 64);
  const facts = { ...draft, migratable: reasons.length === 0, reasons };
  const ok = VmFacts.safeParse(facts);
  if (ok.success) return ok.data;
  // Something does not fit the schema (an odd target or feature name, ...): report the VM as
  // not migratable with what went wrong, rather than leave it out or fail every VM.
  const issue = ok.error.issues[0];
  const detail = `facts do not fit the schema at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`;
  logger?.warn({ vm: d.name, issue }, "VM facts do not fit the schema; reported not migratable");
  return VmFacts.parse({
    name: d.name,
    domainType: d.domainType.slice(0, 16),
    arch: d.arch.slice(0, 32),
    machine: DEVICE_NAME.test(d.machine) ? d.machine : "unknown",
    cpu: { mode: "none", required: [], disabled: [] },
    disks: [],
    interfaces: [],
    hostdevs: [],
    migratable: false,
    reasons: [{ code: "FACTS_TOO_LARGE", detail: detail.slice(0, 1000) }],
  });
}

function vmDisk(k: DomainDisk, info: BlockInfo | undefined, shared: readonly SharedStorage[], localMounts: readonly string[]): VmDisk {
  // Network disks and <shareable/> ones are shared wherever they are; a path decides the others.
  const isPath = k.type === "file" || k.type === "block" || k.type === "dir";
  const sharedDisk = k.type === "network" || k.shareable || (isPath && k.source !== undefined && isShared(k.source, shared, localMounts));
  return {
    target: k.target,
    device: k.device,
    type: k.type,
    ...(k.source !== undefined ? { source: k.source.slice(0, 4096) } : {}),
    ...(k.format !== undefined ? { format: k.format.slice(0, 32) } : {}),
    ...(k.cache !== undefined ? { cache: k.cache.slice(0, 32) } : {}),
    readonly: k.readonly,
    shared: sharedDisk,
    ...(info?.capacityBytes !== undefined ? { capacityBytes: info.capacityBytes } : {}),
    ...(info?.allocationBytes !== undefined ? { allocationBytes: info.allocationBytes } : {}),
    // The XML's word when it has one (a chain written in the definition); else what domstats saw.
    backingChain: k.backingChain === true || (info?.backingChain ?? false),
  };
}

function fit<T>(xs: readonly T[], max: number, what: string, logger: Logger): T[] {
  if (xs.length > max) logger.warn({ count: xs.length, max }, `more ${what} than reported; list cut`);
  return xs.slice(0, max);
}

/**
 * Linux bridges: the interfaces of /sys/class/net with a `bridge` directory. Open vSwitch bridges
 * are not listed: in sysfs an OVS bridge's internal port looks like any other OVS port (all have
 * `master` -> ovs-system), so only `ovs-vsctl list-br` could tell them apart.
 */
export async function listLinuxBridges(sysClassNet = "/sys/class/net"): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(sysClassNet);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const s = await stat(join(sysClassNet, n, "bridge")).catch(() => undefined);
    if (s?.isDirectory()) out.push(n);
  }
  return out.sort();
}

/** /dev/kvm exists and, on x86, the CPU has hardware virtualisation (vmx or svm). */
async function kvmWorks(): Promise<boolean> {
  const dev = await stat("/dev/kvm").catch(() => undefined);
  if (!dev?.isCharacterDevice()) return false;
  if (process.arch !== "x64" && process.arch !== "ia32") return true;
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo);
}
