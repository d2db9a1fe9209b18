import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakePower } from "../integration/fake-power.js";
import {
  bystander,
  failingGuests,
  failingHosts,
  oneRestartPerPass,
  RECOVERY_INTERVAL,
  recoveryHost,
  recoveryPolicy,
  waitForRecords,
} from "../integration/recovery-cluster.js";
import { startHttpCluster, waitUntil, type HttpCluster } from "../orchestrator/shell/http/http-cluster.js";
import { chromiumPerSuite, haveChromium, screenshotPath } from "./chromium.js";

// Host failure on the dashboard, in a real headless Chromium against a real sim cluster
// (nats-server, sim agents, the orchestrator with http on): d's agent dies while its libvirt
// answers (agent down, never recovered), then b loses its power (its first hard power-off fails,
// the second is read back off) and its shared-disk VMs are restarted elsewhere while its
// local-disk VM waits. The page, without a reload, shows both hosts' states on their cards
// (not "stale"), the recovery panel with the incidents, fence attempts, restarts, the waiting VM
// and the alert, and the history with the incident's entries in the order they happened.

describe.skipIf(!haveChromium)("dashboard: host failure in headless Chromium", () => {
  let c: HttpCluster | undefined;
  const browser = chromiumPerSuite();
  const power = new FakePower("b");

  beforeAll(async () => {
    power.fail.off.push("BMC timed out");
    c = await startHttpCluster({
      interval: RECOVERY_INTERVAL,
      allowActions: false,
      powerDrivers: new Map([["b", power]]),
      hosts: failingHosts(failingGuests(), { d: recoveryHost([bystander()]) }),
      policy: recoveryPolicy(oneRestartPerPass({ web1: "high", app1: "low" })),
    });
    const cl = c;
    await waitForRecords((e, b) => cl.api(e, b), 4);
  }, 90_000);
  afterAll(async () => {
    await c?.stop();
  });

  it("shows agent down, failed-then-recovered hosts, the recovery panel and the incident in the history, live", async () => {
    const cl = c!;
    const { page, pageErrors } = browser();
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
    // web1 was up (the simulated guest has no agent channel: once started) before app1 was started.
    expect(await panel.locator('tr.restart[data-vm="web1"] td.up').textContent()).toMatch(/^after \d+ s$/);
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
