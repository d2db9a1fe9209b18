import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import type { PolicyInput } from "../../shared/config/policy.js";
import { FakePower } from "../integration/fake-power.js";
import { startHttpCluster, waitUntil, type HttpCluster } from "../orchestrator/shell/http/http-cluster.js";
import { haveChromium, launchChromium, screenshotPath, type Browser } from "./chromium.js";

// Host failure on the dashboard, in a real headless Chromium against a real sim cluster
// (nats-server, sim agents, the orchestrator with http on): d's agent dies while its libvirt
// answers (agent down, never recovered), then b loses its power (its first hard power-off fails,
// the second is read back off) and its shared-disk VMs are restarted elsewhere while its
// local-disk VM waits. The page, without a reload, shows both hosts' states on their cards
// (not "stale"), the recovery panel with the incidents, fence attempts, restarts, the waiting VM
// and the alert, and the history with the incident's entries in the order they happened.

const base = { facts: { shared_paths: ["/srv/shared"] }, start_delay_s: 0, cpus: 8, mem_mib: 16_384, migration_mibs: 2000 };
const disk = (path: string) => ({ facts: { disks: [{ target: "vda", path, size_gib: 1 }] } });
const POLICY: PolicyInput = {
  interval: 0.3,
  stale_after: 1,
  automation: "manual",
  failure_detect_after: 2,
  failure_peer_probes: 2,
  max_concurrent_restarts: 1,
  restart_priorities: { vms: { web1: "high", app1: "low" } },
};

describe.skipIf(!haveChromium)("dashboard: host failure in headless Chromium", () => {
  let c: HttpCluster | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let pageErrors: string[] = [];
  const power = new FakePower("b");

  beforeAll(async () => {
    power.fail.off.push("BMC timed out");
    c = await startHttpCluster({
      interval: 0.3,
      allowActions: false,
      powerDrivers: new Map([["b", power]]),
      hosts: {
        a: { ...base, vms: [] },
        b: {
          ...base,
          vms: [
            { name: "web1", mem_mib: 512, cpu: 10, ...disk("/srv/shared/web1.qcow2") },
            { name: "app1", mem_mib: 1024, cpu: 10, ...disk("/srv/shared/app1.qcow2") },
            { name: "db1", mem_mib: 256, cpu: 10, ...disk("/var/lib/libvirt/images/db1.qcow2") },
          ],
        },
        c: { ...base, vms: [] },
        d: { ...base, vms: [{ name: "misc1", mem_mib: 256, cpu: 5, ...disk("/srv/shared/misc1.qcow2") }] },
      },
      policy: POLICY,
    });
    const cl = c;
    await waitUntil(async () => (await cl.api("records", {})).data?.records.length === 4, 15_000, "the four VMs to be recorded");
    browser = await launchChromium();
    ({ page, pageErrors } = browser);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await c?.stop();
  });

  it("shows agent down, failed-then-recovered hosts, the recovery panel and the incident in the history, live", async () => {
    const cl = c!;
    await page.goto(`${cl.url}/`);
    await page.waitForSelector("#conn.live");
    await page.locator("#no-recovery").waitFor();
    let reloaded = false;
    page.once("load", () => (reloaded = true));

    // d: the agent dies, libvirt (and its guest) run on.
    const hv = cl.sim("d");
    await cl.agents.get("d")!.stop();
    hv.start();
    const dCard = page.locator('article.host[data-host="d"]');
    await dCard.locator('.badge.failure[data-failure="agent_down"]').waitFor({ timeout: 20_000 });
    expect(await dCard.locator(".badge.failure").textContent()).toBe("agent down");
    expect(await dCard.locator(".badge.stale").count()).toBe(0);

    // b: a power loss.
    power.reading = "off";
    await cl.agents.get("b")!.stop();
    await waitUntil(async () => (await cl.api("recoveryStatus", { host: "b" })).data?.hosts[0]?.state === "recovered", 30_000, "b to be recovered");
    const bCard = page.locator('article.host[data-host="b"]');
    await bCard.locator('.badge.failure[data-failure="recovered"]').waitFor();
    expect(await bCard.locator(".badge.stale").count()).toBe(0);
    expect(await bCard.getAttribute("class")).toContain("recovered");

    // The recovery panel.
    const panel = page.locator("#recovery");
    const b = panel.locator('tr.incident[data-host="b"]');
    expect(await b.getAttribute("data-state")).toBe("recovered");
    expect(await b.locator("li.attempt").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-by")} ${e.getAttribute("data-result")}`))).toEqual([
      "driver failed",
      "driver off",
    ]);
    expect(await b.locator("li.attempt").first().textContent()).toContain("BMC timed out");
    expect(await b.locator("td.fence").textContent()).toMatch(/^FENCE_CONFIRMED by driver/);
    expect(await panel.locator('tr.incident[data-host="d"]').getAttribute("data-state")).toBe("agent_down");
    // Newest first: app1 (low) was restarted after web1 (high).
    expect(await panel.locator("tr.restart").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-vm")} ${e.getAttribute("data-outcome")}`))).toEqual([
      "app1 started",
      "web1 started",
    ]);
    const dest = (await panel.locator('tr.restart[data-vm="web1"] td').nth(2).textContent())!;
    expect(cl.fabric.whereIs("web1")).toEqual([dest]);
    expect(await panel.locator("li.waiting").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-vm")} ${e.getAttribute("data-code")}`))).toEqual([
      "db1 RESTART_LOCAL_DISKS",
    ]);
    expect(await panel.locator('li.alert[data-alert="agent_down"]').getAttribute("data-host")).toBe("d");

    // The history: b's incident in the order it happened (the page lists newest first).
    await page.locator('li.history.recovery[data-kind="failure"][data-state="recovered"]').waitFor();
    const story = await page
      .locator('#history li.history.recovery[data-host="b"]')
      .evaluateAll((els) => els.map((e) => `${e.getAttribute("data-kind")} ${e.getAttribute("data-state") ?? e.getAttribute("data-vm") ?? ""}`.trim()));
    expect(story.reverse()).toEqual([
      "failure failed",
      "fence",
      "fence",
      "failure fenced",
      "restart web1",
      "failure recovering",
      "restart app1",
      "failure recovered",
    ]);
    expect(await page.locator('#history li.history.recovery[data-kind="alert"][data-host="d"]').count()).toBe(1);

    const shot = screenshotPath("recovery");
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    expect(reloaded).toBe(false);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
