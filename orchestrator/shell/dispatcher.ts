import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Policy } from "../../shared/config/policy.js";
import { agentSubjects } from "../../shared/subjects.js";
import { CheckIncomingResult, MigrateAccepted, type CheckIncomingRequest, type IncomingRefusalCode } from "../../shared/schemas/agent-api.js";
import { requestJson } from "../../shared/nats/json.js";
import { describeError, NoRespondersError } from "../../shared/errors.js";
import type { ClusterState } from "./cluster-state.js";
import type { HostMapping } from "./host-mapping.js";
import type { MigrationTracker } from "./migration-tracker.js";
import type { DestinationCheck, MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { Clock } from "./clock.js";
import { exceedsPhysicalMemory } from "../core/index.js";
import type { FactsView, VmFactsOf } from "./facts-store.js";
import { localWritableDisks } from "../../shared/schemas/facts.js";

// Starts queued migrations as slots free (a streaming queue, not batches). Right before a
// migration starts, its pre-conditions are checked against the newest state: a VM that left
// its source, or a destination that went silent or closed, makes the step SKIPPED, not FAILED.
// Then the destination's agent checks the VM against its own libvirt (check-incoming): a refusal
// also makes it SKIPPED, in the destination's words, and never costs the VM a cooldown (SKIPPED
// records are not moves: MigrationTracker.pastMoves). The command carries copyStorage when the
// policy copies the VM's local disks.

/**
 * A destination's answer is used for this long after it was asked; an older one (the move waited
 * for a slot meanwhile) is asked again.
 */
const CHECK_TTL_MS = 30_000;

/** Refusals that hold until the VM's or the destination's facts change: the pair is remembered. */
const PAIR_REFUSALS: ReadonlySet<IncomingRefusalCode> = new Set(["CPU", "DOMAIN_TYPE", "MACHINE", "NETWORK", "STORAGE", "PINNING", "HUGEPAGES"]);

/** What the dispatcher knows of facts, and where it reports a destination's refusal. */
export interface DispatchFacts {
  view: FactsView;
  /** Whether the host's agent publishes facts (its heartbeat carries a digest): then it serves check-incoming too. */
  publishesFacts(host: string): boolean;
  /** The destination refused the VM for a reason that holds until facts change. */
  incompatible(p: { vm: string; vmHost: string; destination: string; error: string; since: number }): void;
}

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
  /** Facts and the destination's check; absent: neither (the command goes out unchecked). */
  facts?: DispatchFacts;
}

/** The destination's check of one move, and what the command then carries. */
type Checked =
  { go: true; checked?: DestinationCheck; copyStorage: boolean; local: VmFactsOf["disks"] } | { go: false; skip: string; checked: DestinationCheck };

export type Precheck = { go: true; address: string } | { go: false; skip: string } | { go: false; wait: string };

export class Dispatcher {
  private pumping = false;
  private again = false;
  /** Destinations already logged as unable to check (older agents): said once each. */
  private readonly uncheckedLogged = new Set<string>();
  /** Checks asked ahead, by request id: the moves that can start now are checked at once, not one after another. */
  private readonly checks = new Map<string, { at: number; result: Promise<Checked> }>();

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
        this.checkAhead();
        // Commands go out together, not one after another: each send marks its record ONGOING
        // before its first await, so the caps of the moves after it already count it, and a
        // drain of six VMs does not wait six round trips (and six agent-side facts reads).
        const sending: Promise<boolean>[] = [];
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
          const checked = await this.checkOf(r);
          // The check took time: the move may have been cancelled, or dispatch paused, meanwhile.
          if (r.state !== "PENDING" || !this.tracker.queued().includes(r)) continue;
          if (this.ctx.paused()) return;
          if (!checked.go) {
            r.checked = checked.checked;
            this.log.info({ requestId: r.requestId, vm: r.vm, why: checked.skip }, "migration skipped");
            this.tracker.finish(r, "SKIPPED", this.clock.now(), checked.skip);
            continue;
          }
          sending.push(this.send(r, pre.address, checked));
        }
        // A dispatch that could not be recorded (HA store, leadership gone) stops this pump.
        if ((await Promise.all(sending)).includes(false)) return;
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Starts the destination checks of the queued moves that could start now (as many as free
   * total slots), all at once: a drain of many VMs must not wait for each check in turn. Forgets
   * checks of moves no longer queued.
   */
  private checkAhead(): void {
    const queued = this.tracker.queued();
    const ids = new Set(queued.map((r) => r.requestId));
    for (const id of this.checks.keys()) if (!ids.has(id)) this.checks.delete(id);
    if (!this.ctx.facts) return;
    const now = this.clock.now();
    let free = this.ctx.policy().max_concurrent_total - this.tracker.ongoing().length;
    for (const r of queued) {
      if (free <= 0) return;
      if (!this.precheck(r, now).go) continue;
      free--;
      const c = this.checks.get(r.requestId);
      if (c && now - c.at <= CHECK_TTL_MS) continue;
      const result = this.checkDestination(r);
      // Awaited later (checkOf); a rejection here would otherwise go unhandled meanwhile.
      result.catch(() => undefined);
      this.checks.set(r.requestId, { at: now, result });
    }
  }

  /** The move's check: the one asked ahead if fresh, else asked now. */
  private checkOf(r: MigrationRecord): Promise<Checked> {
    const c = this.checks.get(r.requestId);
    this.checks.delete(r.requestId);
    if (c && this.clock.now() - c.at <= CHECK_TTL_MS) return c.result;
    return this.checkDestination(r);
  }

  /**
   * Asks the destination's agent whether it can take the VM (check-incoming, with the VM's facts
   * from its source). No answer in time skips the move; an agent that does not serve the endpoint
   * (older, it publishes no facts) cannot check, and the move goes ahead unchecked.
   */
  private async checkDestination(r: MigrationRecord): Promise<Checked> {
    const policy = this.ctx.policy();
    const f = this.ctx.facts;
    const vf = f?.view.vmFacts(r.source, r.vm);
    const local = vf ? localWritableDisks(vf) : [];
    const copyStorage = (policy.local_disks_vms[r.vm] ?? policy.local_disks) === "copy" && local.length > 0;
    if (!f) return { go: true, copyStorage, local };
    const at = () => this.clock.now();
    if (!vf) return { go: true, copyStorage, local, checked: { at: at(), result: "not-checked", note: `${r.source} has published no facts of ${r.vm}` } };
    const body: CheckIncomingRequest = { vm: r.vm, source: r.source, memMiB: r.memMiB, facts: vf, copyStorage };
    try {
      const reply = await requestJson(this.nc, agentSubjects(r.destination).checkIncoming, body, {
        timeoutMs: this.ctx.requestTimeoutMs,
        data: CheckIncomingResult,
      });
      if (!reply.ok) {
        const note = `${r.destination} could not check ${r.vm}: ${reply.error.code}: ${reply.error.message}`;
        return { go: false, skip: note, checked: { at: at(), result: "no-answer", note: note.slice(0, 2000) } };
      }
      if (reply.data.ok) return { go: true, copyStorage, local, checked: { at: at(), result: "ok" } };
      const refusals = reply.data.refusals.map((x) => ({ code: x.code, message: x.message.slice(0, 2000) }));
      const words = `${r.destination} refused: ${refusals.map((x) => `${x.code}: ${x.message}`).join("; ") || "no reason given"}`;
      const persistent = refusals.filter((x) => PAIR_REFUSALS.has(x.code));
      if (persistent.length > 0)
        f.incompatible({
          vm: r.vm,
          vmHost: r.source,
          destination: r.destination,
          since: at(),
          error: `${r.destination} refused: ${persistent.map((x) => `${x.code}: ${x.message}`).join("; ")}`,
        });
      return { go: false, skip: words, checked: { at: at(), result: "refused", refusals } };
    } catch (e) {
      if (e instanceof NoRespondersError && !f.publishesFacts(r.destination)) {
        if (!this.uncheckedLogged.has(r.destination)) {
          this.uncheckedLogged.add(r.destination);
          this.log.warn(
            { destination: r.destination },
            "the destination's agent does not serve check-incoming (an older agent): migrations to it go unchecked until it is upgraded",
          );
        }
        return {
          go: true,
          copyStorage,
          local,
          checked: { at: at(), result: "not-checked", note: `${r.destination}'s agent has no check-incoming (older agent)` },
        };
      }
      const note = `${r.destination} did not answer check-incoming: ${describeError(e)}`;
      return { go: false, skip: note, checked: { at: at(), result: "no-answer", note: note.slice(0, 2000) } };
    }
  }

  /** Sends one migration; false when it could not be recorded as sent (then nothing was sent). */
  private async send(
    r: MigrationRecord,
    address: string,
    checked: Extract<Checked, { go: true }> = { go: true, copyStorage: false, local: [] },
  ): Promise<boolean> {
    r.destinationAddress = address;
    if (checked.checked) r.checked = checked.checked;
    if (checked.copyStorage) r.copyStorage = true;
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
      // Only when true: an older agent's strict schema refuses the field, and it has no local disks to copy for us.
      ...(checked.copyStorage ? { copyStorage: true } : {}),
      ...(epoch !== undefined ? { epoch } : {}),
    };
    this.log.info({ requestId: r.requestId, vm: r.vm, from: r.source, to: r.destination, reason: r.reason }, "dispatching migration");
    // The request id makes the command idempotent: one retry after a lost answer cannot run it twice.
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const reply = await requestJson(this.nc, agentSubjects(r.source).migrate, body, { timeoutMs: this.ctx.requestTimeoutMs, data: MigrateAccepted });
        if (!reply.ok) this.tracker.finish(r, "FAILED", this.clock.now(), `${r.source} refused: ${reply.error.code}: ${reply.error.message}`);
        else if (r.state === "ONGOING") this.accepted(r, reply.data, checked.local);
        return true;
      } catch (e) {
        this.log.warn({ requestId: r.requestId, attempt, err: describeError(e) }, "no answer to migrate request");
      }
    }
    // Still ONGOING: the agent may have accepted it; reconcile() settles it from events or inventories.
    r.error = `no answer from ${r.source} to the migrate request; waiting for its outcome`;
    return true;
  }

  /** Records what the source agent's accept says (time limit, disks copied, post-copy). */
  private accepted(r: MigrationRecord, a: MigrateAccepted, local: VmFactsOf["disks"]): void {
    if (a.timeoutS !== undefined) r.timeoutS = a.timeoutS;
    if (a.copyDisks !== undefined && a.copyDisks.length > 0) r.copyDisks = a.copyDisks;
    if (a.diskBytes !== undefined) r.diskBytes = a.diskBytes;
    if (a.postcopy !== undefined) r.postcopy = a.postcopy;
    // The source copies of the disks it copies (source-disks.ts handles them after success): as the
    // source agent read them right before the migration, else (an agent that does not say) by the
    // facts the orchestrator holds.
    const paths =
      a.copyPaths !== undefined && a.copyPaths.length > 0
        ? a.copyPaths
        : (a.copyDisks ?? []).flatMap((t) => local.filter((d) => d.target === t && d.source !== undefined).map((d) => d.source!));
    if (paths.length > 0) r.sourceDisks = { policy: this.ctx.policy().local_disk_source, paths };
    this.tracker.touch(r);
  }
}
