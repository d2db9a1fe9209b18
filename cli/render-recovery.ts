import type { RecoverReply, RecoveryStatusReply } from "../shared/schemas/orchestrator-api.js";
import { ago, table, time } from "./table.js";

// `ballast recovery status` and `ballast recover HOST --confirm-fenced`: host failure as the
// orchestrator sees it (docs/host-failure.md).

export function renderRecoveryStatus(d: RecoveryStatusReply): string {
  const now = d.now;
  const out = [
    `recovery: ${d.paused ? `PAUSED (${Math.round(d.silentShare * 100)} % of the hosts silent at once: the orchestrator may be cut off)` : "active"}   leader: ${d.leader}`,
  ];
  const shown = d.hosts.filter((h) => h.state !== "healthy" || h.attempts.length > 0);
  out.push(
    "",
    shown.length === 0
      ? `all ${d.hosts.length} hosts healthy`
      : table(
          ["HOST", "STATE", "SINCE", "AGENT SEEN", "BMC", "PROBES", "FENCE"],
          shown.map((h) => [
            h.host,
            h.state.toUpperCase(),
            h.since === null ? "-" : ago(h.since, now),
            ago(h.evidence.agentLastSeen, now),
            h.evidence.powerDriver ? (h.evidence.bmc ? `${h.evidence.bmc.reading} (${ago(h.evidence.bmc.at, now)})` : "not read") : "no driver",
            h.evidence.probes.length === 0 ? "-" : h.evidence.probes.map((p) => `${p.peer}:${p.result}`).join(" "),
            h.fence ? `${h.fence.code}${h.fence.fencedBy ? ` by ${h.fence.fencedBy}` : ""}` : "-",
          ]),
        ),
  );
  for (const h of shown) {
    if (h.reason) out.push(`${h.host}: ${h.reason}`);
    if (h.fence && h.fence.next === "alert") out.push(`  ALERT: ${h.fence.reason}`);
    for (const a of h.attempts)
      out.push(
        `  ${time(a.at)} ${a.by === "operator" ? `confirmed off by ${a.operator ?? "an operator"}` : `hard power-off: ${a.result}${a.readBackAt !== null ? ` (read back ${time(a.readBackAt)})` : ""}`}${a.error ? `: ${a.error}` : ""}`,
      );
  }
  if (d.restarts.length > 0)
    out.push(
      "",
      table(
        ["VM", "FROM", "TO", "RECORDED", "EPOCH", "OUTCOME", "UP", "DETAIL"],
        d.restarts.map((r) => [
          r.restart.vm,
          r.restart.host,
          r.restart.destination,
          time(r.restart.at),
          r.restart.epoch,
          r.outcome,
          // When the next priority could go: seconds from the restart's record to its guest being up.
          r.upAt === null ? "-" : `+${Math.round((r.upAt - r.restart.at) / 100) / 10} s`,
          r.detail ?? "-",
        ]),
      ),
    );
  if (d.waiting.length > 0)
    out.push("", "waiting:", ...d.waiting.map((w) => `  ${w.vm} (${w.priority ?? "no record"}) from ${w.host}: ${w.code}: ${w.reason}`));
  if (d.skipped.length > 0)
    out.push("", "not restarted:", ...d.skipped.map((w) => `  ${w.vm} (${w.priority ?? "no record"}) from ${w.host}: ${w.code}: ${w.reason}`));
  return out.join("\n");
}

export function renderRecover(d: RecoverReply): string {
  return d.message;
}
