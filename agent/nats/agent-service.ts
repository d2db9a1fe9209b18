import type { NatsConnection } from "@nats-io/transport-node";
import { Svcm, type Service } from "@nats-io/services";
import type { Logger } from "../../shared/logger.js";
import { jsonHandler } from "../../shared/nats/handle-request.js";
import {
  AgentApi,
  type AbortRequest,
  type AbortResult,
  type AgentStatus,
  type CheckIncomingRequest,
  type CheckIncomingResult,
  type CpuBaselineRequest,
  type CpuBaselineResult,
  type GuestStateRequest,
  type GuestStateResult,
  type MigrateAccepted,
  type MigrateRequest,
  type Pong,
  type ProbeHostRequest,
  type ProbeHostResult,
  type StartRecordedVmRequest,
  type StartRecordedVmResult,
  type PauseVmRequest,
  type PauseVmResult,
  type RemoveDisksRequest,
  type RemoveDisksResult,
  type VmDefinition,
  type VmDefinitionRequest,
} from "../../shared/schemas/agent-api.js";
import type { AgentFacts } from "../../shared/schemas/facts.js";
import { agentSubjects } from "../../shared/subjects.js";
import { serviceErrorCounter, withServiceErrorHeaders } from "../../shared/nats/service-errors.js";

/** What the agent does for each endpoint; inputs are already validated. */
export interface AgentHandlers {
  ping(): Pong;
  status(): AgentStatus;
  migrate(req: MigrateRequest): Promise<MigrateAccepted>;
  abort(req: AbortRequest): Promise<AbortResult>;
  getFacts(): Promise<AgentFacts>;
  checkIncoming(req: CheckIncomingRequest): Promise<CheckIncomingResult>;
  cpuBaseline(req: CpuBaselineRequest): Promise<CpuBaselineResult>;
  removeDisks(req: RemoveDisksRequest): Promise<RemoveDisksResult>;
  vmDefinition(req: VmDefinitionRequest): Promise<VmDefinition>;
  probeHost(req: ProbeHostRequest): Promise<ProbeHostResult>;
  startRecordedVm(req: StartRecordedVmRequest): Promise<StartRecordedVmResult>;
  pauseVm(req: PauseVmRequest): Promise<PauseVmResult>;
  guestState(req: GuestStateRequest): Promise<GuestStateResult>;
}

/**
 * Registers the agent as a NATS service ("ballast-agent", one instance per host) so `$SRV.PING`,
 * `$SRV.INFO` and `$SRV.STATS` discovery and `nats micro ls` see it, with its request/reply
 * endpoints on the subjects of agentSubjects(host). Every request gets the JSON envelope.
 */
export async function registerAgentService(
  nc: NatsConnection,
  o: { host: string; driver: string; version: string; logger: Logger; handlers: AgentHandlers },
): Promise<Service> {
  const subjects = agentSubjects(o.host);
  const svc = await new Svcm(nc).add({
    name: "ballast-agent",
    version: o.version,
    description: `Ballast agent of hypervisor ${o.host}`,
    metadata: { host: o.host, driver: o.driver },
  });
  const { handlers, logger } = o;
  // Request schemas from the AgentApi map: the same ones the docs list and the orchestrator sends.
  const endpoints = {
    ping: jsonHandler(AgentApi.ping.request, () => handlers.ping(), logger, "ping"),
    status: jsonHandler(AgentApi.status.request, () => handlers.status(), logger, "status"),
    migrate: jsonHandler(AgentApi.migrate.request, (req) => handlers.migrate(req), logger, "migrate"),
    abort: jsonHandler(AgentApi.abort.request, (req) => handlers.abort(req), logger, "abort"),
    getFacts: jsonHandler(AgentApi.getFacts.request, () => handlers.getFacts(), logger, "getFacts"),
    checkIncoming: jsonHandler(AgentApi.checkIncoming.request, (req) => handlers.checkIncoming(req), logger, "checkIncoming"),
    cpuBaseline: jsonHandler(AgentApi.cpuBaseline.request, (req) => handlers.cpuBaseline(req), logger, "cpuBaseline"),
    removeDisks: jsonHandler(AgentApi.removeDisks.request, (req) => handlers.removeDisks(req), logger, "removeDisks"),
    vmDefinition: jsonHandler(AgentApi.vmDefinition.request, (req) => handlers.vmDefinition(req), logger, "vmDefinition"),
    probeHost: jsonHandler(AgentApi.probeHost.request, (req) => handlers.probeHost(req), logger, "probeHost"),
    startRecordedVm: jsonHandler(AgentApi.startRecordedVm.request, (req) => handlers.startRecordedVm(req), logger, "startRecordedVm"),
    pauseVm: jsonHandler(AgentApi.pauseVm.request, (req) => handlers.pauseVm(req), logger, "pauseVm"),
    guestState: jsonHandler(AgentApi.guestState.request, (req) => handlers.guestState(req), logger, "guestState"),
  };
  // Error replies count in $SRV.STATS as the orchestrator's do (the library counts only handlers
  // that throw, and Ballast's answer every error with an envelope).
  const countError = serviceErrorCounter(svc);
  let uncounted = false;
  for (const [name, handle] of Object.entries(endpoints)) {
    svc.addEndpoint(name, {
      subject: subjects[name as keyof typeof endpoints],
      metadata: { host: o.host },
      handler: (e, msg) => {
        if (e) {
          logger.error({ endpoint: name, err: e.message }, "service endpoint error");
          return;
        }
        void handle(
          withServiceErrorHeaders(msg, (err) => {
            if (countError(name, err) || uncounted) return;
            uncounted = true;
            logger.warn(
              { endpoint: name },
              "cannot count error replies in $SRV.STATS: @nats-io/services no longer has the endpoint statistics this version reaches",
            );
          }),
        );
      },
    });
  }
  return svc;
}
