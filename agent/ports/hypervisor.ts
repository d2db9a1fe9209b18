import type { MigrationStats } from "../../shared/schemas/agent-api.js";
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
  /** Aborted by the caller on timeout or shutdown: the driver stops waiting and cleans up. */
  signal?: AbortSignal;
}

export interface MigrationProgress {
  /** 0..100 when the driver can tell. */
  percent?: number;
  dataProcessedBytes?: number;
  dataTotalBytes?: number;
}

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
}
