import { headers, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service } from "@nats-io/services";
import type { Logger } from "pino";
import { z } from "zod";
import { OrchestratorInstance } from "../../shared/config/orchestrator-config.js";
import { BallastError, describeError } from "../../shared/errors.js";
import { answerRequest, MAX_REQUEST_BYTES, parseRequest } from "../../shared/nats/handle-request.js";
import { ReplyHeader, RequestHeader } from "../../shared/nats/reply-headers.js";
import { serviceErrorCounter, serviceErrorOf, setServiceErrorHeaders, type ServiceErrorInfo } from "../../shared/nats/service-errors.js";
import { err, type Reply } from "../../shared/schemas/envelope.js";
import {
  LEGACY_FIELDS,
  ORCHESTRATOR_ENDPOINTS,
  OrchestratorApi,
  type OrchestratorEndpoint,
  type OrchestratorHandlers,
  type RequestContext,
} from "../../shared/schemas/orchestrator-api.js";
import { orchestratorInstanceSubject, orchestratorSubjects } from "../../shared/subjects.js";
import { BALLAST_VERSION } from "../../shared/version.js";
import type { LeaderForwarder } from "./ha/leader-forwarder.js";
import { forwardedInbox, requesterOf } from "./requester.js";

// The operator API: one NATS service (`nats micro ls` lists it), every endpoint of the
// OrchestratorApi map plain JSON request/reply with the { ok, data } / { ok: false, error }
// envelope, on the shared subject (`ballast.orch.<endpoint>`, any instance answers) and on this
// instance's own (`ballast.orch.instance.<instance>.<endpoint>`). With HA a standby forwards each
// request to the leader. Every answer carries the Ballast-* reply headers; an error answer also the
// NATS service error headers (Nats-Service-Error, Nats-Service-Error-Code), and it counts in the
// endpoint's $SRV.STATS (num_errors, last_error), also when a standby relays the leader's error.
// Handlers learn who asked (requester.ts) from the reply subject.

export interface ApiServer {
  handlers: OrchestratorHandlers;
  /** Whether this instance leads now, and who does as far as it knows (reply headers). */
  leading(): boolean;
  leader(): string | undefined;
}

export async function serveOrchestratorApi(
  nc: NatsConnection,
  server: ApiServer,
  log: Logger,
  instance: string,
  forwarder?: LeaderForwarder,
): Promise<Service> {
  const svc = await new Svcm(nc).add({
    name: "ballast-orchestrator",
    version: BALLAST_VERSION,
    description: "Ballast orchestrator operator API",
    metadata: { instance },
  });
  /** `knownLeader`: who the lease named just now (a failed forward), else this instance's view. */
  const ownHeaders = (forwardedBy: string | undefined, knownLeader?: string | null): MsgHdrs => {
    const h = headers();
    const leading = server.leading();
    h.set(ReplyHeader.instance, instance);
    h.set(ReplyHeader.role, leading ? "leader" : "standby");
    const leader = knownLeader !== undefined ? (knownLeader ?? undefined) : leading ? instance : server.leader();
    if (leader !== undefined) h.set(ReplyHeader.leader, leader);
    if (forwardedBy !== undefined) h.set(ReplyHeader.forwardedBy, forwardedBy);
    return h;
  };
  const countError = serviceErrorCounter(svc);
  let uncounted = false;
  /** Sends an answer; an error answer gets the service error headers and counts in $SRV.STATS. */
  const respond = (msg: Msg, endpointName: string, data: string | Uint8Array, h: MsgHdrs, error: ServiceErrorInfo | undefined) => {
    if (error !== undefined) {
      setServiceErrorHeaders(h, error);
      if (!countError(endpointName, error) && !uncounted) {
        uncounted = true;
        log.warn(
          { endpoint: endpointName },
          "cannot count error replies in $SRV.STATS: @nats-io/services no longer has the endpoint statistics this version reaches",
        );
      }
    }
    if (!msg.reply) return;
    try {
      msg.respond(data, { headers: h });
    } catch (e) {
      log.warn({ subject: msg.subject, err: describeError(e) }, "could not send reply");
    }
  };
  const respondReply = (msg: Msg, endpointName: string, reply: Reply<unknown>, h: MsgHdrs) =>
    respond(msg, endpointName, JSON.stringify(reply), h, reply.ok ? undefined : reply.error);
  const deprecation = deprecationNotes(log);
  const add = <E extends OrchestratorEndpoint>(name: E): void => {
    const endpoint = orchestratorSubjects[name];
    const schema = acceptingLegacy(name, OrchestratorApi[name].request);
    // The map's types say the handler fits the request; TypeScript cannot see it through the
    // generic index, so the one cast is here rather than at every call.
    const handlers = server.handlers;
    const handle = (req: unknown, ctx: RequestContext): unknown => (handlers[name] as (req: unknown, ctx: RequestContext) => unknown).call(handlers, req, ctx);
    const serve = async (msg: Msg, endpointName: string) => {
      // Anyone may set the header; only an instance name is echoed back (it comes off the wire).
      const claimed = msg.headers?.get(ReplyHeader.forwardedBy);
      const forwardedBy = claimed && OrchestratorInstance.safeParse(claimed).success ? claimed : undefined;
      // Who asked: the reply inbox, or the one a standby passes on where that is believed (requester.ts).
      const requester = requesterOf(msg.reply, msg.headers?.get(RequestHeader.requesterInbox) || undefined);
      // An oversized body is refused unread (parseRequest): not parsed for deprecated names either.
      const note = msg.data.length > MAX_REQUEST_BYTES ? undefined : deprecation(name, msg);
      // A forwarded request is never forwarded again: leadership may have moved while it
      // travelled, and two standbys must not pass it back and forth.
      if (forwarder && !server.leading() && forwardedBy === undefined) {
        const parsed = parseRequest(schema, log, endpoint, msg);
        if (!parsed.ok) return respondReply(msg, endpointName, parsed, withNote(ownHeaders(undefined), note));
        try {
          const r = await forwarder.forward(name, msg, forwardedInbox(requester));
          const h = headers();
          for (const k of [ReplyHeader.instance, ReplyHeader.role, ReplyHeader.leader, ReplyHeader.deprecation]) {
            const v = r.headers?.get(k);
            if (v) h.set(k, v);
          }
          h.set(ReplyHeader.forwardedBy, instance);
          // The leader's error is this endpoint's error too (headers and $SRV.STATS of this instance).
          return respond(msg, endpointName, r.data, h, serviceErrorOf(r.data));
        } catch (e) {
          const details = e instanceof BallastError ? (e.details as { leader?: string | null } | undefined) : undefined;
          const code = e instanceof BallastError ? e.code : "NO_LEADER";
          return respondReply(msg, endpointName, err(code, describeError(e), details), withNote(ownHeaders(undefined, details?.leader ?? null), note));
        }
      }
      const reply = await answerRequest(schema, (req) => handle(req, { requester }), log, endpoint, msg);
      respondReply(msg, endpointName, reply, withNote(ownHeaders(forwardedBy), note));
    };
    const handlerFor = (endpointName: string) => (_err: Error | null, msg: Msg) => {
      serve(msg, endpointName).catch((e) => log.error({ endpoint, err: describeError(e) }, "request not answered"));
    };
    svc.addEndpoint(name, { subject: endpoint, handler: handlerFor(name) });
    svc.addEndpoint(`${name}-instance`, { subject: orchestratorInstanceSubject(instance, name), handler: handlerFor(`${name}-instance`) });
  };
  for (const name of ORCHESTRATOR_ENDPOINTS) add(name);
  return svc;
}

const withNote = (h: MsgHdrs, note: string | undefined): MsgHdrs => {
  if (note !== undefined) h.set(ReplyHeader.deprecation, note);
  return h;
};

/**
 * The endpoint's request schema, also accepting the deprecated snake_case spellings of 0.1
 * (LEGACY_FIELDS), renamed before validation; both spellings of one field at once are refused.
 */
export function acceptingLegacy(name: OrchestratorEndpoint, schema: z.ZodType): z.ZodType {
  const aliases = LEGACY_FIELDS[name];
  if (!aliases) return schema;
  return z.preprocess((body, ctx) => {
    if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
    const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    for (const [old, now] of Object.entries(aliases)) {
      if (!(old in out)) continue;
      if (now in out) {
        ctx.addIssue({ code: "custom", path: [old], message: `give ${now} or its deprecated spelling ${old}, not both` });
        return body;
      }
      out[now] = out[old];
      delete out[old];
    }
    return out;
  }, schema);
}

/**
 * The Ballast-Deprecation note for a request that used deprecated field names (undefined when it
 * did not), and a warning in the log the first time each one is seen.
 */
function deprecationNotes(log: Logger): (name: OrchestratorEndpoint, msg: Msg) => string | undefined {
  const warned = new Set<string>();
  return (name, msg) => {
    const aliases = LEGACY_FIELDS[name];
    if (!aliases || msg.data.length === 0) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      return undefined; // answered BAD_JSON by the validation
    }
    if (typeof body !== "object" || body === null) return undefined;
    const used = Object.keys(aliases).filter((k) => k in body);
    if (used.length === 0) return undefined;
    const note = used.map((k) => `${k} is deprecated, use ${aliases[k]}`).join("; ");
    for (const k of used)
      if (!warned.has(`${name}.${k}`)) {
        warned.add(`${name}.${k}`);
        log.warn({ endpoint: name, field: k, use: aliases[k] }, "a client used a deprecated request field (accepted in this version only)");
      }
    return note;
  };
}
