import { readFileSync } from "node:fs";
import { ClusterSnapshot } from "../shared/schemas/snapshot.js";
import { plan } from "../orchestrator/core/index.js";
import type { Plan, PlanRequest } from "../shared/schemas/plan.js";
import { Policy } from "../shared/config/policy.js";
import { parseConfig, readConfigFile } from "../shared/config/load-config.js";
import { BallastError } from "../shared/errors.js";

/** `ballast plan --snapshot FILE`: the production planner on a saved snapshot, no service needed. */
export function offlinePlan(o: {
  snapshotFile: string;
  policyFile?: string;
  mode: string;
  host?: string;
  placement?: "stripe" | "pack";
  useEmpty: boolean;
  now?: string;
}): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(o.snapshotFile, "utf8"));
  } catch (e) {
    throw new BallastError("BAD_REQUEST", `cannot read snapshot ${o.snapshotFile}: ${(e as Error).message}`, { cause: e });
  }
  const snapshot = parseConfig(ClusterSnapshot, raw, `snapshot ${o.snapshotFile}`);
  // A policy file may be a whole orchestrator config (with a policy: section) or just the policy.
  const doc = o.policyFile ? readConfigFile(o.policyFile) : {};
  const policyDoc = typeof doc.policy === "object" && doc.policy !== null ? doc.policy : doc;
  const policy = parseConfig(Policy, policyDoc, o.policyFile ? `policy ${o.policyFile}` : "default policy");
  const now = o.now !== undefined ? Number(o.now) : snapshot.takenAt;
  if (!Number.isFinite(now)) throw new BallastError("BAD_REQUEST", `--now must be a number of ms since the epoch, got ${o.now}`);
  let req: PlanRequest;
  switch (o.mode) {
    case "cycle":
    case "balance":
    case "consolidate":
      req = { mode: o.mode };
      break;
    case "evacuate":
      if (!o.host) throw new BallastError("BAD_REQUEST", "--mode evacuate needs --host");
      if (!snapshot.hosts.some((h) => h.id === o.host)) throw new BallastError("UNKNOWN_HOST", `host ${o.host} is not in the snapshot`);
      req = { mode: "evacuate", host: o.host, placement: o.placement ?? "stripe", useEmptyHosts: o.useEmpty };
      break;
    default:
      throw new BallastError("BAD_REQUEST", `unknown mode ${o.mode}; choose cycle, balance, consolidate or evacuate`);
  }
  return plan(snapshot, policy, now, req);
}
