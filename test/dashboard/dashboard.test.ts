import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { startHttpCluster, waitUntil, type HttpCluster } from "../orchestrator/shell/http/http-cluster.js";
import { haveChromium, launchChromium, type Browser } from "./chromium.js";

// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no browser is ever downloaded) against a real sim cluster: nats-server, sim
// agents and the orchestrator with http on. Automation is `partial`, so cycles only propose and
// the page's Approve button is what starts the hot spot's migration.
// BALLAST_DASHBOARD_SCREENSHOT=/tmp/x.png saves a screenshot of the page to look at.

const INTERVAL = 0.25;

describe.skipIf(!haveChromium)("dashboard in headless Chromium", () => {
  let c: HttpCluster;
  let browser: Browser | undefined;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    const vm = (name: string, memGiB = 2) => ({ name, vcpus: 4, mem_mib: memGiB * 1024, cpu: 5 });
    c = await startHttpCluster({
      interval: INTERVAL,
      allowActions: true,
      hosts: {
        // 1000 MiB/s: a 2 GiB VM takes about 2 s, long enough to be seen in flight.
        "hv-a": { cpus: 8, mem_mib: 32768, migration_mibs: 1000, start_delay_s: 0.3, vms: [vm("web-1"), vm("web-2"), vm("db-1", 4)] },
        "hv-b": { cpus: 8, mem_mib: 32768, migration_mibs: 1000, start_delay_s: 0.3, vms: [vm("app-1"), vm("app-2")] },
        "hv-c": { cpus: 16, mem_mib: 65536, migration_mibs: 1000, start_delay_s: 0.3, vms: [vm("batch-1")] },
      },
      policy: {
        interval: INTERVAL,
        stale_after: 2,
        max_over: 1,
        load_threshold: 80,
        load_target: 70,
        max_load_candidate: 70,
        vm_cooldown: 600,
        host_settle: 0.5,
        mem_reserve_mib: 512,
        automation: "partial",
        plan_ttl: 120,
      },
    });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 3, 10_000, "all hosts to report");
    browser = await launchChromium();
    ({ page, pageErrors } = browser);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await c?.stop();
  });

  it("shows every host of the cluster with its VMs, live", async () => {
    await page.goto(`${c.url}/`);
    await expect(page.title()).resolves.toBe("Ballast dashboard");
    await page.waitForSelector("#conn.live");
    for (const [host, vms] of Object.entries({ "hv-a": ["db-1", "web-1", "web-2"], "hv-b": ["app-1", "app-2"], "hv-c": ["batch-1"] })) {
      const card = page.locator(`article.host[data-host="${host}"]`);
      await expect(card.getByRole("heading", { level: 3 }).textContent()).resolves.toBe(host);
      await card.locator("li[data-vm]").first().waitFor();
      expect(await card.locator("li[data-vm]").evaluateAll((els) => els.map((e) => e.getAttribute("data-vm")))).toEqual(vms);
      // CPU and memory bars, as accessible meters.
      expect(await card.getByRole("meter").count()).toBe(2);
    }
    expect(await page.getByRole("heading", { level: 2 }).allTextContents()).toEqual(
      expect.arrayContaining(["Hosts", "Migrations in flight", "Pending plans", "History", "Rule violations"]),
    );
    // With an operator's defaults (30 s steps), a page opened just after start-up does not wait a
    // step for its first points: it asks again while a host has none.
    await page.waitForFunction(
      () =>
        [...(globalThis as any).document.querySelectorAll("article.host .sparks svg.chart")].filter((e: any) => Number(e.getAttribute("data-points")) >= 1)
          .length === 6,
      null,
      { timeout: 15_000 },
    );
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it("shows a migration while it runs, then in the history, without a reload", async () => {
    let reloaded = false;
    page.once("load", () => (reloaded = true));
    const r = await c.api("migrate", { vm: "app-2", to: "hv-c" });
    expect(r.ok).toBe(true);
    const row = page.locator('tr.migration[data-vm="app-2"]');
    await row.waitFor();
    expect(await row.locator("td").nth(1).textContent()).toBe("hv-b");
    expect(await row.locator("td").nth(2).textContent()).toBe("hv-c");
    // Progress comes from the agent's events while the copy runs.
    await page.waitForFunction(() => {
      const p = (globalThis as any).document.querySelector('tr.migration[data-vm="app-2"] progress');
      return p !== null && p.hasAttribute("value") && p.value > 0;
    });
    const done = page.locator('li.history[data-vm="app-2"]');
    await done.waitFor();
    expect(await done.locator(".state").textContent()).toBe("succeeded");
    await row.waitFor({ state: "detached" });
    await page.locator('article.host[data-host="hv-c"] li[data-vm="app-2"]').waitFor();
    await page.locator('article.host[data-host="hv-b"] li[data-vm="app-2"]').waitFor({ state: "detached" });
    expect(reloaded).toBe(false);
    expect(c.fabric.whereIs("app-2")).toEqual(["hv-c"]);
  });

  it("with partial automation, a pending plan appears with its reasons and Approve starts it", async () => {
    // hv-a gets hot: 2 x 350 % of one core on 8 cores = 87.5 % > 80 % for longer than max_over.
    c.sim("hv-a").setVmCpu("web-1", 350);
    c.sim("hv-a").setVmCpu("web-2", 350);
    const plan = page.locator("article.plan").first();
    await plan.waitFor({ timeout: 20_000 });
    // Each cycle proposes again (new numbers, new id): the newest plan is drawn first.
    const shownVm = (await plan.locator("tbody tr[data-vm]").first().getAttribute("data-vm"))!;
    expect(["web-1", "web-2"]).toContain(shownVm);
    expect(await plan.locator("tbody tr").first().textContent()).toContain("hv-a");
    expect(await plan.locator("tbody").first().textContent()).toMatch(/host hv-a CPU [\d.]+ % >/);
    // Nothing moves before the approval.
    expect(c.fabric.whereIs(shownVm)).toEqual(["hv-a"]);
    const button = plan.getByRole("button", { name: "Approve" });
    expect(await button.isEnabled()).toBe(true);

    if (process.env.BALLAST_DASHBOARD_SCREENSHOT) await page.screenshot({ path: process.env.BALLAST_DASHBOARD_SCREENSHOT, fullPage: true });

    await button.click();
    const notice = page.getByRole("status").filter({ hasText: "approved" });
    await notice.waitFor();
    const planId = /Plan (\S+) approved: 1 migration/.exec((await notice.textContent()) ?? "")?.[1];
    expect(planId).toBeDefined();
    let movedVm = "";
    await waitUntil(
      async () => {
        const m = (await c.api("history", {})).data.find((r) => r.planId === planId && r.state === "SUCCEEDED");
        movedVm = m?.vm ?? "";
        return m !== undefined;
      },
      20_000,
      `the move of plan ${planId} to succeed`,
    );
    expect(["web-1", "web-2"]).toContain(movedVm);
    const where = c.fabric.whereIs(movedVm);
    expect(where).toHaveLength(1);
    expect(where[0]).not.toBe("hv-a");
    await page.locator(`li.history[data-vm="${movedVm}"]`).waitFor();
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
