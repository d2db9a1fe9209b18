import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "../../shared/logger.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { orchestratorSubjects } from "../../shared/subjects.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../../shared/schemas/orchestrator-api.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import { createOrchestratorMetrics } from "../../orchestrator/shell/http/orchestrator-metrics.js";
import { callOrchestrator } from "../../cli/client.js";
import { renderStatus } from "../../cli/render.js";
import { renderExplainHost } from "../../cli/render-power.js";
import { loose, type LooseReply } from "../support/loose-reply.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { FakeAgent, hostFacts, vmFacts } from "./fake-agents.js";
import { FakePower } from "./fake-power.js";
import { waitUntil } from "./sim-cluster.js";

// Power management end to end on a real nats-server: agents faked over NATS, power drivers in the
// test whose switches stop and start those agents. Automation manual: a power action is a pending
// plan until approved, so a plan's power-off is what reaches the driver.

const BEAT_MS = 100;

/** Starts the orchestrator with the test's drivers, connects an operator, and starts every agent's beats. */
async function startOrchestratorFor(
  server: NatsServerHandle,
  fleet: Map<string, FakeAgent>,
  config: OrchestratorConfig,
  instance: string,
  powerDrivers: Map<string, FakePower>,
): Promise<{ orch: RunningOrchestrator; nc: NatsConnection }> {
  const orch = await startOrchestrator({
    config,
    log: silentLogger(),
    mapping: new Map([...fleet.keys()].map((h) => [h, h])),
    instance,
    powerDrivers,
  });
  const nc = await connect({ servers: server.url, name: "operator" });
  for (const f of fleet.values()) {
    f.changed();
    f.beat(BEAT_MS);
  }
  return { orch, nc };
}

/**
 * Automation full with power management, a fast cycle, no prediction nor adaptive levels, no
 * reserve and no min_on_time, and `policy` on top.
 */
function automaticPower(server: NatsServerHandle, policy: Record<string, unknown>): OrchestratorConfig {
  return OrchestratorConfig.parse({
    nats: { servers: [server.url], request_timeout: 1 },
    log_level: "silent",
    // Named because power_management needs an inventory; never read: the drivers are passed in.
    power: { inventory: "power-inventory.yaml", status_interval: 1 },
    policy: {
      interval: 0.5,
      automation: "full",
      stale_after: 2,
      predict_window: 0,
      headroom_min_share: 1,
      mem_peak_window: 0,
      power_management: true,
      min_on_time: 0,
      standby_capacity: { hosts: 0 },
      ...policy,
    },
  });
}

/** Stops, in order, what a describe block started (any of them may be missing after a failed start). */
async function stopEverything(
  nc: NatsConnection | undefined,
  orch: RunningOrchestrator | undefined,
  fleet: Map<string, FakeAgent>,
  server: NatsServerHandle | undefined,
) {
  await nc?.close();
  await orch?.stop();
  for (const f of fleet.values()) await f.stop();
  await server?.stop();
}

describe("power management over NATS", () => {
  let server: NatsServerHandle;
  let orch: RunningOrchestrator;
  let nc: NatsConnection;
  const fleet = new Map<string, FakeAgent>();
  const drivers = new Map<string, FakePower>();

  const api = async <E extends OrchestratorEndpoint>(e: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>> =>
    loose(await callOrchestrator(nc, { request_timeout: 5 }, e, body));
  const powerOf = async (host: string) => (await api("powerStatus", { host })).data.hosts[0]!;
  const startAgent = async (host: string) => {
    const a = await FakeAgent.start(server.url, host, hostFacts(), fleet);
    a.changed();
    a.beat(BEAT_MS);
    return a;
  };

  beforeAll(async () => {
    server = await startNatsServer();
    const a = await FakeAgent.start(server.url, "a", hostFacts(), fleet);
    a.vms.set("web-1", { name: "web-1", memMiB: 1024, facts: vmFacts("web-1"), listed: true });
    await FakeAgent.start(server.url, "b", hostFacts(), fleet);
    await FakeAgent.start(server.url, "c", hostFacts(), fleet);
    for (const h of ["a", "b"]) drivers.set(h, new FakePower(h));
    // b's switches stop its agent (a power loss) and start it again.
    drivers.get("b")!.onOff = () => fleet.get("b")!.stop();
    drivers.get("b")!.onOn = async () => void (await startAgent("b"));
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url], request_timeout: 1 },
      log_level: "silent",
      power: { inventory: null, status_interval: 1 },
      policy: { interval: 0.5, automation: "manual", stale_after: 2, strategies: ["hotspot"] },
    });
    orch = await startOrchestrator({
      config,
      log: silentLogger(),
      mapping: new Map(["a", "b", "c"].map((h) => [h, h])),
      instance: "power-test",
      powerDrivers: drivers,
    });
    nc = await connect({ servers: server.url, name: "operator" });
    for (const f of fleet.values()) {
      f.changed();
      f.beat(BEAT_MS);
    }
    await waitUntil(async () => (await api("status", {})).data.hosts.filter((h) => h.fresh).length === 3, 15_000, "every host to report");
    await waitUntil(async () => (await api("powerStatus", {})).data.hosts.every((h) => h.state === "on"), 10_000, "every power state read");
  }, 30_000);

  afterAll(() => stopEverything(nc, orch, fleet, server));

  it("refuses bad power requests clearly and changes nothing", async () => {
    const before = (await api("status", {})).data.pendingPlans.length;
    const withVms = await api("powerOff", { host: "a" });
    expect(withVms).toMatchObject({ ok: false, error: { code: "POWER_ERROR", details: { refused: "holds_vms", vms: ["web-1"] } } });
    expect(withVms.error!.message).toBe(
      "a: power-off refused: VM web-1 appeared (the host's newest inventory lists it); nothing was changed (move or remove the VMs first)",
    );
    expect(await api("powerOn", { host: "zz" })).toMatchObject({ ok: false, error: { code: "UNKNOWN_HOST" } });
    const noDriver = await api("powerOff", { host: "c" });
    expect(noDriver).toMatchObject({ ok: false, error: { code: "POWER_ERROR", details: { refused: "no_driver" } } });
    expect(noDriver.error!.message).toContain("has no power driver");
    expect(await api("powerStatus", { host: "c" })).toMatchObject({ ok: false, error: { code: "POWER_ERROR" } });
    const bad = await nc.request(orchestratorSubjects.powerOff, "{host: b", { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(bad.data))).toMatchObject({ ok: false, error: { code: "BAD_JSON" } });
    const extra = await nc.request(orchestratorSubjects.powerOn, JSON.stringify({ host: "b", now: true }), { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(extra.data))).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect((await api("status", {})).data.pendingPlans.length).toBe(before);
    expect(drivers.get("a")!.calls.every((c) => c === "status")).toBe(true);
    expect(drivers.get("b")!.calls.every((c) => c === "status")).toBe(true);
  });

  it("a plan's power-off reaches the driver, and the host stays in status as off, not failed", async () => {
    const proposed = await api("powerOff", { host: "b" });
    expect(proposed.ok, JSON.stringify(proposed)).toBe(true);
    expect(proposed.data).toMatchObject({ host: "b", action: "off", executed: false, outcome: null });
    const planId = proposed.data.planId!;
    expect((await api("status", {})).data.pendingPlans).toContainEqual(expect.objectContaining({ id: planId, moves: 0, power: 1 }));
    expect(drivers.get("b")!.calls).not.toContain("off soft");
    const approved = await api("approve", { planId });
    expect(approved.ok, JSON.stringify(approved)).toBe(true);
    expect(approved.data.power).toEqual([expect.objectContaining({ host: "b", action: "off", result: "done" })]);
    expect(drivers.get("b")!.calls).toContain("off soft");
    await waitUntil(async () => (await powerOf("b")).state === "off", 10_000, "b to read off");
    // Its agent is silent now: past stale_after it is not fresh, yet it is off, not failed.
    await waitUntil(async () => (await api("status", {})).data.hosts.find((h) => h.host === "b")?.fresh === false, 10_000, "b's metrics to age");
    const st = (await api("status", {})).data;
    const b = st.hosts.find((h) => h.host === "b")!;
    expect(b.power).toMatchObject({ state: "off", failed: null, driver: "command" });
    expect(renderStatus(st)).toMatch(/^b\s+OFF\s/m);
    // The planner sees it with its capacity, all free, no load.
    const snap = (await api("snapshot", {})).data;
    expect(snap.hosts.find((h) => h.id === "b")).toMatchObject({
      cpus: 8,
      memTotalMiB: 32768,
      memAvailableMiB: 32768,
      cpuPercent: 0,
      samples: [],
      power: { state: "off" },
    });
    // Every call is in the decision log, and in the metrics.
    const log = (await api("decisions", { host: "b", limit: 20 })).data;
    expect(log.some((d) => d.code === "POWER_MANUAL" && d.message.includes("power-off of b done"))).toBe(true);
    const metrics = await createOrchestratorMetrics(orch.orchestrator, { processMetrics: false }).text();
    expect(metrics).toContain('ballast_host_power_state{host="b",state="off"} 1');
  });

  it("power on over NATS (approved) boots the host, and it is on once its agent reports", async () => {
    const proposed = await api("powerOn", { host: "b" });
    expect(proposed.data).toMatchObject({ executed: false });
    const approved = await api("approve", { planId: proposed.data.planId! });
    expect(approved.data.power).toEqual([expect.objectContaining({ host: "b", action: "on", result: "done" })]);
    const p = (await api("powerStatus", { host: "b" })).data;
    expect(["booting", "on"]).toContain(p.hosts[0]!.state);
    expect(p.hosts[0]!.cyclesToday).toBe(1);
    expect(p.log.some((c) => c.operation === "on" && c.ok && c.by.startsWith("approve "))).toBe(true);
    await waitUntil(async () => (await powerOf("b")).state === "on", 10_000, "b to be on");
    await waitUntil(async () => (await api("status", {})).data.hosts.find((h) => h.host === "b")?.fresh === true, 10_000, "b fresh");
    expect(await powerOf("b")).toMatchObject({ state: "on", bootDeadline: null, failed: null });
  });
});

// Automation full: the cycle itself carries Plan.power out. An empty host is switched off by a
// cycle; load that no powered host can relieve switches it on again, and once its agent reports
// the hot spot's VM moves to it.
describe("power management under automation full", () => {
  let server: NatsServerHandle;
  let orch: RunningOrchestrator;
  let nc: NatsConnection;
  const fleet = new Map<string, FakeAgent>();
  const driver = new FakePower("b");

  const api = async <E extends OrchestratorEndpoint>(e: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>> =>
    loose(await callOrchestrator(nc, { request_timeout: 5 }, e, body));
  const powerOf = async (host: string) => (await api("powerStatus", { host })).data.hosts[0]!;
  const hostStatus = async (host: string) => (await api("status", {})).data.hosts.find((h) => h.host === host);
  const vm = (name: string, cpuPercent: number, vcpus: number) => ({ name, memMiB: 2048, facts: vmFacts(name), listed: true, cpuPercent, vcpus });

  beforeAll(async () => {
    server = await startNatsServer();
    const a = await FakeAgent.start(server.url, "a", hostFacts(), fleet);
    // hot-1 alone (2.5 cores of 8) brings a from 95 % under load_target once it moves.
    a.vms.set("hot-1", vm("hot-1", 250, 4));
    a.vms.set("a-2", vm("a-2", 1, 1));
    const c = await FakeAgent.start(server.url, "c", hostFacts(), fleet);
    c.vms.set("c-1", vm("c-1", 1, 1));
    await FakeAgent.start(server.url, "b", hostFacts(), fleet);
    // b's switches stop its agent (a power loss) and start a new one (a boot): it comes back empty.
    driver.onOff = () => fleet.get("b")!.stop();
    driver.onOn = async () => {
      const b = await FakeAgent.start(server.url, "b", hostFacts(), fleet);
      b.changed();
      b.beat(BEAT_MS);
    };
    const config = automaticPower(server, {
      strategies: ["hotspot"],
      max_over: 0,
      power_off_after: 1,
      min_off_time: 0,
      boot_time: 1,
      power_on_deadline: 30,
    });
    ({ orch, nc } = await startOrchestratorFor(server, fleet, config, "power-full-test", new Map([["b", driver]])));
  }, 30_000);

  afterAll(() => stopEverything(nc, orch, fleet, server));

  it("a cycle switches the empty host off through its driver; status and explain show it off", async () => {
    await waitUntil(() => driver.calls.includes("off soft"), 20_000, "a cycle to switch b off");
    // Nothing but cycles and status polls called the driver: no operator, no approve.
    expect(driver.calls.filter((c) => c !== "status")).toEqual(["off soft"]);
    await waitUntil(async () => (await powerOf("b")).state === "off", 10_000, "b to read off");
    const p = (await api("powerStatus", { host: "b" })).data;
    expect(p.log.some((c) => c.operation === "off" && c.ok && c.by.startsWith("cycle "))).toBe(true);
    const log = (await api("decisions", { host: "b", limit: 200 })).data;
    expect(log.some((d) => d.code === "POWER_OFF_IDLE" && d.subject === "b")).toBe(true);
    expect((await hostStatus("b"))?.power).toMatchObject({ state: "off", failed: null });
    expect(renderStatus((await api("status", {})).data)).toMatch(/^b\s+OFF\s/m);

    const x = await api("explainHost", { host: "b" });
    expect(x.ok, JSON.stringify(x)).toBe(true);
    expect(x.data).toMatchObject({ host: "b", managed: true, state: "off", power: { state: "off", switchable: true }, action: null });
    expect(x.data.powerStatus).toMatchObject({ host: "b", state: "off", driver: "command" });
    expect(x.data.summary).toMatch(/^host b is off/);
    expect(x.data.lastCycles.decisions.some((d) => d.code === "POWER_OFF_IDLE")).toBe(true);
    expect(x.data.lastCycles.decisions.every((d) => d.code.startsWith("POWER_"))).toBe(true);
    expect(renderExplainHost(x.data)).toMatch(/power decisions in cycles \d+\.\.\d+:\n(.*\n)*.*POWER_OFF_IDLE/);
    // a holds VMs: it stays on, and says why.
    const a = (await api("explainHost", { host: "a" })).data;
    expect(a).toMatchObject({ state: "on", action: null, power: null, powerStatus: null });
    expect(a.summary).toContain("(power not managed)");
    expect(await api("explainHost", { host: "zz" })).toMatchObject({ ok: false, error: { code: "UNKNOWN_HOST" } });
  }, 40_000);

  it("load no powered host can relieve switches it on (POWER_ON_HOTSPOT); once it reports, the VM moves to it", async () => {
    // c first, too busy to take hot-1 (over max_load_candidate, under load_threshold); a only
    // once the orchestrator sees that, or a's hot spot would be relieved onto c.
    fleet.get("c")!.cpuPercent = 75;
    await waitUntil(async () => (await api("snapshot", {})).data.hosts.find((h) => h.id === "c")?.cpuPercent === 75, 10_000, "c's load to be seen");
    fleet.get("a")!.cpuPercent = 95;
    await waitUntil(() => driver.calls.includes("on"), 20_000, "a cycle to switch b on");
    expect(driver.calls.filter((c) => c !== "status")).toEqual(["off soft", "on"]);
    const log = (await api("decisions", { host: "b", limit: 200 })).data;
    const on = log.find((d) => d.code === "POWER_ON_HOTSPOT" && d.subject === "b");
    expect(on, JSON.stringify(log.slice(0, 10))).toBeDefined();
    expect((await api("powerStatus", { host: "b" })).data.log.some((c) => c.operation === "on" && c.ok && c.by.startsWith("cycle "))).toBe(true);
    await waitUntil(async () => (await powerOf("b")).state === "on", 10_000, "b's agent to report (booted)");
    await waitUntil(() => fleet.get("b")!.vms.has("hot-1"), 20_000, "hot-1 to move to b");
    // Its only move: from a to b (never onto c, never before b was on).
    expect((await api("history", { limit: 50 })).data).toEqual([expect.objectContaining({ vm: "hot-1", source: "a", destination: "b", state: "SUCCEEDED" })]);
    expect((await powerOf("b")).cyclesToday).toBe(1);
    expect((await hostStatus("b"))?.power).toMatchObject({ state: "on", failed: null });
  }, 60_000);
});

// power_off_emptied (the default): a cycle's consolidation empties b and plans its power-off with
// the move; the power manager switches it off only once the move succeeded and b's agent has
// reported it empty, not power_off_after (an hour here) later.
describe("power-off with the consolidation moves that empty the host", () => {
  let server: NatsServerHandle;
  let orch: RunningOrchestrator;
  let nc: NatsConnection;
  const fleet = new Map<string, FakeAgent>();
  const driver = new FakePower("b");
  /** When b's driver was asked to switch off, and what b's agent listed then. */
  let offSeen: { at: number; listed: string[] } | undefined;

  const api = async <E extends OrchestratorEndpoint>(e: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>> =>
    loose(await callOrchestrator(nc, { request_timeout: 5 }, e, body));
  const vm = (name: string, cpuPercent: number) => ({ name, memMiB: 2048, facts: vmFacts(name), listed: true, cpuPercent, vcpus: 1 });

  beforeAll(async () => {
    server = await startNatsServer();
    const a = await FakeAgent.start(server.url, "a", hostFacts(), fleet);
    a.vms.set("a-1", vm("a-1", 20));
    a.vms.set("a-2", vm("a-2", 20));
    const b = await FakeAgent.start(server.url, "b", hostFacts(), fleet);
    b.vms.set("b-1", vm("b-1", 10));
    // b's migration takes a while, so a power-off sent with the plan would come before it ends.
    b.migrateMs = 1500;
    driver.onOff = () => {
      offSeen = { at: Date.now(), listed: [...fleet.get("b")!.vms.keys()] };
      return fleet.get("b")!.stop();
    };
    const config = automaticPower(server, { strategies: ["consolidate"], spare_hosts: 0, power_off_after: 3600 });
    ({ orch, nc } = await startOrchestratorFor(server, fleet, config, "power-emptied-test", new Map([["b", driver]])));
  }, 30_000);

  afterAll(() => stopEverything(nc, orch, fleet, server));

  it("switches b off once the move that emptied it succeeded and its agent reported it empty (POWER_OFF_EMPTIED)", async () => {
    await waitUntil(() => driver.calls.includes("off soft"), 30_000, "b to be switched off after its consolidation move");
    const history = (await api("history", { limit: 50 })).data;
    const move = history.find((r) => r.vm === "b-1");
    expect(move, JSON.stringify(history)).toMatchObject({ source: "b", destination: "a", state: "SUCCEEDED" });
    // The off came after the move ended, with nothing left on b.
    expect(offSeen!.listed).toEqual([]);
    expect(offSeen!.at).toBeGreaterThanOrEqual(move!.finishedAt!);
    expect(driver.calls.filter((c) => c !== "status")).toEqual(["off soft"]);
    const log = (await api("decisions", { host: "b", limit: 500 })).data;
    const planned = log.find((d) => d.code === "POWER_OFF_EMPTIED" && d.subject === "b");
    expect(planned, JSON.stringify(log.slice(0, 10))).toBeDefined();
    expect(log.some((d) => d.code === "POWER_OFF_IDLE")).toBe(false);
    await waitUntil(async () => (await api("powerStatus", { host: "b" })).data.hosts[0]!.state === "off", 10_000, "b to read off");
    expect(fleet.get("a")!.vms.has("b-1")).toBe(true);
  }, 45_000);
});
