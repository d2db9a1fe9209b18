import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DecisionStream } from "../../../../orchestrator/shell/ha/decision-stream.js";
import type { RecordedDecisions } from "../../../../orchestrator/shell/decision-log.js";
import { silentLogger } from "../../../../shared/logger.js";
import { startNatsServer, type NatsServerHandle } from "../../../support/nats-server.js";

// The replicated decision log against a real JetStream server: a follower applies what another
// instance wrote and knows when it has read it all; and catching up is bounded as a whole, also
// when the server does not answer (here: stopped with SIGSTOP, as a lost server's streams are
// while they elect new leaders), so a takeover never waits the JetStream API's own 5 s timeout.

/** Resolves once every thread of the process is stopped (Linux /proc); fails after 10 s. */
async function stopped(pid: number): Promise<void> {
  const end = Date.now() + 10_000;
  // A thread's state is the field after its parenthesised command name.
  const all = () => readdirSync(`/proc/${pid}/task`).every((t) => /\) [Tt] /.test(readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8")));
  while (!all()) {
    if (Date.now() > end) throw new Error(`process ${pid} did not stop`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const options = (instance: string) => ({ bucket: "ballast-ds-test", maxBytes: 1 << 20, replicas: 1, instance, log: silentLogger() });

describe("DecisionStream against a real JetStream server", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    nc = await connect({ servers: server.url });
  }, 20_000);

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it("applies another instance's decisions and says when it has read them all", async () => {
    const leader = await DecisionStream.open(nc, options("orch-a"));
    const standby = await DecisionStream.open(nc, options("orch-b"));
    const applied: RecordedDecisions[] = [];
    await standby.follow((r) => applied.push(r));
    for (const cycle of [1, 2, 3]) leader.publish({ cycle, entries: [] });
    const end = Date.now() + 10_000;
    while (!(await standby.catchUp(1000))) if (Date.now() > end) throw new Error("never caught up");
    expect(applied.map((r) => r.cycle)).toEqual([1, 2, 3]);
    standby.stop();
  });

  it("gives up catching up after its timeout when the server does not answer, the stream's info request included", async () => {
    const s = await DecisionStream.open(nc, options("orch-c"));
    await s.follow(() => undefined);
    process.kill(server.pid, "SIGSTOP");
    try {
      // The signal takes effect asynchronously: on a busy machine the server could still answer.
      await stopped(server.pid);
      const t0 = performance.now();
      const caughtUp = await s.catchUp(300);
      const tookMs = performance.now() - t0;
      expect(caughtUp).toBe(false);
      // The JetStream API's request timeout is 5 s: well under it, the bound held.
      expect(tookMs).toBeLessThan(4000);
    } finally {
      process.kill(server.pid, "SIGCONT");
    }
    const end = Date.now() + 10_000;
    while (!(await s.catchUp(1000))) if (Date.now() > end) throw new Error("never caught up after SIGCONT");
    s.stop();
  }, 30_000);
});
