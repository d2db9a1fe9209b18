import { ago, pct, table, time } from "./table.js";

// Human renderings of API answers. The JSON shapes are the orchestrator's replies (see README);
// `--json` prints them unchanged instead.

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function renderStatus(d: Any): string {
  const now = d.now as number;
  const hosts = (d.hosts as Any[]).map((h) => [
    h.host,
    h.fresh ? (h.maintenance ? "maintenance" : "ok") : h.agentAlive ? "NO-METRICS" : "SILENT",
    pct(h.cpuPercent),
    pct(h.memPercent),
    `${h.runningVms}/${h.vms}`,
    h.cpus,
    h.address ?? "-",
    ago(h.lastSeen, now),
  ]);
  const out = [
    `automation: ${d.automation}   ${d.paused ? `PAUSED (${d.pausedReason})` : "running"}   cycle: ${d.cycle}   leader: ${d.leader}`,
    table(["HOST", "STATE", "CPU", "MEM", "VMS", "CPUS", "ADDRESS", "SEEN"], hosts),
  ];
  const migs = [...(d.migrations.ongoing as Any[]), ...(d.migrations.queued as Any[])];
  if (migs.length > 0) out.push("", table(["MIGRATION", "VM", "FROM", "TO", "STATE", "PROGRESS"], migs.map((m) => [m.requestId, m.vm, m.source, m.destination, m.state, m.progress === null ? "-" : `${m.progress}%`])));
  if ((d.frozenVms as string[]).length > 0) out.push("", `frozen (ping-pong): ${(d.frozenVms as string[]).join(", ")}`);
  if ((d.pendingPlans as Any[]).length > 0) out.push("", `pending plans: ${(d.pendingPlans as Any[]).map((p) => `${p.id} (${p.moves} moves)`).join(", ")}`);
  return out.join("\n");
}

export function renderPlan(p: Any): string {
  const out = [`plan ${p.id} (${p.mode}), ${p.moves.length} move(s)`];
  if (p.moves.length > 0) out.push(table(["#", "VM", "FROM", "TO", "STRATEGY", "REASON"], (p.moves as Any[]).map((m) => [m.seq, m.vm, m.source, m.destination, m.strategy, m.reason])));
  const ind = p.indicators as Any;
  out.push(
    `imbalance ${ind.imbalanceBefore.toFixed(2)} -> ${ind.imbalanceAfter.toFixed(2)}, overloaded hosts ${ind.overloadedBefore} -> ${ind.overloadedAfter}, ` +
      `${(ind.bytesToMove / 2 ** 30).toFixed(2)} GiB to move${ind.hostsFreed.length ? `, hosts freed: ${ind.hostsFreed.join(", ")}` : ""}`,
  );
  const notable = (p.decisions as Any[]).filter((d) => d.kind !== "host").slice(0, 30);
  if (notable.length > 0) out.push("", table(["SUBJECT", "CODE", "WHY"], notable.map((d) => [d.subject, d.code, d.message])));
  const hostRejects = (p.decisions as Any[]).filter((d) => d.kind === "host").length;
  if (hostRejects > 0) out.push(`(${hostRejects} destination rejection(s); --json for all)`);
  return out.join("\n");
}

export function renderHistory(rows: Any[]): string {
  if (rows.length === 0) return "no migrations yet";
  return table(
    ["FINISHED", "VM", "FROM", "TO", "STATE", "DURATION", "DOWNTIME", "BYTES", "REASON / ERROR"],
    rows.map((r) => [
      time(r.finishedAt),
      r.vm,
      r.source,
      r.destination,
      r.state,
      r.stats?.durationMs !== undefined ? `${(r.stats.durationMs / 1000).toFixed(1)}s` : "-",
      r.stats?.downtimeMs !== undefined ? `${r.stats.downtimeMs}ms` : "-",
      r.stats?.dataTotalBytes !== undefined ? `${(r.stats.dataTotalBytes / 2 ** 20).toFixed(0)}MiB` : "-",
      r.error ?? r.reason,
    ]),
  );
}

export function renderDecisions(rows: Any[]): string {
  if (rows.length === 0) return "no decisions recorded";
  return table(["CYCLE", "TIME", "SUBJECT", "CODE", "MESSAGE"], rows.map((r) => [r.cycle, time(r.ts), r.subject, r.code, r.message]));
}

export function renderExplain(d: Any): string {
  const out = [
    `${d.vm}: running on ${d.runningOn.length ? d.runningOn.join(", ") : "no host"}${d.frozen ? " (FROZEN after ping-pong)" : ""}${d.inFlight ? " (migration queued or running)" : ""}`,
    `why here: ${d.whyHere}`,
    ...(d.cpuLevels ? [`CPU levels: ${d.cpuLevels}`] : []),
  ];
  const decisions = d.lastCycles.decisions as Any[];
  out.push(decisions.length ? `last cycles (${d.lastCycles.from}..${d.lastCycles.to}):` : `no decisions about it in cycles ${d.lastCycles.from}..${d.lastCycles.to}`);
  if (decisions.length) out.push(renderDecisions(decisions));
  if ((d.history as Any[]).length) out.push("", renderHistory(d.history));
  return out.join("\n");
}
