import { headers, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service } from "@nats-io/services";
import type { Logger } from "pino";
import { z } from "zod";
import { OrchestratorInstance } from "../../shared/config/orchestrator-config.js";
import { BallastError, describeError } from "../../shared/errors.js";
import { answerRequest, parseRequest } from "../../shared/nats/handle-request.js";
import { ReplyHeader } from "../../shared/nats/reply-headers.js";
import { err } from "../../shared/schemas/envelope.js";
import {
  LEGACY_FIELDS,
  ORCHESTRATOR_ENDPOINTS,
  OrchestratorApi,
  type OrchestratorEndpoint,
  type OrchestratorHandlers,
} from "../../shared/schemas/orchestrator-api.js";
import { orchestratorInstanceSubject, orchestratorSubjects } from "../../shared/subjects.js";
import { BALLAST_VERSION } from "../../shared/version.js";
import type { LeaderForwarder } from "./ha/leader-forwarder.js";

// The operator API: one NATS service (`nats micro ls` lists it), every endpoint of the
// OrchestratorApi map plain JSON request/reply with the { ok, data } / { ok: false, error }
// envelope, on the shared subject (`ballast.orch.<endpoint>`, any instance answers) and on this
// instance's own (`ballast.orch.instance.<instance>.<endpoint>`). With HA a standby forwards each
// request to the leader. Every answer carries the Ballast-* reply headers.

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
  const respond = (msg: Msg, data: string | Uint8Array, h: MsgHdrs) => {
    if (!msg.reply) return;
    try {
      msg.respond(data, { headers: h });
    } catch (e) {
      log.warn({ subject: msg.subject, err: describeError(e) }, "could not send reply");
    }
  };
  const deprecation = deprecationNotes(log);
  const add = <E extends OrchestratorEndpoint>(name: E): void => {
    const endpoint = orchestratorSubjects[name];
    const schema = acceptingLegacy(name, OrchestratorApi[name].request);
    // The map's types say the handler fits the request; TypeScript cannot see it through the
    // generic index, so the one cast is here rather than at every call.
    const handlers = server.handlers;
    const handle = (req: unknown): unknown => (handlers[name] as (req: unknown) => unknown).call(handlers, req);
    const serve = async (msg: Msg) => {
      // Anyone may set the header; only an instance name is echoed back (it comes off the wire).
      const claimed = msg.headers?.get(ReplyHeader.forwardedBy);
      const forwardedBy = claimed && OrchestratorInstance.safeParse(claimed).success ? claimed : undefined;
      const note = deprecation(name, msg);
      // A forwarded request is never forwarded again: leadership may have moved while it
      // travelled, and two standbys must not pass it back and forth.
      if (forwarder && !server.leading() && forwardedBy === undefined) {
        const parsed = parseRequest(schema, log, endpoint, msg);
        if (!parsed.ok) return respond(msg, JSON.stringify(parsed), withNote(ownHeaders(undefined), note));
        try {
          const r = await forwarder.forward(name, msg);
          const h = headers();
          for (const k of [ReplyHeader.instance, ReplyHeader.role, ReplyHeader.leader, ReplyHeader.deprecation]) {
            const v = r.headers?.get(k);
            if (v) h.set(k, v);
          }
          h.set(ReplyHeader.forwardedBy, instance);
          return respond(msg, r.data, h);
        } catch (e) {
          const details = e instanceof BallastError ? (e.details as { leader?: string | null } | undefined) : undefined;
          const code = e instanceof BallastError ? e.code : "NO_LEADER";
          return respond(msg, JSON.stringify(err(code, describeError(e), details)), withNote(ownHeaders(undefined, details?.leader ?? null), note));
        }
      }
      const reply = await answerRequest(schema, (req) => handle(req), log, endpoint, msg);
      respond(msg, JSON.stringify(reply), withNote(ownHeaders(forwardedBy), note));
    };
    const handler = (_err: Error | null, msg: Msg) => {
      serve(msg).catch((e) => log.error({ endpoint, err: describeError(e) }, "request not answered"));
    };
    svc.addEndpoint(name, { subject: endpoint, handler });
    svc.addEndpoint(`${name}-instance`, { subject: orchestratorInstanceSubject(instance, name), handler });
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
