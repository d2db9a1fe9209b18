import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { systemClock } from "../../agent/ports/clock.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { requestJson } from "../../shared/nats/json.js";
import { AgentStatus, MigrationEvent } from "../../shared/schemas/agent-api.js";
import { agentSubjects } from "../../shared/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

// Issue 14, item 12, in one process on a real nats-server: the hypervisor (a simulated one, which
// like libvirt goes on with a job nobody watches) outlives the agent. Stopping the agent during a
// migration returns at once, reports nothing and aborts nothing; the agent started next on the
// same state directory reports the outcome under the original request id. Before: stop waited up
// to its grace time and then aborted the migration (migration.aborted, VM left on the source).

let server: NatsServerHandle;
let nc: NatsConnection;
let stateDir: string;
const fabric = new SimFabric();
let src: SimHypervisor;
let dst: SimHypervisor;
const agents: AgentHandle[] = [];
const S = agentSubjects("rs-a");

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  stateDir = mkdtempSync(join(tmpdir(), "ballast-agent-state-"));
  // 1 GiB at 200 MiB/s: about 5 s of copying.
  src = new SimHypervisor({
    host: "rs-a",
    clock: systemClock,
    fabric,
    config: {
      start_delay_s: 0.05,
      migration_mibs: 200,
      vms: [
        { name: "big", mem_mib: 1024 },
        { name: "other", mem_mib: 256 },
      ],
    },
  });
  dst = new SimHypervisor({ host: "rs-b", clock: systemClock, fabric });
  src.start();
  dst.start();
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  src.stop();
  dst.stop();
  await nc?.close();
  await server?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const config = () => AgentConfig.parse({ host: "rs-a", interval: 0.2, heartbeat_interval: 0.2, nats: { servers: [server.url] } });
const start = async () => {
  const a = await startAgent({ config: config(), logger: silentLogger(), hypervisor: src, metricsSource: { sample: async () => zero }, stateDir });
  agents.push(a);
  return a;
};
const zero = { cpus: 4, cpuPercent: 0, load1: 0, load5: 0, load15: 0, memTotalMiB: 16_384, memAvailableMiB: 8192 };

function collect(subject: string) {
  const got: MigrationEvent[] = [];
  const sub: Subscription = nc.subscribe(subject, { callback: (_e, m) => void got.push(MigrationEvent.parse(m.json())) });
  return { got, sub };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("stopping the agent during a migration, and starting it again", () => {
  it("stop is quick and silent, the migration goes on, and the next start reports it under its request id", async () => {
    const journal = join(stateDir, "agent-rs-a-migrations.json");
    const first = await start();
    const events = collect(S.events);
    const r = await requestJson(nc, S.migrate, { requestId: "rs-1", vm: "big", destination: "rs-b", destinationAddress: "rs-b" }, { timeoutMs: 3000 });
    expect(r.ok).toBe(true);
    await until(() => events.got.some((e) => e.type === "migration.started"), 3000, "migration.started");
    await new Promise((res) => setTimeout(res, 500));

    const t0 = Date.now();
    await first.stop();
    const stopMs = Date.now() - t0;
    expect.soft(stopMs).toBeLessThan(2000);
    await new Promise((res) => setTimeout(res, 300));
    // No outcome from the stopping agent, and libvirt (here: the sim) goes on with the job.
    expect(events.got.map((e) => e.type).filter((t) => t !== "migration.progress")).toEqual(["migration.started"]);
    expect(await src.inspectMigration("big")).toMatchObject({ present: true, jobActive: true });
    // Written down (when it was accepted), for the next start.
    expect(JSON.parse(readFileSync(journal, "utf8"))).toMatchObject({
      v: 1,
      host: "rs-a",
      migrations: [{ requestId: "rs-1", vm: "big", destination: "rs-b" }],
    });

    const second = await start();
    // While it follows the job: the VM counts as migrating, the request id answers as before.
    const st = await requestJson(nc, S.status, {}, { timeoutMs: 3000 });
    expect(st.ok && AgentStatus.parse(st.data).migrations).toMatchObject([{ requestId: "rs-1", phase: "running" }]);
    expect(await requestJson(nc, S.migrate, { requestId: "rs-1", vm: "big", destination: "rs-b", destinationAddress: "rs-b" }, { timeoutMs: 3000 })).toEqual(r);
    expect(
      await requestJson(nc, S.migrate, { requestId: "rs-2", vm: "big", destination: "rs-b", destinationAddress: "rs-b" }, { timeoutMs: 3000 }),
    ).toMatchObject({
      ok: false,
      error: { code: "ALREADY_MIGRATING" },
    });
    await until(() => events.got.some((e) => e.type !== "migration.started" && e.type !== "migration.progress"), 15_000, "the outcome");
    const outcomes = events.got.filter((e) => e.type !== "migration.started" && e.type !== "migration.progress");
    expect(outcomes).toMatchObject([{ type: "migration.succeeded", requestId: "rs-1", vm: "big", source: "rs-a", destination: "rs-b" }]);
    expect(fabric.whereIs("big")).toEqual(["rs-b"]);
    // Crossed out once NATS had the event.
    await until(() => !existsSync(journal), 3000, "the journal to be emptied");
    await second.stop();
    events.sub.unsubscribe();
  }, 40_000);
});
