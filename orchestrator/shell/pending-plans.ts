import { BoundedMap } from "../../shared/bounded-map.js";
import type { PendingPlan } from "./persisted-state.js";

// Plans waiting for `approve`, in three separate shelves so that no one can push out plans of
// another kind:
//   - cycle:    what a cycle proposed (automation manual or partial);
//   - approver: dry runs (`plan`) of identities that may approve (operators, no credentials);
//   - other:    dry runs of identities that may not (read-only, or an unknown inbox prefix).
// Each shelf keeps its newest MAX_PENDING_PLANS. A plan identical to one kept on its shelf (same
// mode and moves) replaces it: the newer plan is kept once, and the older ids still approve it
// (`sameAs`). Plans that left are remembered for a while (their fate), so approve can say what
// happened: expired, approved, cancelled, replaced, dropped for room.

/** Plans kept for approve at most, per kind; the oldest of a kind go first when more pile up. */
export const MAX_PENDING_PLANS = 100;
/** Ids of replaced identical plans that still approve the plan kept, at most (the newest). */
const MAX_SAME_AS = 32;
/** Fates remembered per kind (the newest). */
const MAX_FATES = 1000;

export type PlanKind = "cycle" | "approver" | "other";

/** In words, for messages: "<n> <kind> were kept after it". */
export const PLAN_KIND_WORDS: Record<PlanKind, string> = {
  cycle: "plans proposed by cycles",
  approver: "dry runs of identities that may approve",
  other: "dry runs of identities that may not approve",
};

/** What became of a plan that is no longer pending. */
export type PlanFate =
  | { state: "expired"; at: number }
  /** `as`: the plan applied (an identical newer one, when the id asked for had been replaced). */
  | { state: "approved"; at: number; as: string }
  | { state: "cancelled"; at: number; why: string }
  | { state: "dropped"; at: number; kind: PlanKind }
  | { state: "replaced"; at: number; by: string };

export const kindOf = (p: PendingPlan): PlanKind => (p.dryRun === undefined ? "cycle" : p.dryRun.mayApprove ? "approver" : "other");

/** What makes two plans of one kind the same: mode, the evacuation asked for, the moves and the power actions. */
function contentKey(kind: PlanKind, p: PendingPlan): string | undefined {
  // A plan without moves or power actions changes nothing: never merged.
  const power = (p.plan.power ?? []).map((a) => `${a.action} ${a.host} ${a.numbers["force"] === true ? "hard" : ""}`);
  if (p.plan.moves.length === 0 && power.length === 0) return undefined;
  const moves = p.plan.moves.map((m) => `${m.vm} ${m.source} ${m.destination}`).sort();
  const ev = p.evacuation ? `${p.evacuation.host} ${p.evacuation.placement} ${p.evacuation.useEmptyHosts}` : "";
  // Plans of before power management keep the key they had.
  return JSON.stringify(power.length > 0 ? [kind, p.plan.mode, ev, moves, power] : [kind, p.plan.mode, ev, moves]);
}

export class PendingPlans {
  private readonly shelves: Record<PlanKind, BoundedMap<string, PendingPlan>>;
  private readonly fates: Record<PlanKind, BoundedMap<string, PlanFate>>;
  /** contentKey → id of the plan kept with that content. */
  private readonly byContent = new Map<string, string>();
  /** A replaced plan's id → id of the plan kept in its place. */
  private readonly alias = new Map<string, string>();
  /** Insertion order across the shelves (held() lists oldest first). */
  private readonly order = new Map<string, number>();
  private seq = 0;
  /** The time of the change under way (a plan dropped for room is dropped "now"). */
  private at = 0;

  /** `onStore`: a plan kept (the entry) or gone (undefined): the HA store follows. */
  constructor(private readonly onStore: (planId: string, p: PendingPlan | undefined) => void) {
    const shelf = (kind: PlanKind) =>
      new BoundedMap<string, PendingPlan>(MAX_PENDING_PLANS, {
        onEvict: (id, p) => {
          this.unindex(p);
          this.settle(p, { state: "dropped", at: this.at, kind });
          this.onStore(id, undefined);
        },
      });
    this.shelves = { cycle: shelf("cycle"), approver: shelf("approver"), other: shelf("other") };
    this.fates = { cycle: new BoundedMap(MAX_FATES), approver: new BoundedMap(MAX_FATES), other: new BoundedMap(MAX_FATES) };
  }

  /** Keeps a plan as the newest of its kind; an identical one kept before is replaced by it. */
  propose(p: PendingPlan): void {
    const kind = kindOf(p);
    this.at = p.plan.createdAt;
    // The same id again (a plan recomputed at the same instant): it takes the place of the old entry.
    const same = this.remove(p.plan.id);
    let sameAs = same?.sameAs ?? [];
    const key = contentKey(kind, p);
    const olderId = key !== undefined ? this.byContent.get(key) : undefined;
    const older = olderId !== undefined ? this.remove(olderId) : undefined;
    if (older) sameAs = [older.plan.id, ...(older.sameAs ?? []), ...sameAs];
    sameAs = [...new Set(sameAs.filter((id) => id !== p.plan.id))];
    for (const id of sameAs.slice(MAX_SAME_AS)) this.fates[kind].set(id, { state: "replaced", at: this.at, by: p.plan.id });
    const { sameAs: _given, ...rest } = p;
    const entry: PendingPlan = sameAs.length > 0 ? { ...rest, sameAs: sameAs.slice(0, MAX_SAME_AS) } : rest;
    this.index(entry, key);
    this.order.set(entry.plan.id, this.seq++);
    this.shelves[kind].set(entry.plan.id, entry);
    this.onStore(entry.plan.id, entry);
    if (older) this.onStore(older.plan.id, undefined);
  }

  /**
   * The plan an id names (its own, or an identical newer plan that replaced it), removed: approve
   * applies a plan once. Its fate becomes "approved" (settle() may change that).
   */
  take(planId: string, now?: number): PendingPlan | undefined {
    const id = this.alias.get(planId) ?? planId;
    const p = this.remove(id);
    if (!p) return undefined;
    this.settle(p, { state: "approved", at: now ?? p.plan.createdAt, as: p.plan.id });
    this.onStore(p.plan.id, undefined);
    return p;
  }

  /** Records what became of a plan taken (e.g. approve cancelled it), under its id and the ids it replaced. */
  settle(p: PendingPlan, fate: PlanFate): void {
    const fates = this.fates[kindOf(p)];
    for (const id of [p.plan.id, ...(p.sameAs ?? [])]) fates.set(id, fate);
  }

  /** What became of a plan no longer pending, if remembered. */
  fate(planId: string): PlanFate | undefined {
    for (const kind of ["approver", "cycle", "other"] as const) {
      const f = this.fates[kind].get(planId);
      if (f) return f;
    }
    return undefined;
  }

  /** Drops the plans whose expiry is at or before `now`. */
  expire(now: number): void {
    for (const kind of ["cycle", "approver", "other"] as const)
      for (const [id, p] of this.shelves[kind])
        if (p.expiresAt <= now) {
          this.remove(id);
          this.settle(p, { state: "expired", at: p.expiresAt });
          this.onStore(id, undefined);
        }
  }

  /** Every plan kept, expired or not, oldest first. */
  held(): PendingPlan[] {
    const all = [...this.shelves.cycle.values(), ...this.shelves.approver.values(), ...this.shelves.other.values()];
    return all.sort((a, b) => (this.order.get(a.plan.id) ?? 0) - (this.order.get(b.plan.id) ?? 0));
  }

  /** Replaces everything with plans loaded from the HA store (earliest expiry taken as the oldest); writes only what the bound drops. */
  restore(plans: readonly PendingPlan[]): void {
    for (const s of Object.values(this.shelves)) s.clear();
    for (const f of Object.values(this.fates)) f.clear();
    this.byContent.clear();
    this.alias.clear();
    this.order.clear();
    for (const p of [...plans].sort((a, b) => a.expiresAt - b.expiresAt)) {
      const kind = kindOf(p);
      this.at = p.plan.createdAt;
      this.index(p, contentKey(kind, p));
      this.order.set(p.plan.id, this.seq++);
      this.shelves[kind].set(p.plan.id, p);
    }
  }

  /** Removes a kept plan (no fate, nothing stored); undefined when it is not kept. */
  private remove(id: string): PendingPlan | undefined {
    for (const s of Object.values(this.shelves)) {
      const p = s.get(id);
      if (p) {
        s.delete(id);
        this.unindex(p);
        return p;
      }
    }
    return undefined;
  }

  private index(p: PendingPlan, key: string | undefined): void {
    if (key !== undefined) this.byContent.set(key, p.plan.id);
    for (const old of p.sameAs ?? []) this.alias.set(old, p.plan.id);
  }

  private unindex(p: PendingPlan): void {
    const key = contentKey(kindOf(p), p);
    if (key !== undefined && this.byContent.get(key) === p.plan.id) this.byContent.delete(key);
    for (const old of p.sameAs ?? []) if (this.alias.get(old) === p.plan.id) this.alias.delete(old);
    this.order.delete(p.plan.id);
  }
}
