import { createServer, type Server } from "node:http";
import { listenHttp } from "../../shared/http-listen.js";
import { parseListen } from "../../shared/config/orchestrator-config.js";
import { describeError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";
import type { AgentMetrics } from "./agent-metrics.js";

// The agent's HTTP server: GET /metrics and nothing else (no state, no actions).

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startAgentMetricsServer(o: { listen: string; metrics: AgentMetrics; logger: Logger }): Promise<MetricsServer> {
  const { host, port } = parseListen(o.listen);
  const server: Server = createServer((req, res) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "no-store");
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path !== "/metrics") {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("not found; the agent serves only /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET", "Content-Type": "text/plain; charset=utf-8" });
      res.end("use GET\n");
      return;
    }
    o.metrics.text().then(
      (text) => {
        res.writeHead(200, { "Content-Type": o.metrics.registry.contentType });
        res.end(req.method === "HEAD" ? undefined : text);
      },
      (e: unknown) => {
        o.logger.error({ err: describeError(e) }, "metrics scrape failed");
        res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("metrics failed\n");
      },
    );
  });
  const { url, port: boundPort } = await listenHttp(server, host, port);
  o.logger.info({ url }, "metrics server listening");
  return {
    url,
    port: boundPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
