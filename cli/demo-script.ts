import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson } from "../shared/nats/json.js";
import { orchestratorSubjects } from "../shared/subjects.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../shared/schemas/orchestrator-api.js";
import { OrchestratorEventMessage } from "../shared/schemas/orchestrator-events.js";
import { askOrchestrator } from "./client.js";
import { renderHistory } from "./render.js";

// What `ballast demo` shows, on any cluster (simulated or the real lab), through the operator
// API as a person would use it: the hot spot is relieved by itself; then a consolidation plan is
// approved; then a host is drained for maintenance after its pre-flight. Returns the problems seen.

export interface DemoContext {
  nc: NatsConnection;
  hot: string;
  hostCount: number;
  interval: number;
  loadThreshold: number;
  maxOver: number;
  say: (s: string) => void;
  out: (s: string) => void;
  /** Waiting limits scale with the cluster's speed (real migrations take seconds). */
  patience: number;
}

export async function runDemoScript(c: DemoContext): Promise<string[]> {
  const api = <E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>): Promise<ReplyOf<E>> =>
    askOrchestrator(c.nc, { request_timeout: 10 }, endpoint, body);
  c.nc.subscribe(orchestratorSubjects.events, {
    callback: (_e, m) => {
      const decoded = decodeJson(OrchestratorEventMessage, m.data);
      if (!decoded.ok || decoded.value.type !== "migration") return;
      const r = decoded.value.record;
      if (r.state === "PENDING" || (r.state === "ONGOING" && (r.progress ?? 0) > 0)) return;
      const stats = r.stats
        ? ` in ${(r.stats.durationMs / 1000).toFixed(1)}s${r.stats.downtimeMs !== undefined ? `, downtime ${r.stats.downtimeMs} ms` : ""}`
        : "";
      c.say(
        `migration ${r.vm} ${r.source} -> ${r.destination} ${r.state}${r.state === "SUCCEEDED" ? stats : r.error ? `: ${r.error}` : ""}${r.state === "ONGOING" ? `  (${r.reason})` : ""}`,
      );
    },
  });
  const hosts = async () => (await api("status", {})).hosts;
  const show = async () =>
    c.say(
      (await hosts())
        .map(
          (h) =>
            `${h.host} ${bar(h.cpuPercent)} ${h.cpuPercent.toFixed(0).padStart(3)}% ${h.runningVms}vm${h.maintenance ? " MAINT" : ""}${h.fresh ? "" : " SILENT"}`,
        )
        .join(" | "),
    );
  const until = async (what: string, cond: () => Promise<boolean>, seconds: number) => {
    const end = Date.now() + seconds * c.patience * 1000;
    let last = Date.now();
    while (Date.now() < end) {
      if (await cond()) return true;
      if (Date.now() - last > Math.max(2000, c.interval * 2000)) {
        await show();
        last = Date.now();
      }
      await sleep(Math.max(100, c.interval * 250));
    }
    c.say(`gave up waiting for: ${what}`);
    return false;
  };
  /**
   * Waits until nothing is queued or moving and `done` holds. A move can be skipped at dispatch
   * (its destination changed since the plan, or the VM was still listed as migrating), so when
   * the cluster goes idle without `done`, `again` asks once more, as an operator would.
   */
  const settle = async (what: string, done: () => Promise<boolean>, again: () => Promise<void>, rounds = 3) => {
    for (let round = 1; round <= rounds; round++) {
      // Idle for two intervals: every agent has reported since the last move ended.
      let idleSince: number | undefined;
      const quiet = await until(
        what,
        async () => {
          if (!(await idle())) {
            idleSince = undefined;
            return false;
          }
          if (await done()) return true;
          idleSince ??= Date.now();
          return Date.now() - idleSince > c.interval * 2000 + 500;
        },
        30,
      );
      if (quiet && (await done())) return true;
      if (round < rounds && (await idle())) {
        c.say(`  not there yet and nothing is moving: asking again (${round}/${rounds - 1})`);
        await again();
      }
    }
    return false;
  };
  const succeeded = async () => (await api("history", { limit: 1000 })).filter((r) => r.state === "SUCCEEDED");
  const idle = async () => {
    const s = await api("status", {});
    return s.migrations.queued.length === 0 && s.migrations.ongoing.length === 0;
  };
  const problems: string[] = [];

  c.say(`phase 1, hot spot: ${c.hot} is overloaded; the orchestrator acts once it has been over ${c.loadThreshold}% for ${c.maxOver}s`);
  await until("all hosts reporting", async () => (await hosts()).filter((h) => h.fresh).length === c.hostCount, 30);
  await show();
  const relieved = await until(
    `${c.hot} under its threshold`,
    async () => {
      const h = (await hosts()).find((x) => x.host === c.hot);
      return h !== undefined && h.cpuPercent <= c.loadThreshold && (await succeeded()).length > 0 && (await idle());
    },
    90,
  );
  if (!relieved) problems.push(`the hot spot on ${c.hot} was not relieved`);
  await show();
  const first = (await succeeded())[0];
  if (first) c.say(`explain ${first.vm}: ${(await api("explain", { vm: first.vm })).whyHere}`);

  c.say("phase 2, consolidation: which hosts can be emptied entirely, so they could be powered off?");
  await sleep(c.interval * 3000);
  const plan = await api("plan", { mode: "consolidate" });
  c.say(`  plan ${plan.id}: ${plan.moves.length} move(s); hosts it leaves empty: ${plan.emptyHosts.join(", ") || "none"}`);
  for (const m of plan.moves) c.say(`  ${m.vm}: ${m.reason}`);
  for (const d of plan.decisions.filter((x) => x.kind !== "vm").slice(0, 4)) c.say(`  ${d.code}: ${d.message}`);
  if (plan.moves.length > 0) {
    c.say(`  approving plan ${plan.id}`);
    await api("approve", { planId: plan.id });
    const emptied = await settle(
      "consolidation to finish",
      async () => (await hosts()).filter((h) => plan.emptyHosts.includes(h.host)).every((h) => h.runningVms === 0),
      async () => {
        const next = await api("plan", { mode: "consolidate" });
        if (next.moves.length === 0) return;
        c.say(`  approving the follow-up plan ${next.id}: ${next.moves.map((m) => `${m.vm} -> ${m.destination}`).join(", ")}`);
        await api("approve", { planId: next.id });
      },
    );
    if (!emptied) problems.push("consolidation did not empty the hosts it planned to");
  } else problems.push("consolidation found nothing to do");
  await show();

  const candidates = (await hosts())
    .filter((h) => h.host !== c.hot && h.runningVms > 0)
    .sort((a, b) => b.runningVms - a.runningVms || a.host.localeCompare(b.host));
  const target = candidates[0]?.host;
  if (target === undefined) problems.push("no host left to evacuate");
  else {
    c.say(`phase 3, maintenance: can ${target} be drained now?`);
    let useEmpty = false;
    const check = async (useEmptyHosts: boolean) => {
      const r = await api("evacuate", { host: target, dryRun: true, useEmptyHosts });
      if (!("canDrain" in r)) throw new Error(`evacuate with dryRun answered without a pre-flight: ${JSON.stringify(r)}`);
      return r;
    };
    let pre = await check(false);
    if (!pre.canDrain) {
      c.say(`  no: ${pre.reasons.map((r) => r.message).join("; ")}`);
      pre = await check(true);
      useEmpty = true;
      c.say(`  with empty hosts allowed: ${pre.canDrain ? "yes" : "no"}`);
    } else c.say("  yes");
    c.say(`  plan: ${pre.plan.moves.map((m) => `${m.vm} -> ${m.destination}`).join(", ")}`);
    if (pre.canDrain) {
      await api("evacuate", { host: target, useEmptyHosts: useEmpty });
      const drained = await settle(
        `${target} to be empty`,
        async () => (await hosts()).find((x) => x.host === target)?.runningVms === 0,
        async () => {
          await api("evacuate", { host: target, useEmptyHosts: useEmpty });
        },
      );
      if (!drained) problems.push(`${target} was not drained`);
      await show();
      await api("release", { host: target });
      c.say(`  ${target} released: open for VMs again`);
    } else problems.push(`${target} could not be drained`);
  }

  const history = await api("history", { limit: 1000 });
  c.out("\nSummary");
  c.out(renderHistory(history));
  const ok = history.filter((r) => r.state === "SUCCEEDED").length;
  c.out(
    `\n${ok} migration(s) succeeded, ${history.length - ok} other. ${problems.length === 0 ? "Every phase did what it should." : `PROBLEMS: ${problems.join("; ")}`}`,
  );
  return problems;
}

const bar = (pct: number): string => {
  const n = Math.max(0, Math.min(10, Math.round(pct / 10)));
  return "[" + "#".repeat(n) + ".".repeat(10 - n) + "]";
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
