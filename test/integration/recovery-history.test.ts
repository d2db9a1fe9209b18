import { describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import type { RecoveryHistoryEntry } from "../../shared/schemas/orchestrator-api.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { connectNats } from "../../shared/nats/connect.js";
import { orchestratorSubjects } from "../../shared/subjects.js";
import { startNatsServer } from "../support/nats-server.js";
import { FakePower } from "./fake-power.js";
import { bystander, failingGuests, failingHosts, oneRestartPerPass, recoveryClusterPerTest, recoveryHost, recoveryPolicy } from "./recovery-cluster.js";
import { waitUntil, type SimCluster } from "./sim-cluster.js";

// `ballast history` on a real nats-server with sim agents and the real orchestrator: a migration,
// then host b loses its power (agent stopped, its sim hypervisor gone so peers' probes fail, its
// BMC reads off); its first hard power-off fails, the second is read back off, its shared-disk
// VMs are restarted elsewhere. The CLI, run as an operator runs it, lists the failure, both fence
// attempts, the fenced host and the restarts in the order they happened, interleaved with the
// migration, and its filters pick each kind, host and VM. Against an orchestrator that serves no
// recovery history it still shows the migrations.

const HOSTS = failingHosts(failingGuests(), { a: recoveryHost([bystander()]) });
const POLICY = recoveryPolicy(oneRestartPerPass({ web1: "high", app1: "low" }));
const start = recoveryClusterPerTest();

/** Runs the CLI against the cluster's NATS server, as an operator would. */
async function cli(cl: SimCluster, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["--server", cl.server.url, ...args], { out: (s) => (out += s + "\n"), err: (s) => (err += s + "\n") });
  return { code, out, err };
}

/** The rows of `ballast history` (header and rule cut), as "kind vm host what" with the columns' padding squeezed. */
const rows = (out: string) =>
  out
    .trimEnd()
    .split("\n")
    .slice(2)
    .map((r) => r.replace(/^\S+ \S+\s+/, "").replace(/\s{2,}/g, " | "));

describe("ballast history with host failures (sim cluster, real NATS)", () => {
  it("lists the failure, the fence attempts, the fenced host and the restarts in order, with the migration, and filters them", async () => {
    const power = new FakePower("b");
    power.fail.off.push("BMC timed out");
    const { cluster } = await start({ hosts: HOSTS, policy: POLICY, records: 4, powerDrivers: new Map([["b", power]]) });
    const m = await cluster.api("migrate", { vm: "misc1", to: "c" });
    expect(m.ok, JSON.stringify(m)).toBe(true);
    await waitUntil(
      async () => (await cluster.api("history", {})).data?.some((r) => r.vm === "misc1" && r.state === "SUCCEEDED") === true,
      15_000,
      "misc1 to move",
    );

    power.reading = "off";
    await cluster.agents.get("b")!.stop();
    await waitUntil(async () => (await cluster.api("recoveryStatus", { host: "b" })).data?.hosts[0]?.state === "recovered", 30_000, "b to be recovered");

    // The endpoint, oldest first here to read the story in order.
    const r = await cluster.api("recoveryHistory", { limit: 100 });
    expect(r.ok).toBe(true);
    const story = [...r.data!]
      .reverse()
      .map((e: RecoveryHistoryEntry) =>
        e.kind === "failure"
          ? `${e.state} ${e.host}`
          : e.kind === "fence"
            ? `fence ${e.host} ${e.attempt.result}`
            : e.kind === "restart"
              ? `restart ${e.vm} ${e.restart.outcome}`
              : `alert ${e.alert}`,
      );
    expect(story).toEqual([
      "failed b",
      "fence b failed",
      "fence b off",
      "fenced b",
      "restart web1 started",
      "recovering b",
      "restart app1 started",
      "recovered b",
    ]);

    // The CLI, everything: newest first, the migration last (it came first).
    const all = await cli(cluster, "history");
    expect(all.code, all.err).toBe(0);
    const lines = rows(all.out);
    expect(lines.map((l) => l.split(" | ")[0])).toEqual(["failure", "restart", "failure", "restart", "failure", "fence", "fence", "failure", "migration"]);
    expect(lines[0]).toBe("failure | - | b | RECOVERED: every VM that could be restarted was");
    expect(lines[1]).toMatch(/^restart \| app1 \| b -> [ac] \| restart started \(epoch 0, 1 try\)/);
    expect(lines[3]).toMatch(/^restart \| web1 \| b -> [ac] \| restart started/);
    expect(lines[5]).toMatch(/^fence \| - \| b \| hard power-off: off \(read back /);
    expect(lines[6]).toMatch(/^fence \| - \| b \| hard power-off: failed: .*BMC timed out/);
    expect(lines[7]).toMatch(/^failure \| - \| b \| FAILED/);
    expect(lines[8]).toMatch(/^migration \| misc1 \| a -> c \| SUCCEEDED/);

    // Filters apply to both lists.
    const fences = await cli(cluster, "history", "--kind", "fence");
    expect(rows(fences.out).map((l) => l.split(" | ")[0])).toEqual(["fence", "fence"]);
    const restarts = await cli(cluster, "history", "--kind", "restart", "--limit", "1");
    expect(rows(restarts.out)).toHaveLength(1);
    expect(rows(restarts.out)[0]).toMatch(/^restart \| app1 /);
    const migrations = await cli(cluster, "history", "--kind", "migration");
    expect(migrations.out).toMatch(/^FINISHED\s+VM\s+FROM\s+TO\s+STATE/); // the migrations' own table, as before
    expect(migrations.out).toContain("misc1");
    const onC = await cli(cluster, "history", "--host", "c");
    expect(rows(onC.out).some((l) => l.startsWith("migration | misc1"))).toBe(true);
    expect(rows(onC.out).every((l) => l.startsWith("migration") || l.startsWith("restart"))).toBe(true);
    const web1 = await cli(cluster, "history", "--vm", "web1");
    expect(rows(web1.out).map((l) => l.split(" | ").slice(0, 2).join(" "))).toEqual(["restart web1"]);
    const json = await cli(cluster, "history", "--json", "--limit", "3");
    const parsed = JSON.parse(json.out) as { ok: boolean; data: { kind: string }[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.data.map((d) => d.kind)).toEqual(["failure", "restart", "failure"]);
    const bad = await cli(cluster, "history", "--kind", "reboot");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/Allowed choices are migration, failure, fence, restart, alert, all/);

    // The history endpoint still answers migrations only, as existing clients expect.
    const plain = await cluster.api("history", { limit: 100 });
    expect(plain.data!.map((x) => x.vm)).toEqual(["misc1"]);
  }, 60_000);

  it("shows the migrations of an orchestrator that serves no recovery history, and says so", async () => {
    // An orchestrator of an earlier version, as far as these two subjects go: it answers history only.
    const server = await startNatsServer();
    const nc = await connectNats(NatsConfig.parse({ servers: [server.url] }), "old-orchestrator");
    try {
      const old = { requestId: "m-1", vm: "web-9", source: "a", destination: "c", strategy: "balance", code: "IMBALANCE", reason: "imbalance", memMiB: 512 };
      const record = { ...old, cpuPercent: 5, state: "SUCCEEDED", queuedAt: 1, startedAt: 2, finishedAt: 3 };
      nc.subscribe(orchestratorSubjects.history, { callback: (_e, m) => void m.respond(JSON.stringify({ ok: true, data: [record] })) });
      await nc.flush();
      let out = "";
      let err = "";
      const code = await main(["--server", server.url, "history"], { out: (s) => (out += s + "\n"), err: (s) => (err += s + "\n") });
      expect(code, err).toBe(0);
      expect(err).toMatch(/^note: no recovery history \(nobody serves ballast\.orch\.recovery\.history/);
      expect(rows(out)).toEqual(["migration | web-9 | a -> c | SUCCEEDED: imbalance"]);
      // Asked for recovery entries only, the missing endpoint is an error.
      err = "";
      const failed = await main(["--server", server.url, "history", "--kind", "restart"], { out: () => undefined, err: (s) => (err += s + "\n") });
      expect(failed).not.toBe(0);
      expect(err).toContain("ballast.orch.recovery.history");
    } finally {
      await nc.close();
      await server.stop();
    }
  });
});
