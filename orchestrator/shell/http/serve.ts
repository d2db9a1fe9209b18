import type { Logger } from "pino";
import type { OrchestratorHttp as HttpSettings } from "../../../shared/config/orchestrator-config.js";
import type { Orchestrator } from "../orchestrator.js";
import { dashboardState } from "./dashboard-state.js";
import { startOrchestratorHttp, type DashboardBackend, type OrchestratorHttp } from "./http-server.js";
import { createOrchestratorMetrics, type OrchestratorMetrics } from "./orchestrator-metrics.js";

/** The orchestrator's HTTP side per its `http` config: metrics and dashboard; undefined when off. */
export async function serveOrchestratorHttp(
  orch: Orchestrator,
  settings: HttpSettings,
  log: Logger,
): Promise<(OrchestratorHttp & { metrics: OrchestratorMetrics }) | undefined> {
  if (settings.listen === null) return undefined;
  const metrics = createOrchestratorMetrics(orch);
  const backend: DashboardBackend = {
    state: () => dashboardState(orch, settings.allow_actions),
    approve: async (planId) => orch.api.approve({ planId }),
    onChange: (fn) => orch.events.onEvent(() => fn()),
    metrics: async () => ({ contentType: metrics.registry.contentType, text: await metrics.text() }),
  };
  const server = await startOrchestratorHttp({
    listen: settings.listen,
    allowActions: settings.allow_actions,
    allowedHosts: settings.allowed_hosts,
    backend,
    log,
  });
  return { ...server, metrics };
}
