import type { NatsConnection } from "@nats-io/transport-node";
import { decodeJson } from "../shared/nats/json.js";
import { orchestratorSubjects } from "../shared/subjects.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../shared/schemas/orchestrator-api.js";
import { OrchestratorEventMessage } from "../shared/schemas/orchestrator-events.js";
import { askOrchestrator } from "./client.js";
import { renderHistory } from "./render.js";

// What `ballast demo` shows, on any cluster (simulated or the real lab), through the operator
// API as a person would use it: the hot spot is relieved by itself; a host is drained for
// maintenance after its pre-flight, onto hosts already running VMs, and released; then the load
// goes down and a consolidation plan empties hosts that could be powered off. Consolidation comes
// last, so nothing undoes what it saved. Returns the problems seen.

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
  /** Makes the busy VMs idle (the evening); returns their names. */
  coolDown: () => Promise<string[]>;
  /** The policy's vm_cooldown, seconds: how long consolidation may have to wait for VMs that just moved. */
  cooldownS: number;
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
  /**
   * Drains the first host (other than the hot one, most VMs first) whose pre-flight says it can be
   * drained onto hosts that already run VMs; returns it, or undefined (a problem is recorded).
   */
  const maintenance = async (): Promise<string | undefined> => {
    const candidates = (await hosts())
      .filter((h) => h.host !== c.hot && h.runningVms > 0)
      .sort((a, b) => b.runningVms - a.runningVms || a.host.localeCompare(b.host));
    for (const h of candidates) {
      const pre = await api("evacuate", { host: h.host, dryRun: true, useEmptyHosts: false });
      if (!("canDrain" in pre)) throw new Error(`evacuate with dryRun answered without a pre-flight: ${JSON.stringify(pre)}`);
      if (!pre.canDrain) {
        c.say(`  ${h.host}: no: ${pre.reasons.map((r) => r.message).join("; ")}`);
        continue;
      }
      c.say(`  ${h.host}: yes, ${pre.plan.moves.map((m) => `${m.vm} -> ${m.destination}`).join(", ")}; draining it`);
      const target = h.host;
      await api("evacuate", { host: target, useEmptyHosts: false });
      const empty = await settle(
        `${target} to be empty`,
        async () => (await hosts()).find((x) => x.host === target)?.runningVms === 0,
        async () => void (await api("evacuate", { host: target, useEmptyHosts: false })),
      );
      if (!empty) problems.push(`${target} was not drained`);
      return target;
    }
    problems.push(`no host could be drained without waking an empty host (tried ${candidates.map((h) => h.host).join(", ") || "none"})`);
    return undefined;
  };
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

  c.say("phase 2, maintenance: which host can be drained now onto hosts that run VMs already (no empty host woken)?");
  const drained = await maintenance();
  if (drained !== undefined) {
    await show();
    await api("release", { host: drained });
    c.say(`  ${drained} released: open for VMs again (it stays empty until a VM needs it)`);
  }

  c.say("phase 3, evening: the load goes down; which hosts can consolidation empty, so they could be powered off?");
  const cooled = await c.coolDown();
  c.say(`  the busy VMs are idle now: ${cooled.join(", ")}`);
  await until("the hosts' loads to settle", async () => (await hosts()).every((h) => h.cpuPercent < c.loadThreshold / 2), 30);
  await sleep(c.interval * 2000);
  await show();
  const emptied = new Set<string>();
  const consolidate = async (label: string, quiet = false): Promise<boolean> => {
    const plan = await api("plan", { mode: "consolidate" });
    // Consolidation empties a host whole or leaves it alone, so every host a consolidation move
    // leaves is one it empties, even when max_concurrent_per_source spreads it over several plans.
    const freed = [...new Set([...plan.indicators.hostsFreed, ...plan.moves.filter((m) => m.code === "CONSOLIDATE").map((m) => m.source)])].sort();
    if (quiet && plan.moves.length === 0) return false;
    c.say(`  ${label} ${plan.id}: ${plan.moves.length} move(s); hosts it empties: ${freed.join(", ") || "none"}`);
    for (const m of plan.moves) c.say(`  ${m.vm}: ${m.reason}`);
    for (const d of plan.decisions.filter((x) => x.kind !== "vm").slice(0, 4)) c.say(`  ${d.code}: ${d.message}`);
    if (plan.moves.length === 0) return false;
    for (const h of freed) emptied.add(h);
    c.say(`  approving ${plan.id}`);
    await api("approve", { planId: plan.id });
    return true;
  };
  // VMs that moved in the last phases may still be in their cooldown: consolidation waits for it,
  // as it would overnight.
  let planned = await consolidate("plan");
  const waitUntil = Date.now() + (c.cooldownS + 10) * 1000;
  if (!planned) c.say(`  waiting up to ${c.cooldownS} s for the cooldowns of the VMs moved so far (vm_cooldown)`);
  while (!planned && Date.now() < waitUntil) {
    await sleep(Math.max(2000, c.interval * 4000));
    planned = await consolidate("plan", true);
  }
  if (planned) {
    const done = await settle(
      "consolidation to finish",
      async () => (await hosts()).filter((h) => emptied.has(h.host)).every((h) => h.runningVms === 0),
      async () => void (await consolidate("follow-up plan")),
    );
    if (!done) problems.push(`consolidation did not empty ${[...emptied].join(", ")}`);
    if (emptied.size === 0) problems.push("consolidation moved VMs but emptied no host");
  } else problems.push("consolidation found nothing to do");
  await show();
  // Nothing after it may undo what consolidation saved: the hosts it emptied are still empty.
  const refilled = (await hosts()).filter((h) => emptied.has(h.host) && h.runningVms > 0).map((h) => h.host);
  if (refilled.length > 0) problems.push(`hosts consolidation emptied run VMs again: ${refilled.join(", ")}`);
  else if (emptied.size > 0) c.say(`  ${[...emptied].join(", ")} empty: could be powered off`);

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
