import type { Policy } from "../../shared/config/policy.js";
import type { DecisionCode } from "../../shared/schemas/decision-codes.js";
import type { Numbers } from "../../shared/schemas/numbers.js";
import type { FencedHost, RecordedRestart, RestartAwaiting, RestartHeld, RestartPlan, RestartStep } from "../../shared/schemas/recovery.js";
import type { ClusterSnapshot, SnapshotHost, SnapshotVm } from "../../shared/schemas/snapshot.js";
import type { RestartPriority, VmRecord } from "../../shared/schemas/vm-record.js";
import { LIVE_STATES } from "./cluster-model.js";
import { createContext } from "./context.js";
import { domainSize } from "./domain-size.js";
import { RejectionTally } from "./explain.js";
import { f1, r2 } from "./format.js";
import { effectivePolicy } from "./headroom.js";
import { adaptMemoryLevels } from "./memory-headroom.js";
import { findDestination } from "./placement.js";

// Which VMs of fenced hosts to define and start where. Placement is the planner's own: each VM is
// searched a destination like an evacuation's best host (findDestination, "spread", operator mode:
// capacity, rules, facts and every destination check; no cooldowns or settle times), on the working
// copy where every earlier restart already stands. What is particular to a restart is decided here,
// before placement: whether the VM may be started at all (its priority, a restart already recorded
// for this failure, another host listing it, its last known state, its local disks).
//
// The one promise that matters: a VM is never planned twice. A restart is recorded (under the
// leader's epoch) before its start is sent, and a recorded restart is never planned again for the
// same failure; a VM any other host lists is never planned at all. Both are checked from the
// inputs alone, so a new leader that reads the recorded restarts plans exactly what is left.
//
// Priorities start in waves (restart_wait_for, like vSphere HA's "start next priority" condition):
// a lower priority is planned only once no restart of a higher one is still coming up, whether it
// was recorded by an earlier plan (the shell says which are not up yet) or is planned by this one.
// A restart that stays down does not hold the others forever: restart_wait_timeout after it was
// recorded, the next priority goes, and its reason names what was not up.

export interface RestartInput {
  snapshot: ClusterSnapshot;
  /** Every VM record (those of hosts not fenced are ignored). */
  records: readonly VmRecord[];
  /** The hosts the fence gate let through, with when their failure began. */
  fenced: readonly FencedHost[];
  /** The restarts recorded so far (any incident). */
  recorded: readonly RecordedRestart[];
  /**
   * Recorded restarts of the current incidents whose guest is not up yet (restart_wait_for):
   * lower priorities wait for them, at most restart_wait_timeout from `since`. Absent: none.
   */
  awaiting?: readonly RestartAwaiting[];
}

const RANK: Readonly<Record<RestartPriority, number>> = { high: 0, medium: 1, low: 2, never: 3 };
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface Candidate {
  rec: VmRecord;
  entry: SnapshotVm;
  sizeFrom: "snapshot" | "definition";
}

/**
 * Whether `r` stands for a restart of `rec`'s VM in its current incident: recorded after the
 * failure began, or recorded from the host the record still names without the record having been
 * rewritten since (the VM has not been seen anywhere since that restart).
 */
function blocks(r: RecordedRestart, rec: VmRecord, failedAt: number): boolean {
  if (r.vm !== rec.vm) return false;
  return r.at >= failedAt || (r.host === rec.host && rec.updatedAt <= r.at);
}

/** A stand-in for a fenced host no longer in the snapshot: silent, closed, never a destination. */
function absentHost(id: string): SnapshotHost {
  return { id, cpus: 1, memTotalMiB: 1, memAvailableMiB: 0, cpuPercent: 0, lastSeen: 0, samples: [], maintenance: true, tags: [] };
}

/** Plan the restarts of the fenced hosts' VMs. Pure and deterministic: same inputs, same plan, whatever their order. */
export function planRestarts(input: RestartInput, configured: Policy, now: number): RestartPlan {
  const { snapshot } = input;
  const failedAt = new Map<string, number>();
  for (const f of input.fenced) failedAt.set(f.host, Math.min(f.failedAt, failedAt.get(f.host) ?? Infinity));
  const fencedHosts = [...failedAt.keys()].sort(cmp);
  const listings = new Map<string, SnapshotVm[]>();
  for (const v of snapshot.vms) {
    const l = listings.get(v.name);
    if (l) l.push(v);
    else listings.set(v.name, [v]);
  }
  const records = [...new Map([...input.records].sort((a, b) => cmp(a.vm, b.vm) || cmp(a.host, b.host)).map((r) => [r.vm, r])).values()].filter((r) =>
    failedAt.has(r.host),
  );
  const recordedVms = new Set(records.map((r) => r.vm));

  const waiting: RestartHeld[] = [];
  const skipped: RestartHeld[] = [];
  const held: { list: RestartHeld[]; vm: string; priority: RestartPriority | null; host: string; code: DecisionCode; reason: string; numbers: Numbers }[] = [];
  const hold = (
    list: RestartHeld[],
    vm: string,
    priority: RestartPriority | null,
    host: string,
    code: DecisionCode,
    reason: string,
    numbers: Numbers = {},
  ): void => {
    held.push({ list, vm, priority, host, code, reason, numbers });
  };

  // VMs a fenced host listed that have no record: nothing to define them from.
  for (const [name, ls] of [...listings.entries()].sort((a, b) => cmp(a[0], b[0]))) {
    if (recordedVms.has(name)) continue;
    const onFenced = ls.find((v) => failedAt.has(v.host));
    if (!onFenced || ls.some((v) => !failedAt.has(v.host))) continue;
    hold(
      skipped,
      name,
      null,
      onFenced.host,
      "RESTART_NO_RECORD",
      `${name} was listed by the fenced host ${onFenced.host}, but no record keeps its definition: it cannot be restarted elsewhere`,
      {
        state: onFenced.state,
      },
    );
  }

  const candidates: Candidate[] = [];
  /** Recorded restarts still on their way: their VM is reserved on the destination. */
  const reserve: { c: Candidate; destination: string }[] = [];
  for (const rec of records) {
    const ls = listings.get(rec.vm) ?? [];
    const host = rec.host;
    const p = rec.restartPriority;
    const elsewhere = ls.filter((v) => !failedAt.has(v.host));
    const onFenced = ls.find((v) => v.host === host) ?? ls.find((v) => failedAt.has(v.host));
    const copies = (onFenced?.alsoListedOn ?? []).filter((h) => !failedAt.has(h));
    const size = onFenced ? { memMiB: onFenced.memMiB, vcpus: onFenced.vcpus } : domainSize(rec.definition);
    const entry: SnapshotVm | null = size
      ? onFenced
        ? { ...onFenced, host, state: "running" }
        : { name: rec.vm, host, state: "running", vcpus: size.vcpus, memMiB: size.memMiB, cpuPercent: null, tags: [] }
      : null;
    const cand = entry ? { rec, entry, sizeFrom: onFenced ? ("snapshot" as const) : ("definition" as const) } : null;
    const done = input.recorded.filter((r) => blocks(r, rec, failedAt.get(host)!)).sort((a, b) => a.at - b.at || cmp(a.destination, b.destination));
    if (done.length > 0) {
      const r = done[done.length - 1]!;
      hold(
        skipped,
        rec.vm,
        p,
        host,
        "RESTART_RECORDED",
        `${rec.vm}: a restart on ${r.destination} is already recorded (epoch ${r.epoch}): never planned twice`,
        {
          destination: r.destination,
          epoch: r.epoch,
          recordedAt: r.at,
        },
      );
      if (cand && elsewhere.length === 0 && copies.length === 0 && !failedAt.has(r.destination)) reserve.push({ c: cand, destination: r.destination });
      continue;
    }
    if (elsewhere.length > 0 || copies.length > 0) {
      const where = [...new Set([...elsewhere.map((v) => `${v.host} (${v.state})`), ...copies.map((h) => `${h} (running or paused)`)])].sort();
      hold(skipped, rec.vm, p, host, "RESTART_RUNNING_ELSEWHERE", `${rec.vm} is listed by ${where.join(", ")}: it is not started a second time`, {
        listedOn: where.join(","),
      });
      continue;
    }
    if (p === "never") {
      hold(skipped, rec.vm, p, host, "RESTART_PRIORITY_NEVER", `${rec.vm} has restart priority never: not restarted elsewhere`);
      continue;
    }
    if (onFenced && !LIVE_STATES.has(onFenced.state)) {
      hold(
        skipped,
        rec.vm,
        p,
        host,
        "RESTART_WAS_STOPPED",
        `${rec.vm} was ${onFenced.state} on ${onFenced.host} when it was last listed: not started elsewhere`,
        {
          state: onFenced.state,
        },
      );
      continue;
    }
    const local = rec.disks.filter((d) => d.localWritable);
    if (local.length > 0) {
      hold(
        waiting,
        rec.vm,
        p,
        host,
        "RESTART_LOCAL_DISKS",
        `${rec.vm} has ${local.length} local writable disk(s) on ${host} (${local.map((d) => d.target).join(", ")}): it waits for its host`,
        { localDisks: local.length, disks: local.map((d) => d.target).join(",") },
      );
      continue;
    }
    if (!cand) {
      hold(
        waiting,
        rec.vm,
        p,
        host,
        "RESTART_SIZE_UNKNOWN",
        `${rec.vm} is listed by no host and its recorded definition gives no memory or vCPUs: it cannot be placed`,
      );
      continue;
    }
    candidates.push(cand);
  }
  candidates.sort((a, b) => RANK[a.rec.restartPriority] - RANK[b.rec.restartPriority] || b.entry.memMiB - a.entry.memMiB || cmp(a.rec.vm, b.rec.vm));

  // The working copy: every VM to place (or reserved by a recorded restart) stands on its fenced
  // host, once; a fenced host the snapshot no longer has stands in as a silent host.
  const placed = [...candidates, ...reserve.map((x) => x.c)];
  const placedNames = new Set(placed.map((c) => c.rec.vm));
  const hostIds = new Set(snapshot.hosts.map((h) => h.id));
  const working: ClusterSnapshot = {
    ...snapshot,
    hosts: [...snapshot.hosts, ...fencedHosts.filter((h) => !hostIds.has(h)).map(absentHost)],
    vms: [...snapshot.vms.filter((v) => !(placedNames.has(v.name) && failedAt.has(v.host))), ...placed.map((c) => c.entry)],
  };
  const cpu = effectivePolicy(working, configured, now);
  const mem = adaptMemoryLevels(working, cpu.policy, now);
  const { policy } = mem;
  const ctx = createContext(working, policy, now, "evacuate", {}, cpu.hostScale, mem.rise);
  if (cpu.note) ctx.log.add(cpu.note);
  if (mem.note) ctx.log.add(mem.note);
  for (const h of fencedHosts) ctx.closing.add(h);
  const { model } = ctx;
  for (const { c, destination } of reserve) {
    const vm = model.vmByName.get(c.rec.vm);
    const dest = model.hostById.get(destination);
    if (vm && dest && vm.host !== dest.id) model.applyMove(vm, dest);
  }

  const steps: RestartStep[] = [];
  const opts = { cpuLimit: policy.max_load_candidate, memLimit: policy.max_mem_candidate, allowEmpty: true, caps: false };
  const waves = priorityWaves(input.awaiting ?? [], policy, now);
  for (const c of candidates) {
    const { rec } = c;
    const p = rec.restartPriority;
    const gate = waves.gate(p);
    if (gate) {
      hold(waiting, rec.vm, p, rec.host, "RESTART_PRIORITY_WAIT", `${rec.vm} (${p}) ${gate.reason}`, gate.numbers);
      continue;
    }
    if (steps.length >= policy.max_concurrent_restarts) {
      hold(
        waiting,
        rec.vm,
        p,
        rec.host,
        "RESTART_CAP",
        `${steps.length} restarts already planned (max_concurrent_restarts ${policy.max_concurrent_restarts}): ${rec.vm} waits`,
        {
          planned: steps.length,
          max_concurrent_restarts: policy.max_concurrent_restarts,
        },
      );
      continue;
    }
    const vm = model.vmByName.get(rec.vm)!;
    const tally = new RejectionTally();
    const found = findDestination(ctx, vm, opts, "spread", tally);
    if (!found) {
      const [d] = tally.flush(ctx.log, vm.name, model.hosts.length, undefined, `cannot restart ${vm.name} from ${rec.host}: no destination`);
      waiting.push({ vm: rec.vm, priority: p, host: rec.host, code: "NO_DESTINATION", reason: d!.message, numbers: d!.numbers });
      continue;
    }
    const cpuBefore = model.cpuLoad(found.host);
    model.applyMove(vm, found.host);
    const numbers: Numbers = {
      priority: p,
      memMiB: r2(c.entry.memMiB),
      vcpus: c.entry.vcpus,
      sizeFrom: c.sizeFrom,
      destCpuBefore: r2(cpuBefore),
      destCpuAfter: r2(found.cpuAfter),
      destMemAfter: r2(found.memAfter),
      cpuAssumed: vm.cpuAssumed,
    };
    const late = waves.late(p);
    if (late.length > 0) numbers.notUpAfterTimeout = late.join(",");
    const reason =
      `restart ${rec.vm} (${p}) from fenced ${rec.host} on ${found.host.id}: CPU ${f1(cpuBefore)} % → ${f1(found.cpuAfter)} %, memory → ${f1(found.memAfter)} %` +
      (found.brokenShould.length > 0 ? `; breaks should rule(s) ${found.brokenShould.join(", ")} because nothing else fits` : "") +
      (late.length > 0 ? `; ${late.join(", ")} not up after restart_wait_timeout ${policy.restart_wait_timeout} s: started anyway` : "");
    waves.planned(rec.vm, p);
    steps.push({ order: steps.length, vm: rec.vm, priority: p, from: rec.host, destination: found.host.id, code: "RESTART_PLANNED", reason, numbers });
    ctx.log.vm(rec.vm, { code: "RESTART_PLANNED", message: reason, numbers: { ...numbers, destination: found.host.id } });
  }
  for (const h of held) {
    h.list.push({ vm: h.vm, priority: h.priority, host: h.host, code: h.code, reason: h.reason, numbers: h.numbers });
    ctx.log.vm(h.vm, { code: h.code, message: h.reason, numbers: h.numbers });
  }
  const byVm = (a: RestartHeld, b: RestartHeld): number => cmp(a.vm, b.vm);
  return { createdAt: now, hosts: fencedHosts, steps, waiting: waiting.sort(byVm), skipped: skipped.sort(byVm), decisions: ctx.log.all() };
}

interface WaveGate {
  reason: string;
  numbers: Numbers;
}

/**
 * The priority waves: which higher-priority restarts a candidate of priority `p` must wait for
 * (those recorded and not up within restart_wait_timeout, and those this plan starts), and which
 * it no longer waits for because they timed out.
 */
function priorityWaves(
  awaiting: readonly RestartAwaiting[],
  policy: Policy,
  now: number,
): { gate(p: RestartPriority): WaveGate | undefined; late(p: RestartPriority): string[]; planned(vm: string, p: RestartPriority): void } {
  const timeoutMs = policy.restart_wait_timeout * 1000;
  const off = policy.restart_wait_for === "none";
  // One entry per VM (its newest restart), in a fixed order: the plan must not depend on the
  // order the shell lists them in.
  const newest = new Map<string, RestartAwaiting>();
  for (const a of awaiting) {
    const had = newest.get(a.vm);
    if (!had || a.since > had.since || (a.since === had.since && cmp(a.destination, had.destination) > 0)) newest.set(a.vm, a);
  }
  const all = off ? [] : [...newest.values()].sort((a, b) => a.since - b.since || cmp(a.vm, b.vm));
  const coming = all.filter((a) => now - a.since < timeoutMs);
  const timedOut = all.filter((a) => now - a.since >= timeoutMs);
  const inPlan: { vm: string; p: RestartPriority }[] = [];
  const cond = policy.restart_wait_for === "guest_agent" ? "its guest agent connected, or started without one" : "started";
  return {
    gate(p) {
      const rank = RANK[p];
      const before = coming.filter((a) => RANK[a.priority] < rank); // oldest first, as `all`
      const thisPlan = off ? [] : inPlan.filter((x) => RANK[x.p] < rank);
      if (before.length === 0 && thisPlan.length === 0) return undefined;
      const names = [...before.map((a) => `${a.vm} (${a.priority})`), ...thisPlan.map((x) => `${x.vm} (${x.p}, this plan)`)];
      // Held until the last of them is up or timed out: the newest restart's timeout, or a whole
      // timeout for those this plan starts.
      const leftMs = thisPlan.length > 0 ? timeoutMs : Math.max(0, before[before.length - 1]!.since + timeoutMs - now);
      return {
        reason: `waits until higher-priority restarts are up (${cond}): ${names.join(", ")}; at most ${Math.ceil(leftMs / 1000)} s more (restart_wait_timeout ${policy.restart_wait_timeout} s)`,
        numbers: { waitingFor: names.length, waitFor: policy.restart_wait_for, waitLeftS: Math.ceil(leftMs / 1000) },
      };
    },
    late(p) {
      return timedOut.filter((a) => RANK[a.priority] < RANK[p]).map((a) => a.vm);
    },
    planned(vm, p) {
      inPlan.push({ vm, p });
    },
  };
}
