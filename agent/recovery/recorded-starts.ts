import { createHash } from "node:crypto";
import { BallastError, describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { StartRecordedVmRequest, StartRecordedVmResult } from "../../shared/schemas/agent-api.js";
import type { Hypervisor } from "../ports/hypervisor.js";

// start-recorded-vm: a fenced host's VM defined and started here from the orchestrator's record.
// The orchestrator records each restart before it sends it, and may send it again (a lost reply, a
// new leader finishing a recovery): the same requestId must never start the VM a second time, so
// every answer is kept by requestId, like the migrate command's (migration-manager.ts). An answer
// that failed is not kept: the same request may be tried again once what failed is fixed.

/** Answers kept, oldest dropped first: one per restart, far more than one recovery sends. */
const KEPT = 1000;

interface Kept {
  vm: string;
  digest: string;
  answer: Promise<StartRecordedVmResult>;
}

export class RecordedStarts {
  private readonly answers = new Map<string, Kept>();

  constructor(
    private readonly o: {
      host: string;
      hypervisor: Hypervisor;
      logger: Logger;
      /** Refuses (throws STALE_EPOCH) a command of a deposed leader, and notes a newer epoch. */
      epoch(epoch: number): void;
    },
  ) {}

  start(req: StartRecordedVmRequest): Promise<StartRecordedVmResult> {
    const digest = createHash("sha256").update(req.definition).digest("hex");
    const known = this.answers.get(req.requestId);
    if (known) {
      if (known.vm !== req.vm || known.digest !== digest) {
        const what = known.vm !== req.vm ? `vm was ${known.vm}, now ${req.vm}` : "the definition differs";
        return Promise.reject(
          new BallastError("IDEMPOTENCY_CONFLICT", `request id ${req.requestId} was already used for another start-recorded-vm request (${what})`, {
            details: { requestId: req.requestId },
          }),
        );
      }
      return known.answer;
    }
    const name = /<name>\s*([^<]+?)\s*<\/name>/.exec(req.definition)?.[1];
    if (name !== req.vm)
      return Promise.reject(new BallastError("BAD_REQUEST", `the definition names domain ${JSON.stringify(name ?? null)}, not ${req.vm}: nothing started`));
    // Only a command that is carried out advances the epoch (as migrate's): a refused one cannot lock the leader out.
    try {
      this.o.epoch(req.epoch);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    const answer = this.run(req);
    this.answers.set(req.requestId, { vm: req.vm, digest, answer });
    while (this.answers.size > KEPT) this.answers.delete(this.answers.keys().next().value!);
    answer.catch(() => this.answers.delete(req.requestId));
    return answer;
  }

  private async run(req: StartRecordedVmRequest): Promise<StartRecordedVmResult> {
    const { host, logger } = this.o;
    try {
      const r = await this.o.hypervisor.startRecorded(req.vm, req.definition);
      if (r.started) logger.warn({ vm: req.vm, requestId: req.requestId, epoch: req.epoch }, "started a fenced host's VM from its record");
      else logger.warn({ vm: req.vm, requestId: req.requestId, detail: r.detail }, "recorded VM not started: a domain of that name is already here");
      return { requestId: req.requestId, vm: req.vm, host, started: r.started, detail: r.detail.slice(0, 2000) };
    } catch (e) {
      logger.warn({ vm: req.vm, requestId: req.requestId, err: describeError(e) }, "recorded VM did not start");
      throw e;
    }
  }
}
