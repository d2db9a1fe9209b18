import type { PowerCommandReply, PowerStatusReply } from "../shared/schemas/orchestrator-api.js";
import { table, time } from "./table.js";

// `ballast power status|on|off`: the power manager's view of each switchable host, and what a
// power command did (or that it waits for approve).

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
