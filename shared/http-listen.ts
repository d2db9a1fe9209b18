import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Starts `server` on host:port (port 0 picks a free one) with request time-outs, and returns
 * the address it really listens on. Shared by the agent's /metrics and the orchestrator's server.
 */
export async function listenHttp(server: Server, host: string, port: number): Promise<{ url: string; port: number }> {
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return { url: `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`, port: addr.port };
}
