import { describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import { FACTS_VERSION, type AgentFacts, type HostFacts, type VmFacts } from "../../shared/schemas/facts.js";
import type { FactsSource } from "../facts/collect-facts.js";
import { factsDigest } from "../facts/facts-digest.js";
import type { Clock } from "../ports/clock.js";

// The agent's newest facts: the host's, re-read every facts.interval, and its running or paused
// VMs', read when a VM appears (the metrics collection tells which VMs run) and again with the
// host's. `onChange` gets them whenever their digest changes, so the facts subject carries a
// message only when something changed. Collections run one at a time; one that fails is logged
// and tried again at the next occasion, and never disturbs the metrics.

export interface FactsKeeperOptions {
  host: string;
  source: FactsSource;
  clock: Clock;
  logger: Logger;
  /** Receives the facts whenever their digest changes (and the first time). */
  onChange: (f: AgentFacts) => void;
  /** Most VMs kept (the schema's bound). */
  maxVms?: number;
  /**
   * After a failed collection, new VMs are not read again before this long (facts.interval): a
   * libvirt that cannot answer must not cost virsh calls on every metrics cycle. The periodic
   * refreshAll always tries. Default 60 s.
   */
  retryMs?: number;
}

export class FactsKeeper {
  private host: HostFacts | undefined;
  private readonly vms = new Map<string, VmFacts>();
  /** Running or paused VMs as the newest metrics saw them; undefined before the first. */
  private names: Set<string> | undefined;
  private current: AgentFacts | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private lastError: string | undefined;
  /** No read for new VMs before this (clock ms) after a failure; 0: no failure pending. */
  private retryAt = 0;

  constructor(private readonly o: FactsKeeperOptions) {}

  /** The newest facts, if any were collected. */
  get newest(): AgentFacts | undefined {
    return this.current;
  }

  get digest(): string | undefined {
    return this.current?.digest;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Re-reads the host's facts and every known VM's. Never throws (failures are logged). */
  refreshAll(): Promise<void> {
    return this.serial(async () => {
      try {
        this.host = await this.o.source.hostFacts();
        this.ok();
      } catch (e) {
        this.failed("host facts", e);
      }
      const names = this.names ? [...this.names] : [...this.vms.keys()];
      await this.readVms(names, true);
      this.rebuild();
    });
  }

  /**
   * The running and paused VMs seen by a metrics collection: reads the facts of those not known
   * yet and forgets those gone. Never throws.
   */
  noteVms(running: readonly string[]): Promise<void> {
    const now = new Set(running);
    const same = this.names !== undefined && now.size === this.names.size && [...now].every((n) => this.names!.has(n));
    const missing = running.filter((n) => !this.vms.has(n));
    if (same && missing.length === 0) return Promise.resolve();
    // Only the set changed (or facts are missing) while a failure's back-off runs: note the set,
    // read nothing; refreshAll or the first cycle after the back-off reads them.
    const backingOff = this.o.clock.now() < this.retryAt;
    if (same && backingOff) return Promise.resolve();
    this.names = now;
    return this.serial(async () => {
      for (const n of [...this.vms.keys()]) if (!now.has(n)) this.vms.delete(n);
      if (this.o.clock.now() >= this.retryAt)
        await this.readVms(
          running.filter((n) => !this.vms.has(n)),
          false,
        );
      this.rebuild();
    });
  }

  /** The newest facts; collected now when there are none yet. Throws when they cannot be. */
  async get(): Promise<AgentFacts> {
    if (this.current) return this.current;
    await this.refreshAll();
    if (this.current) return this.current;
    throw new Error(`no facts of ${this.o.host} yet${this.lastError ? `: ${this.lastError}` : ""}`);
  }

  /** One VM's facts, read now (a migration needs its disks as they are); the cache is updated too. */
  async vmNow(name: string): Promise<VmFacts | undefined> {
    const [f] = await this.o.source.vmFacts([name]);
    if (f) this.vms.set(name, f);
    return f;
  }

  private async readVms(names: readonly string[], replace: boolean): Promise<void> {
    if (names.length === 0) return;
    try {
      const got = await this.o.source.vmFacts(names);
      const seen = new Set(got.map((f) => f.name));
      for (const f of got) if (this.names === undefined || this.names.has(f.name)) this.vms.set(f.name, f);
      if (replace) for (const n of names) if (!seen.has(n)) this.vms.delete(n);
      this.ok();
    } catch (e) {
      this.failed("VM facts", e);
    }
  }

  private rebuild(): void {
    if (!this.host) return;
    const max = this.o.maxVms ?? 2000;
    const vms = [...this.vms.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, max);
    const digest = factsDigest(this.host, vms);
    if (digest === this.current?.digest) return;
    this.current = { v: FACTS_VERSION, host: this.o.host, ts: Math.round(this.o.clock.now()), digest, hostFacts: this.host, vms };
    try {
      this.o.onChange(this.current);
    } catch (e) {
      this.o.logger.error({ err: describeError(e) }, "facts handler failed");
    }
  }

  private ok(): void {
    if (this.lastError !== undefined) this.o.logger.info("facts collection works again");
    this.lastError = undefined;
    this.retryAt = 0;
  }

  private failed(what: string, e: unknown): void {
    const text = describeError(e).slice(0, 1000);
    // Once per distinct error: a libvirt that stays down must not flood the log.
    if (text !== this.lastError) this.o.logger.warn({ err: text }, `${what} collection failed; trying again later`);
    this.lastError = text;
    this.retryAt = this.o.clock.now() + (this.o.retryMs ?? 60_000);
  }
}
