import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseInventory, resolveHosts, verifyNats, type InventoryInput } from "../../../deploy/installer/inventory.js";
import { ConfigError } from "../../../shared/errors.js";

// Builder: a valid inventory, tweaked by `apply`.
function inv(apply: (i: any) => void = () => undefined): InventoryInput {
  const i: any = {
    defaults: { ssh: { private_key: "keys/id_ed25519" }, nats: { servers: ["nats://nats.mgmt:4222"] } },
    hosts: [
      { host: "hv-a", ssh: "10.0.0.11" },
      { host: "hv-b", ssh: "hv-b.example.org", port: 2222, user: "deploy", agent: { driver: "sim" } },
    ],
  };
  apply(i);
  return i;
}

function errorOf(raw: unknown): string {
  try {
    parseInventory(raw, "test.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected the inventory to be refused");
}

describe("inventory validation", () => {
  it("fills in the documented defaults", () => {
    const p = parseInventory(inv());
    expect(p.parallel).toBe(4);
    expect(p.defaults.ssh).toMatchObject({ user: "root", port: 22, known_hosts: "~/.ssh/known_hosts", insecure_accept_new: false });
    expect(p.defaults.paths).toEqual({
      prefix: "/opt/ballast",
      config_dir: "/etc/ballast",
      unit_dir: "/etc/systemd/system",
      sysusers_dir: "/usr/lib/sysusers.d",
    });
    expect(p.defaults.service_manager).toEqual({ type: "systemd", systemctl: "systemctl", unit_name: "ballast-agent.service", sysusers: "systemd-sysusers" });
    expect(p.defaults.become).toBe("auto");
    expect(p.verify).toMatchObject({ enabled: true, timeout: 60 });
  });

  it.each([
    [
      "an ssh address with a command",
      (i: any) => {
        i.hosts[1].ssh = "hv-b; rm -rf /";
      },
      /hosts\.1\.ssh \(host "hv-b"\): must be an IPv4\/IPv6 address or a DNS name/,
    ],
    [
      "an ssh address with user@",
      (i: any) => {
        i.hosts[0].ssh = "root@10.0.0.1";
      },
      /hosts\.0\.ssh \(host "hv-a"\)/,
    ],
    [
      "a command substitution as user",
      (i: any) => {
        i.hosts[0].user = "$(id)";
      },
      /hosts\.0\.user \(host "hv-a"\): must be a Unix user/,
    ],
    [
      "a prefix with $( )",
      (i: any) => {
        i.defaults.paths = { prefix: "/opt/$(reboot)" };
      },
      /defaults\.paths\.prefix: must be an absolute path/,
    ],
    [
      "a prefix with ..",
      (i: any) => {
        i.defaults.paths = { prefix: "/opt/../etc" };
      },
      /defaults\.paths\.prefix: must not contain \. or \.\. segments/,
    ],
    [
      "a relative config dir",
      (i: any) => {
        i.defaults.paths = { config_dir: "etc/ballast" };
      },
      /defaults\.paths\.config_dir/,
    ],
    [
      "prefix /",
      (i: any) => {
        i.defaults.paths = { prefix: "/" };
      },
      /prefix must not be \//,
    ],
    [
      "a systemctl with arguments",
      (i: any) => {
        i.defaults.service_manager = { systemctl: "systemctl; reboot" };
      },
      /defaults\.service_manager\.systemctl/,
    ],
    [
      "a unit name starting with -",
      (i: any) => {
        i.defaults.service_manager = { unit_name: "--now.service" };
      },
      /unit_name: must be a unit name/,
    ],
    [
      "a host id with a dot",
      (i: any) => {
        i.hosts[0].host = "hv.a";
      },
      /hosts\.0\.host \(host "hv.a"\): host id must be/,
    ],
    [
      "a duplicate host id",
      (i: any) => {
        i.hosts[1].host = "hv-a";
      },
      /hosts\.1\.host \(host "hv-a"\): duplicate host id 'hv-a' \(also hosts\[0\]\)/,
    ],
    [
      "an unknown key",
      (i: any) => {
        i.hosts[0].sssh = "x";
      },
      /hosts\.0 \(host "hv-a"\): Unrecognized key/,
    ],
    [
      "a port out of range",
      (i: any) => {
        i.defaults.ssh.port = 70000;
      },
      /defaults\.ssh\.port/,
    ],
    [
      "no hosts",
      (i: any) => {
        i.hosts = [];
      },
      /hosts: list at least one host/,
    ],
    [
      "verification without NATS",
      (i: any) => {
        delete i.defaults.nats;
      },
      /verify\.nats: verification needs NATS settings/,
    ],
    [
      "contradictory NATS auth",
      (i: any) => {
        i.defaults.nats.token = "t";
        i.defaults.nats.creds = "/c";
      },
      /defaults\.nats: choose one of creds/,
    ],
  ])("refuses %s, naming the key", (_name, apply, message) => {
    expect(errorOf(inv(apply))).toMatch(message);
  });

  it("refuses agent settings the agent would refuse, naming host and key", () => {
    const p = parseInventory(
      inv((i) => {
        i.hosts[1].agent = { driver: "kvm" };
      }),
    );
    expect(() => resolveHosts(p, "/inv")).toThrow(/hosts\[1\] \(host "hv-b"\): agent\.driver: /);
    const q = parseInventory(
      inv((i) => {
        i.defaults.agent = { migration: { extra_args: ["--unsafe; reboot"] } };
      }),
    );
    expect(() => resolveHosts(q, "/inv")).toThrow(/hosts\[0\] \(host "hv-a"\): agent\.migration\.extra_args\.0: not an allowed virsh migrate option/);
    const r = parseInventory(
      inv((i) => {
        i.hosts[0].agent = { host: "other" };
      }),
    );
    expect(() => resolveHosts(r, "/inv")).toThrow(/agent\.host is "other"; it must be the host id/);
  });

  it("merges defaults.nats < defaults.agent < hosts[].agent into agent.yaml, with {host}", () => {
    const p = parseInventory(
      inv((i) => {
        i.defaults.nats.nkey_seed_file = "/etc/ballast/creds/agent-{host}.nk";
        i.defaults.agent = { interval: 5, virsh: { uri: "qemu:///system", timeout: 20 } };
        i.hosts[0].agent = { virsh: { timeout: 40 } };
      }),
    );
    const [a, b] = resolveHosts(p, "/inv");
    const ya = parseYaml(a!.agentYaml);
    expect(ya).toEqual({
      host: "hv-a",
      nats: { servers: ["nats://nats.mgmt:4222"], nkey_seed_file: "/etc/ballast/creds/agent-hv-a.nk" },
      interval: 5,
      virsh: { uri: "qemu:///system", timeout: 40 },
    });
    expect(a!.agentYaml.startsWith("# Written by `ballast deploy`")).toBe(true);
    expect(parseYaml(b!.agentYaml)).toMatchObject({ host: "hv-b", driver: "sim", nats: { nkey_seed_file: "/etc/ballast/creds/agent-hv-b.nk" } });
    expect(a!.driver).toBe("virsh");
    expect(b!.driver).toBe("sim");
  });

  it("keeps hostile agent strings inside YAML, never outside their value", () => {
    const p = parseInventory(
      inv((i) => {
        i.hosts[0].agent = { virsh: { uri: "qemu:///system\nhost: evil\n'; rm -rf /" } };
      }),
    );
    const [a] = resolveHosts(p, "/inv");
    expect(parseYaml(a!.agentYaml)).toMatchObject({ host: "hv-a", virsh: { uri: "qemu:///system\nhost: evil\n'; rm -rf /" } });
  });

  it("resolves ssh settings: per-host overrides, become auto, local paths against the inventory", () => {
    const p = parseInventory(
      inv((i) => {
        i.hosts[0].paths = { prefix: "/srv/ballast/" };
        i.hosts[0].service_manager = { systemctl: "/usr/local/bin/systemctl" };
      }),
    );
    const [a, b] = resolveHosts(p, "/inv");
    expect(a).toMatchObject({
      id: "hv-a",
      address: "10.0.0.11",
      port: 22,
      user: "root",
      become: "none",
      privateKey: "/inv/keys/id_ed25519",
      systemctl: "/usr/local/bin/systemctl",
    });
    expect(a!.paths).toEqual({ prefix: "/srv/ballast", config_dir: "/etc/ballast", unit_dir: "/etc/systemd/system", sysusers_dir: "/usr/lib/sysusers.d" });
    expect(b).toMatchObject({ port: 2222, user: "deploy", become: "sudo" });
    expect(a!.knownHosts).toMatch(/\/\.ssh\/known_hosts$/);
  });

  it("verifies with verify.nats, or only the servers of defaults.nats (its creds are remote paths)", () => {
    const p = parseInventory(
      inv((i) => {
        i.defaults.nats.creds = "/etc/ballast/creds/agent.creds";
      }),
    );
    expect(verifyNats(p, "/inv")).toEqual({ servers: ["nats://nats.mgmt:4222"], request_timeout: 5 });
    const q = parseInventory(
      inv((i) => {
        i.verify = { nats: { servers: ["nats://127.0.0.1:4222"], creds: "ops.creds" } };
      }),
    );
    expect(verifyNats(q, "/inv")).toMatchObject({ servers: ["nats://127.0.0.1:4222"], creds: "/inv/ops.creds" });
  });
});

describe("credentials_dir", () => {
  const dir = mkdtempSync(join(tmpdir(), "ballast-inv-creds-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const seed = "SU" + "A".repeat(56);
  const withCreds = (apply: (i: any) => void = () => undefined) =>
    parseInventory(
      inv((i) => {
        i.defaults.credentials_dir = "creds";
        i.defaults.nats.nkey_seed_file = "/etc/ballast/creds/agent-{host}.nk";
        apply(i);
      }),
    );

  it("gives each host its own seed, read relative to the inventory, installed at its nkey_seed_file", () => {
    mkdirSync(join(dir, "creds"), { recursive: true });
    writeFileSync(join(dir, "creds", "agent-hv-a.nk"), `${seed}\n`);
    writeFileSync(join(dir, "creds", "agent-hv-b.nk"), `${seed.slice(0, -1)}B\n`);
    const [a, b] = resolveHosts(withCreds(), dir);
    expect(a!.seed).toEqual({ path: "/etc/ballast/creds/agent-hv-a.nk", content: `${seed}\n` });
    expect(b!.seed?.path).toBe("/etc/ballast/creds/agent-hv-b.nk");
    expect(resolveHosts(parseInventory(inv()), dir)[0]!.seed).toBeUndefined();
  });

  it.each<[string, (i: any) => void, RegExp]>([
    [
      "no nkey_seed_file to install it at",
      (i) => {
        delete i.defaults.nats.nkey_seed_file;
      },
      /credentials_dir is set but agent nats.nkey_seed_file is not/,
    ],
    [
      "a seed path with shell characters",
      (i) => {
        i.defaults.nats.nkey_seed_file = "/etc/ballast/$(reboot).nk";
      },
      /nkey_seed_file "\/etc\/ballast\/\$\(reboot\)\.nk" must be an absolute path/,
    ],
    [
      "a missing seed file",
      (i) => {
        i.defaults.credentials_dir = "nowhere";
      },
      /host "hv-a"\): cannot read its seed .*nowhere\/agent-hv-a\.nk \(ENOENT\)/,
    ],
  ])("refuses %s, before any host is touched", (_n, apply, msg) => {
    expect(() => resolveHosts(withCreds(apply), dir)).toThrow(msg);
  });

  it("refuses a file that is not an nkey user seed", () => {
    mkdirSync(join(dir, "bad"), { recursive: true });
    writeFileSync(join(dir, "bad", "agent-hv-a.nk"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    expect(() =>
      resolveHosts(
        withCreds((i) => {
          i.defaults.credentials_dir = join(dir, "bad");
        }),
        dir,
      ),
    ).toThrow(/does not hold an nkey user seed/);
  });
});

describe("defaults.nats with {host}", () => {
  it("is checked as it will be written for a host, and each host gets its own values", () => {
    const q = parseInventory(
      inv((i) => {
        i.defaults.nats = { servers: ["nats://n:4222"], inbox_prefix: "_INBOX_agent-{host}" };
      }),
    );
    const hosts = resolveHosts(q, "/inv");
    expect(hosts.map((h) => parseYaml(h.agentYaml).nats.inbox_prefix)).toEqual(hosts.map((h) => `_INBOX_agent-${h.id}`));
    expect(() =>
      parseInventory(
        inv((i) => {
          i.defaults.nats = { servers: ["nats://n:4222"], inbox_prefix: "_INBOX.{host}" };
        }),
      ),
    ).toThrow(/defaults\.nats\.inbox_prefix: inbox_prefix must be one subject token/);
  });
});

describe("the example inventory", () => {
  it("is valid and resolves every host", async () => {
    const { loadInventory } = await import("../../../deploy/installer/inventory.js");
    const { checkoutRoot } = await import("../../../deploy/installer/deploy.js");
    const { inventory, baseDir } = loadInventory(`${checkoutRoot()}/deploy/installer/inventory.example.yaml`);
    const hosts = resolveHosts(inventory, baseDir);
    expect(hosts.map((h) => [h.id, h.become])).toEqual([
      ["hv-a", "none"],
      ["hv-b", "none"],
      ["hv-c", "sudo"],
    ]);
    expect(parseYaml(hosts[2]!.agentYaml)).toMatchObject({
      nats: { nkey_seed_file: "/etc/ballast/creds/agent-hv-c.nk", inbox_prefix: "_INBOX_agent-hv-c" },
      migration: { uri_scheme: "qemu+tls", max_concurrent: 1 },
    });
  });
});
