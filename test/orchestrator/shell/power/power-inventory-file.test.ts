import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../../shared/errors.js";
import { CommandPower, IpmiPower, RedfishPower, WolSshPower } from "../../../../shared/config/power-inventory.js";
import { createPowerDriver, createPowerDrivers } from "../../../../orchestrator/shell/power/create-power-driver.js";
import { loadPowerInventory, parsePowerInventory } from "../../../../orchestrator/shell/power/power-inventory-file.js";
import { UnsafeSecretFileError } from "../../../../orchestrator/shell/power/secret-file.js";

// The power inventory loader on real files: schema errors with the file and key path, relative
// paths, and the secret-file rule (nothing for group or others).

describe("power inventory file", () => {
  let dir: string;
  const write = (name: string, text: string, mode = 0o644) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode });
    chmodSync(p, mode);
    return p;
  };
  const failure = (fn: () => unknown): ConfigError => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error("expected a ConfigError");
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ballast-power-inv-"));
    mkdirSync(join(dir, "secrets"));
    write("secrets/ipmi.pw", "pw\n", 0o600);
    write("secrets/redfish.pw", "pw\n", 0o400);
    write("secrets/id_ed25519", "key\n", 0o600);
    write("known_hosts", "");
    write("ca.pem", "");
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const all = `
hosts:
  hv-a: { driver: ipmi, address: 10.0.0.1, username: admin, password_file: secrets/ipmi.pw }
  hv-b: { driver: redfish, url: "https://bmc.example", username: u, password_file: secrets/redfish.pw, ca_file: ca.pem }
  hv-c: { driver: wol-ssh, mac: "52:54:00:00:00:01", ssh_host: 10.0.0.3, private_key_file: secrets/id_ed25519, known_hosts_file: known_hosts }
  hv-d: { driver: command, status: [pdu, status], on: [pdu, "on"], off: [pdu, "off"] }
`;

  it("loads all four drivers, with defaults, and relative paths taken from the file's directory", () => {
    const inv = loadPowerInventory(write("all.yaml", all));
    const a = inv.hosts["hv-a"]!;
    expect(a).toEqual({
      driver: "ipmi",
      address: "10.0.0.1",
      port: 623,
      username: "admin",
      password_file: join(dir, "secrets/ipmi.pw"),
      interface: "lanplus",
      cipher_suite: 3,
      timeout: 20,
    });
    const c = inv.hosts["hv-c"]!;
    expect(c.driver === "wol-ssh" && [c.private_key_file, c.known_hosts_file, c.ssh_user, c.shutdown_command]).toEqual([
      join(dir, "secrets/id_ed25519"),
      join(dir, "known_hosts"),
      "root",
      ["systemctl", "poweroff"],
    ]);
    const b = inv.hosts["hv-b"]!;
    expect(b.driver === "redfish" && b.ca_file).toBe(join(dir, "ca.pem"));
    expect([...createPowerDrivers(inv).values()].map((d) => d.kind)).toEqual(["ipmi", "redfish", "wol-ssh", "command"]);
    expect(createPowerDriver("hv-d", inv.hosts["hv-d"]!).kind).toBe("command");
  });

  it("bad YAML names the file", () => {
    const f = write("bad.yaml", "hosts:\n  hv-a: { driver: ipmi\n");
    const e = failure(() => loadPowerInventory(f));
    expect(e.message).toMatch(new RegExp(`^power inventory ${f} is not valid YAML: `));
  });

  it("an unknown driver names the file, the key path and the drivers there are", () => {
    const f = write("unknown.yaml", "hosts:\n  hv-a: { driver: pdu, outlet: 3 }\n");
    const e = failure(() => loadPowerInventory(f));
    expect(e.message).toBe(`power inventory ${f}: hosts.hv-a.driver: unknown driver "pdu": one of ipmi, redfish, wol-ssh, command`);
    expect(e.key).toBe("hosts.hv-a.driver");
  });

  it.each([
    ["a missing key", "hosts:\n  hv-a: { driver: ipmi, address: x, username: u }\n", "hosts.hv-a.password_file: "],
    ["an unknown key", "hosts:\n  hv-a: { driver: command, status: [a], on: [b], off: [c], shell: true }\n", 'hosts.hv-a: Unrecognized key: "shell"'],
    [
      "plain http",
      "hosts:\n  hv-a: { driver: redfish, url: 'http://bmc', username: u, password_file: p }\n",
      "hosts.hv-a.url: Redfish must be reached over https",
    ],
    [
      "a bad MAC",
      "hosts:\n  hv-a: { driver: wol-ssh, mac: 52-54, ssh_host: h, private_key_file: k, known_hosts_file: k }\n",
      "hosts.hv-a.mac: mac must look like",
    ],
    ["a bad host id", "hosts:\n  hv.a: { driver: command, status: [a], on: [b], off: [c] }\n", "hosts.hv.a: bad host id: host id must be"],
    ["no hosts", "# nothing yet\n", "hosts: "],
  ])("%s is an error with its key path", (_what, yaml, wanted) => {
    const e = failure(() => parsePowerInventory(yaml, "/etc/ballast/power/inventory.yaml"));
    expect(e.message).toContain("power inventory /etc/ballast/power/inventory.yaml: ");
    expect(e.message).toContain(wanted);
  });

  it.each([0o644, 0o640, 0o604, 0o620])("refuses a secret file with mode %o, naming the file and its mode", (mode) => {
    const pw = write(`secrets/loose-${mode.toString(8)}.pw`, "pw\n", mode);
    const f = write("loose.yaml", `hosts:\n  hv-a: { driver: ipmi, address: x, username: u, password_file: ${pw} }\n`);
    const e = failure(() => loadPowerInventory(f));
    expect(e.cause ?? e).toBeInstanceOf(UnsafeSecretFileError);
    expect(e.message).toBe(
      `power inventory ${f}: hosts.hv-a.password_file: secret file ${pw} has mode 0${mode.toString(8)}: group or others may access it; make it readable by the orchestrator's user only (chmod 600 ${pw})`,
    );
    expect(e.key).toBe("hosts.hv-a.password_file");
  });

  it("refuses a private key file others can read", () => {
    write("secrets/id_loose", "key\n", 0o644);
    const f = write(
      "loose-key.yaml",
      "hosts:\n  hv-c: { driver: wol-ssh, mac: '52:54:00:00:00:01', ssh_host: h, private_key_file: secrets/id_loose, known_hosts_file: known_hosts }\n",
    );
    expect(failure(() => loadPowerInventory(f)).message).toContain(`hosts.hv-c.private_key_file: secret file ${join(dir, "secrets/id_loose")} has mode 0644`);
  });

  it("a missing secret, CA or known_hosts file is an error at load", () => {
    const missing = (yaml: string) => failure(() => loadPowerInventory(write("missing.yaml", yaml))).message;
    expect(missing("hosts:\n  hv-a: { driver: ipmi, address: x, username: u, password_file: nope.pw }\n")).toContain(
      `hosts.hv-a.password_file: cannot read secret file ${join(dir, "nope.pw")}: ENOENT`,
    );
    expect(missing("hosts:\n  hv-b: { driver: redfish, url: 'https://b', username: u, password_file: secrets/redfish.pw, ca_file: no-ca.pem }\n")).toContain(
      `hosts.hv-b.ca_file: cannot read ${join(dir, "no-ca.pem")}: ENOENT`,
    );
    expect(
      missing("hosts:\n  hv-c: { driver: wol-ssh, mac: '52:54:00:00:00:01', ssh_host: h, private_key_file: secrets/id_ed25519, known_hosts_file: nokh }\n"),
    ).toContain(`hosts.hv-c.known_hosts_file: cannot read ${join(dir, "nokh")}: ENOENT`);
  });

  it("a missing inventory file names it", () => {
    expect(failure(() => loadPowerInventory(join(dir, "absent.yaml"))).message).toContain(
      `cannot read the power inventory ${join(dir, "absent.yaml")}: ENOENT`,
    );
  });
});

describe("docs/power-drivers.md", () => {
  // The inventory is not in the generated configuration reference, so this page lists its keys.
  const doc = readFileSync(new URL("../../../../docs/power-drivers.md", import.meta.url), "utf8");
  it.each([
    ["ipmi", IpmiPower],
    ["redfish", RedfishPower],
    ["wol-ssh", WolSshPower],
    ["command", CommandPower],
  ] as const)("documents every key of the %s driver in its section", (driver, schema) => {
    const start = doc.indexOf(`## \`${driver}\`:`);
    expect(start, `section for ${driver}`).toBeGreaterThan(0);
    const end = doc.indexOf("\n## ", start + 1);
    const section = doc.slice(start, end < 0 ? undefined : end);
    for (const key of Object.keys(schema.shape).filter((k) => k !== "driver")) expect(section, key).toContain(`| \`${key}\` |`);
  });
});
