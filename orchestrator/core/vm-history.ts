import type { Policy } from "../../shared/config/policy.js";
import type { PastMove } from "../../shared/schemas/snapshot.js";

// What a VM's own migration history says about moving it again: the per-VM cooldown (which doubles
// with every recent move, capped) and ping-pong detection (A→B then B→A within the window).

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

export interface PingPong {
  first: PastMove;
  second: PastMove;
}

/** The newest A→B, B→A pair of consecutive successful moves inside pingpong_window, if any. `moves` oldest first. */
export function detectPingPong(moves: readonly PastMove[] | undefined, policy: Pick<Policy, "pingpong_window">, now: number): PingPong | null {
  if (!moves || policy.pingpong_window <= 0) return null;
  const since = now - policy.pingpong_window * 1000;
  const ok = moves.filter((m) => m.outcome === "succeeded");
  for (let i = ok.length - 1; i >= 1; i--) {
    const second = ok[i]!;
    const first = ok[i - 1]!;
    if (first.finishedAt < since) break;
    if (second.source === first.destination && second.destination === first.source && second.finishedAt - first.finishedAt <= policy.pingpong_window * 1000)
      return { first, second };
  }
  return null;
}
