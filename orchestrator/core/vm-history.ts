import type { Policy } from "../../shared/config/policy.js";
import type { PastMove } from "../../shared/schemas/snapshot.js";

// What a VM's own migration history says about moving it again: the per-VM cooldown (which doubles
// with every recent move, capped) and ping-pong detection (A→B then B→A within the window).
//
// Moves an operator forced (evacuate, manual) count for the cooldown, as every move does: the VM
// did move, its new host's samples do not show it settled yet, and an operator's placement should
// not be undone by the balancer a minute later. They never count towards a ping-pong: a VM
// evacuated for maintenance and moved back afterwards is not flapping, and freezing it for that
// (the demo froze three VMs that consolidation and then maintenance had moved) helps nobody.

export interface Cooldown {
  /** Moves of this VM (any outcome) that finished within vm_cooldown_max of now. */
  recentMoves: number;
  cooldownSeconds: number;
  /** ms left before the VM may move again; <= 0 means it may move. */
  remainingMs: number;
}

/** `moves` oldest first. */
export function cooldownOf(moves: readonly PastMove[] | undefined, policy: Pick<Policy, "vm_cooldown" | "vm_cooldown_max">, now: number): Cooldown {
  if (!moves || moves.length === 0 || policy.vm_cooldown <= 0) return { recentMoves: 0, cooldownSeconds: 0, remainingMs: 0 };
  const horizon = now - Math.max(policy.vm_cooldown_max, policy.vm_cooldown) * 1000;
  let k = 0;
  let last = -Infinity;
  for (const m of moves) {
    if (m.finishedAt > horizon) {
      k += 1;
      last = Math.max(last, m.finishedAt);
    }
  }
  if (k === 0) return { recentMoves: 0, cooldownSeconds: 0, remainingMs: 0 };
  const cooldownSeconds = Math.min(policy.vm_cooldown * 2 ** Math.min(k - 1, 40), Math.max(policy.vm_cooldown_max, policy.vm_cooldown));
  return { recentMoves: k, cooldownSeconds, remainingMs: last + cooldownSeconds * 1000 - now };
}

/** Strategies whose moves an operator forced: they never count towards a ping-pong. */
export const FORCED_STRATEGIES: ReadonlySet<string> = new Set(["evacuate", "manual"]);

/** A succeeded move the planner chose on its own: the only kind that makes a ping-pong. */
export function countsForPingPong(m: PastMove): boolean {
  return m.outcome === "succeeded" && (m.strategy === undefined || !FORCED_STRATEGIES.has(m.strategy));
}

export interface PingPong {
  first: PastMove;
  second: PastMove;
}

/**
 * The newest A→B, B→A pair of consecutive successful moves inside pingpong_window, if any, among
 * the moves that count (not forced by an operator). `moves` oldest first.
 */
export function detectPingPong(moves: readonly PastMove[] | undefined, policy: Pick<Policy, "pingpong_window">, now: number): PingPong | null {
  if (!moves || policy.pingpong_window <= 0) return null;
  const since = now - policy.pingpong_window * 1000;
  const ok = moves.filter(countsForPingPong);
  for (let i = ok.length - 1; i >= 1; i--) {
    const second = ok[i]!;
    const first = ok[i - 1]!;
    if (first.finishedAt < since) break;
    if (second.source === first.destination && second.destination === first.source && second.finishedAt - first.finishedAt <= policy.pingpong_window * 1000)
      return { first, second };
  }
  return null;
}

/**
 * The move a VM now on `host` would undo by going back where it came from: its newest move that
 * counts towards a ping-pong, if that move brought it to `host` within pingpong_window. Moving it
 * back to that move's source would complete an A→B→A, which detectPingPong freezes next cycle, so
 * the planner refuses that destination (DEST_PINGPONG). `moves` oldest first.
 */
export function pingPongReturn(moves: readonly PastMove[] | undefined, policy: Pick<Policy, "pingpong_window">, now: number, host: string): PastMove | null {
  if (!moves || policy.pingpong_window <= 0) return null;
  for (let i = moves.length - 1; i >= 0; i--) {
    const m = moves[i]!;
    if (!countsForPingPong(m)) continue;
    return m.destination === host && m.source !== host && now - m.finishedAt <= policy.pingpong_window * 1000 ? m : null;
  }
  return null;
}
