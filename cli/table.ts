/** Plain aligned text tables for terminal output (no colours: logs and pipes stay clean). */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

export const pct = (x: number | null | undefined): string => (x === null || x === undefined ? "-" : `${x.toFixed(1)}%`);
export const ago = (ts: number | undefined, now: number): string => (ts === undefined ? "-" : `${Math.max(0, (now - ts) / 1000).toFixed(1)}s`);
export const time = (ts: number | undefined): string =>
  ts === undefined
    ? "-"
    : new Date(ts)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
