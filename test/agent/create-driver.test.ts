import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDriver } from "../../agent/create-driver.js";
import { startAgent } from "../../agent/nats-agent.js";
import { systemClock } from "../../agent/ports/clock.js";
import type { HostMetricsSource } from "../../agent/ports/host-metrics-source.js";
import type { Hypervisor } from "../../agent/ports/hypervisor.js";
import { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { VirshHypervisor } from "../../agent/virsh/virsh-hypervisor.js";
import type { VirshRunner } from "../../agent/virsh/virsh-runner.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { FIXTURES } from "./support/fixtures.js";

// createDriver is the one place that builds the hypervisor; the agent only passes a runner wrapper
// (its Prometheus counter) in.

const ECHO = join(FIXTURES, "stand-in-virsh-echo.sh");
const quietHost: HostMetricsSource = {
  sample: async () => ({ cpus: 1, cpuPercent: 0, load1: 0, load5: 0, load15: 0, memTotalMiB: 1024, memAvailableMiB: 512 }),
};
const virshConfig = (extra: Record<string, unknown> = {}) =>
  AgentConfig.parse({ host: "hv-a", driver: "virsh", virsh: { binary: ECHO, uri: "test:///default" }, ...extra });

/** A wrapper that records the commands run through it. */
function recording() {
  const seen: string[] = [];
  const wrap = (inner: VirshRunner): VirshRunner => ({
    commandLine: (args) => inner.commandLine(args),
    run: (args, opts) => {
      seen.push(args[0] ?? "");
      return inner.run(args, opts);
    },
  });
  return { seen, wrap };
}

describe("createDriver", () => {
  it("builds the virsh hypervisor with the wrapped runner", async () => {
    const { seen, wrap } = recording();
    const d = createDriver({ config: virshConfig(), logger: silentLogger(), clock: systemClock, metricsSource: quietHost, wrapVirshRunner: wrap });
    expect(d.hypervisor).toBeInstanceOf(VirshHypervisor);
    await d.hypervisor.abortMigration("vm1");
    expect(seen).toEqual(["domjobabort"]);
    d.close();
  });

  it("builds the virsh hypervisor with the plain runner when nothing wraps it", async () => {
    const d = createDriver({ config: virshConfig(), logger: silentLogger(), clock: systemClock, metricsSource: quietHost });
    expect(d.hypervisor).toBeInstanceOf(VirshHypervisor);
    await expect(d.hypervisor.abortMigration("vm1")).resolves.toBeUndefined();
  });

  it("does not call the wrapper for a given hypervisor or the sim driver", () => {
    const { wrap } = recording();
    let wrapped = 0;
    const counting = (r: VirshRunner) => (wrapped++, wrap(r));
    const given = { name: "given" } as unknown as Hypervisor;
    expect(
      createDriver({
        config: virshConfig(),
        logger: silentLogger(),
        clock: systemClock,
        hypervisor: given,
        metricsSource: quietHost,
        wrapVirshRunner: counting,
      }).hypervisor,
    ).toBe(given);
    const sim = createDriver({
      config: AgentConfig.parse({ host: "sim-a", driver: "sim" }),
      logger: silentLogger(),
      clock: systemClock,
      wrapVirshRunner: counting,
    });
    expect(sim.hypervisor).toBeInstanceOf(SimHypervisor);
    sim.close();
    expect(wrapped).toBe(0);
  });
});

describe("an agent with the virsh driver and metrics served", () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("counts its virsh calls", async () => {
    const config = virshConfig({ interval: 0.1, heartbeat_interval: 1, nats: { servers: [server.url] }, http: { listen: "127.0.0.1:0" } });
    const agent = await startAgent({ config, logger: silentLogger(), metricsSource: quietHost });
    try {
      expect(agent.metricsUrl).toBeDefined();
      const counted = /^ballast_agent_virsh_calls_total\{[^}]*command="domstats"[^}]*\} ([1-9]\d*)$/m;
      const end = Date.now() + 10_000;
      let page = "";
      while (!counted.test(page)) {
        if (Date.now() > end) throw new Error(`no counted domstats call on ${agent.metricsUrl}/metrics:\n${page}`);
        await new Promise((r) => setTimeout(r, 50));
        page = await (await fetch(`${agent.metricsUrl}/metrics`)).text();
      }
    } finally {
      await agent.stop();
    }
  });
});
