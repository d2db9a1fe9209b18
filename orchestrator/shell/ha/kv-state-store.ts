import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { describeError } from "../../../shared/errors.js";
import { FINAL_STATES, type MigrationRecord } from "../migration-record.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import type { PersistedState, StateSink } from "../orchestrator.js";

// The shared state of the HA orchestrators in the lease's JetStream KV bucket. The leader writes
// every change (coalesced per key, written in the background); a new leader loads it all and
// continues. Keys:
//   mig.<requestId>      one MigrationRecord (queued, ongoing or finished; finished ones beyond
//                        history_size are purged, oldest first)
//   plan.<planId>        a pending plan { plan, expiresAt }
//   state.maintenance    JSON array of hosts
//   state.frozen         JSON array of VMs
//   state.paused         { reason } or null
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
  /** Finished migrations by finish order (request ids), for the history bound. */
  private finishedOrder: string[] = [];
  private readonly finishedSet = new Set<string>();

  constructor(
    private readonly kv: KV,
    private readonly o: { canWrite: () => boolean; historySize: number; log: Logger },
  ) {}

  // ---- StateSink -------------------------------------------------------------------------

  migration(r: MigrationRecord): void {
    this.mark(`mig.${keyToken(r.requestId)}`, JSON.stringify(r));
    if (FINAL_STATES.has(r.state) && !this.finishedSet.has(r.requestId)) {
      this.finishedSet.add(r.requestId);
      this.finishedOrder.push(r.requestId);
      while (this.finishedOrder.length > this.o.historySize) {
        const old = this.finishedOrder.shift()!;
        this.finishedSet.delete(old);
        this.mark(`mig.${keyToken(old)}`, null);
      }
    }
  }

  async dispatched(r: MigrationRecord): Promise<void> {
    if (!this.o.canWrite()) throw new Error("not the leader: the dispatch cannot be recorded");
    const key = `mig.${keyToken(r.requestId)}`;
    this.mark(key, JSON.stringify(r));
    // A flush already finishing may have missed the key: try a few rounds, then give up.
    for (let i = 0; i < 3 && this.dirty.has(key); i++) await this.flush();
    if (this.dirty.has(key)) throw new Error(`could not record migration ${r.requestId} as sent`);
  }

  maintenance(hosts: ReadonlySet<string>): void {
    this.mark("state.maintenance", JSON.stringify([...hosts].sort()));
  }

  frozen(vms: ReadonlySet<string>): void {
    this.mark("state.frozen", JSON.stringify([...vms].sort()));
  }

  pending(planId: string, p: { plan: Plan; expiresAt: number } | undefined): void {
    this.mark(`plan.${keyToken(planId)}`, p ? JSON.stringify(p) : null);
  }

  paused(reason: string | undefined): void {
    this.mark("state.paused", JSON.stringify(reason === undefined ? null : { reason }));
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
        if (!this.retry) this.retry = setTimeout(() => {
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
    const parse = <T>(k: string, v: string): T | undefined => {
      try {
        return JSON.parse(v) as T;
      } catch (e) {
        this.o.log.warn({ key: k, err: describeError(e) }, "unreadable HA state entry ignored");
        return undefined;
      }
    };
    for (const [k, v] of values) {
      if (k.startsWith("mig.")) {
        const r = parse<MigrationRecord>(k, v);
        if (r?.requestId) st.migrations.push(r);
      } else if (k.startsWith("plan.")) {
        const p = parse<{ plan: Plan; expiresAt: number }>(k, v);
        if (p?.plan) st.pending.push(p);
      } else if (k === "state.maintenance") st.maintenance = parse<string[]>(k, v) ?? [];
      else if (k === "state.frozen") st.frozen = parse<string[]>(k, v) ?? [];
      else if (k === "state.paused") st.pausedReason = parse<{ reason: string } | null>(k, v)?.reason;
    }
    const finished = st.migrations.filter((r) => FINAL_STATES.has(r.state)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    this.finishedOrder = finished.map((r) => r.requestId);
    this.finishedSet.clear();
    for (const id of this.finishedOrder) this.finishedSet.add(id);
    return st;
  }
}
