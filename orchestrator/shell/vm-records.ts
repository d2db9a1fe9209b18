import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { z } from "zod";
import type { Policy } from "../../shared/config/policy.js";
import { describeError } from "../../shared/errors.js";
import type { VmDefinition } from "../../shared/schemas/agent-api.js";
import { isLocalWritable } from "../../shared/schemas/facts.js";
import { RestartPriority, VmRecord, type RecordDisk } from "../../shared/schemas/vm-record.js";
import type { Clock } from "./clock.js";
import type { VmFactsOf } from "./facts-store.js";
import { decodeRecord, encodeRecord, HA_FORMAT } from "./ha/ha-records.js";
import { keyToken } from "./ha/kv-state-store.js";

// The orchestrator's record of every managed VM (issue 18, docs/host-failure.md): its definition
// (libvirt's migratable XML, secrets removed by its agent), its disks from its facts, its restart
// priority, the host it runs on. A host that dies takes the only copy of its VMs' definitions with
// it (migrations run with --undefinesource), so these records are what a restart elsewhere starts
// from. They live in a JetStream KV bucket (`vm.<vm>` keys): they survive restarts and, with HA,
// failover (only the leader writes; a new leader loads the bucket). Without JetStream, in memory.
//
// When a record changes: a VM's facts digest or host changes (its definition is fetched again from
// its agent, a few at a time), a migration succeeded (the host changes), the policy gives it
// another priority. It is removed only when no host has listed the VM for `removal_grace` while its
// recorded host kept reporting: a silent host's VMs keep their records, whatever time passes.

/** `vm.<vm>` in the records bucket. */
export const VmRecordEntry = z.object({ v: z.literal(HA_FORMAT), writer: z.string().max(64), record: VmRecord });

const RANK: Record<RestartPriority, number> = { never: 0, low: 1, medium: 2, high: 3 };

/** A VM's restart priority: restart_priorities.vms, else the highest of its rules' in restart_priorities.rules, else restart_priority. */
export function restartPriorityOf(vm: string, policy: Pick<Policy, "restart_priority" | "restart_priorities" | "rules">): RestartPriority {
  const own = policy.restart_priorities.vms[vm];
  if (own !== undefined) return own;
  let best: RestartPriority | undefined;
  for (const rule of policy.rules) {
    const p = policy.restart_priorities.rules[rule.name];
    if (p !== undefined && rule.vms.includes(vm) && (best === undefined || RANK[p] > RANK[best])) best = p;
  }
  return best ?? policy.restart_priority;
}

/** The record's disks, from the VM's facts. */
export function recordDisks(facts: VmFactsOf): RecordDisk[] {
  return facts.disks.map((d) => ({
    target: d.target,
    type: d.type,
    ...(d.source !== undefined ? { source: d.source } : {}),
    shared: d.shared,
    readonly: d.readonly,
    localWritable: isLocalWritable(d),
  }));
}

// ---- where the records are kept -----------------------------------------------------------

export interface RecordStore {
  readonly kind: "kv" | "memory";
  readonly bucket: string | null;
  load(): Promise<VmRecord[]>;
  put(r: VmRecord): Promise<void>;
  remove(vm: string): Promise<void>;
}

export class MemoryRecordStore implements RecordStore {
  readonly kind = "memory";
  readonly bucket = null;
  private readonly records = new Map<string, VmRecord>();
  async load(): Promise<VmRecord[]> {
    return [...this.records.values()];
  }
  async put(r: VmRecord): Promise<void> {
    this.records.set(r.vm, r);
  }
  async remove(vm: string): Promise<void> {
    this.records.delete(vm);
  }
}

export class KvRecordStore implements RecordStore {
  readonly kind = "kv";
  constructor(
    private readonly kv: KV,
    readonly bucket: string,
    private readonly log: Logger,
  ) {}

  async load(): Promise<VmRecord[]> {
    const out: VmRecord[] = [];
    const keys: string[] = [];
    for await (const k of await this.kv.keys("vm.>")) keys.push(k);
    for (let i = 0; i < keys.length; i += 64) {
      const batch = keys.slice(i, i + 64);
      const got = await Promise.all(batch.map((k) => this.kv.get(k)));
      got.forEach((e, j) => {
        if (!e || e.operation !== "PUT" || e.length === 0) return;
        try {
          out.push(decodeRecord(VmRecordEntry, batch[j]!, e.string()).record);
        } catch (x) {
          // One unreadable record must not cost the others; it is written again when its VM's
          // facts arrive.
          this.log.error({ bucket: this.bucket, key: batch[j], err: describeError(x) }, "VM record not readable; skipped");
        }
      });
    }
    return out;
  }

  async put(r: VmRecord): Promise<void> {
    await this.kv.put(`vm.${keyToken(r.vm)}`, encodeRecord({ record: r }));
  }

  async remove(vm: string): Promise<void> {
    await this.kv.purge(`vm.${keyToken(vm)}`);
  }
}

/** The records' bucket, or memory (with a warning) when the server has no JetStream. */
export async function openRecordStore(nc: NatsConnection, o: { bucket: string; replicas: number; log: Logger; timeoutMs?: number }): Promise<RecordStore> {
  try {
    const kv = await new Kvm(nc).create(o.bucket, { history: 1, replicas: o.replicas, timeout: o.timeoutMs ?? 5000 });
    return new KvRecordStore(kv, o.bucket, o.log);
  } catch (e) {
    o.log.warn(
      { bucket: o.bucket, err: describeError(e) },
      "cannot open the VM records' KV bucket (JetStream off?): records are kept in memory only, lost on restart, and a dead host's VMs cannot be restarted after one",
    );
    return new MemoryRecordStore();
  }
}

// ---- keeping them -------------------------------------------------------------------------

export interface VmRecordsDeps {
  store: RecordStore;
  /** The facts held: each host's VMs, a VM's facts and their digest. */
  facts: {
    hostIds(): string[];
    vms(host: string): readonly string[];
    vmFacts(host: string, vm: string): VmFactsOf | undefined;
    vmDigest(host: string, vm: string): string | undefined;
  };
  cluster: {
    /** Hosts whose newest inventory lists the VM, running ones first. */
    hostsOf(vm: string): string[];
    /** Does the host report (fresh metrics)? */
    reporting(host: string, now: number): boolean;
    /** Reporting hosts whose newest inventory lists the VM running; absent: only hostsOf counts. */
    running?(vm: string, now: number): string[];
  };
  /** Asks the VM's agent for its definition. */
  fetch(host: string, vm: string): Promise<VmDefinition>;
  policy(): Policy;
  /** Only the leader writes (always true without HA). */
  leading(): boolean;
  epoch(): number | undefined;
  clock: Clock;
  log: Logger;
  concurrency: number;
  graceMs: number;
}

interface Wanted {
  host: string;
  factsDigest: string;
}

export class VmRecords {
  private readonly records = new Map<string, VmRecord>();
  /** When each recorded VM was last listed by a host (or its host last went silent). */
  private readonly seen = new Map<string, number>();
  private readonly wanted = new Map<string, Wanted>();
  private readonly active = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  /** Records whose last write failed: written again at the next sweep. */
  private readonly failed = new Set<string>();
  private readonly writes = new Set<Promise<void>>();

  constructor(private readonly d: VmRecordsDeps) {}

  get store(): Pick<RecordStore, "kind" | "bucket"> {
    return this.d.store;
  }

  /** Definitions being fetched or waiting to be. */
  get fetching(): number {
    return this.wanted.size + this.active.size;
  }

  get(vm: string): VmRecord | undefined {
    return this.records.get(vm);
  }

  all(): VmRecord[] {
    return [...this.records.values()].sort((a, b) => (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0));
  }

  /**
   * The records recovery may act on: VMs that the newest inventory of their recorded host lists
   * (a silent host's last inventory included). A record kept through its removal grace for a VM its
   * host stopped listing while it reported (destroyed, undefined by an operator) is not one: that VM
   * must not come back with a host failure.
   */
  recoverable(): VmRecord[] {
    return this.all().filter((r) => this.d.cluster.hostsOf(r.vm).includes(r.host));
  }

  /**
   * Reads the bucket (start, a new HA leader): what it holds replaces what this instance had. The
   * removal grace starts again from now for every record, so a takeover never removes one early.
   */
  async load(): Promise<number> {
    const loaded = await this.d.store.load();
    const now = this.d.clock.now();
    this.records.clear();
    this.seen.clear();
    for (const r of loaded) {
      this.records.set(r.vm, r);
      this.seen.set(r.vm, now);
    }
    this.d.log.info({ records: loaded.length, store: this.d.store.kind, bucket: this.d.store.bucket }, "VM records loaded");
    return loaded.length;
  }

  /** A host's facts arrived or changed: new VMs, changed facts, VMs that moved here. */
  onFacts(host: string): void {
    if (!this.d.leading()) return;
    const now = this.d.clock.now();
    for (const vm of this.d.facts.vms(host)) {
      // Listed by several hosts (a migration's switch-over, a stale inventory): the record follows
      // the one that runs it. Run by several (a returning host's old copy started again): it stays
      // with the host it names, so the duplicate guard pauses the other copy, never this one.
      const at = this.d.cluster.hostsOf(vm);
      const running = this.d.cluster.running?.(vm, now) ?? [];
      const named = this.records.get(vm)?.host;
      const owner = named !== undefined && running.includes(named) ? named : (running[0] ?? at[0]);
      if (owner !== undefined && owner !== host) continue;
      const factsDigest = this.d.facts.vmDigest(host, vm);
      if (factsDigest === undefined) continue;
      // Held facts of a silent host are no sign of life (sweep keeps such records anyway).
      if (this.records.has(vm) && this.d.cluster.reporting(host, now)) this.seen.set(vm, now);
      const r = this.records.get(vm);
      if (r && r.host === host && r.factsDigest === factsDigest) continue;
      this.wanted.set(vm, { host, factsDigest });
    }
    this.pump();
  }

  /**
   * A host's inventory arrived: a VM it lists whose record names another host may have to follow
   * it here (a restart's destination whose facts came before the inventory that lists the VM running).
   */
  onInventory(host: string): void {
    if (!this.d.leading()) return;
    const follows = (vm: string) => {
      const r = this.records.get(vm);
      return r !== undefined && r.host !== host && !this.wanted.has(vm) && !this.active.has(vm);
    };
    if (this.d.facts.vms(host).some(follows)) this.onFacts(host);
  }

  /** A migration succeeded: the VM runs on `destination` now. */
  onMigrated(vm: string, destination: string): void {
    if (!this.d.leading()) return;
    const r = this.records.get(vm);
    if (!r) return;
    this.seen.set(vm, this.d.clock.now());
    if (r.host === destination) return;
    // The definition moved with it (--persistent): only the host changes; the destination's facts
    // follow and fetch it again if they differ.
    this.write({ ...r, host: destination, updatedAt: this.d.clock.now(), epoch: this.d.epoch() ?? 0 });
  }

  /**
   * The periodic pass: VMs of every host's facts without an up-to-date record are fetched (again,
   * after a failed fetch), priorities follow the policy, and records of VMs that no host has listed
   * for the grace period, while their recorded host reports, are removed.
   */
  sweep(now: number): void {
    if (!this.d.leading()) return;
    for (const vm of [...this.failed]) {
      const r = this.records.get(vm);
      if (r) this.write(r);
    }
    // A silent host is not asked: its definitions are not going to come.
    for (const h of this.d.facts.hostIds()) if (this.d.cluster.reporting(h, now)) this.onFacts(h);
    const policy = this.d.policy();
    for (const r of [...this.records.values()]) {
      // Listed only by the newest inventory of a silent host is no sign of life: that host's own
      // silence is what keeps the record then (below).
      const listed = this.d.cluster.hostsOf(r.vm).some((h) => this.d.cluster.reporting(h, now));
      if (listed || this.wanted.has(r.vm) || this.active.has(r.vm)) this.seen.set(r.vm, now);
      else if (!this.d.cluster.reporting(r.host, now)) {
        // Its host is silent: that is when the record matters most; the grace does not run.
        this.seen.set(r.vm, now);
      } else if (now - (this.seen.get(r.vm) ?? now) >= this.d.graceMs) {
        this.d.log.info({ vm: r.vm, host: r.host, graceS: this.d.graceMs / 1000 }, "VM gone from every host; its record is removed");
        this.records.delete(r.vm);
        this.seen.delete(r.vm);
        // Should it fail, the record stays in the bucket: the next leader loads it and the grace runs again.
        this.track(this.d.store.remove(r.vm), (e) => this.d.log.warn({ vm: r.vm, err: describeError(e) }, "cannot remove a VM record"));
        continue;
      }
      const p = restartPriorityOf(r.vm, policy);
      if (p !== r.restartPriority) this.write({ ...r, restartPriority: p, updatedAt: now, epoch: this.d.epoch() ?? 0 });
    }
  }

  /** Resolves once no definition is being fetched or waits to be (tests, shutdown). */
  idle(): Promise<void> {
    if (this.fetching === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    for (const [vm, w] of this.wanted) {
      if (this.active.size >= this.d.concurrency) return;
      if (this.active.has(vm)) continue;
      this.wanted.delete(vm);
      this.active.add(vm);
      void this.fetchOne(vm, w).finally(() => {
        this.active.delete(vm);
        this.pump();
        if (this.fetching === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const fn of w) fn();
        }
      });
    }
  }

  private async fetchOne(vm: string, w: Wanted): Promise<void> {
    let def: VmDefinition;
    try {
      def = await this.d.fetch(w.host, vm);
    } catch (e) {
      // Tried again at the next sweep or facts change.
      this.d.log.warn({ vm, host: w.host, err: describeError(e) }, "cannot fetch a VM's definition for its record");
      return;
    }
    if (!this.d.leading()) return;
    const facts = this.d.facts.vmFacts(w.host, vm);
    if (!facts || def.vm !== vm || def.host !== w.host) return;
    const now = this.d.clock.now();
    const prev = this.records.get(vm);
    const r: VmRecord = {
      vm,
      host: w.host,
      ...(def.uuid !== undefined ? { uuid: def.uuid } : {}),
      definition: def.xml,
      definitionDigest: def.digest,
      factsDigest: w.factsDigest,
      disks: recordDisks(facts),
      restartPriority: restartPriorityOf(vm, this.d.policy()),
      updatedAt: now,
      epoch: this.d.epoch() ?? 0,
    };
    this.seen.set(vm, now);
    if (prev && prev.definitionDigest !== r.definitionDigest) this.d.log.info({ vm, host: w.host, digest: r.definitionDigest }, "VM definition changed");
    this.write(r);
  }

  private write(r: VmRecord): void {
    this.records.set(r.vm, r);
    this.failed.delete(r.vm);
    if (!this.d.leading()) return;
    this.track(this.d.store.put(r), (e) => {
      // Kept in memory and written again at the next sweep.
      this.d.log.error({ vm: r.vm, err: describeError(e) }, "cannot write a VM record; retrying at the next sweep");
      this.failed.add(r.vm);
    });
  }

  private track(op: Promise<void>, onError: (e: unknown) => void): void {
    const p: Promise<void> = op.catch(onError).finally(() => this.writes.delete(p));
    this.writes.add(p);
  }

  /** Resolves once every fetch and every write started so far has ended (tests, shutdown). */
  async settled(): Promise<void> {
    await this.idle();
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }
}
