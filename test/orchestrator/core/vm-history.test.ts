import { describe, expect, it } from "vitest";
import { cooldownOf, detectPingPong, pingPongReturn } from "../../../orchestrator/core/vm-history.js";
import { NOW, past, policy } from "./builders.js";

const p = policy({ vm_cooldown: 600, vm_cooldown_max: 3600, pingpong_window: 3600 });

describe("cooldownOf", () => {
  it.each([
    { name: "no history: no cooldown", moves: [], cooldown: 0, blocked: false },
    { name: "one move 100 s ago: 600 s cooldown, blocked", moves: [past("x", "a", "b", 100)], cooldown: 600, blocked: true },
    { name: "one move 700 s ago: 600 s cooldown, free", moves: [past("x", "a", "b", 700)], cooldown: 600, blocked: false },
    { name: "two recent moves double it to 1200 s", moves: [past("x", "a", "b", 2000), past("x", "b", "c", 700)], cooldown: 1200, blocked: true },
    {
      name: "three recent moves: 2400 s",
      moves: [past("x", "a", "b", 3000), past("x", "b", "c", 2500), past("x", "c", "d", 2000)],
      cooldown: 2400,
      blocked: true,
    },
    {
      name: "growth is capped at vm_cooldown_max",
      moves: [past("x", "a", "b", 3500), past("x", "b", "c", 3400), past("x", "c", "d", 3300), past("x", "d", "e", 3200), past("x", "e", "f", 100)],
      cooldown: 3600,
      blocked: true,
    },
    { name: "moves older than vm_cooldown_max do not count", moves: [past("x", "a", "b", 4000), past("x", "b", "c", 700)], cooldown: 600, blocked: false },
    { name: "failed moves count too (no retry storm)", moves: [past("x", "a", "b", 100, "failed")], cooldown: 600, blocked: true },
  ])("$name", ({ moves, cooldown, blocked }) => {
    const c = cooldownOf(moves, p, NOW);
    expect(c.cooldownSeconds).toBe(cooldown);
    expect(c.remainingMs > 0).toBe(blocked);
  });
});

describe("detectPingPong", () => {
  it.each([
    { name: "A→B then B→A within the window", moves: [past("x", "a", "b", 1000), past("x", "b", "a", 500)], found: true },
    { name: "A→B then B→C is no ping-pong", moves: [past("x", "a", "b", 1000), past("x", "b", "c", 500)], found: false },
    { name: "A→B then B→A, the first outside the window", moves: [past("x", "a", "b", 4000), past("x", "b", "a", 500)], found: false },
    { name: "a failed return does not count", moves: [past("x", "a", "b", 1000), past("x", "b", "a", 500, "failed")], found: false },
    { name: "single move", moves: [past("x", "a", "b", 10)], found: false },
  ])("$name", ({ moves, found }) => {
    expect(detectPingPong(moves, p, NOW) !== null).toBe(found);
  });
});

describe("moves an operator forced (evacuate, manual)", () => {
  const forced = (m: ReturnType<typeof past>, strategy: "evacuate" | "manual") => ({ ...m, strategy });

  it.each([
    {
      name: "consolidation A→B, then maintenance B→A (the demo)",
      moves: [{ ...past("x", "a", "b", 1000), strategy: "consolidate" as const }, forced(past("x", "b", "a", 500), "evacuate")],
    },
    {
      name: "evacuation A→B, then balancing B→A (home after maintenance)",
      moves: [forced(past("x", "a", "b", 1000), "evacuate"), { ...past("x", "b", "a", 500), strategy: "balance" as const }],
    },
    { name: "two manual migrates", moves: [forced(past("x", "a", "b", 1000), "manual"), forced(past("x", "b", "a", 500), "manual")] },
  ])("never count towards a ping-pong: $name", ({ moves }) => {
    expect(detectPingPong(moves, p, NOW)).toBeNull();
  });

  it("still count for the cooldown: the VM did move", () => {
    expect(cooldownOf([forced(past("x", "a", "b", 100), "evacuate")], p, NOW)).toMatchObject({ recentMoves: 1, cooldownSeconds: 600 });
  });

  it("the planner's own moves still make one", () => {
    expect(
      detectPingPong(
        [
          { ...past("x", "a", "b", 1000), strategy: "hotspot" },
          { ...past("x", "b", "a", 500), strategy: "balance" },
        ],
        p,
        NOW,
      ),
    ).not.toBeNull();
  });
});

describe("pingPongReturn: the move a VM would undo by going back", () => {
  it.each([
    { name: "the newest counted move into its host, within the window", moves: [past("x", "a", "b", 1000)], host: "b", from: "a" },
    { name: "none once the window has passed", moves: [past("x", "a", "b", 4000)], host: "b", from: null },
    { name: "none when the VM is no longer where that move put it", moves: [past("x", "a", "b", 1000)], host: "c", from: null },
    { name: "none after a forced arrival", moves: [{ ...past("x", "a", "b", 1000), strategy: "evacuate" as const }], host: "b", from: null },
    {
      name: "a failed attempt since does not hide the arrival",
      moves: [past("x", "a", "b", 1000), past("x", "b", "c", 500, "failed")],
      host: "b",
      from: "a",
    },
  ])("$name", ({ moves, host, from }) => {
    expect(pingPongReturn(moves, p, NOW, host)?.source ?? null).toBe(from);
  });
});
