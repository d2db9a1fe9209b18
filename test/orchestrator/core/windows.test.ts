import { describe, expect, it } from "vitest";
import { classifyHost, overStreak } from "../../../orchestrator/core/windows.js";
import { host, NOW, policy } from "./builders.js";

const p = policy({ interval: 10, max_over: 60, stale_after: 35, load_threshold: 80, mem_threshold: 90 });
const series = (pairs: [agoSeconds: number, cpu: number][]) => pairs.map(([ago, cpu]) => ({ ts: NOW - ago * 1000, cpu, mem: 10 }));

describe("classifyHost", () => {
  it.each([
    {
      name: "overload shorter than max_over is not a source",
      samples: series([
        [100, 50],
        [90, 50],
        [40, 95],
        [30, 95],
        [20, 95],
        [10, 95],
        [0, 95],
      ]),
      source: false,
      overSeconds: 40,
    },
    {
      name: "overload exactly max_over makes a source",
      samples: series([
        [70, 50],
        [60, 95],
        [50, 95],
        [40, 95],
        [30, 95],
        [20, 95],
        [10, 95],
        [0, 95],
      ]),
      source: true,
      overSeconds: 60,
    },
    {
      name: "overload longer than max_over makes a source",
      samples: series([
        [120, 95],
        [110, 95],
        [100, 95],
        [90, 95],
        [80, 95],
        [70, 95],
        [60, 95],
        [50, 95],
        [40, 95],
        [30, 95],
        [20, 95],
        [10, 95],
        [0, 95],
      ]),
      source: true,
      overSeconds: 120,
    },
    {
      name: "a gap longer than stale_after breaks the streak",
      samples: series([
        [120, 95],
        [110, 95],
        [100, 95],
        [90, 95],
        [30, 95],
        [20, 95],
        [10, 95],
        [0, 95],
      ]),
      source: false,
      overSeconds: 30,
    },
    {
      name: "one sample under the threshold breaks the streak",
      samples: series([
        [120, 95],
        [110, 95],
        [100, 95],
        [90, 95],
        [80, 95],
        [40, 70],
        [30, 95],
        [20, 95],
        [10, 95],
        [0, 95],
      ]),
      source: false,
      overSeconds: 30,
    },
    {
      name: "newest sample under the threshold is never a source",
      samples: series([
        [120, 95],
        [110, 95],
        [100, 95],
        [90, 95],
        [80, 95],
        [70, 95],
        [0, 60],
      ]),
      source: false,
      overSeconds: 0,
    },
    {
      name: "a value equal to the threshold is not over it",
      samples: series([
        [120, 80],
        [60, 80],
        [30, 80],
        [0, 80],
      ]),
      source: false,
      overSeconds: 0,
    },
  ])("$name", ({ samples, source, overSeconds }) => {
    const v = classifyHost(host("a", { samples }), p, NOW);
    expect(v.source).toBe(source);
    expect(v.cpu.overMs / 1000).toBe(overSeconds);
  });

  it("tolerates delivery jitter of a few ms, not a missing sample", () => {
    const jittered = series([
      [60.004, 50],
      [60, 95],
      [50, 95],
      [40, 95],
      [30, 95],
      [20, 95],
      [10, 95],
      [0.003, 95],
    ]);
    expect(classifyHost(host("a", { samples: jittered }), p, NOW).source).toBe(true);
    const short = series([
      [60, 50],
      [50, 95],
      [40, 95],
      [30, 95],
      [20, 95],
      [10, 95],
      [0, 95],
    ]);
    expect(classifyHost(host("a", { samples: short }), p, NOW).source).toBe(false);
  });

  it("max_over = 0: the newest sample alone decides", () => {
    const p0 = policy({ max_over: 0 });
    expect(
      classifyHost(
        host("a", {
          samples: series([
            [10, 10],
            [0, 95],
          ]),
        }),
        p0,
        NOW,
      ).source,
    ).toBe(true);
    expect(
      classifyHost(
        host("a", {
          samples: series([
            [10, 95],
            [0, 10],
          ]),
        }),
        p0,
        NOW,
      ).source,
    ).toBe(false);
  });

  it("a host silent longer than stale_after is never a source", () => {
    const v = classifyHost(host("a", { cpu: 99, overFor: 600, lastSeenAgo: 40 }), p, NOW);
    expect(v.fresh).toBe(false);
    expect(v.source).toBe(false);
  });

  it("fresh means now - lastSeen <= stale_after", () => {
    expect(classifyHost(host("a", { lastSeenAgo: 35 }), p, NOW).fresh).toBe(true);
    expect(classifyHost(host("a", { lastSeenAgo: 36 }), p, NOW).fresh).toBe(false);
  });

  it("memory over mem_threshold long enough is a source on metric mem", () => {
    const v = classifyHost(host("a", { cpu: 10, mem: 95, overFor: 120 }), p, NOW);
    expect(v.source).toBe(true);
    expect(v.metric).toBe("mem");
  });

  it("a host without samples is judged on its newest reading", () => {
    const h = { ...host("a", { cpu: 95 }), samples: [] };
    expect(classifyHost(h, policy({ max_over: 0 }), NOW).source).toBe(true);
    expect(classifyHost(h, p, NOW).source).toBe(false);
  });

  it("unsorted samples are sorted by time first", () => {
    const s = series([
      [0, 95],
      [60, 95],
      [30, 95],
      [10, 95],
      [50, 95],
      [40, 95],
      [20, 95],
    ]);
    expect(classifyHost(host("a", { samples: s }), p, NOW).source).toBe(true);
  });
});

describe("overStreak", () => {
  it("is empty for no samples", () => {
    expect(overStreak([], "cpu", 80, 35_000)).toEqual({ value: 0, over: false, overMs: 0 });
  });
});
