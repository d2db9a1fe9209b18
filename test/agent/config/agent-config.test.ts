import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AgentConfig, defaultHostId, isAllowedMigrateArg } from "../../../shared/config/agent-config.js";
import { loadConfig } from "../../../shared/config/load-config.js";
import { ConfigError } from "../../../shared/errors.js";
import { stateDirOf } from "../../../agent/main.js";

const dir = mkdtempSync(join(tmpdir(), "ballast-agent-cfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("AgentConfig", () => {
  it("has a default for every key", () => {
    const c = AgentConfig.parse({ host: "kvm1" });
    expect(c).toMatchObject({
      host: "kvm1",
      interval: 10,
      heartbeat_interval: 5,
      driver: "virsh",
      load_source: "host",
      virsh: { binary: "virsh", uri: "qemu:///system", timeout: 30 },
      migration: {
        uri_scheme: "qemu+tcp",
        uri_path: "/system",
        use_migrateuri: true,
        timeout: 120,
        bandwidth_mibs: 100,
        timeout_factor: 4,
        on_timeout: "abort",
        max_concurrent: 2,
        extra_args: [],
      },
      facts: { shared_paths: [], detect_mounts: true, interval: 60 },
      log_level: "info",
    });
    expect(c.nats.servers).toEqual(["nats://127.0.0.1:4222"]);
    expect(c.sim).toBeUndefined();
    expect(AgentConfig.parse({}).host).toBe(defaultHostId());
  });

  it("keeps the migration journal in state_dir, else systemd's $STATE_DIRECTORY, else nowhere", () => {
    const env = { STATE_DIRECTORY: "/var/lib/ballast:/var/lib/other" };
    expect(stateDirOf(AgentConfig.parse({ host: "kvm1" }), env)).toBe("/var/lib/ballast");
    expect(stateDirOf(AgentConfig.parse({ host: "kvm1", state_dir: "/srv/ballast" }), env)).toBe("/srv/ballast");
    expect(stateDirOf(AgentConfig.parse({ host: "kvm1", state_dir: null }), env)).toBeUndefined();
    expect(stateDirOf(AgentConfig.parse({ host: "kvm1" }), {})).toBeUndefined();
    expect(() => AgentConfig.parse({ host: "kvm1", state_dir: "var/lib" })).toThrow(/absolute path/);
  });

  it("derives a valid host id from the machine name", () => {
    expect(defaultHostId("kvm1.example.org")).toBe("kvm1");
    expect(defaultHostId("my host!")).toBe("my-host-");
    expect(defaultHostId("")).toBe("localhost");
    expect(defaultHostId("x".repeat(100))).toHaveLength(63);
  });

  it("names the offending key", () => {
    const bad = (raw: unknown) => {
      try {
        loadConfig(AgentConfig, { overrides: raw as Record<string, unknown> });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("expected a ConfigError");
    };
    expect(bad({ intervall: 5 }).message).toMatch(/intervall/);
    expect(bad({ migration: { max_concurrent: 0 } }).key).toBe("migration.max_concurrent");
    expect(bad({ migration: { extra_args: ["--compressed", "--unsafe"] } }).key).toBe("migration.extra_args.1");
    expect(bad({ host: "a.b" }).key).toBe("host");
    expect(bad({ driver: "xen" }).key).toBe("driver");
    expect(bad({ sim: { vms: [{ name: "a" }, { name: "a" }] } }).key).toBe("sim.vms.1.name");
  });

  it("loads from YAML and BALLAST_* environment (environment wins)", () => {
    const file = join(dir, "agent.yaml");
    writeFileSync(
      file,
      "host: kvm7\ndriver: sim\nload_source: domains\nsim:\n  cpus: 4\n  vms:\n    - { name: web1, mem_mib: 2048, cpu: { pattern: square, high: 90, low: 10, period_s: 60 } }\n",
    );
    const c = loadConfig(AgentConfig, { file, env: { BALLAST_INTERVAL: "2", BALLAST_MIGRATION__EXTRA_ARGS: "--auto-converge,--bandwidth=100" } });
    expect(c.host).toBe("kvm7");
    expect(c.interval).toBe(2);
    expect(c.migration.extra_args).toEqual(["--auto-converge", "--bandwidth=100"]);
    expect(c.sim?.vms[0]).toMatchObject({ name: "web1", vcpus: 1, mem_mib: 2048, dirty_rate_mibs: 0, state: "running" });
    expect(c.sim?.migration_mibs).toBe(100);
  });

  it("allows only safe virsh migrate options", () => {
    for (const ok of ["--compressed", "--auto-converge", "--postcopy", "--bandwidth=100", "--comp-methods=xbzrle,zstd", "--parallel-connections=4"])
      expect(isAllowedMigrateArg(ok)).toBe(true);
    for (const bad of [
      "--unsafe",
      "--bandwidth",
      "--bandwidth=1;reboot",
      "--desturi=qemu+tcp://evil/system",
      "--copy-storage-all",
      "--compressed ",
      "x",
      "--comp-methods=gzip",
    ])
      expect(isAllowedMigrateArg(bad)).toBe(false);
  });
});
