import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Hasher } from "../../../orchestrator/core/hash.js";

// num() feeds integers and one-decimal numbers digit by digit; plan ids and snapshot digests are
// stored and compared across versions, so it must hash exactly what hashing String(n) did.

const viaString = (n: number): string => new Hasher().str(Object.is(n, -0) ? "0" : String(n)).digest();

describe("Hasher.num", () => {
  it("matches hashing the number's string for integers, tenths and any double", () => {
    const tenths = fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }).map((k) => k / 10);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.maxSafeInteger(),
          fc.integer(),
          tenths,
          fc.double(),
          fc.constantFrom(0, -0, 0.5, -0.5, 0.1, 99.9, 1e21, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), NaN, Infinity, -Infinity, 1e-7),
        ),
        (n) => {
          expect(new Hasher().num(n).digest()).toBe(viaString(n));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("keeps null and undefined apart from numbers", () => {
    expect(new Hasher().num(null).digest()).toBe(new Hasher().str("null").digest());
    expect(new Hasher().num(undefined).digest()).toBe(new Hasher().str("undef").digest());
  });
});
