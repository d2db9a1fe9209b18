// A tiny pure, incremental 64-bit hash (two FNV-1a 32-bit lanes with different offset bases), so
// plan ids and snapshot digests are deterministic without node:crypto. Not cryptographic: it only
// has to make "same inputs" recognisable and accidental collisions unlikely.

const PRIME = 0x01000193;

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

  num(n: number | null | undefined): this {
    return this.str(n === null ? "null" : n === undefined ? "undef" : Object.is(n, -0) ? "0" : String(n));
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
