import type { Logger } from "pino";
import { describeError } from "../../shared/errors.js";
import type { AgentFacts } from "../../shared/schemas/facts.js";
import type { Clock } from "./clock.js";
import type { FactsStore } from "./facts-store.js";

// Asks an agent for its facts (get-facts) when its heartbeat's digest differs from the facts kept,
// or none are kept: a published facts message that was missed, an orchestrator that restarted, a
// standby that became leader. At most `concurrency` requests at a time, never two for one host,
// and a host whose request failed is asked again only after a back-off that doubles per failure
// (an agent without the endpoint, or a hung one, is not asked on every heartbeat).

export interface RefresherOptions {
  store: FactsStore;
  /** Sends get-facts to a host's agent; the answer is checked (schema) by the caller. */
  request: (host: string) => Promise<AgentFacts>;
  clock: Clock;
  log: Logger;
  /** Requests at a time (default 4). */
  concurrency?: number;
  /** First back-off after a failure, ms (default 2000); doubles up to maxBackoffMs (default 300000). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface FactsCounters {
  /** Facts received (published or answered) and kept. */
  refreshes: number;
  /** get-facts requests that failed (no answer, an error, or facts that did not fit). */
  refreshFailures: number;
  /** Facts refused: invalid, or naming another host than the publisher (or the host asked). */
  rejected: number;
}

export class FactsRefresher {
  private readonly outstanding = new Set<string>();
  /** Hosts to ask, with the digest their heartbeat announced (insertion order: first come, first asked). */
  private readonly wanted = new Map<string, string>();
  private readonly backoff = new Map<string, { until: number; delayMs: number }>();
  readonly counters: FactsCounters = { refreshes: 0, refreshFailures: 0, rejected: 0 };

  constructor(private readonly o: RefresherOptions) {}

  /** A heartbeat's digest (absent: an agent that publishes no facts, which is never asked). */
  onHeartbeat(host: string, digest: string | undefined): void {
    if (digest === undefined || this.o.store.digest(host) === digest) {
      this.wanted.delete(host);
      return;
    }
    const b = this.backoff.get(host);
    if (b && this.o.clock.now() < b.until) return;
    // Bounded by the hosts that send heartbeats; a host already asked for is not queued twice.
    if (!this.outstanding.has(host)) this.wanted.set(host, digest);
    this.drain();
  }

  /** Facts that arrived (published, or a reply) were kept: no need to ask. */
  onFacts(host: string): void {
    this.counters.refreshes++;
    this.backoff.delete(host);
    if (this.wanted.get(host) === this.o.store.digest(host)) this.wanted.delete(host);
  }

  onRejected(): void {
    this.counters.rejected++;
  }

  /** Requests running now (tests). */
  get inFlight(): number {
    return this.outstanding.size;
  }

  private drain(): void {
    const limit = this.o.concurrency ?? 4;
    for (const [host] of this.wanted) {
      if (this.outstanding.size >= limit) return;
      this.wanted.delete(host);
      if (this.outstanding.has(host)) continue;
      this.outstanding.add(host);
      void this.fetch(host).finally(() => {
        this.outstanding.delete(host);
        this.drain();
      });
    }
  }

  private async fetch(host: string): Promise<void> {
    const { store, clock, log } = this.o;
    try {
      const f = await this.o.request(host);
      if (f.host !== host) {
        this.counters.rejected++;
        throw new Error(`the answer names host ${f.host}`);
      }
      if (store.ingest(f, clock.now())) this.onFacts(host);
      else this.backoff.delete(host);
    } catch (e) {
      this.counters.refreshFailures++;
      const prev = this.backoff.get(host);
      const delayMs = Math.min(this.o.maxBackoffMs ?? 300_000, prev ? prev.delayMs * 2 : (this.o.backoffMs ?? 2000));
      this.backoff.set(host, { until: clock.now() + delayMs, delayMs });
      // Once per host and back-off step that reaches the maximum: a host without the endpoint is not logged on every try.
      if (!prev || delayMs !== prev.delayMs) log.warn({ host, err: describeError(e), retryInMs: delayMs }, "cannot get the agent's facts");
    }
  }
}
