import { describe, expect, it } from "vitest";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { LeaderForwarder } from "../../../../orchestrator/shell/ha/leader-forwarder.js";
import { NoLeaderError } from "../../../../shared/errors.js";
import { silentLogger } from "../../../../shared/logger.js";

// The paths that need no NATS: no leader known, or the lease naming this very instance. The
// forwarding itself runs against a real nats-server in test/ha/leader-forwarding.test.ts.

const msg = { data: new TextEncoder().encode("{}") } as Msg;
const noBus = new Proxy(
  {},
  {
    get: () => {
      throw new Error("must not touch NATS");
    },
  },
) as NatsConnection;
const forwarder = (holder: () => Promise<string | undefined>) =>
  new LeaderForwarder({ nc: noBus, instance: "orch-b", holder, timeoutMs: 100, log: silentLogger() });

describe("LeaderForwarder", () => {
  it("answers NO_LEADER when nobody holds the lease", async () => {
    const e = await forwarder(async () => undefined)
      .forward("status", msg)
      .catch((x) => x);
    expect(e).toBeInstanceOf(NoLeaderError);
    expect(e).toMatchObject({ code: "NO_LEADER", details: { leader: null } });
    expect(e.message).toMatch(/no orchestrator leads right now/);
  });

  it("answers NO_LEADER while this instance holds the lease but is still taking over (never forwards to itself)", async () => {
    const e = await forwarder(async () => "orch-b")
      .forward("migrate", msg)
      .catch((x) => x);
    expect(e).toMatchObject({ code: "NO_LEADER", details: { leader: "orch-b" } });
    expect(e.message).toMatch(/taking over/);
  });

  it("answers NO_LEADER when the lease cannot be read", async () => {
    const e = await forwarder(async () => {
      throw new Error("no JetStream");
    })
      .forward("status", msg)
      .catch((x) => x);
    expect(e).toMatchObject({ code: "NO_LEADER" });
    expect(e.message).toMatch(/cannot read the leader lease: no JetStream/);
  });
});
