import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { Plan } from "../../shared/schemas/plan.js";
import type { StoredPair } from "./incompatible-pairs.js";
import type { StoredPower } from "./power/power-record.js";
import type { StoredRecoveryHost, StoredRestart } from "./recovery/recovery-record.js";

// What a new HA leader continues from, and the sink the leader writes every change of it to (the
// JetStream KV bucket, ha/kv-state-store.ts). Without HA there is no sink and nothing is kept.

/** A plan kept for `approve` until it expires. */
export interface PendingPlan {
  plan: Plan;
  expiresAt: number;
  /** A dry run (`plan`): who asked (requester.ts). Absent: a cycle proposed it (automation manual or partial). */
  dryRun?: { by: string; mayApprove: boolean };
  /** Ids of identical older plans this one replaced, newest first: approving one of them applies this plan. */
  sameAs?: string[];
  /** An evacuation dry run: what was asked, so approve can judge the drain again on the cluster of then. */
  evacuation?: { host: string; placement: "stripe" | "pack"; useEmptyHosts: boolean };
}

/** What a standby needs to continue as leader. */
export interface PersistedState {
  migrations: MigrationRecord[];
  maintenance: string[];
  frozen: string[];
  pending: PendingPlan[];
  pausedReason: string | undefined;
  /** (VM, destination) pairs libvirt refused, with the facts digests they hold under (absent: none kept, or an older writer). */
  incompatible?: StoredPair[];
  /** Power records of the switchable hosts: which are off or booting, their deadlines and cycles (absent: none kept). */
  power?: StoredPower[];
  /** Host failure: each host's incident (state, fence attempts) and every recorded restart (absent: none kept). */
  recovery?: { hosts: StoredRecoveryHost[]; restarts: StoredRestart[] };
}

/** Receives state changes (HA: written to the JetStream KV bucket by the leader). */
export interface StateSink {
  migration(r: MigrationRecord): void;
  /** Awaited before a migrate command goes out: the store must know it was sent. */
  dispatched(r: MigrationRecord): Promise<void>;
  maintenance(hosts: ReadonlySet<string>): void;
  frozen(vms: ReadonlySet<string>): void;
  pending(planId: string, p: PendingPlan | undefined): void;
  paused(reason: string | undefined): void;
  /** Every incompatible pair after a change (optional: sinks of tests may ignore them). */
  incompatible?(pairs: readonly StoredPair[]): void;
  /** A host's power record after a change (optional: sinks of tests may ignore them). */
  power?(r: StoredPower): void;
  /** A host's failure record after a change (optional: sinks of tests may ignore them). */
  recoveryHost?(r: StoredRecoveryHost): void;
  /** A restart, awaited before its start is sent: the store must know it was recorded. */
  restart?(r: StoredRestart): Promise<void>;
  /** A restart of an incident long over, forgotten (optional: sinks of tests may ignore them). */
  forgetRestart?(r: StoredRestart): void;
}
