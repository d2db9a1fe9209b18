import { describe, expect, it } from "vitest";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { buildMigrateArgs, destinationUri } from "../../../agent/virsh/migrate-args.js";

const defaults = MigrationSettings.parse({});

describe("buildMigrateArgs", () => {
  it("builds the lab-proven command as an argument array", () => {
    expect(buildMigrateArgs("vm1", "10.77.0.2", defaults)).toEqual([
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--migrateuri",
      "tcp://10.77.0.2",
      "--domain",
      "vm1",
      "--desturi",
      "qemu+tcp://10.77.0.2/system",
    ]);
  });

  it("adds allowed extra args, omits --migrateuri when disabled, brackets IPv6", () => {
    const m = MigrationSettings.parse({ use_migrateuri: false, extra_args: ["--auto-converge", "--bandwidth=500"], uri_scheme: "qemu+tls" });
    expect(buildMigrateArgs("vm1", "fd00::2", m)).toEqual([
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--auto-converge",
      "--bandwidth=500",
      "--domain",
      "vm1",
      "--desturi",
      "qemu+tls://[fd00::2]/system",
    ]);
    expect(destinationUri("kvm2.lab", defaults)).toBe("qemu+tcp://kvm2.lab/system");
  });

  it("refuses hostile names, addresses and smuggled options", () => {
    expect(() => buildMigrateArgs("--help", "10.0.0.1", defaults)).toThrow(/unsafe name/);
    expect(() => buildMigrateArgs("vm; rm -rf /", "10.0.0.1", defaults)).toThrow(/unsafe name/);
    expect(() => buildMigrateArgs("vm1", "10.0.0.1/system?socket=/x", defaults)).toThrow(/unsafe migration address/);
    expect(() => buildMigrateArgs("vm1", "-x", defaults)).toThrow(/unsafe migration address/);
    expect(() => buildMigrateArgs("vm1", "10.0.0.1", { ...defaults, extra_args: ["--unsafe"] })).toThrow(/not an allowed/);
  });
});
