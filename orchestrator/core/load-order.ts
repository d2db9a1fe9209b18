// Hosts kept sorted by (weighted load, id) and updated in place after each planned move: a move
// changes two hosts, so re-sorting 10,000 hosts per move would make planning quadratic.

export interface Keyed {
  readonly id: string;
  key: number;
}

/** Index at which (key, id) belongs in `list` (binary search). */
export function loadPosition(list: readonly Keyed[], key: number, id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = list[mid]!;
    if (m.key < key || (m.key === key && m.id < id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Removes `h` from `list`, found under its current key. */
export function removeByLoad<T extends Keyed>(list: T[], h: T): void {
  const i = loadPosition(list, h.key, h.id);
  if (list[i] === h) list.splice(i, 1);
  else {
    // The key was changed without re-indexing: fall back to a scan rather than corrupt the order.
    const j = list.indexOf(h);
    if (j >= 0) list.splice(j, 1);
  }
}

/** Inserts `h` at the place of its current key. */
export function insertByLoad<T extends Keyed>(list: T[], h: T): void {
  list.splice(loadPosition(list, h.key, h.id), 0, h);
}

export function compareByLoad(a: Keyed, b: Keyed): number {
  return a.key - b.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
