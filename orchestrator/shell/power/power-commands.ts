import { createHash } from "node:crypto";
import type { Policy } from "../../../shared/config/policy.js";
import { BallastError } from "../../../shared/errors.js";
import type { HostPowerStatus, PowerCommandReply, PowerStatusReply } from "../../../shared/schemas/orchestrator-api.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import type { PowerAction } from "../../../shared/schemas/power.js";
import type { Clock } from "../clock.js";
import type { PowerManager } from "./power-manager.js";

// The operator's power commands (`ballast power status|on|off`, ballast.orch.power.*): checked
// here, carried out by the power manager. Under automation manual or partial an on or off is not
// done but proposed: a pending plan holding the one power action, applied by approve like any plan.

export interface PowerCommandsDeps {
  /** Absent: no power inventory is configured. */
  manager: PowerManager | undefined;
  policy: () => Policy;
  clock: Clock;
  /** Whether an agent has reported the host. */
  knows(host: string): boolean;
  /** Keeps a plan for approve until it expires. */
  propose(plan: Plan, expiresAt: number): void;
  /** Refuses unless this instance leads (NOT_LEADER). */
  assertLeader(): void;
}

/** Driver calls shown by power status. */
const LOG_SHOWN = 50;

export class PowerCommands {
  constructor(private readonly d: PowerCommandsDeps) {}

  status(q: { host?: string | undefined }): PowerStatusReply {
    const policy = this.d.policy();
    const m = this.d.manager;
    if (!m) return { managed: false, powerManagement: policy.power_management, hosts: [], switching: [], log: [] };
    const hosts = q.host !== undefined ? [this.switchable(q.host)] : m.hosts();
    return {
      managed: true,
      powerManagement: policy.power_management,
      hosts: hosts.map((h) => this.describe(h)!),
      switching: m.inTransition(),
      log: m.log({ ...(q.host !== undefined ? { host: q.host } : {}), limit: LOG_SHOWN }),
    };
  }

  /** The API's view of one managed host's power; undefined when it has no driver. */
  describe(host: string, now = this.d.clock.now()): HostPowerStatus | undefined {
    const m = this.d.manager;
    const r = m?.record(host);
    const p = m?.power(host, now);
    if (!m || !r || !p) return undefined;
    return {
      host,
      state: p.state,
      since: p.since,
      driver: m.driverKind(host)!,
      emptySince: p.emptySince,
      cyclesToday: p.cyclesToday,
      bootDeadline: p.bootDeadline,
      failed: p.failed,
      lastAnswer: m.lastAnswer(host) ?? null,
    };
  }

  async on(req: { host: string }): Promise<PowerCommandReply> {
    return this.command(req.host, "on", false);
  }

  async off(req: { host: string; force: boolean }): Promise<PowerCommandReply> {
    return this.command(req.host, "off", req.force);
  }

  private async command(host: string, action: "on" | "off", force: boolean): Promise<PowerCommandReply> {
    this.d.assertLeader();
    const m = this.d.manager!;
    this.switchable(host);
    m.observe();
    if (action === "off") {
      const refusal = m.offRefusal(host);
      if (refusal)
        throw new BallastError("POWER_ERROR", `${host}: power-off refused: ${refusal.why}; nothing was changed (move or remove the VMs first)`, {
          details: { host, refused: "holds_vms", vms: refusal.vms },
        });
    }
    const policy = this.d.policy();
    const now = this.d.clock.now();
    if (policy.automation !== "full") {
      const plan = manualPowerPlan(host, action, force, now);
      const expiresAt = now + policy.plan_ttl * 1000;
      this.d.propose(plan, expiresAt);
      return { host, action, executed: false, outcome: null, planId: plan.id, expiresAt, power: this.describe(host)! };
    }
    const outcome = action === "on" ? await m.switchOn(host, "operator") : await m.switchOff(host, force ? "hard" : "soft", "operator");
    if (outcome.result === "failed") throw new BallastError("POWER_ERROR", `${host}: power ${action} failed: ${outcome.detail}`, { details: { outcome } });
    if (outcome.result === "refused") throw new BallastError("POWER_ERROR", `${host}: ${outcome.detail}; nothing was changed`, { details: { outcome } });
    return { host, action, executed: true, outcome, planId: null, expiresAt: null, power: this.describe(host)! };
  }

  /** The host, when it has a power driver; else a clear error. */
  private switchable(host: string): string {
    const m = this.d.manager;
    if (!m)
      throw new BallastError(
        "POWER_ERROR",
        `power management is not configured: no power inventory (power.inventory in orchestrator.yaml), so ${host} cannot be switched`,
        {
          details: { host, refused: "no_inventory" },
        },
      );
    if (m.managed(host)) return host;
    if (!this.d.knows(host))
      throw new BallastError("UNKNOWN_HOST", `host ${host} is not known (no agent has reported it, and it is not in the power inventory)`);
    throw new BallastError("POWER_ERROR", `host ${host} has no power driver (it is not in the power inventory): Ballast cannot switch it`, {
      details: { host, refused: "no_driver" },
    });
  }
}

/** A plan holding one operator power action (automation manual or partial: it waits for approve). */
export function manualPowerPlan(host: string, action: "on" | "off", force: boolean, now: number): Plan {
  const id = createHash("sha256")
    .update(JSON.stringify(["power", host, action, force, now]))
    .digest("hex")
    .slice(0, 16);
  const p: PowerAction = {
    seq: 0,
    host,
    action,
    code: "POWER_MANUAL",
    reason: `an operator asked to switch ${host} ${action}${force ? " (power cut)" : ""}`,
    numbers: { force },
    forVms: [],
    afterMoves: [],
  };
  return {
    id,
    createdAt: now,
    mode: "manual",
    snapshotDigest: "0000000000000000",
    moves: [],
    decisions: [],
    indicators: { imbalanceBefore: 0, imbalanceAfter: 0, hostsFreed: [], migrations: 0, bytesToMove: 0, overloadedBefore: 0, overloadedAfter: 0 },
    emptyHosts: [],
    frozen: [],
    adaptation: null,
    memAdaptation: null,
    power: [p],
  };
}
