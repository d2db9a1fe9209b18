import type { Logger } from "pino";
import type { Policy } from "../../../shared/config/policy.js";
import { BallastError, describeError } from "../../../shared/errors.js";
import type { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import type { Decision } from "../../../shared/schemas/plan.js";
import type { PowerState } from "../../../shared/schemas/power.js";
import type {
  BmcReading,
  FenceAttempt,
  FenceVerdict,
  HostFailureState,
  HostHealthEvidence,
  HostJudgement,
  PeerProbe,
  RestartAwaiting,
  RestartHeld,
} from "../../../shared/schemas/recovery.js";
import type { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import type { VmRecord } from "../../../shared/schemas/vm-record.js";
import type { GuestStateResult, ProbeHostResult, StartRecordedVmResult } from "../../../shared/schemas/agent-api.js";
import { fenceGate, judgeHosts, planRestarts } from "../../core/index.js";
import type { Clock } from "../clock.js";
import type { RecoveryAlert } from "../../../shared/schemas/orchestrator-events.js";
import { MAX_ATTEMPTS, restartRequestId, type RecoverySink, type StoredRecoveryHost, type StoredRestart } from "./recovery-record.js";

// Host failure, the shell side (docs/host-failure.md): every tick the leader gathers each host's
// evidence (its agent's last report; for a silent host, fresh peers' probes of its libvirt and its
// BMC's reading), asks the core whether it failed (judgeHosts), whether it may be recovered
// (fenceGate: a hard power-off read back off, or an operator's confirmation) and what to restart
// where (planRestarts). Each restart is recorded before its start is sent, and the recorded
// restarts are fed back to the core, so no VM is planned twice, also by a new leader. Decisions go
// to the decision log when they change; alerts (log warn and an event) when a host cannot be
// fenced, recovery pauses for isolation, a start fails, or a fenced host comes back.

/** Probes kept per host: newest per peer is what counts, within failure_detect_after. */
const PROBES_KEPT = 64;

export type { RecoveryAlert } from "../../../shared/schemas/orchestrator-events.js";

export interface RecoveryDeps {
  policy: () => Policy;
  clock: Clock;
  log: Logger;
  leading(): boolean;
  /** The leader's epoch (undefined without HA: 0). */
  epoch(): number | undefined;
  /** Hosts to judge: those reporting or known to power management, the records' and earlier incidents' hosts. */
  hosts(): string[];
  /** When its agent's newest heartbeat or metrics arrived; undefined: not heard since this instance started. */
  lastSeen(host: string): number | undefined;
  /** Its agent reports (within stale_after): it may probe its peers and receive restarts. */
  fresh(host: string, now: number): boolean;
  /** Its migration-network address (host_mapping). */
  address(host: string): string | undefined;
  /** Asks `peer`'s agent to probe `host`'s libvirt at `address`. */
  probe(peer: string, host: string, address: string): Promise<ProbeHostResult>;
  power?: {
    managed(host: string): boolean;
    state(host: string): PowerState | null;
    readBmc(host: string, by: string): Promise<BmcReading | undefined>;
    fence(host: string, by: string): Promise<FenceAttempt | undefined>;
  };
  records(): readonly VmRecord[];
  /**
   * The records recovery may act on (VmRecords.recoverable: VMs their recorded host last listed);
   * absent: all of them.
   */
  recoverable?(): readonly VmRecord[];
  snapshot(now: number): ClusterSnapshot;
  /** Sends start-recorded-vm to `destination`'s agent. */
  start(destination: string, body: { requestId: string; vm: string; definition: string; epoch: number }): Promise<StartRecordedVmResult>;
  /** Asks `destination`'s agent whether a restarted VM's guest agent is connected (restart_wait_for guest_agent). */
  guestState?(destination: string, vm: string): Promise<Pick<GuestStateResult, "state" | "guestAgent">>;
  sink?: RecoverySink;
  /** A decision for the decision log. */
  note(d: Decision, at: number): void;
  /** An alert: logged as a warning and published as an event. */
  alert(a: RecoveryAlert): void;
}

interface HostEntry {
  state: HostFailureState;
  since: number | null;
  failedAt: number | null;
  attempts: FenceAttempt[];
  probes: PeerProbe[];
  bmc: BmcReading | null;
  judgement?: HostJudgement;
  gate?: FenceVerdict;
  /** Codes alerted in this incident (each once). */
  alerted: Set<string>;
}

export interface RecoveryView {
  now: number;
  paused: boolean;
  silentShare: number;
  hosts: {
    host: string;
    state: HostFailureState;
    since: number | null;
    failedAt: number | null;
    code: DecisionCode | null;
    reason: string | null;
    evidence: { agentLastSeen: number; powerDriver: boolean; bmc: BmcReading | null; probes: PeerProbe[] };
    fence: { next: FenceVerdict["next"]; code: DecisionCode; reason: string; fencedAt: number | null; fencedBy: "driver" | "operator" | null } | null;
    attempts: FenceAttempt[];
  }[];
  restarts: StoredRestart[];
  waiting: RestartHeld[];
  skipped: RestartHeld[];
}

export class RecoveryManager {
  private readonly hosts = new Map<string, HostEntry>();
  private readonly restarts = new Map<string, StoredRestart>();
  private readonly inFlight = new Set<string>();
  private readonly startedAt: number;
  private ticking: Promise<void> | undefined;
  private paused = false;
  private silentShare = 0;
  private waiting: RestartHeld[] = [];
  private skipped: RestartHeld[] = [];
  private heldCodes = new Map<string, DecisionCode>();

  constructor(private readonly d: RecoveryDeps) {
    this.startedAt = d.clock.now();
  }

  /** One pass (main.ts's timer); a pass still running is joined, never doubled. */
  tick(): Promise<void> {
    this.ticking ??= this.run().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** A new leader continues from what the previous one recorded. */
  restore(hosts: readonly StoredRecoveryHost[], restarts: readonly StoredRestart[]): void {
    for (const h of hosts) {
      const e = this.entry(h.host);
      Object.assign(e, { state: h.state, since: h.since, failedAt: h.failedAt, attempts: [...h.attempts] });
    }
    for (const r of restarts) this.restarts.set(r.requestId, { ...r });
  }

  persisted(): { hosts: StoredRecoveryHost[]; restarts: StoredRestart[] } {
    return {
      hosts: [...this.hosts.entries()].filter(([, e]) => e.state !== "healthy" || e.attempts.length > 0).map(([h, e]) => this.stored(h, e)),
      restarts: [...this.restarts.values()],
    };
  }

  /**
   * The operator's word that a host is off (`ballast recover HOST --confirm-fenced`): refused for a
   * host that shows signs of life (healthy, agent down). Recovery follows on the next pass.
   */
  confirmFenced(host: string, operator: string): { host: string; state: HostFailureState; accepted: true; message: string } {
    const e = this.hosts.get(host);
    if (!e) throw new BallastError("UNKNOWN_HOST", `host ${host} is not known to the failure judge`);
    const now = this.d.clock.now();
    const silent = now - (this.d.lastSeen(host) ?? this.startedAt) > this.d.policy().stale_after * 1000;
    if (e.state === "healthy" || e.state === "agent_down" || !silent)
      throw new BallastError(
        "BAD_REQUEST",
        `host ${host} is ${e.state === "agent_down" ? "agent_down: its libvirt answers a peer" : silent ? e.state : "reporting"}: it shows signs of life, so it is not confirmed fenced and nothing is restarted`,
        { details: { host, state: e.state } },
      );
    if (e.state === "fenced" || e.state === "recovering" || e.state === "recovered")
      return { host, state: e.state, accepted: true, message: `host ${host} is already ${e.state}` };
    const confirmation: FenceAttempt = { by: "operator", at: now, result: "off", readBackAt: null, operator: operator.slice(0, 200) };
    e.attempts = [...e.attempts, confirmation].slice(-MAX_ATTEMPTS);
    e.failedAt ??= e.since ?? now;
    this.save(host, e);
    this.d.log.warn({ host, operator }, "operator confirmed a failed host off (--confirm-fenced)");
    void this.tick().catch((x: unknown) => this.d.log.error({ err: describeError(x) }, "recovery pass failed"));
    return { host, state: e.state, accepted: true, message: `host ${host} confirmed off by ${operator}: its VMs are restarted elsewhere on the next pass` };
  }

  view(): RecoveryView {
    const now = this.d.clock.now();
    return {
      now,
      paused: this.paused,
      silentShare: this.silentShare,
      hosts: [...this.hosts.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([host, e]) => ({
          host,
          state: e.state,
          since: e.since,
          failedAt: e.failedAt,
          code: e.judgement?.code ?? null,
          reason: e.judgement?.reason ?? null,
          evidence: { agentLastSeen: this.d.lastSeen(host) ?? this.startedAt, powerDriver: this.hasDriver(host), bmc: e.bmc, probes: [...e.probes].slice(-8) },
          fence: e.gate ? { next: e.gate.next, code: e.gate.code, reason: e.gate.reason, fencedAt: e.gate.fencedAt, fencedBy: e.gate.fencedBy } : null,
          attempts: [...e.attempts],
        })),
      // Oldest first; within one millisecond, in the order they were recorded (the plan's).
      restarts: [...this.restarts.values()].sort((a, b) => a.restart.at - b.restart.at),
      waiting: this.waiting,
      skipped: this.skipped,
    };
  }

  /**
   * A lower priority waits for restarted guests to be up (RESTART_PRIORITY_WAIT), while this
   * instance leads: what makes a pass worth running sooner than the recovery period. Not while
   * nothing is held (after the last wave, a guest that never connects holds nothing).
   */
  awaitsGuests(): boolean {
    return this.d.leading() && this.waiting.some((w) => w.code === "RESTART_PRIORITY_WAIT");
  }

  /** A host's state as the judge last left it (status, dashboard); undefined: not judged. */
  stateOf(host: string): HostFailureState | undefined {
    return this.hosts.get(host)?.state;
  }

  // ---- the pass ----------------------------------------------------------------------------

  private async run(): Promise<void> {
    if (!this.d.leading()) return;
    this.prune(this.d.clock.now());
    const policy = this.d.policy();
    const ids = [...new Set([...this.d.hosts(), ...this.hosts.keys()])].sort();
    for (const h of ids) this.entry(h);
    await this.gather(ids, policy);
    const now = this.d.clock.now();
    const evidence: HostHealthEvidence[] = ids.map((host) => {
      const e = this.entry(host);
      return {
        host,
        agentLastSeen: this.d.lastSeen(host) ?? this.startedAt,
        probes: e.probes,
        powerDriver: this.hasDriver(host),
        bmc: e.bmc,
        power: this.d.power?.managed(host) ? this.d.power.state(host) : null,
        state: e.state,
        since: e.since,
      };
    });
    const verdict = judgeHosts(evidence, policy, now);
    if (verdict.paused !== this.paused) {
      const d = verdict.decisions.find((x) => x.kind === "cluster");
      if (verdict.paused && d) {
        this.d.note(d, now);
        this.d.alert({ alert: "isolated", host: null, code: "FAILURE_ISOLATED", message: d.message, numbers: d.numbers });
      } else this.d.log.info("recovery resumes: most hosts report again");
    }
    this.paused = verdict.paused;
    this.silentShare = verdict.silentShare;
    for (const j of verdict.hosts) await this.follow(j, policy, now);
    if (!this.d.leading()) return;
    // Restarts of earlier passes (or of a previous leader) without an answer first, then whether
    // the started ones are up (the next priority waits for them), then new ones.
    await this.resend();
    await this.checkUp(policy);
    await this.recover(policy);
  }

  /** Probes and BMC readings of the silent hosts, asked of fresh peers and the power drivers at once. */
  private async gather(ids: readonly string[], policy: Policy): Promise<void> {
    const now = this.d.clock.now();
    const fresh = ids.filter((h) => this.d.fresh(h, now));
    const work: Promise<void>[] = [];
    for (const host of ids) {
      const e = this.entry(host);
      if (e.state === "fenced" || e.state === "recovering" || e.state === "recovered") continue;
      const silent = now - (this.d.lastSeen(host) ?? this.startedAt) > policy.stale_after * 1000;
      if (!silent) continue;
      const address = this.d.address(host);
      if (address !== undefined)
        for (const peer of fresh.filter((p) => p !== host).slice(0, policy.failure_peer_probes))
          work.push(
            this.d.probe(peer, host, address).then(
              (r) => {
                const probe: PeerProbe = {
                  peer,
                  at: this.d.clock.now(),
                  result: r.ok ? "ok" : r.timedOut ? "timeout" : "failed",
                  ...(r.ok ? {} : { error: r.detail.slice(0, 1000) }),
                };
                e.probes = [...e.probes, probe].slice(-PROBES_KEPT);
              },
              (x: unknown) => this.d.log.info({ host, peer, err: describeError(x) }, "peer did not answer the probe request"),
            ),
          );
      if (this.hasDriver(host))
        work.push(
          this.d.power!.readBmc(host, "failure").then((b) => {
            if (b) e.bmc = b;
          }),
        );
    }
    await Promise.all(work);
  }

  /** Follows one host's judgement: its incident, its fence, and the decisions and alerts that say so. */
  private async follow(j: HostJudgement, policy: Policy, now: number): Promise<void> {
    const e = this.entry(j.host);
    const was = e.state;
    if (e.judgement?.code !== j.code) this.d.note({ kind: "host", subject: j.host, code: j.code, message: j.reason, numbers: j.numbers }, now);
    e.judgement = j;
    e.state = j.state;
    e.since = j.since;
    if (j.code === "FAILURE_HOST_RETURNED") this.d.alert({ alert: "host_returned", host: j.host, code: j.code, message: j.reason, numbers: j.numbers });
    if (j.state === "healthy" || j.state === "agent_down") {
      if (j.state === "agent_down" && was !== "agent_down")
        this.d.alert({ alert: "agent_down", host: j.host, code: j.code, message: j.reason, numbers: j.numbers });
      e.failedAt = null;
      e.gate = undefined;
      e.alerted.clear();
      if (was !== j.state) this.save(j.host, e);
      return;
    }
    if (j.state === "failed" && e.failedAt === null) e.failedAt = j.since;
    const operator = e.attempts.some((a) => a.by === "operator");
    if (j.state === "suspect" && !operator) {
      e.gate = undefined;
      if (was !== j.state) this.save(j.host, e);
      return;
    }
    // Fencing is there to restart a host's VMs safely: a failed host that holds no recorded VM (one
    // switched on by power management that never came back, say) is reported, not powered off.
    if (!operator && !this.recoverable().some((r) => r.host === j.host)) {
      if (was !== j.state) {
        this.d.log.warn({ host: j.host }, `host ${j.host} is ${j.state} but holds no recorded VM: nothing to restart, so it is not fenced`);
        this.save(j.host, e);
      }
      return;
    }
    for (;;) {
      const gate = fenceGate(
        {
          host: j.host,
          state: e.state,
          failedAt: e.failedAt,
          agentLastSeen: this.d.lastSeen(j.host) ?? this.startedAt,
          powerDriver: this.hasDriver(j.host),
          attempts: e.attempts,
        },
        policy,
      );
      if (e.gate?.code !== gate.code || gate.next === "fence")
        this.d.note({ kind: "host", subject: j.host, code: gate.code, message: gate.reason, numbers: gate.numbers }, this.d.clock.now());
      e.gate = gate;
      if (gate.next === "fence") {
        if (!this.d.leading()) return;
        const attempt = await this.d.power!.fence(j.host, "failure");
        if (!attempt) return;
        e.attempts = [...e.attempts, attempt].slice(-MAX_ATTEMPTS);
        this.save(j.host, e);
        if (attempt.result !== "off") this.d.log.warn({ host: j.host, result: attempt.result, err: attempt.error }, "fence not confirmed");
        continue;
      }
      if (gate.next === "alert" && !e.alerted.has(gate.code)) {
        e.alerted.add(gate.code);
        this.d.alert({
          alert: gate.code === "FENCE_NO_DRIVER" ? "fence_impossible" : "fence_failed",
          host: j.host,
          code: gate.code,
          message: gate.reason,
          numbers: gate.numbers,
        });
      }
      if (gate.mayRecover && (e.state === "failed" || e.state === "suspect")) {
        e.state = "fenced";
        e.since = this.d.clock.now();
        e.failedAt ??= j.since;
      }
      break;
    }
    if (e.state !== was || e.gate?.next === "fence") this.save(j.host, e);
  }

  /** Plans and sends the restarts of the fenced hosts. */
  private async recover(configured: Policy): Promise<void> {
    const fenced = [...this.hosts.entries()]
      .filter(([, e]) => (e.state === "fenced" || e.state === "recovering" || e.state === "recovered") && e.failedAt !== null)
      .map(([host, e]) => ({ host, failedAt: e.failedAt! }));
    if (fenced.length === 0) {
      this.waiting = [];
      this.skipped = [];
      return;
    }
    if (this.paused) return;
    const now = this.d.clock.now();
    const plan = planRestarts(
      {
        snapshot: this.d.snapshot(now),
        records: this.recoverable(),
        fenced,
        recorded: [...this.restarts.values()].map((r) => r.restart),
        awaiting: this.awaiting(fenced),
      },
      configured,
      now,
    );
    this.waiting = plan.waiting;
    this.skipped = plan.skipped;
    for (const h of [...plan.waiting, ...plan.skipped]) {
      if (this.heldCodes.get(h.vm) === h.code) continue;
      this.heldCodes.set(h.vm, h.code);
      this.d.note({ kind: "vm", subject: h.vm, code: h.code, message: h.reason, numbers: h.numbers }, now);
    }
    const epoch = this.d.epoch() ?? 0;
    const sends: Promise<void>[] = [];
    // The plan holds a lower priority back while a higher one is coming up (restart_wait_for), so
    // the VMs that matter most have the destinations' CPU and disks to themselves while they boot
    // (a low-priority guest booting beside a high one delayed it by seconds on the lab).
    for (const step of plan.steps) {
      if (!this.d.leading()) break;
      const rec = this.d.records().find((r) => r.vm === step.vm);
      if (!rec) continue;
      const at = this.d.clock.now();
      const restart = { vm: step.vm, host: step.from, destination: step.destination, at, epoch };
      const stored: StoredRestart = { restart, requestId: restartRequestId(restart), outcome: "sent", detail: null, tries: 0, upAt: null };
      try {
        // Recorded before it is sent: a leader that dies right after leaves a record, never a VM
        // started that no record knows of.
        await this.d.sink?.restart(stored);
      } catch (x) {
        this.d.log.error({ vm: step.vm, err: describeError(x) }, "cannot record a restart; not sent");
        break;
      }
      this.restarts.set(stored.requestId, stored);
      this.heldCodes.delete(step.vm);
      this.d.note({ kind: "vm", subject: step.vm, code: step.code, message: step.reason, numbers: { ...step.numbers, destination: step.destination } }, at);
      sends.push(this.send(stored, rec.definition));
    }
    await Promise.all(sends);
    for (const { host } of fenced) {
      const e = this.entry(host);
      const mine = [...this.restarts.values()].filter((r) => r.restart.host === host && r.restart.at >= e.failedAt!);
      const open = mine.some((r) => r.outcome === "sent" || (r.outcome === "failed" && r.tries < this.d.policy().restart_start_tries));
      // This plan's steps are among `mine` now; what waits for room or the cap comes in a later plan.
      const more = plan.waiting.some((w) => w.host === host && w.code !== "RESTART_LOCAL_DISKS");
      const next: HostFailureState = open || more ? "recovering" : "recovered";
      if (next !== e.state) {
        e.state = next;
        e.since = this.d.clock.now();
        this.save(host, e);
        this.d.log.warn({ host, state: next, restarts: mine.length }, next === "recovered" ? "recovery of a failed host done" : "recovering a failed host");
      }
    }
  }

  /** Sends again the restarts without an answer (a lost reply, a new leader) or whose start failed, same request id. */
  private async resend(): Promise<void> {
    const again = [...this.restarts.values()].filter(
      (r) => !this.inFlight.has(r.requestId) && r.tries < this.d.policy().restart_start_tries && (r.outcome === "sent" || r.outcome === "failed"),
    );
    const defs = new Map(this.d.records().map((r) => [r.vm, r.definition]));
    await Promise.all(
      again.map((r) => {
        const def = defs.get(r.restart.vm);
        return def === undefined ? Promise.resolve() : this.send(r, def);
      }),
    );
  }

  private async send(r: StoredRestart, definition: string): Promise<void> {
    if (this.inFlight.has(r.requestId) || !this.d.leading()) return;
    this.inFlight.add(r.requestId);
    const { vm, destination } = r.restart;
    let next: StoredRestart;
    try {
      const a = await this.d.start(destination, { requestId: r.requestId, vm, definition, epoch: this.d.epoch() ?? 0 });
      // Up at once unless the guest agent is waited for (checkUp asks the destination then).
      const upAt = a.started && (this.d.policy().restart_wait_for !== "guest_agent" || !this.d.guestState) ? this.d.clock.now() : null;
      next = { ...r, tries: r.tries + 1, outcome: a.started ? "started" : "refused", detail: a.detail, upAt };
      if (a.started) this.d.log.warn({ vm, destination, from: r.restart.host }, "restarted a fenced host's VM");
      else
        this.d.alert({
          alert: "start_refused",
          host: r.restart.host,
          code: null,
          message: `${vm} not started on ${destination}: ${a.detail}`,
          numbers: { vm, destination },
        });
    } catch (x) {
      const detail = describeError(x).slice(0, 2000);
      // No answer at all: it may have started; the same request id is sent again, and the agent
      // answers it once. An error answer: libvirt refused it (a lease still held, a missing network).
      const noAnswer = x instanceof BallastError && (x.code === "TIMEOUT" || x.code === "NO_RESPONDERS");
      next = { ...r, tries: r.tries + 1, outcome: noAnswer ? "sent" : "failed", detail };
      if (next.tries >= this.d.policy().restart_start_tries)
        this.d.alert({
          alert: "start_failed",
          host: r.restart.host,
          code: null,
          message: `${vm} did not start on ${destination} after ${next.tries} tries: ${detail}; it is not tried again (start it by hand once the cause is fixed)`,
          numbers: { vm, destination, tries: next.tries },
        });
    } finally {
      this.inFlight.delete(r.requestId);
    }
    this.restarts.set(r.requestId, next);
    await this.d.sink?.restart(next).catch((x: unknown) => this.d.log.warn({ vm, err: describeError(x) }, "cannot record a restart's outcome"));
  }

  /**
   * Whether the started restarts are up yet: their guest agent connected, or started without a
   * guest agent channel. Asked of each destination once a pass, while a restart is waited for.
   */
  private async checkUp(policy: Policy): Promise<void> {
    const now = this.d.clock.now();
    const open = [...this.restarts.values()].filter(
      (r) => r.outcome === "started" && r.upAt === null && now - r.restart.at < policy.restart_wait_timeout * 1000,
    );
    if (open.length === 0) return;
    await Promise.all(
      open.map(async (r) => {
        const { vm, destination } = r.restart;
        let up = policy.restart_wait_for !== "guest_agent" || !this.d.guestState;
        if (!up)
          try {
            const g = await this.d.guestState!(destination, vm);
            up = g.state === "running" && g.guestAgent !== "disconnected";
          } catch (x) {
            // Nobody serves guest-state there (an agent older than the endpoint, or none at all):
            // nothing more can be learnt, so the start's answer stands. A slow agent is asked again.
            up = x instanceof BallastError && x.code === "NO_RESPONDERS";
            this.d.log.info({ vm, destination, err: describeError(x), up }, "cannot ask whether a restarted guest is up");
          }
        if (!up || !this.d.leading()) return;
        const next = { ...this.restarts.get(r.requestId)!, upAt: this.d.clock.now() };
        this.restarts.set(r.requestId, next);
        this.d.log.info({ vm, destination, afterMs: next.upAt - r.restart.at }, "restarted guest is up");
        await this.d.sink?.restart(next).catch((x: unknown) => this.d.log.warn({ vm, err: describeError(x) }, "cannot record that a restart is up"));
      }),
    );
  }

  /**
   * Drops the restarts of incidents long over: recorded restart_retention ago, its start answered or
   * given up, its source host healthy again, and its VM's record no longer the one the restart was
   * made from (rewritten since, for another host, or gone). Until then a restart is what keeps the
   * planner (RESTART_RECORDED) and the returning host's start guard (vm-claim) from a second start.
   */
  private prune(now: number): void {
    const records = new Map(this.d.records().map((r) => [r.vm, r]));
    for (const [id, r] of this.restarts) {
      if (now - r.restart.at < this.d.policy().restart_retention * 1000 || this.inFlight.has(id)) continue;
      if ((this.hosts.get(r.restart.host)?.state ?? "healthy") !== "healthy") continue;
      if ((r.outcome === "sent" || r.outcome === "failed") && r.tries < this.d.policy().restart_start_tries) continue;
      const rec = records.get(r.restart.vm);
      if (rec && rec.host === r.restart.host && rec.updatedAt <= r.restart.at) continue;
      this.restarts.delete(id);
      this.d.sink?.forget?.(r);
    }
  }

  /** The current incidents' restarts still coming up: sent or started, not up (the plan's waves). */
  private awaiting(fenced: readonly { host: string; failedAt: number }[]): RestartAwaiting[] {
    const since = new Map(fenced.map((f) => [f.host, f.failedAt]));
    const priority = new Map(this.d.records().map((r) => [r.vm, r.restartPriority]));
    const out: RestartAwaiting[] = [];
    for (const r of this.restarts.values()) {
      const failedAt = since.get(r.restart.host);
      const p = priority.get(r.restart.vm);
      if (failedAt === undefined || r.restart.at < failedAt || p === undefined || r.upAt !== null) continue;
      if (r.outcome === "refused" || (r.outcome === "failed" && r.tries >= this.d.policy().restart_start_tries)) continue;
      out.push({ vm: r.restart.vm, priority: p, destination: r.restart.destination, since: r.restart.at });
    }
    return out;
  }

  // ---- helpers -----------------------------------------------------------------------------

  private recoverable(): readonly VmRecord[] {
    return this.d.recoverable ? this.d.recoverable() : this.d.records();
  }

  private hasDriver(host: string): boolean {
    return this.d.power?.managed(host) ?? false;
  }

  private entry(host: string): HostEntry {
    let e = this.hosts.get(host);
    if (!e) {
      e = { state: "healthy", since: null, failedAt: null, attempts: [], probes: [], bmc: null, alerted: new Set() };
      this.hosts.set(host, e);
    }
    return e;
  }

  private stored(host: string, e: HostEntry): StoredRecoveryHost {
    return { host, state: e.state, since: e.since ?? this.d.clock.now(), failedAt: e.failedAt, attempts: [...e.attempts] };
  }

  private save(host: string, e: HostEntry): void {
    this.d.sink?.host(this.stored(host, e));
  }
}
