import { afterEach, describe, expect, it } from "vitest";
import { request } from "node:http";
import { startOrchestratorHttp, type DashboardBackend, type OrchestratorHttp } from "../../../../orchestrator/shell/http/http-server.js";
import { BallastError } from "../../../../shared/errors.js";
import { silentLogger } from "../../../../shared/logger.js";

// The HTTP server against a fake orchestrator: routes, the read-only default, and the CSRF /
// same-origin / Host checks that guard POST /api/approve.

function fakeBackend() {
  const approved: string[] = [];
  const listeners: (() => void)[] = [];
  let cycle = 0;
  const backend: DashboardBackend = {
    state: () => ({ cycle, hosts: [], pendingPlans: [] }) as unknown as ReturnType<DashboardBackend["state"]>,
    history: () => JSON.stringify({ now: cycle, hosts: [] }),
    async approve(id) {
      if (id === "gone") throw new BallastError("UNKNOWN_PLAN", "no pending plan gone");
      approved.push(id);
      return { planId: id, queued: 1 };
    },
    onChange: (fn) => listeners.push(fn),
    metrics: async () => ({ contentType: "text/plain; version=0.0.4; charset=utf-8", text: "x 1\n" }),
  };
  return { backend, approved, change: () => (cycle++, listeners.forEach((f) => f())) };
}

/** Raw request (fetch would not let a test set Host, Origin or Sec-Fetch-Site). */
function raw(
  url: string,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: o.method ?? "GET", path: o.path, headers: o.headers ?? {} }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(o.body);
  });
}

const tokenOf = (html: string) => /<meta name="ballast-csrf" content="([^"]+)">/.exec(html)?.[1];

describe("orchestrator HTTP server", () => {
  let srv: OrchestratorHttp | undefined;
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
  });

  it("serves the page, state and metrics; read-only by default", async () => {
    const f = fakeBackend();
    srv = await startOrchestratorHttp({ listen: "127.0.0.1:0", allowActions: false, allowedHosts: [], backend: f.backend, log: silentLogger() });
    const page = await fetch(`${srv.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'nonce-/);
    const html = await page.text();
    expect(html).toContain("<h1>Ballast</h1>");
    expect(tokenOf(html)).toBeUndefined();
    expect(await (await fetch(`${srv.url}/api/state`)).json()).toEqual({ cycle: 0, hosts: [], pendingPlans: [], actionsAllowed: false });
    expect(await (await fetch(`${srv.url}/metrics`)).text()).toBe("x 1\n");
    expect((await fetch(`${srv.url}/nope`)).status).toBe(404);
    const r = await fetch(`${srv.url}/api/approve`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"plan_id":"p1"}' });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("ACTIONS_DISABLED");
    expect(f.approved).toEqual([]);
  });

  it("approves only same-origin requests with the page's token and a JSON body", async () => {
    const f = fakeBackend();
    srv = await startOrchestratorHttp({ listen: "127.0.0.1:0", allowActions: true, allowedHosts: [], backend: f.backend, log: silentLogger() });
    const token = tokenOf(await (await fetch(`${srv.url}/`)).text())!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const host = new URL(srv.url).host;
    const post = (headers: Record<string, string>, body = '{"plan_id":"p1"}') =>
      raw(srv!.url, { method: "POST", path: "/api/approve", headers: { Host: host, ...headers }, body });
    const good = { Origin: `http://${host}`, "Content-Type": "application/json", "X-Ballast-CSRF": token };

    expect((await post({ ...good, "X-Ballast-CSRF": "wrong" })).status).toBe(403);
    const { "X-Ballast-CSRF": _t, ...noToken } = good;
    expect(JSON.parse((await post(noToken)).body).error.code).toBe("CSRF");
    expect(JSON.parse((await post({ ...good, Origin: "http://evil.example" })).body).error.code).toBe("CROSS_ORIGIN");
    const { Origin: _o, ...noOrigin } = good;
    expect((await post(noOrigin)).status).toBe(403);
    expect((await post({ ...noOrigin, "Sec-Fetch-Site": "cross-site" })).status).toBe(403);
    expect(JSON.parse((await post({ ...good, "Content-Type": "text/plain" })).body).error.code).toBe("BAD_CONTENT_TYPE");
    expect((await post(good, "{not json")).status).toBe(400);
    expect((await post(good, '{"plan_id":"a b"}')).status).toBe(400);
    expect(f.approved).toEqual([]);

    const ok = await post(good);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ ok: true, data: { planId: "p1", queued: 1 } });
    expect((await post({ ...noOrigin, "Sec-Fetch-Site": "same-origin" }, '{"plan_id":"p2"}')).status).toBe(200);
    expect(f.approved).toEqual(["p1", "p2"]);
    const gone = await post(good, '{"plan_id":"gone"}');
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.body).error.code).toBe("UNKNOWN_PLAN");
    expect((await raw(srv.url, { path: "/api/approve", headers: { Host: host } })).status).toBe(405);
  });

  it("answers the dashboard only to allowed Host names (DNS rebinding), /metrics to any", async () => {
    const f = fakeBackend();
    srv = await startOrchestratorHttp({
      listen: "127.0.0.1:0",
      allowActions: false,
      allowedHosts: ["ballast.example.org"],
      backend: f.backend,
      log: silentLogger(),
    });
    const port = new URL(srv.url).port;
    const get = (path: string, host: string) => raw(srv!.url, { path, headers: { Host: host } });
    expect((await get("/api/state", `attacker.example:${port}`)).status).toBe(421);
    expect((await get("/", "attacker.example")).status).toBe(421);
    expect((await get("/api/state", `localhost:${port}`)).status).toBe(200);
    expect((await get("/api/state", `[::1]:${port}`)).status).toBe(200);
    expect((await get("/api/state", "Ballast.Example.org")).status).toBe(200);
    expect((await get("/metrics", "attacker.example")).status).toBe(200);
  });

  it("streams state over SSE, again on every change", async () => {
    const f = fakeBackend();
    srv = await startOrchestratorHttp({
      listen: "127.0.0.1:0",
      allowActions: false,
      allowedHosts: [],
      backend: f.backend,
      log: silentLogger(),
      coalesceMs: 10,
      pushEveryMs: 60_000,
    });
    const ac = new AbortController();
    const r = await fetch(`${srv.url}/api/events`, { signal: ac.signal });
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = r.body!.getReader();
    let text = "";
    const next = async (n: number) => {
      while ((text.match(/event: state/g) ?? []).length < n) text += new TextDecoder().decode((await reader.read()).value);
    };
    await next(1);
    expect(text).toContain('data: {"cycle":0');
    f.change();
    await next(2);
    expect(text).toContain('data: {"cycle":1');
    ac.abort();
  });

  it("fails to start on a port in use, with the error", async () => {
    const f = fakeBackend();
    srv = await startOrchestratorHttp({ listen: "127.0.0.1:0", allowActions: false, allowedHosts: [], backend: f.backend, log: silentLogger() });
    await expect(
      startOrchestratorHttp({ listen: `127.0.0.1:${srv.port}`, allowActions: false, allowedHosts: [], backend: f.backend, log: silentLogger() }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
