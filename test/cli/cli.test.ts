import type { Plan } from "../../shared/schemas/plan.js";
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../cli/main.js";
import { DecisionCode } from "../../shared/schemas/decision-codes.js";
import { startNatsServer } from "../support/nats-server.js";
import { syntheticCluster } from "../../bench/synthetic-cluster.js";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, { out: (s) => (out += s + "\n"), err: (s) => (err += s + "\n") });
  return { code, out, err };
}

describe("ballast CLI", () => {
  it("demo --sim runs the demo cluster to a clean summary", async () => {
    const r = await run(["demo", "--sim", "--fast"]);
    expect(r.err).toBe("");
    expect(r.out).toContain("SIMULATED hypervisors");
    expect(r.out).toMatch(/migration \S+ hv-1 -> \S+ SUCCEEDED/);
    // A coherent story (issue 14): maintenance drains a host onto hosts already running VMs and
    // releases it; consolidation comes last and what it empties stays empty; no VM goes back to
    // a host it left.
    expect(r.out).toMatch(/phase 2, maintenance: .*\n(.*\n)*.*: yes, .*; draining it/);
    expect(r.out).toMatch(/released: open for VMs again/);
    expect(r.out).toMatch(/hosts it empties: hv-\d/);
    expect(r.out).toMatch(/hv-\d(, hv-\d)* empty: could be powered off/);
    const moves = [...r.out.matchAll(/migration (\S+) (\S+) -> (\S+) SUCCEEDED/g)].map((m) => ({ vm: m[1]!, from: m[2]!, to: m[3]! }));
    const back = moves.filter((m, i) => moves.slice(0, i).some((e) => e.vm === m.vm && e.from === m.to && e.to === m.from));
    expect(back).toEqual([]);
    expect(r.out).toContain("Every phase did what it should.");
    expect(r.code).toBe(0);
    // Above the demo's own waits, so a stuck phase fails with its PROBLEMS line, not a timeout.
  }, 300_000);

  describe("offline planning", () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-cli-"));
    const snapFile = join(dir, "snap.json");
    const snap = syntheticCluster({ hosts: 20, vmsPerHost: 20, seed: 7, hotShare: 0.2 });
    writeFileSync(snapFile, JSON.stringify(snap));
    const policyFile = join(dir, "policy.yaml");
    writeFileSync(policyFile, "strategies: [hotspot, balance]\nmax_moves_per_cycle: 3\n");

    it("plans from a snapshot file, the same output every time", async () => {
      const a = await run(["plan", "--snapshot", snapFile, "--policy", policyFile, "--json"]);
      const b = await run(["plan", "--snapshot", snapFile, "--policy", policyFile, "--json"]);
      expect(a.code).toBe(0);
      expect(a.out).toBe(b.out);
      const p = JSON.parse(a.out);
      expect(p.moves.length).toBeGreaterThan(0);
      expect(p.moves.length).toBeLessThanOrEqual(3);
      for (const m of p.moves) expect(m.reason.length).toBeGreaterThan(10);
    });

    it("plans an evacuation offline", async () => {
      const r = await run(["plan", "--snapshot", snapFile, "--mode", "evacuate", "--host", snap.hosts[3]!.id, "--json"]);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.out) as Plan).moves.every((m) => m.source === snap.hosts[3]!.id)).toBe(true);
    });

    it.each([
      [["plan", "--snapshot", join(dir, "missing.json")], /cannot read snapshot/],
      [["plan", "--snapshot", snapFile, "--mode", "evacuate"], /needs --host/],
      [["plan", "--snapshot", snapFile, "--mode", "evacuate", "--host", "ghost"], /not in the snapshot/],
      [["plan", "--snapshot", snapFile, "--mode", "sideways"], /unknown mode/],
      [["schema", "nope"], /unknown schema/],
      [["sim", "--dir", join(dir, "no-such-day")], /does not exist/],
    ])("%j fails with a clear message", async (args, msg) => {
      const r = await run(args);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(msg);
    });

    it("rejects a policy file with a bad key, naming it", async () => {
      const bad = join(dir, "bad.yaml");
      writeFileSync(bad, "load_threshold: 180\n");
      const r = await run(["plan", "--snapshot", snapFile, "--policy", bad]);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain("load_threshold");
    });

    it("prints the JSON Schemas of the snapshot and policy files", async () => {
      const s = await run(["schema", "snapshot"]);
      expect(JSON.parse(s.out).properties).toHaveProperty("hosts");
      const p = await run(["schema", "policy"]);
      expect(JSON.parse(p.out).properties).toHaveProperty("max_over");
    });

    it("prints the JSON Schema of a plan, with every decision code as an enum", async () => {
      const s = await run(["schema", "plan"]);
      expect(s.code).toBe(0);
      const schema = JSON.parse(s.out) as { properties: { decisions: { items: { properties: { code: { enum: string[] } } } } } };
      expect(schema.properties.decisions.items.properties.code.enum).toEqual(DecisionCode.options);
      expect(DecisionCode.options).toContain("DEST_CPU");
    });

    it("cleans up", () => rmSync(dir, { recursive: true, force: true }));
  });

  it("takes the connection options before the command as well as after it (ballast -c FILE status)", async () => {
    const server = await startNatsServer();
    const dir = mkdtempSync(join(tmpdir(), "ballast-cli-conn-"));
    try {
      const cfg = join(dir, "orchestrator.yaml");
      writeFileSync(cfg, `nats:\n  servers: [${server.url}]\n`);
      // Nobody serves the API on that server: the answer proves the file's server was used (the
      // default, nats://127.0.0.1:4222, has no server at all: "cannot connect").
      for (const args of [
        ["-c", cfg, "status"],
        ["status", "-c", cfg],
        ["--config", cfg, "history", "--limit", "5"],
        ["-s", server.url, "--timeout", "3", "version"],
      ]) {
        const r = await run(args);
        expect(r.err, args.join(" ")).toMatch(/nobody serves ballast\.orch\.(status|history|version) \(no responders\)/);
        expect(r.code, args.join(" ")).toBe(1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
    }
  });

  it("a client command with nobody serving the API says so at once, not as a timeout", async () => {
    const server = await startNatsServer();
    try {
      const r = await run(["status", "-s", server.url, "--timeout", "30"]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/nobody serves ballast\.orch\.status \(no responders\): is the Ballast orchestrator running/);
      expect(r.err).not.toMatch(/did not answer|within/);
    } finally {
      await server.stop();
    }
  });

  it("explain takes a VM or --host HOST, exactly one, and asks the matching endpoint", async () => {
    for (const args of [["explain"], ["explain", "web-1", "--host", "b"]]) {
      const r = await run([...args, "-s", "nats://127.0.0.1:1", "--timeout", "1"]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("explain: give a VM or --host HOST (exactly one of the two)");
    }
    const server = await startNatsServer();
    try {
      const host = await run(["explain", "--host", "b", "-s", server.url, "--timeout", "5"]);
      expect(host.err).toMatch(/nobody serves ballast\.orch\.explain-host /);
      const vm = await run(["explain", "web-1", "-s", server.url, "--timeout", "5"]);
      expect(vm.err).toMatch(/nobody serves ballast\.orch\.explain /);
    } finally {
      await server.stop();
    }
  });

  it("a client command without a server fails clearly", async () => {
    const r = await run(["status", "-s", "nats://127.0.0.1:1", "--timeout", "1"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/cannot connect to NATS/);
  });
});
