import type { AgentConfig } from "../shared/config/agent-config.js";
import type { Logger } from "../shared/logger.js";
import { VirshFactsSource, type FactsSource } from "./facts/collect-facts.js";
import { createSystemInformationSource } from "./metrics/systeminformation-source.js";
import type { Clock } from "./ports/clock.js";
import type { HostMetricsSource } from "./ports/host-metrics-source.js";
import type { Hypervisor } from "./ports/hypervisor.js";
import { SimFabric } from "./sim/sim-fabric.js";
import { SimHypervisor } from "./sim/sim-hypervisor.js";
import { createSimMetricsSource } from "./sim/sim-metrics-source.js";
import { VirshHypervisor } from "./virsh/virsh-hypervisor.js";
import { createVirshRunner, type VirshRunner } from "./virsh/virsh-runner.js";

/** The configured driver and its host-metrics source. */
export interface Driver {
  hypervisor: Hypervisor;
  metricsSource: HostMetricsSource;
  /** Where the host's and its VMs' facts come from; undefined: this driver publishes none. */
  facts: FactsSource | undefined;
  /** Called on agent stop for what this function created (the sim host leaves the fabric; virsh processes still running are killed). */
  close(): void;
}

export interface CreateDriverOptions {
  config: AgentConfig;
  logger: Logger;
  clock: Clock;
  /** Use this hypervisor instead of the configured driver (tests, embedding). */
  hypervisor?: Hypervisor;
  metricsSource?: HostMetricsSource;
  /** Use this facts source (tests, embedding); default: the driver's (virsh: libvirt; sim: the simulated host). */
  facts?: FactsSource;
  /** Shared by the sim agents of one process so they can migrate to each other. */
  fabric?: SimFabric;
  /** Wraps the virsh runner of the virsh driver, e.g. AgentMetrics.countVirsh to count every call. */
  wrapVirshRunner?: (runner: VirshRunner) => VirshRunner;
}

/** The one place that builds the hypervisor of the configured driver (sim or virsh). */
export function createDriver(o: CreateDriverOptions): Driver {
  const { config } = o;
  const overrides = { cpusOverride: config.cpus_override, memOverrideMiB: config.mem_override_mib };
  let hypervisor = o.hypervisor;
  let facts = o.facts;
  let close = () => {};
  if (!hypervisor) {
    if (config.driver === "sim") {
      if (!o.fabric) o.logger.info("sim driver without a shared fabric: this host can neither send nor receive migrations");
      const sim = new SimHypervisor({ host: config.host, config: config.sim ?? {}, clock: o.clock, fabric: o.fabric ?? new SimFabric() });
      sim.start();
      hypervisor = sim;
      close = () => sim.stop();
    } else {
      const plain = createVirshRunner({ binary: config.virsh.binary, uri: config.virsh.uri, timeoutMs: config.virsh.timeout * 1000 });
      const runner = o.wrapVirshRunner ? o.wrapVirshRunner(plain) : plain;
      hypervisor = new VirshHypervisor({ runner, migration: config.migration, clock: o.clock, logger: o.logger });
      facts ??= new VirshFactsSource({ runner, settings: config.facts, migration: config.migration, logger: o.logger });
      // No virsh outlives the agent (a hung one would keep the process alive until its time limit).
      close = () => plain.close();
    }
  }
  const metricsSource =
    o.metricsSource ?? (hypervisor instanceof SimHypervisor ? createSimMetricsSource(hypervisor, overrides) : createSystemInformationSource(overrides));
  // A given hypervisor that can tell its facts (the sim's) tells them.
  if (!facts && hypervisor instanceof SimHypervisor) facts = hypervisor;
  return { hypervisor, metricsSource, facts, close };
}
