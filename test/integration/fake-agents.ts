import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { agentSubjects } from "../../shared/subjects.js";
import type { AgentFacts, HostFacts, VmFacts } from "../../shared/schemas/facts.js";
import type {
  CheckIncomingRequest,
  CheckIncomingResult,
  CpuBaselineResult,
  MigrateAccepted,
  MigrateRequest,
  MigrationEvent,
  RemoveDisksRequest,
} from "../../shared/schemas/agent-api.js";
import type { HostMetrics, Heartbeat } from "../../shared/schemas/host-metrics.js";
import { digestOf } from "../../orchestrator/shell/facts-store.js";

// Agents faked over a real NATS connection each: they publish metrics, heartbeats (with a facts
// digest) and facts as real agents do, and serve the requests the orchestrator sends them with
// answers each test chooses. They never touch libvirt: the tests here are about what the
// orchestrator does with facts, checks and outcomes.

export interface FakeVm {
  name: string;
  memMiB: number;
  facts: Omit<VmFacts, "name">;
  /** Listed running; false: defined but not listed (a migration's end not yet reported). */
  listed: boolean;
  /** Its CPU use, percent of one core (default 1), and its vCPUs (default 1). */
  cpuPercent?: number;
  vcpus?: number;
}

/** What a handler answers: data, or an error envelope; undefined: no answer at all (the requester times out). */
export type Answer<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } } | undefined;

export class FakeAgent {
  readonly vms = new Map<string, FakeVm>();
  hostFacts: HostFacts;
  /** Every request received, by endpoint, in order. */
  readonly received: { endpoint: string; body: unknown }[] = [];
  /** Publish facts on every change (false: an agent whose facts message got lost; get-facts still answers). */
  publishFacts = true;
  /** Facts, check-incoming, cpu-baseline and remove-disks at all (false: an agent older than facts). */
  readonly serveNew: boolean;
  checkIncoming: (req: CheckIncomingRequest) => Promise<Answer<CheckIncomingResult>> | Answer<CheckIncomingResult> = (req) => ({
    ok: true,
    data: { vm: req.vm, host: this.host, ok: true, refusals: [] },
  });
  cpuBaseline: (cpus: string[]) => Promise<Answer<CpuBaselineResult>> | Answer<CpuBaselineResult> = () => undefined;
  /** Delays get-facts answers (to see that one host is never asked twice at once). */
  getFactsDelayMs = 0;
  private inFlightGetFacts = 0;
  maxConcurrentGetFacts = 0;
  /** The host's CPU load its metrics report, percent of its capacity (a test raises it to make a hot spot). */
  cpuPercent = 5;
  private seq = 0;
  private factsTs = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  private constructor(
    readonly host: string,
    readonly nc: NatsConnection,
    hostFacts: HostFacts,
    private readonly fleet: Map<string, FakeAgent>,
    old: boolean,
  ) {
    this.hostFacts = hostFacts;
    this.serveNew = !old;
    this.publishFacts = !old;
  }

  static async start(url: string, host: string, hostFacts: HostFacts, fleet: Map<string, FakeAgent>, opts: { old?: boolean } = {}): Promise<FakeAgent> {
    const nc = await connect({ servers: url, name: `fake-agent-${host}` });
    const a = new FakeAgent(host, nc, hostFacts, fleet, opts.old ?? false);
    fleet.set(host, a);
    a.serve();
    return a;
  }

  /** The AgentFacts this agent has now. */
  facts(): AgentFacts {
    const vms = [...this.vms.values()]
      .filter((v) => v.listed)
      .map((v) => ({ name: v.name, ...v.facts }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return { v: 1, host: this.host, ts: this.factsTs, digest: digestOf({ h: this.hostFacts, vms }), hostFacts: this.hostFacts, vms };
  }

  /** Something changed: new facts (published unless publishFacts is off); heartbeats carry the new digest. */
  changed(): void {
    this.factsTs = Math.max(Date.now(), this.factsTs + 1);
    if (this.publishFacts) this.nc.publish(agentSubjects(this.host).facts, JSON.stringify(this.facts()));
  }

  /** Publishes metrics and a heartbeat now and every `ms`. */
  beat(ms: number): void {
    const tick = () => {
      this.seq++;
      const vms = [...this.vms.values()].filter((v) => v.listed);
      const m: HostMetrics = {
        v: 1,
        host: this.host,
        ts: Date.now(),
        seq: this.seq,
        cpus: 8,
        hostCpuPercent: this.cpuPercent,
        load1: 0,
        load5: 0,
        load15: 0,
        memTotalMiB: 32768,
        memAvailableMiB: 32768 - vms.reduce((s, v) => s + v.memMiB, 0) - 1024,
        loadSource: "host",
        cpuPercent: this.cpuPercent,
        vms: vms.map((v) => ({
          name: v.name,
          state: "running",
          vcpus: v.vcpus ?? 1,
          memMiB: v.memMiB,
          maxMemMiB: v.memMiB,
          cpuPercent: v.cpuPercent ?? 1,
          migrating: false,
        })),
      };
      const h: Heartbeat = {
        v: 1,
        host: this.host,
        ts: Date.now(),
        seq: this.seq,
        agentVersion: "0.3.0-fake",
        startedAt: this.startedAt,
        collectOk: true,
        migrationsRunning: 0,
        ...(this.serveNew ? { factsDigest: this.facts().digest } : {}),
      };
      this.nc.publish(agentSubjects(this.host).metrics, JSON.stringify(m));
      this.nc.publish(agentSubjects(this.host).heartbeat, JSON.stringify(h));
    };
    tick();
    this.timer = setInterval(tick, ms);
  }

  /** How long a migrate takes before its outcome, ms. */
  migrateMs = 50;

  /** How each migrate is played: accepted, then an outcome after migrateMs (the VM moves on success). */
  onMigrate: (req: MigrateRequest) => {
    accept: Answer<MigrateAccepted>;
    outcome?: { ok: true; stats?: MigrationEvent["stats"] } | { ok: false; error: string };
    moveListed?: boolean;
  } = (req) => ({
    accept: { ok: true, data: { requestId: req.requestId, vm: req.vm, source: this.host, destination: req.destination, accepted: true } },
    outcome: { ok: true, stats: { durationMs: 10 } },
  });

  /** What the VM's destination lists when a migration succeeded (false: not yet, see list()). */
  listOnArrival = true;

  /** Lists a VM that arrived (or stops listing it). */
  list(vm: string, listed: boolean): void {
    const v = this.vms.get(vm);
    if (v) v.listed = listed;
  }

  private serve(): void {
    const s = agentSubjects(this.host);
    const on = (subject: string, endpoint: string, handle: (body: unknown, m: Msg) => Promise<void> | void) =>
      this.nc.subscribe(subject, {
        callback: (_e, m) => {
          const body = m.data.length ? (JSON.parse(new TextDecoder().decode(m.data)) as unknown) : {};
          this.received.push({ endpoint, body });
          void handle(body, m);
        },
      });
    const reply = (m: Msg, a: Answer<unknown>) => {
      if (a !== undefined) m.respond(JSON.stringify(a));
    };
    // migrate first: every agent serves it (the return below skips the newer endpoints of an old one).
    on(s.migrate, "migrate", (b, m) => {
      const req = b as MigrateRequest;
      const play = this.onMigrate(req);
      reply(m, play.accept);
      if (!play.accept?.ok || !play.outcome) return;
      const outcome = play.outcome;
      setTimeout(() => {
        const vm = this.vms.get(req.vm);
        const dest = this.fleet.get(req.destination);
        if (outcome.ok && vm && dest) {
          this.vms.delete(req.vm);
          dest.vms.set(req.vm, { ...vm, listed: dest.listOnArrival });
        }
        const ev: MigrationEvent = {
          v: 1,
          type: outcome.ok ? "migration.succeeded" : "migration.failed",
          ts: Date.now(),
          requestId: req.requestId,
          vm: req.vm,
          source: this.host,
          destination: req.destination,
          ...(outcome.ok ? (outcome.stats ? { stats: outcome.stats } : {}) : { error: outcome.error }),
        };
        this.nc.publish(s.events, JSON.stringify(ev));
      }, this.migrateMs);
    });
    if (!this.serveNew) return;
    on(s.getFacts, "getFacts", async (_b, m) => {
      this.inFlightGetFacts++;
      this.maxConcurrentGetFacts = Math.max(this.maxConcurrentGetFacts, this.inFlightGetFacts);
      if (this.getFactsDelayMs > 0) await new Promise((r) => setTimeout(r, this.getFactsDelayMs));
      this.inFlightGetFacts--;
      reply(m, { ok: true, data: this.facts() });
    });
    on(s.checkIncoming, "checkIncoming", async (b, m) => {
      reply(m, await this.checkIncoming(b as CheckIncomingRequest));
    });
    on(s.cpuBaseline, "cpuBaseline", async (b, m) => reply(m, await this.cpuBaseline((b as { cpus: string[] }).cpus)));
    on(s.removeDisks, "removeDisks", (b, m) => {
      const req = b as RemoveDisksRequest;
      reply(m, { ok: true, data: { vm: req.vm, removed: req.paths, kept: [] } });
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.nc.close().catch(() => undefined);
  }
}

/** Host facts of a lab-like hypervisor; `extra` features make another CPU generation. */
export function hostFacts(extra: string[] = [], over: Partial<HostFacts> = {}): HostFacts {
  return {
    cpu: {
      arch: "x86_64",
      vendor: "Intel",
      model: "Skylake-Client-IBRS",
      features: ["avx2", "pclmuldq", "sse4.2", ...extra].sort(),
      usableModels: ["Haswell-noTSX", "Skylake-Client-IBRS", "qemu64"],
      hostModelXml: `<cpu mode='host-model'><model>Skylake-Client-IBRS</model>${extra.map((f) => `<feature policy='require' name='${f}'/>`).join("")}</cpu>`,
    },
    domainTypes: ["kvm", "qemu"],
    libvirtVersion: "9.0.0",
    qemuVersion: "7.2.0",
    machineTypes: ["pc", "pc-i440fx-7.2", "pc-q35-7.2", "q35"],
    networks: ["default"],
    bridges: ["br0"],
    sharedStorage: [{ path: "/srv/shared", kind: "nfs4" }],
    hugepages: [],
    ...over,
  };
}

/** A VM's facts: on shared storage, or with one local qcow2 disk (`local`). */
export function vmFacts(name: string, local = false): Omit<VmFacts, "name"> {
  return {
    domainType: "qemu",
    arch: "x86_64",
    machine: "pc-i440fx-7.2",
    cpu: { mode: "custom", model: "qemu64", required: [], disabled: [], xml: "<cpu mode='custom' match='exact'><model>qemu64</model></cpu>" },
    disks: [
      {
        target: "vda",
        device: "disk",
        type: "file",
        source: local ? `/var/lib/libvirt/images/${name}.qcow2` : `/srv/shared/${name}.qcow2`,
        format: "qcow2",
        cache: "none",
        readonly: false,
        shared: !local,
        capacityBytes: 1 << 30,
        allocationBytes: 1 << 28,
        backingChain: false,
      },
    ],
    interfaces: [{ type: "network", source: "default" }],
    hostdevs: [],
    migratable: true,
    reasons: [],
  };
}
