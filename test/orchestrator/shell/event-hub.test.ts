import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { EventHub, type EventBus } from "../../../orchestrator/shell/event-hub.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import { OrchestratorEventMessage, type OrchestratorEvent } from "../../../shared/schemas/orchestrator-events.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import { orchestratorSubjects } from "../../../shared/subjects.js";

// Listeners and ballast.orch.events: every event reaches both, as a versioned message on the bus;
// a listener that throws is logged and stops neither the others nor the caller.

const NOW = 1_700_000_123_456;

function setup(publish: EventBus["publish"] = () => undefined) {
  const sent: { subject: string; data: string }[] = [];
  const logged: unknown[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const bus: EventBus = {
    publish: (subject, data) => {
      sent.push({ subject, data });
      publish(subject, data);
    },
  };
  const hub = new EventHub(bus, { now: () => NOW }, log);
  return { hub, sent, logged };
}

const record: MigrationRecord = {
  requestId: "r-1",
  vm: "web-1",
  source: "a",
  destination: "b",
  strategy: "hotspot",
  code: "HOST_OVERLOADED",
  reason: "a at 91 %",
  state: "ONGOING",
  queuedAt: 10,
  startedAt: 20,
  progress: 30,
  memMiB: 2048,
  cpuPercent: 12,
};
const migration: OrchestratorEvent = { type: "migration", record };
const cycle: OrchestratorEvent = { type: "cycle", planId: "plan-1", moves: 2, decisions: 17, queued: 1 };

const plan = { id: "plan-1" } as unknown as Plan;

describe("EventHub.publish", () => {
  it.each([
    ["a migration event", migration],
    ["a cycle event", cycle],
  ])("hands %s to every listener and publishes { v: 1, ts, ...event } on ballast.orch.events", (_what, event) => {
    const { hub, sent } = setup();
    const seen: [string, OrchestratorEvent][] = [];
    hub.onEvent((e) => void seen.push(["first", e]));
    hub.onEvent((e) => void seen.push(["second", e]));
    hub.publish(event);
    expect(seen).toEqual([
      ["first", event],
      ["second", event],
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.subject).toBe(orchestratorSubjects.events);
    expect(sent[0]!.subject).toBe("ballast.orch.events");
    const raw: unknown = JSON.parse(sent[0]!.data);
    expect(raw).toEqual({ v: 1, ts: NOW, ...event });
    const parsed = OrchestratorEventMessage.safeParse(raw);
    expect(parsed.success, parsed.error?.message).toBe(true);
  });

  it("publishes on the bus without any listener", () => {
    const { hub, sent } = setup();
    hub.publish(cycle);
    expect(sent).toHaveLength(1);
  });

  it("logs a throwing listener, and the other listeners and the bus still get the event", () => {
    const { hub, sent, logged } = setup();
    const seen: string[] = [];
    hub.onEvent(() => {
      throw new Error("listener broke");
    });
    hub.onEvent((e) => void seen.push(e.type));
    expect(() => hub.publish(cycle)).not.toThrow();
    expect(seen).toEqual(["cycle"]);
    expect(sent).toHaveLength(1);
    expect(logged).toContainEqual(expect.objectContaining({ msg: "event listener failed", err: "listener broke", level: 40 }));
  });

  it("does not throw when the bus cannot publish (connection closed), and listeners still run", () => {
    const { hub } = setup(() => {
      throw new Error("connection closed");
    });
    const seen: string[] = [];
    hub.onEvent((e) => void seen.push(e.type));
    expect(() => hub.publish(migration)).not.toThrow();
    expect(seen).toEqual(["migration"]);
  });
});

describe("EventHub: plan and overload listeners", () => {
  it("planned() and overloaded() reach their listeners; one that throws is logged and the others run", () => {
    const { hub, logged, sent } = setup();
    const plans: [string, number][] = [];
    const hosts: string[] = [];
    hub.onPlan(() => {
      throw new Error("plan listener broke");
    });
    hub.onPlan((p, ms) => void plans.push([p.id, ms]));
    hub.onOverload(() => {
      throw "not even an Error";
    });
    hub.onOverload((h) => void hosts.push(h));
    expect(() => hub.planned(plan, 12.5)).not.toThrow();
    expect(() => hub.overloaded("host-3")).not.toThrow();
    expect(plans).toEqual([["plan-1", 12.5]]);
    expect(hosts).toEqual(["host-3"]);
    expect(logged).toContainEqual(expect.objectContaining({ msg: "plan listener failed", err: "plan listener broke" }));
    expect(logged).toContainEqual(expect.objectContaining({ msg: "overload listener failed", err: "not even an Error" }));
    // Neither is an event: nothing goes on the bus.
    expect(sent).toEqual([]);
  });
});
