// JSON.parse keeps the last of two equal keys without a word, so a log line that says `host`
// twice looks fine once parsed. This walks the text itself and names every key an object holds
// more than once (with its path), or throws on text that is not JSON.

export function duplicateKeys(text: string): string[] {
  let i = 0;
  const dups: string[] = [];
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') {
      if (i >= text.length) throw new Error(`unterminated string at ${start}`);
      i += text[i] === "\\" ? 2 : 1;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Error(`expected a key at ${i}`);
        const k = str();
        if (seen.has(k)) dups.push(`${path}${k}`);
        seen.add(k);
        ws();
        if (text[i++] !== ":") throw new Error(`expected : at ${i - 1}`);
        value(`${path}${k}.`);
        ws();
        const d = text[i++];
        if (d === "}") return;
        if (d !== ",") throw new Error(`expected , or } at ${i - 1}`);
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}${n}.`);
        ws();
        const d = text[i++];
        if (d === "]") return;
        if (d !== ",") throw new Error(`expected , or ] at ${i - 1}`);
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at ${i}`);
    i += m[0].length;
  };
  value("");
  ws();
  if (i !== text.length) throw new Error(`trailing text at ${i}`);
  return dups;
}

/** Every line of `lines` that has a key twice, with the keys: [] when all is well. */
export function linesWithDuplicateKeys(lines: readonly string[]): Array<{ line: string; keys: string[] }> {
  return lines
    .filter((l) => l.trim() !== "")
    .map((line) => ({ line, keys: duplicateKeys(line) }))
    .filter((x) => x.keys.length > 0);
}
