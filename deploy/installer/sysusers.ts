import { readFileSync } from "node:fs";
import { join } from "node:path";

// A fresh hypervisor has no `ballast` user or group, and the unit (User=, Group=) and agent.yaml
// (root:<service_group> 0640) need both. The installer ships the same systemd-sysusers(8) file an
// operator would install by hand and lets systemd-sysusers create what is missing: it never
// changes an existing user, so running it on every install that needs it is safe.

export const SYSUSERS_TEMPLATE = join("deploy", "systemd", "ballast.sysusers.conf");
export const SYSUSERS_FILE = "ballast.conf";

export function readSysusersTemplate(root: string): string {
  return readFileSync(join(root, SYSUSERS_TEMPLATE), "utf8");
}

/** The user the unit runs as (its User= line); the sysusers file must create the same one. */
export function serviceUserOf(unit: string): string {
  const m = /^\s*User\s*=\s*(\S+)\s*$/m.exec(unit);
  if (!m) throw new Error("the unit has no User= line");
  return m[1]!;
}

/**
 * The sysusers file for a host: the template, plus the inventory's service_group when it is not the
 * user's own group (created, with the service user as a member, so it can read agent.yaml).
 */
export function renderSysusers(template: string, user: string, group: string): string {
  const declares = template.split("\n").some((l) => new RegExp(`^u\\s+${user.replace(/[.]/g, "\\.")}\\s`).test(l));
  if (!declares) throw new Error(`the sysusers template does not create the unit's user '${user}'`);
  const text = template.endsWith("\n") ? template : `${template}\n`;
  if (group === user) return text;
  return `${text}# service_group from the inventory: agent.yaml is root:${group} 0640.\ng ${group} -\nm ${user} ${group}\n`;
}
