import type { CheckIncomingRequest, CheckIncomingResult, CpuBaselineResult, MigrationStats, RemoveDisksResult } from "../../shared/schemas/agent-api.js";
import type { VmState } from "../../shared/schemas/vm.js";

/** One domain as the driver reads it: raw counters, no derived rates. */
export interface DomainStats {
  name: string;
  state: VmState;
  vcpus: number;
  memMiB: number;
  maxMemMiB: number;
  /** Cumulative CPU time of the domain (cpu.time), ns; null when the driver has none (shut off). */
  cpuTimeNs: number | null;
}

/** Where a VM goes: the destination's Ballast host id and its migration-network address. */
export interface MigrationTarget {
  host: string;
  address: string;
}

export interface MigrateOptions {
  /** The driver's own hard limit for the migrate call (the caller also enforces one). */
  timeoutMs: number;
  /** Aborted by the caller on timeout or abort: the driver stops the job (domjobabort) and cleans up. */
  signal?: AbortSignal;
  /**
   * Aborted by the caller when it stops watching (the agent shuts down): the driver releases what
   * it runs for this call (virsh processes) WITHOUT touching the job, which goes on in the
   * hypervisor, and migrate rejects with MigrationUnobservedError. `inspectMigration` tells later
   * how the job ended.
   */
  detach?: AbortSignal;
  /**
   * Target names of the local disks to copy with the VM (`--copy-storage-all --migrate-disks
   * vda,vdb`); absent or empty: no disk is copied (shared storage).
   */
  copyDisks?: readonly string[];
  /**
   * Start with post-copy allowed (`--postcopy`), so the caller can switch with `startPostcopy`
   * at its time limit instead of aborting. Never together with copyDisks.
   */
  postcopy?: boolean;
}

export interface MigrationProgress {
  /** 0..100 when the driver can tell. */
  percent?: number;
  dataProcessedBytes?: number;
  dataTotalBytes?: number;
}

/**
 * What the source hypervisor says of a VM whose outgoing migration nobody watched to its end
 * (the agent restarted, or its virsh client was killed): is the VM still here, in which state, and
 * does a job still run on it.
 */
export type OutgoingMigrationState =
  | { present: false }
  | {
      present: true;
      state: VmState;
      /** libvirt's reason for the state ("booted", "migrated", "migration", ...), when it says. */
      reason?: string;
      /** A migration (or other) job still runs on the domain. */
      jobActive: boolean;
    };

/**
 * migrate() ended without knowing how the migration ends: the caller stopped watching (detach) or
 * the client that ran it died (virsh killed by a signal it was not sent by us). The job may go on
 * in the hypervisor; `inspectMigration` settles it.
 */
export class MigrationUnobservedError extends Error {
  override readonly name = "MigrationUnobservedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One failed destination check: a CheckIncomingResult refusal. */
export type IncomingRefusal = CheckIncomingResult["refusals"][number];

/**
 * The hypervisor one agent manages. `migrate` resolves with statistics when the VM runs on the
 * destination, and throws HypervisorError carrying libvirt's own error text otherwise.
 */
export interface Hypervisor {
  /** Driver name reported in status and service metadata ("virsh", "sim"). */
  readonly name: string;
  listDomains(): Promise<DomainStats[]>;
  migrate(vm: string, target: MigrationTarget, opts: MigrateOptions, onProgress?: (p: MigrationProgress) => void): Promise<MigrationStats>;
  /** Asks the hypervisor to abort the running migration job of `vm`. */
  abortMigration(vm: string): Promise<void>;
  /** The VM's state and job on this (the source) host, to settle a migration nobody watched to its end. */
  inspectMigration(vm: string): Promise<OutgoingMigrationState>;
  /**
   * Switches the running migration of `vm` to post-copy (`virsh migrate-postcopy`); it must have
   * been started with `postcopy`. Throws HypervisorError when libvirt refuses.
   */
  startPostcopy(vm: string): Promise<void>;
  /**
   * The checks only this (the destination) hypervisor can make of a VM that would come here: its
   * CPU definition (libvirt's own comparison), its networks, the paths of its shared disks, and,
   * when its local disks are to be copied, that their paths are free here and that the hypervisor
   * can create them. Machine type, bridges, memory and huge pages are checked by the caller from
   * the host's facts (incomingRefusals). Resolves with every refusal found; empty: all passed.
   */
  checkIncoming(req: CheckIncomingRequest): Promise<IncomingRefusal[]>;
  /** libvirt's CPU baseline of the given `<cpu>` elements (a guest CPU every one of them can run). */
  cpuBaseline(cpus: readonly string[]): Promise<CpuBaselineResult>;
  /**
   * Removes the disk files of a VM that moved away. Throws BallastError VM_STILL_DEFINED while
   * the VM is still defined or listed here; otherwise reports each path removed or kept (and why).
   */
  removeDisks(vm: string, paths: readonly string[]): Promise<RemoveDisksResult>;
  /**
   * The VM's definition as libvirt writes it for another host (`virsh dumpxml --migratable`,
   * without --security-info). Throws BallastError UNKNOWN_VM when it is not defined here.
   */
  definitionXml(vm: string): Promise<string>;
  /**
   * Does another host's libvirt answer this one over the migration network (host failure: a peer's
   * probe of a silent host)? Never throws: a refusal, an error or no answer in `timeoutMs` is ok false.
   */
  probeHost(address: string, timeoutMs: number): Promise<ProbeAnswer>;
  /**
   * Defines `vm` from a recorded definition and starts it (a fenced host's VM restarted here).
   * Resolves started false, with nothing changed, when a domain of that name is already defined
   * here; throws HypervisorError when libvirt refuses the definition or the start (a start that
   * fails leaves the domain undefined again, so the orchestrator may try elsewhere).
   */
  startRecorded(vm: string, xml: string): Promise<{ started: boolean; detail: string }>;
  /**
   * The domains defined here whose libvirt autostart flag is on (`virsh list --all --autostart`):
   * libvirtd starts them at its own start, before any agent runs.
   */
  autostartDomains(): Promise<string[]>;
  /** Turns a domain's autostart flag off (`virsh autostart --disable`). */
  disableAutostart(vm: string): Promise<void>;
  /** Starts a domain defined here (`virsh start`); throws HypervisorError when libvirt refuses. */
  startDefined(vm: string): Promise<void>;
  /**
   * Pauses a running domain (`virsh suspend`). Resolves paused false, changing nothing, when it is
   * not running here; throws BallastError UNKNOWN_VM when it is not defined here.
   */
  pause(vm: string): Promise<PauseAnswer>;
  /**
   * Is the VM's guest up: libvirt's domain state (as virsh words it: "running", "shut off", ...)
   * and its QEMU guest agent channel (virtio port org.qemu.guest_agent.0) as the live definition
   * says. Throws BallastError UNKNOWN_VM when it is not defined here.
   */
  guestState(vm: string): Promise<GuestStateAnswer>;
}

/** A VM's guest, as the hypervisor sees it: its domain state and its guest agent channel. */
export interface GuestStateAnswer {
  state: string;
  guestAgent: "connected" | "disconnected" | "none";
}

/** What a pause did: the domain's state afterwards. */
export interface PauseAnswer {
  paused: boolean;
  state: VmState;
  detail: string;
}

/** A probe's answer: did the other host's libvirt answer, and what it said. */
export interface ProbeAnswer {
  ok: boolean;
  timedOut: boolean;
  detail: string;
}
