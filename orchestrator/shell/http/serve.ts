import type { Logger } from "pino";
import type { OrchestratorHttp as HttpSettings } from "../../../shared/config/orchestrator-config.js";
import { systemClock, type Clock } from "../clock.js";
import type { Orchestrator } from "../orchestrator.js";
import { DashboardHistory, type HistoryOptions } from "./dashboard-history.js";
import { dashboardState } from "./dashboard-state.js";
import { startOrchestratorHttp, type DashboardBackend, type OrchestratorHttp } from "./http-server.js";
import { createOrchestratorMetrics, type OrchestratorMetrics } from "./orchestrator-metrics.js";

export interface ServeOptions {
  /** The orchestrator's clock (the charts' time axis); the system clock by default. */
  clock?: Clock;
  /** The charts' step, window and sampling period (tests shorten them). */
  history?: Partial<HistoryOptions>;
}

/** The orchestrator's HTTP side per its `http` config: metrics, dashboard and its charts' history; undefined when off. */
export async function serveOrchestratorHttp(
  orch: Orchestrator,
  settings: HttpSettings,
  log: Logger,
  opts: ServeOptions = {},
): Promise<(OrchestratorHttp & { metrics: OrchestratorMetrics; history: DashboardHistory }) | undefined> {
  if (settings.listen === null) return undefined;
  const metrics = createOrchestratorMetrics(orch);
  const history = new DashboardHistory(orch, opts.clock ?? systemClock, opts.history);
  const backend: DashboardBackend = {
    state: () => dashboardState(orch, settings.allow_actions),
    history: () => history.json(),
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
  history.start();
  return {
    ...server,
    metrics,
    history,
    async close() {
      history.stop();
      await server.close();
    },
  };
}
