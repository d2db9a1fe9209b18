import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenHttp } from "../../../shared/http-listen.js";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { parseListen } from "../../../shared/config/orchestrator-config.js";
import { BallastError, describeError } from "../../../shared/errors.js";
import type { ApproveReply } from "../../../shared/schemas/orchestrator-api.js";
import type { DashboardState } from "./dashboard-state.js";
import { dashboardPage } from "./dashboard-page.js";

// The orchestrator's HTTP server (Node's http module, nothing else):
//   GET  /metrics       Prometheus text exposition
//   GET  /              the dashboard (one self-contained HTML page)
//   GET  /api/state     the dashboard's JSON
//   GET  /api/events    Server-Sent Events: `state` with the same JSON on every change
//   GET  /api/history   the charts' series over the last hour (fetched every 10 s, not pushed)
//   POST /api/approve   {"planId": "..."}: approve a pending plan (only with http.allow_actions;
//                       the deprecated spelling "plan_id" is still accepted in this version)
// It has no authentication of its own: it binds to loopback by default, and remote use goes
// through a reverse proxy that authenticates. Mutating requests must be same-origin and carry
// the token the page was served with (CSRF), and every route but /metrics checks the Host
// header (DNS rebinding).

/** What the server needs from the orchestrator; tests pass a fake. */
export interface DashboardBackend {
  state(): Omit<DashboardState, "actionsAllowed">;
  /** The charts' series (per host CPU and memory, the cluster's imbalance and migrations): a HistoryDocument as JSON text. */
  history(): string;
  approve(planId: string): Promise<ApproveReply>;
  /** Called on every orchestrator change worth a redraw (migrations, cycles). */
  onChange(fn: () => void): void;
  metrics(): Promise<{ contentType: string; text: string }>;
}

export interface OrchestratorHttpOptions {
  listen: string;
  allowActions: boolean;
  allowedHosts: readonly string[];
  backend: DashboardBackend;
  log: Logger;
  /** State is also pushed to SSE clients this often (host metrics change without events), ms. */
  pushEveryMs?: number;
  /** Changes closer together than this are sent as one, ms. */
  coalesceMs?: number;
  /** At most this many SSE clients at once; more get 503. */
  maxStreams?: number;
}

export interface OrchestratorHttp {
  /** `http://host:port` actually listened on (port 0 resolved). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Header the page sends its token in on mutating requests. */
export const CSRF_HEADER = "x-ballast-csrf";
const MAX_BODY = 4096;
const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

export async function startOrchestratorHttp(o: OrchestratorHttpOptions): Promise<OrchestratorHttp> {
  const { host, port } = parseListen(o.listen);
  const token = randomBytes(32).toString("base64url");
  const allowedHosts = new Set([...LOOPBACK_NAMES, ...o.allowedHosts.map((h) => h.toLowerCase())]);
  if (host !== "0.0.0.0" && host !== "::" && host !== "") allowedHosts.add(host.toLowerCase());
  const streams = new Set<ServerResponse>();
  const maxStreams = o.maxStreams ?? 50;

  const stateJson = () => JSON.stringify({ ...o.backend.state(), actionsAllowed: o.allowActions });

  // SSE: one document per change (coalesced), and one every pushEveryMs while anyone listens.
  let scheduled: NodeJS.Timeout | undefined;
  const broadcast = () => {
    scheduled = undefined;
    if (streams.size === 0) return;
    let body: string;
    try {
      body = stateJson();
    } catch (e) {
      o.log.warn({ err: describeError(e) }, "dashboard state failed");
      return;
    }
    const frame = `event: state\ndata: ${body}\n\n`;
    for (const res of streams) res.write(frame);
  };
  const schedule = () => {
    if (streams.size > 0 && scheduled === undefined) scheduled = setTimeout(broadcast, o.coalesceMs ?? 150);
  };
  o.backend.onChange(schedule);
  const ticker = setInterval(() => {
    if (streams.size > 0) broadcast();
  }, o.pushEveryMs ?? 2000);
  ticker.unref();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Referrer-Policy", "no-referrer");
    if (path === "/metrics") {
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, "GET");
      const m = await o.backend.metrics();
      res.writeHead(200, { "Content-Type": m.contentType });
      res.end(req.method === "HEAD" ? undefined : m.text);
      return;
    }
    if (!hostAllowed(req.headers.host, allowedHosts)) {
      return sendJson(res, 421, fail("BAD_HOST", `this server does not answer to Host "${req.headers.host ?? ""}"; add it to http.allowed_hosts`));
    }
    if (path === "/" || path === "/index.html") {
      if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(res, "GET");
      const nonce = randomBytes(16).toString("base64");
      res.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        "X-Frame-Options": "DENY",
      });
      res.end(req.method === "HEAD" ? undefined : dashboardPage({ nonce, csrfToken: o.allowActions ? token : null }));
      return;
    }
    if (path === "/api/state") {
      if (req.method !== "GET") return methodNotAllowed(res, "GET");
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
      res.end(stateJson());
      return;
    }
    if (path === "/api/history") {
      if (req.method !== "GET") return methodNotAllowed(res, "GET");
      const body = o.backend.history();
      res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
      res.end(body);
      return;
    }
    if (path === "/api/events") {
      if (req.method !== "GET") return methodNotAllowed(res, "GET");
      if (streams.size >= maxStreams) return sendJson(res, 503, fail("BUSY", `too many event streams (${maxStreams})`));
      res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", Connection: "keep-alive", "X-Accel-Buffering": "no" });
      res.write(`retry: 2000\nevent: state\ndata: ${stateJson()}\n\n`);
      streams.add(res);
      req.socket.setTimeout(0);
      const drop = () => streams.delete(res);
      req.on("close", drop);
      res.on("error", drop);
      return;
    }
    if (path === "/api/approve") {
      if (req.method !== "POST") return methodNotAllowed(res, "POST");
      const refused = checkAction(req, o.allowActions, token);
      if (refused) return sendJson(res, 403, fail(refused.code, refused.message));
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (e) {
        return sendJson(res, 400, fail("BAD_JSON", describeError(e)));
      }
      const fields = typeof body === "object" && body !== null ? (body as { planId?: unknown; plan_id?: unknown }) : {};
      const planId = fields.planId ?? fields.plan_id;
      if (typeof planId !== "string" || !/^[A-Za-z0-9_.:-]{1,128}$/.test(planId))
        return sendJson(res, 400, fail("BAD_REQUEST", 'body must be {"planId": "<id>"}'));
      try {
        const data = await o.backend.approve(planId);
        o.log.info({ planId, from: req.socket.remoteAddress }, "plan approved from the dashboard");
        return sendJson(res, 200, { ok: true, data });
      } catch (e) {
        if (e instanceof BallastError) return sendJson(res, statusOf(e.code), fail(e.code, e.message));
        o.log.error({ err: describeError(e) }, "approve from the dashboard failed");
        return sendJson(res, 500, fail("INTERNAL", describeError(e)));
      }
    }
    sendJson(res, 404, fail("NOT_FOUND", `no such resource: ${path}`));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      o.log.error({ err: describeError(e), url: req.url }, "http request failed");
      if (!res.headersSent) sendJson(res, 500, fail("INTERNAL", "internal error"));
      else res.destroy();
    });
  });
  const { url, port: boundPort } = await listenHttp(server, host, port);
  o.log.info({ url, actions: o.allowActions }, "http server (metrics, dashboard) listening");
  return {
    url,
    port: boundPort,
    async close() {
      clearInterval(ticker);
      if (scheduled) clearTimeout(scheduled);
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The Host header's name part (port and IPv6 brackets removed), lowercased, is one we serve. */
export function hostAllowed(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(hostHeader.trim());
  if (!m) return false;
  return allowed.has(m[1]!.replace(/^\[(.*)\]$/, "$1").toLowerCase());
}

/** Why a mutating request is refused, or undefined when it may go on. */
export function checkAction(req: IncomingMessage, allowActions: boolean, token: string): { code: string; message: string } | undefined {
  if (!allowActions) return { code: "ACTIONS_DISABLED", message: "the dashboard is read-only; set http.allow_actions: true to allow approving plans" };
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return { code: "CROSS_ORIGIN", message: "unreadable Origin header" };
    }
    if (originHost !== req.headers.host) return { code: "CROSS_ORIGIN", message: "cross-origin request refused" };
  } else if (req.headers["sec-fetch-site"] !== "same-origin") return { code: "CROSS_ORIGIN", message: "a same-origin request (Origin header) is required" };
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) return { code: "BAD_CONTENT_TYPE", message: "Content-Type must be application/json" };
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== "string" || !sameSecret(sent, token)) return { code: "CSRF", message: `missing or wrong ${CSRF_HEADER} header (reload the dashboard)` };
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const fail = (code: string, message: string) => ({ ok: false, error: { code, message } });

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader("Allow", allow);
  sendJson(res, 405, fail("METHOD_NOT_ALLOWED", `use ${allow}`));
}

function statusOf(code: string): number {
  switch (code) {
    case "UNKNOWN_PLAN":
      return 404;
    case "PLAN_EXPIRED":
    case "PAUSED":
    case "ALREADY_MIGRATING":
      return 409;
    case "NOT_LEADER":
    case "BUSY":
      return 503;
    case "BAD_REQUEST":
    case "BAD_JSON":
      return 400;
    default:
      return 500;
  }
}
