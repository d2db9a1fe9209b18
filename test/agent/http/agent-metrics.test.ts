import { describe, expect, it } from "vitest";
import { AgentMetrics } from "../../../agent/http/agent-metrics.js";
import { startAgentMetricsServer } from "../../../agent/http/metrics-server.js";
import { HypervisorError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";
import type { VirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { parsePromText, sampleValue } from "../../orchestrator/shell/http/prom-text.js";

// The agent's metrics without NATS: the virsh counter around a runner, and the /metrics server.

describe("AgentMetrics", () => {
  it("counts virsh commands by command and outcome, passing results and errors through", async () => {
    const m = new AgentMetrics({ host: "hv-x", driver: "virsh", version: "0.0.0", processMetrics: false });
    const fake: VirshRunner = {
      commandLine: (args) => ["virsh", ...args],
      async run(args) {
        if (args[0] === "domjobabort") throw new HypervisorError("no job");
        return { stdout: `ran ${args[0]}`, stderr: "" };
      },
    };
    const r = m.countVirsh(fake);
    expect(r.commandLine(["list"])).toEqual(["virsh", "list"]);
    expect((await r.run(["domstats", "--raw"])).stdout).toBe("ran domstats");
    await r.run(["domstats", "--raw"]);
    await expect(r.run(["domjobabort", "--domain", "vm"])).rejects.toThrow("no job");
    await r.run(["Weird;Name"]);
    const s = parsePromText(await m.text());
    expect(sampleValue(s, "ballast_agent_virsh_calls_total", { command: "domstats", outcome: "ok" })).toBe(2);
    expect(sampleValue(s, "ballast_agent_virsh_calls_total", { command: "domjobabort", outcome: "error" })).toBe(1);
    expect(sampleValue(s, "ballast_agent_virsh_calls_total", { command: "other", outcome: "ok" })).toBe(1);
    expect(sampleValue(s, "ballast_agent_info", { host: "hv-x", driver: "virsh" })).toBe(1);
    expect(s.some((x) => x.name.startsWith("process_"))).toBe(false);
  });

  it("is served on GET /metrics only, by a server that closes cleanly", async () => {
    const m = new AgentMetrics({ host: "hv-y", driver: "sim", version: "0.0.0", processMetrics: false });
    m.collectFailed(0.2);
    const srv = await startAgentMetricsServer({ listen: "127.0.0.1:0", metrics: m, logger: silentLogger() });
    try {
      expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await fetch(`${srv.url}/metrics`);
      expect(r.status).toBe(200);
      const s = parsePromText(await r.text());
      expect(sampleValue(s, "ballast_agent_collections_total", { outcome: "failed" })).toBe(1);
      expect(sampleValue(s, "ballast_agent_collection_duration_seconds_count")).toBe(1);
      expect(sampleValue(s, "ballast_agent_last_publish_timestamp_seconds")).toBe(0);
      expect((await fetch(`${srv.url}/`)).status).toBe(404);
      expect((await fetch(`${srv.url}/metrics`, { method: "DELETE" })).status).toBe(405);
    } finally {
      await srv.close();
    }
    await expect(fetch(`${srv.url}/metrics`)).rejects.toThrow();
  });
});
