import { describe, expect, it } from "vitest";
import { judgeDuplicates, type DuplicateInput, type DuplicateListing } from "../../../orchestrator/core/index.js";

const listing = (host: string, vms: [string, "running" | "paused" | "shutoff"][], o: Partial<DuplicateListing> = {}): DuplicateListing => ({
  host,
  fresh: true,
  at: 1000,
  vms: vms.map(([name, state]) => ({ name, state })),
  ...o,
});
const input = (listings: DuplicateListing[], o: Partial<Omit<DuplicateInput, "listings">> = {}): DuplicateInput => ({
  listings,
  recordHost: new Map(),
  migrating: new Set(),
  lastMoveAt: new Map(),
  ...o,
});

describe("judgeDuplicates", () => {
  it("pauses every copy but the record's, and names them", () => {
    const v = judgeDuplicates(
      input(
        [
          listing("c", [["web1", "running"]]),
          listing("a", [
            ["web1", "running"],
            ["db1", "running"],
          ]),
          listing("b", [["web1", "running"]]),
        ],
        {
          recordHost: new Map([["web1", "b"]]),
        },
      ),
    );
    expect(v).toEqual([expect.objectContaining({ vm: "web1", hosts: ["a", "b", "c"], recordHost: "b", pauseOn: ["a", "c"], code: "DUPLICATE_PAUSED" })]);
    expect(v[0]!.message).toContain("its record names b");
  });

  it("pauses nothing without a record naming one of the hosts", () => {
    const none = judgeDuplicates(input([listing("a", [["web1", "running"]]), listing("b", [["web1", "running"]])]));
    expect(none).toEqual([expect.objectContaining({ vm: "web1", pauseOn: [], code: "DUPLICATE_NO_RECORD", recordHost: null })]);
    const elsewhere = judgeDuplicates(
      input([listing("a", [["web1", "running"]]), listing("b", [["web1", "running"]])], { recordHost: new Map([["web1", "c"]]) }),
    );
    expect(elsewhere[0]).toMatchObject({ pauseOn: [], code: "DUPLICATE_NO_RECORD", recordHost: "c" });
  });

  it("only running copies in fresh inventories count", () => {
    const rec = { recordHost: new Map([["web1", "a"]]) };
    expect(judgeDuplicates(input([listing("a", [["web1", "running"]]), listing("b", [["web1", "paused"]])], rec))).toEqual([]);
    expect(judgeDuplicates(input([listing("a", [["web1", "running"]]), listing("b", [["web1", "shutoff"]])], rec))).toEqual([]);
    expect(judgeDuplicates(input([listing("a", [["web1", "running"]]), listing("b", [["web1", "running"]], { fresh: false })], rec))).toEqual([]);
  });

  it("leaves a migrating VM alone, and one whose listing is not newer than its last migration's end", () => {
    const two = [listing("a", [["web1", "running"]], { at: 5000 }), listing("b", [["web1", "running"]], { at: 4000 })];
    const rec = new Map([["web1", "a"]]);
    expect(judgeDuplicates(input(two, { recordHost: rec, migrating: new Set(["web1"]) }))).toEqual([]);
    expect(judgeDuplicates(input(two, { recordHost: rec, lastMoveAt: new Map([["web1", 4000]]) }))).toEqual([]);
    expect(judgeDuplicates(input(two, { recordHost: rec, lastMoveAt: new Map([["web1", 3999]]) }))).toHaveLength(1);
  });

  it("is deterministic whatever the order of its inputs", () => {
    const ls = [
      listing("b", [
        ["y", "running"],
        ["x", "running"],
      ]),
      listing("a", [
        ["x", "running"],
        ["y", "running"],
      ]),
    ];
    const rec = new Map([
      ["x", "a"],
      ["y", "b"],
    ]);
    const one = judgeDuplicates(input(ls, { recordHost: rec }));
    expect(judgeDuplicates(input([...ls].reverse(), { recordHost: rec }))).toEqual(one);
    expect(one.map((v) => [v.vm, v.pauseOn])).toEqual([
      ["x", ["b"]],
      ["y", ["a"]],
    ]);
  });
});
