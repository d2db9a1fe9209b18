import { describe, expect, it } from "vitest";
import { metricsDocument, toMetricsJson } from "../../../sim/report/metrics-json.js";
import { energySlavSvg, escapeXml, migrationsPerHourSvg } from "../../../sim/report/svg.js";
import type { RunMetrics } from "../../../sim/engine.js";

const metrics = (energyKWh: number, slav: number): RunMetrics => ({ policy: "p", energyKWh, slav, migrationsPerHour: [1, 2, 3] }) as unknown as RunMetrics;

describe("metrics JSON", () => {
  it("wraps runs in a versioned document", () => {
    const doc = JSON.parse(toMetricsJson([{ workload: "20110303", policy: "THR", metrics: metrics(190, 3e-5) }]));
    expect(doc.v).toBe(1);
    expect(doc.runs[0].metrics.energyKWh).toBe(190);
    expect(metricsDocument([]).runs).toEqual([]);
  });
});

describe("SVG", () => {
  it("plots energy against SLAV with one marker per run and a legend entry per policy", () => {
    const svg = energySlavSvg([
      { policy: "THR <0.8>", workload: "d1", energyKWh: 190, slav: 3e-5 },
      { policy: "THR <0.8>", workload: "d2", energyKWh: 150, slav: 4e-5 },
      { policy: "LR", workload: "d1", energyKWh: 160, slav: 5e-5 },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<circle /g)).toHaveLength(3 + 2);
    expect(svg).toContain("THR &lt;0.8&gt;");
    expect(svg).not.toContain("THR <0.8>");
  });
  it("draws migrations per hour as one line per series", () => {
    const svg = migrationsPerHourSvg([
      { label: "a", perHour: [0, 5, 10] },
      { label: "b", perHour: [1, 1, 1] },
    ]);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(escapeXml(`a&"b'`)).toBe("a&amp;&quot;b&apos;");
  });
});
