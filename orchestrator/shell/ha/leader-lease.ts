import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { describeError } from "../../../shared/errors.js";
import { decodeRecord, encodeRecord, LeaseEntry } from "./ha-records.js";

// One leader among several orchestrators, through a lease in a JetStream KV bucket. Every change
// of the lease key is compare-and-set on its revision (`create` when absent, `update(key, value,
// revision)` otherwise), so two instances can never both write the same lease.
//
// Expiry is judged without comparing clocks across machines: a standby takes over when the
// revision it sees has not changed for a whole lease period *by its own monotonic clock*, counted
// from when it first saw that revision (always after the leader wrote it). The leader holds the
// lease until `sentAt + ttl - margin` of its newest successful renewal, `sentAt` taken before the
// renewal went out; past that it stops acting at once, renewed or not. So the old leader has
// stopped before any standby can take over, as long as clocks run at the same rate.

export interface LeaseOptions {
  key: string;
  instance: string;
  ttlMs: number;
  log: Logger;
  /** Monotonic ms (performance.now by default). */
  monotonic?: () => number;
  /** Wall clock for the value's renewedAt/expiresAt. */
  wall?: () => number;
  /**
   * Called once the lease is won, before this instance counts as leader (load the shared state
   * here); a throw gives the lease back.
   */
  onAcquire: (epoch: number) => Promise<void>;
  /** Called once this instance counts as leader (after onAcquire). */
  onLeading?: (epoch: number) => void;
  /** Called when this instance stops leading (lease lost, renewal too late, or stop). */
  onLose: (why: string) => void;
}

export class LeaderLease {
  private holding = false;
  private ready = false;
  private holdUntil = 0;
  private revision = 0;
  private epochNow: number | undefined;
  private leaderNow: string | undefined;
  private observed: { revision: number; since: number } | undefined;
  private highestEpoch = 0;
  private timer: NodeJS.Timeout | undefined;
  private loseTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private stopped = false;
  private readonly mono: () => number;
  private readonly wall: () => number;

  constructor(
    private readonly kv: KV,
    private readonly o: LeaseOptions,
  ) {
    this.mono = o.monotonic ?? (() => performance.now());
    this.wall = o.wall ?? (() => Date.now());
  }

  /** The renew / check period: a third of the lease. */
  get periodMs(): number {
    return Math.max(50, Math.floor(this.o.ttlMs / 3));
  }

  /** A margin the leader keeps below the lease period, against delays and clock-rate drift. */
  private get marginMs(): number {
    return Math.max(20, Math.floor(this.o.ttlMs / 10));
  }

  start(): void {
    this.stopped = false;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.periodMs);
  }

  /** Leader now: holds a lease not yet past its own deadline, and its state is loaded. */
  isLeader(): boolean {
    return this.holding && this.ready && this.mono() < this.holdUntil;
  }

  /** The epoch of the lease this instance holds (undefined while standing by). */
  epoch(): number | undefined {
    return this.isLeader() ? this.epochNow : undefined;
  }

  /** The instance named by the newest lease value seen (this one when leading). */
  leader(): string | undefined {
    return this.leaderNow;
  }

  /**
   * Who holds the lease right now, read from the bucket (not the view of the last check, which
   * can be a third of a lease old): undefined when nobody does or the holder gave it back. A
   * crashed holder is still named until someone takes over; its subjects then have no responders.
   */
  async holder(): Promise<string | undefined> {
    const e = await this.kv.get(this.o.key);
    if (!e || e.operation !== "PUT") return undefined;
    const v = decodeRecord(LeaseEntry, this.o.key, e.string());
    return v.released ? undefined : v.instance;
  }

  /** Newest epoch seen in the bucket. */
  get seenEpoch(): number {
    return this.highestEpoch;
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (this.holding) await this.renew();
      else await this.watchOrTake();
    } catch (e) {
      this.o.log.warn({ err: describeError(e) }, "lease check failed");
    } finally {
      this.ticking = false;
    }
  }

  private value(epoch: number, released = false): string {
    const now = this.wall();
    return encodeRecord({
      instance: this.o.instance,
      epoch,
      renewedAt: now,
      expiresAt: released ? now : now + this.o.ttlMs,
      ...(released ? { released: true } : {}),
    });
  }

  private async renew(): Promise<void> {
    const sentAt = this.mono();
    try {
      this.revision = await this.kv.update(this.o.key, this.value(this.epochNow!), this.revision);
      if (!this.holding) return;
      this.extend(sentAt + this.o.ttlMs - this.marginMs);
    } catch (e) {
      const msg = describeError(e);
      // Someone else wrote the lease: it is theirs now. Anything else (no answer) is retried
      // until the hold runs out.
      if (/wrong last sequence|revision|sequence/i.test(msg)) this.lose(`lease taken over: ${msg}`);
      else if (this.mono() >= this.holdUntil) this.lose(`lease not renewed in time: ${msg}`);
      else this.o.log.warn({ err: msg }, "lease renewal failed; retrying");
    }
  }

  private extend(until: number): void {
    this.holdUntil = until;
    if (this.loseTimer) clearTimeout(this.loseTimer);
    this.loseTimer = setTimeout(
      () => {
        if (this.holding && this.mono() >= this.holdUntil) this.lose("lease not renewed in time");
      },
      Math.max(0, until - this.mono()) + 1,
    );
  }

  private async watchOrTake(): Promise<void> {
    const e = await this.kv.get(this.o.key);
    const now = this.mono();
    if (!e || e.operation !== "PUT") {
      await this.take(e?.revision ?? 0, this.highestEpoch + 1, now);
      return;
    }
    // A lease this version cannot read is never taken over silently: the check fails, loudly, each period.
    const v = decodeRecord(LeaseEntry, this.o.key, e.string());
    this.highestEpoch = Math.max(this.highestEpoch, v.epoch);
    this.leaderNow = v.released ? undefined : v.instance;
    if (!this.observed || this.observed.revision !== e.revision) this.observed = { revision: e.revision, since: now };
    const expired = v.released === true || now - this.observed.since >= this.o.ttlMs;
    if (expired) await this.take(e.revision, v.epoch + 1, now);
  }

  private async take(revision: number, epoch: number, sentAt: number): Promise<void> {
    try {
      this.revision = revision === 0 ? await this.kv.create(this.o.key, this.value(epoch)) : await this.kv.update(this.o.key, this.value(epoch), revision);
    } catch (e) {
      this.o.log.debug({ err: describeError(e) }, "lost the race for the lease");
      return;
    }
    this.holding = true;
    this.ready = false;
    this.epochNow = epoch;
    this.highestEpoch = Math.max(this.highestEpoch, epoch);
    this.leaderNow = this.o.instance;
    this.extend(sentAt + this.o.ttlMs - this.marginMs);
    this.o.log.info({ instance: this.o.instance, epoch }, "won the leader lease; loading shared state");
    // Not awaited here: renewals go on while the state loads.
    void this.acquire(epoch);
  }

  private async acquire(epoch: number): Promise<void> {
    try {
      await this.o.onAcquire(epoch);
    } catch (e) {
      this.o.log.error({ err: describeError(e) }, "cannot take over (state not loaded); giving the lease back");
      if (this.holding && this.epochNow === epoch) await this.release();
      return;
    }
    if (!this.holding || this.epochNow !== epoch || this.stopped) return;
    this.ready = true;
    this.o.log.info({ instance: this.o.instance, epoch }, "leading");
    this.o.onLeading?.(epoch);
  }

  private lose(why: string): void {
    if (!this.holding) return;
    const was = this.ready;
    this.holding = false;
    this.ready = false;
    this.holdUntil = 0;
    this.observed = undefined;
    if (this.loseTimer) clearTimeout(this.loseTimer);
    this.o.log.warn({ instance: this.o.instance, epoch: this.epochNow, why }, "no longer leader");
    if (was) this.o.onLose(why);
  }

  /** Gives the lease back (clean stop): a standby takes over at once. */
  private async release(): Promise<void> {
    if (!this.holding) return;
    const epoch = this.epochNow!;
    const revision = this.revision;
    this.lose("released");
    await this.kv.update(this.o.key, this.value(epoch, true), revision).catch(() => undefined);
  }

  /** Stops; a leader gives the lease back unless `release` is false (a crash, in tests). */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (release) await this.release();
    else {
      this.holding = false;
      this.ready = false;
    }
    if (this.loseTimer) clearTimeout(this.loseTimer);
  }
}
