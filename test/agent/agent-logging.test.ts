import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "../../agent/nats-agent.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { createLogger } from "../../shared/logger.js";
import { requestJson } from "../../shared/nats/json.js";
import { MigrationEvent } from "../../shared/schemas/agent-api.js";
import { agentSubjects } from "../../shared/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { linesWithDuplicateKeys } from "./support/json-keys.js";

// Issue 14, item 13: the agent's log lines, written by the daemon's own logger (createLogger, as
// `ballast agent` makes it, with the host in its base), each hold every key once; and the line
// that starts a migration carries the exact virsh argv, destination URI included. Before: every
// agent line said "host" twice and no line named the virsh command.

const VIRSH = join(fileURLToPath(new URL(".", import.meta.url)), "support", "stand-in-virsh-migrates.sh");

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe("agent log lines", () => {
  it("have each key once, and the migrate line carries the virsh argv", async () => {
    const lines: string[] = [];
    const logger = createLogger({ name: "ballast-agent", level: "debug", host: "log-a", destination: { write: (s: string) => void lines.push(s.trimEnd()) } });
    const config = AgentConfig.parse({
      host: "log-a",
      driver: "virsh",
      interval: 0.2,
      heartbeat_interval: 0.2,
      virsh: { binary: VIRSH, uri: "qemu:///system" },
      nats: { servers: [server.url] },
      http: { listen: "127.0.0.1:0" },
    });
    const agent = await startAgent({ config, logger });
    const S = agentSubjects("log-a");
    const events: MigrationEvent[] = [];
    const sub = nc.subscribe(S.events, { callback: (_e, m) => void events.push(MigrationEvent.parse(m.json())) });
    try {
      const r = await requestJson(
        nc,
        S.migrate,
        { requestId: "log-1", vm: "cap-vm1", destination: "log-b", destinationAddress: "10.77.0.2" },
        { timeoutMs: 5000 },
      );
      expect(r.ok).toBe(true);
      // The same id for another VM: a warning line with nested details, also checked below.
      await requestJson(nc, S.migrate, { requestId: "log-1", vm: "cap-vm2", destination: "log-b", destinationAddress: "10.77.0.2" }, { timeoutMs: 5000 });
      for (let i = 0; i < 200 && !events.some((e) => e.type === "migration.succeeded"); i++) await new Promise((res) => setTimeout(res, 25));
      expect(events.map((e) => e.type)).toEqual(["migration.started", "migration.succeeded"]);
    } finally {
      sub.unsubscribe();
      await agent.stop();
    }
    expect(lines.length).toBeGreaterThan(5);
    expect(linesWithDuplicateKeys(lines)).toEqual([]);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.every((l) => l.host === "log-a")).toBe(true);
    const migrate = parsed.find((l) => l.msg === "running virsh migrate");
    expect(migrate).toMatchObject({ vm: "cap-vm1", destination: "log-b" });
    expect(migrate?.argv).toEqual([
      VIRSH,
      "-c",
      "qemu:///system",
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--migrateuri",
      "tcp://10.77.0.2",
      "--domain",
      "cap-vm1",
      "--desturi",
      "qemu+tcp://10.77.0.2/system",
    ]);
    expect(parsed.some((l) => l.msg === "agent stopped")).toBe(true);
  });
});
