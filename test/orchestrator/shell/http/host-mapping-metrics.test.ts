import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMappedOrchestrator, waitUntil, type MappedOrchestrator } from "./http-cluster.js";
import { sampleValue, scrape } from "./prom-text.js";

// A host_mapping file that turns bad under a running orchestrator (started as main.ts starts it,
// polling the file every second): the rejection shows in GET /metrics and in the dashboard's
// state document, the old mapping stays in force, and a good file clears it.

describe("host_mapping over HTTP: metrics and the dashboard's state", () => {
  let o: MappedOrchestrator;
  beforeAll(async () => {
    o = await startMappedOrchestrator("host,address\nhv-a,10.10.0.11\nhv-b,10.10.0.12\n");
  });
  afterAll(async () => {
    await o?.stop();
  });

  const metric = async (name: string) => sampleValue(await scrape(o.url), name);
  const state = async () => (await (await fetch(`${o.url}/api/state`)).json()) as { hostMapping: Record<string, unknown> };

  it("reports the file in force, then a rejected reload, then the fixed file", async () => {
    const t0 = Date.now();
    expect(await metric("ballast_host_mapping_rejected")).toBe(0);
    expect(await metric("ballast_host_mapping_hosts")).toBe(2);
    expect(await metric("ballast_host_mapping_warnings")).toBe(0);
    const loaded = (await metric("ballast_host_mapping_loaded_timestamp_seconds"))!;
    expect(loaded).toBeGreaterThan(t0 / 1000 - 60);
    expect(loaded).toBeLessThanOrEqual(Date.now() / 1000);
    expect((await state()).hostMapping).toMatchObject({ path: o.path, hosts: 2, error: null, warnings: [], warningsTotal: 0 });

    // 10.10.0.999 is no address: the file is rejected, the two hosts read before stay in force.
    o.write("host,address\nhv-a,10.10.0.11\nhv-b,10.10.0.999\nhv-c,10.10.0.13\n");
    await waitUntil(async () => (await metric("ballast_host_mapping_rejected")) === 1, 10_000, "the bad file to be rejected");
    expect(await metric("ballast_host_mapping_hosts")).toBe(2);
    expect(await metric("ballast_host_mapping_loaded_timestamp_seconds")).toBe(loaded);
    const bad = (await state()).hostMapping;
    expect(bad).toMatchObject({ path: o.path, hosts: 2 });
    expect(bad["error"]).toMatch(/line 3: bad address "10\.10\.0\.999" for hv-b/);
    expect(bad["errorAt"]).toBeGreaterThanOrEqual(t0);

    // Fixed, with two hosts sharing an address: in force, with a warning.
    o.write("host,address\nhv-a,10.10.0.11\nhv-b,10.10.0.12\nhv-c,10.10.0.12\n");
    await waitUntil(async () => (await metric("ballast_host_mapping_rejected")) === 0, 10_000, "the fixed file to be read");
    expect(await metric("ballast_host_mapping_hosts")).toBe(3);
    expect(await metric("ballast_host_mapping_warnings")).toBe(1);
    expect(await metric("ballast_host_mapping_loaded_timestamp_seconds")).toBeGreaterThan(loaded);
    const fixed = (await state()).hostMapping;
    expect(fixed).toMatchObject({ hosts: 3, error: null, errorAt: null, warningsTotal: 1 });
    expect(fixed["warnings"]).toEqual([expect.stringMatching(/hv-c has the address 10\.10\.0\.12 of hv-b/)]);
  }, 40_000);

  it("serves the charts' history next to the state, as main.ts starts it", async () => {
    const r = await fetch(`${o.url}/api/history`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    const d = (await r.json()) as { stepMs: number; windowMs: number; points: number; hosts: unknown[]; cluster: { imbalance: unknown[] } };
    expect(d).toMatchObject({ stepMs: 30_000, windowMs: 3_600_000, points: 120, hosts: [] });
    expect(d.cluster.imbalance).toHaveLength(120);
    expect((await fetch(`${o.url}/api/history`, { method: "POST" })).status).toBe(405);
  });
});
