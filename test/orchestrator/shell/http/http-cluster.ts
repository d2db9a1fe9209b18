import type { SimConfigInput } from "../../../../shared/config/agent-config.js";
import type { PolicyInput } from "../../../../shared/config/policy.js";
import { startSimCluster, type SimCluster } from "../../../integration/sim-cluster.js";

// The sim cluster of test/integration with the HTTP side switched on through the configs, as
// an operator would: the orchestrator's metrics + dashboard and every agent's /metrics, each on
// a free loopback port.

export interface HttpCluster extends SimCluster {
  /** http://127.0.0.1:PORT of the orchestrator. */
  url: string;
}

export async function startHttpCluster(o: {
  hosts: Record<string, SimConfigInput>;
  policy: PolicyInput;
  interval: number;
  allowActions: boolean;
}): Promise<HttpCluster> {
  const c = await startSimCluster({
    ...o,
    instance: "http-test",
    agent: { http: { listen: "127.0.0.1:0" } },
    orchestrator: { http: { listen: "127.0.0.1:0", allow_actions: o.allowActions } },
  });
  if (!c.orch.http) {
    await c.stop();
    throw new Error("the orchestrator did not start its http server");
  }
  return { ...c, url: c.orch.http.url };
}

export { waitUntil } from "../../../integration/sim-cluster.js";
