// Every NATS subject Ballast uses, in one place. Host ids are single subject tokens
// (see HostId), so a host can never inject wildcards or extra tokens into a subject.

export const SUBJECT_PREFIX = "ballast";

export const agentSubjects = (host: string) => ({
  /** Agent publishes HostMetrics every `interval`. */
  metrics: `${SUBJECT_PREFIX}.agent.${host}.metrics`,
  /** Agent publishes a Heartbeat every `heartbeat_interval`, even when collection fails. */
  heartbeat: `${SUBJECT_PREFIX}.agent.${host}.heartbeat`,
  /** Agent publishes MigrationEvents (started, progress, succeeded, failed, aborted). */
  events: `${SUBJECT_PREFIX}.agent.${host}.events`,
  /** Request/reply: AgentStatusRequest -> AgentStatus. */
  status: `${SUBJECT_PREFIX}.agent.${host}.status`,
  /** Request/reply: {} -> Pong. */
  ping: `${SUBJECT_PREFIX}.agent.${host}.ping`,
  /** Request/reply: MigrateRequest -> MigrateAccepted. */
  migrate: `${SUBJECT_PREFIX}.agent.${host}.migrate`,
  /** Request/reply: AbortRequest -> AbortResult. */
  abort: `${SUBJECT_PREFIX}.agent.${host}.abort`,
  /** Agent publishes AgentFacts on start and whenever they change. */
  facts: `${SUBJECT_PREFIX}.agent.${host}.facts`,
  /** Request/reply: FactsRequest -> AgentFacts (the newest facts, collected now if none yet). */
  getFacts: `${SUBJECT_PREFIX}.agent.${host}.get-facts`,
  /** Request/reply: CheckIncomingRequest -> CheckIncomingResult (the destination's own check before a move). */
  checkIncoming: `${SUBJECT_PREFIX}.agent.${host}.check-incoming`,
  /** Request/reply: CpuBaselineRequest -> CpuBaselineResult (libvirt's hypervisor-cpu-baseline on this host). */
  cpuBaseline: `${SUBJECT_PREFIX}.agent.${host}.cpu-baseline`,
  /** Request/reply: RemoveDisksRequest -> RemoveDisksResult (the source copies of a moved VM's local disks). */
  removeDisks: `${SUBJECT_PREFIX}.agent.${host}.remove-disks`,
  /** Request/reply: VmDefinitionRequest -> VmDefinition (a VM's migratable XML without secrets, for the VM records). */
  vmDefinition: `${SUBJECT_PREFIX}.agent.${host}.vm-definition`,
  /** Request/reply: ProbeHostRequest -> ProbeHostResult (does another host's libvirt answer here? host failure). */
  probeHost: `${SUBJECT_PREFIX}.agent.${host}.probe-host`,
  /** Request/reply: StartRecordedVmRequest -> StartRecordedVmResult (define and start a fenced host's VM here). */
  startRecordedVm: `${SUBJECT_PREFIX}.agent.${host}.start-recorded-vm`,
  /** Request/reply: PauseVmRequest -> PauseVmResult (pause a VM also running on the host its record names). */
  pauseVm: `${SUBJECT_PREFIX}.agent.${host}.pause-vm`,
  /** Request/reply: GuestStateRequest -> GuestStateResult (a VM's domain state and guest agent channel: is its guest up?). */
  guestState: `${SUBJECT_PREFIX}.agent.${host}.guest-state`,
});

/** Wildcards the orchestrator subscribes to. */
export const allAgents = {
  metrics: `${SUBJECT_PREFIX}.agent.*.metrics`,
  heartbeat: `${SUBJECT_PREFIX}.agent.*.heartbeat`,
  events: `${SUBJECT_PREFIX}.agent.*.events`,
  facts: `${SUBJECT_PREFIX}.agent.*.facts`,
};

/** Host id from a concrete agent subject (`ballast.agent.<host>.<kind>`), or undefined. */
export function hostFromAgentSubject(subject: string): string | undefined {
  const parts = subject.split(".");
  if (parts.length !== 4 || parts[0] !== SUBJECT_PREFIX || parts[1] !== "agent") return undefined;
  return parts[2];
}

/** Operator API of the orchestrator: every one is plain JSON request/reply. */
export const orchestratorSubjects = {
  status: `${SUBJECT_PREFIX}.orch.status`,
  plan: `${SUBJECT_PREFIX}.orch.plan`,
  run: `${SUBJECT_PREFIX}.orch.run`,
  approve: `${SUBJECT_PREFIX}.orch.approve`,
  migrate: `${SUBJECT_PREFIX}.orch.migrate`,
  evacuate: `${SUBJECT_PREFIX}.orch.evacuate`,
  release: `${SUBJECT_PREFIX}.orch.release`,
  pause: `${SUBJECT_PREFIX}.orch.pause`,
  resume: `${SUBJECT_PREFIX}.orch.resume`,
  history: `${SUBJECT_PREFIX}.orch.history`,
  decisions: `${SUBJECT_PREFIX}.orch.decisions`,
  explain: `${SUBJECT_PREFIX}.orch.explain`,
  explainHost: `${SUBJECT_PREFIX}.orch.explain-host`,
  snapshot: `${SUBJECT_PREFIX}.orch.snapshot`,
  version: `${SUBJECT_PREFIX}.orch.version`,
  cpuBaseline: `${SUBJECT_PREFIX}.orch.cpu-baseline`,
  facts: `${SUBJECT_PREFIX}.orch.facts`,
  powerStatus: `${SUBJECT_PREFIX}.orch.power.status`,
  powerOn: `${SUBJECT_PREFIX}.orch.power.on`,
  powerOff: `${SUBJECT_PREFIX}.orch.power.off`,
  records: `${SUBJECT_PREFIX}.orch.records`,
  recoveryStatus: `${SUBJECT_PREFIX}.orch.recovery.status`,
  recover: `${SUBJECT_PREFIX}.orch.recover`,
  /** An agent asks whether it may start a VM it found defined (a returning host). */
  vmClaim: `${SUBJECT_PREFIX}.orch.vm-claim`,
  recoveryHistory: `${SUBJECT_PREFIX}.orch.recovery.history`,
  /** Orchestrator publishes OrchestratorEvents (decisions, dispatches, outcomes). */
  events: `${SUBJECT_PREFIX}.orch.events`,
} as const;

export type OrchestratorEndpoint = Exclude<keyof typeof orchestratorSubjects, "events">;

/**
 * Per-instance operator API of one orchestrator: `ballast.orch.instance.<instance>.<endpoint>`.
 * A standby forwards to the leader's here, and an operator can address one instance. Instance
 * names are single subject tokens (see OrchestratorInstance), so `*` stands for any instance.
 */
export const ORCH_INSTANCE_PREFIX = `${SUBJECT_PREFIX}.orch.instance`;

export function orchestratorInstanceSubject(instance: string, endpoint: OrchestratorEndpoint): string {
  // The same last token as the shared subject (`cpu-baseline`, not the map's key `cpuBaseline`).
  return `${ORCH_INSTANCE_PREFIX}.${instance}.${orchestratorSubjects[endpoint].slice(`${SUBJECT_PREFIX}.orch.`.length)}`;
}

/** Internal traffic between HA orchestrators (the replicated decision log); no operator publishes here. */
export const ORCH_HA_PREFIX = `${SUBJECT_PREFIX}.orch.ha`;

/** Subject of the decision-log stream of one HA bucket (buckets are single tokens too). */
export function haDecisionsSubject(bucket: string): string {
  return `${ORCH_HA_PREFIX}.${bucket}.decisions`;
}
