import { describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { VmClaimReply } from "../../shared/schemas/orchestrator-api.js";
import type { Hypervisor } from "../ports/hypervisor.js";

// A host that comes back after it was fenced still has its old domains defined, and its VMs may
// meanwhile run elsewhere. libvirtd starts every domain marked autostart at its own start, before
// any agent runs, so the agent keeps that flag off on every domain of its host, and starts a domain
// that had it on only when the orchestrator says this host's copy is the one (vm-claim). No answer
// means no start: a VM left off can be started by hand, a VM started twice can corrupt its disks.

/** What happened to one domain that had autostart on when the agent started. */
export interface GuardedStart {
  vm: string;
  /**
   * started: the orchestrator agreed and it was started; refused: the orchestrator said no;
   * no_answer: no orchestrator answered; running: libvirtd had already started it; failed: the start failed.
   */
  outcome: "started" | "refused" | "no_answer" | "running" | "failed";
  reason: string;
}

export interface StartGuardDeps {
  host: string;
  hypervisor: Pick<Hypervisor, "listDomains" | "autostartDomains" | "disableAutostart" | "startDefined">;
  /** `disable` (the default): autostart off, starts only on the orchestrator's word; `keep`: hands off. */
  mode: "disable" | "keep";
  /** Asks the orchestrator (ballast.orch.vm-claim); rejects when none answers or it answers an error. */
  claim(vm: string): Promise<VmClaimReply>;
  logger: Logger;
}

export class StartGuard {
  /** Domains whose autostart this agent turned off: each is logged once at warn. */
  private readonly disabled = new Set<string>();

  constructor(private readonly d: StartGuardDeps) {}

  /**
   * At the agent's start: autostart off for every domain, and each one that had it on and is not
   * running is started only when the orchestrator's claim allows it.
   */
  async atStart(): Promise<GuardedStart[]> {
    if (this.d.mode === "keep") return [];
    const on = await this.sweep();
    if (on.length === 0) return [];
    const { hypervisor, logger } = this.d;
    let states: Map<string, string>;
    try {
      states = new Map((await hypervisor.listDomains()).map((v) => [v.name, v.state]));
    } catch (e) {
      logger.warn({ vms: on, err: describeError(e) }, "cannot list domains: the ones that had autostart on are not started");
      return on.map((vm) => ({ vm, outcome: "failed", reason: `cannot list domains: ${describeError(e)}` }));
    }
    return Promise.all(
      on.map(async (vm): Promise<GuardedStart> => {
        const state = states.get(vm);
        if (state === "running" || state === "paused") {
          // libvirtd started it before this agent ran: the orchestrator's duplicate guard pauses it if it also runs elsewhere.
          const reason = `already ${state}: libvirtd started it at boot, before the agent`;
          logger.warn({ vm, state }, `VM ${reason}`);
          return { vm, outcome: "running", reason };
        }
        let answer: VmClaimReply;
        try {
          answer = await this.d.claim(vm);
        } catch (e) {
          const reason = `no answer from the orchestrator (${describeError(e)}): not started; start it by hand once you know no other host runs it`;
          logger.warn({ vm }, `VM that had autostart on: ${reason}`);
          return { vm, outcome: "no_answer", reason };
        }
        if (!answer.mayStart) {
          logger.warn({ vm, recordHost: answer.recordHost, elsewhere: answer.elsewhere }, `VM that had autostart on not started: ${answer.reason}`);
          return { vm, outcome: "refused", reason: answer.reason };
        }
        try {
          await hypervisor.startDefined(vm);
        } catch (e) {
          logger.warn({ vm, err: describeError(e) }, "VM that had autostart on did not start");
          return { vm, outcome: "failed", reason: describeError(e) };
        }
        logger.info({ vm, reason: answer.reason }, "started a VM that had autostart on, as the orchestrator allowed");
        return { vm, outcome: "started", reason: answer.reason };
      }),
    );
  }

  /** Turns autostart off for every domain that has it on (periodically, and at start); returns those domains. */
  async sweep(): Promise<string[]> {
    if (this.d.mode === "keep") return [];
    const { hypervisor, logger } = this.d;
    let on: string[];
    try {
      on = await hypervisor.autostartDomains();
    } catch (e) {
      logger.warn({ err: describeError(e) }, "cannot list the domains marked autostart");
      return [];
    }
    for (const vm of on) {
      try {
        await hypervisor.disableAutostart(vm);
      } catch (e) {
        logger.warn({ vm, err: describeError(e) }, "cannot turn libvirt's autostart off");
        continue;
      }
      if (this.disabled.has(vm)) logger.debug({ vm }, "turned libvirt's autostart off again");
      else logger.warn({ vm }, "turned libvirt's autostart off: Ballast starts managed VMs only after asking the orchestrator");
      this.disabled.add(vm);
    }
    return on;
  }
}
