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

  it("copies only the listed local disks (--copy-storage-all --migrate-disks), and allows post-copy on request", () => {
    const copy = buildMigrateArgs("vm1", "10.77.0.2", defaults, { copyDisks: ["vda", "vdb"] });
    expect(copy.slice(copy.indexOf("--copy-storage-all"), copy.indexOf("--domain"))).toEqual(["--copy-storage-all", "--migrate-disks", "vda,vdb"]);
    expect(copy).not.toContain("--postcopy");
    expect(buildMigrateArgs("vm1", "10.77.0.2", defaults, { copyDisks: [] })).toEqual(buildMigrateArgs("vm1", "10.77.0.2", defaults));
    const post = buildMigrateArgs("vm1", "10.77.0.2", defaults, { postcopy: true });
    expect(post.filter((a) => a === "--postcopy")).toHaveLength(1);
    expect(post).not.toContain("--copy-storage-all");
    // Configured already: not twice.
    const both = buildMigrateArgs("vm1", "10.77.0.2", { ...defaults, extra_args: ["--postcopy"] }, { postcopy: true });
    expect(both.filter((a) => a === "--postcopy")).toHaveLength(1);
  });

  it("refuses a disk copy over --tls (it can stall), with post-copy, or with an unsafe disk name; --copy-storage-* stays refused in extra_args", () => {
    expect(() => buildMigrateArgs("vm1", "10.0.0.1", { ...defaults, extra_args: ["--tls"] }, { copyDisks: ["vda"] })).toThrow(/--tls/);
    expect(() => buildMigrateArgs("vm1", "10.0.0.1", defaults, { copyDisks: ["vda"], postcopy: true })).toThrow(/post-?copy/);
    expect(() => buildMigrateArgs("vm1", "10.0.0.1", defaults, { copyDisks: ["vda,vdb"] })).toThrow(/unsafe disk target/);
    expect(() => buildMigrateArgs("vm1", "10.0.0.1", defaults, { copyDisks: ["--unsafe"] })).toThrow(/unsafe disk target/);
    expect(() => buildMigrateArgs("vm1", "10.0.0.1", { ...defaults, extra_args: ["--copy-storage-all"] })).toThrow(/not an allowed/);
  });
});
