import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Policy } from "../../shared/config/policy.js";
import { agentSubjects } from "../../shared/subjects.js";
import { MigrateAccepted } from "../../shared/schemas/agent-api.js";
import { requestJson } from "../../shared/nats/json.js";
import { describeError } from "../../shared/errors.js";
import type { ClusterState } from "./cluster-state.js";
import type { HostMapping } from "./host-mapping.js";
import type { MigrationTracker } from "./migration-tracker.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { Clock } from "./clock.js";
import { exceedsPhysicalMemory } from "../core/index.js";

// Starts queued migrations as slots free (a streaming queue, not batches). Right before a
// migration starts, its pre-conditions are checked against the newest state: a VM that left
// its source, or a destination that went silent or closed, makes the step SKIPPED, not FAILED.

export interface DispatchContext {
  policy: () => Policy;
  mapping: () => HostMapping;
  maintenance: () => ReadonlySet<string>;
  paused: () => boolean;
  epoch: () => number | undefined;
  requestTimeoutMs: number;
  /**
   * Awaited after a record turns ONGOING and before its command goes out (HA: the shared store
   * must know it was sent, so a new leader never sends it again). A throw puts it back in the queue.
   */
  beforeSend?: (r: MigrationRecord) => Promise<void>;
}

export type Precheck = { go: true; address: string } | { go: false; skip: string } | { go: false; wait: string };

export class Dispatcher {
  private pumping = false;
  private again = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly state: ClusterState,
    private readonly tracker: MigrationTracker,
    private readonly ctx: DispatchContext,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Pre-conditions of one queued move against the newest state. Pure apart from reading state. */
  precheck(r: MigrationRecord, now: number): Precheck {
    const policy = this.ctx.policy();
    const where = this.state.locate(r.vm).filter((l) => l.info.state === "running");
    if (where.length === 0) return { go: false, skip: `VM ${r.vm} is not running anywhere any more` };
    if (!where.some((l) => l.host === r.source))
      return { go: false, skip: `VM ${r.vm} is no longer on ${r.source} (now on ${where.map((l) => l.host).join(", ")})` };
    if (where.some((l) => l.info.migrating)) return { go: false, skip: `VM ${r.vm} is already migrating` };
    if (!this.state.isFresh(r.source, now, policy)) return { go: false, skip: `source ${r.source} is silent` };
    if (!this.state.isFresh(r.destination, now, policy)) return { go: false, skip: `destination ${r.destination} is silent` };
    // Fresh metrics are not enough: an agent whose newest heartbeat (newer than its metrics) says
    // collection fails has lost its libvirtd; a migration there fails (seen in the lab).
    const failing = this.state.collectFailure(r.destination);
    if (failing !== undefined) return { go: false, skip: `destination ${r.destination} cannot collect (its hypervisor does not answer): ${failing}` };
    if (this.ctx.maintenance().has(r.destination)) return { go: false, skip: `destination ${r.destination} is in maintenance` };
    const address = this.ctx.mapping().get(r.destination);
    if (address === undefined) return { go: false, skip: `destination ${r.destination} has no address in host_mapping` };
    const dest = this.state.metrics(r.destination);
    if (dest) {
      // The planner's physical-memory limit (constraints.ts), on the newest report: what is used
      // now plus what migrations already on their way there will use. (The planner also counts
      // the moves it plans and the overcommit and percentage limits; here the plan was already
      // judged by those, and only the memory actually free can have changed since.)
      const incoming = this.tracker
        .ongoing()
        .filter((o) => o.destination === r.destination)
        .reduce((s, o) => s + o.memMiB, 0);
      const used = Math.max(0, dest.memTotalMiB - dest.memAvailableMiB) + incoming;
      if (exceedsPhysicalMemory(used, r.memMiB, dest.memTotalMiB, policy.mem_reserve_mib)) {
        const free = dest.memTotalMiB - policy.mem_reserve_mib - used;
        return {
          go: false,
          skip: `destination ${r.destination} has ${Math.round(free)} MiB free (after reserve and incoming), VM needs ${Math.round(r.memMiB)} MiB`,
        };
      }
    }
    const ongoing = this.tracker.ongoing();
    if (ongoing.length >= policy.max_concurrent_total) return { go: false, wait: `total migrations at cap ${policy.max_concurrent_total}` };
    if (ongoing.filter((o) => o.source === r.source).length >= policy.max_concurrent_per_source)
      return { go: false, wait: `source ${r.source} at cap ${policy.max_concurrent_per_source}` };
    if (ongoing.filter((o) => o.destination === r.destination).length >= policy.max_concurrent_per_destination)
      return { go: false, wait: `destination ${r.destination} at cap ${policy.max_concurrent_per_destination}` };
    return { go: true, address };
  }

  /** Starts what can start now; safe to call often (re-entrant calls coalesce). */
  async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        if (this.ctx.paused()) return;
        for (const r of [...this.tracker.queued()]) {
          const now = this.clock.now();
          const pre = this.precheck(r, now);
          if (!pre.go) {
            if ("skip" in pre) {
              this.log.info({ requestId: r.requestId, vm: r.vm, why: pre.skip }, "migration skipped");
              this.tracker.finish(r, "SKIPPED", now, pre.skip);
            }
            continue;
          }
          if (!(await this.send(r, pre.address))) return;
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  /** Sends one migration; false when it could not be recorded as sent (then nothing was sent). */
  private async send(r: MigrationRecord, address: string): Promise<boolean> {
    r.destinationAddress = address;
    this.tracker.start(r, this.clock.now());
    if (this.ctx.beforeSend) {
      try {
        await this.ctx.beforeSend(r);
      } catch (e) {
        this.log.warn({ requestId: r.requestId, vm: r.vm, err: describeError(e) }, "cannot record the dispatch; migration stays queued");
        this.tracker.unstart(r);
        return false;
      }
      // Leadership may have gone while the record was being stored.
      if (this.ctx.paused()) {
        this.tracker.unstart(r);
        return false;
      }
    }
    const epoch = this.ctx.epoch();
    const body = {
      requestId: r.requestId,
      vm: r.vm,
      destination: r.destination,
      destinationAddress: address,
      ...(epoch !== undefined ? { epoch } : {}),
    };
    this.log.info({ requestId: r.requestId, vm: r.vm, from: r.source, to: r.destination, reason: r.reason }, "dispatching migration");
    // The request id makes the command idempotent: one retry after a lost answer cannot run it twice.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const reply = await requestJson(this.nc, agentSubjects(r.source).migrate, body, { timeoutMs: this.ctx.requestTimeoutMs, data: MigrateAccepted });
        if (!reply.ok) this.tracker.finish(r, "FAILED", this.clock.now(), `${r.source} refused: ${reply.error.code}: ${reply.error.message}`);
        return true;
      } catch (e) {
        this.log.warn({ requestId: r.requestId, attempt, err: describeError(e) }, "no answer to migrate request");
      }
    }
    // Still ONGOING: the agent may have accepted it; reconcile() settles it from events or inventories.
    r.error = `no answer from ${r.source} to the migrate request; waiting for its outcome`;
    return true;
  }
}
