import { describe, expect, it } from "vitest";
import { BoundedMap } from "../../shared/bounded-map.js";

const filled = (capacity: number, keys: string[]) => {
  const m = new BoundedMap<string, number>(capacity);
  keys.forEach((k, i) => m.set(k, i));
  return m;
};

describe("BoundedMap", () => {
  it("keeps the newest `capacity` entries and drops the oldest first", () => {
    const m = filled(3, ["a", "b", "c", "d", "e"]);
    expect(m.size).toBe(3);
    expect([...m.keys()]).toEqual(["c", "d", "e"]);
    expect(m.has("a")).toBe(false);
    expect(m.get("b")).toBeUndefined();
    expect(m.get("e")).toBe(4);
  });

  it("makes a re-inserted key the newest, so it outlives older ones", () => {
    const m = filled(3, ["a", "b", "c"]);
    m.set("a", 10);
    m.set("d", 3);
    expect([...m.entries()]).toEqual([
      ["c", 2],
      ["a", 10],
      ["d", 3],
    ]);
    expect(m.size).toBe(3);
  });

  it("does not refresh an entry on get or has (not an LRU)", () => {
    const m = filled(2, ["a", "b"]);
    expect(m.get("a")).toBe(0);
    expect(m.has("a")).toBe(true);
    m.set("c", 2);
    expect([...m.keys()]).toEqual(["b", "c"]);
  });

  it("iterates keys, values and entries oldest first; the map itself iterates its entries", () => {
    const m = filled(4, ["x", "y", "z"]);
    expect([...m.keys()]).toEqual(["x", "y", "z"]);
    expect([...m.values()]).toEqual([0, 1, 2]);
    expect([...m.entries()]).toEqual([
      ["x", 0],
      ["y", 1],
      ["z", 2],
    ]);
    expect([...m]).toEqual([...m.entries()]);
  });

  it("deletes and clears, and a deleted key frees its place", () => {
    const m = filled(2, ["a", "b"]);
    expect(m.delete("a")).toBe(true);
    expect(m.delete("a")).toBe(false);
    m.set("c", 2);
    expect([...m.keys()]).toEqual(["b", "c"]);
    m.clear();
    expect(m.size).toBe(0);
    expect([...m]).toEqual([]);
    m.set("d", 3);
    expect([...m.keys()]).toEqual(["d"]);
  });

  it("allows deleting while iterating, as a Map does", () => {
    const m = filled(5, ["a", "b", "c", "d"]);
    for (const [k, v] of m) if (v % 2 === 0) m.delete(k);
    expect([...m.keys()]).toEqual(["b", "d"]);
  });

  it("tells onEvict about each entry dropped for room, after it is gone, but not about delete or clear", () => {
    const evicted: Array<[string, number, boolean]> = [];
    const m: BoundedMap<string, number> = new BoundedMap(2, { onEvict: (k, v) => evicted.push([k, v, m.has(k)]) });
    m.set("a", 1).set("b", 2).set("a", 3);
    expect(evicted).toEqual([]);
    m.set("c", 4);
    expect(evicted).toEqual([["b", 2, false]]);
    m.delete("a");
    m.clear();
    expect(evicted).toEqual([["b", 2, false]]);
  });

  it("keeps exactly one entry with capacity 1", () => {
    const m = filled(1, ["a", "b"]);
    expect([...m]).toEqual([["b", 1]]);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("refuses the capacity %s", (capacity) => {
    expect(() => new BoundedMap(capacity)).toThrow(RangeError);
  });
});
