// libvirt's own words on failure: virsh prints "error: <message>" lines on stderr (sometimes
// with an "error: Failed to ..." line before the cause). Operators search for these texts, so we
// pass them on almost verbatim: the "error: " prefixes are dropped and lines joined by "; ".

const MAX_LEN = 1500;

export function libvirtErrorText(stderr: string, fallback = "virsh failed without an error message"): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const errors = lines.filter((l) => /^error:/i.test(l)).map((l) => l.replace(/^error:\s*/i, ""));
  const chosen = errors.length > 0 ? errors : lines;
  const text = chosen.join("; ");
  if (text.length === 0) return fallback;
  return text.length > MAX_LEN ? `${text.slice(0, MAX_LEN)}…` : text;
}
