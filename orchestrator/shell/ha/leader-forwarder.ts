import { headers, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { describeError, NoLeaderError } from "../../../shared/errors.js";
import { RequestHeader } from "../../../shared/nats/reply-headers.js";
import { orchestratorInstanceSubject, type OrchestratorEndpoint } from "../../../shared/subjects.js";

// A standby cannot act, and its view of pending plans and request ids is not the leader's, so it
// passes every operator request on to the leader's per-instance subject and relays the answer
// unchanged. Only the leader's own subject is used (never the shared one): the shared subject's
// queue group could hand the request straight back to a standby. The request goes out from this
// instance's inbox, so it carries who really asked (Ballast-Requester-Inbox, see requester.ts).

export interface LeaderForwarderOptions {
  nc: NatsConnection;
  /** This instance's name (set as Ballast-Forwarded-By). */
  instance: string;
  /** Who holds the lease now (LeaderLease.holder). */
  holder: () => Promise<string | undefined>;
  timeoutMs: number;
  log: Logger;
}

/** The leader's answer: its body as sent, and its reply headers. */
export interface ForwardedReply {
  leader: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

export class LeaderForwarder {
  constructor(private readonly o: LeaderForwarderOptions) {}

  /**
   * Sends the request (already validated by the caller) to the leader; throws NoLeaderError when
   * no leader is known, or it has no responders (crashed, not yet replaced) or does not answer.
   * `requesterInbox`: the original requester's reply-inbox prefix (requester.ts forwardedInbox()).
   */
  async forward(endpoint: OrchestratorEndpoint, msg: Msg, requesterInbox?: string): Promise<ForwardedReply> {
    let leader: string | undefined;
    try {
      leader = await this.o.holder();
    } catch (e) {
      throw new NoLeaderError(`cannot read the leader lease: ${describeError(e)}`, { cause: e });
    }
    if (leader === undefined)
      throw new NoLeaderError("no orchestrator leads right now (an election is under way); retry in a few seconds", { details: { leader: null } });
    // The lease names this instance while it is still loading the shared state to take over.
    if (leader === this.o.instance)
      throw new NoLeaderError(`${leader} is taking over as leader and not ready yet; retry in a few seconds`, { details: { leader } });
    const h = headers();
    h.set(RequestHeader.forwardedBy, this.o.instance);
    if (requesterInbox !== undefined) h.set(RequestHeader.requesterInbox, requesterInbox);
    const subject = orchestratorInstanceSubject(leader, endpoint);
    try {
      const r = await this.o.nc.request(subject, msg.data, { timeout: this.o.timeoutMs, headers: h });
      return { leader, data: r.data, headers: r.headers };
    } catch (e) {
      const why = describeError(e instanceof Error && e.cause instanceof Error ? e.cause : e);
      this.o.log.warn({ leader, endpoint, err: why }, "forwarding to the leader failed");
      throw new NoLeaderError(`the leader ${leader} did not answer within ${this.o.timeoutMs / 1000}s (${why}); retry in a few seconds`, {
        cause: e,
        details: { leader },
      });
    }
  }
}
