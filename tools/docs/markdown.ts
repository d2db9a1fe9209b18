// Small Markdown helpers shared by the document generators and the docs tests.

/** A table cell: one line, pipes escaped (also inside code spans, as GitHub's tables require). */
export function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

/** A Markdown table from a header row and body rows. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Inline code, with a longer fence when the text itself holds a backtick. */
export function code(text: string): string {
  const fence = text.includes("`") ? "``" : "`";
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * The anchor GitHub gives a heading: lower case, markup and punctuation other than `-` and `_`
 * dropped, spaces turned into `-`. Repeated headings get `-1`, `-2`, ... (see `anchorsOf`).
 */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Anchors of a document's headings in order, the way GitHub numbers repeated ones. */
export class Slugger {
  private readonly seen = new Map<string, number>();

  /** The anchor of the next heading with this text. */
  next(heading: string): string {
    const base = slug(heading);
    const n = this.seen.get(base) ?? 0;
    this.seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  }
}

/** The text of every heading of a Markdown document, in order (headings in fenced code blocks skipped). */
export function headingsOf(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** Every heading anchor of a Markdown document. */
export function anchorsOf(markdown: string): Set<string> {
  const slugger = new Slugger();
  return new Set(headingsOf(markdown).map((h) => slugger.next(h)));
}

/** Relative links `[text](target)` of a Markdown document, outside fenced code blocks and code spans. */
export function relativeLinksOf(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const text = line.replace(/``.*?``|`[^`]*`/g, "");
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:, file:
      out.push(target);
    }
  }
  return out;
}
