import type { SimConfigInput } from "../shared/config/agent-config.js";
import type { PolicyInput } from "../shared/config/policy.js";

// The embedded default cluster of `ballast demo`: four simulated hypervisors, hv-1 overloaded by
// four busy web VMs, hv-4 nearly idle (a consolidation candidate). CPU is percent of one core.

export interface DemoHost {
  host: string;
  sim: SimConfigInput;
}

export function demoHosts(migrationMibs: number): DemoHost[] {
  const vm = (name: string, vcpus: number, memGiB: number, cpu: number) => ({ name, vcpus, mem_mib: memGiB * 1024, cpu });
  const common = { migration_mibs: migrationMibs, start_delay_s: 0.2 };
  return [
    {
      host: "hv-1",
      sim: {
        ...common,
        cpus: 16,
        mem_mib: 65536,
        vms: [vm("web-1", 4, 4, 350), vm("web-2", 4, 4, 350), vm("web-3", 4, 6, 340), vm("web-4", 4, 4, 330), vm("db-1", 2, 8, 50)],
      },
    },
    { host: "hv-2", sim: { ...common, cpus: 16, mem_mib: 65536, vms: [vm("app-1", 2, 4, 150), vm("app-2", 2, 4, 100), vm("cache-1", 2, 8, 50)] } },
    { host: "hv-3", sim: { ...common, cpus: 16, mem_mib: 65536, vms: [vm("batch-1", 4, 8, 200), vm("mon-1", 1, 2, 20)] } },
    { host: "hv-4", sim: { ...common, cpus: 8, mem_mib: 32768, vms: [vm("dev-1", 1, 2, 10), vm("dev-2", 1, 1, 5)] } },
  ];
}

/** The demo's policy: production logic, shorter clocks so a person can watch it in a minute. */
export function demoPolicy(intervalS: number): PolicyInput {
  return {
    interval: intervalS,
    stale_after: intervalS * 4,
    max_over: intervalS * 3,
    load_threshold: 80,
    load_target: 70,
    max_load_candidate: 70,
    vm_cooldown: 300,
    host_settle: intervalS * 2,
    spare_hosts: 0,
    consolidate_load: 70,
    mem_reserve_mib: 1024,
  };
}
