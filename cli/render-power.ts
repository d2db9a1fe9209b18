import type { ExplainHostReply, PowerCommandReply, PowerStatusReply } from "../shared/schemas/orchestrator-api.js";
import { renderDecisions } from "./render.js";
import { table, time } from "./table.js";

// `ballast power status|on|off`: the power manager's view of each switchable host, and what a
// power command did (or that it waits for approve). `ballast explain --host`: why a host is on or
// off, and what a cycle would do to it.

export function renderPowerStatus(d: PowerStatusReply): string {
  if (!d.managed) return "power management is not configured: no power inventory (power.inventory in orchestrator.yaml)";
  const out = [
    `power_management: ${d.powerManagement ? "on" : "off (only operator commands switch hosts)"}   switching: ${d.switching.length > 0 ? d.switching.join(", ") : "-"}`,
    table(
      ["HOST", "POWER", "SINCE", "DRIVER", "CYCLES/24H", "BOOT DEADLINE", "LAST ANSWER", "FAILED"],
      d.hosts.map((h) => [
        h.host,
        h.state,
        time(h.since),
        h.driver,
        h.cyclesToday,
        h.bootDeadline === null ? "-" : time(h.bootDeadline),
        h.lastAnswer ? `${h.lastAnswer.operation} ${h.lastAnswer.ok ? "ok" : "FAILED"}: ${h.lastAnswer.detail}`.slice(0, 80) : "-",
        h.failed ?? "-",
      ]),
    ),
  ];
  if (d.log.length > 0)
    out.push(
      "",
      table(
        ["AT", "HOST", "CALL", "RESULT", "BY", "ANSWER"],
        d.log.slice(0, 20).map((c) => [time(c.at), c.host, c.operation, c.ok ? "ok" : "FAILED", c.by, c.detail.slice(0, 100)]),
      ),
    );
  return out.join("\n");
}

export function renderPowerCommand(d: PowerCommandReply): string {
  if (!d.executed) return `power ${d.action} ${d.host} proposed as plan ${d.planId} (automation is not full): approve it with \`ballast approve ${d.planId}\``;
  return `power ${d.action} ${d.host}: ${d.outcome!.result}: ${d.outcome!.detail}\n${d.host} is ${d.power.state} now`;
}

export function renderExplainHost(d: ExplainHostReply): string {
  const out = [d.summary];
  if (d.power) {
    const p = d.power;
    out.push(
      `power: ${p.state} since ${time(p.since)}; ${p.emptySince === null ? "holds VMs" : `empty since ${time(p.emptySince)}`}; cycles in 24 h: ${p.cyclesToday}` +
        (p.bootDeadline !== null ? `; must report by ${time(p.bootDeadline)}` : "") +
        (p.failed !== null ? `; FAILED: ${p.failed}` : ""),
    );
  }
  if (d.powerStatus) {
    const a = d.powerStatus.lastAnswer;
    out.push(`driver: ${d.powerStatus.driver}${a ? `; last answer (${a.operation}, ${time(a.at)}): ${a.ok ? "" : "FAILED: "}${a.detail}` : ""}`);
  }
  if (d.action)
    out.push(
      `this cycle: switch ${d.action.action} (${d.action.code}): ${d.action.reason}${d.action.forVms.length ? `; for ${d.action.forVms.join(", ")}` : ""}`,
    );
  else if (d.verdict) out.push(`this cycle: nothing (${d.verdict.code}): ${d.verdict.message}`);
  const others = d.decisions.filter((x) => x !== d.verdict && !(d.verdict && x.code === d.verdict.code && x.subject === d.verdict.subject));
  if (others.length) {
    out.push("what a cycle planned now decides about it:");
    for (const x of others) out.push(`  ${x.subject}: ${x.code} ${x.message}`);
  }
  const lines = d.lastCycles.decisions;
  out.push(
    lines.length
      ? `power decisions in cycles ${d.lastCycles.from}..${d.lastCycles.to}:`
      : `no power decisions about it in cycles ${d.lastCycles.from}..${d.lastCycles.to}`,
  );
  if (lines.length) out.push(renderDecisions(lines));
  return out.join("\n");
}
