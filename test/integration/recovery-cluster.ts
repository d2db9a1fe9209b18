import { afterAll, afterEach, beforeAll } from "vitest";
import type { SimConfigInput, SimVmInput } from "../../shared/config/agent-config.js";
import type { PolicyInput } from "../../shared/config/policy.js";
import type { RecoveryStatusReply } from "../../shared/schemas/orchestrator-api.js";
import { OrchestratorEventMessage } from "../../shared/schemas/orchestrator-events.js";
import { orchestratorSubjects } from "../../shared/subjects.js";
import type { LooseReply } from "../support/loose-reply.js";
import { startHaClusterOnNats, type HaCluster } from "../ha/ha-cluster.js";
import type { FakePower } from "./fake-power.js";
import { startSimCluster, waitUntil, type SimCluster } from "./sim-cluster.js";

// The host-failure scenes' cluster: a, b and c (8 CPUs, 16 GiB each, the shared storage at
// /srv/shared), b holding the guests a failure puts to the test, a policy that detects a failure
// in 2 s from 2 peers' probes, and the recovery alerts the orchestrator publishes; on one
// orchestrator (startRecoveryCluster) or two HA ones (recoveryHaScene).

/** The interval of agents and orchestrator in these scenes, seconds. */
export const RECOVERY_INTERVAL = 0.3;

/** A host of the scenes with its guests; `more` overrides any setting (e.g. a slower copy). */
export const recoveryHost = (vms: SimVmInput[], more: Partial<SimConfigInput> = {}): SimConfigInput => ({
  facts: { shared_paths: ["/srv/shared"] },
  start_delay_s: 0,
  cpus: 8,
  mem_mib: 16_384,
  migration_mibs: 2000,
  vms,
  ...more,
});

/** The facts of a guest whose only disk is `path`: under /srv/shared it can restart elsewhere. */
export const onDisk = (path: string) => ({ facts: { disks: [{ target: "vda", path, size_gib: 1 }] } });

/** b's guests: web1 and app1 on the shared storage, db1 on a local disk (it waits for b). */
export const failingGuests = (more: Partial<SimVmInput> = {}): SimVmInput[] => [
  { name: "web1", mem_mib: 512, cpu: 10, ...more, ...onDisk("/srv/shared/web1.qcow2") },
  { name: "app1", mem_mib: 1024, cpu: 10, ...more, ...onDisk("/srv/shared/app1.qcow2") },
  { name: "db1", mem_mib: 256, cpu: 10, ...more, ...onDisk("/var/lib/libvirt/images/db1.qcow2") },
];

/** misc1: a small guest on the shared storage, for a host that does not lose its power. */
export const bystander = (): SimVmInput => ({ name: "misc1", mem_mib: 256, cpu: 5, ...onDisk("/srv/shared/misc1.qcow2") });

/** An idle a and c around b with `guests`; `more` adds or replaces hosts. */
export const failingHosts = (guests: SimVmInput[] = failingGuests(), more: Record<string, SimConfigInput> = {}): Record<string, SimConfigInput> => ({
  a: recoveryHost([]),
  b: recoveryHost(guests),
  c: recoveryHost([]),
  ...more,
});

/** Detection in 2 s from 2 peers' probes, nothing moved by the balancer; `more` adds restart settings. */
export const recoveryPolicy = (more: Partial<PolicyInput> = {}): PolicyInput => ({
  interval: RECOVERY_INTERVAL,
  stale_after: 1,
  automation: "manual",
  failure_detect_after: 2,
  failure_peer_probes: 2,
  ...more,
});

/**
 * One restart per plan, web1 before app1: the high-priority VM is recorded in an earlier pass
 * than the low one, so the order of the restarts can be checked.
 */
export const oneRestartPerPass = (priorities: Record<string, "high" | "medium" | "low">): Partial<PolicyInput> => ({
  max_concurrent_restarts: 1,
  restart_priorities: { vms: priorities },
});

export interface RecoveryAlert {
  alert: string;
  host: string | null;
  code: string | null;
  message: string;
}

/** Every recovery alert the orchestrator publishes from now on, in order. */
export function recordAlerts(cluster: SimCluster): RecoveryAlert[] {
  const dec = new TextDecoder();
  const alerts: RecoveryAlert[] = [];
  cluster.nc.subscribe(orchestratorSubjects.events, {
    callback: (_e, m) => {
      const ev = OrchestratorEventMessage.parse(JSON.parse(dec.decode(m.data)));
      if (ev.type === "recovery-alert") alerts.push(ev);
    },
  });
  return alerts;
}

/** Waits until the orchestrator (`api`: any cluster's) has recorded `count` VMs, definitions fetched. */
export async function waitForRecords(
  api: (endpoint: "records", body: Record<string, never>) => Promise<LooseReply<{ records: unknown[] }>>,
  count: number,
  timeoutMs = 15_000,
): Promise<void> {
  await waitUntil(
    async () => {
      const r = await api("records", {});
      return r.ok && r.data.records.length === count;
    },
    timeoutMs,
    `${count} VMs to be recorded`,
  );
}

/**
 * A sim cluster of `hosts` (default: failingHosts()) with `policy` (default: recoveryPolicy()),
 * its alerts recorded from the start, returned once its `records` VMs are recorded: every
 * definition is kept before anything fails.
 */
export async function startRecoveryCluster(o: {
  records: number;
  hosts?: Record<string, SimConfigInput>;
  policy?: PolicyInput;
  powerDrivers?: Map<string, FakePower>;
}): Promise<{ cluster: SimCluster; alerts: RecoveryAlert[] }> {
  const cluster = await startSimCluster({
    interval: RECOVERY_INTERVAL,
    hosts: o.hosts ?? failingHosts(),
    policy: o.policy ?? recoveryPolicy(),
    ...(o.powerDrivers ? { powerDrivers: o.powerDrivers } : {}),
  });
  try {
    const alerts = recordAlerts(cluster);
    await waitForRecords((e, b) => cluster.api(e, b), o.records);
    return { cluster, alerts };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

export type RecoveryClusterOptions = Parameters<typeof startRecoveryCluster>[0];

/** startRecoveryCluster for a suite's tests: the cluster a test starts is stopped after it. */
export function recoveryClusterPerTest(): (o: RecoveryClusterOptions) => ReturnType<typeof startRecoveryCluster> {
  let running: SimCluster | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });
  return async (o) => {
    const started = await startRecoveryCluster(o);
    running = started.cluster;
    return started;
  };
}

/** The reply's data; an error reply throws, naming the endpoint. */
export function dataOf<T>(endpoint: string, r: LooseReply<T>): T {
  if (!r.ok) throw new Error(`${endpoint}: ${r.error.code} ${r.error.message}`);
  return r.data;
}

/** The guests of the HA scene, all on b and on the shared storage. */
export const HA_VMS = ["web1", "app1", "api1"];

export interface RecoveryHaScene {
  /** The cluster, once the suite's beforeAll has run. */
  readonly c: HaCluster;
  /** The recovery status as the leader answers it. */
  status(): Promise<RecoveryStatusReply>;
}

/**
 * The HA scene, started before the suite's tests and stopped after them: two orchestrators (o1,
 * o2) in this process on their own nats-server with JetStream, HA state in `bucket`. One recovery
 * pass every 1.5 s and one restart per pass, so the leader can be killed between two restarts. No
 * power driver: an operator confirms b off.
 */
export function recoveryHaScene(bucket: string): RecoveryHaScene {
  let cluster: HaCluster | undefined;
  beforeAll(async () => {
    cluster = await startHaClusterOnNats({
      interval: RECOVERY_INTERVAL,
      leaseTtl: 1,
      bucket,
      orchestrators: ["o1", "o2"],
      hosts: failingHosts(HA_VMS.map((name) => ({ name, mem_mib: 512, cpu: 5, ...onDisk(`/srv/shared/${name}.qcow2`) }))),
      policy: recoveryPolicy({ interval: 1.5, ...oneRestartPerPass({ web1: "high", app1: "medium", api1: "low" }) }),
    });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return {
    get c() {
      if (!cluster) throw new Error("the HA scene has not started (used outside its suite's tests?)");
      return cluster;
    },
    async status() {
      return dataOf("recoveryStatus", await this.c.leaderApi("recoveryStatus", {}));
    },
  };
}

/**
 * The first act of the HA scene: every VM recorded, b loses its power (agent and libvirt gone),
 * is judged failed, an operator confirms it off; returns once the leader has recorded a first
 * restart.
 */
export async function failBUntilFirstRestart(scene: RecoveryHaScene): Promise<void> {
  const { c } = scene;
  await waitForRecords((e, b) => c.leaderApi(e, b), HA_VMS.length, 20_000);
  await c.agents.get("b")!.stop();
  await waitUntil(async () => (await scene.status()).hosts.some((h) => h.host === "b" && h.state === "failed"), 20_000, "b to be failed");
  const confirmed = await c.leaderApi("recover", { host: "b", confirmFenced: true });
  if (!confirmed.ok) throw new Error(`recover --confirm-fenced refused: ${JSON.stringify(confirmed)}`);
  await waitUntil(async () => (await scene.status()).restarts.length >= 1, 20_000, "a first restart");
}
