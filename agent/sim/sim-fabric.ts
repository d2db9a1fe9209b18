import type { SimHypervisor } from "./sim-hypervisor.js";

/**
 * The "network" between simulated hypervisors in one process: migration addresses (and host
 * ids) to hypervisors. A migration asks the fabric for its destination, as libvirtd would
 * connect to the destination URI.
 */
export class SimFabric {
  private readonly byAddress = new Map<string, SimHypervisor>();

  register(address: string, hv: SimHypervisor): void {
    const had = this.byAddress.get(address);
    if (had && had !== hv) throw new Error(`sim fabric: address '${address}' is already used by host '${had.host}'`);
    this.byAddress.set(address, hv);
  }

  /** Removes every address of `hv`. */
  unregister(hv: SimHypervisor): void {
    for (const [a, h] of this.byAddress) if (h === hv) this.byAddress.delete(a);
  }

  resolve(address: string): SimHypervisor | undefined {
    return this.byAddress.get(address);
  }

  /** Distinct hypervisors currently reachable. */
  hypervisors(): SimHypervisor[] {
    return [...new Set(this.byAddress.values())];
  }

  /** Hosts on which `vm` is defined now; the simulator guarantees at most one. */
  whereIs(vm: string): string[] {
    return this.hypervisors()
      .filter((h) => h.hasVm(vm))
      .map((h) => h.host);
  }
}
