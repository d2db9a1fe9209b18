// SVG charts as plain strings (no dependencies): energy against SLAV per policy and day, and
// migrations per hour over the day.

export interface EnergySlavPoint {
  policy: string;
  workload: string;
  energyKWh: number;
  slav: number;
}

export interface HourlySeries {
  label: string;
  perHour: readonly number[];
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const W = 720;
const H = 440;
const M = { left: 70, right: 190, top: 40, bottom: 55 };

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  // The last tick is at or above `hi`, so every point lies inside the axes.
  for (let v = Math.ceil(lo / step) * step; ; v += step) {
    out.push(Number(v.toPrecision(12)));
    if (v >= hi - step * 1e-9) break;
  }
  return out;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a < 1e-3 || a >= 1e5 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

function frame(title: string, xLabel: string, yLabel: string, xs: number[], ys: number[], sx: (v: number) => number, sy: (v: number) => number): string[] {
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2 - M.right / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  const x0 = M.left;
  const x1 = W - M.right;
  const y0 = H - M.bottom;
  const y1 = M.top;
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="black"/>`);
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="black"/>`);
  for (const t of xs) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 5}" stroke="black"/>`);
    parts.push(`<text x="${x}" y="${y0 + 18}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
  }
  for (const t of ys) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${x0 - 5}" y1="${y}" x2="${x1}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${x0 - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${(x0 + x1) / 2}" y="${H - 15}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
  parts.push(`<text transform="translate(18 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`);
  return parts;
}

function wrap(parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">\n${parts.join("\n")}\n</svg>\n`;
}

/** Scatter of energy (y) against SLAV (x): one marker per run, one colour per policy, plus each policy's median. */
export function energySlavSvg(points: readonly EnergySlavPoint[], title = "Energy vs SLAV per policy and day"): string {
  const policies = [...new Set(points.map((p) => p.policy))];
  const xsMax = Math.max(1e-12, ...points.map((p) => p.slav));
  const ysMax = Math.max(1, ...points.map((p) => p.energyKWh));
  const xt = niceTicks(0, xsMax * 1.05);
  const yt = niceTicks(0, ysMax * 1.05);
  const xMax = xt[xt.length - 1]! || 1;
  const yMax = yt[yt.length - 1]! || 1;
  const sx = (v: number) => M.left + (v / xMax) * (W - M.left - M.right);
  const sy = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const parts = frame(title, "SLAV (SLATAH × PDM)", "energy, kWh", xt, yt, sx, sy);
  policies.forEach((pol, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const mine = points.filter((p) => p.policy === pol);
    for (const p of mine) {
      parts.push(
        `<circle cx="${sx(p.slav).toFixed(1)}" cy="${sy(p.energyKWh).toFixed(1)}" r="4" fill="${color}" fill-opacity="0.7"><title>${escapeXml(`${pol} ${p.workload}: ${p.energyKWh.toFixed(2)} kWh, SLAV ${p.slav.toExponential(2)}`)}</title></circle>`,
      );
    }
    const med = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
    };
    if (mine.length > 0) {
      const mx = sx(med(mine.map((p) => p.slav)));
      const my = sy(med(mine.map((p) => p.energyKWh)));
      parts.push(
        `<rect x="${(mx - 6).toFixed(1)}" y="${(my - 6).toFixed(1)}" width="12" height="12" fill="none" stroke="${color}" stroke-width="2"><title>${escapeXml(`${pol} median`)}</title></rect>`,
      );
    }
    const ly = M.top + 10 + i * 20;
    parts.push(`<circle cx="${W - M.right + 20}" cy="${ly}" r="5" fill="${color}"/>`);
    parts.push(`<text x="${W - M.right + 32}" y="${ly + 4}" font-size="12">${escapeXml(pol)}</text>`);
  });
  parts.push(`<text x="${W - M.right + 20}" y="${M.top + 10 + policies.length * 20 + 6}" font-size="10" fill="#555">□ = median over days</text>`);
  return wrap(parts);
}

/** Migrations started per hour, one line per series. */
export function migrationsPerHourSvg(series: readonly HourlySeries[], title = "Migrations per hour"): string {
  const hours = Math.max(1, ...series.map((s) => s.perHour.length));
  const yMaxRaw = Math.max(1, ...series.flatMap((s) => s.perHour));
  const xt = niceTicks(0, hours);
  const yt = niceTicks(0, yMaxRaw * 1.05);
  const yMax = yt[yt.length - 1]! || 1;
  const sx = (v: number) => M.left + (v / hours) * (W - M.left - M.right);
  const sy = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const parts = frame(title, "hour of the day", "migrations started", xt, yt, sx, sy);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const pts = s.perHour.map((v, h) => `${sx(h + 0.5).toFixed(1)},${sy(v).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = M.top + 10 + i * 20;
    parts.push(`<line x1="${W - M.right + 12}" y1="${ly}" x2="${W - M.right + 28}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    parts.push(`<text x="${W - M.right + 32}" y="${ly + 4}" font-size="12">${escapeXml(s.label)}</text>`);
  });
  return wrap(parts);
}

export interface ScatterPoint {
  /** Colour group (legend entry). */
  series: string;
  /** Tooltip text. */
  label: string;
  x: number;
  y: number;
}

/** Generic scatter (one colour per series, points joined in the given order when `lines`). */
export function scatterSvg(points: readonly ScatterPoint[], o: { title: string; xLabel: string; yLabel: string; lines?: boolean }): string {
  const series = [...new Set(points.map((p) => p.series))];
  const xt = niceTicks(0, Math.max(1e-12, ...points.map((p) => p.x)) * 1.05);
  const yt = niceTicks(0, Math.max(1, ...points.map((p) => p.y)) * 1.05);
  const xMax = xt[xt.length - 1]! || 1;
  const yMax = yt[yt.length - 1]! || 1;
  const sx = (v: number) => M.left + (v / xMax) * (W - M.left - M.right);
  const sy = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const parts = frame(o.title, o.xLabel, o.yLabel, xt, yt, sx, sy);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const mine = points.filter((p) => p.series === s);
    if (o.lines && mine.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${mine.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    for (const p of mine)
      parts.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="5" fill="${color}" fill-opacity="0.8"><title>${escapeXml(p.label)}</title></circle>`,
      );
    for (const p of mine)
      if (o.lines)
        parts.push(
          `<text x="${(sx(p.x) + 7).toFixed(1)}" y="${(sy(p.y) - 6).toFixed(1)}" font-size="10" fill="#333">${escapeXml(p.label.split(":")[0]!)}</text>`,
        );
    const ly = M.top + 10 + i * 20;
    parts.push(`<circle cx="${W - M.right + 20}" cy="${ly}" r="5" fill="${color}"/>`);
    parts.push(`<text x="${W - M.right + 32}" y="${ly + 4}" font-size="12">${escapeXml(s)}</text>`);
  });
  return wrap(parts);
}
