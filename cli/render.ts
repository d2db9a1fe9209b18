import type { LoggedDecision } from "../shared/schemas/decision-log.js";
import type { MigrationRecord } from "../shared/schemas/migration-record.js";
import type { EvacuateReply, ExplainReply, StatusReply } from "../shared/schemas/orchestrator-api.js";
import type { Plan } from "../shared/schemas/plan.js";
import { ago, pct, table, time } from "./table.js";

// Human renderings of API answers, typed by the replies of the OrchestratorApi map (docs/api.md);
// `--json` prints the reply envelope instead.

export function renderStatus(d: StatusReply): string {
  const now = d.now;
  const hosts = d.hosts.map((h) => [
    h.host,
    hostState(h),
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
  const failedPower = d.hosts.filter((h) => h.power?.failed);
  if (failedPower.length > 0) out.push("", ...failedPower.map((h) => `power of ${h.host} FAILED: ${h.power!.failed} (ballast power status ${h.host})`));
  const migs = [...d.migrations.ongoing, ...d.migrations.queued];
  if (migs.length > 0)
    out.push(
      "",
      table(
        ["MIGRATION", "VM", "FROM", "TO", "STATE", "PROGRESS"],
        migs.map((m) => [m.requestId, m.vm, m.source, m.destination, m.state, m.progress === null ? "-" : `${m.progress}%`]),
      ),
    );
  if (d.frozenVms.length > 0) out.push("", `frozen (ping-pong): ${d.frozenVms.join(", ")}`);
  if (d.pendingPlans.length > 0) out.push("", `pending plans: ${d.pendingPlans.map((p) => `${p.id} (${p.moves} moves)`).join(", ")}`);
  const m = d.hostMapping;
  if (m.error !== null)
    out.push(
      "",
      `host_mapping REJECTED at ${time(m.errorAt ?? undefined)}: ${m.error}`,
      `  the mapping read at ${time(m.loadedAt ?? undefined)} stays in force (${m.hosts} hosts)`,
    );
  for (const w of m.warnings) out.push(`host_mapping warning: ${w}`);
  // Facts: a host without them receives no VM whose facts are known (DEST_FACTS_UNKNOWN).
  const noFacts = d.hosts.filter((h) => h.facts === false).map((h) => h.host);
  if (noFacts.length > 0) out.push("", `hosts without facts (receive no VM whose facts are known): ${noFacts.join(", ")}`);
  const stuck = d.hosts.filter((h) => (h.notMigratable ?? 0) > 0);
  if (stuck.length > 0) out.push(`VMs that cannot live-migrate: ${stuck.map((h) => `${h.host} ${h.notMigratable}`).join(", ")} (ballast facts <host>)`);
  return out.join("\n");
}

/**
 * A host's state in one word. Off, booting or shutting down (power management) is what its silent
 * agent means then, not a failure.
 */
function hostState(h: StatusReply["hosts"][number]): string {
  // A failed host is fenced off by power: its failure says more than its power state.
  if (h.failure !== undefined && h.failure !== "suspect") return h.failure.toUpperCase().replace("_", "-");
  const p = h.power?.state;
  if (p === "off") return "OFF";
  if (p === "booting") return "BOOTING";
  if (p === "shutting_down") return "SHUTTING-DOWN";
  return h.fresh ? (h.maintenance ? "maintenance" : "ok") : h.agentAlive ? "NO-METRICS" : "SILENT";
}

export function renderPlan(p: Plan): string {
  const out = [`plan ${p.id} (${p.mode}), ${p.moves.length} move(s)`];
  if (p.moves.length > 0)
    out.push(
      table(
        ["#", "VM", "FROM", "TO", "STRATEGY", "REASON"],
        p.moves.map((m) => [m.seq, m.vm, m.source, m.destination, m.strategy, m.reason]),
      ),
    );
  const ind = p.indicators;
  out.push(
    `imbalance ${ind.imbalanceBefore.toFixed(2)} -> ${ind.imbalanceAfter.toFixed(2)}, overloaded hosts ${ind.overloadedBefore} -> ${ind.overloadedAfter}, ` +
      `${(ind.bytesToMove / 2 ** 30).toFixed(2)} GiB to move${ind.hostsFreed.length ? `, hosts freed: ${ind.hostsFreed.join(", ")}` : ""}`,
  );
  const notable = p.decisions.filter((d) => d.kind !== "host").slice(0, 30);
  if (notable.length > 0)
    out.push(
      "",
      table(
        ["SUBJECT", "CODE", "WHY"],
        notable.map((d) => [d.subject, d.code, d.message]),
      ),
    );
  const hostRejects = p.decisions.filter((d) => d.kind === "host").length;
  if (hostRejects > 0) out.push(`(${hostRejects} destination rejection(s); --json for all)`);
  return out.join("\n");
}

export function renderHistory(rows: readonly MigrationRecord[]): string {
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
      [r.error ?? r.reason, ...migrationNotes(r)].join("; "),
    ]),
  );
}

/** What a record says of the migration's disks, check and time limit, in short words. */
export function migrationNotes(r: MigrationRecord): string[] {
  const out: string[] = [];
  if (r.checked && r.checked.result !== "ok" && r.state !== "SKIPPED") out.push(`destination check: ${r.checked.result}`);
  if (r.copyDisks?.length) out.push(`copied ${r.copyDisks.join(",")}${r.diskBytes !== undefined ? ` (${(r.diskBytes / 2 ** 20).toFixed(0)}MiB)` : ""}`);
  if (r.timeoutS !== undefined) out.push(`limit ${r.timeoutS}s${r.postcopy ? " then post-copy" : ""}`);
  if (r.postcopySwitched) out.push("switched to post-copy");
  const sd = r.sourceDisks;
  if (sd) {
    if (sd.removed?.length) out.push(`source copies removed: ${sd.removed.join(", ")}`);
    if (sd.kept?.length) out.push(`source copies kept on ${r.source}: ${sd.kept.join(", ")}`);
    if (!sd.removed && !sd.kept) out.push(`source copies on ${r.source} (${sd.policy}): waiting for ${r.destination} to list it running`);
    if (sd.error) out.push(sd.error);
  }
  return out;
}

export function renderDecisions(rows: readonly LoggedDecision[]): string {
  if (rows.length === 0) return "no decisions recorded";
  return table(
    ["CYCLE", "TIME", "SUBJECT", "CODE", "MESSAGE"],
    rows.map((r) => [r.cycle, time(r.ts), r.subject, r.code, r.message]),
  );
}

export function renderExplain(d: ExplainReply): string {
  const out = [
    `${d.vm}: running on ${d.runningOn.length ? d.runningOn.join(", ") : "no host"}${d.frozen ? " (FROZEN after ping-pong)" : ""}${d.inFlight ? " (migration queued or running)" : ""}`,
    `why here: ${d.whyHere}`,
    ...(d.cpuLevels ? [`CPU levels: ${d.cpuLevels}`] : []),
  ];
  if (d.facts === null) out.push("facts: none held (its agent publishes none, or not yet)");
  else if (d.facts) {
    const f = d.facts;
    out.push(
      f.migratable
        ? `facts (from ${f.host}): migratable${f.localDisks.length ? `; local disks (copied when it moves, per local_disks): ${f.localDisks.join(", ")}` : ""}`
        : `facts (from ${f.host}): NOT migratable: ${f.reasons.map((r) => `${r.code}: ${r.detail}`).join("; ")}`,
    );
  }
  for (const p of d.incompatible ?? []) out.push(`refused by ${p.destination} since ${time(p.since)}: ${p.error}`);
  if (d.movable && !d.movable.ok) out.push(`may not move now: ${d.movable.code}: ${d.movable.message}`);
  if (d.destinations?.length) {
    out.push(`where it could go now${d.bestDestination ? ` (best: ${d.bestDestination})` : " (nowhere)"}:`);
    for (const h of d.destinations) out.push(`  ${h.host}: ${h.code} ${h.message}`);
  }
  const decisions = d.lastCycles.decisions;
  out.push(
    decisions.length ? `last cycles (${d.lastCycles.from}..${d.lastCycles.to}):` : `no decisions about it in cycles ${d.lastCycles.from}..${d.lastCycles.to}`,
  );
  if (decisions.length) out.push(renderDecisions(decisions));
  if (d.history.length) out.push("", renderHistory(d.history));
  return out.join("\n");
}

export function renderEvacuate(d: EvacuateReply): string {
  if ("canDrain" in d)
    return `${d.host}: ${d.canDrain ? "can be drained now" : "cannot be drained now"}\n${d.reasons.map((r) => `  ${r.subject}: ${r.message}`).join("\n")}\n${renderPlan(d.plan)}`;
  return `${d.host} is in maintenance; ${d.queued} migration(s) queued (plan ${d.planId})`;
}
