import { describe, expect, it } from "vitest";
import { DecisionLog, RejectionTally } from "../../../orchestrator/core/explain.js";
import { f1, r2 } from "../../../orchestrator/core/format.js";
import type { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import { Hasher } from "../../../orchestrator/core/hash.js";

describe("RejectionTally", () => {
  it("counts every rejection by code but keeps only the first few hosts", () => {
    const t = new RejectionTally(3);
    for (let i = 0; i < 10_000; i++) t.add(`h${i}`, { code: i % 2 ? "DEST_CPU" : "DEST_MEM", message: "m", numbers: {} });
    t.evaluated = 10_000;
    const ds = t.decisions("x", 10_000, "hotspot");
    expect(ds).toHaveLength(4);
    expect(ds[0]!.numbers).toMatchObject({ DEST_CPU: 5000, DEST_MEM: 5000, hostsEvaluated: 10_000 });
    expect(ds.slice(1).map((d) => d.subject)).toEqual(["h0", "h1", "h2"]);
  });
});

describe("DecisionLog", () => {
  it("deduplicates and caps, then says how many were dropped", () => {
    const log = new DecisionLog(2);
    // Any code will do: the log does not read it (a made-up one keeps it apart from real decisions).
    const r = { code: "C" as DecisionCode, message: "m", numbers: {} };
    log.vm("a", r);
    log.vm("a", r);
    log.vm("b", r);
    log.vm("c", r);
    log.vm("d", r);
    expect(log.all().map((d) => d.code)).toEqual(["C", "C", "DECISIONS_TRUNCATED"]);
    expect(log.all()[2]!.numbers.dropped).toBe(2);
  });
});

describe("formatting and hashing", () => {
  it("rounds without -0 or NaN", () => {
    expect(Object.is(r2(-0.001), 0)).toBe(true);
    expect(r2(NaN)).toBe(0);
    expect(f1(64.99999999)).toBe("65.0");
  });

  it("hashes deterministically and separates fields", () => {
    expect(new Hasher().str("ab").str("c").digest()).toBe(new Hasher().str("ab").str("c").digest());
    expect(new Hasher().str("ab").str("c").digest()).not.toBe(new Hasher().str("a").str("bc").digest());
    expect(new Hasher().digest()).toMatch(/^[0-9a-f]{16}$/);
  });
});
