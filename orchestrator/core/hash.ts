// A tiny pure, incremental 64-bit hash (two FNV-1a 32-bit lanes with different offset bases), so
// plan ids and snapshot digests are deterministic without node:crypto. Not cryptographic: it only
// has to make "same inputs" recognisable and accidental collisions unlikely.

const PRIME = 0x01000193;
/** Scratch space for num(): a safe integer has at most 16 digits, plus sign and point. */
const DIGITS = new Uint8Array(24);

export class Hasher {
  private a = 0x811c9dc5;
  private b = 0xcbf29ce4;

  /** Feed a string (UTF-16 code units) followed by a separator, so ["ab","c"] ≠ ["a","bc"]. */
  str(s: string): this {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ (c & 0xff), PRIME);
      a = Math.imul(a ^ (c >>> 8), PRIME);
      b = Math.imul(b ^ c, PRIME);
    }
    a = Math.imul(a ^ 0x1f, PRIME);
    b = Math.imul(b ^ 0x1e, PRIME);
    this.a = a;
    this.b = b;
    return this;
  }

  /**
   * Feeds the characters of String(n) ("0" for -0). Integers and numbers with one decimal (load
   * percentages, timestamps, sizes: most of a snapshot) are fed digit by digit without building
   * the string, which was a tenth of a 10,000-host plan; the digest is the same either way.
   */
  num(n: number | null | undefined): this {
    if (typeof n === "number") {
      if (Number.isSafeInteger(n)) return this.digits(n, false);
      const tenths = Math.round(n * 10);
      // Exactly one decimal: String(n) is then those digits with a point before the last one.
      if (Number.isSafeInteger(tenths) && tenths / 10 === n) return this.digits(tenths, true);
    }
    return this.str(n === null ? "null" : n === undefined ? "undef" : String(n));
  }

  /** Like str(String(k)), or of String(k / 10) when `tenth` (k not a multiple of 10). */
  private digits(k: number, tenth: boolean): this {
    const buf = DIGITS;
    let len = 0;
    let m = Math.abs(k);
    do {
      const r = m % 10;
      buf[len++] = 48 + r;
      m = (m - r) / 10;
      // "0.5": a leading zero before the point.
      if (tenth && len === 1) buf[len++] = 46;
    } while (m > 0 || (tenth && len === 2));
    if (k < 0) buf[len++] = 45;
    let a = this.a;
    let b = this.b;
    // ASCII: the high byte of each code unit is 0 (str's second step for lane a).
    for (let i = len - 1; i >= 0; i--) {
      const c = buf[i]!;
      a = Math.imul(Math.imul(a ^ c, PRIME), PRIME);
      b = Math.imul(b ^ c, PRIME);
    }
    this.a = Math.imul(a ^ 0x1f, PRIME);
    this.b = Math.imul(b ^ 0x1e, PRIME);
    return this;
  }

  bool(v: boolean | undefined): this {
    return this.str(v === undefined ? "undef" : v ? "1" : "0");
  }

  /** 16 lowercase hex digits. */
  digest(): string {
    return (this.a >>> 0).toString(16).padStart(8, "0") + (this.b >>> 0).toString(16).padStart(8, "0");
  }
}

/** Hash of a JSON-able value with object keys sorted (for small inputs such as policy and request). */
export function hashValue(h: Hasher, v: unknown): Hasher {
  if (v === null || v === undefined) return h.str(String(v));
  if (typeof v === "number") return h.num(v);
  if (typeof v === "string") return h.str("s" + v);
  if (typeof v === "boolean") return h.bool(v);
  if (Array.isArray(v)) {
    h.str("[" + v.length);
    for (const x of v) hashValue(h, x);
    return h.str("]");
  }
  if (typeof v === "object") {
    const keys = Object.keys(v as Record<string, unknown>).sort();
    h.str("{" + keys.length);
    for (const k of keys) {
      h.str(k);
      hashValue(h, (v as Record<string, unknown>)[k]);
    }
    return h.str("}");
  }
  return h.str(typeof v);
}
