import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { BoundedMap } from "../../../shared/bounded-map.js";
import { describeError } from "../../../shared/errors.js";
import { FINAL_STATES, type MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { PendingPlan, PersistedState, StateSink } from "../persisted-state.js";
import type { StoredPair } from "../incompatible-pairs.js";
import {
  decodeRecord,
  encodeRecord,
  FrozenEntry,
  IncompatibleEntry,
  MaintenanceEntry,
  MigrationEntry,
  PausedEntry,
  PendingPlanEntry,
  PowerEntry,
  RecoveryHostEntry,
  RestartEntry,
} from "./ha-records.js";
import type { StoredPower } from "../power/power-record.js";
import type { StoredRecoveryHost, StoredRestart } from "../recovery/recovery-record.js";

// The shared state of the HA orchestrators in the lease's JetStream KV bucket. The leader writes
// every change (coalesced per key, written in the background); a new leader loads it all and
// continues. Every value is a record of ha-records.ts, stamped with its format and writer:
//   mig.<requestId>      { record }: one migration (queued, ongoing or finished; finished ones
//                        beyond history_size are purged, oldest first)
//   plan.<planId>        { plan, expiresAt, dryRun?, sameAs?, evacuation? }: a pending plan
//   state.maintenance    { hosts }
//   state.frozen         { vms }
//   state.paused         { reason } (null: not paused)
//   state.incompatible   { pairs }: (VM, destination) pairs libvirt refused, with their facts digests
//   power.<host>         { record }: a switchable host's power record (off, booting, cycles, ...)
//   recovery.<host>      { record }: a host's failure incident (state, failedAt, fence attempts)
//   restart.<vm>.<at>    { record }: one restart of a fenced host's VM and how its start went
// The lease key (`leader`) lives in the same bucket.

export const LEASE_KEY = "leader";
const KEY_SAFE = /^[A-Za-z0-9_-]{1,200}$/;

/** A KV key token for an id: as is when safe, else hex (request and plan ids are already safe). */
export function keyToken(id: string): string {
  return KEY_SAFE.test(id) ? id : `x${Buffer.from(id, "utf8").toString("hex")}`.slice(0, 240);
}

export class KvStateStore implements StateSink {
  private readonly dirty = new Map<string, string | null>();
  private flushing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  /** Finished migrations (request ids) in finish order: beyond history_size the oldest is purged. */
  private readonly finished: BoundedMap<string, true>;

  constructor(
    private readonly kv: KV,
    private readonly o: { canWrite: () => boolean; historySize: number; log: Logger },
  ) {
    this.finished = new BoundedMap(o.historySize, { onEvict: (id) => this.mark(`mig.${keyToken(id)}`, null) });
  }

  // ---- StateSink -------------------------------------------------------------------------

  migration(r: MigrationRecord): void {
    this.mark(`mig.${keyToken(r.requestId)}`, encodeRecord({ record: r }));
    if (FINAL_STATES.has(r.state) && !this.finished.has(r.requestId)) this.finished.set(r.requestId, true);
  }

  async dispatched(r: MigrationRecord): Promise<void> {
    if (!this.o.canWrite()) throw new Error("not the leader: the dispatch cannot be recorded");
    const key = `mig.${keyToken(r.requestId)}`;
    this.mark(key, encodeRecord({ record: r }));
    // A flush already finishing may have missed the key: try a few rounds, then give up.
    for (let i = 0; i < 3 && this.dirty.has(key); i++) await this.flush();
    if (this.dirty.has(key)) throw new Error(`could not record migration ${r.requestId} as sent`);
  }

  maintenance(hosts: ReadonlySet<string>): void {
    this.mark("state.maintenance", encodeRecord({ hosts: [...hosts].sort() }));
  }

  frozen(vms: ReadonlySet<string>): void {
    this.mark("state.frozen", encodeRecord({ vms: [...vms].sort() }));
  }

  pending(planId: string, p: PendingPlan | undefined): void {
    this.mark(`plan.${keyToken(planId)}`, p ? encodeRecord(pendingFields(p)) : null);
  }

  paused(reason: string | undefined): void {
    this.mark("state.paused", encodeRecord({ reason: reason ?? null }));
  }

  incompatible(pairs: readonly StoredPair[]): void {
    this.mark("state.incompatible", encodeRecord({ pairs }));
  }

  power(r: StoredPower): void {
    this.mark(`power.${keyToken(r.host)}`, encodeRecord({ record: r }));
  }

  recoveryHost(r: StoredRecoveryHost): void {
    this.mark(`recovery.${keyToken(r.host)}`, encodeRecord({ record: r }));
  }

  async restart(r: StoredRestart): Promise<void> {
    if (!this.o.canWrite()) throw new Error("not the leader: the restart cannot be recorded");
    const key = restartKey(r);
    this.mark(key, encodeRecord({ record: r }));
    for (let i = 0; i < 3 && this.dirty.has(key); i++) await this.flush();
    if (this.dirty.has(key)) throw new Error(`could not record the restart of ${r.restart.vm}`);
  }

  forgetRestart(r: StoredRestart): void {
    this.mark(restartKey(r), null);
  }

  // ---- writing ---------------------------------------------------------------------------

  private mark(key: string, value: string | null): void {
    if (!this.o.canWrite()) return; // a standby or a deposed leader writes nothing
    this.dirty.delete(key); // re-insert: keeps write order roughly the order of changes
    this.dirty.set(key, value);
    void this.flush().catch(() => undefined);
  }

  /** Writes everything marked so far; resolves when the queue is empty or a write failed. */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.drain().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0) {
      if (!this.o.canWrite()) {
        this.dirty.clear();
        return;
      }
      const [key, value] = this.dirty.entries().next().value!;
      this.dirty.delete(key);
      try {
        if (value === null) await this.kv.purge(key);
        else await this.kv.put(key, value);
      } catch (e) {
        if (!this.dirty.has(key)) this.dirty.set(key, value);
        this.o.log.warn({ key, err: describeError(e) }, "cannot write HA state; retrying");
        if (!this.retry)
          this.retry = setTimeout(() => {
            this.retry = undefined;
            void this.flush().catch(() => undefined);
          }, 500);
        return;
      }
    }
  }

  /** Unwritten changes (tests, shutdown). */
  get backlog(): number {
    return this.dirty.size;
  }

  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  // ---- loading ---------------------------------------------------------------------------

  /** Everything a new leader continues from. */
  async load(): Promise<PersistedState> {
    this.dirty.clear();
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) if (k !== LEASE_KEY) keys.push(k);
    const values = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 64) {
      const batch = keys.slice(i, i + 64);
      const got = await Promise.all(batch.map((k) => this.kv.get(k)));
      got.forEach((e, j) => {
        if (e && e.operation === "PUT" && e.length > 0) values.set(batch[j]!, e.string());
      });
    }
    const st: PersistedState = { migrations: [], maintenance: [], frozen: [], pending: [], pausedReason: undefined };
    // A record this version cannot read stops the takeover (decodeRecord says which and why):
    // continuing without it could send a migration twice or forget a host in maintenance.
    for (const [k, v] of values) {
      if (k.startsWith("mig.")) st.migrations.push(decodeRecord(MigrationEntry, k, v).record);
      else if (k.startsWith("plan.")) {
        const { v: _v, writer: _w, ...p } = decodeRecord(PendingPlanEntry, k, v);
        st.pending.push(pendingFields(p));
      } else if (k === "state.maintenance") st.maintenance = decodeRecord(MaintenanceEntry, k, v).hosts;
      else if (k === "state.frozen") st.frozen = decodeRecord(FrozenEntry, k, v).vms;
      else if (k === "state.paused") st.pausedReason = decodeRecord(PausedEntry, k, v).reason ?? undefined;
      else if (k === "state.incompatible") st.incompatible = decodeRecord(IncompatibleEntry, k, v).pairs;
      else if (k.startsWith("power.")) (st.power ??= []).push(decodeRecord(PowerEntry, k, v).record);
      else if (k.startsWith("recovery.")) (st.recovery ??= { hosts: [], restarts: [] }).hosts.push(decodeRecord(RecoveryHostEntry, k, v).record);
      else if (k.startsWith("restart.")) (st.recovery ??= { hosts: [], restarts: [] }).restarts.push(decodeRecord(RestartEntry, k, v).record);
      else this.o.log.warn({ key: k }, "unknown key in the HA bucket ignored");
    }
    this.finished.clear();
    for (const r of st.migrations.filter((x) => FINAL_STATES.has(x.state)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0)))
      this.finished.set(r.requestId, true);
    return st;
  }
}

/** A pending plan's fields as stored: the optional ones only when present. */
function pendingFields(p: PendingPlan): PendingPlan {
  return {
    plan: p.plan,
    expiresAt: p.expiresAt,
    ...(p.dryRun !== undefined ? { dryRun: p.dryRun } : {}),
    ...(p.sameAs !== undefined ? { sameAs: p.sameAs } : {}),
    ...(p.evacuation !== undefined ? { evacuation: p.evacuation } : {}),
  };
}

const restartKey = (r: StoredRestart): string => `restart.${keyToken(r.restart.vm)}.${Math.round(r.restart.at)}`;
