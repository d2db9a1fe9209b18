import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { InstallPaths } from "./inventory.js";

// The agent unit comes from deploy/systemd/ballast-agent.service in the checkout. It names the
// default locations (/opt/ballast/bin/ballast, /etc/ballast/agent.yaml); the installer runs the
// release through <prefix>/current, so ExecStart is rewritten to that and to <config_dir>.

export const UNIT_TEMPLATE = join("deploy", "systemd", "ballast-agent.service");

export function readUnitTemplate(root: string): string {
  return readFileSync(join(root, UNIT_TEMPLATE), "utf8");
}

/** The unit to install: ExecStart runs <prefix>/current/bin/ballast with <config_dir>/agent.yaml. */
export function renderUnit(template: string, paths: Pick<InstallPaths, "prefix" | "config_dir">): string {
  const exec = `ExecStart=${paths.prefix}/current/bin/ballast agent --config ${paths.config_dir}/agent.yaml`;
  let found = false;
  const lines = template.split("\n").map((line) => {
    if (!/^\s*ExecStart\s*=/.test(line)) return line;
    found = true;
    return exec;
  });
  if (!found) throw new Error("the unit template has no ExecStart= line");
  return lines.join("\n");
}
