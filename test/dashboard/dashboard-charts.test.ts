import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import type { HistoryDocument } from "../../orchestrator/shell/http/dashboard-history.js";
import type { DashboardHost, DashboardState } from "../../orchestrator/shell/http/dashboard-state.js";
import { startOrchestratorHttp, type DashboardBackend, type OrchestratorHttp } from "../../orchestrator/shell/http/http-server.js";
import { silentLogger } from "../../shared/logger.js";
import type { Plan } from "../../shared/schemas/plan.js";
import { startHttpCluster, startMappedOrchestrator, waitUntil, type HttpCluster, type MappedOrchestrator } from "../orchestrator/shell/http/http-cluster.js";
import { haveChromium, launchChromium, screenshotPath, type Browser } from "./chromium.js";

// The dashboard's charts and banners in a real headless Chromium:
//  - against a real sim cluster with 1 s chart steps: per host CPU and memory with a point for
//    every elapsed step and the CPU trigger drawn; the cluster's imbalance per step equal to the
//    run's cycles; the migrations the run started, finished and failed, in their steps;
//  - 200 hosts with a full hour of history (a fake backend): drawn, and the page stays responsive;
//  - a real host_mapping file that turns bad under a running orchestrator: a banner, gone once fixed.
// BALLAST_DASHBOARD_SCREENSHOT=/tmp/x.png saves /tmp/x-charts.png, x-charts-dark.png, x-200-hosts.png
// and x-mapping.png.

const INTERVAL = 0.25;
const STEP = 1000;

let browser: Browser | undefined;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  browser = await launchChromium();
  ({ page, pageErrors } = browser);
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

const nonNull = <T>(xs: (T | null)[]) => xs.filter((x): x is T => x !== null);

describe.skipIf(!haveChromium)("dashboard charts of a running sim cluster", () => {
  let c: HttpCluster;
  let readyAt = 0;
  /** Every periodic cycle's plan seen by the test (its time and imbalance), from `since` on. */
  const cycles: { at: number; imbalance: number }[] = [];
  let since = 0;

  beforeAll(async () => {
    const vm = (name: string, cpu: number) => ({ name, vcpus: 4, mem_mib: 4096, cpu });
    c = await startHttpCluster({
      interval: INTERVAL,
      allowActions: false,
      history: { stepMs: STEP, windowMs: 60 * STEP, sampleMs: 200 },
      hosts: {
        // 2 × 120 % of a core on 8 cores = 30 %; 40 % of a core = 5 %.
        "hv-a": { cpus: 8, mem_mib: 32768, migration_mibs: 4000, start_delay_s: 0.05, vms: [vm("a-1", 120), vm("a-2", 120)] },
        "hv-b": { cpus: 8, mem_mib: 32768, migration_mibs: 4000, start_delay_s: 0.05, vms: [vm("b-1", 40)] },
        // Every migration leaving hv-c fails halfway.
        "hv-c": { cpus: 8, mem_mib: 32768, migration_mibs: 2000, start_delay_s: 0.05, migration_fail_rate: 1, vms: [vm("c-1", 40)] },
      },
      // Cycles run every 0.25 s and only propose; nothing moves but the operator's migrations.
      policy: {
        interval: INTERVAL,
        stale_after: 2,
        max_over: 600,
        load_threshold: 80,
        load_target: 70,
        vm_cooldown: 600,
        host_settle: 0.5,
        mem_reserve_mib: 512,
        automation: "manual",
      },
    });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 3, 10_000, "all hosts to report");
    readyAt = Date.now();
    since = Math.floor(readyAt / STEP) + 1;
    c.orch.orchestrator.events.onPlan((p: Plan) => {
      if (p.mode === "cycle") cycles.push({ at: p.createdAt, imbalance: p.indicators.imbalanceBefore });
    });
  }, 60_000);

  afterAll(async () => {
    await c?.stop();
  });

  it("draws CPU and memory per host, a point for every step since the host reported, with the CPU trigger", async () => {
    await page.goto(`${c.url}/`);
    await page.waitForSelector("#conn.live");
    const hosts = ["hv-a", "hv-b", "hv-c"];
    // Four steps of history at least.
    await page.waitForFunction(
      (hs) =>
        hs.every(
          (h) => Number((globalThis as any).document.querySelector(`.sparks[data-host="${h}"] svg[data-series="cpu"]`)?.getAttribute("data-points")) >= 4,
        ),
      hosts,
      { timeout: 15_000 },
    );
    // The document the page drew and the charts as drawn, read at one moment (the page refetches every step).
    const { doc, charts } = await page.evaluate(() => {
      const g = globalThis as any;
      const charts: Record<string, { points: number; line: string; limit: number; limitY: number; label: string }> = {};
      for (const svg of g.document.querySelectorAll(".sparks svg.chart")) {
        const host = svg.closest(".sparks").getAttribute("data-host");
        const limit = svg.querySelector("line.threshold");
        charts[`${host}/${svg.getAttribute("data-series")}`] = {
          points: Number(svg.getAttribute("data-points")),
          line: svg.querySelector("path.line").getAttribute("d"),
          limit: Number(limit.getAttribute("data-value")),
          limitY: Number(limit.getAttribute("y1")),
          label: svg.getAttribute("aria-label"),
        };
      }
      return { doc: g.ballastDashboard.history() as HistoryDocument, charts };
    });
    expect(doc).toMatchObject({ stepMs: STEP, windowMs: 60 * STEP, points: 60, balanceThreshold: 10 });
    const elapsedSteps = Math.floor((doc.now - readyAt) / STEP);
    const state = (await (await fetch(`${c.url}/api/state`)).json()) as DashboardState;
    expect(state.thresholds.cpu).toBe(80);

    for (const host of hosts) {
      const series = doc.hosts.find((x) => x.host === host)!;
      for (const kind of ["cpu", "mem"] as const) {
        const values = series[kind];
        expect(values).toHaveLength(60);
        const first = values.findIndex((v) => v !== null);
        const lastIdx = values.length - 1 - [...values].reverse().findIndex((v) => v !== null);
        // A point for every step from the first report to now (the step now filling may not have one yet), no gap.
        expect(lastIdx).toBeGreaterThanOrEqual(58);
        expect(values.slice(first, lastIdx + 1).every((v) => v !== null)).toBe(true);
        expect(lastIdx - first + 1).toBeGreaterThanOrEqual(elapsedSteps);
        // The chart draws exactly those points, as one unbroken line.
        const chart = charts[`${host}/${kind}`]!;
        expect(chart.points).toBe(lastIdx - first + 1);
        expect(chart.line.match(/M/g)).toHaveLength(1);
        expect(chart.line.split("L")).toHaveLength(lastIdx - first + 1);
        // The dashed threshold: the CPU trigger in force on the CPU chart, mem_threshold on memory.
        const limit = kind === "cpu" ? state.thresholds.cpu : state.thresholds.mem;
        expect(chart.limit).toBe(limit);
        expect(chart.limitY).toBeCloseTo(40 - (limit / 100) * 40, 5);
      }
      // The values are the host's: the newest point is the CPU the state shows, to a point.
      const now = nonNull(series.cpu).at(-1)!;
      expect(Math.abs(now - state.hosts.find((h) => h.host === host)!.cpuPercent)).toBeLessThan(1);
      expect(charts[`${host}/cpu`]!.label).toContain(`now ${now.toFixed(1)}%`);
    }
    expect(nonNull(doc.hosts.find((x) => x.host === "hv-a")!.cpu).at(-1)).toBeCloseTo(30, 0);
    expect(nonNull(doc.hosts.find((x) => x.host === "hv-b")!.cpu).at(-1)).toBeCloseTo(5, 0);
    expect(pageErrors).toEqual([]);
  });

  it("shows the run's migrations (started, succeeded, failed, in their steps) and the cycles' imbalance", async () => {
    const ok = await c.api("migrate", { vm: "a-1", to: "hv-b" });
    expect(ok.ok).toBe(true);
    const bad = await c.api("migrate", { vm: "c-1", to: "hv-b" });
    expect(bad.ok).toBe(true);
    let finished: { vm: string; state: string; finishedAt?: number | undefined }[] = [];
    await waitUntil(
      async () => {
        finished = (await c.api("history", {})).data.filter((m) => m.vm === "a-1" || m.vm === "c-1");
        return finished.length === 2;
      },
      20_000,
      "both migrations to end",
    );
    const succeeded = finished.find((m) => m.vm === "a-1")!;
    const failed = finished.find((m) => m.vm === "c-1")!;
    expect(succeeded.state).toBe("SUCCEEDED");
    expect(failed.state).toBe("FAILED");
    // Three more steps, so the imbalance after the move fills whole steps.
    const endedAt = Math.max(succeeded.finishedAt!, failed.finishedAt!);
    await page.waitForFunction((t) => ((globalThis as any).ballastDashboard.history()?.now ?? 0) > t, endedAt + 3 * STEP, { timeout: 15_000 });

    // The document the page drew and the two charts as drawn, read at one moment.
    const { doc, drawn } = await page.evaluate(() => {
      const g = globalThis as any;
      const q = (sel: string) => g.document.querySelector(sel);
      const bars = (cls: string) =>
        [...g.document.querySelectorAll(`#trend-migrations rect.bar.${cls}`)].map((e: any) => [
          Number(e.getAttribute("data-step")),
          Number(e.getAttribute("data-count")),
        ]);
      const total = (kind: string) => Number(q(`#trend-migrations li[data-kind="${kind}"]`).getAttribute("data-total"));
      const imb = q('#trend-imbalance svg[data-series="imbalance"]');
      return {
        doc: g.ballastDashboard.history() as HistoryDocument,
        drawn: {
          totals: [total("started"), total("succeeded"), total("failed")],
          succeeded: bars("succeeded"),
          failed: bars("failed"),
          startedTicks: g.document.querySelectorAll("#trend-migrations path.started").length,
          migrationsLabel: q('#trend-migrations svg[data-series="migrations"]').getAttribute("aria-label") as string,
          imbalancePoints: Number(imb.getAttribute("data-points")),
          imbalanceLimit: Number(imb.querySelector("line.threshold").getAttribute("data-value")),
          imbalanceLabel: imb.getAttribute("aria-label") as string,
        },
      };
    });
    const stepIndex = (t: number) => Math.floor(t / STEP) - Math.floor(doc.start / STEP);
    expect(drawn.totals).toEqual([2, 1, 1]);
    expect(drawn.succeeded).toEqual([[stepIndex(succeeded.finishedAt!), 1]]);
    expect(drawn.failed).toEqual([[stepIndex(failed.finishedAt!), 1]]);
    expect(drawn.startedTicks).toBe(1);
    expect(drawn.migrationsLabel).toContain("started 2, succeeded 1, failed 1");

    // Imbalance: per step, the mean of that step's cycles, as the test saw them; it moved with a-1.
    const closed = Math.floor(doc.now / STEP);
    const expected = new Map<number, number[]>();
    for (const p of cycles) {
      const k = Math.floor(p.at / STEP);
      if (k >= since && k < closed) expected.set(k, [...(expected.get(k) ?? []), p.imbalance]);
    }
    expect(expected.size).toBeGreaterThanOrEqual(5);
    for (const [k, xs] of expected) {
      const mean = Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
      expect(doc.cluster.imbalance[k - Math.floor(doc.start / STEP)]).toBe(mean);
      expect(doc.cluster.cycles[k - Math.floor(doc.start / STEP)]).toBe(xs.length);
    }
    const before = cycles.find((p) => p.at < succeeded.finishedAt! - 500)!.imbalance;
    const after = cycles.at(-1)!.imbalance;
    expect(Math.abs(before - after)).toBeGreaterThan(1);
    expect(drawn.imbalancePoints).toBe(nonNull(doc.cluster.imbalance).length);
    expect(drawn.imbalanceLimit).toBe(10);
    expect(drawn.imbalanceLabel).toContain(`now ${nonNull(doc.cluster.imbalance).at(-1)!.toFixed(2)}`);

    const shot = screenshotPath("charts");
    if (shot) {
      await page.screenshot({ path: shot, fullPage: true });
      await page.emulateMedia({ colorScheme: "dark" });
      await page.screenshot({ path: screenshotPath("charts-dark")!, fullPage: true });
      await page.emulateMedia({ colorScheme: "light" });
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});

describe.skipIf(!haveChromium)("dashboard charts at 200 hosts", () => {
  let srv: OrchestratorHttp | undefined;
  afterAll(async () => {
    await srv?.close();
  });

  /** A fake orchestrator of 200 hosts with a full hour of history; the hosts' CPU changes on every push. */
  function bigBackend(): DashboardBackend {
    const N = 200;
    const POINTS = 120;
    const names = Array.from({ length: N }, (_, i) => `hv-${String(i + 1).padStart(3, "0")}`);
    let tick = 0;
    const wave = (i: number, k: number) => Math.round((40 + 30 * Math.sin((i + k) / 7)) * 10) / 10;
    const hosts = (): DashboardHost[] =>
      names.map((host, i) => ({
        host,
        fresh: true,
        maintenance: false,
        cpus: 32,
        cpuPercent: wave(i, POINTS + tick),
        memPercent: 55,
        memTotalMiB: 262_144,
        lastSeen: 0,
        collectOk: true,
        power: null,
        powerFailed: null,
        failure: null,
        vms: [1, 2, 3].map((j) => ({ name: `${host}-vm${j}`, state: "running", cpuPercent: 50, memMiB: 8192, migrating: false })),
      }));
    const now = 1_700_000_000_000;
    const history: HistoryDocument = {
      now,
      stepMs: 30_000,
      windowMs: 3_600_000,
      sampleMs: 5_000,
      start: now - 119 * 30_000,
      points: POINTS,
      balanceThreshold: 10,
      hosts: names.map((host, i) => ({
        host,
        cpu: Array.from({ length: POINTS }, (_, k) => wave(i, k)),
        mem: Array.from({ length: POINTS }, (_, k) => 50 + ((i + k) % 10)),
      })),
      cluster: {
        imbalance: Array.from({ length: POINTS }, (_, k) => 8 + 4 * Math.sin(k / 9)),
        cycles: Array(POINTS).fill(3),
        started: Array.from({ length: POINTS }, (_, k) => (k % 9 === 0 ? 2 : 0)),
        succeeded: Array.from({ length: POINTS }, (_, k) => (k % 9 === 1 ? 2 : 0)),
        failed: Array.from({ length: POINTS }, (_, k) => (k % 27 === 1 ? 1 : 0)),
      },
    };
    const historyJson = JSON.stringify(history);
    return {
      state: () => {
        tick++;
        return {
          now,
          version: "test",
          automation: "full",
          paused: false,
          pausedReason: null,
          leader: true,
          cycle: tick,
          thresholds: { cpu: 80, mem: 90 },
          hosts: hosts(),
          migrations: { queued: [], ongoing: [] },
          history: [],
          recoveryHistory: [],
          recovery: { paused: false, silentShare: 0, incidents: [], restarts: [], restartsTotal: 0, waiting: [], waitingTotal: 0, alerts: [] },
          lastPlan: null,
          pendingPlans: [],
          violations: [],
          frozenVms: [],
          hostMapping: { path: null, hosts: N, loadedAt: null, error: null, errorAt: null, warnings: [], warningsTotal: 0 },
        };
      },
      history: () => historyJson,
      approve: () => Promise.reject(new Error("read-only")),
      onChange: () => undefined,
      metrics: async () => ({ contentType: "text/plain", text: "" }),
    };
  }

  it("draws 400 host charts of 120 points and stays responsive while the state streams in", async () => {
    srv = await startOrchestratorHttp({
      listen: "127.0.0.1:0",
      allowActions: false,
      allowedHosts: [],
      backend: bigBackend(),
      log: silentLogger(),
      pushEveryMs: 500,
    });
    await page.addInitScript(() => {
      const g = globalThis as any;
      g.__longTasks = [];
      new g.PerformanceObserver((l: any) => l.getEntries().forEach((e: any) => g.__longTasks.push(e.duration))).observe({ entryTypes: ["longtask"] });
    });
    const t0 = Date.now();
    await page.goto(`${srv.url}/`);
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('svg.chart[data-points="120"]').length === 401, null, { timeout: 20_000 });
    const drawnMs = Date.now() - t0;
    expect(await page.locator("article.host").count()).toBe(200);
    expect(await page.locator(".sparks svg.chart").count()).toBe(400);
    // Redraws from the stream (every 0.5 s, each with new CPU figures) keep the charts, and the page answers.
    const cycleOf = () => page.evaluate(() => (globalThis as any).ballastDashboard.last().cycle as number);
    const c0 = await cycleOf();
    await waitUntil(async () => (await cycleOf()) >= c0 + 6, 15_000, "six more state pushes");
    expect(await page.locator('.sparks svg.chart[data-points="120"]').count()).toBe(400);
    await page.evaluate(() => (globalThis as any).scrollTo(0, (globalThis as any).document.body.scrollHeight));
    expect(await page.locator('article.host[data-host="hv-200"] svg[data-series="cpu"]').getAttribute("data-points")).toBe("120");
    const t1 = Date.now();
    expect(await page.evaluate(() => 1 + 1)).toBe(2);
    const answerMs = Date.now() - t1;
    const longTasks = await page.evaluate(() => (globalThis as any).__longTasks as number[]);
    const worst = Math.max(0, ...longTasks);
    console.log(
      `200 hosts: drawn in ${drawnMs} ms; ${longTasks.length} long task(s), the longest ${Math.round(worst)} ms; the page answered in ${answerMs} ms during redraws`,
    );
    expect(drawnMs).toBeLessThan(10_000);
    expect(worst).toBeLessThan(2_000);
    const shot = screenshotPath("200-hosts");
    if (shot) {
      await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
      await page.screenshot({ path: shot });
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});

describe.skipIf(!haveChromium)("dashboard host_mapping banner", () => {
  let o: MappedOrchestrator;
  beforeAll(async () => {
    o = await startMappedOrchestrator("host,address\nhv-a,10.10.0.11\nhv-b,10.10.0.12\n");
  });
  afterAll(async () => {
    await o?.stop();
  });

  it("shows a rejected reload as an alert, with the mapping still in force, until the file is fixed", async () => {
    await page.goto(`${o.url}/`);
    await page.waitForSelector("#conn.live");
    expect(await page.getByRole("alert").count()).toBe(0);

    o.write("host,address\nhv-a,10.10.0.11\nhv-b,10.10.0.999\n");
    const alert = page.getByRole("alert");
    await alert.waitFor({ timeout: 10_000 });
    expect(await alert.getByRole("heading").textContent()).toBe("host_mapping rejected");
    const text = (await alert.textContent())!;
    expect(text).toContain(o.path);
    expect(text).toMatch(/line 3: bad address "10\.10\.0\.999" for hv-b/);
    expect(text).toContain("(2 host(s)) stays in force");
    const shot = screenshotPath("mapping");
    if (shot) await page.screenshot({ path: shot });

    // Fixed, but with two hosts on one address: the alert goes, a warning stays.
    o.write("host,address\nhv-a,10.10.0.11\nhv-b,10.10.0.11\n");
    await alert.waitFor({ state: "detached", timeout: 10_000 });
    const warnings = page.locator("#mapping-warnings");
    await warnings.waitFor();
    expect(await warnings.getByRole("heading").textContent()).toBe("host_mapping: 1 warning(s)");
    expect(await warnings.textContent()).toMatch(/hv-b has the address 10\.10\.0\.11 of hv-a/);
    expect(pageErrors).toEqual([]);
  }, 40_000);
});
