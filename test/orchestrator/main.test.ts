import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { startOrchestrator } from "../../orchestrator/main.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

// startOrchestrator with HA against a real nats-server: what it says about the bucket it opens.

describe("startOrchestrator (HA bucket)", () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  }, 30_000);
  afterAll(async () => {
    await server?.stop();
  });

  const start = async (replicas: number) => {
    const lines: { msg: string; replicas?: number; configured?: number }[] = [];
    const log = pino({ level: "warn" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url] },
      ha: { enabled: true, bucket: "replicas-check", replicas, instance: `r${replicas}` },
    });
    const r = await startOrchestrator({ config, log, mapping: new Map() });
    await r.stop();
    return lines;
  };

  it("warns when the existing bucket's replicas differ from ha.replicas (they apply only on creation)", async () => {
    // Only the replicas warning counts here; a slow JetStream may add others (e.g. the decision log's catch-up).
    expect((await start(1)).filter((l) => l.msg.includes("ha.replicas"))).toEqual([]);
    // One server cannot hold 3 replicas, but the bucket exists: JetStream opens it as it is.
    const warned = (await start(3)).filter((l) => l.msg.includes("applies only when the bucket is created"));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ replicas: 1, configured: 3 });
  }, 30_000);
});
