// Numbers as plans report them. Figures in a decision's numbers go through r2: two decimals are
// what a reader needs, and a NaN (JSON writes it as null) or a -0 (toEqual tells it from 0) never
// reaches a plan.

/** Round for reports: 2 decimals, no -0, no NaN (non-finite values become 0). */
export function r2(x: number): number {
  if (!Number.isFinite(x)) return 0;
  const v = Math.round(x * 100) / 100;
  return v === 0 ? 0 : v;
}

/** One decimal, for messages. */
export function f1(x: number): string {
  return (Number.isFinite(x) ? x : 0).toFixed(1);
}
