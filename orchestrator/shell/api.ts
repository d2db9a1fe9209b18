import { headers, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service } from "@nats-io/services";
import type { Logger } from "pino";
import type { z } from "zod";
import { orchestratorInstanceSubject, orchestratorSubjects, type OrchestratorEndpoint } from "../../shared/subjects.js";
import * as api from "../../shared/schemas/orchestrator-api.js";
import { err } from "../../shared/schemas/envelope.js";
import { answerRequest, parseRequest } from "../../shared/nats/handle-request.js";
import { ReplyHeader } from "../../shared/nats/reply-headers.js";
import { OrchestratorInstance } from "../../shared/config/orchestrator-config.js";
import { BallastError, describeError } from "../../shared/errors.js";
import { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { type Orchestrator, ORCHESTRATOR_VERSION } from "./orchestrator.js";
import type { LeaderForwarder } from "./ha/leader-forwarder.js";

// The operator API: one NATS service (`nats micro ls` lists it), every endpoint plain JSON
// request/reply with the { ok, data } / { ok: false, error } envelope, on the shared subject
// (`ballast.orch.<endpoint>`, any instance answers) and on this instance's own
// (`ballast.orch.instance.<instance>.<endpoint>`). With HA a standby forwards each request to the
// leader. Every answer carries the Ballast-* reply headers.

export async function serveOrchestratorApi(nc: NatsConnection, orch: Orchestrator, log: Logger, instance: string, forwarder?: LeaderForwarder): Promise<Service> {
  const svc = await new Svcm(nc).add({
    name: "ballast-orchestrator",
    version: ORCHESTRATOR_VERSION,
    description: "Ballast orchestrator operator API",
    metadata: { instance },
  });
  /** `knownLeader`: who the lease named just now (a failed forward), else this instance's view. */
  const ownHeaders = (forwardedBy: string | undefined, knownLeader?: string | null): MsgHdrs => {
    const h = headers();
    h.set(ReplyHeader.instance, instance);
    h.set(ReplyHeader.role, orch.leading ? "leader" : "standby");
    const leader = knownLeader !== undefined ? (knownLeader ?? undefined) : orch.leading ? instance : orch.leaderInstance;
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
  const add = <S extends z.ZodTypeAny>(name: OrchestratorEndpoint, schema: S, fn: (req: z.infer<S>) => unknown) => {
    const endpoint = orchestratorSubjects[name];
    const serve = async (msg: Msg) => {
      // Anyone may set the header; only an instance name is echoed back (it comes off the wire).
      const claimed = msg.headers?.get(ReplyHeader.forwardedBy);
      const forwardedBy = claimed && OrchestratorInstance.safeParse(claimed).success ? claimed : undefined;
      // A forwarded request is never forwarded again: leadership may have moved while it
      // travelled, and two standbys must not pass it back and forth.
      if (forwarder && !orch.leading && forwardedBy === undefined) {
        const parsed = parseRequest(schema, log, endpoint, msg);
        if (!parsed.ok) return respond(msg, JSON.stringify(parsed), ownHeaders(undefined));
        try {
          const r = await forwarder.forward(name, msg);
          const h = headers();
          for (const k of [ReplyHeader.instance, ReplyHeader.role, ReplyHeader.leader]) {
            const v = r.headers?.get(k);
            if (v) h.set(k, v);
          }
          h.set(ReplyHeader.forwardedBy, instance);
          return respond(msg, r.data, h);
        } catch (e) {
          const details = e instanceof BallastError ? (e.details as { leader?: string | null } | undefined) : undefined;
          const code = e instanceof BallastError ? e.code : "NO_LEADER";
          return respond(msg, JSON.stringify(err(code, describeError(e), details)), ownHeaders(undefined, details?.leader ?? null));
        }
      }
      const reply = await answerRequest(schema, (req) => fn(req), log, endpoint, msg);
      respond(msg, JSON.stringify(reply), ownHeaders(forwardedBy));
    };
    const handler = (_err: Error | null, msg: Msg) => {
      serve(msg).catch((e) => log.error({ endpoint, err: describeError(e) }, "request not answered"));
    };
    svc.addEndpoint(name, { subject: endpoint, handler });
    svc.addEndpoint(`${name}-instance`, { subject: orchestratorInstanceSubject(instance, name), handler });
  };
  add("status", api.StatusRequest, () => orch.status());
  add("version", api.VersionRequest, () => ({ name: "ballast-orchestrator", version: ORCHESTRATOR_VERSION, instance, node: process.version }));
  add("plan", api.PlanQuery, (q) => orch.planQuery(q));
  add("run", api.RunRequest, () => orch.runNow());
  add("approve", api.ApproveRequest, (r) => orch.approve(r.plan_id));
  add("migrate", api.OrchMigrateRequest, (r) => orch.migrate(r));
  add("evacuate", api.EvacuateRequest, (r) => orch.evacuate(r));
  add("release", api.ReleaseRequest, (r) => orch.release(r));
  add("pause", api.PauseRequest, (r) => orch.pause(r.reason));
  add("resume", api.ResumeRequest, () => orch.resume());
  add("history", api.HistoryRequest, (r) => orch.history(r));
  add("decisions", api.DecisionsRequest, (r) => orch.decisions.query(r));
  add("explain", api.ExplainRequest, (r) => orch.explain(r.vm, r.cycles));
  add("snapshot", api.SnapshotRequest, () => ClusterSnapshot.parse(orch.snapshot()));
  return svc;
}
