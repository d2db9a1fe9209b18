import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service } from "@nats-io/services";
import type { Logger } from "pino";
import type { z } from "zod";
import { orchestratorSubjects, type OrchestratorEndpoint } from "../../shared/subjects.js";
import * as api from "../../shared/schemas/orchestrator-api.js";
import { jsonHandler } from "../../shared/nats/handle-request.js";
import { ClusterSnapshot } from "../core/snapshot.js";
import { type Orchestrator, ORCHESTRATOR_VERSION } from "./orchestrator.js";

// The operator API: one NATS service (`nats micro ls` lists it), every endpoint plain JSON
// request/reply with the { ok, data } / { ok: false, error } envelope.

export async function serveOrchestratorApi(nc: NatsConnection, orch: Orchestrator, log: Logger, instance: string): Promise<Service> {
  const svc = await new Svcm(nc).add({
    name: "ballast-orchestrator",
    version: ORCHESTRATOR_VERSION,
    description: "Ballast orchestrator operator API",
    metadata: { instance },
  });
  const add = <S extends z.ZodTypeAny>(name: OrchestratorEndpoint, schema: S, fn: (req: z.infer<S>) => unknown) => {
    const handle = jsonHandler(schema, (req) => fn(req), log, orchestratorSubjects[name]);
    svc.addEndpoint(name, {
      subject: orchestratorSubjects[name],
      handler: (_err, msg) => {
        void handle(msg);
      },
    });
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
